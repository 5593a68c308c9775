from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_correlate2d_public(correlate2d):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    diagonal = np.array([[1.0, 0.0], [0.0, -1.0]])
    checks.close('correlate2d(5 i + j on 4x5, [[1, 0], [0, -1]])', correlate2d(np.arange(20.0).reshape(4, 5), diagonal), np.full((3, 4), -6.0), rtol=1e-12)
    rng = checks.rng()
    image, k1, k2 = (rng.standard_normal((6, 7)), rng.standard_normal((3, 2)), rng.standard_normal((3, 2)))
    one_hot = np.zeros((3, 2))
    one_hot[2, 1] = 1.0
    checks.close('correlate2d(image, one 1 at (2, 1))', correlate2d(image, one_hot), image[2:6, 1:7], rtol=1e-12)
    checks.close('correlate2d(image, 2 k1 - 3 k2) against 2 correlate2d(image, k1) - 3 correlate2d(image, k2)', correlate2d(image, 2 * k1 - 3 * k2), lambda: 2 * correlate2d(image, k1) - 3 * correlate2d(image, k2), rtol=1e-09, atol=1e-10)

@test_case(points=1, hidden=False)
def test_convolve2d_impulse_and_gaussian(convolve2d, gaussian_kernel):
    from cnnkit import checks
    checks.numpy_only()
    import math
    import numpy as np
    from cnnkit import checks
    kernel = np.arange(9.0).reshape(3, 3)
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1.0
    checks.close('convolve2d(impulse, kernel)', convolve2d(impulse, kernel), kernel, msg='the convolution of a centred impulse must reproduce the kernel')
    g = np.asarray(gaussian_kernel(5, 1.0), dtype=np.float64)
    checks.equal('gaussian_kernel(5, 1.0).shape', np.shape(g), (5, 5))
    checks.close('sum of gaussian_kernel(5, 1.0) (a blur kernel sums to 1)', float(g.sum()), 1.0, rtol=1e-09)
    asym = float(max(np.abs(g - g.T).max(), np.abs(g - g[::-1, ::-1]).max())) if g.shape == (5, 5) else math.inf
    checks.true('gaussian_kernel(5, 1.0) is symmetric about its centre', asym < 1e-15, f'entries mirrored about the centre differ by up to {asym:.1e}')
    for sigma in (1.0, 2.0):
        g = np.asarray(gaussian_kernel(5, sigma), dtype=np.float64)
        checks.close(f'gaussian_kernel(5, {sigma}): centre / neighbour', g[2, 2] / g[2, 3], math.exp(1 / (2 * sigma ** 2)), rtol=1e-09)
        checks.close(f'gaussian_kernel(5, {sigma}): centre / corner', g[2, 2] / g[0, 0], math.exp(8 / (2 * sigma ** 2)), rtol=1e-09)

@test_case(points=1, hidden=False)
def test_conv_as_matrix_public(conv_as_matrix):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    lecture = np.array([[1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0], [0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0], [0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0], [0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9]], dtype=float)
    M9 = np.asarray(conv_as_matrix(np.arange(1.0, 10.0).reshape(3, 3), (4, 4)), dtype=float)
    checks.close('conv_as_matrix([[1, 2, 3], [4, 5, 6], [7, 8, 9]], (4, 4))', M9, lecture, rtol=1e-12)
    rng = checks.rng()
    k1, k2, image = (rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal((4, 4)))
    M = conv_as_matrix(2 * k1 - 3 * k2, (4, 4))
    checks.equal('conv_as_matrix(3x3 kernel, (4, 4)).shape', np.shape(M), (4, 16))
    checks.close('M @ image.ravel() for 2 k1 - 3 k2 against the same for k1 and k2', np.asarray(M) @ image.ravel(), lambda: 2 * (np.asarray(conv_as_matrix(k1, (4, 4))) @ image.ravel()) - 3 * (np.asarray(conv_as_matrix(k2, (4, 4))) @ image.ravel()), rtol=1e-09, atol=1e-10)

