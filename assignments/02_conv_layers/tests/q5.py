from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_convnet_initial_loss_and_shapes(ThreeLayerConvNet):
    from cnnkit import checks
    checks.numpy_only()
    import math
    import numpy as np
    from cnnkit import checks
    rng = checks.rng()
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(1, 12, 12), num_filters=4, filter_size=3, hidden_dim=10)
    X = rng.random((20, 1, 12, 12)).astype(np.float32)
    y = np.arange(20) % 10
    checks.equal('scores shape', np.shape(model.loss(X)), (20, 10))
    loss, grads = model.loss(X, y)
    checks.close('initial loss (small weights, 10 classes)', loss, math.log(10), rtol=0.0, atol=0.02)
    checks.equal('gradient keys', sorted(grads), ['W1', 'W2', 'W3', 'b1', 'b2', 'b3'])

@test_case(points=1, hidden=False)
def test_convnet_hand_loss_and_numeric_gradients(ThreeLayerConvNet):
    from cnnkit import checks
    checks.numpy_only()
    import math
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient
    from cnnkit.oracles import grad_error
    rng = checks.rng()
    np.random.seed(1)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=7, num_classes=5, weight_scale=0.3, reg=0.1, dtype=np.float64)
    X, y = (rng.standard_normal((4, 3, 8, 8)), rng.integers(0, 5, 4))
    saved = dict(model.params)
    for k in model.params:
        model.params[k] = np.zeros_like(saved[k])
    model.params['b3'] = np.log(np.arange(1.0, 6.0))
    loss, _ = model.loss(X, y)
    checks.close('loss with zero weights and b3 = log([1, 2, 3, 4, 5])', loss, float(np.mean(np.log(15 / (y + 1)))), rtol=1e-09)
    model.params = saved
    for k in ('b1', 'b2', 'b3'):
        model.params[k] = rng.standard_normal(model.params[k].shape)
    loss, grads = model.loss(X, y)
    model.reg = 0.0
    data_loss, _ = model.loss(X, y)
    model.reg = 0.1
    l2 = sum((float(np.sum(model.params[k] ** 2)) for k in ('W1', 'W2', 'W3')))
    checks.close("loss minus its data term (0.5 * reg * the squared weights' sum)", loss - data_loss, 0.5 * 0.1 * l2, rtol=1e-09)
    for k in sorted(model.params):
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[k])
        err = grad_error(grads[k], num)
        checks.true(f'grads[{k!r}] matches numeric', err < 1e-06, f'grads[{k!r}]: relative error {err:.1e} vs the numeric gradient')

