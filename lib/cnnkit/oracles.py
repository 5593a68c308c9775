"""Test shapes the masters' cases repeat: a layer against a torch float64 oracle, whole-array gradient
errors.

- `against_torch` (hidden cases): call a student's forward and backward pass and the same layer in
  torch (float64, autograd) on the same fresh inputs and compare output and gradients with
  `cnnkit.checks.close`: a relative error, a clear message, one record per quantity.
- `circuit_against_torch` (hidden cases): a scalar circuit's value and gradient dict against the
  same expression in torch autograd (float64).
- `conv_against_torch` (hidden cases): a conv layer's forward and backward against `F.conv2d` on
  fresh inputs of several shapes, strides and pads.
- `conv_out_shape`, `max_pool_out_shape`: the output shapes of `F.conv2d` and `F.max_pool2d`, worked
  out (the shape of an upstream gradient a case draws).
- `against_central_differences` (public cases): a student's backward pass against central
  differences of the student's own forward pass (no reference algorithm: it ships to students).
- `grad_error` (public cases): the relative error of a whole gradient array against central
  differences of the student's own function, so tiny entries do not dominate.

Under `cnnkit grade` the student's kernel records values only (see `cnnkit.checks`): `against_torch`
then never runs the oracle, so no expected value is in the kernel while the student's code runs, and
a kernel whose cases pass their upstream gradients as arrays (or a drawn one's shape) and hold their
torch expressions in functions never imports torch (2.4 s to import; a stage 02 submission's notebook
step went from 12.3-12.9 s to 7.9-8.3 s without it).
Holds no exercise's solution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cnnkit import checks

__all__ = [
    "against_central_differences",
    "against_torch",
    "circuit_against_torch",
    "conv_against_torch",
    "conv_out_shape",
    "grad_error",
    "max_pool_out_shape",
]


def grad_error(a: Any, b: Any) -> float:
    """Relative error of two whole arrays: |a - b| / (|a| + |b|) in the 2-norm (inf for other shapes).

    Inputs:
    - a, b: arrays (or numbers), e.g. an analytic gradient and a numeric one.

    Returns:
    - err: a float; about 1e-8 or less for a correct float64 gradient against central differences.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))


def against_torch(
    forward: Callable[..., tuple[Any, Any]],
    backward: Callable[[np.ndarray, Any], Any],
    reference: Callable[..., Any],
    inputs: Sequence[np.ndarray],
    dout: np.ndarray | np.random.Generator,
    grads: Sequence[str] = ("dx",),
    prefix: str = "",
    rtol: float = 1e-9,
    atol: float = 1e-10,
    msg: str | None = None,
    out_shape: Sequence[int] | None = None,
) -> None:
    """Check a layer's forward and backward pass against the same layer in torch, in float64.

    The student's forward runs on `inputs`, the backward on `dout`; the oracle runs `reference` on
    float64 tensors of the same inputs and backpropagates the same `dout`. Records, in order:
    `<prefix>out`, then one per name of `grads`.

    Inputs:
    - forward: the student's forward pass, forward(*inputs) -> (out, cache).
    - backward: the student's backward pass, backward(dout, cache) -> the gradients of the inputs
      named in `grads`, in that order (a single array when there is one name).
    - reference: the layer in torch, reference(*tensors) -> tensor (e.g. F.conv2d with its params).
    - inputs: the layer's inputs as numpy arrays; the first len(grads) get gradients.
    - dout: the upstream gradient, or a numpy Generator to draw it from (standard normal of shape
      `out_shape`, drawn after the student's forward pass).
    - grads, prefix: the names of the gradients and a prefix for every name (e.g. "case 2 ").
    - rtol, atol, msg: as in `cnnkit.checks.close` (hidden cases: msg="wrong").
    - out_shape: the reference output's shape; required when dout is drawn. Given, not asked of
      torch: a recording kernel then never imports torch.

    Returns:
    - None; raises CheckFailed (when checking) at the first quantity that differs.
    """
    if isinstance(dout, np.random.Generator) and out_shape is None:
        raise ValueError("against_torch: a drawn upstream gradient needs out_shape")
    inputs = [np.asarray(a) for a in inputs]
    out, cache = forward(*inputs)
    if isinstance(dout, np.random.Generator):
        dout = dout.standard_normal(tuple(out_shape))
    oracle: list = []

    def expected(k: int) -> np.ndarray:
        if not oracle:  # evaluated only when checking: never in a kernel that records
            import torch

            tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
            ref = reference(*tensors)
            ref.backward(torch.tensor(dout, dtype=torch.float64))
            oracle.extend([ref.detach().numpy()] + [t.grad.numpy() for t in tensors])
        return oracle[k]

    checks.close(f"{prefix}out", out, lambda: expected(0), rtol=rtol, atol=atol, msg=msg)
    got = backward(dout, cache)
    got = (got,) if len(grads) == 1 else tuple(got)
    for k, (name, value) in enumerate(zip(grads, got, strict=True), start=1):
        checks.close(
            f"{prefix}{name}", value, lambda k=k: expected(k), rtol=rtol, atol=atol, msg=msg
        )


def circuit_against_torch(
    call: Callable[[dict[str, float]], tuple[Any, dict]],
    expression: Callable[..., Any],
    values: dict[str, float],
    out: str = "L",
    suffix: str = "",
    rtol: float = 1e-7,
    atol: float = 1e-10,
    msg: str | None = None,
) -> None:
    """Check a scalar circuit's output and gradients against the same expression in torch (float64).

    Records `<out><suffix>`, then `d<name><suffix>` for each name of `values`, in order.

    Inputs:
    - call: runs the student's circuit on the values, e.g. `lambda v: sigmoid_circuit(**v)`, and
      returns (output, {name: d output / d name}).
    - expression: the circuit in torch, expression(**tensors) -> a scalar tensor.
    - values: the inputs by name (floats).
    - out, suffix: the output's name and a suffix for every name (e.g. " 2" for the third trial).
    - rtol, atol, msg: as in `cnnkit.checks.close`.

    Returns:
    - None; raises CheckFailed (when checking) at the first quantity that differs.
    """
    got, grads = call(dict(values))
    oracle: list = []

    def expected(name: str | None) -> float:
        if not oracle:  # evaluated only when checking: never in a kernel that records
            import torch

            t = {
                k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
                for k, v in values.items()
            }
            value = expression(**t)
            value.backward()
            oracle.append({None: value.item(), **{k: tk.grad.item() for k, tk in t.items()}})
        return oracle[0][name]

    checks.close(f"{out}{suffix}", got, lambda: expected(None), rtol=rtol, atol=atol, msg=msg)
    for name in values:
        checks.close(
            f"d{name}{suffix}",
            grads[name],
            lambda n=name: expected(n),
            rtol=rtol,
            atol=atol,
            msg=msg,
        )


def conv_against_torch(
    forward: Callable[..., tuple[Any, Any]],
    backward: Callable[[np.ndarray, Any], Any],
    cases: Sequence[tuple[tuple[int, ...], tuple[int, ...], int, int]],
    rng: np.random.Generator,
    msg: str | None = "wrong",
) -> None:
    """A conv layer (forward(x, w, b, {"stride", "pad"}) -> (out, cache), backward -> dx, dw, db)
    against `torch.nn.functional.conv2d` in float64 (`against_torch`), case by case.

    Inputs:
    - forward, backward: the student's conv layer.
    - cases: (x shape (N, C, H, W), w shape (F, C, HH, WW), stride, pad), one check each, named
      "case <k> out", "case <k> dx", ...
    - rng: the case's generator (`checks.rng()`): x, w, b and the upstream gradient are drawn from it.
    - msg: the failure message (hidden cases: "wrong").

    Returns:
    - None; raises CheckFailed (when checking) at the first quantity that differs.
    """

    def conv2d(x, w, b, stride, pad):  # the oracle: only checking calls it
        import torch.nn.functional as F

        return F.conv2d(x, w, b, stride=stride, padding=pad)

    for i, (xs, ws, stride, pad) in enumerate(cases):
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
        conv_param = {"stride": stride, "pad": pad}
        against_torch(
            lambda x, w, b, p=conv_param: forward(x, w, b, p),
            backward,
            lambda x, w, b, s=stride, p=pad: conv2d(x, w, b, s, p),
            (x, w, b),
            rng,
            grads=("dx", "dw", "db"),
            prefix=f"case {i} ",
            msg=msg,
            out_shape=conv_out_shape(xs, ws, stride, pad),
        )


def conv_out_shape(
    x_shape: Sequence[int], w_shape: Sequence[int], stride: int, pad: int
) -> tuple[int, ...]:
    """The output shape of `F.conv2d(x, w, b, stride=stride, padding=pad)`.

    Inputs:
    - x_shape: (N, C, H, W); w_shape: (F, C, HH, WW); stride, pad: ints.

    Returns:
    - shape: (N, F, H_out, W_out), H_out = floor((H + 2 pad - HH) / stride) + 1, likewise W_out.
    """
    size = [(n + 2 * pad - k) // stride + 1 for n, k in zip(x_shape[2:], w_shape[2:], strict=True)]
    return (x_shape[0], w_shape[0], *size)


def max_pool_out_shape(
    x_shape: Sequence[int], pool_height: int, pool_width: int, stride: int
) -> tuple[int, ...]:
    """The output shape of `F.max_pool2d(x, (pool_height, pool_width), stride)` (no padding).

    Inputs:
    - x_shape: (N, C, H, W); pool_height, pool_width, stride: ints.

    Returns:
    - shape: (N, C, H_out, W_out), H_out = floor((H - pool_height) / stride) + 1, likewise W_out.
    """
    N, C, H, W = x_shape
    return (N, C, (H - pool_height) // stride + 1, (W - pool_width) // stride + 1)


def against_central_differences(
    forward: Callable[..., tuple[Any, Any]],
    backward: Callable[[np.ndarray, Any], Any],
    inputs: Sequence[np.ndarray],
    dout: np.ndarray,
    grads: Sequence[str] = ("dx",),
    prefix: str = "",
    step: float = 1.0,
    rtol: float = 1e-9,
    atol: float = 1e-10,
    msg: str | None = None,
) -> None:
    """Check a layer's backward pass against central differences of its own forward pass.

    For a layer that is affine in each input separately (a fully connected or convolutional layer:
    out = x * w + b) a central difference is exact whatever the step, so with the default step of 1
    the numeric gradient is as accurate as float64 rounding and a tight tolerance applies. Records
    one value per name of `grads` (the student's gradients).

    Inputs:
    - forward: the student's forward pass, forward(*inputs) -> (out, cache).
    - backward: the student's backward pass, backward(dout, cache) -> the gradients of the inputs
      named in `grads`, in that order (a single array when there is one name).
    - inputs: the layer's inputs (float64 arrays); the first len(grads) are differentiated.
    - dout: the upstream gradient (shaped like the output).
    - grads, prefix, step: gradient names, a prefix for every name, the central difference's step.
    - rtol, atol, msg: as in `cnnkit.checks.close`.

    Returns:
    - None; raises CheckFailed (when checking) at the first gradient that differs.
    """
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array

    inputs = [np.asarray(a, dtype=np.float64) for a in inputs]
    _, cache = forward(*inputs)
    got = backward(dout, cache)
    got = (got,) if len(grads) == 1 else tuple(got)

    def numeric(k: int) -> np.ndarray:
        def f(v: np.ndarray) -> np.ndarray:
            return np.asarray(forward(*inputs[:k], v, *inputs[k + 1 :])[0], dtype=np.float64)

        return eval_numerical_gradient_array(f, inputs[k].copy(), dout, h=step)

    for k, (name, value) in enumerate(zip(grads, got, strict=True)):
        checks.close(
            f"{prefix}{name}", value, lambda k=k: numeric(k), rtol=rtol, atol=atol, msg=msg
        )
