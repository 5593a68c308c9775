from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = None

@test_case(points=1, hidden=False)
def test_q6_saliency_small_cnn(saliency):
    import torch
    from cnnkit import checks
    i, j = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing='ij')
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2, bias=False)).double().eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[1] = torch.stack([(4 * i + j) / 10 - 0.8, torch.full((4, 4), -0.3), (j - i) / 10]).flatten()
    want = [[0.8, 0.7, 0.6, 0.5], [0.4, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.3], [0.4, 0.5, 0.6, 0.7]]
    rng = checks.rng()
    for k in range(2):
        got = saliency(model, torch.from_numpy(rng.normal(size=(3, 4, 4))), 1)
        checks.equal('saliency shape', tuple(got.shape), (4, 4))
        checks.close(f'saliency of a linear model, input {k + 1} of 2', got, want, rtol=1e-06, atol=1e-09)
    torch.manual_seed(int(rng.integers(2 ** 31)))
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    target = int(rng.integers(5))
    once = torch.as_tensor(saliency(cnn, x, target), dtype=torch.float64)
    checks.true('saliency >= 0', bool((once >= 0).all()), 'saliency is a magnitude: no entry may be negative')
    with torch.no_grad():
        cnn[3].weight.mul_(2.0)
        cnn[3].bias.mul_(2.0)
    checks.close('saliency after doubling the last layer, over the saliency before', torch.as_tensor(saliency(cnn, x, target), dtype=torch.float64), 2 * once, rtol=1e-06, atol=1e-09)

@test_case(points=1, hidden=False)
def test_q6_occlusion_small_cnn(occlusion):
    import torch
    from cnnkit import checks
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2, bias=False)).double().eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[0, :8 * 8] = 1.0
    x = torch.zeros(3, 8, 8, dtype=torch.float64)
    x[0, :4, :6] = 0.25
    got = occlusion(model, x, 0, patch=4, stride=2)
    checks.equal('occlusion map shape', tuple(got.shape), (3, 3))
    expected = [[0.11673029886548303, 0.11673029886548303, 0.015513586805456892], [0.015513586805456892, 0.015513586805456892, 0.0042202277676500755], [0.0, 0.0, 0.0]]
    checks.close("occlusion map of a known case (drop of the target's softmax probability)", got, expected, rtol=1e-09, atol=1e-12)
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2 ** 31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 6)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    total = sum((torch.as_tensor(occlusion(model, x, t, patch=4, stride=2), dtype=torch.float64) for t in range(6)))
    worst = float(total.abs().max())
    checks.true('drops over all classes sum to 0', worst < 1e-09, f'the drops of the 6 classes sum to {worst:.1e} somewhere, not 0')

@test_case(points=1, hidden=False)
def test_q6_fgsm_on_a_linear_model(fgsm):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2, bias=False)).double()
    w = torch.from_numpy(rng.choice([-1.0, 1.0], size=12))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([w, -w]))
    x = torch.from_numpy(rng.uniform(0.3, 0.7, size=(1, 3, 2, 2)))
    eps = float(rng.uniform(0.01, 0.1))
    got = fgsm(model, x, torch.tensor([0]), eps)
    checks.close("fgsm(x) - x on a linear model (eps times minus the class-0 weights' sign)", (got - x).flatten(), -eps * w, rtol=1e-09, atol=1e-12)
    edge = torch.full((1, 3, 2, 2), 0.99, dtype=torch.float64)
    out = fgsm(model, edge, torch.tensor([1]), 0.5)
    checks.true('pixels stay in [0, 1]', bool((out >= 0).all() and (out <= 1).all()), f'fgsm returned pixels from {float(out.min()):.2f} to {float(out.max()):.2f}: clip to the valid range')

