"""`cnnkit export-nbgrader STAGE --out COURSE`: a master as an nbgrader source notebook.

The same master that otter builds from becomes `COURSE/source/<stage>/<stage>.ipynb` plus a
`COURSE/nbgrader_config.py` (course id, exchange, per-cell timeout, grading env, feedback without
hidden test source). Cell mapping:

- raw marker cells (ASSIGNMENT CONFIG, BEGIN/END QUESTION, SOLUTION, TESTS) are dropped;
- solution code: inline `# BEGIN SOLUTION` / `# END SOLUTION` become `### BEGIN SOLUTION` /
  `### END SOLUTION` (a `# SOLUTION` line end becomes a one-line region, otter prompts are dropped);
  the cell is an "autograded answer" (solution, not graded) with grade_id `<question>-<name>`;
- each test cell (one `test_<what>(<names>)` function) becomes a read-only autograder cell worth the
  case's points (grade_id `<question>-<test name>`, hidden ones `<question>-hidden[-k]`, since
  grade ids reach students); its TEST CONFIG docstring is removed and a call is appended that looks the
  parameters up in the notebook's globals by name (`test_x(**{p: globals().get(p) ...})`), so
  `cnnkit.checks` runs in "check" mode exactly as under `grader.check`; hidden cases are wrapped in
  `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS`;
- a written question (`manual: true`, see README "Written questions"): its prompt is copied, its
  SOLUTION markdown (model answer and rubric) becomes one nbgrader "manually graded answer" cell
  (markdown, grade and solution, the question's points, grade_id `<question>`): `nbgrader
  generate_assignment` replaces its text by an answer stub, `autograde` leaves it for manual grading;
- cells tagged `otter_ignore` (training, timing) run only when CNNKIT_GRADING is not set: they are
  wrapped in `if not cnnkit.grading_mode():`, and the course config sets CNNKIT_GRADING=1, so
  `nbgrader autograde` grades the submitted artifact files as `cnnkit grade` does;
- everything else is copied as is.

Points are per test cell and all-or-nothing, like otter's per-case points; a question's score is the
sum of its cells. nbgrader is an instructor tool (the `instructor` extra): it never goes into a
student install (it pins jupyterlab<5 and enables its extensions wherever it is installed).

Courses that collect otter notebooks but grade with nbgrader convert them with
`nbgrader_submissions.submission_from_otter`.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from cnnkit.grading import master
from cnnkit.grading.notebooks import KERNELSPEC
from cnnkit.grading.paths import stage_dirs

GUARD = 'if not __import__("cnnkit").grading_mode():  # skipped while grading (otter_ignore)\n'

CONFIG_TEMPLATE = '''\
"""nbgrader course configuration written by `cnnkit export-nbgrader` (edit freely)."""

import os

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Shared-filesystem exchange for release_assignment / fetch_assignment / submit / collect.
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")

# Per-cell time limit while autograding (the old ExecutePreprocessor.timeout alone is ignored).
c.Execute.timeout = 600
c.Execute.interrupt_on_timeout = True

# The notebooks' heavy cells (training, timing) skip while grading; trained parameters are graded
# from the files submitted next to the notebook, as `cnnkit grade` does. CI mode keeps the rest short.
os.environ.setdefault("CNNKIT_GRADING", "1")
os.environ.setdefault("CNNKIT_CI", "1")

# Feedback handed to students: hidden tests removed from the source and their output reduced to
# pass/fail (a failing traceback would otherwise show the hidden assert).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "cnnkit.grading.nbgrader.RedactHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
'''


class ExportError(ValueError):
    """The master cannot be exported (a test cell without exactly one test function, ...)."""


# --------------------------------------------------------------------------------------------------
# Cell conversion


def solution_source(lines: list[str]) -> str:
    """A solution cell's code with otter's inline markers turned into nbgrader's.

    Inputs:
    - lines: the cell's lines from the master.

    Returns:
    - source: `### BEGIN SOLUTION` / `### END SOLUTION` regions, otter prompt blocks removed.
    """
    out, in_prompt = [], False
    for line in lines:
        if master.PROMPT_BEGIN.match(line):
            in_prompt = True
        elif master.PROMPT_END.match(line):
            in_prompt = False
        elif in_prompt:
            continue
        elif m := master.INLINE_BEGIN.match(line):
            out.append(f"{m[1]}### BEGIN SOLUTION")
        elif m := master.INLINE_END.match(line):
            out.append(f"{m[1]}### END SOLUTION")
        elif m := master.LINE_SOLUTION.search(line):
            code = line[: m.start()].rstrip()
            indent = code[: len(code) - len(code.lstrip())]
            out += [f"{indent}### BEGIN SOLUTION", code, f"{indent}### END SOLUTION"]
        else:
            out.append(line)
    return "\n".join(out)


def test_cell_source(source: str, hidden: bool) -> tuple[str, str]:
    """A master test cell as nbgrader autograder code: the function plus a call with globals.

    Inputs:
    - source: the master test cell (TEST CONFIG docstring + one `def test_...(names)`).
    - hidden: wrap everything in nbgrader's hidden-tests delimiters.

    Returns:
    - (name, source): the test function's name and the cell source.
    """
    body = master.TEST_CONFIG.sub("", source).strip("\n")
    tree = ast.parse(body)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    if len(funcs) != 1:
        raise ExportError(f"a test cell must define exactly one test function:\n{source[:300]}")
    func = funcs[0]
    params = [a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs]
    if params:
        names = ", ".join(repr(p) for p in params) + ("," if len(params) == 1 else "")
        call = f"{func.name}(**{{_p: globals().get(_p) for _p in ({names})}})"
    else:
        call = f"{func.name}()"
    text = f"{body}\n\n\n{call}"
    if hidden:
        text = f"### BEGIN HIDDEN TESTS\n{text}\n### END HIDDEN TESTS"
    return func.name, text


def guard_source(source: str) -> str:
    """An otter_ignore cell's code, run only outside grading (see the module docstring)."""
    if not source.strip() or source.startswith(GUARD):
        return source
    lines = source.splitlines()
    if any(ln.lstrip().startswith(("%", "!")) for ln in lines):
        return source  # IPython magics cannot be indented under an `if`; left to run
    return GUARD + textwrap.indent(source, "    ", lambda ln: True).rstrip("\n")


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points=None) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if grade:
        meta["points"] = points
    return meta


def master_to_nbgrader(path: Path) -> nbformat.NotebookNode:
    """An nbgrader source notebook from an otter master (jupytext percent .py).

    Inputs:
    - path: solutions/<stage>/<stage>.py.

    Returns:
    - nb: the notebook (nbformat 4), cells converted as the module docstring says.
    """
    cells, ids = [], set()

    def unique(grade_id: str) -> str:
        base, k = re.sub(r"[^\w\-]", "_", grade_id), 1
        grade_id = base
        while grade_id in ids:
            k += 1
            grade_id = f"{base}-{k}"
        ids.add(grade_id)
        return grade_id

    model = master.read(path)
    written = {q.name: q for q in model.written}
    answer_of: dict[str, nbformat.NotebookNode] = {}
    for cell in model.cells:
        text, question = cell.source, cell.question
        if cell.cell_type == "raw":
            if cell.marker is None and text.strip():
                cells.append(nbformat.v4.new_raw_cell(text))
            continue
        if cell.cell_type == "markdown" and cell.block == "solution" and question in written:
            if question in answer_of:  # one answer cell per written question
                answer_of[question].source += "\n\n" + text
                continue
            meta = _meta(
                unique(question),
                grade=True,
                solution=True,
                locked=False,
                points=written[question].points,
            )
            answer_of[question] = nbformat.v4.new_markdown_cell(text, metadata={"nbgrader": meta})
            cells.append(answer_of[question])
            continue
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(text))
            continue
        meta: dict = {"tags": list(cell.tags)} if cell.tags else {}
        if cell.block == "tests":
            if not text.strip():
                continue
            cfg = master.test_config(text)
            hidden = cfg["hidden"] or cell.hidden
            name, source = test_cell_source(text, hidden)
            # grade ids reach students (release metadata): hidden cases get anonymous ones
            label = "hidden" if hidden else name
            meta["nbgrader"] = _meta(
                unique(f"{question or 'tests'}-{label}"),
                grade=True,
                solution=False,
                locked=True,
                points=cfg["points"],
            )
        elif cell.block == "solution" or master.has_inline_markers(cell.lines):
            source = solution_source(cell.lines)
            names = list(master.definitions(source))
            label = names[0] if names else f"cell{len(cells)}"
            meta["nbgrader"] = _meta(
                unique(f"{question or 'answer'}-{label}"), grade=False, solution=True, locked=False
            )
        elif "otter_ignore" in cell.tags:
            source = guard_source(text)
        else:
            source = text
        cells.append(nbformat.v4.new_code_cell(source, metadata=meta))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = nbformat.from_dict(
        {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    )
    for k, c in enumerate(nb.cells):
        c.id = f"cell-{k:03d}"
    nbformat.validate(nb)
    return nb


def written_points(nb) -> dict[str, float]:
    """{grade_id: points} of an exported notebook's manually graded answer cells (markdown)."""
    return {
        c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
        for c in nb.cells
        if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")
    }


def question_points(nb) -> dict[str, dict[str, float]]:
    """{question: {grade_id: points}} of an exported notebook's autograder cells."""
    out: dict[str, dict[str, float]] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            gid = meta["grade_id"]
            out.setdefault(gid.split("-", 1)[0], {})[gid] = float(meta["points"])
    return out


def export(stage: str, out: Path, root: Path, course_id: str = "cnnkit") -> Path:
    """Write an nbgrader course folder with the stage's master as source notebook.

    Inputs:
    - stage: e.g. "01_backprop".
    - out: the course folder (created; an existing nbgrader_config.py is kept).
    - root: the kit's checkout.
    - course_id: nbgrader's CourseDirectory.course_id.

    Returns:
    - path: out/source/<stage>/<stage>.ipynb.
    """
    dirs = stage_dirs(stage, Path(root))
    if not dirs.master.is_file():
        raise ExportError(f"no master for {stage}: {dirs.master} is missing")
    nb = master_to_nbgrader(dirs.master)
    out = Path(out)
    config = out / "nbgrader_config.py"
    if not config.exists():
        out.mkdir(parents=True, exist_ok=True)
        config.write_text(CONFIG_TEMPLATE.format(course_id=course_id), encoding="utf-8")
    dest = out / "source" / stage / f"{stage}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return dest


# --------------------------------------------------------------------------------------------------
# Feedback without hidden test source


class RedactHiddenTests(Preprocessor):
    """nbconvert preprocessor for `nbgrader generate_feedback`: hidden test cells show no source and
    only pass/fail (the exception's type) as output."""

    # nbgrader registers feedback preprocessors without enabling them; nbconvert skips disabled ones.
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and "BEGIN HIDDEN TESTS" in cell.source:
            failed = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            gid = cell.metadata.get("nbgrader", {}).get("grade_id", "hidden test")
            verdict = f"failed ({failed[0].get('ename', 'error')})" if failed else "passed"
            cell.source = "# hidden tests (source not shown)"
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=f"{gid}: {verdict}\n")
            ]
        return cell, resources
