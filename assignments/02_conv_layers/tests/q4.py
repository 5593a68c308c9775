from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_conv_fast_vs_torch_public(conv_forward_fast, conv_backward_fast):
    from cnnkit import checks
    checks.numpy_only()
    import torch
    import torch.nn.functional as F
    from cnnkit import checks
    rng = checks.rng()
    x, w, b = (rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5))
    out, cache = conv_forward_fast(x, w, b, {'stride': 1, 'pad': 1})
    dout = rng.standard_normal((4, 5, 8, 8))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = F.conv2d(xt, wt, bt, stride=1, padding=1)
    ref.backward(torch.tensor(dout))
    checks.close('out', out, ref.detach().numpy(), rtol=1e-09, atol=1e-10)
    dx, dw, db = conv_backward_fast(dout, cache)
    checks.close('dx', dx, xt.grad.numpy(), rtol=1e-09, atol=1e-10)
    checks.close('dw', dw, wt.grad.numpy(), rtol=1e-09, atol=1e-10)
    checks.close('db', db, bt.grad.numpy(), rtol=1e-09, atol=1e-10)

@test_case(points=1, hidden=False)
def test_max_pool_fast_vs_torch_public(max_pool_forward_fast, max_pool_backward_fast):
    from cnnkit import checks
    checks.numpy_only()
    import torch
    import torch.nn.functional as F
    from cnnkit import checks
    rng = checks.rng()
    x = rng.standard_normal((3, 4, 8, 8))
    out, cache = max_pool_forward_fast(x, {'pool_height': 2, 'pool_width': 2, 'stride': 2})
    dout = rng.standard_normal((3, 4, 4, 4))
    xt = torch.tensor(x, requires_grad=True)
    ref = F.max_pool2d(xt, 2, 2)
    ref.backward(torch.tensor(dout))
    checks.close('out', out, ref.detach().numpy(), rtol=1e-12)
    checks.close('dx', max_pool_backward_fast(dout, cache), xt.grad.numpy(), rtol=1e-12)

