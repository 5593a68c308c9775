"""How much does notebook 04's Fashion-MNIST probe lose by keeping the photo task's hyperparameters?

Notebook 04 (question 5) chooses the linear probe's learning rate and weight decay on the photo task's
validation crops and reuses them on Fashion-MNIST. This script trains the same probe (the library's
reference `train_linear`: 200 full-batch Adam epochs on frozen MobileNetV2 features) on the same
few-label sets (`data.few_labels`, per label count and seed) for every setting of the notebook's grid
and reports each one's validation accuracy on the notebook's full-size validation images, next to
the photo task's choice. The best setting per cell is picked on the same validation images it is
scored on, so its gain is an upper bound.

Features come from the notebook's own cache (`features04` under the data cache), computed on the first
run. One torch thread.

Usage: OMP_NUM_THREADS=1 python bench/bench_fashion_probe.py [--out bench/results/fashion_probe_grid.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.models import MobileNet_V2_Weights, mobilenet_v2  # noqa: E402

import cnnkit  # noqa: E402
from cnnkit import data, features  # noqa: E402
from cnnkit.transfer import freeze_backbone  # noqa: E402

SIZE = 112  # the notebook's
MODEL_NAME = "mobilenet_v2.IMAGENET1K_V1"  # the notebook's cache key
GRID = [
    (lr, wd) for lr in (1e-3, 1e-2) for wd in (1e-4, 1e-3, 1e-2)
]  # the notebook's full-size grid
PHOTO_CHOICE = (1e-2, 1e-3)  # chosen on the photo crops at full size (notebook 04, 2026-12-06)


def fashion_images(X):
    """As in the notebook: grey (N, 1, 28, 28) -> (N, 3, SIZE, SIZE)."""
    x = torch.from_numpy(X).expand(-1, 3, -1, -1)
    return nn.functional.interpolate(
        x, size=(SIZE, SIZE), mode="bilinear", align_corners=False
    ).clamp(0, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=int, nargs="+", default=[5, 20, 100])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-val", type=int, default=2000)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    weights = MobileNet_V2_Weights.IMAGENET1K_V1
    model = freeze_backbone(mobilenet_v2(weights=weights))
    preprocess = weights.transforms(crop_size=SIZE, resize_size=SIZE)
    cache = data.cache_dir() / "features04"
    start = time.perf_counter()
    val = data.load("fashion_mnist", "val", n=args.n_val)
    F_val = features.cached_features(model, MODEL_NAME, fashion_images(val.X), preprocess, cache)
    y_val = torch.from_numpy(val.y)
    rows = []
    for n in args.labels:
        for seed in args.seeds:
            few = data.few_labels("fashion_mnist", n, seed=seed)
            F = features.cached_features(
                model, MODEL_NAME, fashion_images(few.X), preprocess, cache
            )
            acc = {}
            for lr, wd in GRID:
                cnnkit.seed_everything(seed)  # as the notebook seeds each probe
                probe = features.train_linear(
                    F, torch.from_numpy(few.y), 10, epochs=200, lr=lr, weight_decay=wd
                )
                with torch.no_grad():
                    acc[f"{lr:g}/{wd:g}"] = features.accuracy(probe(F_val), y_val)
            photo = acc[f"{PHOTO_CHOICE[0]:g}/{PHOTO_CHOICE[1]:g}"]
            best = max(acc, key=acc.get)
            rows.append(
                {
                    "labels": n,
                    "seed": seed,
                    "accuracy": acc,
                    "photo_choice": photo,
                    "best": best,
                    "best_minus_photo_points": round(100 * (acc[best] - photo), 1),
                }
            )
            print(
                f"{n:3d} labels/class, seed {seed}: photo's choice {photo:.3f}, best {best} {acc[best]:.3f}",
                flush=True,
            )
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        "torch": torch.__version__,
        "n_val": args.n_val,
        "grid": [f"{lr:g}/{wd:g}" for lr, wd in GRID],
        "photo_choice": f"{PHOTO_CHOICE[0]:g}/{PHOTO_CHOICE[1]:g}",
        "rows": rows,
        "seconds": round(time.perf_counter() - start, 1),
    }
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
