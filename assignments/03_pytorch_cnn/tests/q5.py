from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_q5_channel_stats(channel_stats):
    import torch
    from cnnkit import checks
    x = torch.zeros(6, 2, 2, 2)
    x[:, 0] = 2.0
    x[:, 1, :, 0] = 4.0
    batches = [(x[:4], None), (x[4:], None)]
    mean, std = channel_stats(batches)
    checks.equal('shapes', (tuple(mean.shape), tuple(std.shape)), ((2,), (2,)))
    checks.close('mean', mean, [2.0, 2.0], rtol=1e-06)
    checks.close('std', std, [0.0, 2.0], rtol=1e-06, atol=1e-06)

