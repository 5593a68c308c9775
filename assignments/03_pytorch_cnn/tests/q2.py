from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_q2_lecture_layers(count_params):
    from torch import nn
    from cnnkit import checks
    checks.equal('Conv2d(3, 10, 5, padding=2)', count_params(nn.Conv2d(3, 10, 5, padding=2)), 5 * 5 * 3 * 10 + 10)
    checks.equal('Conv2d(64, 32, 1)', count_params(nn.Conv2d(64, 32, 1)), 64 * 32 + 32)
    checks.equal('Conv2d(4, 8, 3, groups=2)', count_params(nn.Conv2d(4, 8, 3, groups=2)), 3 * 3 * 2 * 8 + 8)
    checks.equal('MaxPool2d(2)', count_params(nn.MaxPool2d(2)), 0)

