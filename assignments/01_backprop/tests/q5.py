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
    w = np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.25]])
    dw = np.array([[1.0, -2.0, 0.5], [-0.75, 1.25, 2.0]])
    after = {'sgd': (sgd, [[0.49, -0.98, 1.995], [0.0075, 1.4875, -0.27]]), 'sgd_momentum': (sgd_momentum, [[0.49, -0.98, 1.995], [0.0075, 1.4875, -0.27]]), 'rmsprop': (rmsprop, [[0.4000000099999991, -0.9000000049999998, 1.900000019999996], [0.0999999866666684, 1.4000000079999995, -0.34999999500000023]]), 'adam': (adam, [[0.49900000001, -0.999000000005, 1.99900000002], [0.0009999999866666669, 1.499000000008, -0.250999999995]])}
    for name, (rule, want) in after.items():
        next_w, _ = rule(w.copy(), dw.copy(), None)
        checks.close(f'{name}: w after one step from config=None', next_w, np.array(want), rtol=1e-07, atol=1e-10)

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

