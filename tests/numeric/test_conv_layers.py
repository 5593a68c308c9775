"""Naive and vectorized conv / max-pool layers against torch in float64 (the oracle)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit.numeric import conv_layers, fast_layers
from cnnkit.numeric.gradcheck import eval_numerical_gradient_array, rel_error
from cnnkit.timing import compare

TOL = 1e-9

CONV = {
    "naive": (conv_layers.conv_forward_naive, conv_layers.conv_backward_naive),
    "fast": (fast_layers.conv_forward_fast, fast_layers.conv_backward_fast),
}
POOL = {
    "naive": (conv_layers.max_pool_forward_naive, conv_layers.max_pool_backward_naive),
    "fast": (fast_layers.max_pool_forward_fast, fast_layers.max_pool_backward_fast),
}

# (N, C, H, W), (F, HH, WW), stride, pad: square and non-square inputs and kernels, strides 1-3,
# pads 0-2, and sizes where the last rows/columns are not reached (torch floors the output size).
CONV_CASES = [
    ((2, 3, 8, 8), (4, 3, 3), 1, 1),
    ((2, 3, 7, 9), (4, 3, 2), 2, 1),
    ((1, 2, 9, 6), (3, 1, 4), 1, 2),
    ((3, 2, 10, 7), (2, 3, 3), 3, 0),
    ((2, 1, 5, 5), (2, 5, 5), 1, 0),
    ((2, 4, 11, 8), (3, 3, 5), 2, 2),
    ((1, 3, 6, 6), (5, 1, 1), 1, 0),
]

# (N, C, H, W), (pool_height, pool_width, stride): tiling, overlapping (3x3 stride 2), non-square
# windows, stride larger than the window, and inputs the windows do not cover exactly.
POOL_CASES = [
    ((2, 3, 8, 8), (2, 2, 2)),
    ((2, 2, 9, 7), (2, 2, 2)),
    ((2, 3, 9, 9), (3, 3, 2)),
    ((1, 2, 7, 10), (2, 3, 1)),
    ((2, 2, 10, 9), (2, 2, 3)),
    ((1, 3, 8, 6), (4, 2, 2)),
]


def _torch_conv(x, w, b, stride, pad, dout):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def _torch_pool(x, ph, pw, stride, dout):
    xt = torch.tensor(x, requires_grad=True)
    out = F.max_pool2d(xt, (ph, pw), stride=stride)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


def _conv_inputs(rng, xshape, wshape):
    N, C, H, W = xshape
    Fn, HH, WW = wshape
    return (
        rng.standard_normal(xshape),
        rng.standard_normal((Fn, C, HH, WW)),
        rng.standard_normal(Fn),
    )


@pytest.mark.parametrize("impl", sorted(CONV))
@pytest.mark.parametrize("xshape,wshape,stride,pad", CONV_CASES)
def test_conv_matches_torch(impl, xshape, wshape, stride, pad):
    forward, backward = CONV[impl]
    rng = np.random.default_rng(abs(hash((xshape, wshape, stride, pad))) % 2**32)
    x, w, b = _conv_inputs(rng, xshape, wshape)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    ref_out, ref_dx, ref_dw, ref_db = _torch_conv(x, w, b, stride, pad, dout)
    assert out.shape == ref_out.shape
    assert rel_error(out, ref_out) < TOL
    dx, dw, db = backward(dout, cache)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    assert rel_error(dx, ref_dx) < TOL
    assert rel_error(dw, ref_dw) < TOL
    assert rel_error(db, ref_db) < TOL


@pytest.mark.parametrize("impl", sorted(POOL))
@pytest.mark.parametrize("xshape,window", POOL_CASES)
def test_max_pool_matches_torch(impl, xshape, window):
    forward, backward = POOL[impl]
    ph, pw, stride = window
    rng = np.random.default_rng(abs(hash((xshape, window))) % 2**32)
    x = rng.standard_normal(xshape)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = forward(x, pool_param)
    dout = rng.standard_normal(out.shape)
    ref_out, ref_dx = _torch_pool(x, ph, pw, stride, dout)
    assert out.shape == ref_out.shape
    assert rel_error(out, ref_out) < TOL
    dx = backward(dout, cache)
    assert dx.shape == x.shape
    assert rel_error(dx, ref_dx) < TOL


@pytest.mark.parametrize("impl", sorted(POOL))
def test_max_pool_ties_route_to_first_max_like_torch(impl):
    # Integer inputs make ties common (as after a ReLU, where whole windows are 0): each window's
    # gradient must go to one element only, the first max in row-major order, as torch does.
    forward, backward = POOL[impl]
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2, size=(2, 2, 8, 8)).astype(np.float64)
    for ph, pw, stride in [(2, 2, 2), (3, 3, 2), (2, 2, 1)]:
        pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
        out, cache = forward(x, pool_param)
        dout = rng.standard_normal(out.shape)
        _, ref_dx = _torch_pool(x, ph, pw, stride, dout)
        assert rel_error(backward(dout, cache), ref_dx) < TOL


def test_overlapping_pool_windows_add_their_gradients():
    # One large input at the centre is the max of all four overlapping 3x3/2 windows.
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 10.0
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    for forward, backward in POOL.values():
        out, cache = forward(x, pool_param)
        dx = backward(dout, cache)
        assert dx[0, 0, 2, 2] == 10.0
        assert np.count_nonzero(dx) == 1


# The layer shapes of bench/bench_conv.py with a batch of 2: the 3-channel first layer, strides,
# pads, the 3x3/stride-2 overlapping pools (AlexNet's 55x55 among them). Values with ties (ReLU-like)
# for the pools, where only the first max of a window may get its gradient.
BENCH_CONV = [
    ((2, 3, 32, 32), (32, 3, 3), 1, 1),
    ((2, 32, 16, 16), (64, 3, 3), 1, 1),
    ((2, 1, 28, 28), (16, 5, 5), 1, 2),
    ((2, 3, 64, 64), (16, 5, 5), 2, 2),
]
BENCH_POOL = [
    ((2, 32, 32, 32), (2, 2, 2)),
    ((2, 64, 16, 16), (3, 3, 2)),
    ((2, 96, 55, 55), (3, 3, 2)),
    ((2, 16, 28, 28), (2, 2, 2)),
]


@pytest.mark.parametrize("xshape,wshape,stride,pad", BENCH_CONV)
def test_fast_conv_matches_torch_on_the_benchmark_shapes(xshape, wshape, stride, pad):
    rng = np.random.default_rng(11)
    x, w, b = _conv_inputs(rng, xshape, wshape)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    ref_out, ref_dx, ref_dw, ref_db = _torch_conv(x, w, b, stride, pad, dout)
    assert rel_error(out, ref_out) < TOL
    grads = fast_layers.conv_backward_fast(dout, cache)
    for got, ref in zip(grads, (ref_dx, ref_dw, ref_db), strict=True):
        assert got.shape == ref.shape
        assert rel_error(got, ref) < TOL


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("xshape,window", BENCH_POOL)
def test_fast_max_pool_matches_torch_on_the_benchmark_shapes(xshape, window, ties):
    ph, pw, stride = window
    rng = np.random.default_rng(12)
    x = rng.standard_normal(xshape)
    if ties:
        x = np.maximum(np.round(x), 0.0)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = fast_layers.max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape)
    ref_out, ref_dx = _torch_pool(x, ph, pw, stride, dout)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_allclose(fast_layers.max_pool_backward_fast(dout, cache), ref_dx, rtol=1e-13)


def test_fast_max_pool_in_chunks_of_images_matches_torch():
    # Images of 1.4 MB: the fast layers take 2 per chunk (about 4 MiB), so 5 images run as 2+2+1,
    # and the input is the non-contiguous NCHW view a fast conv layer returns.
    rng = np.random.default_rng(13)
    x = np.maximum(np.round(rng.standard_normal((2, 5, 300, 300)) * 2), 0.0).transpose(1, 0, 2, 3)
    assert not x.flags.c_contiguous
    for ph, pw, stride in [(3, 3, 2), (2, 2, 2), (2, 3, 1)]:
        pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
        out, cache = fast_layers.max_pool_forward_fast(x, pool_param)
        dout = rng.standard_normal(out.shape)
        ref_out, ref_dx = _torch_pool(x, ph, pw, stride, dout)
        np.testing.assert_array_equal(out, ref_out)
        np.testing.assert_allclose(
            fast_layers.max_pool_backward_fast(dout, cache), ref_dx, rtol=1e-13
        )


def test_fast_max_pool_keeps_float32():
    x = np.random.default_rng(14).standard_normal((3, 2, 9, 9)).astype(np.float32)
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    out, cache = fast_layers.max_pool_forward_fast(x, pool_param)
    dx = fast_layers.max_pool_backward_fast(np.ones_like(out), cache)
    assert out.dtype == dx.dtype == np.float32
    ref_out, ref_dx = _torch_pool(x.astype(np.float64), 3, 3, 2, np.ones(out.shape))
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(dx, ref_dx)


@pytest.mark.parametrize("impl", sorted(CONV))
def test_conv_backward_matches_numeric_gradient(impl):
    forward, backward = CONV[impl]
    rng = np.random.default_rng(3)
    x, w, b = _conv_inputs(rng, (2, 3, 6, 5), (3, 3, 2))
    conv_param = {"stride": 2, "pad": 1}
    out, cache = forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: forward(v, w, b, conv_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: forward(x, v, b, conv_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda v: forward(x, w, v, conv_param)[0], b, dout)
    assert rel_error(dx, dx_num) < 1e-8
    assert rel_error(dw, dw_num) < 1e-8
    assert rel_error(db, db_num) < 1e-8


def test_caches_are_interchangeable_between_naive_and_fast():
    rng = np.random.default_rng(4)
    x, w, b = _conv_inputs(rng, (2, 3, 7, 6), (4, 3, 3))
    conv_param = {"stride": 2, "pad": 1}
    out, naive_cache = conv_layers.conv_forward_naive(x, w, b, conv_param)
    _, fast_cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    for a, c in zip(
        fast_layers.conv_backward_fast(dout, naive_cache),
        conv_layers.conv_backward_naive(dout, fast_cache),
        strict=True,
    ):
        assert rel_error(a, c) < TOL
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    pout, pcache = conv_layers.max_pool_forward_naive(x, pool_param)
    pdout = rng.standard_normal(pout.shape)
    assert (
        rel_error(
            fast_layers.max_pool_backward_fast(pdout, pcache),
            conv_layers.max_pool_backward_naive(
                pdout, fast_layers.max_pool_forward_fast(x, pool_param)[1]
            ),
        )
        < TOL
    )


# --- Lecture fixtures: the documented numbers, recomputed by torch and by both implementations ----

LECTURE_X = [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]
LECTURE_K = [[0, 1, 2], [2, 2, 0], [0, 1, 2]]
LECTURE_CONV = [
    (1, 2, [[6, 17, 3], [8, 17, 13], [6, 4, 4]]),
    (0, 1, [[12, 12, 17], [10, 17, 19], [9, 6, 14]]),
    (
        1,
        1,
        [
            [6, 14, 17, 11, 3],
            [14, 12, 12, 17, 11],
            [8, 10, 17, 19, 13],
            [11, 9, 6, 14, 12],
            [6, 4, 4, 6, 4],
        ],
    ),
]


@pytest.mark.parametrize("pad,stride,documented", LECTURE_CONV)
def test_lecture_conv_fixture(pad, stride, documented):
    x = np.array(LECTURE_X, dtype=np.float64)[None, None]
    k = np.array(LECTURE_K, dtype=np.float64)[None, None]
    b = np.zeros(1)
    torch_out = F.conv2d(torch.tensor(x), torch.tensor(k), stride=stride, padding=pad).numpy()
    np.testing.assert_array_equal(torch_out[0, 0], documented)
    for forward, _ in CONV.values():
        out, _ = forward(x, k, b, {"stride": stride, "pad": pad})
        np.testing.assert_array_equal(out, torch_out)
    # The slide's printed stride-2 output is the top-left of the stride-1 one: a known figure bug.
    assert not np.array_equal(LECTURE_CONV[0][2], np.array(LECTURE_CONV[2][2])[:3, :3])


def test_lecture_max_pool_fixture():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float64)[
        None, None
    ]
    documented = [[6, 8], [3, 4]]
    np.testing.assert_array_equal(F.max_pool2d(torch.tensor(x), 2, 2).numpy()[0, 0], documented)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    for forward, backward in POOL.values():
        out, cache = forward(x, pool_param)
        np.testing.assert_array_equal(out[0, 0], documented)
        dx = backward(np.ones_like(out), cache)
        assert np.count_nonzero(dx) == out.size  # one routed gradient per window


# --- Filters (question 2) ---------------------------------------------------------------------


def test_correlate2d_matches_torch_and_convolve2d_flips():
    rng = np.random.default_rng(5)
    img, ker = rng.standard_normal((9, 12)), rng.standard_normal((3, 4))
    ref = F.conv2d(torch.tensor(img)[None, None], torch.tensor(ker)[None, None]).numpy()[0, 0]
    assert rel_error(conv_layers.correlate2d(img, ker), ref) < TOL
    flipped = F.conv2d(
        torch.tensor(img)[None, None], torch.tensor(ker[::-1, ::-1].copy())[None, None]
    )
    assert rel_error(conv_layers.convolve2d(img, ker), flipped.numpy()[0, 0]) < TOL


def test_convolution_of_an_impulse_reproduces_the_kernel():
    # The impulse response of a true convolution is the kernel itself; cross-correlation flips it.
    ker = np.arange(9.0).reshape(3, 3)
    img = np.zeros((5, 5))
    img[2, 2] = 1.0
    np.testing.assert_array_equal(conv_layers.convolve2d(img, ker), ker)
    np.testing.assert_array_equal(conv_layers.correlate2d(img, ker), ker[::-1, ::-1])


def test_gaussian_kernel_is_normalised_symmetric_and_separable():
    g = conv_layers.gaussian_kernel(5, 1.3)
    assert g.shape == (5, 5)
    assert abs(g.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(g, g.T)
    np.testing.assert_allclose(g, g[::-1, ::-1])
    r = np.arange(5) - 2.0
    one_d = np.exp(-(r**2) / (2 * 1.3**2))
    np.testing.assert_allclose(g, np.outer(one_d, one_d) / one_d.sum() ** 2, rtol=1e-12)


def test_conv_as_matrix_is_the_lecture_4x16_toeplitz_matrix():
    ker = np.arange(1.0, 10.0).reshape(3, 3)
    M = conv_layers.conv_as_matrix(ker, (4, 4))
    assert M.shape == (4, 16)
    # Row nonzero patterns from the lecture: 1110 1110 1110 0000, then shifted by 1, 4 and 5.
    base = np.array([1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    for row, shift in zip(M, (0, 1, 4, 5), strict=True):
        np.testing.assert_array_equal(row != 0, np.roll(base, shift))
    rng = np.random.default_rng(6)
    img = rng.standard_normal((4, 4))
    ref = F.conv2d(torch.tensor(img)[None, None], torch.tensor(ker)[None, None]).numpy()
    assert rel_error(M @ img.ravel(), ref.ravel()) < TOL
    M2 = conv_layers.conv_as_matrix(ker[:2], (5, 7))
    img2 = rng.standard_normal((5, 7))
    assert rel_error(M2 @ img2.ravel(), conv_layers.correlate2d(img2, ker[:2]).ravel()) < TOL


def test_correlation_is_translation_equivariant_away_from_the_border():
    rng = np.random.default_rng(8)
    img, ker = rng.standard_normal((20, 20)), rng.standard_normal((3, 3))
    shifted = np.roll(img, (2, 3), axis=(0, 1))
    a = conv_layers.correlate2d(shifted, ker)
    b = np.roll(conv_layers.correlate2d(img, ker), (2, 3), axis=(0, 1))
    # np.roll wraps around; only outputs whose windows did not straddle the wrap are comparable.
    assert rel_error(a[3:, 4:], b[3:, 4:]) < TOL
    assert rel_error(a, b) > 1e-3  # and the border really differs


# --- Vectorisation: ratios measured in the same run, generous -------------------------------------


def test_fast_conv_is_much_faster_than_naive():
    rng = np.random.default_rng(9)
    x, w, b = _conv_inputs(rng, (4, 3, 16, 16), (8, 3, 3))
    conv_param = {"stride": 1, "pad": 1}
    out, _ = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)

    def run(forward, backward):
        return lambda: backward(dout, forward(x, w, b, conv_param)[1])

    r = compare({"naive": run(*CONV["naive"]), "fast": run(*CONV["fast"])}, "fast", repeat=3)
    assert r["naive"]["ratio"] >= 10, r
