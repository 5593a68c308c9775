from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_conv_naive_lecture_fixture(conv_forward_naive):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    x = np.array([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]], dtype=float)
    k = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]], dtype=float)
    x, k = (x[None, None], k[None, None])
    lecture = {(1, 2): [[6, 17, 3], [8, 17, 13], [6, 4, 4]], (0, 1): [[12, 12, 17], [10, 17, 19], [9, 6, 14]]}
    for (pad, stride), expected in lecture.items():
        out, _ = conv_forward_naive(x, k, np.zeros(1), {'stride': stride, 'pad': pad})
        checks.close(f'lecture example, pad {pad}, stride {stride}', out, np.array(expected, dtype=float)[None, None], rtol=1e-12)

@test_case(points=1, hidden=False)
def test_conv_naive_gradients_public(conv_forward_naive, conv_backward_naive):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks, oracles
    rng = checks.rng()
    x, w, b = (rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((3, 3, 3, 3)), rng.standard_normal(3))

    def conv(x, w, b):
        return conv_forward_naive(x, w, b, {'stride': 1, 'pad': 1})
    x2 = rng.standard_normal(x.shape)
    checks.close('out against out(x + x2) - out(x2) + out(0)', conv(x, w, b)[0], lambda: conv(x + x2, w, b)[0] - conv(x2, w, b)[0] + conv(0 * x, w, b)[0], rtol=1e-09, atol=1e-10)
    dout = rng.standard_normal((2, 3, 5, 5))
    oracles.against_central_differences(conv, conv_backward_naive, (x, w, b), dout, grads=('dx', 'dw', 'db'))

@test_case(points=1, hidden=False)
def test_max_pool_naive_lecture(max_pool_forward_naive, max_pool_backward_naive):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)[None, None]
    dout = checks.rng().standard_normal((1, 1, 2, 2))
    out, cache = max_pool_forward_naive(x, {'pool_height': 2, 'pool_width': 2, 'stride': 2})
    checks.close('lecture max pool', out, np.array([[[[6.0, 8.0], [3.0, 4.0]]]]), rtol=1e-12)
    routed = np.zeros_like(x)
    for (i, j), (r, c) in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [(1, 1), (1, 3), (2, 0), (3, 3)]):
        routed[0, 0, r, c] = dout[0, 0, i, j]
    checks.close('dx', max_pool_backward_naive(dout, cache), routed, rtol=1e-12)

