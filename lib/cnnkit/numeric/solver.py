"""A minibatch trainer for the numpy models of the course (CS231n's Solver, with a time budget).

Model protocol: any object with
- `params`: dict, parameter name -> numpy array (updated in place by the solver, key by key);
- `loss(X, y=None)`: with y None, return scores of shape (N, C); else return (loss, grads), grads a
  dict with the same keys as params and arrays shaped like them.

Example:

    data = {"X_train": X_tr, "y_train": y_tr, "X_val": X_va, "y_val": y_va}
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=5, batch_size=200, time_limit=60)
    solver.train()
    solver.best_val_acc, solver.history["loss"]

After train() the model holds the parameters with the best validation accuracy seen.
"""

from __future__ import annotations

import time

import numpy as np

from cnnkit.numeric import optim


class Solver:
    """Trains a numpy classification model with minibatch updates from `cnnkit.numeric.optim`.

    Accuracy on (a sample of) the training set and on the validation set is measured at the end of
    every epoch (`checks_per_epoch` times an epoch if asked, and when the time budget runs out); the
    parameters with the best validation accuracy are kept and put back into the model when training
    ends.

    Attributes after train():
    - loss_history: list of floats, the minibatch loss of every iteration.
    - train_acc_history, val_acc_history: lists of floats, one per accuracy check.
    - check_iterations: list of ints, the iterations done at each accuracy check (its x-axis).
    - check_seconds: list of floats, the seconds since train() started at each check (the clock of
      `time_limit`, earlier checks included).
    - history: dict with keys "loss", "train_acc", "val_acc" (the three lists above).
    - best_val_acc: float; best_params: dict of arrays (copies).
    - stopped_early: True when the time limit ended training.
    """

    def __init__(self, model, data, **kwargs):
        """Set up a solver; nothing is trained until train().

        Inputs:
        - model: an object following the model protocol of this module.
        - data: dict with X_train (N_train, ...), y_train (N_train,), X_val (N_val, ...), y_val (N_val,).

        Optional keyword arguments (any other keyword raises TypeError):
        - update_rule: name of a rule in cnnkit.numeric.optim ('sgd', 'sgd_momentum', 'rmsprop',
          'adam') or a callable with the same signature. Default 'sgd'.
        - optim_config: dict of hyperparameters for the rule (each parameter gets its own copy).
        - lr_decay: float, learning_rate is multiplied by it after every epoch. Default 1.0.
        - batch_size: int, minibatch size. Default 100.
        - num_epochs: int, passes over the training data. Default 10.
        - time_limit: seconds of training after which train() stops between iterations (None: no limit).
        - num_train_samples: int, training examples sampled for the train-accuracy check (None: all).
          Default 1000.
        - num_val_samples: int, validation examples used for the check (None: all). Default None.
        - checks_per_epoch: int, accuracy checks per epoch, evenly spaced (finer learning curves; the
          learning rate still decays once an epoch). Default 1.
        - seed: int, seeds minibatch sampling (None: drawn from numpy's global RNG, which
          cnnkit.seed_everything seeds).
        - progress: show a tqdm progress bar. Default True.
        - verbose: print the accuracies after every epoch. Default False.
        """
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]

        self.update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = dict(kwargs.pop("optim_config", {}))
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.time_limit = kwargs.pop("time_limit", None)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.checks_per_epoch = int(kwargs.pop("checks_per_epoch", 1))
        if self.checks_per_epoch < 1:
            raise ValueError(f"checks_per_epoch must be >= 1, got {self.checks_per_epoch}")
        seed = kwargs.pop("seed", None)
        self.progress = kwargs.pop("progress", True)
        self.verbose = kwargs.pop("verbose", False)
        if kwargs:
            # A misspelt option (learning_rate= instead of optim_config=...) must not train silently.
            raise TypeError(f"Solver got unknown keyword arguments: {', '.join(sorted(kwargs))}")

        if isinstance(self.update_rule, str):
            rule = getattr(optim, self.update_rule, None)
            if rule is None or self.update_rule.startswith("_") or not callable(rule):
                raise ValueError(f"unknown update_rule {self.update_rule!r}")
            self.update_rule = rule
        elif not callable(self.update_rule):
            raise TypeError("update_rule must be a name in cnnkit.numeric.optim or a callable")

        if seed is None:
            seed = int(np.random.randint(2**31 - 1))
        self.rng = np.random.default_rng(seed)
        self._reset()

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.check_iterations = []
        self.check_seconds = []
        self._start = time.perf_counter()
        self.stopped_early = False
        self.optim_configs = {k: dict(self.optim_config) for k in self.model.params}

    @property
    def history(self):
        """dict with keys 'loss', 'train_acc', 'val_acc' (lists)."""
        return {
            "loss": self.loss_history,
            "train_acc": self.train_acc_history,
            "val_acc": self.val_acc_history,
        }

    def _step(self):
        """One minibatch: loss, gradients and an update of every parameter."""
        idx = self.rng.choice(self.X_train.shape[0], self.batch_size, replace=False)
        loss, grads = self.model.loss(self.X_train[idx], self.y_train[idx])
        if not np.isfinite(loss):
            raise FloatingPointError(f"loss is {loss} at iteration {len(self.loss_history)}")
        self.loss_history.append(float(loss))
        for name, w in self.model.params.items():
            next_w, self.optim_configs[name] = self.update_rule(
                w, grads[name], self.optim_configs[name]
            )
            self.model.params[name] = next_w

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Fraction of examples the model classifies correctly.

        Inputs:
        - X: array of shape (N, d_1, ..., d_k), the inputs.
        - y: int array of shape (N,), the labels.
        - num_samples: if given and < N, score a random subset of that many examples.
        - batch_size: examples per call of model.loss (bounds memory).

        Returns:
        - acc: float in [0, 1].
        """
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            idx = self.rng.choice(n, num_samples, replace=False)
            X, y = X[idx], y[idx]
            n = num_samples
        preds = []
        for start in range(0, n, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            preds.append(np.argmax(scores, axis=1))
        return float(np.mean(np.concatenate(preds) == y)) if n else 0.0

    def _check(self):
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self.check_iterations.append(len(self.loss_history))
        self.check_seconds.append(time.perf_counter() - self._start)
        if val_acc > self.best_val_acc or len(self.val_acc_history) == 1:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        if self.verbose:
            print(
                f"(epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:.3f}; "
                f"val acc: {val_acc:.3f}"
            )
        return train_acc, val_acc

    def train(self):
        """Run the optimization; afterwards the model holds the best parameters found.

        Returns:
        - history: dict with keys 'loss', 'train_acc', 'val_acc' (lists of floats).
        """
        from tqdm.auto import tqdm

        num_train = self.X_train.shape[0]
        if self.batch_size > num_train:
            raise ValueError(f"batch_size {self.batch_size} > {num_train} training examples")
        per_epoch = max(num_train // self.batch_size, 1)
        total = self.num_epochs * per_epoch
        # the iteration counts within an epoch after which accuracy is checked (the last one ends it)
        k = min(self.checks_per_epoch, per_epoch)
        checkpoints = {round(per_epoch * (i + 1) / k) for i in range(k)}
        start = self._start = time.perf_counter()
        bar = tqdm(total=total, disable=not self.progress, unit="it", leave=True)
        since_check = 0
        try:
            for it in range(total):
                if self.time_limit is not None and time.perf_counter() - start > self.time_limit:
                    self.stopped_early = True
                    break
                self._step()
                since_check += 1
                bar.update(1)
                in_epoch = it % per_epoch + 1  # iterations done in the current epoch
                if in_epoch == per_epoch:
                    self.epoch += 1
                    for cfg in self.optim_configs.values():
                        if "learning_rate" in cfg:
                            cfg["learning_rate"] *= self.lr_decay
                if in_epoch in checkpoints:
                    since_check = 0
                    _, val_acc = self._check()
                    bar.set_postfix(loss=f"{self.loss_history[-1]:.3f}", val_acc=f"{val_acc:.3f}")
        finally:
            bar.close()
        if since_check or not self.val_acc_history:
            # The budget cut an epoch short: score what was learned since the last check.
            self._check()
        for k, v in self.best_params.items():
            self.model.params[k] = v.copy()
        return self.history
