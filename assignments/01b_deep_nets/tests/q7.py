from otter.test_files import test_case

OK_FORMAT = False

name = "q7"
points = None

@test_case(points=1, hidden=False)
def test_q7_activations_public(tanh_forward, tanh_backward, leaky_relu_forward, leaky_relu_backward):
    from cnnkit import checks
    checks.numpy_only()
    import math
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array

    def grad_error(a, b):
        a, b = (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        if a.shape != b.shape:
            return float('inf')
        return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))
    out, _ = tanh_forward(np.array([[0.0, math.log(2), -math.log(3)]]))
    checks.close('tanh out', out, np.array([[0.0, 0.6, -0.8]]), rtol=1e-07, atol=1e-10)
    out, _ = leaky_relu_forward(np.array([[-2.0, -0.5, 0.5, 3.0]]), 0.1)
    checks.close('leaky relu out (alpha 0.1)', out, np.array([[-0.2, -0.05, 0.5, 3.0]]), rtol=1e-07, atol=1e-10)
    rng = checks.rng()
    x = rng.standard_normal((4, 5)) * 2
    x[np.abs(x) < 0.001] = 0.5
    dout = rng.standard_normal((4, 5))
    pairs = [('tanh', lambda v: tanh_forward(v), tanh_backward), ('leaky relu', lambda v: leaky_relu_forward(v, 0.2), leaky_relu_backward)]
    for name, fwd, bwd in pairs:
        _, cache = fwd(x)
        dx = bwd(dout, cache)
        checks.equal(f'{name} dx shape', np.shape(dx), x.shape)
        err = grad_error(dx, eval_numerical_gradient_array(lambda v, fwd=fwd: fwd(v)[0], x, dout))
        checks.true(f'{name} dx matches numeric', err < 1e-07, f'{name} dx: relative error {err:.1e} vs the numeric gradient')

