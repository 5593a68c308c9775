from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_q3_param_groups_mobilenet(param_groups):
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
def test_q3_unfreeze_top_mobilenet(freeze_backbone, unfreeze_top, count_trainable):
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

