"""Numeric gradients by centered differences, to check analytic backward passes (CS231n names).

Every probe perturbs one entry of `x` in place, evaluates `f` twice, and restores the entry, so `f` may
close over `x` (the usual `lambda _: model.loss(X, y)[0]` pattern) and `x` is unchanged afterwards.
Use float64 inputs: with h=1e-5 the centered difference has truncation error O(h^2) ~ 1e-10 and float32
rounding alone (~1e-7 / h) would swamp it.
"""

from __future__ import annotations

import numpy as np


def rel_error(x, y):
    """Largest elementwise relative error between two arrays (or numbers).

    max |x - y| / max(1e-8, |x| + |y|); the floor keeps two near-zero entries from dividing by ~0.

    Inputs:
    - x, y: arrays (or scalars) of the same shape.

    Returns:
    - err: a Python float; 0.0 for identical inputs, at most 1.0.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: shapes differ, {x.shape} vs {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _probe(f, x, ix, h):
    """f(x + h e_ix) and f(x - h e_ix), with x[ix] restored afterwards (also if f raises)."""
    old = x[ix]
    try:
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
    finally:
        x[ix] = old
    return fxph, fxmh


def eval_numerical_gradient(f, x, verbose=False, h=1e-5):
    """Numeric gradient of a scalar function at x, by centered differences over every entry.

    Inputs:
    - f: a function of one argument (an array shaped like x) returning a scalar; it is called with x
      itself, modified in place, and x is restored after each probe.
    - x: float array of any shape, the point to evaluate the gradient at.
    - verbose: print each index and its gradient entry.
    - h: the step.

    Returns:
    - grad: array shaped like x, df/dx.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        fxph, fxmh = _probe(f, x, ix, h)
        grad[ix] = (float(fxph) - float(fxmh)) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numeric gradient of sum(f(x) * df) at x: the backward pass of an array-valued f.

    Inputs:
    - f: a function of one argument (an array shaped like x) returning an array shaped like df.
    - x: float array of any shape, the input.
    - df: array shaped like f(x), the upstream gradient dL/df.
    - h: the step.

    Returns:
    - grad: array shaped like x, dL/dx = sum over outputs of df * df/dx.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        # f may return a view of x or reuse its buffer: copy before the next probe changes it.
        pos, neg = _probe(lambda z: np.array(f(z), dtype=np.float64, copy=True), x, ix, h)
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None, verbose=True):
    """Compare an analytic gradient with numeric ones at a few random coordinates.

    Cheaper than a full numeric gradient for big parameter arrays; prints one line per coordinate
    (`numerical: ... analytic: ..., relative error: ...`) when verbose.

    Inputs:
    - f: a function of one argument (an array shaped like x) returning a scalar.
    - x: float array of any shape, the point to check at (restored after each probe).
    - analytic_grad: array shaped like x, the gradient to check.
    - num_checks: how many random coordinates to check.
    - h: the step.
    - seed: seed for the coordinate choice (None: fresh randomness).
    - verbose: print one line per coordinate.

    Returns:
    - max_error: the largest relative error over the checked coordinates.
    """
    analytic_grad = np.asarray(analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(
            f"grad_check_sparse: analytic_grad has shape {analytic_grad.shape}, x has {x.shape}"
        )
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        fxph, fxmh = _probe(f, x, ix, h)
        grad_numerical = (float(fxph) - float(fxmh)) / (2 * h)
        grad_analytic = float(analytic_grad[ix])
        err = rel_error(grad_numerical, grad_analytic)
        worst = max(worst, err)
        if verbose:
            print(
                f"numerical: {grad_numerical:f} analytic: {grad_analytic:f}, relative error: {err:e}"
            )
    return worst
