"""Written questions (issue 15): the master format, the leak scan over rubrics, the nbgrader export's
manually graded cells, and `cnnkit grade`'s packets, scores template, merge and regrade flags."""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnnkit.grading import leaks, master, written
from cnnkit.grading.paths import repo_root, stage_dirs

ROOT = repo_root()
STAGE = "01_backprop"

TOY = """\
# %% [raw]
# # ASSIGNMENT CONFIG
# name: toy

# %%
import cnnkit
cnnkit.seed_everything(0)

# %% [markdown]
# Write f.

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %%
def f(x):
    # BEGIN SOLUTION
    return x + 1
    # END SOLUTION

# %%
\"\"\" # BEGIN TEST CONFIG
points: 1
hidden: false
\"\"\" # END TEST CONFIG
def test_q1_public(f):
    assert f(1) == 2

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: w1
# points: 2
# manual: true

# %% [markdown]
# ### Written question 1 (2 points)
# Why does f add one?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** Because the successor function is what was asked for.
#
# **Rubric (2 points).**
# - 1 point: names the successor function explicitly

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
"""


def _toy(tmp_path: Path, text: str = TOY) -> Path:
    path = tmp_path / "solutions" / "toy" / "toy.py"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ the master -----


def test_master_reads_a_written_question(tmp_path):
    m = master.read(_toy(tmp_path))
    assert m.problems() == []
    (q,) = m.written
    assert (q.name, q.manual, q.points, q.cases) == ("w1", True, 2.0, [])
    assert q.prompt.startswith("### Written question 1") and "Why does f" in q.prompt
    assert (
        q.model_answer.startswith("**Model answer.**")
        and "**Rubric (2 points).**" in q.model_answer
    )
    assert not m.question("q1").manual and m.question("q1").points == 1.0


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("# name: w1\n# points: 2\n", "# name: w1\n", "needs `points:`"),
        ("# name: w1\n", "# name: essay\n", "name it w1, w2"),
        ("# %% [markdown]\n# **Model answer.**", "# %%\n# **Model answer.**", "no SOLUTION block"),
    ],
)
def test_bad_written_questions_are_reported_with_their_line(tmp_path, old, new, message):
    assert old in TOY
    problems = master.read(_toy(tmp_path, TOY.replace(old, new))).problems()
    assert any(message in p and "toy.py:" in p for p in problems), problems


def test_stage01_has_its_written_questions_in_the_student_notebook():
    m = master.read(stage_dirs(STAGE, ROOT).master)
    assert [q.name for q in m.written][:2] == ["w1", "w2"]
    nb = json.loads(stage_dirs(STAGE, ROOT).student_nb.read_text())
    sources = ["".join(c["source"]) for c in nb["cells"]]
    for q in m.written:
        at = next(k for k, s in enumerate(sources) if q.prompt_cells[-1].source in s)
        assert nb["cells"][at + 1]["metadata"].get("tags") == ["otter_answer_cell"]
        assert sources[at + 1] == written.STUB
    text = "\n".join(sources)
    assert "**Rubric" not in text and "Model answer" not in text


# ---------------------------------------------------------------------------- the leak scan -----


def test_a_rubric_line_planted_in_a_student_file_is_found(tmp_path):
    secrets = leaks.collect_secrets(ROOT, stages=[STAGE])
    m = master.read(stage_dirs(STAGE, ROOT).master)
    rubric = next(ln for ln in m.written[0].model_answer.splitlines() if ln.startswith("- 1 point"))
    tree = tmp_path / "tree"
    tree.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"Hint:\n{rubric}\n")])
    nbformat.write(nb, str(tree / "x.ipynb"))
    kinds = {f.kind for f in leaks.scan(tree, secrets)}
    assert "rubric line" in kinds
    (tree / "x.ipynb").unlink()
    (tree / "notes.md").write_text("**Rubric (3 points).** see below\n")
    assert {f.kind for f in leaks.scan(tree, secrets)} == {"rubric marker"}


# ------------------------------------------------------------------------- nbgrader export -----


def test_nbgrader_export_makes_manually_graded_answer_cells():
    from cnnkit.grading.nbgrader import master_to_nbgrader, written_points

    nb = master_to_nbgrader(stage_dirs(STAGE, ROOT).master)
    m = master.read(stage_dirs(STAGE, ROOT).master)
    assert written_points(nb) == {q.name: q.points for q in m.written}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "markdown":
            assert meta["solution"] and not meta["locked"]
            assert "**Rubric" in cell.source


def _nbgrader(course: Path, *args: str) -> None:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", PATH=path)
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


def test_nbgrader_autograde_leaves_written_answers_to_people(tmp_path):
    """A toy master through nbgrader: the written cell is released as a stub, and autograde scores
    the code but marks the written answer as needing manual grading (no automatic score)."""
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook

    from cnnkit.grading.nbgrader import CONFIG_TEMPLATE, master_to_nbgrader

    course = tmp_path / "course"
    (course / "source" / "toy").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(CONFIG_TEMPLATE.format(course_id="toy"))
    nb = master_to_nbgrader(_toy(tmp_path))
    nbformat.write(nb, str(course / "source" / "toy" / "toy.ipynb"))
    _nbgrader(course, "db", "assignment", "add", "toy")
    _nbgrader(course, "generate_assignment", "toy", "--force")
    release = nbformat.read(str(course / "release" / "toy" / "toy.ipynb"), as_version=4)
    answer = next(
        c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "w1"
    )
    assert answer.cell_type == "markdown" and "Rubric" not in answer.source
    answer.source = "Because it was asked for."
    for c in release.cells:
        if c.cell_type == "code" and "def f(x)" in c.source:
            c.source = "def f(x):\n    return x + 1\n"
    dest = course / "submitted" / "ann" / "toy"
    dest.mkdir(parents=True)
    nbformat.write(release, str(dest / "toy.ipynb"))
    _nbgrader(course, "autograde", "toy", "--create")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        (nbk,) = gb.find_submission("toy", "ann").notebooks
        grades = {g.name: g for g in nbk.grades}
        assert grades["w1"].needs_manual_grade and grades["w1"].auto_score is None
        assert grades["w1"].max_score == 2
        assert grades["q1-test_q1_public"].auto_score == 1


# ------------------------------------------------------------------- answers and packets -----


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _answered(starter: dict, answers: dict[str, str], png: str = "") -> dict:
    """The starter notebook with answers typed into the written cells and an image output in the
    code cell right above the first question."""
    nb = copy.deepcopy(starter)
    m = master.read(stage_dirs(STAGE, ROOT).master)
    cells = nb["cells"]
    for q in m.written:
        at = next(
            k for k, c in enumerate(cells) if q.prompt_cells[-1].source in "".join(c["source"])
        )
        if q.name in answers:
            cells[at + 1]["source"] = answers[q.name]
        if png and q.name == "w1":
            code = next(c for c in reversed(cells[:at]) if c["cell_type"] == "code")
            code["outputs"] = [
                {"output_type": "stream", "name": "stdout", "text": "affine dx: 3.1e-10\n"},
                {"output_type": "display_data", "metadata": {}, "data": {"image/png": png}},
            ]
    return nb


def test_answers_are_found_escaped_and_only_valid_pngs_embedded():
    questions = written.load_questions(ROOT, STAGE)
    starter = json.loads(stage_dirs(STAGE, ROOT).student_nb.read_text())
    nb = _answered(starter, {"w1": "It is <b>tiny</b> & <script>x()</script>"}, _png())
    found = written.find_answers(nb, questions, starter)
    assert found["w1"].text.startswith("It is <b>tiny</b>")
    assert found["w1"].png and "affine dx: 3.1e-10" in found["w1"].output
    assert found["w2"].found and found["w2"].text == ""  # the stub is no answer
    entry = written.Entry("ann", "abc", found)
    page = written.packet_html(STAGE, questions[0], [entry])
    assert "&lt;script&gt;x()&lt;/script&gt;" in page and "<script>" not in page
    assert "data:image/png;base64," in page and found["w1"].hash in page
    assert "Rubric" in page.split("class='grid'")[0]  # the rubric on top
    bad = _answered(starter, {"w1": "x"}, base64.b64encode(b"<svg onload=x()>").decode())
    assert written.find_answers(bad, questions, starter)["w1"].png == ""


# ------------------------------------------------------------------------- end to end -----


def _read_csv(path: Path) -> dict[str, dict]:
    return {r["file"]: r for r in csv.DictReader(path.open())}


@pytest.mark.slow
def test_a_batch_with_written_answers_end_to_end(tmp_path, capsys):
    """Grade, fill the scores, merge (one missing), resubmit a changed answer: flagged, not kept."""
    from cnnkit import cli
    from cnnkit.grading.grade import grade

    starter = json.loads(stage_dirs(STAGE, ROOT).student_nb.read_text())
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    ann = _answered(starter, {"w1": "About 1e-9: right.", "w2": "3.16 times larger."}, _png())
    (subs / "ann.ipynb").write_text(json.dumps(ann))
    (subs / "bob.ipynb").write_text(json.dumps(_answered(starter, {"w1": "No idea."})))

    names = [q.name for q in written.load_questions(ROOT, STAGE)]
    possible = sum(q.points for q in written.load_questions(ROOT, STAGE))
    every = [(s, q) for s in ("ann.ipynb", "bob.ipynb") for q in names]
    result = grade(STAGE, [subs], out, workers=2, root=ROOT, progress=False)
    assert sorted(result.manual.missing) == every
    page = (out / "written" / "w1.html").read_text()
    assert "About 1e-9: right." in page and "No idea." in page and "data:image/png" in page
    # before any score is merged the gradebook is the auto part, and the summary says so
    assert not result.manual.active and "not graded yet" in result.summary()
    grades = _read_csv(out / "final_grades.csv")
    assert "w1" not in grades["points-per-question"]
    auto = {f: float(r["total_points_earned"]) for f, r in grades.items()}

    rows = list(csv.DictReader((out / "written" / "scores.csv").open()))
    assert [(r["student"], r["question"]) for r in rows] == every
    filled = {
        ("ann.ipynb", "w1"): ("2", "right order, no float32 reason"),
        ("ann.ipynb", "w2"): ("3", ""),
        ("bob.ipynb", "w1"): ("0", "no answer"),
        ("bob.ipynb", "w2"): ("", ""),  # the TA has not graded it yet
    }
    for r in rows:  # the questions after w2 get 0: unanswered
        r["points"], r["comment"] = filled.get((r["student"], r["question"]), ("0", ""))
    scores = tmp_path / "scores.csv"
    with scores.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=written.COLUMNS)
        w.writeheader()
        w.writerows(rows)

    code = cli.main(["grade", STAGE, str(subs), "-o", str(out), "--manual", str(scores)])
    assert code == cli.EXIT_MANUAL_MISSING  # bob's w2 has no score
    printed = capsys.readouterr().out
    assert "1 missing manual score(s)" in printed and "bob.ipynb:w2" in printed
    grades = _read_csv(out / "final_grades.csv")
    assert grades["points-per-question"]["w1"] == "3"
    assert (
        float(grades["points-per-question"]["total_points_earned"])
        == auto["points-per-question"] + possible
    )
    assert (grades["ann.ipynb"]["w1"], grades["ann.ipynb"]["w2"]) == ("2", "3")
    assert float(grades["ann.ipynb"]["total_points_earned"]) == auto["ann.ipynb"] + 5
    assert (grades["bob.ipynb"]["w1"], grades["bob.ipynb"]["w2"]) == ("0", "")
    feedback = (out / "feedback" / "ann.ipynb.md").read_text()
    assert "## w1 (written)" in feedback and "- 2 / 3 points" in feedback
    assert "TA's comment: right order, no float32 reason" in feedback
    assert "## w2 (written)" in (out / "feedback" / "bob.ipynb.md").read_text()
    assert "not graded yet" in (out / "feedback" / "bob.ipynb.md").read_text()
    results = json.loads((out / "results.json").read_text())
    bob = next(s for s in results["submissions"] if s["file"] == "bob.ipynb")
    assert bob["manual_missing"] == ["w2"] and bob["questions"]["w2"]["score"] is None

    # ann resubmits with a changed w1 answer: w1's score is not kept, w2's (unchanged) is
    changed = _answered(starter, {"w1": "About 1e-9, and float64.", "w2": "3.16 times larger."})
    (subs / "ann.ipynb").write_text(json.dumps(changed))
    result = grade(STAGE, [subs], out, workers=2, root=ROOT, progress=False)
    assert result.manual.regrade == [("ann.ipynb", "w1")]
    assert result.manual.scores["ann.ipynb"] == {"w2": 3.0} | {q: 0.0 for q in names[2:]}
    grades = _read_csv(out / "final_grades.csv")
    assert (grades["ann.ipynb"]["w1"], grades["ann.ipynb"]["w2"]) == ("", "3")
    template = {
        (r["student"], r["question"]): r
        for r in csv.DictReader((out / "written" / "scores.csv").open())
    }
    assert "regrade" in template[("ann.ipynb", "w1")]["note"]
    assert template[("ann.ipynb", "w2")]["points"] == "3"  # kept for the unchanged answer


def test_pdf_of_a_submissions_written_answers(tmp_path):
    if written.chromium() is None:
        pytest.skip("no Chromium (apt-get install chromium, or set CNNKIT_CHROMIUM)")
    questions = written.load_questions(ROOT, STAGE)
    starter = json.loads(stage_dirs(STAGE, ROOT).student_nb.read_text())
    nb = _answered(starter, {"w1": "My answer"}, _png())
    entry = written.Entry("ann", "abc", written.find_answers(nb, questions, starter))
    (pdf,) = written.pdfs(tmp_path, STAGE, questions, [entry])
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000


def test_otter_submissions_bring_their_written_answers_to_nbgrader():
    """`submission_from_otter` puts each written answer into the manually graded cell it belongs to."""
    from cnnkit.grading.nbgrader import master_to_nbgrader
    from cnnkit.grading.nbgrader_submissions import submission_from_otter

    release = master_to_nbgrader(stage_dirs(STAGE, ROOT).master)
    starter = json.loads(stage_dirs(STAGE, ROOT).student_nb.read_text())
    answered = _answered(starter, {"w1": "Mine: about 1e-10.", "w2": "3.16x"})
    theirs = nbformat.reads(json.dumps(answered), as_version=4)
    nb = submission_from_otter(theirs, release)
    cells = {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in nb.cells
        if c.cell_type == "markdown" and "nbgrader" in c.metadata
    }
    assert cells["w1"].source == "Mine: about 1e-10." and cells["w2"].source == "3.16x"
    assert (
        cells["w1"].metadata["nbgrader"]["grade"]
        and cells["w1"].metadata["nbgrader"]["points"] == 3
    )


def test_bad_rows_of_a_scores_file_are_reported_and_never_counted(tmp_path):
    q = written.WrittenQuestion("w1", 3.0, "Why?", "**Rubric**", "Why?")
    entries = [
        written.Entry(n, "h", {"w1": written.Answer("w1", f"answer of {n}", True)})
        for n in ("ann", "bob", "cy", "dee")
    ]
    h = {e.name: e.answers["w1"].hash for e in entries}
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "student,question,answer_hash,points,comment,note\n"
        f"ann,w1,{h['ann']},4,too many,\n"
        f"bob,w1,{h['bob']},two,,\n"
        f"cy,w1,,1,,\n"
        f"zed,w1,{h['ann']},1,,\n"
        f"dee,w1,{h['dee']},2.5,fine,\n"
    )
    manual = written.update(tmp_path / "out", "toy", [q], entries, scores)
    assert manual.active and manual.scores == {"dee": {"w1": 2.5}}
    assert sorted(manual.missing) == [("ann", "w1"), ("bob", "w1"), ("cy", "w1")]
    joined = "\n".join(manual.errors)
    for what in ("outside 0..3", "'two' is not a number", "no answer_hash", "unknown student"):
        assert what in joined, joined
    assert not manual.complete
    with pytest.raises(written.ManualScoresError):
        (tmp_path / "bad.csv").write_text("name,score\nann,1\n")
        written.update(tmp_path / "out", "toy", [q], entries, tmp_path / "bad.csv")
