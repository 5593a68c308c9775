"""Weight initialization for deep nets, and the per-layer activation statistics that motivate it.

Schemes (W has shape (fan_in, fan_out), fan_in = D inputs of the layer, fan_out = its M outputs):
- 'small': N(0, weight_scale^2), the fixed small scale of TwoLayerNet;
- 'xavier': Glorot & Bengio (2010), std = sqrt(2 / (fan_in + fan_out)), torch's xavier_normal_ with
  gain 1; for a square layer this is the lecture's std = 1 / sqrt(D_in);
- 'kaiming': He et al. (2015), std = gain / sqrt(fan_in), torch's kaiming_normal_(mode='fan_in'): gain
  sqrt(2) for ReLU (the variance 2 / D_in, the lecture's "Xavier/2": ReLU zeroes half of its inputs, so
  the variance that survives a layer is halved unless the weights double it), 5/3 for tanh.
"""

from __future__ import annotations

import numpy as np

from cnnkit.numeric.deep_layers import leaky_relu_forward, tanh_forward
from cnnkit.numeric.layers import relu_forward

SCHEMES = ("small", "xavier", "kaiming")
NONLINEARITIES = ("relu", "tanh", "leaky_relu", "linear")

# BEGIN EXERCISE 01b_deep_nets


def init_gain(nonlinearity, alpha=0.01):
    """The gain of an activation: the factor that keeps the forward variance from shrinking or growing.

    Same values as torch.nn.init.calculate_gain: relu sqrt(2), leaky_relu sqrt(2 / (1 + alpha^2)),
    tanh 5/3, linear 1.

    Inputs:
    - nonlinearity: 'relu', 'leaky_relu', 'tanh' or 'linear'.
    - alpha: float, the leaky ReLU's negative slope (ignored otherwise).

    Returns:
    - gain: float.
    """
    # BEGIN SOLUTION
    if nonlinearity == "relu":
        return float(np.sqrt(2.0))
    if nonlinearity == "leaky_relu":
        return float(np.sqrt(2.0 / (1 + alpha**2)))
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "linear":
        return 1.0
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
    # END SOLUTION


def init_weights(fan_in, fan_out, scheme, rng, nonlinearity="relu", weight_scale=1e-2):
    """A weight matrix drawn from a zero-mean normal distribution whose std the scheme sets.

    Inputs:
    - fan_in: int D, the number of inputs of the layer.
    - fan_out: int M, the number of outputs of the layer.
    - scheme: 'small' (std = weight_scale), 'xavier' (std = sqrt(2 / (D + M))) or 'kaiming'
      (std = init_gain(nonlinearity) / sqrt(D)).
    - rng: a numpy Generator (np.random.default_rng(seed)) or RandomState; its standard_normal draws
      the weights.
    - nonlinearity: the activation after the layer, for 'kaiming' ('relu', 'leaky_relu', 'tanh',
      'linear').
    - weight_scale: float, the std of 'small'.

    Returns:
    - W: float64 array of shape (D, M).
    """
    # BEGIN SOLUTION
    if scheme == "small":
        std = weight_scale
    elif scheme == "xavier":
        std = np.sqrt(2.0 / (fan_in + fan_out))
    elif scheme == "kaiming":
        std = init_gain(nonlinearity) / np.sqrt(fan_in)
    else:
        raise ValueError(f"unknown init scheme {scheme!r}: 'small', 'xavier' or 'kaiming'")
    return std * rng.standard_normal((fan_in, fan_out))
    # END SOLUTION


# END EXERCISE


def activation_stats(
    X,
    hidden_dims,
    scheme,
    nonlinearity="relu",
    weight_scale=1e-2,
    seed=0,
):
    """Run X through a deep stack of affine + activation layers (no biases) and describe each layer.

    The experiment behind weight initialization: with too small weights the activations shrink layer by
    layer towards 0 (and so do the gradients), with too big ones tanh saturates at +-1; a scheme that
    keeps the std roughly constant across layers lets a deep net learn.

    Inputs:
    - X: array of shape (N, D), the input batch (e.g. standard normal).
    - hidden_dims: list of ints, the width of each layer.
    - scheme: 'small', 'xavier' or 'kaiming' (see init_weights).
    - nonlinearity: 'relu', 'tanh', 'leaky_relu' or 'linear', the activation of every layer.
    - weight_scale: the std of 'small'.
    - seed: seeds the weights.

    Returns:
    - stats: list with one dict per layer: mean, std, and saturated (fraction of |activation| > 0.99,
      meaningful for tanh) and dead (fraction of activations exactly 0, meaningful for ReLU).
    """
    activations = {
        "relu": relu_forward,
        "tanh": tanh_forward,
        "leaky_relu": leaky_relu_forward,
        "linear": lambda a: (a, None),
    }
    if nonlinearity not in activations:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected one of {NONLINEARITIES}")
    rng = np.random.default_rng(seed)
    h = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    stats = []
    for width in hidden_dims:
        W = init_weights(h.shape[1], width, scheme, rng, nonlinearity, weight_scale)
        h, _ = activations[nonlinearity](h @ W)
        stats.append(
            {
                "mean": float(h.mean()),
                "std": float(h.std()),
                "saturated": float(np.mean(np.abs(h) > 0.99)),
                "dead": float(np.mean(h == 0)),
            }
        )
    return stats
