"""Benchmark: cnnkit's pure-numpy conv / max-pool layers against torch, forward + backward, float64.

One process, one thread each (threadpoolctl caps numpy's BLAS and OpenMP, torch.set_num_threads(1)).
The machine is shared, so seconds are noisy and only ratios to torch timed right beside them count:
every round times every shape, numpy and torch taking turns call by call (cnnkit.timing.compare, best
of --repeat); a shape's ratio is the median of its rounds, reported with the lowest and highest round.
Goals (issue 20): fast conv and max-pool <= 1.5x torch on every shape, naive/fast conv >= 300x.

OpenBLAS kernel: where OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set (on some processors, for old
OpenBLAS builds) they pin numpy's GEMM to an older kernel. The benchmark measures whatever it is given
and records both variables and the kernel OpenBLAS runs (threadpoolctl), so a result says what it
measured; to measure a current numpy's own kernel there, unset both for this command alone
(`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...`), never in tests or CI.

    .venv/bin/python bench/bench_conv.py [--rounds 7] [--repeat 5] [--out bench/results/conv.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_info, threadpool_limits

from cnnkit.numeric import conv_layers, fast_layers
from cnnkit.timing import compare

GOAL_FAST_OVER_TORCH = 1.5
GOAL_NAIVE_OVER_FAST = 300

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
    ("3x3-overlap-alexnet", (10, 96, 55, 55), (3, 2)),
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


def _cases(rng):
    """Every timed shape: (row description, its functions)."""
    cases = []
    for name, xshape, (nf, k), stride, pad in CONV_SHAPES:
        x = rng.standard_normal(xshape)
        w, b = rng.standard_normal((nf, xshape[1], k, k)), rng.standard_normal(nf)
        row = {"layer": "conv", "shape": name, "x": xshape, "w": (nf, xshape[1], k, k),
               "stride": stride, "pad": pad}  # fmt: skip
        cases.append((row, _conv_fns(x, w, b, stride, pad)))
    for name, xshape, (size, stride) in POOL_SHAPES:
        x = rng.standard_normal(xshape)
        row = {"layer": "max_pool", "shape": name, "x": xshape, "pool": size, "stride": stride}
        cases.append((row, _pool_fns(x, size, stride)))
    return cases


def _blas():
    """The BLAS numpy runs (library, version, kernel) and the variables that can pin its kernel."""
    info = [
        {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    env = {name: os.environ.get(name) for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return {"numpy_blas": info, "env": env}


def run(rounds: int = 7, repeat: int = 5) -> dict:
    """Time every shape in `rounds` interleaved rounds; returns the JSON-able results."""
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        blas = _blas()
        cases = _cases(np.random.default_rng(0))
        per_round = [[] for _ in cases]
        # Rounds outermost: a burst of load on the shared machine lands in one round of each shape,
        # not in every round of one shape.
        for _ in range(rounds):
            for i, (_, fns) in enumerate(cases):
                per_round[i].append(compare(fns, "torch", repeat=repeat))
        rows = []
        for (row, _), results in zip(cases, per_round, strict=True):
            ratios = [r["numpy_fast"]["ratio"] for r in results]
            rows.append({
                **row,
                "torch_ms_best": min(r["torch"]["seconds"] for r in results) * 1e3,
                "numpy_ms_best": min(r["numpy_fast"]["seconds"] for r in results) * 1e3,
                "ratio_median": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "ratios": ratios,
                "goal_met": statistics.median(ratios) <= GOAL_FAST_OVER_TORCH,
            })  # fmt: skip
        # The naive loops take seconds per call: one timed call each, fast and torch beside them.
        name, xshape, (nf, k), stride, pad = NAIVE_SHAPE
        rng = np.random.default_rng(1)
        x = rng.standard_normal(xshape)
        w, b = rng.standard_normal((nf, xshape[1], k, k)), rng.standard_normal(nf)
        r = compare(_conv_fns(x, w, b, stride, pad, with_naive=True), "torch", repeat=1, warmup=0)
        naive_over_fast = r["numpy_naive"]["seconds"] / r["numpy_fast"]["seconds"]
        naive = {"layer": "conv", "shape": name, "x": xshape, "w": (nf, xshape[1], k, k),
                 "stride": stride, "pad": pad,
                 "naive_ms": r["numpy_naive"]["seconds"] * 1e3,
                 "fast_ms": r["numpy_fast"]["seconds"] * 1e3,
                 "naive_over_fast": naive_over_fast,
                 "goal_met": naive_over_fast >= GOAL_NAIVE_OVER_FAST}  # fmt: skip
    return {
        "benchmark": "numpy conv/pool layers vs torch, forward+backward, float64, one thread each",
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "goals": {
            "fast_over_torch_max": GOAL_FAST_OVER_TORCH,
            "naive_over_fast_min": GOAL_NAIVE_OVER_FAST,
        },  # fmt: skip
        "machine": {
            "platform": platform.platform(),
            "processor": _cpu_model(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            **blas,
        },
        "rounds": rounds,
        "repeat": repeat,
        "rows": rows,
        "naive": naive,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def table(results: dict) -> str:
    """The results as a text table (one line per layer and shape)."""
    lines = [
        f"{'layer':<9} {'shape':<20} {'torch ms':>9} {'numpy ms':>9} {'fast/torch median':>18} "
        f"{'(lowest-highest round)':>23}"
    ]
    for row in results["rows"]:
        lines.append(
            f"{row['layer']:<9} {row['shape']:<20} {row['torch_ms_best']:9.2f} "
            f"{row['numpy_ms_best']:9.2f} {row['ratio_median']:17.2f}x "
            f"{'':>6}({row['ratio_min']:.2f}-{row['ratio_max']:.2f})"
            + ("" if row["goal_met"] else "  over the goal")
        )
    n = results["naive"]
    lines.append(
        f"naive/fast conv ({n['shape']}): {n['naive_over_fast']:.0f}x "
        f"({n['naive_ms']:.0f} ms vs {n['fast_ms']:.2f} ms)"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "results" / "conv.json"
    )
    args = parser.parse_args(argv)
    env = {k: v for k, v in _blas()["env"].items() if v is not None}
    if env:
        print(f"note: {env} pin numpy's OpenBLAS kernel for this run (see the docstring)")
    results = run(args.rounds, args.repeat)
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
