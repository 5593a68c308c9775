from otter.test_files import test_case

OK_FORMAT = False

name = "q8"
points = None

@test_case(points=1, hidden=False)
def test_q8_init_public(init_gain, init_weights):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    rng = checks.rng()
    W = init_weights(300, 200, 'small', rng, weight_scale=0.05)
    checks.equal('shape of init_weights(300, 200, ...)', np.shape(W), (300, 200))
    checks.close("std of 'small' with weight_scale 0.05", float(np.std(W)), 0.05, rtol=0.05)
    W = init_weights(400, 400, 'xavier', rng)
    checks.close("std of 'xavier' for a 400 x 400 layer", float(np.std(W)), 1 / 20, rtol=0.05)
    x = rng.standard_normal((1000, 400))
    W = init_weights(400, 400, 'kaiming', rng, 'relu')
    h = np.maximum(x @ W, 0)
    checks.close('mean square of ReLU(x W) over that of x, Kaiming', float(np.mean(h ** 2) / np.mean(x ** 2)), 1.0, rtol=0.1)
    checks.close("init_gain('linear')", init_gain('linear'), 1.0, rtol=1e-07)

