"""Shared fixtures of the grader's tests: the toy stage built once per run, and the bundled samples'
gradebook of each stage, graded once per run.

`toy`: the toy stage of toystage.py (`tests/grading/toy/00_toy/`, authored as a course stage) built
with its samples by `cnnkit build` under a temp checkout, once per pytest run whichever xdist worker
asks first (under a file lock in the run's shared temp dir). Readers must not write into it (copy it
first, as test_preflight_cache.py does).

`bundled(stage)`: kernel runs dominate the suite, and several modules read the same batch
(test_stage_samples.py: every stage; test_nbgrader.py, test_gradescope.py: stage 01). It grades every
sample of autograder/<stage>/samples/ with the golden seed (gradebooks.SEED) the first time any test
of the run asks, whichever xdist worker that is: the batch goes to a folder of the run's shared temp
dir under a file lock, and the other workers wait on the lock and read the same folder.

Readers must not write into `SampleBatch.out`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

sys.path.insert(0, str(Path(__file__).parent))
import gradebooks  # noqa: E402
import toystage  # noqa: E402

ROOT = gradebooks.ROOT
TIMEOUT = gradebooks.TIMEOUT


@dataclass(frozen=True)
class SampleBatch:
    """One `cnnkit grade` of a stage's bundled samples (all of them, seed gradebooks.SEED)."""

    stage: str
    out: Path  # the output folder (final_grades.csv, results.json, report.md, feedback/, .cache/)
    manifest: list[dict]  # autograder/<stage>/samples/manifest.json
    rows: dict[str, dict]  # GradeResult.rows by submission name
    results: dict[str, dict]  # results.json's submissions by file name
    seed: int
    questions: list[str]
    possible: dict[str, float]
    graded_now: int


def _manifest(stage: str) -> list[dict]:
    path = ROOT / "autograder" / stage / "samples" / "manifest.json"
    if not path.is_file():
        pytest.fail(f"{stage}: no bundled samples; run `cnnkit build --samples {stage}`")
    return json.loads(path.read_text())


def _grade(stage: str, folder: Path) -> None:
    from cnnkit.grading.grade import grade

    samples = ROOT / "autograder" / stage / "samples"
    subs = [samples / m["name"] for m in _manifest(stage)]
    result = grade(
        stage,
        subs,
        out=folder / "out",
        workers=2,
        timeout=TIMEOUT,
        root=ROOT,
        progress=False,
        seed=gradebooks.SEED,
    )
    info = {
        "seed": result.seed,
        "questions": result.questions,
        "possible": result.possible,
        "graded_now": result.graded_now,
        "rows": result.rows,
    }
    (folder / "batch.json").write_text(json.dumps(info, default=str))


def _load(stage: str, folder: Path) -> SampleBatch:
    info = json.loads((folder / "batch.json").read_text())
    out = folder / "out"
    results = json.loads((out / "results.json").read_text())["submissions"]
    return SampleBatch(
        stage=stage,
        out=out,
        manifest=_manifest(stage),
        rows={r["name"]: r for r in info["rows"]},
        results={Path(r["file"]).name: r for r in results},
        seed=info["seed"],
        questions=info["questions"],
        possible=info["possible"],
        graded_now=info["graded_now"],
    )


def _shared_dir(tmp_path_factory) -> Path:
    """The run's temp dir that every xdist worker sees (each worker's basetemp sits inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def toy(tmp_path_factory) -> Path:
    """The checkout holding the built toy stage: solutions/, assignments/ and autograder/00_toy/
    (autograder.zip, solution/, samples/ with manifest.json); see toystage.py."""
    shared = _shared_dir(tmp_path_factory)
    root, failed = shared / "toy-root", shared / "toy-failed.txt"
    with FileLock(str(shared / "toy-root.lock")):
        if failed.is_file():
            pytest.fail(f"building the toy stage failed: {failed.read_text()}")
        if not (root / "built").is_file():
            shutil.rmtree(root, ignore_errors=True)
            try:
                toystage.build(root)
            except Exception as e:  # told once to every reader, not built again
                failed.write_text(f"{type(e).__name__}: {e}")
                raise
            (root / "built").write_text("ok")
    return root


@pytest.fixture(scope="session")
def bundled(tmp_path_factory):
    """`bundled(stage) -> SampleBatch`: the stage's samples graded once per run (see the docstring)."""
    shared = _shared_dir(tmp_path_factory)
    memo: dict[str, SampleBatch] = {}

    def get(stage: str) -> SampleBatch:
        if stage not in memo:
            folder = shared / f"bundled-{stage}"
            failed = folder / "failed.txt"
            with FileLock(str(shared / f"bundled-{stage}.lock")):
                if failed.is_file():
                    pytest.fail(
                        f"{stage}: grading the bundled samples failed: {failed.read_text()}"
                    )
                if not (folder / "batch.json").is_file():
                    folder.mkdir(exist_ok=True)
                    try:
                        _grade(stage, folder)
                    except Exception as e:  # told once to every reader, not graded again
                        failed.write_text(f"{type(e).__name__}: {e}")
                        raise
            memo[stage] = _load(stage, folder)
        return memo[stage]

    return get
