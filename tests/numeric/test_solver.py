"""The numpy Solver: it trains, keeps the best parameters, honours its budget and rejects typos."""

import numpy as np
import pytest

from cnnkit.numeric.fc_net import TwoLayerNet
from cnnkit.numeric.solver import Solver


def _blobs(n, seed, d=20, c=4):
    """A small separable problem: class means far apart in d dimensions."""
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(99).standard_normal((c, d)) * 3
    y = rng.integers(c, size=n)
    return means[y] + rng.standard_normal((n, d)), y


def _data(n_train=50, n_val=40):
    X_tr, y_tr = _blobs(n_train, 1)
    X_va, y_va = _blobs(n_val, 2)
    return {"X_train": X_tr, "y_train": y_tr, "X_val": X_va, "y_val": y_va}


def _model(seed=0):
    np.random.seed(seed)
    return TwoLayerNet(input_dim=20, hidden_dim=30, num_classes=4, weight_scale=1e-2)


@pytest.mark.parametrize("rule", ["sgd_momentum", "adam", "rmsprop"])
def test_overfits_50_examples(rule):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 20))
    y = rng.integers(4, size=50)  # random labels: only memorisation reaches 100%
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    np.random.seed(0)
    model = TwoLayerNet(input_dim=20, hidden_dim=100, num_classes=4, weight_scale=1e-1)
    solver = Solver(
        model,
        data,
        update_rule=rule,
        optim_config={"learning_rate": 1e-2},
        batch_size=25,
        num_epochs=150,
        progress=False,
        seed=0,
    )
    history = solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert history["loss"][-1] < history["loss"][0] / 10


def test_history_lengths_and_best_params_restored():
    data = _data()
    model = _model()
    solver = Solver(model, data, update_rule="sgd", batch_size=10, num_epochs=4, progress=False)
    solver.train()
    assert len(solver.loss_history) == 4 * 5
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4
    assert solver.best_val_acc == max(solver.val_acc_history)
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, solver.best_params[k])
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc


def test_lr_decay_applies_per_epoch():
    solver = Solver(
        _model(),
        _data(),
        update_rule="sgd",
        optim_config={"learning_rate": 1e-1},
        lr_decay=0.5,
        batch_size=10,
        num_epochs=3,
        progress=False,
    )
    solver.train()
    for cfg in solver.optim_configs.values():
        assert cfg["learning_rate"] == pytest.approx(1e-1 * 0.5**3)


def test_time_limit_stops_training_and_still_scores():
    solver = Solver(
        _model(), _data(), batch_size=10, num_epochs=10_000, time_limit=0.2, progress=False
    )
    solver.train()
    assert solver.stopped_early
    assert 0 < len(solver.loss_history) < 10_000 * 5
    assert len(solver.val_acc_history) >= 1


def test_seed_makes_training_reproducible():
    def run():
        s = Solver(_model(), _data(), batch_size=10, num_epochs=2, seed=7, progress=False)
        s.train()
        return s.loss_history

    assert run() == run()


def test_unknown_kwarg_raises():
    with pytest.raises(TypeError, match="learning_rate"):
        Solver(_model(), _data(), learning_rate=1e-3)


def test_unknown_update_rule_raises():
    with pytest.raises(ValueError, match="nadam"):
        Solver(_model(), _data(), update_rule="nadam")


def test_callable_update_rule_is_used():
    calls = []

    def rule(w, dw, config=None):
        calls.append(1)
        return w - 1e-3 * dw, config or {}

    Solver(_model(), _data(), update_rule=rule, batch_size=10, num_epochs=1, progress=False).train()
    assert len(calls) == 5 * 4  # 5 iterations x 4 parameters


def test_checks_per_epoch_spaces_the_checks_and_keeps_the_per_epoch_decay():
    solver = Solver(
        _model(),
        _data(),
        batch_size=10,
        num_epochs=2,
        checks_per_epoch=3,
        optim_config={"learning_rate": 1e-2},
        lr_decay=0.5,
        progress=False,
        seed=0,
    )
    solver.train()
    per_epoch = solver.X_train.shape[0] // 10
    assert len(solver.val_acc_history) == len(solver.check_iterations) == 6
    assert solver.check_iterations[2] == per_epoch and solver.check_iterations[-1] == 2 * per_epoch
    assert solver.check_iterations == sorted(set(solver.check_iterations))
    assert len(solver.check_seconds) == 6 and solver.check_seconds == sorted(solver.check_seconds)
    assert solver.epoch == 2
    assert all(cfg["learning_rate"] == 1e-2 * 0.25 for cfg in solver.optim_configs.values())
    with pytest.raises(ValueError, match="checks_per_epoch"):
        Solver(_model(), _data(), checks_per_epoch=0)
