from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = None

@test_case(points=1, hidden=False)
def test_q6_params_file_and_accuracy_70():
    import numpy as np
    from cnnkit import checks, heldout
    with np.load('twolayer_params.npz', allow_pickle=False) as f:
        p = {k: np.asarray(f[k], dtype=np.float64) for k in ('W1', 'b1', 'W2', 'b2', 'hidden_dim')}
    h = int(p['hidden_dim'])
    ok = p['W1'].shape == (784, h) and p['b1'].shape == (h,) and (p['W2'].shape == (h, 10)) and (p['b2'].shape == (10,))
    checks.true('parameter shapes', ok, 'twolayer_params.npz needs W1 (784, H), b1 (H,), W2 (H, 10), b2 (10,) and hidden_dim = H')
    seed = int(checks.rng().integers(2 ** 31))
    checks.at_least('test accuracy', heldout.twolayer_accuracy('twolayer_params.npz', n=2000, seed=seed), 0.7)

