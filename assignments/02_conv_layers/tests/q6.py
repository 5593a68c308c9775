from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = None

@test_case(points=1, hidden=False)
def test_saved_params_load():
    import numpy as np
    from cnnkit import checks
    with np.load('convnet_params.npz', allow_pickle=False) as f:
        p = {k: f[k] for k in f.files}
    checks.equal('saved keys', sorted(p), ['W1', 'W2', 'W3', 'b1', 'b2', 'b3'])
    nf, c, k1, k2 = p['W1'].shape
    checks.equal('W1 is (F, 1, k, k) with odd k', (c, k1 % 2, k1 == k2), (1, 1, True))
    checks.equal('W2 rows', p['W2'].shape[0], nf * 14 * 14)
    checks.equal('W3 columns', p['W3'].shape[1], 10)

