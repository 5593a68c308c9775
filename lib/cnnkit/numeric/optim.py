"""First-order update rules as pure functions (CS231n convention).

Every rule has the signature

    next_w, config = rule(w, dw, config=None)

- w: array of any shape, the current parameter.
- dw: array shaped like w, the gradient of the loss with respect to w.
- config: dict of hyperparameters and state (None: defaults). The rule fills missing keys with
  `config.setdefault`, stores its state in the dict (velocity, cache, m, v, t) and returns it; the
  caller passes the returned dict back in on the next step, one dict per parameter.

Returns next_w (shaped like w) and the config. The trainer (`cnnkit.numeric.solver.Solver`) looks rules
up by name in this module.
"""

from __future__ import annotations

import numpy as np

# BEGIN EXERCISE 01_backprop


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w -= learning_rate * dw.

    config keys:
    - learning_rate: scalar step size (default 1e-2).

    Inputs:
    - w: array of any shape, the parameter.
    - dw: array shaped like w, its gradient.
    - config: dict or None.

    Returns a tuple of:
    - next_w: array shaped like w, the updated parameter.
    - config: the config dict.
    """
    # BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config
    # END SOLUTION


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: v = momentum * v - learning_rate * dw; w += v.

    config keys:
    - learning_rate: scalar step size (default 1e-2).
    - momentum: scalar in [0, 1), 0 gives plain SGD (default 0.9).
    - velocity: array shaped like w, the running velocity (default zeros).

    Inputs:
    - w: array of any shape, the parameter.
    - dw: array shaped like w, its gradient.
    - config: dict or None.

    Returns a tuple of:
    - next_w: array shaped like w, the updated parameter.
    - config: the config dict with the new velocity.
    """
    # BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config
    # END SOLUTION


def rmsprop(w, dw, config=None):
    """RMSProp: a per-entry step size from a running average of squared gradients.

    cache = decay_rate * cache + (1 - decay_rate) * dw**2;
    w -= learning_rate * dw / (sqrt(cache) + epsilon).

    config keys:
    - learning_rate: scalar step size (default 1e-2).
    - decay_rate: scalar in [0, 1), decay of the squared-gradient average (default 0.99).
    - epsilon: small scalar that avoids dividing by zero (default 1e-8).
    - cache: array shaped like w, the running average of dw**2 (default zeros).

    Inputs:
    - w: array of any shape, the parameter.
    - dw: array shaped like w, its gradient.
    - config: dict or None.

    Returns a tuple of:
    - next_w: array shaped like w, the updated parameter.
    - config: the config dict with the new cache.
    """
    # BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    cache = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config
    # END SOLUTION


def adam(w, dw, config=None):
    """Adam: momentum on the gradient and RMSProp scaling, both bias-corrected.

    t += 1; m = beta1 * m + (1 - beta1) * dw; v = beta2 * v + (1 - beta2) * dw**2;
    m_hat = m / (1 - beta1**t); v_hat = v / (1 - beta2**t);
    w -= learning_rate * m_hat / (sqrt(v_hat) + epsilon).

    config keys:
    - learning_rate: scalar step size (default 1e-3).
    - beta1: decay of the first moment (default 0.9).
    - beta2: decay of the second moment (default 0.999).
    - epsilon: small scalar that avoids dividing by zero (default 1e-8).
    - m: array shaped like w, first moment (default zeros).
    - v: array shaped like w, second moment (default zeros).
    - t: int, the number of steps taken so far, incremented before use (default 0).

    Inputs:
    - w: array of any shape, the parameter.
    - dw: array shaped like w, its gradient.
    - config: dict or None.

    Returns a tuple of:
    - next_w: array shaped like w, the updated parameter.
    - config: the config dict with the new m, v and t.
    """
    # BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    t = config["t"] + 1
    m = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    v = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw**2
    m_hat = m / (1 - config["beta1"] ** t)
    v_hat = v / (1 - config["beta2"] ** t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config["t"], config["m"], config["v"] = t, m, v
    return next_w, config
    # END SOLUTION


# END EXERCISE
