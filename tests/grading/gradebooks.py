"""Golden gradebooks: the per-question scores today's grader gives every bundled sample and every
adversarial submission, recorded in tests/grading/golden/<kind>/<stage>.json.

A refactor of the grader must keep every score identical. The tests that already grade these
submissions (test_stage_samples.py, test_adversarial.py, test_escapes.py) call `check(kind, stage,
rows)` on their one batch, so the comparison costs no extra grading; they grade with `SEED`, so the
hidden cases draw the same inputs in every run.

Re-record only when a change of scores is intended (a master's exercise changed, a sample was added,
a grading bug was fixed on purpose), and say so in the commit:

    .venv/bin/python tests/grading/gradebooks.py            # every stage, every kind
    .venv/bin/python tests/grading/gradebooks.py -k 01_backprop

It runs those test files with CNNKIT_GOLDEN_RECORD=1, where `check` writes the file instead of
comparing (the tests' other assertions still run), then shows `git diff --stat` of the recordings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
# one grading seed for every golden batch: the hidden cases' random inputs are a function of it
SEED = 20261204
# the bundled samples' limits: the default ones for a 600 s wall clock (`cnnkit grade --timeout 600`)
TIMEOUT = 600
RECORD_ENV = "CNNKIT_GOLDEN_RECORD"
TEST_FILES = ["test_stage_samples.py", "test_adversarial.py", "test_escapes.py"]


def scores(rows: list[dict]) -> dict[str, dict]:
    """Per-question scores and total of each row of a batch.

    Inputs:
    - rows: GradeResult.rows (each with "name" and "scores" {question: points}).

    Returns:
    - scores: {name: {"questions": {q: points}, "total": points}}, sorted by name.
    """
    out = {}
    for r in sorted(rows, key=lambda r: r["name"]):
        qs = {q: float(v) for q, v in sorted(r["scores"].items())}
        out[r["name"]] = {"questions": qs, "total": float(sum(qs.values()))}
    return out


def path(kind: str, stage: str) -> Path:
    return GOLDEN / kind / f"{stage}.json"


def diff(want: dict[str, dict], got: dict[str, dict]) -> list[str]:
    """Lines saying how two `scores` differ (empty when equal): `name: q recorded -> now`."""
    lines = []
    for name in sorted(set(want) | set(got)):
        if name not in got:
            lines.append(f"- {name}: recorded, not graded now")
        elif name not in want:
            lines.append(f"+ {name}: graded now, not recorded ({got[name]})")
        else:
            w, g = want[name], got[name]
            for q in sorted(set(w["questions"]) | set(g["questions"])):
                a, b = w["questions"].get(q, "absent"), g["questions"].get(q, "absent")
                if a != b:
                    lines.append(f"  {name}: {q} {a} -> {b}")
            if w["total"] != g["total"]:
                lines.append(f"  {name}: total {w['total']} -> {g['total']}")
    return lines


def check(kind: str, stage: str, rows: list[dict], seed: int | None) -> None:
    """Compare a batch's scores with the recording (or record them under CNNKIT_GOLDEN_RECORD=1).

    Inputs:
    - kind: "samples", "adversarial", "escapes-1" ... (a folder of tests/grading/golden/).
    - stage: the stage graded; rows: GradeResult.rows; seed: the batch's seed (must be SEED).

    Returns nothing; raises AssertionError with a diff on any difference.
    """
    assert seed == SEED, f"a golden batch must be graded with seed {SEED}, not {seed}"
    got = scores(rows)
    file = path(kind, stage)
    if os.environ.get(RECORD_ENV) == "1":
        file.parent.mkdir(parents=True, exist_ok=True)
        data = {"stage": stage, "kind": kind, "seed": SEED, "rows": got}
        file.write_text(json.dumps(data, indent=1) + "\n")
        return
    assert file.is_file(), f"{file} missing: record it with `python tests/grading/gradebooks.py`"
    data = json.loads(file.read_text())
    assert data["seed"] == SEED, f"{file} was recorded with seed {data['seed']}, not {SEED}"
    lines = diff(data["rows"], got)
    assert not lines, (
        f"{kind} of {stage}: scores differ from {file.relative_to(ROOT)} (recorded -> now); "
        "re-record with `python tests/grading/gradebooks.py` only if the change is intended:\n"
        + "\n".join(lines)
    )


def main(argv: list[str]) -> int:
    """Re-record: run the golden tests with CNNKIT_GOLDEN_RECORD=1 (extra args go to pytest)."""
    here = Path(__file__).resolve().parent
    env = dict(os.environ, **{RECORD_ENV: "1"})
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    cmd += [str(here / f) for f in TEST_FILES] + argv
    code = subprocess.run(cmd, env=env, cwd=ROOT).returncode
    subprocess.run(["git", "diff", "--stat", "--", str(GOLDEN)], cwd=ROOT)
    subprocess.run(["git", "status", "--short", "--", str(GOLDEN)], cwd=ROOT)
    if code:
        print("some golden tests failed: the recordings of their batches may be incomplete")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
