from otter.test_files import test_case

OK_FORMAT = False

name = "q9"
points = None

@test_case(points=1, hidden=False)
def test_q9_dropout_public(dropout_forward, dropout_backward):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array
    rng = checks.rng()
    x = rng.standard_normal((200, 300)) + 2.0
    out, _ = dropout_forward(x, {'mode': 'test', 'p': 0.6})
    checks.close('test mode output', out, x, rtol=1e-12, atol=0)
    out, _ = dropout_forward(x, {'mode': 'train', 'p': 0.6, 'seed': 1})
    checks.close('share of units kept with p = 0.6', float(np.mean(out != 0)), 0.6, rtol=0.03)
    checks.close('mean activation in train mode / mean input', float(out.mean() / x.mean()), 1.0, rtol=0.03)
    again, _ = dropout_forward(x, {'mode': 'train', 'p': 0.6, 'seed': 1})
    same = np.shape(out) == np.shape(again) and (not np.any(np.asarray(out) != np.asarray(again)))
    checks.true('the same seed gives the same output', same, "a 'seed' in dropout_param must fix the mask")
    xs, dout = (rng.standard_normal((5, 8)), rng.standard_normal((5, 8)))
    param = {'mode': 'train', 'p': 0.7, 'seed': 3}
    _, cache = dropout_forward(xs, param)
    dx = dropout_backward(dout, cache)
    num = eval_numerical_gradient_array(lambda v: dropout_forward(v, param)[0], xs, dout)
    err = float(np.linalg.norm(np.asarray(dx) - num) / max(1e-12, np.linalg.norm(dx) + np.linalg.norm(num))) if np.shape(dx) == num.shape else float('inf')
    checks.true('dx matches numeric', err < 1e-08, f'dx: relative error {err:.1e} vs the numeric gradient')

