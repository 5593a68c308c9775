"""Layers that let deep nets train, in numpy, with the CS231n layer contract (issue 16).

More activations (tanh, leaky ReLU), inverted dropout, batch normalization (forward; backward through
the computational graph and in closed form), layer normalization, and their spatial versions for conv
feature maps (NCHW). Every layer has `out, cache = <layer>_forward(...)` and
`<layer>_backward(dout, cache)`, which returns the gradients with respect to each input.

Conventions, chosen so that torch float64 is an exact oracle:
- dropout_param: {'mode': 'train' | 'test', 'p': the KEEP probability, 'seed': optional int}. Torch's
  F.dropout takes the DROP probability: F.dropout(x, 1 - p).
- bn_param: {'mode': 'train' | 'test', 'eps': 1e-5, 'momentum': 0.9, 'running_mean', 'running_var'}.
  momentum is the share of the old running average that is kept (CS231n's convention; torch's
  momentum is 1 - this). The running variance averages the unbiased batch variance (N / (N - 1) times
  the normalizing one), as torch's BatchNorm does, so that test mode matches torch's eval mode.
"""

from __future__ import annotations

import numpy as np

# BEGIN EXERCISE 01b_deep_nets


def tanh_forward(x):
    """Forward pass of the hyperbolic tangent, elementwise.

    Inputs:
    - x: array of any shape.

    Returns a tuple of:
    - out: array shaped like x, values in (-1, 1).
    - cache: out, for the backward pass (the local gradient 1 - tanh^2 needs only the output).
    """
    # BEGIN SOLUTION
    out = np.tanh(x)
    cache = out
    return out, cache
    # END SOLUTION


def tanh_backward(dout, cache):
    """Backward pass of tanh, from its cached output z: dx = dout * (1 - z^2).

    Inputs:
    - dout: array of any shape, upstream gradient dL/dout.
    - cache: out from tanh_forward, shaped like dout.

    Returns:
    - dx: array shaped like dout, dL/dx.
    """
    # BEGIN SOLUTION
    z = cache
    dx = dout * (1 - z * z)
    return dx
    # END SOLUTION


def leaky_relu_forward(x, alpha=0.01):
    """Forward pass of the leaky ReLU: out = x where x > 0, alpha * x elsewhere.

    Inputs:
    - x: array of any shape.
    - alpha: float, the slope for negative inputs (0 gives the ReLU).

    Returns a tuple of:
    - out: array shaped like x.
    - cache: (x, alpha), for the backward pass.
    """
    # BEGIN SOLUTION
    out = np.where(x > 0, x, alpha * x)
    cache = (x, alpha)
    return out, cache
    # END SOLUTION


def leaky_relu_backward(dout, cache):
    """Backward pass of the leaky ReLU: slope 1 where the input was positive, alpha elsewhere.

    Inputs:
    - dout: array of any shape, upstream gradient dL/dout.
    - cache: (x, alpha) from leaky_relu_forward, x shaped like dout.

    Returns:
    - dx: array shaped like dout, dL/dx.
    """
    # BEGIN SOLUTION
    x, alpha = cache
    dx = np.where(x > 0, dout, alpha * dout)
    return dx
    # END SOLUTION


def dropout_forward(x, dropout_param):
    """Forward pass of inverted dropout.

    In train mode every unit is kept with probability p and the kept ones are divided by p, so the
    expected activation is unchanged and test mode is the identity (nothing to rescale at test time).

    Inputs:
    - x: array of any shape.
    - dropout_param: dict with
      - mode: 'train' or 'test'.
      - p: float in (0, 1], the probability of KEEPING a unit.
      - seed: optional int; when given the mask is drawn from np.random.default_rng(seed) (the same
        mask on every call: for gradient checks), else from numpy's global RNG.

    Returns a tuple of:
    - out: array shaped like x.
    - cache: (dropout_param, mask); mask is shaped like x in train mode (0 or 1/p), None in test mode.
    """
    p, mode = dropout_param["p"], dropout_param["mode"]
    if not 0 < p <= 1:
        raise ValueError(f"dropout keep probability p must be in (0, 1], got {p}")
    # BEGIN SOLUTION
    if mode == "train":
        seed = dropout_param.get("seed")
        rng = np.random.default_rng(seed) if seed is not None else np.random
        mask = (rng.random(x.shape) < p) / p
        out = (x * mask).astype(x.dtype, copy=False)
    elif mode == "test":
        mask = None
        out = x
    else:
        raise ValueError(f"dropout mode must be 'train' or 'test', got {mode!r}")
    # END SOLUTION
    cache = (dropout_param, mask)
    return out, cache


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout: the gradient flows through the kept units, scaled by 1/p.

    Inputs:
    - dout: array of any shape, upstream gradient dL/dout.
    - cache: (dropout_param, mask) from dropout_forward.

    Returns:
    - dx: array shaped like dout, dL/dx.
    """
    # BEGIN SOLUTION
    dropout_param, mask = cache
    dx = dout * mask if dropout_param["mode"] == "train" else dout
    return dx
    # END SOLUTION


def batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of batch normalization over the minibatch, one mean and variance per feature.

    Train mode normalizes with the batch's mean and (biased) variance and updates the running averages
    in bn_param: running = momentum * running + (1 - momentum) * batch statistic, the variance's being
    the unbiased N / (N - 1) * var. Test mode normalizes with the running averages and changes nothing.
    Then out = gamma * x_hat + beta.

    Inputs:
    - x: array of shape (N, D), N >= 2 in train mode.
    - gamma: array of shape (D,), the scale.
    - beta: array of shape (D,), the shift.
    - bn_param: dict with
      - mode: 'train' or 'test' (required).
      - eps: float, added to the variance (default 1e-5).
      - momentum: float, share of the old running average kept (default 0.9).
      - running_mean, running_var: arrays of shape (D,); created (zeros / ones) when missing.

    Returns a tuple of:
    - out: array of shape (N, D).
    - cache: what batchnorm_backward and batchnorm_backward_alt need (train mode only; None in test).
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.ones(D, dtype=x.dtype))

    # BEGIN SOLUTION
    if mode == "train":
        if N < 2:
            raise ValueError("batch normalization in train mode needs at least 2 examples")
        # staged as the computational graph that batchnorm_backward walks back
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc * xc).mean(axis=0)
        std = np.sqrt(var + eps)
        inv_std = 1 / std
        x_hat = xc * inv_std
        out = gamma * x_hat + beta
        cache = (xc, std, inv_std, x_hat, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var * (N / (N - 1))
    elif mode == "test":
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_hat + beta
        cache = None
    else:
        raise ValueError(f"batchnorm mode must be 'train' or 'test', got {mode!r}")
    # END SOLUTION

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalization (train mode), node by node through the computational graph.

    The graph of batchnorm_forward: mu = mean(x); xc = x - mu; var = mean(xc^2); std = sqrt(var + eps);
    inv_std = 1 / std; x_hat = xc * inv_std; out = gamma * x_hat + beta. Every x reaches the output
    through xc directly and through mu and var, and all three paths add up in dx.

    Inputs:
    - dout: array of shape (N, D), upstream gradient dL/dout.
    - cache: from batchnorm_forward in train mode.

    Returns a tuple of:
    - dx: array of shape (N, D), dL/dx.
    - dgamma: array of shape (D,), dL/dgamma.
    - dbeta: array of shape (D,), dL/dbeta.
    """
    # BEGIN SOLUTION
    xc, std, inv_std, x_hat, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dinv_std = (dx_hat * xc).sum(axis=0)
    dxc = dx_hat * inv_std
    dstd = -dinv_std / (std * std)
    dvar = dstd / (2 * std)
    dxc += 2 * xc * dvar / N
    dmu = -dxc.sum(axis=0)
    dx = dxc + dmu / N
    return dx, dgamma, dbeta
    # END SOLUTION


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalization (train mode) in closed form.

    dx = gamma / (N * std) * (N * dout - sum(dout) - x_hat * sum(dout * x_hat)), sums over the batch;
    the same numbers as batchnorm_backward with fewer passes over the data.

    Inputs:
    - dout: array of shape (N, D), upstream gradient dL/dout.
    - cache: from batchnorm_forward in train mode.

    Returns a tuple of:
    - dx: array of shape (N, D), dL/dx.
    - dgamma: array of shape (D,), dL/dgamma.
    - dbeta: array of shape (D,), dL/dbeta.
    """
    # BEGIN SOLUTION
    _, _, inv_std, x_hat, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = (gamma * inv_std / N) * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta
    # END SOLUTION


def layernorm_forward(x, gamma, beta, ln_param):
    """Forward pass of layer normalization: each example normalized over its own D features.

    No running averages and no modes: train and test compute the same thing.

    Inputs:
    - x: array of shape (N, D).
    - gamma: array of shape (D,), the scale.
    - beta: array of shape (D,), the shift.
    - ln_param: dict with optional eps (default 1e-5); other keys are ignored.

    Returns a tuple of:
    - out: array of shape (N, D).
    - cache: for layernorm_backward.
    """
    # BEGIN SOLUTION
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    inv_std = 1 / np.sqrt((xc * xc).mean(axis=1, keepdims=True) + eps)
    x_hat = xc * inv_std
    out = gamma * x_hat + beta
    cache = (inv_std, x_hat, gamma)
    return out, cache
    # END SOLUTION


def layernorm_backward(dout, cache):
    """Backward pass of layer normalization: batchnorm's closed form with the roles of axes swapped.

    Inputs:
    - dout: array of shape (N, D), upstream gradient dL/dout.
    - cache: from layernorm_forward.

    Returns a tuple of:
    - dx: array of shape (N, D), dL/dx.
    - dgamma: array of shape (D,), dL/dgamma.
    - dbeta: array of shape (D,), dL/dbeta.
    """
    # BEGIN SOLUTION
    inv_std, x_hat, gamma = cache
    D = dout.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = (inv_std / D) * (
        D * dx_hat
        - dx_hat.sum(axis=1, keepdims=True)
        - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True)
    )
    return dx, dgamma, dbeta
    # END SOLUTION


# END EXERCISE

# BEGIN EXERCISE 02_conv_layers


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of spatial batch normalization: one mean and variance per channel, over N, H, W.

    The (N, C, H, W) input is seen as N*H*W examples of C features and sent through batchnorm_forward.

    Inputs:
    - x: array of shape (N, C, H, W).
    - gamma: array of shape (C,), the scale.
    - beta: array of shape (C,), the shift.
    - bn_param: as for batchnorm_forward; running_mean and running_var have shape (C,).

    Returns a tuple of:
    - out: array of shape (N, C, H, W).
    - cache: for spatial_batchnorm_backward.
    """
    # BEGIN SOLUTION
    N, C, H, W = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    out = out.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, cache
    # END SOLUTION


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalization (train mode).

    Inputs:
    - dout: array of shape (N, C, H, W), upstream gradient dL/dout.
    - cache: from spatial_batchnorm_forward in train mode.

    Returns a tuple of:
    - dx: array of shape (N, C, H, W), dL/dx.
    - dgamma: array of shape (C,), dL/dgamma.
    - dbeta: array of shape (C,), dL/dbeta.
    """
    # BEGIN SOLUTION
    N, C, H, W = dout.shape
    flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx, dgamma, dbeta = batchnorm_backward_alt(flat, cache)
    dx = dx.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta
    # END SOLUTION


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Forward pass of group normalization: each example's C channels split into G groups of C // G,
    each group normalized over its channels and all H*W positions (G = 1 is layer norm over C, H, W).

    Inputs:
    - x: array of shape (N, C, H, W), C divisible by G.
    - gamma: array of shape (C,), the per-channel scale.
    - beta: array of shape (C,), the per-channel shift.
    - G: int, the number of groups.
    - gn_param: dict with optional eps (default 1e-5).

    Returns a tuple of:
    - out: array of shape (N, C, H, W).
    - cache: for spatial_groupnorm_backward.
    """
    # BEGIN SOLUTION
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    if C % G:
        raise ValueError(f"group norm needs C divisible by G, got C={C}, G={G}")
    groups = x.reshape(N, G, -1)
    mu = groups.mean(axis=2, keepdims=True)
    xc = groups - mu
    inv_std = 1 / np.sqrt((xc * xc).mean(axis=2, keepdims=True) + eps)
    x_hat = (xc * inv_std).reshape(N, C, H, W)
    out = gamma[:, None, None] * x_hat + beta[:, None, None]
    cache = (G, inv_std, x_hat, gamma)
    return out, cache
    # END SOLUTION


def spatial_groupnorm_backward(dout, cache):
    """Backward pass of group normalization.

    Inputs:
    - dout: array of shape (N, C, H, W), upstream gradient dL/dout.
    - cache: from spatial_groupnorm_forward.

    Returns a tuple of:
    - dx: array of shape (N, C, H, W), dL/dx.
    - dgamma: array of shape (C,), dL/dgamma.
    - dbeta: array of shape (C,), dL/dbeta.
    """
    # BEGIN SOLUTION
    G, inv_std, x_hat, gamma = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3))
    dx_hat = (dout * gamma[:, None, None]).reshape(N, G, -1)
    xh = x_hat.reshape(N, G, -1)
    M = xh.shape[2]
    dx = (inv_std / M) * (
        M * dx_hat
        - dx_hat.sum(axis=2, keepdims=True)
        - xh * (dx_hat * xh).sum(axis=2, keepdims=True)
    )
    return dx.reshape(N, C, H, W), dgamma, dbeta
    # END SOLUTION


# END EXERCISE
