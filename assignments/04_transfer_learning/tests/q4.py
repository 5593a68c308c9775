from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_q4_param_groups_mobilenet(param_groups):
    import torch
    from torchvision.models import mobilenet_v2
    from cnnkit import checks
    rng = checks.rng()
    base_lr = float(rng.uniform(0.01, 1.0))
    model = mobilenet_v2(weights=None)
    groups = param_groups(model, base_lr)
    checks.equal('group names', [g['name'] for g in groups], ['head', 'top', 'rest'])
    checks.close('learning rates', [g['lr'] for g in groups], [base_lr, base_lr / 10, base_lr / 100], rtol=1e-12)
    checks.equal('parameters per group', [sum((p.numel() for p in g['params'])) for g in groups], [1281000, 886080, 1337792])

@test_case(points=1, hidden=False)
def test_q4_unfreeze_top_mobilenet(freeze_backbone, unfreeze_top, count_trainable):
    import torch
    from torchvision.models import mobilenet_v2
    from cnnkit import checks
    rng = checks.rng()
    k = int(rng.integers(1, 5))
    model = mobilenet_v2(weights=None)
    freeze_backbone(model)
    unfreeze_top(model, k)
    expected = {1: 1693160, 2: 2167080, 3: 2487080, 4: 2807080}[k]
    checks.equal(f'count_trainable after unfreeze_top(model, {k})', count_trainable(model), expected)
    model.train()
    bns = [m for m in model.features[-k:].modules() if isinstance(m, torch.nn.BatchNorm2d)]
    checks.true('unfrozen BatchNorm layers train again', all((m.training for m in bns)), "after unfreeze_top and model.train(), the top blocks' BatchNorm layers are in train mode")

@test_case(points=1, hidden=False)
def test_q4_test_transform_is_deterministic(augmentations):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    size = int(rng.integers(12, 40))
    img = torch.from_numpy(rng.random((3, size, size), dtype='float32'))
    train_tf, test_tf = augmentations(size)
    checks.equal('train_tf(image) shape', tuple(train_tf(img).shape), (3, size, size))
    worst = max((float((test_tf(img) - img).abs().max()) for _ in range(5)))
    checks.true('test_tf leaves a size x size image unchanged', worst < 1e-06, f'test_tf changed a {size}x{size} image by up to {worst:.3f}: no random augmentation at test time')

@test_case(points=1, hidden=False)
def test_q4_train_steps_learns(train_steps):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2 ** 31)))
    X = torch.from_numpy(rng.normal(size=(64, 6)).astype('float32'))
    y = (X[:, 0] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(6, 2))
    losses = train_steps(model, X, y, torch.optim.SGD(model.parameters(), lr=0.5), 40, batch_size=16)
    checks.equal('number of losses', len(losses), 40)
    checks.true('the loss went down', sum(losses[-5:]) < sum(losses[:5]), f'mean loss of the first 5 steps {sum(losses[:5]) / 5:.3f}, of the last 5 {sum(losses[-5:]) / 5:.3f}')
    checks.true('the model is left in eval mode', not model.training, 'train_steps ends with model.eval()')

