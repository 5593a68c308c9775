"""Benchmark: cnnkit's pure-numpy conv / max-pool layers against torch, forward + backward, float64.

Every row is timed in one run (interleaved by cnnkit.timing.compare), so the ratios hold on a loaded
machine even when the seconds do not. Goals (issue 5): fast conv and pool <= 2x torch, naive/fast >= 300x.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_conv.py [--repeat 5] [--out bench/results/conv.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cnnkit.numeric import conv_layers, fast_layers
from cnnkit.timing import compare

# (name, x shape, (filters, kernel), stride, pad)
CONV_SHAPES = [
    ("cifar-first-layer", (50, 3, 32, 32), (32, 3), 1, 1),
    ("mid-layer", (50, 32, 16, 16), (64, 3), 1, 1),
    ("notebook-convnet", (100, 1, 28, 28), (16, 5), 1, 2),
    ("strided-5x5", (20, 3, 64, 64), (16, 5), 2, 2),
]
# (name, x shape, (pool size, stride))
POOL_SHAPES = [
    ("2x2-tiling", (50, 32, 32, 32), (2, 2)),
    ("3x3-overlap", (50, 64, 16, 16), (3, 2)),
    ("notebook-convnet", (100, 16, 28, 28), (2, 2)),
]
NAIVE_SHAPE = ("naive-vs-fast", (10, 3, 32, 32), (16, 3), 1, 1)


def _conv_fns(x, w, b, stride, pad, with_naive=False):
    conv_param = {"stride": stride, "pad": pad}
    out, _ = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dt = torch.tensor(dout)

    def torch_fn():
        F.conv2d(xt, wt, bt, stride=stride, padding=pad).backward(dt)

    def fast_fn():
        fast_layers.conv_backward_fast(dout, fast_layers.conv_forward_fast(x, w, b, conv_param)[1])

    fns = {"torch": torch_fn, "numpy_fast": fast_fn}
    if with_naive:

        def naive_fn():
            conv_layers.conv_backward_naive(
                dout, conv_layers.conv_forward_naive(x, w, b, conv_param)[1]
            )

        fns["numpy_naive"] = naive_fn
    return fns


def _pool_fns(x, size, stride):
    pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
    out, _ = fast_layers.max_pool_forward_fast(x, pool_param)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    xt, dt = torch.tensor(x, requires_grad=True), torch.tensor(dout)

    def torch_fn():
        F.max_pool2d(xt, size, stride).backward(dt)

    def fast_fn():
        fast_layers.max_pool_backward_fast(
            dout, fast_layers.max_pool_forward_fast(x, pool_param)[1]
        )

    return {"torch": torch_fn, "numpy_fast": fast_fn}


def run(repeat: int = 5) -> dict:
    """Time every shape; returns the JSON-able results (rows with seconds and ratios)."""
    rng = np.random.default_rng(0)
    rows = []
    for name, xshape, (nf, k), stride, pad in CONV_SHAPES:
        x = rng.standard_normal(xshape)
        w, b = rng.standard_normal((nf, xshape[1], k, k)), rng.standard_normal(nf)
        r = compare(_conv_fns(x, w, b, stride, pad), "torch", repeat=repeat)
        rows.append({"layer": "conv", "shape": name, "x": xshape, "w": (nf, xshape[1], k, k),
                     "stride": stride, "pad": pad, "results": r})  # fmt: skip
    for name, xshape, (size, stride) in POOL_SHAPES:
        x = rng.standard_normal(xshape)
        r = compare(_pool_fns(x, size, stride), "torch", repeat=repeat)
        rows.append({"layer": "max_pool", "shape": name, "x": xshape, "pool": size,
                     "stride": stride, "results": r})  # fmt: skip
    name, xshape, (nf, k), stride, pad = NAIVE_SHAPE
    x = rng.standard_normal(xshape)
    w, b = rng.standard_normal((nf, xshape[1], k, k)), rng.standard_normal(nf)
    # The naive loops take seconds per call: one timed call each, fast and torch beside them.
    r = compare(_conv_fns(x, w, b, stride, pad, with_naive=True), "torch", repeat=1, warmup=0)
    r["numpy_naive"]["ratio_to_fast"] = r["numpy_naive"]["seconds"] / r["numpy_fast"]["seconds"]
    rows.append({"layer": "conv", "shape": name, "x": xshape, "w": (nf, xshape[1], k, k),
                 "stride": stride, "pad": pad, "results": r})  # fmt: skip
    return {
        "benchmark": "numpy conv/pool layers vs torch, forward+backward, float64",
        "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "numpy": np.__version__,
            "torch": torch.__version__,
        },
        "repeat": repeat,
        "rows": rows,
    }


def table(results: dict) -> str:
    """The results as a text table (one line per layer and shape)."""
    lines = [
        f"{'layer':<9} {'shape':<18} {'torch ms':>9} {'numpy ms':>9} {'fast/torch':>11} "
        f"{'naive/fast':>11}"
    ]
    for row in results["rows"]:
        r = row["results"]
        naive = r.get("numpy_naive", {}).get("ratio_to_fast")
        lines.append(
            f"{row['layer']:<9} {row['shape']:<18} {r['torch']['seconds'] * 1e3:9.2f} "
            f"{r['numpy_fast']['seconds'] * 1e3:9.2f} {r['numpy_fast']['ratio']:10.2f}x "
            + (f"{naive:10.0f}x" if naive else f"{'':>11}")
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "results" / "conv.json"
    )
    args = parser.parse_args(argv)
    results = run(args.repeat)
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
