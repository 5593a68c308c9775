from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_q4_params_and_init(TwoLayerNet):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    net = TwoLayerNet(input_dim=300, hidden_dim=50, num_classes=7, weight_scale=0.02, reg=0.0)
    shapes = {k: tuple(np.shape(v)) for k, v in net.params.items()}
    checks.equal('parameter names', sorted(shapes), ['W1', 'W2', 'b1', 'b2'])
    checks.equal('W1 shape', shapes['W1'], (300, 50))
    checks.equal('b1 shape', shapes['b1'], (50,))
    checks.equal('W2 shape', shapes['W2'], (50, 7))
    checks.equal('b2 shape', shapes['b2'], (7,))
    checks.true('biases start at zero', not np.any(net.params['b1']) and (not np.any(net.params['b2'])), 'b1 and b2 must start at 0')
    checks.close('std of W1', float(np.std(net.params['W1'])), 0.02, rtol=0.1)

@test_case(points=1, hidden=False)
def test_q4_loss_and_numeric_gradients(TwoLayerNet):
    from cnnkit import checks
    checks.numpy_only()
    import math
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient
    from cnnkit.oracles import grad_error
    net = TwoLayerNet(input_dim=2, hidden_dim=2, num_classes=2, weight_scale=1.0, reg=0.0)
    net.params = {'W1': np.eye(2), 'b1': np.array([0.0, -1.0]), 'W2': np.array([[math.log(3), 0.0], [5.0, 0.0]]), 'b2': np.array([0.0, math.log(2)])}
    loss, _ = net.loss(np.array([[1.0, -1.0], [0.0, 1.0]]), np.array([1, 0]))
    checks.close('loss of the hand-computed net', loss, (math.log(5 / 2) + math.log(3)) / 2, rtol=1e-07, atol=1e-10)
    rng = checks.rng()
    net = TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, weight_scale=1.0, reg=0.0)
    net.params = {'W1': rng.standard_normal((6, 5)), 'b1': rng.standard_normal(5), 'W2': rng.standard_normal((5, 3)), 'b2': rng.standard_normal(3)}
    X = rng.standard_normal((4, 6))
    y = rng.integers(3, size=4)
    loss, grads = net.loss(X, y)
    for k in ['W1', 'b1', 'W2', 'b2']:
        num = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[k])
        err = grad_error(grads[k], num)
        checks.true(f'd{k} matches numeric', err < 1e-06, f"grads['{k}']: relative error {err:.1e} vs the numeric gradient")

