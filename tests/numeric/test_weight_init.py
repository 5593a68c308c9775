"""Weight initialization: moments against torch.nn.init, the fan mistakes caught, activation statistics."""

import numpy as np
import pytest
import torch
from torch import nn

from cnnkit.numeric import weight_init as wi

FAN_IN, FAN_OUT = 400, 100  # unequal, so a fan mix-up changes the std by 2x


def _torch_std(scheme, nonlinearity, seed=0):
    """Empirical std of a torch Linear(FAN_IN, FAN_OUT) weight (shape (out, in)) under nn.init."""
    torch.manual_seed(seed)
    w = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    if scheme == "kaiming":
        nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity=nonlinearity)
    else:
        nn.init.xavier_normal_(w)
    return float(w.std())


def _init_problems(init_weights, scheme, nonlinearity, seed=0):
    """What an init gets wrong against nn.init: shape, mean, std (sampling error here ~0.2%)."""
    W = init_weights(FAN_IN, FAN_OUT, scheme, np.random.default_rng(seed), nonlinearity)
    problems = []
    if W.shape != (FAN_IN, FAN_OUT):
        return [f"shape {W.shape}, expected {(FAN_IN, FAN_OUT)}"]
    want = _torch_std(scheme, nonlinearity, seed)
    if abs(W.mean()) > 0.02 * want:
        problems.append(f"mean {W.mean():.4f}")
    if abs(W.std() / want - 1) > 0.02:
        problems.append(f"std {W.std():.4f}, nn.init {want:.4f}")
    return problems


def _kaiming_fan_out(fan_in, fan_out, scheme, rng, nonlinearity="relu", weight_scale=1e-2):
    std = wi.init_gain(nonlinearity) / np.sqrt(fan_out)
    return std * rng.standard_normal((fan_in, fan_out))


def _kaiming_without_gain(fan_in, fan_out, scheme, rng, nonlinearity="relu", weight_scale=1e-2):
    return rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)  # the lecture's plain "Xavier"


def _xavier_fan_in_only(fan_in, fan_out, scheme, rng, nonlinearity="relu", weight_scale=1e-2):
    return rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)


@pytest.mark.parametrize(
    "scheme, nonlinearity", [("kaiming", "relu"), ("kaiming", "tanh"), ("xavier", "relu")]
)
def test_init_matches_torch_nn_init_moments(scheme, nonlinearity):
    for seed in range(2):
        assert _init_problems(wi.init_weights, scheme, nonlinearity, seed) == []


@pytest.mark.parametrize(
    "mutant, scheme",
    [
        (_kaiming_fan_out, "kaiming"),
        (_kaiming_without_gain, "kaiming"),
        (_xavier_fan_in_only, "xavier"),
    ],
)
def test_init_mutants_are_caught(mutant, scheme):
    problems = _init_problems(mutant, scheme, "relu")
    assert len(problems) == 1 and problems[0].startswith("std"), problems


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh", "linear", "leaky_relu"])
def test_gain_matches_torch(nonlinearity):
    want = nn.init.calculate_gain(nonlinearity, 0.01 if nonlinearity == "leaky_relu" else None)
    assert wi.init_gain(nonlinearity) == pytest.approx(want, rel=1e-12)


def test_small_scale_and_errors():
    W = wi.init_weights(300, 200, "small", np.random.default_rng(0), weight_scale=0.05)
    assert W.shape == (300, 200) and abs(W.std() / 0.05 - 1) < 0.02
    # a RandomState (numpy's global RNG) works too
    assert wi.init_weights(3, 2, "xavier", np.random.RandomState(0)).shape == (3, 2)
    with pytest.raises(ValueError, match="scheme"):
        wi.init_weights(3, 2, "he", np.random.default_rng(0))
    with pytest.raises(ValueError, match="nonlinearity"):
        wi.init_weights(3, 2, "kaiming", np.random.default_rng(0), "gelu")


def _stds(scheme, nonlinearity, weight_scale=1e-2):
    X = np.random.default_rng(0).standard_normal((200, 300))
    stats = wi.activation_stats(X, [300] * 10, scheme, nonlinearity, weight_scale)
    assert len(stats) == 10
    return np.array([s["std"] for s in stats]), stats


def test_activation_statistics_of_a_10_layer_relu_net():
    small, _ = _stds("small", "relu")
    xavier, _ = _stds("xavier", "relu")
    kaiming, stats = _stds("kaiming", "relu")
    # a small constant scale multiplies the std by ~0.01 * sqrt(300 / 2) ~ 0.12 per layer: gone
    assert small[-1] < 1e-8 and np.all(np.diff(np.log(small)) < np.log(0.2))
    # Xavier ignores that ReLU zeroes half of its inputs: the variance halves every layer
    assert np.all(np.diff(np.log(xavier)) < np.log(0.85)) and xavier[-1] < xavier[0] / 10
    # Kaiming's factor 2 puts it back: the std stays within a factor 2 of the first layer's
    assert np.all((kaiming > kaiming[0] / 2) & (kaiming < kaiming[0] * 2))
    assert all(0.4 < s["dead"] < 0.6 for s in stats)


def test_activation_statistics_of_a_10_layer_tanh_net():
    small, _ = _stds("small", "tanh")
    xavier, _ = _stds("xavier", "tanh")
    _, big = _stds("small", "tanh", weight_scale=0.5)
    assert small[-1] < 1e-6  # ~0.01 * sqrt(300) ~ 0.17 per layer
    assert np.all(xavier > 0.1)  # slowly shrinking but alive after 10 layers
    assert all(s["saturated"] > 0.5 for s in big)  # too big: tanh sits at +-1, gradient ~0
