from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_q5_saliency_small_cnn(saliency):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2 ** 31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    target = int(rng.integers(5))
    got = saliency(model, x, target)
    checks.equal('saliency shape', tuple(got.shape), (8, 8))

    def oracle():
        xx = x.clone().requires_grad_(True)
        g, = torch.autograd.grad(model(xx[None])[0, target], xx)
        return g.abs().amax(0)
    checks.close('saliency', got, oracle, rtol=1e-10, msg='|d score / d pixel|, max over channels')

@test_case(points=1, hidden=False)
def test_q5_occlusion_small_cnn(occlusion):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2 ** 31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 6)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    got = occlusion(model, x, 1, patch=4, stride=2)
    checks.equal('occlusion map shape', tuple(got.shape), (3, 3))

    def oracle():
        with torch.no_grad():
            base = model(x[None]).softmax(1)[0, 1]
            out = torch.zeros(3, 3, dtype=torch.float64)
            for i in range(3):
                for j in range(3):
                    occ = x.clone()
                    occ[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4] = 0.0
                    out[i, j] = base - model(occ[None]).softmax(1)[0, 1]
        return out
    checks.close('occlusion map', got, oracle, rtol=1e-09, atol=1e-12, msg="drop of the target's softmax probability")

