from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_q1_preprocess_matches_the_weights(preprocess):
    import numpy as np
    import torch
    from cnnkit import checks
    rng = checks.rng()
    level = int(rng.integers(40, 216))
    img = torch.zeros(3, 300, 260, dtype=torch.uint8)
    img[:, 12:-12, 12:-12] = level
    got = preprocess(img)
    checks.equal('shape of preprocess(image)', tuple(got.shape), (3, 224, 224))
    mean, std = (np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))
    expected = np.broadcast_to(((level / 255 - mean) / std)[:, None, None], (3, 224, 224))
    name = "preprocess(framed grey image) (the weights' own transforms(): resize 256, crop 224, ImageNet mean/std)"
    checks.close(name, got.double(), expected, rtol=0, atol=0.0001)

@test_case(points=1, hidden=False)
def test_q1_top5_tiny_model(top5):
    import math
    import torch
    from cnnkit import checks
    counts = [3, 9, 1, 7, 5, 2, 8, 4, 6]
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 9)).double()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([math.log(c) for c in counts]))
    batch = torch.from_numpy(checks.rng().normal(size=(3, 3, 2, 2)))
    names = [f'class{i}' for i in range(9)]
    got = top5(model, batch, names)
    checks.equal('number of images', len(got), 3)
    checks.equal('pairs per image', [len(r) for r in got], [5, 5, 5])
    checks.equal('top-5 names', [[n for n, _ in r] for r in got], [['class1', 'class6', 'class3', 'class8', 'class4']] * 3)
    checks.close('top-5 probabilities (a softmax over the scores)', [[p for _, p in r] for r in got], [[9 / 45, 8 / 45, 7 / 45, 6 / 45, 5 / 45]] * 3, rtol=1e-06)

