"""`cnnkit grade` on the toy stage that `cnnkit build` makes from tests/grading/toy/00_toy/ (the
session fixture `toy` of conftest.py; its samples are those of its samples.yml, see toystage.py).

One module-scoped batch grades every sample; the tests read its outputs. Kernel starts cost seconds
each, so the few extra batches (resume, wall-clock kill, preflight) grade one or two notebooks.
"""

import csv
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toystage import STAGE, derived, hidden_sources  # noqa: E402
from toystage import samples as built_samples  # noqa: E402

from cnnkit.grading import report as report_mod  # noqa: E402
from cnnkit.grading.contract import Limits  # noqa: E402
from cnnkit.grading.grade import PreflightError, collect_submissions, grade  # noqa: E402

pytestmark = pytest.mark.slow

LIMITS = Limits(timeout=120, cell_timeout=15)
EXPECTED = {  # name -> (q1, q2, q3); possible (3, 4, 2)
    "solution": (3, 4, 2),
    "untouched": (0, 0, 0),
    "partial-affine-no-bias": (3, 1, 2),  # the public shape case passes, the hidden values not
    "broken-raises": (3, 0, 2),  # a raise in q2's cell: q1 before and q3 after keep their points
    "stray-debug-cell": (3, 4, 2),
    "loop": (3, 4, 2),
    "foreign": (3, 4, 2),
    "cheat": (0, 0, 0),
    "exits": (3, 4, 2),
    "reader.ipynb": (0, 0, 0),
    "malformed": (0, 0, 0),
}
POSSIBLE = 9


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    """A private temp dir for the grader's own temp files, so leftovers can be checked."""
    base = tmp_path_factory.mktemp("gradetmp")
    old = tempfile.tempdir
    tempfile.tempdir = str(base)
    yield base
    tempfile.tempdir = old


@pytest.fixture(scope="module")
def samples(toy, tmp_path_factory):
    """The built samples (folders) and the submissions derived from them (toystage.derived)."""
    return {**built_samples(toy), **derived(toy, tmp_path_factory.mktemp("derived"))}


@pytest.fixture(scope="module")
def batch(toy, samples, tmp, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    subs = [samples[n] for n in EXPECTED]
    result = grade(STAGE, subs, out, workers=2, root=toy, limits=LIMITS, progress=False)
    return result, out


def _rows(out):
    with open(out / "final_grades.csv") as f:
        return list(csv.DictReader(f))


def test_every_submission_gets_its_expected_row(batch):
    result, out = batch
    rows = {r["file"]: r for r in _rows(out)}
    assert rows.pop("points-per-question")["total_points_earned"] == str(POSSIBLE)
    got = {name: tuple(int(float(r[q])) for q in ("q1", "q2", "q3")) for name, r in rows.items()}
    assert got == EXPECTED
    assert rows["malformed"]["grading_status"].startswith("malformed notebook")
    assert rows["solution"]["grading_status"] == "Completed"
    assert float(rows["partial-affine-no-bias"]["percent_correct"]) == round(6 / POSSIBLE, 4)
    exits = next(r for r in result.rows if r["name"] == "exits")
    assert "kernel died" in exits["reason"]


def test_csv_has_otter_grade_columns(batch):
    _, out = batch
    with open(out / "final_grades.csv") as f:
        header = next(csv.reader(f))
    # otter.grade.utils.merge_scores_to_df: file, sorted questions, total, percent, status
    assert header == [
        "file",
        "q1",
        "q2",
        "q3",
        "total_points_earned",
        "percent_correct",
        "grading_status",
    ]
    names = [r["file"] for r in _rows(out)][1:]
    assert names == sorted(names)


def test_results_json_and_reports_never_show_hidden_cases(batch, toy):
    result, out = batch
    data = json.loads((out / "results.json").read_text())
    subs = {s["file"]: s for s in data["submissions"]}
    q1 = subs["untouched"]["questions"]["q1"]["cases"]
    assert q1["test_square_plus_one_public"]["passed"] is False
    assert q1["test_square_plus_one_public"]["message"]  # public: a helpful message
    assert q1["test_square_plus_one_secret_inputs"] == {
        "points": 2.0,
        "earned": 0.0,
        "passed": False,
        "hidden": True,
        "message": "",
    }
    secrets = hidden_sources(toy)
    assert secrets
    texts = [(out / "report.md").read_text(), (out / "results.json").read_text()]
    texts += [p.read_text() for p in (out / "feedback").iterdir()]
    assert len(texts) == 2 + len(EXPECTED)
    for text in texts:
        for line in secrets:
            assert line not in text
    report = (out / "report.md").read_text()
    assert "`test_square_plus_one_secret_inputs` (hidden, 2 pt): FAIL" in report
    assert "| solution | 3 | 4 | 2 | 9 | ok |" in report
    summary = result.summary()
    assert "report:" in summary and str(out / "report.md") in summary
    assert "partial" in summary


def test_report_states_the_sandbox_once(batch):
    result, out = batch
    modes = {r.get("isolation", "") for r in result.rows} - {""}
    report = (out / "report.md").read_text()
    assert report.count("Sandbox: ") == (1 if modes else 0)
    if any("kernel runs as uid" in m for m in modes):  # a root grader
        # each worker's kernel ran as an unprivileged uid of its own; the report says it once
        assert 0 not in {int(m.rsplit(" ", 1)[1]) for m in modes}
        assert "; kernel runs as its own unprivileged uid." in report
    # the exit summary names the sandbox too (bwrap's allow-list, the unshare fallback or none)
    summary = result.summary()
    for mode in report_mod.sandbox_modes(result):
        assert f"sandbox: {mode}" in summary
    assert ("sandbox: " in summary) == bool(modes)


def test_rerun_is_idempotent_and_uses_the_cache(batch, samples, toy):
    result, out = batch
    before = (out / "final_grades.csv").read_bytes()
    subs = [samples[n] for n in reversed(list(EXPECTED))]
    again = grade(STAGE, subs, out, workers=2, root=toy, limits=LIMITS, progress=False)
    assert again.graded_now == 0
    assert (out / "final_grades.csv").read_bytes() == before


def test_resume_after_interruption_grades_only_the_missing_one(batch, samples, toy, tmp_path):
    result, out = batch
    names = ["solution", "untouched", "partial-affine-no-bias"]
    subs = [samples[n] for n in names]
    # an interrupted batch: two of three results made it to the cache (and the folder's state, with
    # its seed, was written before grading)
    resumed = tmp_path / "resumed"
    (resumed / ".cache").mkdir(parents=True)
    shutil.copy(out / ".cnnkit-grade.json", resumed / ".cnnkit-grade.json")
    from types import SimpleNamespace

    from cnnkit.grading.batch import cache_key
    from cnnkit.grading.grade import load_autograder
    from cnnkit.grading.runs import grader_version

    state = json.loads((out / ".cnnkit-grade.json").read_text())
    plan = SimpleNamespace(
        stage=STAGE,
        ag=load_autograder(STAGE, toy),
        grader=grader_version(Path(__import__("cnnkit").__file__).parent),
        limits=LIMITS,
        seed=state["seed"],
    )
    subs_c = {s.name: s for s in collect_submissions(subs, STAGE)}
    for name in ("solution", "untouched"):
        key = cache_key(plan, subs_c[name])
        shutil.copy(out / ".cache" / f"{key}.json", resumed / ".cache" / f"{key}.json")
    r = grade(STAGE, subs, resumed, workers=2, root=toy, limits=LIMITS, progress=False)
    assert r.graded_now == 1
    full = {row["file"]: row for row in _rows(out)}
    for row in _rows(resumed)[1:]:
        assert row == full[row["file"]]


def test_wall_clock_limit_kills_and_batch_continues(samples, toy, tmp_path, tmp):
    limits = Limits(timeout=60, cell_timeout=5)  # the solution needs ~40 s on a busy machine
    r = grade(
        STAGE,
        [samples["hang"], samples["solution"]],
        tmp_path,
        workers=2,
        root=toy,
        limits=limits,
        progress=False,
    )
    rows = {row["file"]: row for row in _rows(tmp_path)}
    assert rows["hang"]["total_points_earned"] == "0"
    assert "timed out" in rows["hang"]["grading_status"]
    assert rows["solution"]["total_points_earned"] == str(POSSIBLE)
    assert r.graded_now == 2
    # a timeout is never cached as a result: only the solution's row is, and the exit says so
    assert len(list((tmp_path / ".cache").glob("*.json"))) == 1
    assert [row["failure"] for row in r.failed] == ["timed out"]
    assert "  1 timed out: hang" in r.summary()


def test_preflight_refuses_an_environment_that_cannot_score_the_solution(samples, toy, tmp_path):
    lib = tmp_path / "lib" / "cnnkit"
    shutil.copytree(Path(__import__("cnnkit").__file__).parent, lib)
    (lib / "__init__.py").write_text("raise ImportError('No module named torchvision')\n")
    with pytest.raises(PreflightError) as err:
        grade(
            STAGE,
            [samples["solution"]],
            tmp_path / "out",
            workers=1,
            root=toy,
            limits=LIMITS,
            progress=False,
            library=lib,
        )
    text = str(err.value)
    assert "does not score full marks" in text
    assert "test_square_plus_one_public" in text and "torchvision" in text
    assert not (tmp_path / "out" / "final_grades.csv").exists()


def test_no_temp_dirs_or_processes_left(batch, tmp):
    # runs after the module's batches (pytest keeps file order)
    assert [p.name for p in Path(tmp).iterdir()] == []
    me = os.getpid()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == me:
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert str(tmp) not in cmd, cmd


def test_collect_submissions_expands_folders_and_zips(tmp_path, samples):
    import zipfile

    z = tmp_path / "bob.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(samples["untouched.ipynb"], f"{STAGE}.ipynb")
    (tmp_path / "notes.txt").write_text("x")
    subs = collect_submissions([samples["solution"], z, tmp_path / "notes.txt"], STAGE)
    kinds = {s.name: s.kind for s in subs}
    # notes.txt is nobody's submission: skipped, not a 0 row (intake.py; tests/grading/test_intake.py)
    assert kinds == {"solution": "folder", "bob.zip": "zip"}
