from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = None

@test_case(points=1, hidden=False)
def test_q6_saliency_small_cnn(saliency):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2 ** 31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    target = int(rng.integers(5))
    got = saliency(model, x, target)
    checks.equal('saliency shape', tuple(got.shape), (8, 8))
    checks.true('saliency >= 0', bool((torch.as_tensor(got) >= 0).all()), 'saliency is a magnitude: no entry may be negative')

    def central_difference(c, i, j, eps=1e-06):
        hi, lo = (x.clone(), x.clone())
        hi[c, i, j] += eps
        lo[c, i, j] -= eps
        with torch.no_grad():
            return float(model(hi[None])[0, target] - model(lo[None])[0, target]) / (2 * eps)
    for i, j in [(0, 0), (3, 5), (7, 2), (4, 4)]:
        checks.close(f'saliency[{i}, {j}] vs central differences of the target score (|slope|, largest over channels)', got[i, j], lambda i=i, j=j: max((abs(central_difference(c, i, j)) for c in range(3))), rtol=1e-05, atol=1e-08)

@test_case(points=1, hidden=False)
def test_q6_occlusion_small_cnn(occlusion):
    import math
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
    overlap = [[16, 16, 8], [8, 8, 4], [0, 0, 0]]

    def sigmoid(t):
        return 1 / (1 + math.exp(-t))
    expected = [[sigmoid(6) - sigmoid(6 - n / 4) for n in row] for row in overlap]
    checks.close("occlusion map, hand-computed case (drop of the target's softmax probability)", got, expected, rtol=1e-09, atol=1e-12)
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

