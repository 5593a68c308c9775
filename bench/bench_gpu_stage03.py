"""Stage 03's GPU figures, measured: the notebook's reference runs at full size, on the device that is there.

What it runs (the stage-03 reference: cnnkit.models' build_cnn / build_mlp, cnnkit.training.fit with
AdamW, weight decay 5e-4 and OneCycle, data kept on the device, AMP and channels_last on CUDA):
- shapes (50k train, 32x32 RGB): notebook 03b's CNN vs MLP experiment with its GPU budget (15 epochs, 120 s);
- fashion_mnist (60k train, 28x28 grey): the same pair on real images, 60 s each;
- notebook 03b's CIFAR-10 configuration (channels 64-128-256, two convs per block) timed per epoch on
  50k CIFAR-shaped images (shapes with augmentation), to say how many epochs a 120 s budget buys.
  CIFAR-10 itself is not reachable where this ran (no internet there): its accuracy is not measured.

Usage: python bench/bench_gpu_stage03.py [--quick] [--out bench/results/gpu_stage03.json]
--quick shrinks every run (a check of the script on a CPU, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

import cnnkit
from cnnkit import data, training
from cnnkit.models import build_cnn, build_mlp, count_params

CNN_SHAPES = {"channels": [16, 32, 64], "global_pool": True}
CNN_FASHION = {"in_channels": 1, "image_size": 28, "channels": [32, 64], "global_pool": True}
CIFAR_CONFIG = {"channels": [64, 128, 256], "convs_per_block": 2, "global_pool": True}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _train(name, model, loaders, device, epochs, time_limit, lr):
    cnnkit.seed_everything(0)
    _sync(device)
    t0 = time.perf_counter()
    hist = training.fit(
        model,
        loaders["train"],
        loaders["val"],
        epochs=epochs,
        time_limit=time_limit,
        device=device,
        optimizer="adamw",
        lr=lr,
        weight_decay=5e-4,
        schedule="onecycle",
        progress=False,
    )
    _sync(device)
    wall = time.perf_counter() - t0
    test_acc = training.evaluate(model, loaders["test"], device=device)[1]
    row = {
        "run": name,
        "params": count_params(model),
        "epochs_done": len(hist.epoch_time),
        "epoch_time_s": [round(t, 3) for t in hist.epoch_time],
        "val_acc": [round(a, 4) for a in hist.val_acc],
        "best_val_acc": hist.best_val_acc,
        "test_acc": round(float(test_acc), 4),
        "wall_s": round(wall, 2),
        "stopped_early": hist.stopped_early,
    }
    print(json.dumps(row), flush=True)
    return row


def _pair(tag, cnn_config, dataset, device, n_train, epochs, budget, quick):
    loaders = data.loaders(
        dataset,
        batch_size=64,
        augment=False,
        n_train=n_train,
        n_val=2000,
        n_test=2000 if quick else 10_000 if dataset == "fashion_mnist" else 5000,
        device=device,
        on_device=True,
    )
    cnnkit.seed_everything(0)
    cnn = build_cnn(**cnn_config)
    mlp_kw = {"in_channels": 1, "image_size": 28} if dataset == "fashion_mnist" else {}
    cnnkit.seed_everything(0)
    mlp = build_mlp(**mlp_kw)
    return [
        dict(_train(f"{tag}/cnn", cnn, loaders, device, epochs, budget, 1e-2), config=cnn_config),
        _train(f"{tag}/mlp", mlp, loaders, device, epochs, budget, 1e-3),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="bench/results/gpu_stage03.json")
    args = ap.parse_args()
    device = cnnkit.get_device()
    q = args.quick
    rows = []
    rows += _pair(
        "shapes", CNN_SHAPES, "shapes", device, 2000 if q else 50_000, 1 if q else 15, 120, q
    )
    rows += _pair(
        "fashion_mnist",
        CNN_FASHION,
        "fashion_mnist",
        device,
        2000 if q else None,
        1 if q else 20,
        60,
        q,
    )
    # CIFAR-10's configuration on CIFAR-10's size (50k 32x32 RGB) with its augmentation: time per epoch.
    cifar_like = data.loaders(
        "shapes",
        batch_size=256,
        augment=True,
        n_train=2000 if q else 50_000,
        n_val=2000,
        n_test=2000,
        device=device,
        on_device=True,
    )
    cnnkit.seed_everything(0)
    wide = build_cnn(**CIFAR_CONFIG)
    row = _train("cifar_config_on_shapes", wide, cifar_like, device, 1 if q else 4, None, 4e-3)
    row["config"] = CIFAR_CONFIG
    steady = row["epoch_time_s"][1:] or row["epoch_time_s"]
    row["epochs_in_120s"] = round(120 / (sum(steady) / len(steady)), 1)
    rows.append(row)
    out = {
        "benchmark": "stage 03 reference runs at full size (GPU figures when run on a GPU)",
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "quick": q,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cifar10_accuracy": "not measured: no CIFAR-10 copy reachable from the machine that ran this",
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print("written", args.out)


if __name__ == "__main__":
    main()
