"""The gradebook after the late policy: raw score, lateness and final score per submission.

Inputs are a graded batch's results.json, an optional roster (lms.Roster), an optional LatePolicy and
submission times (a CSV, or otter's export zips). Written as OUT/gradebook.csv (with the possible
points in a row of its own, for people: importable files are lms.py's).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cnnkit.grading import late as late_mod
from cnnkit.grading.report import POSSIBLE_LABEL, _num

COLUMNS = [
    "file",
    "student_id",
    "raw",
    "possible",
    "submitted_utc",
    "days_late",
    "late_days_used",
    "penalty",
    "final",
    "status",
]


@dataclass(frozen=True)
class Entry:
    file: str
    student_id: str
    raw: float
    possible: float
    lateness: late_mod.Lateness
    status: str  # "Completed", or the reason the submission scored 0

    @property
    def final(self) -> float:
        return self.lateness.final


def build(
    results: dict,
    policy: late_mod.LatePolicy | None = None,
    times: dict[str, late_mod.SubmissionTime] | None = None,
    student_of: dict[str, str] | None = None,
    zip_times: dict[str, datetime] | None = None,
) -> tuple[list[Entry], list[str]]:
    """One Entry per graded submission, sorted by file.

    Inputs:
    - results: results.json's content.
    - policy: the late policy (None: final = raw).
    - times: submission times keyed by file or by student id (late.read_times).
    - student_of: {file: student id} from the roster ({} or None: no ids).
    - zip_times: {file: time} read from otter's export zips, used when `times` has no entry.

    Returns:
    - (entries, missing): `missing` names the submissions without a time when a policy is given
      (taken as on time: the caller says so; nothing is dropped).
    """
    times, student_of, zip_times = times or {}, student_of or {}, zip_times or {}
    entries, missing = [], []
    for s in sorted(results["submissions"], key=lambda s: s["file"]):
        sid = student_of.get(s["file"], "")
        t = times.get(s["file"]) or (times.get(sid) if sid else None)
        submitted = t.submitted if t else zip_times.get(s["file"])
        raw = float(s["total"])
        if policy is None:
            lateness = late_mod.Lateness(submitted, 0, 0, 0.0, raw, raw)
        else:
            if submitted is None:
                missing.append(s["file"])
            lateness = late_mod.apply(policy, raw, submitted, t.late_days if t else None)
        status = "Completed" if s["status"] == "Completed" else s["reason"]
        entries.append(Entry(s["file"], sid, raw, float(s["possible"]), lateness, status))
    return entries, missing


def write_csv(entries: list[Entry], path: Path) -> Path:
    """gradebook.csv: the possible row first (labelled as in final_grades.csv), then one per entry."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        if entries:
            p = _num(entries[0].possible)
            w.writerow([POSSIBLE_LABEL, "", p, p, "", "", "", "", p, "--"])
        for e in entries:
            lt = e.lateness
            w.writerow(
                [
                    e.file,
                    e.student_id,
                    _num(e.raw),
                    _num(e.possible),
                    late_mod.utc(lt.submitted),
                    lt.days_late,
                    lt.late_days_used,
                    _num(lt.penalty),
                    _num(lt.final),
                    e.status,
                ]
            )
    return Path(path)
