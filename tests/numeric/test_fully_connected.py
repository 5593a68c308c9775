"""FullyConnectedNet: the sanity ladder (initial loss ~ log C, gradient checks with batch norm and
dropout, overfitting a tiny set) and agreement with the same net written in torch float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit.numeric.fc_net import FullyConnectedNet
from cnnkit.numeric.gradcheck import eval_numerical_gradient, rel_error
from cnnkit.numeric.solver import Solver


def _data(n=6, d=15, c=5, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(c, size=n)


def _redundant(net, k):
    """A hidden bias right before batch norm: the mean subtraction cancels it, its gradient is 0."""
    return (
        net.normalization == "batchnorm"
        and k[:1] == "b"
        and k[1:].isdigit()
        and int(k[1:]) < net.num_layers
    )


def _torch_loss(net, X, y):
    """The same forward pass in torch float64 (train mode, no dropout); returns (loss, param tensors)."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in net.params.items()}
    h = torch.tensor(X).reshape(len(X), -1)
    for i in range(1, net.num_layers):
        h = h @ t[f"W{i}"] + t[f"b{i}"]
        if net.normalization == "batchnorm":
            h = F.batch_norm(h, None, None, t[f"gamma{i}"], t[f"beta{i}"], True, 0.1, 1e-5)
        elif net.normalization == "layernorm":
            h = F.layer_norm(h, (h.shape[1],), t[f"gamma{i}"], t[f"beta{i}"], 1e-5)
        h = torch.relu(h)
    L = net.num_layers
    scores = h @ t[f"W{L}"] + t[f"b{L}"]
    reg = sum((t[f"W{i}"] ** 2).sum() for i in range(1, L + 1))
    loss = F.cross_entropy(scores, torch.tensor(y)) + 0.5 * net.reg * reg
    loss.backward()
    return loss.item(), t


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_params_shapes_and_dtype(normalization):
    net = FullyConnectedNet([7, 6, 4], input_dim=15, num_classes=5, normalization=normalization)
    want = {"W1": (15, 7), "W2": (7, 6), "W3": (6, 4), "W4": (4, 5)}
    want |= {f"b{i}": (w[1],) for i, w in enumerate(want.values(), start=1)}
    if normalization:
        want |= {f"{g}{i}": (n,) for i, n in ((1, 7), (2, 6), (3, 4)) for g in ("gamma", "beta")}
    assert {k: v.shape for k, v in net.params.items()} == want
    assert all(v.dtype == np.float32 for v in net.params.values())
    assert len(net.bn_params) == (3 if normalization else 0)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_loss_and_grads_match_torch(normalization):
    net = FullyConnectedNet(
        [8, 6],
        input_dim=15,
        num_classes=5,
        normalization=normalization,
        reg=0.3,
        init="kaiming",
        dtype=np.float64,
        seed=0,
    )
    X, y = _data()
    loss, grads = net.loss(X, y)
    t_loss, t = _torch_loss(net, X, y)
    assert rel_error(loss, t_loss) < 1e-12
    assert set(grads) == set(net.params)
    for k in net.params:
        if _redundant(net, k):
            assert np.abs(grads[k]).max() < 1e-12 and t[k].grad.abs().max() < 1e-12, k
        else:
            assert rel_error(grads[k], t[k].grad.numpy()) < 1e-9, k


@pytest.mark.parametrize(
    "normalization, keep",
    [(None, 0.5), ("batchnorm", 1.0), ("batchnorm", 0.75), ("layernorm", 0.5)],
)
def test_numeric_gradients_with_normalization_and_dropout(normalization, keep):
    """The fixed seed fixes the dropout mask, so the loss is a function of the parameters alone."""
    net = FullyConnectedNet(
        [8, 6],
        input_dim=15,
        num_classes=5,
        dropout_keep_ratio=keep,
        normalization=normalization,
        reg=0.1,
        init="kaiming",
        dtype=np.float64,
        seed=3,
    )
    X, y = _data(seed=4)
    _, grads = net.loss(X, y)
    for k, p in net.params.items():
        num = eval_numerical_gradient(lambda _: net.loss(X, y)[0], p)
        if _redundant(net, k):  # both are rounding noise around 0
            assert np.abs(num).max() < 1e-9 and np.abs(grads[k]).max() < 1e-12, k
        else:
            assert rel_error(num, grads[k]) < 1e-6, k


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("init", ["small", "xavier"])
def test_initial_loss_is_about_log_num_classes(normalization, init):
    """Small last-layer scores give a near-uniform softmax: loss ~ log C before any training."""
    net = FullyConnectedNet(
        [50] * 5,
        input_dim=40,
        num_classes=10,
        normalization=normalization,
        init=init,
        weight_scale=1e-3,
        dtype=np.float64,
        seed=0,
    )
    X = np.random.default_rng(0).standard_normal((100, 40))
    loss, _ = net.loss(X, np.arange(100) % 10)
    tol = 1e-3 if init == "small" else 0.25  # Xavier's last layer is not small: only roughly log C
    assert loss == pytest.approx(np.log(10), abs=tol)


def test_regularization_is_added_to_the_loss():
    kw = dict(input_dim=15, num_classes=5, init="xavier", dtype=np.float64, seed=0)
    X, y = _data()
    plain, reg = FullyConnectedNet([8], **kw), FullyConnectedNet([8], reg=2.0, **kw)
    penalty = 0.5 * 2.0 * sum(np.sum(plain.params[w] ** 2) for w in ("W1", "W2"))
    assert reg.loss(X, y)[0] == pytest.approx(plain.loss(X, y)[0] + penalty, rel=1e-12)


def test_test_mode_uses_running_averages_and_no_dropout():
    net = FullyConnectedNet(
        [20, 20],
        input_dim=15,
        num_classes=5,
        dropout_keep_ratio=0.5,
        normalization="batchnorm",
        dtype=np.float64,
        seed=0,
    )
    X, y = _data(n=30)
    net.loss(X, y)  # one train step moves the running averages away from (0, 1)
    running = [{k: p[k].copy() for k in ("running_mean", "running_var")} for p in net.bn_params]
    a, b = net.loss(X), net.loss(X)
    assert np.array_equal(a, b)  # deterministic: no dropout, no batch statistics
    for p, before in zip(net.bn_params, running, strict=True):
        assert all(np.array_equal(p[k], before[k]) for k in before)  # test mode updates nothing
    # a single example gets the same scores alone as inside the batch (no batch statistics)
    np.testing.assert_allclose(net.loss(X[:1]), a[:1], rtol=1e-12)
    with pytest.raises(ValueError, match="normalization"):
        FullyConnectedNet([4], normalization="groupnorm")
    with pytest.raises(ValueError, match="dropout_keep_ratio"):
        FullyConnectedNet([4], dropout_keep_ratio=0.0)


@pytest.mark.parametrize("normalization", [None, "batchnorm"])
def test_solver_overfits_50_examples_with_a_deep_net(normalization):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 30))
    y = rng.integers(5, size=50)  # random labels: only memorisation reaches 100%
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    net = FullyConnectedNet(
        [60] * 4,
        input_dim=30,
        num_classes=5,
        normalization=normalization,
        init="kaiming",
        seed=0,
    )
    solver = Solver(
        net,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 5e-3},
        batch_size=25,
        num_epochs=40,
        progress=False,
        seed=0,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert np.mean(solver.loss_history[-4:]) < solver.loss_history[0] / 10
