"""Post-processing of a graded batch: the files derived from its rows and notebooks.

After `cnnkit grade` (and `cnnkit merge`) writes final_grades.csv and results.json, this writes
- hidden_messages.json: failure messages of hidden cases (instructor-only: never hand it out),
- exercises.json: each submission's code per exercise, read from the notebook JSON (never run),
- similarity.json: flagged pairs (similarity.compare) when the stage's student notebook is there,
- report.html: the class analytics page (report_html).
"""

from __future__ import annotations

import json
from pathlib import Path

from cnnkit.grading import analytics, exercises, report_html, similarity

EXERCISES = "exercises.json"
SIMILARITY = "similarity.json"
REPORT_HTML = "report.html"


def starter_notebook(stage: str, root: Path) -> Path:
    """The stage's student notebook (its starter code is the similarity check's boilerplate)."""
    return Path(root) / "assignments" / stage / f"{stage}.ipynb"


def submission_code(stage: str, root: Path, subs: list) -> dict:
    """{"exercises": [names], "code": {file: {exercise: code}}, "unreadable": {file: reason}}."""
    starter = starter_notebook(stage, root)
    if not starter.exists():
        return {"exercises": [], "code": {}, "unreadable": {}}
    exs = exercises.starter_exercises(starter)
    code, unreadable = {}, {}
    for s in subs:
        try:
            # a student folder's chosen notebook (intake.py), not its copies
            nb = exercises.read_notebook_json(s.path / s.notebook if s.notebook else s.path)
            code[s.name] = exercises.student_code(nb, exs)
        except Exception as err:  # noqa: BLE001 - any odd notebook JSON: one row's code, not the batch
            unreadable[s.name] = f"{type(err).__name__}: {err}"[:200]
    return {"exercises": [e.name for e in exs], "code": code, "unreadable": unreadable}


def finish(out: Path, stage: str, root: Path, rows: list[dict], subs: list) -> None:
    """Write hidden_messages.json, exercises.json, similarity.json and report.html of a batch.

    Inputs:
    - out: the batch's output folder (results.json already written).
    - stage, root: the stage and the kit's checkout (for the student notebook).
    - rows: grade()'s rows (with hidden messages); subs: the graded Submissions (their notebooks).
    """
    out = Path(out)
    write_json(out / analytics.HIDDEN_MESSAGES, analytics.hidden_messages(rows))
    write_json(out / EXERCISES, submission_code(stage, root, subs))
    derive(out, stage, root)


def derive(out: Path, stage: str, root: Path) -> None:
    """similarity.json and report.html from the batch's results.json and exercises.json."""
    out = Path(out)
    data = json.loads((out / EXERCISES).read_text())
    starter = starter_notebook(stage, root)
    sim_path = out / SIMILARITY
    if data["code"] and starter.exists():
        exs = exercises.starter_exercises(starter)
        sim_path.write_text(similarity.compare(data["code"], exs).to_json())
    elif sim_path.exists():
        sim_path.unlink()
    report_html.write(out)


def write_json(path: Path, data) -> None:
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
