"""Timing helpers that report speedups as ratios measured in the same run.

Absolute seconds depend on the machine and on whatever else runs on it; a ratio to a baseline timed
right beside it (naive vs vectorized, numpy vs torch) is what a notebook should print and test.
"""

from __future__ import annotations

import time


def time_fn(fn, *, repeat=5, number=1, warmup=1):
    """Best wall-clock time of one call of fn, like timeit: the minimum over repeats.

    The minimum is the least noisy estimate: other processes only ever add time.

    Inputs:
    - fn: a function of no arguments.
    - repeat: how many timed measurements to take (>= 1).
    - number: calls per measurement; the measurement is divided by it.
    - warmup: untimed calls first (caches, lazy init, allocator).

    Returns:
    - seconds: a float, the best seconds per call.
    """
    if repeat < 1 or number < 1:
        raise ValueError("time_fn: repeat and number must be >= 1")
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def compare(fns, baseline, repeat=5, number=1, warmup=1, verbose=False):
    """Time several functions in one run and give each one's ratio to the baseline's time.

    Measurements are interleaved (round robin over the functions, `repeat` rounds) so a burst of load
    on the machine hits every function alike instead of only the one timed at that moment.

    Inputs:
    - fns: dict name -> function of no arguments.
    - baseline: the name (a key of fns) whose time is ratio 1.
    - repeat, number, warmup: as in time_fn.
    - verbose: print a small table.

    Returns:
    - results: dict name -> {"seconds": best seconds per call, "ratio": seconds / baseline seconds};
      a ratio of 40 means 40 times slower than the baseline.
    """
    if baseline not in fns:
        raise KeyError(f"compare: baseline {baseline!r} is not one of {sorted(fns)}")
    best = {name: float("inf") for name in fns}
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    for _ in range(repeat):
        for name, fn in fns.items():
            best[name] = min(best[name], time_fn(fn, repeat=1, number=number, warmup=0))
    base = best[baseline]
    results = {
        name: {"seconds": s, "ratio": s / base if base > 0 else float("inf")}
        for name, s in best.items()
    }
    if verbose:
        for name, r in results.items():
            print(f"{name:<24} {r['seconds'] * 1e3:10.3f} ms  {r['ratio']:8.2f}x {baseline}")
    return results
