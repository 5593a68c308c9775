"""Grading throughput: sequential `otter run` vs `cnnkit grade --workers W`, same N submissions, one run.

Usage: python bench/bench_grading.py [--stage STAGE] [--n 6] [--workers 2] [--root .]

Grades N copies of the stage's solution notebook (autograder/<stage>/solution/) with `otter run`
one after the other (what an instructor without Docker does today), then with `cnnkit grade`, and writes
bench/results/grading.json with both wall times, the throughput ratio and the scores each tool gave.
Without a built stage it builds and uses the toy stage of the tests (tests/grading/fixtures).
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", default=None, help="default: first built stage, else the toy stage")
    p.add_argument("--n", type=int, default=6)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--root", default=str(REPO))
    p.add_argument("--out", default=str(HERE / "results" / "grading.json"))
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    root = Path(args.root).resolve()
    stage = args.stage
    if stage is None:
        built = sorted(
            d.name for d in (root / "autograder").glob("*") if (d / "autograder.zip").exists()
        )
        stage = built[0] if built else None
    if stage is None:
        sys.path.insert(0, str(REPO / "tests" / "grading" / "fixtures"))
        from toy_stage import STAGE, build_toy

        root, stage = build_toy(), STAGE
    from cnnkit.grading.grade import grade

    base = root / "autograder" / stage
    zip_path, solution = base / "autograder.zip", base / "solution"
    if (base / "samples" / "solution").is_dir():  # the solution with its trained artifacts
        solution = base / "samples" / "solution"
    work = Path(tempfile.mkdtemp(prefix="cnnkit-bench-"))
    try:
        subs = []
        for i in range(args.n):
            d = work / "subs" / f"student{i:02d}"
            shutil.copytree(solution, d)
            subs.append(d)

        t0 = time.perf_counter()
        otter_scores = [
            _otter_run(zip_path, d / f"{stage}.ipynb", work / "otter" / d.name) for d in subs
        ]
        t_otter = time.perf_counter() - t0

        t0 = time.perf_counter()
        result = grade(
            stage, subs, work / "cnnkit", workers=args.workers, root=root, progress=False
        )
        t_cnnkit = time.perf_counter() - t0
        cnnkit_scores = [sum(r["scores"].values()) for r in result.rows]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    record = {
        "stage": stage,
        "n_submissions": args.n,
        "workers": args.workers,
        "otter_run_sequential_s": round(t_otter, 2),
        "cnnkit_grade_s": round(t_cnnkit, 2),
        "throughput_ratio": round(t_otter / t_cnnkit, 3),
        "note": "cnnkit time includes its reference run (preflight) once per batch; otter run "
        "copies only the notebook, so artifact cases fail there",
        "otter_scores": otter_scores,
        "cnnkit_scores": cnnkit_scores,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))
    print(f"cnnkit grade is {record['throughput_ratio']}x the throughput of sequential otter run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
