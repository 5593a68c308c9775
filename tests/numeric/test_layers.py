"""Layers and losses of cnnkit.numeric.layers against torch autograd in float64 (the oracle)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit.numeric import layers
from cnnkit.numeric.gradcheck import eval_numerical_gradient_array, rel_error


def _t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def _torch_backward(fn, dout, *arrays):
    """Output of fn(*tensors) and the gradients of sum(fn * dout) w.r.t. every input."""
    ts = [_t(a, grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(_t(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_affine_forward_backward_match_torch_on_4d_input(rng):
    x = rng.standard_normal((3, 2, 4, 5))
    w = rng.standard_normal((40, 6))
    b = rng.standard_normal(6)
    dout = rng.standard_normal((3, 6))
    out, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)
    t_out, (t_dx, t_dw, t_db) = _torch_backward(
        lambda x_, w_, b_: x_.reshape(3, -1) @ w_ + b_, dout, x, w, b
    )
    assert out.shape == (3, 6)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    for got, exp in [(out, t_out), (dx, t_dx), (dw, t_dw), (db, t_db)]:
        assert rel_error(got, exp) < 1e-12


def test_affine_backward_reproduces_lecture_matmul_example():
    # [002] "Backprop with Matrices": the slide's x, w and upstream gradient; expected from torch.
    x = np.array([[2, 1, -3], [-3, 4, 2]], dtype=np.float64)
    w = np.array([[3, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]], dtype=np.float64)
    dy = np.array([[2, 3, -3, 9], [-8, 1, 4, 6]], dtype=np.float64)
    _, cache = layers.affine_forward(x, w, np.zeros(4))
    dx, dw, _ = layers.affine_backward(dy, cache)
    _, (t_dx, t_dw) = _torch_backward(lambda a, b: a @ b, dy, x, w)
    np.testing.assert_array_equal(dx, t_dx)
    np.testing.assert_array_equal(dw, t_dw)
    # The digest's verified numbers, recomputed above by torch: spot-check one entry of each.
    assert dx[0, 1] == 16 and dw[1, 3] == 33


def test_relu_forward_backward_match_torch(rng):
    x = rng.standard_normal((5, 7))
    dout = rng.standard_normal((5, 7))
    out, cache = layers.relu_forward(x)
    dx = layers.relu_backward(dout, cache)
    t_out, (t_dx,) = _torch_backward(torch.relu, dout, x)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_array_equal(dx, t_dx)


def test_relu_backward_routes_by_input_sign_not_upstream_sign():
    # Classic example: negative upstream entries at positive inputs must pass unchanged.
    x = np.array([1.0, -2.0, 3.0, -1.0])
    dout = np.array([4.0, -1.0, 5.0, 9.0])
    _, cache = layers.relu_forward(x)
    _, (t_dx,) = _torch_backward(torch.relu, dout, x)
    np.testing.assert_array_equal(layers.relu_backward(dout, cache), t_dx)


def test_sigmoid_forward_backward_match_torch_including_extremes(rng):
    x = np.concatenate([rng.standard_normal(20) * 3, [-800.0, -40.0, 0.0, 40.0, 800.0]])
    dout = rng.standard_normal(x.shape)
    with np.errstate(
        over="raise", invalid="raise", divide="raise"
    ):  # no overflow warnings even at +-800
        out, cache = layers.sigmoid_forward(x)
        dx = layers.sigmoid_backward(dout, cache)
    t_out, (t_dx,) = _torch_backward(torch.sigmoid, dout, x)
    assert rel_error(out, t_out) < 1e-14
    np.testing.assert_allclose(dx, t_dx, rtol=1e-12, atol=1e-300)


def test_sigmoid_backward_uses_cached_output():
    # The contract: cache is the forward output z, so dx = dout * z * (1 - z) for any given z.
    z = np.array([0.1, 0.5, 0.9])
    dout = np.array([1.0, 2.0, -3.0])
    x = torch.logit(_t(z)).numpy()
    _, (t_dx,) = _torch_backward(torch.sigmoid, dout, x)
    np.testing.assert_allclose(layers.sigmoid_backward(dout, z), t_dx, rtol=1e-12)


def test_softmax_loss_matches_torch_cross_entropy(rng):
    scores = rng.standard_normal((8, 10))
    y = rng.integers(10, size=8)
    loss, dscores = layers.softmax_loss(scores, y)
    s = _t(scores, grad=True)
    t_loss = F.cross_entropy(s, torch.tensor(y))
    t_loss.backward()
    assert isinstance(loss, float)
    assert rel_error(loss, t_loss.item()) < 1e-13
    assert rel_error(dscores, s.grad.numpy()) < 1e-12


def test_softmax_loss_is_stable_for_huge_logits(rng):
    scores = rng.standard_normal((6, 5)) * 1000 + 5000
    y = rng.integers(5, size=6)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dscores = layers.softmax_loss(scores, y)
    s = _t(scores, grad=True)
    t_loss = F.cross_entropy(s, torch.tensor(y))
    t_loss.backward()
    assert np.isfinite(loss) and np.all(np.isfinite(dscores))
    assert rel_error(loss, t_loss.item()) < 1e-12
    np.testing.assert_allclose(dscores, s.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_softmax_loss_of_zero_scores_is_log_c():
    loss, _ = layers.softmax_loss(np.zeros((4, 10)), np.arange(4))
    assert loss == pytest.approx(float(torch.log(torch.tensor(10.0, dtype=torch.float64))))


def test_svm_loss_matches_torch_multi_margin(rng):
    scores = rng.standard_normal((9, 6))
    y = rng.integers(6, size=9)
    loss, dscores = layers.svm_loss(scores, y)
    s = _t(scores, grad=True)
    # multi_margin_loss divides each row's sum by C; the CS231n SVM does not.
    t_loss = F.multi_margin_loss(s, torch.tensor(y), margin=1.0) * scores.shape[1]
    t_loss.backward()
    assert rel_error(loss, t_loss.item()) < 1e-13
    assert rel_error(dscores, s.grad.numpy()) < 1e-12


def test_svm_loss_gradient_matches_numeric(rng):
    scores = rng.standard_normal((5, 4))
    y = rng.integers(4, size=5)
    _, dscores = layers.svm_loss(scores, y)
    num = eval_numerical_gradient_array(
        lambda s: np.array(layers.svm_loss(s, y)[0]), scores, np.array(1.0)
    )
    assert rel_error(dscores, num) < 1e-8


def test_affine_relu_composite_matches_torch(rng):
    x = rng.standard_normal((4, 3, 2))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    out, cache = layers.affine_relu_forward(x, w, b)
    dx, dw, db = layers.affine_relu_backward(dout, cache)
    t_out, (t_dx, t_dw, t_db) = _torch_backward(
        lambda x_, w_, b_: torch.relu(x_.reshape(4, -1) @ w_ + b_), dout, x, w, b
    )
    for got, exp in [(out, t_out), (dx, t_dx), (dw, t_dw), (db, t_db)]:
        assert rel_error(got, exp) < 1e-12
