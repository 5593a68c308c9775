"""Otter-built submissions -> nbgrader submissions, for courses that collect otter notebooks but grade
with nbgrader (`cnnkit export-nbgrader` writes the course).

`submission_from_otter()` turns a notebook students filled in from the otter build (as the bundled
samples are) into an nbgrader submission of the generated release notebook: code cells are aligned by
what they define, the student's code fills the answer cells, grade cells keep the release's source.
"""

from __future__ import annotations

import copy
import difflib
import re
import textwrap

import nbformat

from cnnkit.grading import master
from cnnkit.grading.nbgrader import GUARD, guard_source

_OTTER_CELL = re.compile(
    r"otter\.Notebook\(|grader\.check(_all)?\(|grader\.export\(|^\s*%pip install .*otter", re.M
)


def _key(source: str) -> str:
    names = list(master.definitions(source))
    if names:
        return "def:" + ",".join(names)
    first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    return "line:" + first


def submission_from_otter(submitted, release_nb) -> nbformat.NotebookNode:
    """Put a student's otter-built notebook into the nbgrader release notebook's cells.

    Code cells of both are aligned by what they define (or their first line); the student's code
    replaces the release's answer and ordinary cells, cells the student added are inserted, grade cells
    keep the release's (locked) source. otter_ignore cells get the grading guard.

    Inputs:
    - submitted: the student's notebook (otter student build, filled in).
    - release_nb: the notebook `nbgrader generate_assignment` wrote to release/<a>/.

    Returns:
    - nb: a notebook to place in submitted/<student>/<a>/.
    """
    nb = copy.deepcopy(release_nb)
    theirs = [
        c.source
        for c in submitted.cells
        if c.cell_type == "code" and not _OTTER_CELL.search(c.source)
    ]
    slots = [
        k
        for k, c in enumerate(nb.cells)
        if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade")
    ]

    def plain(source: str) -> str:
        if source.startswith(GUARD):
            return textwrap.dedent(source[len(GUARD) :])
        return source

    ours = [_key(plain(nb.cells[k].source)) for k in slots]
    matcher = difflib.SequenceMatcher(None, ours, [_key(s) for s in theirs], autojunk=False)
    inserts: list[tuple[int, list[str]]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("equal", "replace"):
            for a, b in zip(range(i1, i2), range(j1, j2), strict=False):
                _fill(nb.cells[slots[a]], theirs[b])
            for a in range(i1 + (j2 - j1), i2):  # student deleted these cells
                _fill(nb.cells[slots[a]], "")
            if j2 - j1 > i2 - i1:
                inserts.append((slots[i2 - 1] + 1 if i2 else 0, theirs[j1 + (i2 - i1) : j2]))
        elif op == "delete":
            for a in range(i1, i2):
                _fill(nb.cells[slots[a]], "")
        elif op == "insert":
            at = slots[i1 - 1] + 1 if i1 else (slots[0] if slots else len(nb.cells))
            inserts.append((at, theirs[j1:j2]))
    for at, sources in sorted(inserts, reverse=True):
        nb.cells[at:at] = [nbformat.v4.new_code_cell(s) for s in sources]
    _fill_written(nb, submitted, release_nb)
    for k, c in enumerate(nb.cells):
        c.id = f"cell-{k:03d}"
    return nb


def _fill_written(nb, submitted, release_nb) -> None:
    """The student's written answers (otter answer cells) into the release's manually graded
    markdown cells, found after the same prompt as `cnnkit grade` finds them (written.py)."""
    from cnnkit.grading import written

    questions = []
    for k, c in enumerate(nb.cells):
        meta = c.metadata.get("nbgrader", {})
        if c.cell_type == "markdown" and meta.get("grade") and meta.get("solution") and k:
            prompt = nb.cells[k - 1].source
            questions.append(written.WrittenQuestion(meta["grade_id"], 0.0, prompt, "", prompt))
    if not questions:
        return
    found = written.find_answers(
        nbformat.from_dict(submitted), questions, nbformat.from_dict(release_nb)
    )
    for c in nb.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if c.cell_type == "markdown" and gid in found and found[gid].found:
            c.source = found[gid].text or c.source


def _fill(cell, source: str) -> None:
    tags = cell.metadata.get("tags", [])
    cell.source = guard_source(source) if "otter_ignore" in tags else source
