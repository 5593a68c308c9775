from otter.test_files import test_case

OK_FORMAT = False

name = "q7"
points = None

@test_case(points=1, hidden=False)
def test_spatial_batchnorm_forward_statistics(spatial_batchnorm_forward):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    rng = checks.rng()
    x = 4 + 3 * rng.standard_normal((6, 3, 5, 4))
    gamma, beta = (np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0]))
    bn_param = {'mode': 'train'}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    checks.equal('out shape', np.shape(out), x.shape)
    checks.close('per-channel means of out', np.mean(out, axis=(0, 2, 3)), beta, rtol=0, atol=1e-06)
    checks.close('per-channel stds of out', np.std(out, axis=(0, 2, 3)), gamma, rtol=0.0001)
    checks.equal('running_mean shape', np.shape(bn_param.get('running_mean')), (3,))
    m, v = (rng.standard_normal(3), rng.random(3) + 0.5)
    test_param = {'mode': 'test', 'running_mean': m.copy(), 'running_var': v.copy(), 'eps': 1e-05}
    out, _ = spatial_batchnorm_forward(x, np.sqrt(v + 1e-05), m, test_param)
    checks.close('test mode with gamma = sqrt(running_var + eps), beta = running_mean', out, x, rtol=1e-09)
    checks.close('running_mean after test mode (unchanged)', test_param['running_mean'], m, rtol=0)

@test_case(points=1, hidden=False)
def test_spatial_batchnorm_backward_numeric(spatial_batchnorm_forward, spatial_batchnorm_backward):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array, rel_error
    rng = checks.rng()
    x = 5 * rng.standard_normal((2, 3, 4, 5)) + 2
    gamma, beta = (rng.standard_normal(3), rng.standard_normal(3))
    dout = rng.standard_normal(x.shape)

    def fwd(x_, g_, b_):
        return spatial_batchnorm_forward(x_, g_, b_, {'mode': 'train'})[0]
    _, cache = spatial_batchnorm_forward(x, gamma, beta, {'mode': 'train'})
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    for name, got, num in [('dx', dx, eval_numerical_gradient_array(lambda v: fwd(v, gamma, beta), x.copy(), dout)), ('dgamma', dgamma, eval_numerical_gradient_array(lambda v: fwd(x, v, beta), gamma.copy(), dout)), ('dbeta', dbeta, eval_numerical_gradient_array(lambda v: fwd(x, gamma, v), beta.copy(), dout))]:
        err = rel_error(got, num) if np.shape(got) == np.shape(num) else np.inf
        checks.true(f'{name} matches the numeric gradient', err < 1e-06, f'{name}: relative error {err:.1e} vs the numeric gradient')

@test_case(points=1, hidden=False)
def test_spatial_groupnorm_public(spatial_groupnorm_forward, spatial_groupnorm_backward):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array, rel_error
    rng = checks.rng()
    x = 2 + 3 * rng.standard_normal((3, 6, 4, 5))
    out, _ = spatial_groupnorm_forward(x, np.ones(6), np.zeros(6), 2, {})
    checks.equal('out shape', np.shape(out), x.shape)
    groups = np.reshape(out, (3, 2, -1))
    checks.close('per-(example, group) means (gamma = 1, beta = 0)', groups.mean(axis=2), np.zeros((3, 2)), rtol=0, atol=1e-06)
    checks.close('per-(example, group) stds', groups.std(axis=2), np.ones((3, 2)), rtol=0.0001)
    x = x[:, :, :3, :3]
    gamma, beta, dout = (rng.standard_normal(6), rng.standard_normal(6), rng.standard_normal((3, 6, 3, 3)))
    _, cache = spatial_groupnorm_forward(x, gamma, beta, 3, {})
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)

    def fwd(x_, g_, b_):
        return spatial_groupnorm_forward(x_, g_, b_, 3, {})[0]
    for name, got, num in [('dx', dx, eval_numerical_gradient_array(lambda v: fwd(v, gamma, beta), x.copy(), dout)), ('dgamma', dgamma, eval_numerical_gradient_array(lambda v: fwd(x, v, beta), gamma.copy(), dout)), ('dbeta', dbeta, eval_numerical_gradient_array(lambda v: fwd(x, gamma, v), beta.copy(), dout))]:
        err = rel_error(got, num) if np.shape(got) == np.shape(num) else np.inf
        checks.true(f'{name} matches the numeric gradient', err < 1e-06, f'{name}: relative error {err:.1e} vs the numeric gradient')

@test_case(points=1, hidden=False)
def test_convnet_bn_ladder_and_modes(ThreeLayerConvNetBN):
    from cnnkit import checks
    checks.numpy_only()
    import math
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient
    from cnnkit.oracles import grad_error
    rng = checks.rng()
    np.random.seed(2)
    model = ThreeLayerConvNetBN(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=5, num_classes=4, weight_scale=0.3, reg=0.1, dtype=np.float64)
    checks.equal('parameter names', sorted(model.params), ['W1', 'W2', 'W3', 'b2', 'b3', 'beta1', 'gamma1'], msg="no b1 (the batch norm's beta1 takes its place); gamma1 and beta1 per filter")
    X, y = (rng.standard_normal((6, 2, 6, 6)), rng.integers(0, 4, 6))
    loss, grads = model.loss(X, y)
    for k in sorted(model.params):
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[k])
        err = grad_error(grads.get(k), num) if np.shape(grads.get(k)) == np.shape(num) else np.inf
        checks.true(f'grads[{k!r}] matches numeric (train mode)', err < 1e-06, f'grads[{k!r}]: relative error {err:.1e} vs the numeric gradient')
    scores = model.loss(X)
    checks.close('test-mode scores of the first 2 images alone vs within the batch of 6', model.loss(X[:2]), scores[:2], rtol=1e-09, atol=1e-12, msg="loss(X) must use the running averages (test mode), not the batch's statistics")
    np.random.seed(3)
    small = ThreeLayerConvNetBN(input_dim=(1, 8, 8), num_filters=4, hidden_dim=10, filter_size=3)
    loss0, _ = small.loss(rng.random((20, 1, 8, 8)), np.arange(20) % 10)
    checks.close('initial loss (small weights, 10 classes)', loss0, math.log(10), rtol=0.0, atol=0.05)

