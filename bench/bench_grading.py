"""Grading throughput per stage: sequential `otter run` vs `cnnkit grade --workers W`, same submissions,
one run.

Usage: python bench/bench_grading.py [--stage STAGE ...] [--n 12] [--workers 2] [--root .]

Per stage, N submissions are made from the stage's bundled samples (autograder/<stage>/samples: the
solution, the untouched notebook, the partial and broken ones; not `malformed`, which costs nothing),
cycled, each a student folder of its own whose notebook carries its own name in a markdown cell: the
contents differ, so `cnnkit grade`'s row cache cannot serve one copy's row to another. Then:

1. baseline: `otter run` on each notebook, one after the other (an instructor without Docker);
2. `cnnkit grade --workers W` into a fresh output folder: a fresh seed, so the preflight runs
   (timed on its own: "setup"), then every submission;
3. the throughput ratio (1) / (2), and the same ratio for a batch whose preflight is reused
   (preflight_cache.py: a regrade, late submissions appended, a resumed batch), (1) / ((2) - setup);
4. per-submission cost: W x ((2) - setup) / N, the worker-seconds one submission takes.

Writes bench/results/grading.json (with the load average before and after each stage: the machine is
shared, and the ratio is measured within one run for that reason).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cnnkit.grading.stage import NAMES

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _otter_run(zip_path: Path, nb: Path, out: Path) -> float | None:
    out.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [str(Path(sys.executable).parent / "otter"), "run", "-a", str(zip_path), "-o", str(out)]
        + [str(nb)],
        capture_output=True,
        text=True,
        cwd=nb.parent,
        check=False,
    )
    res = out / "results.json"
    if r.returncode != 0 or not res.exists():
        return None
    # Gradescope format: per-question entries carry "score"; the "Public Tests" summary does not
    tests = json.loads(res.read_text()).get("tests", [])
    return float(sum(t["score"] for t in tests if t.get("score") is not None))


def make_submissions(base: Path, n: int, dest: Path) -> list[Path]:
    """N student folders cycled from the stage's samples, each notebook marked with its name.

    Inputs:
    - base: autograder/<stage> (samples/manifest.json lists the samples and their artifacts).
    - n: how many; dest: where to write them.

    Returns:
    - folders: dest/studentNN, each holding the sample's notebook and artifact files.
    """
    import nbformat

    manifest = json.loads((base / "samples" / "manifest.json").read_text())
    samples = [e for e in manifest if e["name"] in sample_names(base)]
    folders = []
    for i in range(n):
        entry = samples[i % len(samples)]
        src = (base / "samples" / entry["file"]).resolve()
        d = dest / f"student{i:02d}"
        d.mkdir(parents=True)
        nb = nbformat.read(src, as_version=4)
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"Submitted by student{i:02d}"))
        nbformat.write(nb, d / f"{base.name}.ipynb")
        for art in entry.get("artifacts", []):
            f = src.parent / Path(art).name
            if f.is_file():
                shutil.copyfile(f, d / f.name)
        folders.append(d)
    return folders


def sample_names(base: Path) -> list[str]:
    """The samples make_submissions cycles through, in order."""
    manifest = json.loads((base / "samples" / "manifest.json").read_text())
    return [e["name"] for e in manifest if e.get("name") != "malformed"]


def bench_stage(stage: str, root: Path, n: int, workers: int, work: Path) -> dict:
    from cnnkit.grading import batch as batch_mod
    from cnnkit.grading import grade as grade_mod

    real = batch_mod.reference_run  # the batch calls it once: the preflight ("setup")
    base = root / "autograder" / stage
    subs = make_submissions(base, n, work / stage / "subs")
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    otter_scores = [
        _otter_run(base / "autograder.zip", d / f"{stage}.ipynb", work / stage / "otter" / d.name)
        for d in subs
    ]
    t_otter = time.perf_counter() - t0

    setup = []

    def timed(*args, **kw):
        t = time.perf_counter()
        try:
            return real(*args, **kw)
        finally:
            setup.append(time.perf_counter() - t)

    batch_mod.reference_run = timed
    try:
        t0 = time.perf_counter()
        result = grade_mod.grade(
            stage, subs, work / stage / "cnnkit", workers=workers, root=root, progress=False
        )
        t_cnnkit = time.perf_counter() - t0
    finally:
        batch_mod.reference_run = real
    t_setup = sum(setup)
    per_sub = workers * (t_cnnkit - t_setup) / n
    return {
        "stage": stage,
        "n_submissions": n,
        "samples_cycled": sample_names(base),
        "workers": workers,
        "otter_run_sequential_s": round(t_otter, 1),
        "otter_run_per_submission_s": round(t_otter / n, 2),
        "cnnkit_grade_s": round(t_cnnkit, 1),
        "cnnkit_setup_s": round(t_setup, 1),
        "cnnkit_per_submission_worker_s": round(per_sub, 2),
        "throughput_ratio": round(t_otter / t_cnnkit, 2),
        "throughput_ratio_preflight_reused": round(t_otter / (t_cnnkit - t_setup), 2),
        "otter_scores": otter_scores,
        "cnnkit_scores": [sum(r["scores"].values()) for r in result.rows],
        "cnnkit_failed": [r["name"] for r in result.rows if r["status"] != "Completed"],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", action="append", default=None, help=f"default: {list(NAMES)}")
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--root", default=str(REPO))
    p.add_argument("--out", default=str(HERE / "results" / "grading.json"))
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    root = Path(args.root).resolve()
    rows: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="cnnkit-bench-"))
    try:
        for stage in args.stage or NAMES:
            rows.append(bench_stage(stage, root, args.n, args.workers, work))
            print(json.dumps(rows[-1], indent=1), flush=True)
            _write(Path(args.out), rows)  # each stage as it ends: a long run keeps what it measured
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in rows:
        print(
            f"{r['stage']}: {r['throughput_ratio']}x sequential otter run "
            f"({r['throughput_ratio_preflight_reused']}x with the preflight reused), "
            f"{r['cnnkit_per_submission_worker_s']} s per submission"
        )
    return 0


def _write(out: Path, rows: list[dict]) -> None:
    record = {
        "benchmark": "cnnkit grade --workers W vs sequential otter run, same submissions, one run",
        "note": "cnnkit times include the preflight (setup) once per batch; otter run copies only "
        "the notebook, so its artifact cases fail; per-submission cost is worker-seconds",
        "stages": rows,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
