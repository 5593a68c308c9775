"""The grading benchmarks' own code, run on the toy stage: `bench/profile_grading.py` and
`bench/bench_grading.py` time the grader by patching the functions its modules call, so a refactor
that moves one of them (as the split of grade.py into batch.py and runs.py did) must fail here, not
at the next measurement.
"""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGE = "00_toy"

pytestmark = pytest.mark.slow


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _full(toy: Path) -> float:
    manifest = json.loads((toy / "autograder" / STAGE / "samples" / "manifest.json").read_text())
    assert any(m["name"] == "solution" for m in manifest)
    from cnnkit.grading.grade import load_autograder

    return sum(c.points for c in load_autograder(STAGE, toy).cases)


def test_profile_grading_times_the_preflight_and_the_submission(toy, tmp_path):
    row = _bench("profile_grading").profile_stage(STAGE, toy, tmp_path)
    assert row["score"] == _full(toy)
    # each timed step was reached through the patched name: none is left at zero
    for key in ("gated_copy_s", "preflight_s", "submission_notebook_s", "import_cell_s"):
        assert row[key] > 0, (key, row)
    assert row["batch_s"] > row["preflight_s"] + row["submission_notebook_s"]


def test_bench_grading_counts_the_preflight_as_setup(toy, tmp_path):
    row = _bench("bench_grading").bench_stage(STAGE, toy, n=2, workers=1, work=tmp_path)
    assert row["cnnkit_failed"] == []
    assert len(row["cnnkit_scores"]) == 2
    # otter run graded both (None: it failed)
    assert len(row["otter_scores"]) == 2 and None not in row["otter_scores"], row["otter_scores"]
    assert 0 < row["cnnkit_setup_s"] < row["cnnkit_grade_s"]
    assert row["cnnkit_per_submission_worker_s"] > 0


def test_profile_grading_fixed_costs_are_runs_that_succeeded(tmp_path):
    import cnnkit

    lib = Path(cnnkit.__file__).resolve().parents[1]
    # raises when the empty notebook or the empty artifact step did not run to the end
    costs = _bench("profile_grading")._fixed_costs(tmp_path, lib)
    assert costs["empty_notebook_s"] > 0 and costs["empty_artifact_step_s"] > 0
