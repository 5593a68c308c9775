"""cnnkit.oracles: the cases' shared test shapes (a layer against torch in float64, central differences)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnkit import checks, oracles


def affine_forward(x, w, b):  # a layer the tests own: out = x w + b
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def affine_torch(x, w, b):
    return x @ w + b


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)


@pytest.fixture
def mode():
    """`mode(name)` starts a case in that mode; the default check mode comes back afterwards."""
    yield lambda name: checks._begin("test_oracles_case", name, seed=7)
    checks._end()


def test_against_torch_passes_a_right_layer_and_names_a_wrong_gradient(mode):
    mode("check")
    rng = np.random.default_rng(1)
    oracles.against_torch(
        affine_forward, affine_backward, affine_torch, _inputs(), rng, ("dx", "dw", "db"),
        out_shape=(4, 5),
    )  # fmt: skip

    def no_batch_sum(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw, db / len(dout)

    with pytest.raises(checks.CheckFailed, match=r"^case 3 db: wrong$"):
        oracles.against_torch(
            affine_forward, no_batch_sum, affine_torch, _inputs(), rng, ("dx", "dw", "db"),
            prefix="case 3 ", msg="wrong", out_shape=(4, 5),
        )  # fmt: skip
    with pytest.raises(ValueError, match="out_shape"):
        oracles.against_torch(affine_forward, affine_backward, affine_torch, _inputs(), rng)


def test_against_torch_never_runs_the_oracle_while_recording(mode):
    """In a student's kernel (record mode) no expected value exists while the student's code runs:
    the oracle is never called (a drawn upstream gradient takes the given shape)."""
    devices = []

    def reference(x, w, b):
        devices.append(x.device.type)
        return affine_torch(x, w, b)

    mode("record")
    oracles.against_torch(
        affine_forward, affine_backward, reference, _inputs(), np.random.default_rng(1),
        grads=("dx", "dw", "db"), out_shape=(4, 5),
    )  # fmt: skip
    assert devices == []
    assert [r["name"] for r in checks._records()] == ["out", "dx", "dw", "db"]
    # the reference run (the grader's) records the same names after checking them
    devices.clear()
    mode("reference")
    oracles.against_torch(
        affine_forward, affine_backward, reference, _inputs(), np.random.default_rng(1),
        grads=("dx", "dw", "db"), out_shape=(4, 5),
    )  # fmt: skip
    assert devices == ["cpu"]
    assert [r["name"] for r in checks._records()] == ["out", "dx", "dw", "db"]


def test_against_torch_takes_a_given_upstream_gradient_and_one_output(mode):
    mode("check")
    x = np.random.default_rng(2).standard_normal((3, 4))
    dout = np.random.default_rng(3).standard_normal((3, 4))

    def relu_forward(x):
        return np.maximum(x, 0), x

    def relu_backward(dout, x):
        return dout * (x > 0)

    oracles.against_torch(relu_forward, relu_backward, torch.relu, (x,), dout)
    with pytest.raises(checks.CheckFailed, match="dx: relative error"):
        oracles.against_torch(relu_forward, lambda d, x: d, torch.relu, (x,), dout)


def test_central_differences_are_exact_for_an_affine_layer(mode):
    mode("check")
    x, w, b = _inputs()
    dout = np.random.default_rng(4).standard_normal((4, 5))
    oracles.against_central_differences(
        affine_forward, affine_backward, (x, w, b), dout, grads=("dx", "dw", "db"), rtol=1e-12
    )

    def scaled(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw * 1.001, db

    with pytest.raises(checks.CheckFailed, match=r"dw: relative error 1\.00e-03"):
        oracles.against_central_differences(
            affine_forward, scaled, (x, w, b), dout, grads=("dx", "dw", "db")
        )


def test_grad_error_is_relative_and_shape_aware():
    a = np.array([1.0, 2.0, 2.0])
    assert oracles.grad_error(a, a) == 0.0
    assert oracles.grad_error(a, 2 * a) == pytest.approx(1 / 3)
    assert oracles.grad_error(a, a[:2]) == float("inf")


def test_circuit_against_torch_checks_value_and_gradients_and_records_only_the_students(mode):
    def circuit(x, y):  # f = x y + y
        return x * y + y, {"x": y, "y": x + 1.0}

    def expression(x, y):
        return x * y + y

    mode("check")
    oracles.circuit_against_torch(lambda v: circuit(**v), expression, {"x": 1.5, "y": -2.0}, "f")
    with pytest.raises(checks.CheckFailed, match="dy 3: relative error"):
        oracles.circuit_against_torch(
            lambda v: (circuit(**v)[0], {"x": v["y"], "y": v["x"]}), expression,
            {"x": 1.5, "y": -2.0}, "f", suffix=" 3",
        )  # fmt: skip
    calls = []
    mode("record")
    oracles.circuit_against_torch(
        lambda v: circuit(**v),
        lambda **t: calls.append(t) or expression(**t),
        {"x": 1.5, "y": -2.0},
    )
    assert calls == []
    assert [r["name"] for r in checks._records()] == ["L", "dx", "dy"]


def test_conv_against_torch_draws_dout_in_f_conv2d_output_shape(mode):
    """The upstream gradient's shape is worked out, not asked of torch: it must be F.conv2d's, also
    where the stride does not divide the span (floor), or the reference's backward refuses it."""
    from cnnkit.numeric.fast_layers import conv_backward_fast, conv_forward_fast

    cases = [((2, 3, 9, 7), (4, 3, 2, 3), 2, 1), ((1, 2, 10, 7), (3, 2, 3, 3), 3, 0)]
    mode("check")
    oracles.conv_against_torch(
        conv_forward_fast, conv_backward_fast, cases, np.random.default_rng(4)
    )

    def db_unsummed(dout, cache):
        dx, dw, db = conv_backward_fast(dout, cache)
        return dx, dw, db / len(dout)

    with pytest.raises(checks.CheckFailed, match=r"^case 0 db: wrong$"):
        oracles.conv_against_torch(conv_forward_fast, db_unsummed, cases, np.random.default_rng(4))


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad",
    [
        ((2, 3, 9, 7), (4, 3, 2, 3), 2, 1),
        ((1, 2, 10, 7), (3, 2, 3, 3), 3, 0),
        ((2, 4, 11, 8), (3, 4, 3, 5), 2, 2),
    ],
)
def test_out_shapes_are_torchs(x_shape, w_shape, stride, pad):
    """The worked-out shapes equal torch's own (meta tensors: shapes only), strides that do not
    divide the span included."""
    import torch.nn.functional as F

    x = torch.empty(x_shape, device="meta")
    w = torch.empty(w_shape, device="meta")
    assert oracles.conv_out_shape(x_shape, w_shape, stride, pad) == tuple(
        F.conv2d(x, w, stride=stride, padding=pad).shape
    )
    ph, pw = w_shape[2:]
    assert oracles.max_pool_out_shape(x_shape, ph, pw, stride) == tuple(
        F.max_pool2d(x, (ph, pw), stride).shape
    )
