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

