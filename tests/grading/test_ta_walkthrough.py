"""A TA's afternoon on stage 01, end to end through the `cnnkit` command.

A messy class folder (an LMS download's nested folder, a `-Copy1` beside the real notebook,
`.ipynb_checkpoints`, `__MACOSX`, a PDF, notes, a stray top-level notebook, the Unicode pair
`müller`/`mäller`, a student who forgot the artifact, one whose slow cell must be interrupted, one
malformed notebook) is graded, the run is interrupted with Ctrl-C, resumed, and regraded with another
timeout. The batch is graded once per module (kernel runs cost ~10 s each); the tests read it.
"""

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import nbformat
import pytest

from cnnkit import checks
from cnnkit.cli import main
from cnnkit.grading.grade import load_autograder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STAGE = "01_backprop"
SAMPLES = ROOT / "autograder" / STAGE / "samples"
NB = f"{STAGE}.ipynb"
ART = "twolayer_params.npz"
SLOW_CELL = "import time\ntime.sleep(1000)  # left from a long experiment\n"
# The bundled samples' recorded scores (test_stage_samples.py checks them), so this walkthrough follows the
# stage's points as they change.
GOLDEN = json.loads((ROOT / "tests/grading/golden/samples" / f"{STAGE}.json").read_text())["rows"]
FULL = GOLDEN["solution"]["total"]
# (total, grading_status) per student
EXPECTED = {
    "alice": (FULL, "Completed"),
    # partial-db-axis; a -Copy1 of the untouched notebook beside it
    "bob": (GOLDEN["partial-db-axis"]["total"], "Completed"),
    # the solution without its twolayer_params.npz: the artifact cases (q6) earn nothing
    "dave": (FULL - GOLDEN["solution"]["questions"]["q6"], "Completed"),
    "erin": (FULL, "Completed"),  # a cell that sleeps: interrupted, the rest still runs
    "frank": (0, "malformed notebook"),
    "mäller": (0, "Completed"),  # the untouched notebook
    "müller": (FULL, "Completed"),
}


def _student(dest: Path, sample: str, artifact: bool = True) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(SAMPLES / sample / NB, dest / NB)
    if artifact:
        shutil.copy(SAMPLES / "solution" / ART, dest / ART)
    return dest


def _messy_class(base: Path) -> Path:
    subs = base / "class"
    _student(subs / "alice" / "submission_2026-11-30", "solution")
    bob = _student(subs / "bob", "partial-db-axis")
    shutil.copy(SAMPLES / "untouched" / NB, bob / f"{STAGE}-Copy1.ipynb")
    (bob / ".ipynb_checkpoints").mkdir()
    shutil.copy(SAMPLES / "solution" / NB, bob / ".ipynb_checkpoints" / f"{STAGE}-checkpoint.ipynb")
    (bob / "answers.pdf").write_bytes(b"%PDF-1.4\n")
    _student(subs / "dave", "solution", artifact=False)
    erin = _student(subs / "erin", "solution")
    nb = nbformat.read(erin / NB, as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell(SLOW_CELL))
    nbformat.write(nb, erin / NB)
    _student(subs / "frank", "malformed", artifact=False)
    # unzipped on macOS; the solution with a note of their own (an exact copy of alice's would
    # share her cache entry: same files, same verdicts)
    mueller = _student(subs / unicodedata.normalize("NFD", "müller"), "solution")
    nb = nbformat.read(mueller / NB, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("Submitted by Müller."))
    nbformat.write(nb, mueller / NB)
    _student(subs / "mäller", "untouched", artifact=False)
    (subs / "__MACOSX" / "bob").mkdir(parents=True)
    (subs / "__MACOSX" / "bob" / f"._{NB}").write_bytes(b"\0\5\26\7")
    (subs / "notes.txt").write_text("frank: resubmission pending\n")
    shutil.copy(SAMPLES / "solution" / NB, subs / NB)  # a stray notebook: nobody's
    return subs


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["grade", STAGE, *args])
    return code, out.getvalue()


def _csv(out: Path) -> dict[str, dict]:
    import csv

    with open(out / "final_grades.csv", encoding="utf-8") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    base = tmp_path_factory.mktemp("ta")
    subs = _messy_class(base)
    out = base / "grades"
    cmd = [sys.executable, "-m", "cnnkit.cli", "grade", STAGE, str(subs), "-o", str(out)]
    # 1. graded one at a time, interrupted (Ctrl-C) once the first row is in the cache
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [*cmd, "--workers", "1", "--timeout", "120"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 400
    while not list((out / ".cache").glob("*.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    interrupted = proc.wait(timeout=120)
    state1 = json.loads((out / ".cnnkit-grade.json").read_text())
    cached1 = len(list((out / ".cache").glob("*.json")))
    csv1 = (out / "final_grades.csv").exists()
    # 2. resumed: the cached rows stay, the rest is graded
    code2, text2 = _cli(str(subs), "-o", str(out), "--timeout", "120")
    csv2 = (out / "final_grades.csv").read_bytes()
    results2 = json.loads((out / "results.json").read_text())
    # 3. regraded with another timeout: every row again, on the same seed
    code3, text3 = _cli(str(subs), "-o", str(out), "--timeout", "100")
    return {
        "subs": subs,
        "out": out,
        "interrupted": interrupted,
        "state1": state1,
        "cached1": cached1,
        "csv1": csv1,
        "run2": (code2, text2, csv2, results2),
        "run3": (code3, text3),
    }


def test_interrupted_run_leaves_the_cache_and_no_half_gradebook(walk):
    assert walk["interrupted"] != 0
    assert walk["cached1"] >= 1
    assert not walk["csv1"]  # outputs are written at the end, atomically
    # the seed was recorded before grading, so the resumed run judged on the same inputs
    assert walk["state1"]["seed"] == walk["run2"][3]["seed"]


def test_resume_grades_only_what_is_missing_and_says_what_failed(walk):
    code, text, _, _ = walk["run2"]
    assert code == 3  # frank's row failed to grade
    done = next(ln for ln in text.splitlines() if ln.startswith("7 submission(s)"))
    graded_now = int(done.split(", ")[1].split()[0])
    assert graded_now == 7 - walk["cached1"]
    assert "1 could not be graded (0 points):" in text
    assert "  1 malformed notebook: frank" in text
    assert "3 path(s) skipped, nobody's submission:" in text
    assert "  1 macOS archive metadata" in text


def test_every_student_gets_the_right_row_and_nothing_else_is_a_row(walk):
    rows = _csv(walk["out"])
    assert float(rows.pop("points-per-question")["total_points_earned"]) == FULL
    assert sorted(rows) == sorted(EXPECTED)
    for name, (total, status) in EXPECTED.items():
        assert float(rows[name]["total_points_earned"]) == total, name
        assert rows[name]["grading_status"].startswith(status), (name, rows[name])
    assert rows["dave"]["q6"] == "0"


def test_regrade_with_another_timeout_regrades_everyone_to_the_same_scores(walk):
    code, text = walk["run3"]
    assert code == 3
    assert "7 submission(s), 7 graded now" in text
    assert (walk["out"] / "final_grades.csv").read_bytes() == walk["run2"][2]
    results = json.loads((walk["out"] / "results.json").read_text())
    assert results["seed"] == walk["run2"][3]["seed"]
    # one cache entry per row and limit set (frank's malformed notebook is a verdict on its file;
    # timeouts are never cached: test_grade.py's hang sample)
    assert len(list((walk["out"] / ".cache").glob("*.json"))) == 2 * 7


def test_feedback_files_are_per_student_unicode_and_tell_what_was_graded(walk):
    fb = walk["out"] / "feedback"
    assert sorted(p.name for p in fb.iterdir()) == sorted(f"{n}.md" for n in EXPECTED)
    assert f"**Total: {FULL:g} / {FULL:g}**" in (fb / "müller.md").read_text()
    assert f"**Total: 0 / {FULL:g}**" in (fb / "mäller.md").read_text()
    bob = (fb / "bob.md").read_text()
    assert f"Graded notebook: `{NB}`" in bob
    assert f"Not graded: {STAGE}-Copy1.ipynb (a copy)" in bob
    assert "Not graded: .ipynb_checkpoints/ (Jupyter checkpoints)" in bob
    assert "Could not be graded" not in bob
    frank = (fb / "frank.md").read_text()
    assert "Your submission could not be graded: malformed notebook" in frank
    results = json.loads((walk["out"] / "results.json").read_text())
    by = {s["file"]: s for s in results["submissions"]}
    assert by["müller"]["feedback"] == "feedback/müller.md"
    assert by["alice"]["notebook"] == NB
    skipped = {Path(s["path"]).name: s["reason"] for s in results["skipped"]}
    assert set(skipped) == {"__MACOSX", "notes.txt", NB}
    report = (walk["out"] / "report.md").read_text()
    assert f"- `{walk['subs'] / 'notes.txt'}`: not a notebook, folder or zip" in report


def _grader_check_message(notebook: Path, case: str) -> str:
    """What `grader.check` shows for a public case: the test run in "check" mode on the
    student's own functions (the notebook's cells that define them)."""
    nb = nbformat.read(notebook, as_version=4)
    ns = {"np": __import__("numpy")}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(("def affine_", "def relu_")):
            exec(cell.source, ns)
    ag = load_autograder(STAGE, ROOT)
    (c,) = [c for c in ag.cases if c.name == case]
    exec(c.source, ns)
    checks._end()
    with pytest.raises(checks.CheckFailed) as fail:
        ns[case](**{p: ns[p] for p in c.params})
    return str(fail.value)


def test_public_feedback_shows_the_students_own_values_as_grader_check_does(walk):
    case = "test_q3_affine_numeric_gradients"
    shown = _grader_check_message(walk["subs"] / "bob" / NB, case)
    assert shown == "db shape: your value (4,) is not the expected one"
    line = next(
        ln
        for ln in (walk["out"] / "feedback" / "bob.md").read_text().splitlines()
        if f"`{case}`" in ln
    )
    message = line.split(" — ", 1)[1]
    assert message.split("; ")[0] == shown
    # the student's relative error (inf: wrong shape), not the reference's 1e-12
    assert "db matches numeric: db: relative error inf vs the numeric gradient" in message
    assert "e-12 vs" not in message


def test_rerun_on_part_of_the_class_replaces_the_gradebook_and_append_merges(walk, tmp_path):
    out, subs = walk["out"], walk["subs"]
    code, text = _cli(str(subs / "alice"), str(subs / "bob"), "-o", str(out), "--timeout", "100")
    assert code == 0 and "2 submission(s), 0 graded now" in text
    assert sorted(_csv(out)) == ["alice", "bob", "points-per-question"]
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["alice.md", "bob.md"]
    code, text = _cli(str(subs / "dave"), "-o", str(out), "--timeout", "100", "--append")
    assert code == 0
    assert sorted(_csv(out)) == ["alice", "bob", "dave", "points-per-question"]
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["alice.md", "bob.md", "dave.md"]


def test_force_regrades_the_named_student_and_seed_reproduces(walk, tmp_path):
    out, subs = walk["out"], walk["subs"]
    seed = json.loads((out / "results.json").read_text())["seed"]
    args = ["-o", str(out), "--timeout", "100", "--append"]
    code, text = _cli(str(subs / "alice"), str(subs / "bob"), *args, "--force", "bob")
    assert code == 0
    assert "2 submission(s), 1 graded now, 1 from the cache; 1 row(s) of earlier runs kept" in text
    assert "skipped" not in text  # bob's checkpoints are listed as his, not as skipped paths
    # the same seed in a fresh folder: the same hidden inputs, the same verdicts case by case
    fresh = tmp_path / "again"
    code, text = _cli(str(subs / "bob"), "-o", str(fresh), "--timeout", "100", "--seed", str(seed))
    assert code == 0
    cases = [json.loads((d / "results.json").read_text())["submissions"] for d in (out, fresh)]
    bob = [next(s for s in subs_ if s["file"] == "bob")["questions"] for subs_ in cases]
    assert bob[0] == bob[1]
    # a mistyped name is refused before anything is graded
    assert _cli(str(subs / "bob"), *args, "--force", "bobby")[0] == 1
