from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_q2_count_trainable(count_trainable):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    sizes = [int(v) for v in rng.integers(2, 9, size=4)]
    net = torch.nn.Sequential(*[torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
    frozen = int(rng.integers(len(net)))
    for p in net[frozen].parameters():
        p.requires_grad = False
    expected = sum((a * b + b for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])) if i != frozen))
    checks.equal('count_trainable', count_trainable(net), expected)

@test_case(points=1, hidden=False)
def test_q2_frozen_mobilenet_trains_only_its_head(freeze_backbone, replace_head, count_trainable):
    import torch
    from torchvision.models import mobilenet_v2
    from cnnkit import checks
    rng = checks.rng()
    num_classes = int(rng.integers(3, 12))
    torch.manual_seed(int(rng.integers(2 ** 31)))
    model = mobilenet_v2(weights=None)
    freeze_backbone(model)
    linear = replace_head(model, num_classes)
    checks.equal('count_trainable after freeze + new head', count_trainable(model), 1280 * num_classes + num_classes)
    checks.equal('scores shape', tuple(model(torch.zeros(2, 3, 32, 32)).shape), (2, num_classes))
    checks.true('the new linear layer is part of the model', any((m is linear for m in model.modules())), 'replace_head must attach the layer it returns')
    model.train()
    checks.true('BatchNorm stays in eval mode after model.train()', not any((m.training for m in model.features.modules() if isinstance(m, torch.nn.BatchNorm2d))), 'a frozen BatchNorm must stay in eval mode, even after model.train()')

