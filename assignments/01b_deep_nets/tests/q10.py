from otter.test_files import test_case

OK_FORMAT = False

name = "q10"
points = None

@test_case(points=1, hidden=False)
def test_q10_batchnorm_forward_public(batchnorm_forward):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    rng = checks.rng()
    x = rng.standard_normal((200, 3)) * np.array([4.0, 0.5, 2.0]) + np.array([-3.0, 1.0, 10.0])
    gamma, beta = (np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0]))
    param = {'mode': 'train'}
    out, _ = batchnorm_forward(x, gamma, beta, param)
    checks.close('train mode: per-feature mean of the output', out.mean(axis=0), beta, rtol=1e-06, atol=1e-06)
    checks.close('train mode: per-feature std of the output', out.std(axis=0), gamma, rtol=0.0001)
    for key in ('running_mean', 'running_var'):
        checks.equal(f"bn_param['{key}'] shape after a train step", np.shape(param.get(key)), (3,))
    eps = 1e-05
    param = {'mode': 'test', 'eps': eps, 'running_mean': np.array([1.0, -2.0]), 'running_var': np.array([4.0, 0.25]) - eps}
    out, _ = batchnorm_forward(np.array([[3.0, -1.0]]), np.array([2.0, 1.0]), np.array([0.0, 1.0]), param)
    checks.close('test mode output of the hand example', out, np.array([[2.0, 3.0]]), rtol=1e-07, atol=1e-10)

@test_case(points=1, hidden=False)
def test_q10_batchnorm_backward_public(batchnorm_forward, batchnorm_backward, batchnorm_backward_alt):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array

    def grad_error(a, b):
        a, b = (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        if a.shape != b.shape:
            return float('inf')
        return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))
    rng = checks.rng()
    x = rng.standard_normal((6, 4)) * 3 + 1
    gamma, beta, dout = (rng.uniform(0.5, 2, 4), rng.standard_normal(4), rng.standard_normal((6, 4)))

    def fwd(x_, g_, b_):
        return batchnorm_forward(x_, g_, b_, {'mode': 'train'})[0]
    numeric = {'dx': eval_numerical_gradient_array(lambda v: fwd(v, gamma, beta), x, dout), 'dgamma': eval_numerical_gradient_array(lambda v: fwd(x, v, beta), gamma, dout), 'dbeta': eval_numerical_gradient_array(lambda v: fwd(x, gamma, v), beta, dout)}
    for name, backward in [('batchnorm_backward', batchnorm_backward), ('batchnorm_backward_alt', batchnorm_backward_alt)]:
        _, cache = batchnorm_forward(x, gamma, beta, {'mode': 'train'})
        for key, got in zip(('dx', 'dgamma', 'dbeta'), backward(dout, cache)):
            err = grad_error(got, numeric[key])
            checks.true(f'{name}: {key} matches numeric', err < 1e-06, f'{name} {key}: relative error {err:.1e} vs the numeric gradient')

@test_case(points=0.5, hidden=False)
def test_q10_layernorm_public(layernorm_forward, layernorm_backward):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array
    rng = checks.rng()
    x = rng.standard_normal((3, 50)) * np.array([[1.0], [5.0], [0.2]]) + np.array([[2.0], [-4.0], [0.0]])
    out, _ = layernorm_forward(x, np.ones(50), np.zeros(50), {})
    checks.close('per-example mean of the output', out.mean(axis=1), np.zeros(3), rtol=0, atol=1e-06)
    checks.close('per-example std of the output', out.std(axis=1), np.ones(3), rtol=0.001)
    xs, gamma, beta = (rng.standard_normal((4, 6)), rng.uniform(0.5, 2, 6), rng.standard_normal(6))
    dout = rng.standard_normal((4, 6))
    _, cache = layernorm_forward(xs, gamma, beta, {})
    dx = layernorm_backward(dout, cache)[0]
    num = eval_numerical_gradient_array(lambda v: layernorm_forward(v, gamma, beta, {})[0], xs, dout)
    err = float(np.linalg.norm(np.asarray(dx) - num) / max(1e-12, np.linalg.norm(dx) + np.linalg.norm(num))) if np.shape(dx) == num.shape else float('inf')
    checks.true('layernorm dx matches numeric', err < 1e-06, f'dx: relative error {err:.1e} vs the numeric gradient')

