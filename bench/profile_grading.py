"""Where one submission's grading time goes, per stage: sandbox and kernel start, the notebook, the
artifact step, the preflight.

Usage: python bench/profile_grading.py [--stage 01_backprop ...] [--root .] [--out FILE]

Per stage it grades the bundled "solution" sample alone (`--workers 1`, so nothing overlaps) with the
sandbox calls timed, and runs two empty jobs through the same sandbox for the fixed costs: a
one-cell notebook (sandbox + runner + kernel start and shutdown) and an artifact step with no case
(sandbox + `python -I` + the probe's imports). It also times the solution's import cell (the first
code cell with two or more import lines) in a fresh interpreter, median of three: what every graded
kernel pays before the student's first line, and what a kernel forked from a pre-imported process
would not. Writes bench/results/grading_profile.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _timed(fn, log: list, label: str):
    def wrapper(*args, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            log.append((label, time.perf_counter() - t0))

    return wrapper


def _fixed_costs(work: Path, lib: Path) -> dict:
    """Seconds of an empty notebook and an empty artifact step in the sandbox."""
    import nbformat

    from cnnkit.grading.sandbox import Limits, execute, execute_checks

    limits = Limits(timeout=300, cell_timeout=120)
    nb_dir = work / "empty-nb"
    (nb_dir / "sub").mkdir(parents=True)
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]),
        str(nb_dir / "sub" / "e.ipynb"),
    )
    t0 = time.perf_counter()
    ran = execute(Path("e.ipynb"), nb_dir, lib, limits)
    empty_kernel = time.perf_counter() - t0
    box = work / "empty-checks"
    records = box / "records"
    spec = {
        "mode": "check",
        "seed": 0,
        "out": str(records),
        "tests": [],
        "checks_source": "",
        "always": [],
        "pristine": {},
        "case_seconds": 60,
        "memory_bytes": limits.memory_bytes,
    }
    (box / "sub").mkdir(parents=True)
    t0 = time.perf_counter()
    checked = execute_checks(spec, box, lib, limits, writable=[records])
    empty_checks = time.perf_counter() - t0
    # a run that failed early would time less than a real start
    for what, outcome in (("empty notebook", ran), ("empty artifact step", checked)):
        if outcome.status != "ok" or outcome.reason:
            raise RuntimeError(f"{what}: {outcome.status} {outcome.reason}")
    return {
        "empty_notebook_s": round(empty_kernel, 2),
        "empty_artifact_step_s": round(empty_checks, 2),
    }


def _import_cell_seconds(solution: Path, work: Path, runs: int = 3) -> float:
    """Median seconds of a fresh interpreter running the notebook's import cell (the grader's
    kernel environment: CNNKIT_GRADING, Agg, one thread), less a bare interpreter's start."""
    import statistics

    import nbformat

    nb = nbformat.read(str(solution), as_version=4)
    cell = next(
        c.source
        for c in nb.cells
        if c.cell_type == "code"
        and sum(ln.startswith(("import ", "from ")) for ln in c.source.splitlines()) >= 2
    )
    env = {**os.environ, "CNNKIT_GRADING": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}

    def median(code: str) -> float:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, cwd=work, check=True)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    return round(median(cell) - median("pass"), 2)


def profile_stage(stage: str, root: Path, work: Path) -> dict:
    from cnnkit.grading import batch as batch_mod
    from cnnkit.grading import grade as grade_mod
    from cnnkit.grading import runs as runs_mod

    log: list = []
    # each patched where its caller looks it up
    patched = {
        (runs_mod, "execute"): runs_mod.execute,
        (runs_mod, "execute_checks"): runs_mod.execute_checks,
        (batch_mod, "reference_run"): batch_mod.reference_run,
        (batch_mod, "gated_copy"): batch_mod.gated_copy,
    }
    for (mod, name), fn in patched.items():
        setattr(mod, name, _timed(fn, log, name))
    try:
        sample = root / "autograder" / stage / "samples" / "solution"
        t0 = time.perf_counter()
        res = grade_mod.grade(stage, [sample], work / stage, workers=1, root=root, progress=False)
        total = time.perf_counter() - t0
    finally:
        for (mod, name), fn in patched.items():
            setattr(mod, name, fn)
    # calls in order: gated_copy, reference_run(execute, execute_checks), execute, execute_checks
    ref = sum(s for label, s in log if label == "reference_run")
    runs = [(label, s) for label, s in log if label in ("execute", "execute_checks")]
    sub = runs[len(runs) // 2 :]
    return {
        "stage": stage,
        "score": sum(res.rows[0]["scores"].values()),
        "batch_s": round(total, 2),
        "gated_copy_s": round(sum(s for label, s in log if label == "gated_copy"), 2),
        "preflight_s": round(ref, 2),
        "submission_notebook_s": round(sum(s for label, s in sub if label == "execute"), 2),
        "submission_artifact_step_s": round(
            sum(s for label, s in sub if label == "execute_checks"), 2
        ),
        "import_cell_s": _import_cell_seconds(sample / f"{stage}.ipynb", work),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", action="append", default=None)
    p.add_argument("--root", default=str(REPO))
    p.add_argument("--out", default=str(HERE / "results" / "grading_profile.json"))
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    root = Path(args.root).resolve()
    from cnnkit.grading.stage import NAMES

    stages = args.stage or list(NAMES)
    import cnnkit

    lib = Path(cnnkit.__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="cnnkit-profile-") as tmp:
        work = Path(tmp)
        fixed = _fixed_costs(work, lib)
        rows = [profile_stage(s, root, work) for s in stages]
    record = {
        "fixed": fixed,
        "stages": rows,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
