"""TwoLayerNet: scores and gradients against torch float64 and numeric gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit.numeric.fc_net import TwoLayerNet
from cnnkit.numeric.gradcheck import eval_numerical_gradient, rel_error


def _net(reg, seed=0):
    np.random.seed(seed)
    return TwoLayerNet(input_dim=12, hidden_dim=7, num_classes=5, weight_scale=0.5, reg=reg)


def _data(seed=1, n=6):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 2, 2)), rng.integers(5, size=n)


def test_param_shapes_and_init():
    np.random.seed(0)
    net = TwoLayerNet(input_dim=3072, hidden_dim=100, num_classes=10, weight_scale=1e-2)
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {"W1": (3072, 100), "b1": (100,), "W2": (100, 10), "b2": (10,)}
    assert not net.params["b1"].any() and not net.params["b2"].any()
    assert 0.008 < net.params["W1"].std() < 0.012
    # The lecture's count for a 3072-100-10 MLP: 308,200 weights.
    assert net.params["W1"].size + net.params["W2"].size == 3072 * 100 + 100 * 10


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_loss_and_grads_match_torch(reg):
    net = _net(reg)
    X, y = _data()
    loss, grads = net.loss(X, y)
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in net.params.items()}
    h = torch.relu(torch.tensor(X).reshape(6, -1) @ t["W1"] + t["b1"])
    scores = h @ t["W2"] + t["b2"]
    t_loss = F.cross_entropy(scores, torch.tensor(y)) + 0.5 * reg * (
        (t["W1"] ** 2).sum() + (t["W2"] ** 2).sum()
    )
    t_loss.backward()
    assert rel_error(loss, t_loss.item()) < 1e-12
    assert set(grads) == set(net.params)
    for k in net.params:
        assert grads[k].shape == net.params[k].shape
        assert rel_error(grads[k], t[k].grad.numpy()) < 1e-10, k
    np.testing.assert_allclose(net.loss(X), scores.detach().numpy(), rtol=1e-12)


def test_grads_match_numeric_gradients():
    net = _net(reg=0.3, seed=3)
    X, y = _data(seed=4)
    _, grads = net.loss(X, y)
    for k, p in net.params.items():
        num = eval_numerical_gradient(lambda _: net.loss(X, y)[0], p)
        assert rel_error(num, grads[k]) < 1e-7, k


def test_initial_loss_is_about_log_num_classes():
    np.random.seed(0)
    net = TwoLayerNet(input_dim=50, hidden_dim=20, num_classes=10, weight_scale=1e-4)
    X = np.random.default_rng(0).standard_normal((100, 50))
    y = np.arange(100) % 10
    loss, _ = net.loss(X, y)
    assert loss == pytest.approx(np.log(10), abs=1e-3)
