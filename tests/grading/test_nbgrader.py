"""`cnnkit export-nbgrader`: the masters as nbgrader source notebooks, graded like `cnnkit grade`."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest

from cnnkit.grading import leaks, master, written
from cnnkit.grading.nbgrader import (
    GUARD,
    RedactHiddenTests,
    export,
    guard_source,
    master_to_nbgrader,
    question_points,
    solution_source,
)
from cnnkit.grading.nbgrader_submissions import submission_from_otter
from cnnkit.grading.paths import repo_root, stage_dirs
from cnnkit.grading.stage import NAMES as STAGES

pytest.importorskip("nbgrader")

ROOT = repo_root()
MASTERS = [s for s in STAGES if stage_dirs(s, ROOT).master.is_file()]
NBGRADER = [sys.executable, "-m", "nbgrader"]
STAGE = "01_backprop"
# Sample submissions graded by both systems (a full, an empty, two realistic bugs, a stray raise).
SAMPLES = ["solution", "untouched", "partial-db-axis", "partial-momentum-sign", "broken-raises"]


def _otter_cases(stage: str) -> dict[str, tuple[str, float, bool]]:
    """{test name: (question, points, hidden)} from the built otter autograder (the other grader)."""
    from cnnkit.grading.grade import load_autograder

    ag = load_autograder(stage, ROOT)
    return {c.name: (c.question, float(c.points), bool(c.hidden)) for c in ag.cases}


def _built(stage: str) -> bool:
    return stage_dirs(stage, ROOT).autograder_zip.is_file()


# ------------------------------------------------------------------------------ conversion -----


@pytest.mark.parametrize("stage", MASTERS)
def test_every_case_becomes_a_graded_cell_with_its_points(stage, tmp_path):
    path = export(stage, tmp_path / "course", ROOT)
    assert path == tmp_path / "course" / "source" / stage / f"{stage}.ipynb"
    assert (tmp_path / "course" / "nbgrader_config.py").is_file()
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    graded = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        assert meta["schema_version"] == 3
        assert set(meta) >= {"grade", "solution", "locked", "grade_id"}
        if cell.cell_type == "markdown":  # a written question: a manually graded answer cell
            assert meta["grade"] and meta["solution"] and not meta["locked"]
            assert meta["grade_id"] in {
                q.name for q in master.read(stage_dirs(stage, ROOT).master).written
            }
            continue
        if meta["grade"]:
            assert meta["locked"] and not meta["solution"]
            tree = ast.parse(cell.source)  # `### ...` delimiters are comments
            (func,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
            call = tree.body[-1]
            assert isinstance(call, ast.Expr) and call.value.func.id == func.name
            hidden = cell.source.startswith("### BEGIN HIDDEN TESTS")
            assert hidden == cell.source.rstrip().endswith("### END HIDDEN TESTS")
            assert "TEST CONFIG" not in cell.source
            graded[func.name] = (meta["grade_id"].split("-")[0], float(meta["points"]), hidden)
        else:
            assert meta["solution"] and not meta["locked"]
            assert "### BEGIN SOLUTION" in cell.source
            assert "# BEGIN SOLUTION\n" not in cell.source.replace("### BEGIN SOLUTION", "")
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids))
    if _built(stage):
        assert graded == _otter_cases(stage)
        from cnnkit.grading.grade import load_autograder

        possible = load_autograder(stage, ROOT).possible()
        points = {q: sum(v.values()) for q, v in question_points(nb).items()}
        assert points == pytest.approx(possible)


@pytest.mark.parametrize("stage", MASTERS)
def test_solution_cells_hold_the_masters_code(stage):
    """Every solution cell is the master's cell with only the solution markers changed."""

    def code(source: str) -> list[str]:
        return [
            re.sub(r"\s*#\s?SOLUTION\s*$", "", line)
            for line in source.splitlines()
            if not re.match(r"^\s*#+\s*(BEGIN|END) SOLUTION( NO PROMPT)?\s*$", line)
        ]

    nb = master_to_nbgrader(stage_dirs(stage, ROOT).master)
    masters = [
        c
        for c in master.read(stage_dirs(stage, ROOT).master).cells
        if c.cell_type == "code" and c.block == "solution" and c.source.strip()
    ]
    ours = [
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    ]
    assert len(ours) == len(masters)
    for cell, mcell in zip(ours, masters, strict=True):
        assert code(cell.source) == code(mcell.source)
        assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION") > 0


def test_solution_markers_and_prompts():
    lines = [
        "def f(x):",
        "    # BEGIN SOLUTION NO PROMPT",
        "    y = x + 1",
        "    # END SOLUTION",
        "    # BEGIN PROMPT",
        "    y = ...",
        "    # END PROMPT",
        "    z = y * 2  # SOLUTION",
        "    return z",
    ]
    assert solution_source(lines).splitlines() == [
        "def f(x):",
        "    ### BEGIN SOLUTION",
        "    y = x + 1",
        "    ### END SOLUTION",
        "    ### BEGIN SOLUTION",
        "    z = y * 2",
        "    ### END SOLUTION",
        "    return z",
    ]


def test_heavy_cells_are_guarded_and_run_outside_grading():
    src = 'x = 1\nfor i in range(3):\n    x += i\nprint("done", x)'
    guarded = guard_source(src)
    assert guarded.startswith(GUARD) and guard_source(guarded) == guarded
    for grading, expected in (("0", "done 4\n"), ("1", "")):
        env = dict(os.environ, CNNKIT_GRADING=grading)
        proc = subprocess.run(
            [sys.executable, "-c", guarded], capture_output=True, text=True, env=env, check=True
        )
        assert proc.stdout == expected
    assert guard_source("%timeit f()") == "%timeit f()"  # magics cannot be indented


def test_feedback_preprocessor_drops_hidden_source_and_tracebacks():
    cell = nbformat.v4.new_code_cell(
        "### BEGIN HIDDEN TESTS\ndef test_secret():\n    assert 41 == 42\n### END HIDDEN TESTS",
        metadata={"nbgrader": {"grade": True, "grade_id": "q1-test_secret"}},
    )
    cell.outputs = [
        nbformat.v4.new_output(
            "error", ename="AssertionError", evalue="", traceback=["assert 41 == 42"]
        )
    ]
    cell, _ = RedactHiddenTests().preprocess_cell(cell, {}, 0)
    # the cell's random id may contain "41": look at what the student sees, source and outputs
    text = json.dumps({"source": cell.source, "outputs": cell.outputs})
    assert "41" not in text and "test_secret" not in cell.source
    assert "q1-test_secret: failed (AssertionError)" in text


# ----------------------------------------------------------------------------- nbgrader run -----


def _nbgrader(course: Path, *args: str, timeout: int = 1800) -> str:
    # nbgrader runs `alembic` (its gradebook migrations) from PATH: use the current environment's.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", PATH=path)
    proc = subprocess.run(
        [*NBGRADER, *args],
        cwd=course,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A temporary course (SQLite gradebook) with the stage-01 master exported and released."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    export(STAGE, course, ROOT)
    _nbgrader(course, "db", "assignment", "add", STAGE)
    _nbgrader(course, "generate_assignment", STAGE, "--force")
    assert (course / "gradebook.db").is_file()
    return course


@pytest.mark.slow
def test_generated_student_version_has_no_solutions_or_hidden_tests(course):
    released = course / "release" / STAGE
    findings = leaks.scan(released, leaks.collect_secrets(ROOT, stages=[STAGE]))
    assert findings == []
    nb = nbformat.read(str(released / f"{STAGE}.ipynb"), as_version=4)
    assert any("raise NotImplementedError()" in c.source for c in nb.cells)


@pytest.mark.slow
def test_nbgrader_scores_equal_cnnkit_grade(course, bundled):
    samples = stage_dirs(STAGE, ROOT).samples
    if not all((samples / s / f"{STAGE}.ipynb").is_file() for s in SAMPLES):
        pytest.skip("bundled samples missing (cnnkit build --samples)")
    release_nb = nbformat.read(str(course / "release" / STAGE / f"{STAGE}.ipynb"), as_version=4)
    for name in SAMPLES:
        dest = course / "submitted" / name / STAGE
        dest.mkdir(parents=True, exist_ok=True)
        theirs = nbformat.read(str(samples / name / f"{STAGE}.ipynb"), as_version=4)
        nbformat.write(submission_from_otter(theirs, release_nb), str(dest / f"{STAGE}.ipynb"))
        for f in sorted((samples / name).iterdir()):
            if f.suffix != ".ipynb":
                shutil.copyfile(f, dest / f.name)  # trained parameters: graded as submitted
    _nbgrader(course, "autograde", STAGE, "--create")

    from nbgrader.api import Gradebook

    essays = {q.name for q in written.load_questions(ROOT, STAGE)}
    assert essays  # the stage has written questions, so the manual path is exercised
    nbg: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in SAMPLES:
            scores: dict[str, float] = defaultdict(float)
            for notebook in gb.find_submission(STAGE, name).notebooks:
                for grade in notebook.grades:
                    if grade.name in essays:
                        # left to people, as `cnnkit grade` does; nbgrader scores an answer cell the
                        # student never changed 0 without asking a TA
                        assert grade.needs_manual_grade or grade.auto_score == 0, grade.name
                        continue
                    scores[grade.name.split("-", 1)[0]] += grade.score
            nbg[name] = dict(scores)

    # `cnnkit grade`'s rows of the same samples: the run's shared gradebook (conftest.py)
    shared = bundled(STAGE)
    ours = {name: shared.rows[name]["scores"] for name in SAMPLES}
    for name in SAMPLES:
        assert nbg[name] == pytest.approx(ours[name]), name
    # and the scores are the ones the samples were written for
    assert nbg["solution"] == pytest.approx(shared.possible)
    assert sum(nbg["untouched"].values()) == 0
    assert 0 < sum(nbg["partial-db-axis"].values()) < sum(shared.possible.values())

    # Feedback for students: hidden cases reduced to pass/fail, no source, no traceback.
    _nbgrader(course, "generate_feedback", STAGE)
    html = (course / "feedback" / "partial-db-axis" / STAGE / f"{STAGE}.html").read_text()
    hidden = [c for c in master.read(stage_dirs(STAGE, ROOT).master).cells if c.hidden]
    names = [re.search(r"def (test_\w+)", c.source).group(1) for c in hidden]
    assert names and not [n for n in names if n in html]
    assert "q3-hidden: failed" in html  # the db-axis bug fails the hidden affine case
    assert "test_q3_affine_lecture_matmul" in html  # public cases keep their source
