"""cnnkit.autograd: the custom Functions against torch's own ops (float64 oracle) and gradcheck."""

import math

import pytest
import torch

from cnnkit.autograd import Multiply, Sigmoid, sigmoid_circuit_autograd


def test_multiply_gradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(Multiply.apply, (x, y))
    torch.testing.assert_close(Multiply.apply(x, y), x * y)


def test_sigmoid_gradcheck_and_values():
    x = torch.linspace(-30, 30, 41, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(Sigmoid.apply, (x,))
    torch.testing.assert_close(Sigmoid.apply(x), torch.sigmoid(x))
    (g,) = torch.autograd.grad(Sigmoid.apply(x).sum(), x)
    (ref,) = torch.autograd.grad(torch.sigmoid(x).sum(), x)
    torch.testing.assert_close(g, ref)


def test_sigmoid_backward_uses_saved_output():
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    z = Sigmoid.apply(x)
    saved = z.grad_fn.saved_tensors
    assert len(saved) == 1
    torch.testing.assert_close(saved[0], torch.sigmoid(x.detach()))


def test_sigmoid_extreme_inputs_finite():
    x = torch.tensor([-1000.0, 1000.0], dtype=torch.float64, requires_grad=True)
    z = Sigmoid.apply(x)
    z.sum().backward()
    assert torch.isfinite(z).all() and torch.isfinite(x.grad).all()


def test_circuit_matches_lecture_numbers():
    L, grads = sigmoid_circuit_autograd(2.0, -1.0, -3.0, -2.0, -3.0)
    s = 2.0 * -1.0 + -3.0 * -2.0 + -3.0
    sig = 1 / (1 + math.exp(-s))
    ds = sig * (1 - sig)
    assert pytest.approx(sig, rel=1e-12) == L
    assert pytest.approx(0.731059, abs=1e-6) == L  # the lecture's value
    expected = {"w0": -1.0 * ds, "x0": 2.0 * ds, "w1": -2.0 * ds, "x1": -3.0 * ds, "w2": ds}
    assert set(grads) == set(expected)
    for k, v in expected.items():
        assert grads[k] == pytest.approx(v, rel=1e-12)
    assert grads["x0"] == pytest.approx(0.393224, abs=1e-6)
    assert grads["x1"] == pytest.approx(-0.589836, abs=1e-6)


def test_wrong_number_of_gradients_is_an_error():
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(x, x).sum().backward()
