"""The student-written code of each exercise, read from a submission's notebook JSON (never run).

An exercise is a cell that `otter assign` tags `otter_assign_solution_cell`; the student notebook under
`assignments/<stage>/` holds the starter code of each one (its boilerplate for the similarity check).
Exercises are named by the first function or class the starter cell defines (else "cell N").
Submissions are read as JSON only: nothing from them is imported or executed.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

SOLUTION_TAG = "otter_assign_solution_cell"
# the largest notebook read from an otter export zip: a guard against zip bombs
MAX_NOTEBOOK_BYTES = 64 * 1024**2


@dataclass(frozen=True)
class Exercise:
    """One exercise: its name and the starter code the student notebook gives."""

    name: str
    starter: str


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _solution_cells(nb: dict) -> list[str]:
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a notebook: no list of cells")
    out = []
    for c in cells:
        if not isinstance(c, dict) or c.get("cell_type") != "code":
            continue
        tags = (c.get("metadata") or {}).get("tags") or []
        if isinstance(tags, list) and SOLUTION_TAG in tags:
            out.append(_source(c))
    return out


def starter_exercises(student_notebook: Path) -> list[Exercise]:
    """The exercises of a stage, from its student notebook.

    Inputs:
    - student_notebook: assignments/<stage>/<stage>.ipynb (the starter code).

    Returns:
    - exercises: in notebook order, names unique.
    """
    nb = json.loads(Path(student_notebook).read_text(encoding="utf-8"))
    exercises, seen = [], set()
    for i, code in enumerate(_solution_cells(nb), start=1):
        m = re.search(r"^\s*(?:def|class)\s+([A-Za-z_]\w*)", code, flags=re.M)
        name = m.group(1) if m else f"cell {i}"
        if name in seen:
            name = f"{name} (cell {i})"
        seen.add(name)
        exercises.append(Exercise(name, code))
    return exercises


def read_notebook_json(path: Path) -> dict:
    """The notebook of a submission (an .ipynb, a folder holding one, or an otter export zip) as JSON.

    Raises ValueError with a reason for anything else (no notebook, two notebooks, bad JSON).
    """
    path = Path(path)
    if path.is_dir():
        nbs = sorted(p for p in path.iterdir() if p.suffix == ".ipynb" and p.is_file())
        if len(nbs) != 1:
            raise ValueError(f"{len(nbs)} notebooks in the folder")
        return json.loads(nbs[0].read_text(encoding="utf-8"))
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                infos = [
                    i
                    for i in zf.infolist()
                    if i.filename.endswith(".ipynb") and "__MACOSX" not in i.filename
                ]
                if len(infos) != 1:
                    raise ValueError(f"{len(infos)} notebooks in the zip")
                if infos[0].file_size > MAX_NOTEBOOK_BYTES:
                    raise ValueError("notebook too large")
                return json.loads(zf.read(infos[0]).decode("utf-8"))
        except zipfile.BadZipFile as err:
            raise ValueError(f"not a valid zip file: {err}") from err
    return json.loads(path.read_text(encoding="utf-8"))


def student_code(notebook: dict, exercises: list[Exercise]) -> dict[str, str]:
    """The code a student wrote for each exercise (matched by position among the tagged cells).

    Inputs:
    - notebook: the submission's notebook JSON.
    - exercises: the stage's exercises (starter_exercises).

    Returns:
    - {exercise name: cell source}; an exercise whose cell is missing gets "".
    """
    cells = _solution_cells(notebook)
    return {e.name: (cells[i] if i < len(cells) else "") for i, e in enumerate(exercises)}
