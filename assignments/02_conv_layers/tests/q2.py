from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_correlate2d_public(correlate2d):
    from cnnkit import checks
    checks.numpy_only()
    import torch
    import torch.nn.functional as F
    from cnnkit import checks
    rng = checks.rng()
    image, kernel = (rng.standard_normal((6, 7)), rng.standard_normal((3, 2)))
    expected = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None])[0, 0].numpy()
    checks.close('correlate2d(image, kernel)', correlate2d(image, kernel), expected, rtol=1e-09, atol=1e-10)

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
    import torch
    import torch.nn.functional as F
    from cnnkit import checks
    rng = checks.rng()
    kernel, image = (rng.standard_normal((3, 3)), rng.standard_normal((4, 4)))
    M = conv_as_matrix(kernel, (4, 4))
    checks.equal('conv_as_matrix(3x3 kernel, (4, 4)).shape', np.shape(M), (4, 16))
    expected = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None]).numpy().ravel()
    checks.close('M @ image.ravel()', np.asarray(M) @ image.ravel(), expected, rtol=1e-09, atol=1e-10)

