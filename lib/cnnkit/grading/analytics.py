"""Class statistics of a graded batch, computed from its results.json (and hidden_messages.json).

Where is the class stuck: score distribution per question, pass rate per case (public and hidden),
the hardest hidden cases with their most common failure messages, submissions that timed out or
failed, one line per student. Pure data (dataclasses); report_html renders it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HIDDEN_MESSAGES = "hidden_messages.json"
# how many hidden cases the report calls "hardest", and how many messages it shows for each
HARDEST = 5
TOP_MESSAGES = 3
_TIMEOUT = re.compile(r"time(d)? ?out|timeouterror|per-cell timeout", re.I)


@dataclass
class CaseStats:
    name: str
    question: str
    hidden: bool
    points: float
    passed: int
    graded: int  # submissions that completed grading (failed ones did not run any case)
    messages: list[tuple[str, int]] = field(default_factory=list)  # most common first

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass
class QuestionStats:
    name: str
    possible: float
    scores: list[float]  # one per submission, failed ones included (they score 0)

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0

    @property
    def full_marks(self) -> int:
        return sum(1 for s in self.scores if s >= self.possible)


@dataclass
class StudentLine:
    file: str
    total: float
    possible: float
    status: str
    reason: str
    failed_public: list[str]
    failed_hidden: list[str]
    timed_out: bool


@dataclass
class ClassStats:
    stage: str
    possible: float
    questions: list[QuestionStats]
    cases: list[CaseStats]
    students: list[StudentLine]

    @property
    def hardest_hidden(self) -> list[CaseStats]:
        hidden = [c for c in self.cases if c.hidden and c.graded]
        return sorted(hidden, key=lambda c: (c.pass_rate, c.question, c.name))[:HARDEST]

    @property
    def failed(self) -> list[StudentLine]:
        return [s for s in self.students if s.status != "Completed"]

    @property
    def timed_out(self) -> list[StudentLine]:
        return [s for s in self.students if s.timed_out]


def load_results(out: Path) -> tuple[dict, dict]:
    """results.json of a graded batch and its hidden_messages.json ({} when absent)."""
    out = Path(out)
    results = json.loads((out / "results.json").read_text())
    hidden = out / HIDDEN_MESSAGES
    return results, (json.loads(hidden.read_text()) if hidden.exists() else {})


def class_stats(results: dict, hidden_messages: dict | None = None) -> ClassStats:
    """Statistics of a batch.

    Inputs:
    - results: results.json's content (stage, possible, submissions).
    - hidden_messages: {file: {case: message}} of failing hidden cases (instructor-only), or None.

    Returns:
    - stats: ClassStats (questions and cases in results.json's order, students sorted by file).
    """
    hidden_messages = hidden_messages or {}
    subs = sorted(results["submissions"], key=lambda s: s["file"])
    possible = results["possible"]
    questions = [QuestionStats(q, float(p), []) for q, p in possible.items()]
    cases: dict[tuple[str, str], CaseStats] = {}
    messages: dict[tuple[str, str], Counter] = {}
    students = []
    for s in subs:
        done = s["status"] == "Completed"
        failed_public, failed_hidden = [], []
        any_timeout = bool(_TIMEOUT.search(s.get("reason", "")))
        for qs in questions:
            q = s["questions"].get(qs.name, {})
            if q.get("manual") and q.get("score") is None:
                continue  # a written question not graded yet: no score, not 0
            qs.scores.append(float(q.get("score", 0.0)))
            for name, c in q.get("cases", {}).items():
                key = (qs.name, name)
                if key not in cases:
                    cases[key] = CaseStats(name, qs.name, bool(c["hidden"]), c["points"], 0, 0)
                    messages[key] = Counter()
                if not done:
                    continue
                cases[key].graded += 1
                if c["passed"]:
                    cases[key].passed += 1
                    continue
                msg = c["message"] or (hidden_messages.get(s["file"], {}).get(name, ""))
                messages[key][msg or "(no message)"] += 1
                (failed_hidden if c["hidden"] else failed_public).append(name)
                any_timeout = any_timeout or bool(_TIMEOUT.search(msg))
        students.append(
            StudentLine(
                s["file"],
                float(s["total"]),
                float(s["possible"]),
                s["status"],
                s.get("reason", ""),
                failed_public,
                failed_hidden,
                any_timeout,
            )
        )
    for key, cs in cases.items():
        cs.messages = messages[key].most_common(TOP_MESSAGES)
    return ClassStats(
        results["stage"], float(sum(possible.values())), questions, list(cases.values()), students
    )


def hidden_messages(rows: list[dict]) -> dict[str, dict[str, str]]:
    """{file: {case: message}} of the failing hidden cases of grade()'s rows (for the instructor)."""
    out = {}
    for r in sorted(rows, key=lambda r: r["name"]):
        msgs = {
            name: v["message"]
            for name, v in r.get("cases", {}).items()
            if v["hidden"] and not v["passed"] and v["message"]
        }
        if msgs:
            out[r["name"]] = msgs
    return out
