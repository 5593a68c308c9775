"""Update rules of cnnkit.numeric.optim against torch.optim trajectories in float64."""

import numpy as np
import pytest
import torch

from cnnkit.numeric import optim
from cnnkit.numeric.gradcheck import rel_error


def _trajectories(rule, config, torch_opt, steps=6, seed=0, shape=(4, 3)):
    """Apply `rule` and a torch optimizer to the same gradient sequence; return both final weights."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(steps)]
    p = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    opt = torch_opt([p])
    cfg = dict(config) if config is not None else None
    for g in grads:
        w, cfg = rule(w, g, cfg)
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return w, p.detach().numpy(), cfg


def test_sgd_matches_torch_and_defaults_to_lr_1e_2():
    w, tw, cfg = _trajectories(optim.sgd, None, lambda ps: torch.optim.SGD(ps, lr=1e-2))
    assert cfg["learning_rate"] == 1e-2
    assert rel_error(w, tw) < 1e-13


def test_sgd_momentum_matches_torch_trajectory():
    # CS231n: v = mu*v - lr*g; w += v.  torch: b = mu*b + g; w -= lr*b.  With a constant lr the
    # two are the same iteration (v = -lr*b), so the weight trajectories agree exactly.
    w, tw, cfg = _trajectories(
        optim.sgd_momentum,
        {"learning_rate": 0.05, "momentum": 0.8},
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8),
    )
    assert rel_error(w, tw) < 1e-12
    assert cfg["velocity"].shape == (4, 3)


def test_sgd_momentum_defaults_and_first_step_math():
    w = np.array([1.0, -2.0])
    dw = np.array([0.5, 0.25])
    next_w, cfg = optim.sgd_momentum(w, dw)
    assert cfg["learning_rate"] == 1e-2 and cfg["momentum"] == 0.9
    # First step from zero velocity is a plain SGD step in the descent direction.
    np.testing.assert_allclose(next_w, w - 1e-2 * dw, rtol=1e-15)
    np.testing.assert_allclose(cfg["velocity"], -1e-2 * dw, rtol=1e-15)


def test_rmsprop_matches_torch_trajectory():
    w, tw, cfg = _trajectories(
        optim.rmsprop,
        {"learning_rate": 1e-2, "decay_rate": 0.95, "epsilon": 1e-8},
        lambda ps: torch.optim.RMSprop(ps, lr=1e-2, alpha=0.95, eps=1e-8),
    )
    assert rel_error(w, tw) < 1e-11
    assert cfg["cache"].shape == (4, 3)


def test_rmsprop_defaults():
    _, cfg = optim.rmsprop(np.ones(3), np.ones(3))
    assert (cfg["learning_rate"], cfg["decay_rate"], cfg["epsilon"]) == (1e-2, 0.99, 1e-8)


@pytest.mark.parametrize("steps", [1, 7])
def test_adam_matches_torch_trajectory_with_bias_correction(steps):
    w, tw, cfg = _trajectories(
        optim.adam,
        {"learning_rate": 1e-2},
        lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8),
        steps=steps,
    )
    assert rel_error(w, tw) < 1e-10
    assert cfg["t"] == steps


def test_adam_defaults_and_t_incremented_before_use():
    w = np.array([0.3, -0.7, 2.0])
    dw = np.array([0.1, -5.0, 1e-3])
    next_w, cfg = optim.adam(w, dw)
    assert (cfg["learning_rate"], cfg["beta1"], cfg["beta2"], cfg["epsilon"]) == (
        1e-3,
        0.9,
        0.999,
        1e-8,
    )
    assert cfg["t"] == 1
    # With bias correction the first step is lr * g / (|g| + eps'): about lr * sign(g).
    p = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p])
    p.grad = torch.tensor(dw, dtype=torch.float64)
    opt.step()
    assert rel_error(next_w, p.detach().numpy()) < 1e-12


def test_rules_do_not_modify_their_inputs():
    rng = np.random.default_rng(5)
    for rule in (optim.sgd, optim.sgd_momentum, optim.rmsprop, optim.adam):
        w, dw = rng.standard_normal(5), rng.standard_normal(5)
        w0, dw0 = w.copy(), dw.copy()
        rule(w, dw, None)
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(dw, dw0)
