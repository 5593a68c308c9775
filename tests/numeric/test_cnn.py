"""ThreeLayerConvNet: loss and every gradient against the same net in torch (float64), sanity ladder."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit.numeric.cnn import ThreeLayerConvNet
from cnnkit.numeric.gradcheck import eval_numerical_gradient, rel_error
from cnnkit.numeric.solver import Solver


def _torch_loss(params, X, y, reg):
    """conv-relu-pool-affine-relu-affine-softmax in torch: loss and gradients (the oracle)."""
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    pad = (params["W1"].shape[2] - 1) // 2
    h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X), t["W1"], t["b1"], padding=pad)), 2, 2)
    h = F.relu(h.flatten(1) @ t["W2"] + t["b2"])
    scores = h @ t["W3"] + t["b3"]
    loss = F.cross_entropy(scores, torch.tensor(y))
    loss = loss + 0.5 * reg * sum((t[k] ** 2).sum() for k in ("W1", "W2", "W3"))
    loss.backward()
    return scores.detach().numpy(), loss.item(), {k: v.grad.numpy() for k, v in t.items()}


@pytest.mark.parametrize(
    "input_dim,filter_size,reg", [((3, 8, 8), 3, 0.0), ((2, 10, 6), 5, 0.3), ((1, 7, 9), 1, 0.1)]
)
def test_loss_and_grads_match_torch_float64(input_dim, filter_size, reg):
    np.random.seed(0)
    model = ThreeLayerConvNet(
        input_dim=input_dim,
        num_filters=4,
        filter_size=filter_size,
        hidden_dim=7,
        num_classes=5,
        weight_scale=0.3,
        reg=reg,
        dtype=np.float64,
    )
    rng = np.random.default_rng(1)
    for k in ("b1", "b2", "b3"):  # nonzero biases so their gradients are really exercised
        model.params[k] = rng.standard_normal(model.params[k].shape)
    X = rng.standard_normal((6, *input_dim))
    y = rng.integers(0, 5, 6)
    ref_scores, ref_loss, ref_grads = _torch_loss(model.params, X, y, reg)
    assert rel_error(model.loss(X), ref_scores) < 1e-9
    loss, grads = model.loss(X, y)
    assert abs(loss - ref_loss) / abs(ref_loss) < 1e-9
    assert sorted(grads) == sorted(model.params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    for k, g in grads.items():
        assert g.shape == model.params[k].shape
        assert rel_error(g, ref_grads[k]) < 1e-9, k


def test_numeric_gradient_check_float64():
    # The notebook's sanity ladder, step 2: a tiny net, centered differences.
    np.random.seed(2)
    model = ThreeLayerConvNet(
        input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=5, weight_scale=0.1,
        reg=0.05, dtype=np.float64,
    )  # fmt: skip
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((3, 2, 6, 6)), rng.integers(0, 10, 3)
    _, grads = model.loss(X, y)
    for name, p in model.params.items():
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], p)
        assert rel_error(num, grads[name]) < 1e-6, name


def test_initial_loss_is_log_num_classes_and_dtype_kept():
    np.random.seed(4)
    model = ThreeLayerConvNet(input_dim=(1, 12, 12), num_filters=4, filter_size=3, hidden_dim=10)
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert model.params["W2"].shape == (4 * 6 * 6, 10)
    X = np.random.default_rng(5).random((20, 1, 12, 12), dtype=np.float32)
    y = np.arange(20) % 10
    loss, _ = model.loss(X, y)
    assert abs(loss - math.log(10)) < 0.01
    assert model.loss(X).shape == (20, 10)


def test_overfits_fifty_examples():
    # Sanity ladder, step 3: a net that cannot fit 50 examples has a bug.
    np.random.seed(6)
    rng = np.random.default_rng(6)
    X = rng.random((50, 1, 12, 12), dtype=np.float32)
    y = rng.integers(0, 10, 50)
    model = ThreeLayerConvNet(
        input_dim=(1, 12, 12), num_filters=8, filter_size=3, hidden_dim=50, weight_scale=5e-2
    )
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    solver = Solver(
        model, data, update_rule="adam", optim_config={"learning_rate": 3e-3}, batch_size=25,
        num_epochs=60, progress=False, seed=0,
    )  # fmt: skip
    solver.train()
    assert solver.check_accuracy(X, y) == 1.0
