"""LMS export: a Canvas-importable gradebook CSV and a plain (student id, score) CSV from a roster.

The roster is a CSV with columns `student_id`, `name`, `file` (the gradebook's `file` value of that
student's submission, or its stem: `alice` matches `alice.ipynb`, `alice/`, `alice.zip`) and, when
Canvas should match on them, `sis_user_id`, `sis_login_id`, `section`. Canvas's import format is its
own export's: Student, ID, SIS User ID, SIS Login ID, Section, then one column "<assignment> (<id>)";
Canvas matches rows on ID (its user id: the roster's student_id), then SIS User ID, then SIS Login ID.
Neither file holds a points-possible row: Canvas takes the points from the assignment.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from cnnkit.grading.report import _num

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
ROSTER_REQUIRED = ("student_id", "name", "file")


class RosterError(ValueError):
    """A roster that cannot key the export (missing columns, duplicate ids or files)."""


@dataclass(frozen=True)
class Student:
    student_id: str
    name: str
    file: str
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


def read_roster(path: Path) -> list[Student]:
    """The roster's students, in file order; raises RosterError on missing columns or duplicates."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ROSTER_REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise RosterError(f"{path}: the roster lacks the column(s) {', '.join(missing)}")
        students = [
            Student(**{k: (row.get(k) or "").strip() for k in Student.__dataclass_fields__})
            for row in reader
        ]
    for col in ("student_id", "file"):
        values = [getattr(s, col) for s in students]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes or "" in values:
            raise RosterError(f"{path}: empty or duplicate {col}: {', '.join(dupes) or '(empty)'}")
    return students


def _stem(file: str) -> str:
    name = file.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".ipynb", ".zip"):
        name = name.removesuffix(suffix)
    return name


def match(roster: list[Student], files: list[str]) -> tuple[dict[str, Student], list[str]]:
    """Pair gradebook files with roster students (exact `file`, else the same stem).

    Returns:
    - ({file: student}, files that match nobody).
    """
    exact = {s.file: s for s in roster}
    by_stem = {_stem(s.file): s for s in roster}
    found, unknown = {}, []
    for f in files:
        s = exact.get(f) or by_stem.get(_stem(f))
        if s is None:
            unknown.append(f)
        else:
            found[f] = s
    return found, unknown


def canvas_header(assignment: str, assignment_id: str) -> list[str]:
    """Canvas's columns; without an id the bare name (Canvas then creates a new assignment)."""
    return [*CANVAS_FIXED, f"{assignment} ({assignment_id})" if assignment_id else assignment]


def write_canvas(
    roster: list[Student], scores: dict[str, float], path: Path, assignment: str, assignment_id: str
) -> Path:
    """Canvas gradebook import CSV: every roster student; no score (empty) when nothing was graded.

    Inputs:
    - roster; scores: {student_id: final score}; assignment, assignment_id: Canvas's column name.
    """
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(canvas_header(assignment, assignment_id))
        for s in roster:
            score = scores.get(s.student_id)
            w.writerow(
                [
                    s.name,
                    s.student_id,
                    s.sis_user_id,
                    s.sis_login_id,
                    s.section,
                    "" if score is None else _num(score),
                ]
            )
    return Path(path)


def write_scores(roster: list[Student], scores: dict[str, float], path: Path) -> Path:
    """Plain CSV `student_id,score`, one row per graded roster student."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", "score"])
        for s in roster:
            if s.student_id in scores:
                w.writerow([s.student_id, _num(scores[s.student_id])])
    return Path(path)
