"""Which offline task shows transfer? ImageNet features vs raw pixels vs a scratch CNN at few labels.

Category-level tasks built from real images reachable without internet:
- fashion_mnist: Fashion-MNIST's 10 clothing classes (Debian's dataset-fashion-mnist), grey 28x28;
- lfw_faces: scikit-image's `lfw_subset`, 100 faces (LFW) and 100 non-face patches of real photos, grey
  25x25 (face vs not-face).

Methods, each trained on exactly n labelled images per class (cnnkit.data.per_class_indices, seeded,
nested in n), tested on a fixed held-out set:
- pixels: standardised raw pixels -> logistic regression (C picked by cross-validation on the training
  labels only, from a fixed grid);
- probe: frozen MobileNetV2 (torchvision's IMAGENET1K_V1 weights, offline from cnnkit.pretrained) ->
  global-average-pooled 1,280 features -> the same logistic regression. Images are replicated to 3
  channels, resized to --size pixels and normalised with ImageNet's mean/std;
- scratch: a small CNN (3 conv-BN-ReLU-pool blocks 32-64-128, global pooling, dropout, 94k
  parameters) trained from random init with AdamW + OneCycle for a fixed number of steps, random crop
  (pad 2) + horizontal flip.
Each (task, n) is repeated over --seeds seeds (the seed picks the labelled images, the CNN's init and
the held-out set of lfw_faces); the results hold every seed's accuracy, mean, sample std, min, max,
and the paired differences probe - scratch and probe - pixels.

Features are computed once per image and cached under CNNKIT_DATA/bench (keyed by task, size and the
image indices). One torch thread: the machine is shared.

Usage: OMP_NUM_THREADS=1 python bench/bench_transfer_task.py [--quick] [--size 128] [--seeds 3]
           [--out bench/results/transfer_task.json]
--quick: 2 seeds, small test sets and short CNN training (a check of the script, not a measurement).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cnnkit import data, pretrained  # noqa: E402
from cnnkit.data.torch import augment_batch  # noqa: E402

C_GRID = [0.001, 0.01, 0.1, 1.0, 10.0]


# ---------------------------------------------------------------------------------------------- tasks
def task_fashion_mnist(seeds, n_list, n_test):
    """Fashion-MNIST: draws from the training split, a fixed class-balanced test subset."""
    train = data.load("fashion_mnist", "train")
    test = data.load("fashion_mnist", "test", n=n_test, seed=0)
    draws = []
    for s in seeds:
        draws.append({n: data.per_class_indices(train.y, n, seed=s) for n in n_list})
    return {
        "X": train.X,
        "y": train.y,
        "X_test": [test.X] * len(seeds),
        "y_test": [test.y] * len(seeds),
        "test_key": ["fixed"] * len(seeds),
        "draws": draws,
        "classes": train.class_names,
        "flip": True,
    }


def task_lfw_faces(seeds, n_list, n_test_per_class):
    """skimage's lfw_subset: per seed, n_test_per_class of each class held out, draws from the rest."""
    import skimage.data

    imgs = np.asarray(skimage.data.lfw_subset(), dtype=np.float32)  # (200, 25, 25) in [0, 1]
    X = imgs[:, None]
    y = np.repeat(np.array([0, 1], dtype=np.int64), 100)  # the first 100 are faces (skimage's doc)
    X_test, y_test, keys, draws = [], [], [], []
    for s in seeds:
        test_idx = data.per_class_indices(y, n_test_per_class, seed=10_000 + s)
        pool = np.setdiff1d(np.arange(len(y)), test_idx)
        X_test.append(X[test_idx])
        y_test.append(y[test_idx])
        keys.append(f"lfw-test-seed{s}")
        draws.append({n: pool[data.per_class_indices(y[pool], n, seed=s)] for n in n_list})
    return {
        "X": X,
        "y": y,
        "X_test": X_test,
        "y_test": y_test,
        "test_key": keys,
        "draws": draws,
        "classes": ["face", "not a face"],
        "flip": True,
    }


# ------------------------------------------------------------------------------------------- features
class Backbone:
    """Frozen MobileNetV2 (ImageNet weights) -> 1,280 pooled features, with an on-disk cache."""

    def __init__(self, size: int):
        model, weights = pretrained.load_model("mobilenet_v2", "IMAGENET1K_V1")
        self.features = model.features.eval()
        tf = weights.transforms()
        self.mean = torch.tensor(tf.mean).view(1, 3, 1, 1)
        self.std = torch.tensor(tf.std).view(1, 3, 1, 1)
        self.size = size
        self.cache = data.cache_dir() / "bench"
        self.seconds = 0.0
        self.images = 0

    @torch.inference_mode()
    def _compute(self, X: np.ndarray, batch: int = 64) -> np.ndarray:
        t0 = time.perf_counter()
        out = []
        for i in range(0, len(X), batch):
            x = torch.from_numpy(X[i : i + batch])
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
            x = (x - self.mean) / self.std
            out.append(self.features(x).mean(dim=(2, 3)).numpy())
        self.seconds += time.perf_counter() - t0
        self.images += len(X)
        return np.concatenate(out)

    def __call__(self, key: str, X: np.ndarray) -> np.ndarray:
        digest = hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()[:16]
        path = self.cache / f"transfer_{key}_{self.size}px_{digest}.npy"
        if path.is_file():
            return np.load(path)
        feats = self._compute(X)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, feats)
        return feats


# ---------------------------------------------------------------------------------------- classifiers
def logreg_accuracy(F_train, y_train, F_test, y_test, seed) -> float:
    """Standardise, pick C by stratified CV on the training labels only, refit, test accuracy."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    per_class = int(np.bincount(y_train).min())
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=min(5, per_class), shuffle=True, random_state=seed)
    search = GridSearchCV(pipe, {"logisticregression__C": C_GRID}, cv=cv, n_jobs=1)
    search.fit(F_train, y_train)
    return float(search.score(F_test, y_test))


def scratch_cnn(in_channels: int, num_classes: int) -> nn.Sequential:
    def block(ci, co):
        return [
            nn.Conv2d(ci, co, 3, padding=1, bias=False),
            nn.BatchNorm2d(co),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]

    return nn.Sequential(
        *block(in_channels, 32),
        *block(32, 64),
        *block(64, 128),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(128, num_classes),
    )


def scratch_accuracy(X, y, X_test, y_test, seed, steps, flip) -> float:
    """Train the small CNN from scratch on (X, y) for a fixed number of steps; test accuracy."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    mean, std = float(X.mean()), float(X.std()) + 1e-6
    Xt = (torch.from_numpy(X) - mean) / std
    yt = torch.from_numpy(y)
    model = scratch_cnn(X.shape[1], int(y.max()) + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    batch = min(64, len(y))
    model.train()
    for _ in range(steps):
        idx = torch.randperm(len(yt), generator=g)[:batch]
        xb = augment_batch(Xt[idx], pad=2, flip=flip, generator=g)
        loss = F.cross_entropy(model(xb), yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.inference_mode():
        Xe = (torch.from_numpy(X_test) - mean) / std
        pred = torch.cat([model(Xe[i : i + 256]).argmax(1) for i in range(0, len(Xe), 256)])
    return float((pred.numpy() == y_test).mean())


# ------------------------------------------------------------------------------------------ the run
def _summary(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {
        "per_seed": [round(float(a), 4) for a in v],
        "mean": round(float(v.mean()), 4),
        "std": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4),
        "min": round(float(v.min()), 4),
        "max": round(float(v.max()), 4),
    }


def run_task(name, task, n_list, backbone, steps, log) -> dict:
    seeds = range(len(task["draws"]))
    # Every image a probe will see, once: the largest draw of each seed contains the smaller ones.
    needed = np.unique(np.concatenate([d[max(n_list)] for d in task["draws"]]))
    feats = dict(zip(needed.tolist(), backbone(f"{name}-train", task["X"][needed]), strict=True))
    test_feats = {}
    for s in seeds:
        key = task["test_key"][s]
        if key not in test_feats:
            test_feats[key] = backbone(f"{name}-{key}", task["X_test"][s])
    acc = {m: {n: [] for n in n_list} for m in ("pixels", "probe", "scratch")}
    t_method = {"pixels": 0.0, "probe": 0.0, "scratch": 0.0}
    for s in seeds:
        Xte, yte = task["X_test"][s], task["y_test"][s]
        Fte = test_feats[task["test_key"][s]]
        for n in n_list:
            idx = task["draws"][s][n]
            X, y = task["X"][idx], task["y"][idx]
            t0 = time.perf_counter()
            acc["pixels"][n].append(
                logreg_accuracy(X.reshape(len(X), -1), y, Xte.reshape(len(Xte), -1), yte, s)
            )
            t1 = time.perf_counter()
            Ftr = np.stack([feats[i] for i in idx.tolist()])
            acc["probe"][n].append(logreg_accuracy(Ftr, y, Fte, yte, s))
            t2 = time.perf_counter()
            acc["scratch"][n].append(scratch_accuracy(X, y, Xte, yte, s, steps, task["flip"]))
            t3 = time.perf_counter()
            t_method["pixels"] += t1 - t0
            t_method["probe"] += t2 - t1
            t_method["scratch"] += t3 - t2
            log(
                f"{name} seed {s} n={n}: pixels {acc['pixels'][n][-1]:.3f} "
                f"probe {acc['probe'][n][-1]:.3f} scratch {acc['scratch'][n][-1]:.3f}"
            )
    rows = []
    for n in n_list:
        probe = np.array(acc["probe"][n])
        rows.append(
            {
                "labels_per_class": n,
                "train_images": n * len(task["classes"]),
                "pixels": _summary(acc["pixels"][n]),
                "probe": _summary(acc["probe"][n]),
                "scratch": _summary(acc["scratch"][n]),
                "probe_minus_scratch": _summary(probe - np.array(acc["scratch"][n])),
                "probe_minus_pixels": _summary(probe - np.array(acc["pixels"][n])),
            }
        )
    return {
        "classes": task["classes"],
        "test_images_per_seed": len(task["y_test"][0]),
        "rows": rows,
        "seconds_per_method": {k: round(v, 1) for k, v in t_method.items()},
    }


def table(results: dict) -> str:
    lines = [
        "| task | labels/class | pixels (logreg) | scratch CNN | probe (MobileNetV2) "
        "| probe − scratch | probe − pixels |",
        "|---|---|---|---|---|---|---|",
    ]

    def pm(s):
        return f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f}"

    for name, t in results["tasks"].items():
        for r in t["rows"]:
            lines.append(
                f"| {name} | {r['labels_per_class']} | {pm(r['pixels'])} | {pm(r['scratch'])} "
                f"| {pm(r['probe'])} | {pm(r['probe_minus_scratch'])} "
                f"| {pm(r['probe_minus_pixels'])} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a check of the script, not a measurement")
    p.add_argument("--size", type=int, default=128, help="backbone input side in pixels")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=300, help="scratch CNN training steps")
    p.add_argument("--n-test", type=int, default=1000, help="Fashion-MNIST test images")
    p.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "transfer_task.json",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.steps, args.n_test = 2, 40, 200
    torch.set_num_threads(1)
    seeds = list(range(args.seeds))
    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.0f} s] {msg}", flush=True)

    backbone = Backbone(args.size)
    fashion_n = [5, 20, 100] if not args.quick else [5, 20]
    lfw_n = [5, 20, 50] if not args.quick else [5, 20]
    tasks = {
        "fashion_mnist": (task_fashion_mnist(seeds, fashion_n, args.n_test), fashion_n),
        "lfw_faces": (task_lfw_faces(seeds, lfw_n, 50 if not args.quick else 20), lfw_n),
    }
    results = {
        "what": "few-labels category-level transfer: frozen ImageNet MobileNetV2 linear probe vs "
        "logistic regression on raw pixels vs a small CNN from scratch",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "config": {
            "backbone": "torchvision mobilenet_v2 IMAGENET1K_V1, frozen, global average pool (1280)",
            "size": args.size,
            "seeds": args.seeds,
            "scratch_steps": args.steps,
            "scratch_params": sum(p.numel() for p in scratch_cnn(1, 10).parameters()),
            "logreg_C_grid": C_GRID,
            "quick": args.quick,
        },
        "tasks": {},
    }
    for name, (task, n_list) in tasks.items():
        log(f"{name}: {len(task['classes'])} classes, labels/class {n_list}")
        results["tasks"][name] = run_task(name, task, n_list, backbone, args.steps, log)
    results["backbone_seconds"] = round(backbone.seconds, 1)
    results["backbone_images_computed"] = backbone.images
    results["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
