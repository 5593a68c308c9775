from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_conv_fast_agrees_with_naive_public(conv_forward_fast, conv_backward_fast, conv_forward_naive):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks, oracles
    rng = checks.rng()
    x, w, b = (rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5))
    conv_param = {'stride': 1, 'pad': 1}
    out, _ = conv_forward_fast(x, w, b, conv_param)
    checks.close("out against conv_forward_naive's", out, lambda: conv_forward_naive(x, w, b, conv_param)[0], rtol=1e-09, atol=1e-10)
    dout = rng.standard_normal((4, 5, 8, 8))
    oracles.against_central_differences(lambda x, w, b: conv_forward_fast(x, w, b, conv_param), conv_backward_fast, (x, w, b), dout, grads=('dx', 'dw', 'db'))

@test_case(points=1, hidden=False)
def test_max_pool_fast_agrees_with_naive_public(max_pool_forward_fast, max_pool_backward_fast, max_pool_forward_naive, max_pool_backward_naive):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks
    rng = checks.rng()
    x = rng.standard_normal((3, 4, 8, 8))
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal((3, 4, 4, 4))
    checks.close("out against max_pool_forward_naive's", out, lambda: max_pool_forward_naive(x, pool_param)[0], rtol=1e-12)
    checks.close("dx against max_pool_backward_naive's", max_pool_backward_fast(dout, cache), lambda: max_pool_backward_naive(dout, max_pool_forward_naive(x, pool_param)[1]), rtol=1e-12)

