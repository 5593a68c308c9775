from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_q5_first_step_with_defaults(sgd, sgd_momentum, rmsprop, adam):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    rng = checks.rng()
    sign = np.where(rng.random((3, 4)) < 0.5, -1.0, 1.0)
    dw = sign * rng.uniform(0.5, 2.0, size=(3, 4))
    w = rng.standard_normal((3, 4))
    eps = 1e-08
    steps = {'sgd': (sgd, 0.01 * dw), 'sgd_momentum': (sgd_momentum, 0.01 * dw), 'rmsprop': (rmsprop, 0.01 * sign * np.abs(dw) / (0.1 * np.abs(dw) + eps)), 'adam': (adam, 0.001 * sign * np.abs(dw) / (np.abs(dw) + eps))}
    for name, (rule, step) in steps.items():
        next_w, _ = rule(w.copy(), dw.copy(), None)
        checks.close(f'{name}: w after one step from config=None', next_w, w - step, rtol=1e-07, atol=1e-10)

@test_case(points=1, hidden=False)
def test_q5_momentum_three_steps(sgd_momentum):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    rng = checks.rng()
    w0 = rng.standard_normal(5)
    g = rng.standard_normal(5)
    w, config = (w0.copy(), {'learning_rate': 0.1, 'momentum': 0.9})
    for step, (c, moved) in enumerate([(1.0, -0.1), (-1.0, -0.09), (2.0, -0.281)]):
        w, config = sgd_momentum(w, c * g, config)
        checks.close(f'w after step {step + 1}', w, w0 + moved * g, rtol=1e-07, atol=1e-10)

