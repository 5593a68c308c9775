"""Numeric gradients against torch autograd in float64 (the oracle)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit.numeric.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def _autograd(fn, *arrays):
    """Gradients of the scalar fn(*tensors) w.r.t. every input, by torch autograd in float64."""
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    fn(*ts).backward()
    return [t.grad.numpy() for t in ts]


def test_scalar_tanh_of_affine_matches_autograd():
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((4, 5)), rng.standard_normal(5)
    (dW,) = _autograd(lambda w: torch.tanh(w @ torch.tensor(x)).sum(), W)
    W0 = W.copy()
    num = eval_numerical_gradient(lambda w: np.tanh(w @ x).sum(), W)
    assert rel_error(num, dW) < 1e-7
    np.testing.assert_array_equal(W, W0)  # restored after probing


def test_softmax_cross_entropy_matches_autograd():
    rng = np.random.default_rng(1)
    scores, y = rng.standard_normal((6, 4)), rng.integers(4, size=6)

    def loss_np(s):
        shifted = s - s.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -logp[np.arange(len(y)), y].mean()

    (ds,) = _autograd(lambda s: F.cross_entropy(s, torch.tensor(y)), scores)
    assert rel_error(eval_numerical_gradient(loss_np, scores), ds) < 1e-7


def test_array_function_conv_matches_autograd():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    dout = rng.standard_normal((2, 4, 5, 5))

    def conv_np(x_, w_):
        t = F.conv2d(torch.from_numpy(x_), torch.from_numpy(w_), padding=1)
        return t.numpy()

    dx, dw = _autograd(
        lambda xt, wt: (F.conv2d(xt, wt, padding=1) * torch.from_numpy(dout)).sum(), x, w
    )
    num_dx = eval_numerical_gradient_array(lambda z: conv_np(z, w), x, dout)
    num_dw = eval_numerical_gradient_array(lambda z: conv_np(x, z), w, dout)
    assert rel_error(num_dx, dx) < 1e-7
    assert rel_error(num_dw, dw) < 1e-7


def test_array_function_that_returns_a_view_of_its_input():
    # relu written in place on a copy is fine; returning x itself would alias the probe buffer.
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    (dx,) = _autograd(lambda t: (t * torch.from_numpy(dout)).sum(), x)
    num = eval_numerical_gradient_array(lambda z: z, x, dout)
    assert rel_error(num, dx) < 1e-7


def test_grad_check_sparse_accepts_correct_and_flags_wrong_gradient(capsys):
    rng = np.random.default_rng(4)
    W, X = rng.standard_normal((5, 3)), rng.standard_normal((7, 5))
    f = lambda w: np.sum(np.tanh(X @ w) ** 2)
    (dW,) = _autograd(lambda w: (torch.tanh(torch.from_numpy(X) @ w) ** 2).sum(), W)
    W0 = W.copy()
    good = grad_check_sparse(f, W, dW, num_checks=6, seed=0)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and all("relative error" in line for line in lines)
    assert good < 1e-7
    np.testing.assert_array_equal(W, W0)
    bad = grad_check_sparse(f, W, 2 * dW, num_checks=6, seed=0, verbose=False)
    assert capsys.readouterr().out == ""
    # analytic = 2 * numeric gives |g - 2g| / (|g| + |2g|) = 1/3 wherever g != 0
    assert bad == pytest.approx(1 / 3, rel=1e-6)


def test_grad_check_sparse_is_reproducible_by_seed():
    x = np.linspace(-1, 1, 20).reshape(4, 5)
    f = lambda z: np.sum(z**3)
    wrong = np.random.default_rng(5).standard_normal(x.shape)
    a = grad_check_sparse(f, x, wrong, num_checks=3, seed=7, verbose=False)
    b = grad_check_sparse(f, x, wrong, num_checks=3, seed=7, verbose=False)
    assert a == b


def test_x_is_restored_when_f_raises():
    x = np.arange(4.0)
    calls = []

    def f(z):
        calls.append(z.copy())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return z.sum()

    with pytest.raises(RuntimeError):
        eval_numerical_gradient(f, x)
    np.testing.assert_array_equal(x, np.arange(4.0))


def test_rel_error_properties():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(10), rng.standard_normal(10)
    assert rel_error(a, a) == 0.0
    assert rel_error(a, b) == rel_error(b, a)
    assert 0.0 < rel_error(a, b) <= 1.0
    assert rel_error(a, -a) == pytest.approx(1.0)
    # scale invariant: relative, not absolute
    assert rel_error(1e6 * a, 1e6 * (a + 1e-9)) == pytest.approx(rel_error(a, a + 1e-9), rel=1e-6)
    # the 1e-8 floor keeps tiny absolute differences near zero from reading as large errors
    assert rel_error(0.0, 1e-12) < 1e-3
    with pytest.raises(ValueError):
        rel_error(np.zeros(3), np.zeros(4))
