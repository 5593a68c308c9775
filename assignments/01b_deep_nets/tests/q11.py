from otter.test_files import test_case

OK_FORMAT = False

name = "q11"
points = None

@test_case(points=0.5, hidden=False)
def test_q11_params_public(FullyConnectedNet):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    net = FullyConnectedNet([6, 5], input_dim=12, num_classes=4, normalization='batchnorm', dtype=np.float64, seed=0)
    shapes = {k: tuple(np.shape(v)) for k, v in net.params.items()}
    want = {'W1': (12, 6), 'b1': (6,), 'gamma1': (6,), 'beta1': (6,), 'W2': (6, 5), 'b2': (5,), 'gamma2': (5,), 'beta2': (5,), 'W3': (5, 4), 'b3': (4,)}
    checks.equal('parameter names', sorted(shapes), sorted(want))
    for k, shape in want.items():
        checks.equal(f'{k} shape', shapes.get(k), shape)
    net = FullyConnectedNet([200, 100], input_dim=300, num_classes=10, init='small', weight_scale=0.03, seed=0)
    checks.close("std of W2 ('small', weight_scale 0.03)", float(np.std(net.params['W2'])), 0.03, rtol=0.05)

@test_case(points=1, hidden=False)
def test_q11_loss_and_numeric_gradients_public(FullyConnectedNet):
    from cnnkit import checks
    checks.numpy_only()
    import math
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient
    rng = checks.rng()
    X = rng.standard_normal((40, 20))
    y = np.arange(40) % 10
    net = FullyConnectedNet([30, 30, 30], input_dim=20, num_classes=10, weight_scale=0.001, dtype=np.float64, seed=1)
    loss, _ = net.loss(X, y)
    checks.close('initial loss of a net with tiny weights', loss, math.log(10), rtol=0.001)
    net = FullyConnectedNet([7, 6], input_dim=8, num_classes=4, dropout_keep_ratio=0.75, normalization='batchnorm', reg=0.1, init='kaiming', dtype=np.float64, seed=2)
    Xs, ys = (rng.standard_normal((6, 8)), rng.integers(4, size=6))
    _, grads = net.loss(Xs, ys)
    for k in sorted(net.params):
        num = eval_numerical_gradient(lambda _: net.loss(Xs, ys)[0], net.params[k])
        got = np.asarray(grads.get(k), dtype=np.float64)
        if got.shape != num.shape:
            checks.true(f'd{k} shape', False, f"grads['{k}'] has shape {got.shape}, the parameter {num.shape}")
        err = float(np.max(np.abs(got - num)))
        checks.true(f'd{k} matches numeric', err < 1e-06, f"grads['{k}']: largest difference {err:.1e} from the numeric gradient")

