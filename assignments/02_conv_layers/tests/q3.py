from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_conv_naive_lecture_fixture(conv_forward_naive):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from cnnkit import checks
    x = np.array([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]], dtype=float)
    k = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]], dtype=float)
    x, k = (x[None, None], k[None, None])
    for pad, stride in [(1, 2), (0, 1)]:
        expected = F.conv2d(torch.tensor(x), torch.tensor(k), stride=stride, padding=pad).numpy()
        out, _ = conv_forward_naive(x, k, np.zeros(1), {'stride': stride, 'pad': pad})
        checks.close(f'lecture example, pad {pad}, stride {stride}', out, expected, rtol=1e-12)

@test_case(points=1, hidden=False)
def test_conv_naive_vs_torch_public(conv_forward_naive, conv_backward_naive):
    import torch
    import torch.nn.functional as F
    from cnnkit import checks
    rng = checks.rng()
    x, w, b = (rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((3, 3, 3, 3)), rng.standard_normal(3))
    out, cache = conv_forward_naive(x, w, b, {'stride': 1, 'pad': 1})
    dout = rng.standard_normal((2, 3, 5, 5))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = F.conv2d(xt, wt, bt, stride=1, padding=1)
    ref.backward(torch.tensor(dout))
    checks.close('out', out, ref.detach().numpy(), rtol=1e-09, atol=1e-10)
    dx, dw, db = conv_backward_naive(dout, cache)
    checks.close('dx', dx, xt.grad.numpy(), rtol=1e-09, atol=1e-10)
    checks.close('dw', dw, wt.grad.numpy(), rtol=1e-09, atol=1e-10)
    checks.close('db', db, bt.grad.numpy(), rtol=1e-09, atol=1e-10)

@test_case(points=1, hidden=False)
def test_max_pool_naive_lecture(max_pool_forward_naive, max_pool_backward_naive):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from cnnkit import checks
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)[None, None]
    xt = torch.tensor(x, requires_grad=True)
    ref = F.max_pool2d(xt, 2, 2)
    dout = checks.rng().standard_normal((1, 1, 2, 2))
    ref.backward(torch.tensor(dout))
    out, cache = max_pool_forward_naive(x, {'pool_height': 2, 'pool_width': 2, 'stride': 2})
    checks.close('lecture max pool', out, ref.detach().numpy(), rtol=1e-12)
    checks.close('dx', max_pool_backward_naive(dout, cache), xt.grad.numpy(), rtol=1e-12)

