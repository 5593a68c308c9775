from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_q3_lecture_layers(count_params):
    from torch import nn
    from cnnkit import checks
    checks.equal('Conv2d(3, 10, 5, padding=2)', count_params(nn.Conv2d(3, 10, 5, padding=2)), 5 * 5 * 3 * 10 + 10)
    checks.equal('Conv2d(64, 32, 1)', count_params(nn.Conv2d(64, 32, 1)), 64 * 32 + 32)
    checks.equal('Conv2d(4, 8, 3, groups=2)', count_params(nn.Conv2d(4, 8, 3, groups=2)), 3 * 3 * 2 * 8 + 8)
    checks.equal('MaxPool2d(2)', count_params(nn.MaxPool2d(2)), 0)

@test_case(points=1, hidden=False)
def test_q3_default_cnn(build_cnn):
    import torch
    from torch import nn
    from cnnkit import checks
    model = build_cnn().eval()
    checks.equal('output shape', tuple(model(torch.zeros(2, 3, 32, 32)).shape), (2, 10))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    checks.equal('number of convs', len(convs), 3)
    checks.equal('conv filters', [m.out_channels for m in convs], [32, 64, 128])
    for i, m in enumerate(convs):
        checks.equal(f'conv {i} kernel/stride/padding', (m.kernel_size, m.stride, m.padding), ((3, 3), (1, 1), (1, 1)))
    checks.equal('batchnorms', sum((isinstance(m, nn.BatchNorm2d) for m in model.modules())), 3)
    checks.equal('pools', sum((isinstance(m, nn.MaxPool2d) for m in model.modules())), 3)

@test_case(points=1, hidden=False)
def test_q3_mlp(build_mlp):
    import torch
    from torch import nn
    from cnnkit import checks
    model = build_mlp(hidden=(20,))
    checks.equal('output shape', tuple(model(torch.zeros(4, 3, 32, 32)).shape), (4, 10))
    checks.equal('no convs', any((isinstance(m, nn.Conv2d) for m in model.modules())), False)
    shapes = [str(tuple(v.shape)) for v in model.state_dict().values()]
    checks.equal('weight and bias shapes', shapes, [str(s) for s in [(20, 3 * 32 * 32), (20,), (10, 20), (10,)]])

