"""Notebook 02's motivating comparison: its ThreeLayerConvNet against notebook 01's best MLP.

Both models see the same Fashion-MNIST split (the first --n-train training images, the first --n-val
validation images), the same epochs, batch size (50), update rule (Adam) and learning-rate decay
(0.8 an epoch), and the same tuning effort: the same three learning rates, each tried on the same
short run (one epoch over the first --tune-n training images), the best by validation accuracy.

- convnet: notebook 02's q5 network (16 3x3 filters, hidden 100, weight scale 5e-2), the library's
  reference `ThreeLayerConvNet`;
- convnet-bn: the same with question 7's spatial batch norm after the conv (`ThreeLayerConvNetBN`);
- mlp: notebook 01's best MLP (its Q6 settings: one hidden layer of 200, reg 1e-4) as a
  `FullyConnectedNet([200])` with Kaiming init.

Per seed: best validation accuracy, held-out test accuracy of the best parameters (all 10,000 test
images), the picked learning rate, parameter count and training time; for the ConvNet also the
accuracy q6's grader computes (`heldout.convnet_accuracy`, 2,000 test images, several draws).
Also runs notebook 02's own q5 training cell settings (lr 2e-3, no search) for the bands.

Per seed also the notebook's "MLP, same seconds": the MLP with its picked learning rate, trained until
it has spent the ConvNet's seconds of that seed (at most 100 epochs). Seconds depend on the machine's
load: compare them within one seed's rows.

--same-seconds S: only the MLP, with its search, for S seconds (a ConvNet time measured earlier).
--only KIND: only that model's search and run per seed (no same-seconds or q5-cell rows).

Usage: OMP_NUM_THREADS=1 python bench/bench_stage02_motivation.py --n-train 10000 --n-val 1000
           --epochs 2 --seeds 0 1 2 --out bench/results/stage02_motivation_ci.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from cnnkit import data, heldout  # noqa: E402
from cnnkit.numeric.cnn import ThreeLayerConvNet, ThreeLayerConvNetBN  # noqa: E402
from cnnkit.numeric.fc_net import FullyConnectedNet  # noqa: E402
from cnnkit.numeric.solver import Solver  # noqa: E402

LRS = (1e-3, 2e-3, 4e-3)


def make(kind, seed):
    np.random.seed(seed)
    if kind in ("convnet", "convnet-bn"):
        net = ThreeLayerConvNetBN if kind == "convnet-bn" else ThreeLayerConvNet
        return net(
            input_dim=(1, 28, 28), num_filters=16, filter_size=3, hidden_dim=100, weight_scale=5e-2
        )
    return FullyConnectedNet(
        [200], input_dim=28 * 28, num_classes=10, init="kaiming", reg=1e-4, seed=seed
    )


def run(kind, seed, lr, d, epochs, checks=1, time_limit=None):
    model = make(kind, seed)
    s = Solver(
        model,
        d,
        update_rule="adam",
        optim_config={"learning_rate": lr},
        lr_decay=0.8,
        batch_size=50,
        num_epochs=epochs,
        checks_per_epoch=checks,
        time_limit=time_limit,
        num_train_samples=500,
        progress=False,
        seed=seed,
    )
    t = time.perf_counter()
    s.train()
    return model, s, time.perf_counter() - t


def test_accuracy(model, X, y):
    preds = [np.argmax(model.loss(X[i : i + 500]), axis=1) for i in range(0, len(X), 500)]
    return float(np.mean(np.concatenate(preds) == y))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=10_000)
    ap.add_argument("--n-val", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--tune-n", type=int, default=2000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--same-seconds", type=float, default=None)
    ap.add_argument("--only", choices=("convnet", "convnet-bn", "mlp"), default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    X_tr, y_tr, _ = data.load("fashion_mnist", "train", n=args.n_train)
    X_va, y_va, _ = data.load("fashion_mnist", "val", n=args.n_val)
    X_te, y_te, _ = data.load("fashion_mnist", "test")
    full = {"X_train": X_tr, "y_train": y_tr, "X_val": X_va, "y_val": y_va}
    tune = {
        "X_train": X_tr[: args.tune_n],
        "y_train": y_tr[: args.tune_n],
        "X_val": X_va,
        "y_val": y_va,
    }
    results = {
        "config": vars(args) | {"lrs": LRS},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
        },
        "load_before": os.getloadavg(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "runs": [],
    }

    def mlp_for_seconds(seed, lr, seconds):
        """The MLP trained for `seconds` (epochs unbounded): its row, printed."""
        model, s, secs = run("mlp", seed, lr, full, 100, time_limit=seconds)
        row = {
            "seed": seed,
            "model": "mlp-same-seconds",
            "lr": lr,
            "epochs": s.epoch,
            "best_val": s.best_val_acc,
            "test_acc": test_accuracy(model, X_te, y_te),
            "train_seconds": round(secs, 1),
        }
        print(json.dumps(row), flush=True)
        return row

    t0 = time.perf_counter()
    for seed in args.seeds:
        if args.same_seconds:
            search = {lr: run("mlp", seed, lr, tune, 1)[1].best_val_acc for lr in LRS}
            lr = max(LRS, key=lambda v: search[v])
            results["runs"].append(mlp_for_seconds(seed, lr, args.same_seconds))
            continue
        for kind in [args.only] if args.only else ("convnet", "convnet-bn", "mlp"):
            search = {lr: run(kind, seed, lr, tune, 1)[1].best_val_acc for lr in LRS}
            lr = max(LRS, key=lambda v: search[v])
            model, s, secs = run(kind, seed, lr, full, args.epochs, checks=4)
            row = {
                "seed": seed,
                "model": kind,
                "search": {str(k): v for k, v in search.items()},
                "lr": lr,
                "params": int(sum(v.size for v in model.params.values())),
                "best_val": s.best_val_acc,
                "val_curve": s.val_acc_history,
                "test_acc": test_accuracy(model, X_te, y_te),
                "train_seconds": round(secs, 1),
            }
            print(json.dumps({k: v for k, v in row.items() if k != "val_curve"}), flush=True)
            results["runs"].append(row)
            if kind == "convnet":
                convnet_seconds = secs
        if args.only:
            continue
        # the notebook's "MLP, same seconds": the MLP's lr, the ConvNet's seconds of this seed
        results["runs"].append(mlp_for_seconds(seed, lr, convnet_seconds))
        # notebook 02's q5 cell as it stands (lr 2e-3, one check an epoch): what q6 grades
        model, s, secs = run("convnet", seed, 2e-3, full, args.epochs)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "convnet_params.npz"
            np.savez(path, **{k: np.asarray(v, dtype=np.float32) for k, v in model.params.items()})
            graded = [heldout.convnet_accuracy(path, np.random.default_rng(r)) for r in range(5)]
        row = {
            "seed": seed,
            "model": "convnet-q5-cell",
            "lr": 2e-3,
            "best_val": s.best_val_acc,
            "test_acc": test_accuracy(model, X_te, y_te),
            "graded_acc_5_draws": graded,
            "train_seconds": round(secs, 1),
        }
        print(json.dumps(row), flush=True)
        results["runs"].append(row)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    results["load_after"] = os.getloadavg()
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
