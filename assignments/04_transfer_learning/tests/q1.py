from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_q1_preprocess_matches_the_weights(preprocess):
    import numpy as np
    import torch
    from torchvision.models import MobileNet_V2_Weights
    from cnnkit import checks
    rng = checks.rng()
    img = torch.from_numpy(rng.integers(0, 256, size=(3, 300, 260), dtype=np.uint8))
    got = preprocess(img)
    checks.equal('shape of preprocess(image)', tuple(got.shape), (3, 224, 224))
    checks.close('preprocess(image)', got.double(), lambda: MobileNet_V2_Weights.IMAGENET1K_V1.transforms()(img).double(), rtol=0, atol=1e-05, msg="use the weights' own transforms(): resize 256, crop 224, ImageNet mean/std")

@test_case(points=1, hidden=False)
def test_q1_top5_tiny_model(top5):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2 ** 31)))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 9)).double()
    batch = torch.from_numpy(rng.normal(size=(3, 3, 2, 2)))
    names = [f'class{i}' for i in range(9)]
    got = top5(model, batch, names)
    checks.equal('number of images', len(got), 3)
    checks.equal('pairs per image', [len(r) for r in got], [5, 5, 5])

    def oracle():
        with torch.no_grad():
            p = torch.softmax(model(batch), 1)
        return p.topk(5, 1)
    checks.equal('top-5 names', [[n for n, _ in r] for r in got], lambda: [[names[i] for i in row] for row in oracle()[1].tolist()])
    checks.close('top-5 probabilities', [[p for _, p in r] for r in got], lambda: oracle()[0].numpy(), rtol=1e-06, msg='probabilities come from a softmax over the scores')

