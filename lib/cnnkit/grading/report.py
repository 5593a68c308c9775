"""Outputs of `cnnkit grade`: the GradeResult of a batch, and what is written of it:
final_grades.csv (otter grade's format), results.json, report.md, feedback/<student>.md, and the text
gradebook that `GradeResult.summary()` prints.

Hidden cases appear by name and pass/fail only: never their source, inputs, messages or expected values.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cnnkit.grading.outdir import file_names, write_text


@dataclass
class GradeResult:
    """Outcome of a batch: one row per submission plus the paths of the written files."""

    stage: str
    out: Path
    rows: list[dict] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    possible: dict[str, float] = field(default_factory=dict)
    graded_now: int = 0
    kept: int = 0  # rows of earlier runs kept by --append
    seed: int | None = None
    skipped: list = field(default_factory=list)  # intake.Skipped: nobody's submission
    # written questions (written.py): the merged manual scores, None for a stage without any
    manual: object = None

    @property
    def written(self) -> list[str]:
        """The written questions' names (graded by people; not in `questions`)."""
        return [q.name for q in self.manual.questions] if self.manual else []

    @property
    def failed(self) -> list[dict]:
        """The rows that could not be graded (0 points and a reason)."""
        return [r for r in self.rows if r["status"] != "Completed"]

    @property
    def csv(self) -> Path:
        return self.out / "final_grades.csv"

    @property
    def report(self) -> Path:
        return self.out / "report.md"

    def summary(self) -> str:
        """The gradebook as a text table (student x question, total) and where the report is."""
        return summary_table(self)


# the column names and first-row label of otter.grade.utils.merge_scores_to_df (otter 7)
FILE_KEY = "file"
TOTAL_KEY = "total_points_earned"
PERCENT_KEY = "percent_correct"
STATUS_KEY = "grading_status"
POSSIBLE_LABEL = "points-per-question"


def _num(x: float):
    return int(x) if float(x).is_integer() else round(float(x), 5)


def _written(result) -> list[str]:
    """The written questions of a batch (graded by people, merged from the TA's scores) once their
    manual phase has begun (written.Manual.active); before that the gradebook is the auto part."""
    manual = getattr(result, "manual", None)
    return list(result.written) if manual is not None and manual.active else []


def _possible_all(result) -> dict[str, float]:
    """Points possible per question, the written questions' included."""
    manual = getattr(result, "manual", None)
    return {**result.possible, **(manual.possible if _written(result) else {})}


def _score(result, row: dict, q: str):
    """A row's points for a question: a written question's merged manual score, None while missing."""
    if q in _written(result):
        return result.manual.scores.get(row["name"], {}).get(q)
    return row["scores"].get(q, 0.0)


def _row_total(result, row: dict) -> float:
    """Auto points plus the manual points merged so far (a missing manual score adds nothing)."""
    manual = result.manual.scores.get(row["name"], {}) if _written(result) else {}
    return sum(row["scores"].values()) + sum(manual.values())


def _cell(x):
    return "" if x is None else _num(x)


def csv_rows(result) -> list[dict]:
    """Rows of final_grades.csv: the points-possible row, then one row per submission (sorted).

    Written questions are columns of their own: the TA's merged points, empty while missing (never 0).
    """
    possible = _possible_all(result)
    qs = sorted(result.questions)  # otter sorts question columns by name
    qs += sorted(_written(result))
    total_possible = sum(possible.values())
    rows = [
        {
            FILE_KEY: POSSIBLE_LABEL,
            **{q: _num(possible[q]) for q in qs},
            TOTAL_KEY: _num(total_possible),
            PERCENT_KEY: 1,
            STATUS_KEY: "--",
        }
    ]
    for row in sorted(result.rows, key=lambda r: r["name"]):
        total = _row_total(result, row)
        rows.append(
            {
                FILE_KEY: row["name"],
                **{q: _cell(_score(result, row, q)) for q in qs},
                TOTAL_KEY: _num(total),
                PERCENT_KEY: round(total / total_possible, 4) if total_possible else 0,
                STATUS_KEY: "Completed" if row["status"] == "Completed" else row["reason"],
            }
        )
    return rows


def write_outputs(result, ag) -> None:
    """Write final_grades.csv, results.json, report.md and feedback/ into result.out.

    Each file is replaced atomically; feedback files of students no longer in the gradebook are
    removed (a rerun on another batch leaves no stale feedback).
    """
    out = Path(result.out)
    rows = csv_rows(result)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "final_grades.csv", buf.getvalue())
    ordered = sorted(result.rows, key=lambda r: r["name"])
    names = feedback_files(result)
    results = {
        "stage": result.stage,
        "seed": result.seed,
        "possible": _possible_all(result),
        "written": _written(result),
        "submissions": [
            {**_public_json(r, ag, result), "feedback": names[r["name"]]} for r in ordered
        ],
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in result.skipped],
    }
    text = json.dumps(results, indent=1, sort_keys=False, ensure_ascii=False) + "\n"
    write_text(out / "results.json", text)
    write_text(out / "report.md", report_markdown(result, ag))
    fb = out / "feedback"
    fb.mkdir(exist_ok=True)
    for r in ordered:
        write_text(out / names[r["name"]], student_markdown(r, result, ag))
    wanted = {Path(n).name for n in names.values()}
    for f in fb.iterdir():
        if f.suffix == ".md" and f.name not in wanted:
            f.unlink()


def feedback_files(result) -> dict[str, str]:
    """{student name: "feedback/<file>.md"}: collision-free names that keep Unicode."""
    return {
        n: f"feedback/{stem}.md" for n, stem in file_names([r["name"] for r in result.rows]).items()
    }


def _public_json(row: dict, ag, result=None) -> dict:
    questions = {}
    for q in ag.questions:
        cases = {}
        for c in ag.cases:
            if c.question != q:
                continue
            v = row["cases"].get(c.name)
            cases[c.name] = {
                "points": c.points,
                "earned": v["earned"] if v else 0.0,
                "passed": bool(v and v["passed"]),
                "hidden": c.hidden,
                "message": "" if c.hidden or not v else v["message"],
            }
        questions[q] = {"score": row["scores"].get(q, 0.0), "possible": _possible(ag, q), **{}}
        questions[q]["cases"] = cases
    written = _written(result) if result is not None else []
    for q in written:
        questions[q] = {
            "score": _score(result, row, q),  # None: no manual score yet
            "possible": result.manual.possible[q],
            "manual": True,
            "comment": result.manual.comments.get(row["name"], {}).get(q, ""),
            "cases": {},
        }
    missing = [q for q in written if questions[q]["score"] is None]
    return {
        "file": row["name"],
        "status": row["status"],
        "reason": row["reason"],
        "failure": row.get("failure", ""),
        "notebook": row.get("notebook", ""),
        "ignored": row.get("ignored", []),
        "sandbox": row.get("isolation", ""),
        "total": _row_total(result, row) if written else sum(row["scores"].values()),
        "possible": sum(c.points for c in ag.cases)
        + (sum(result.manual.possible.values()) if written else 0),
        "manual_missing": missing,
        "questions": questions,
    }


def _possible(ag, q: str) -> float:
    return sum(c.points for c in ag.cases if c.question == q)


def _case_lines(row: dict, ag, q: str) -> list[str]:
    lines = []
    for c in ag.cases:
        if c.question != q:
            continue
        v = row["cases"].get(c.name)
        ok = bool(v and v["passed"])
        mark = "pass" if ok else "FAIL"
        kind = "hidden" if c.hidden else "public"
        text = f"- `{c.name}` ({kind}, {_num(c.points)} pt): {mark}"
        if not ok and not c.hidden and v and v["message"]:
            text += f" — {v['message']}"
        lines.append(text)
    return lines


def student_markdown(row: dict, result, ag) -> str:
    """Feedback for one student: scores per question, public messages, hidden cases pass/fail only."""
    total, possible = _row_total(result, row), sum(_possible_all(result).values())
    lines = [f"# {result.stage}: {row['name']}", "", f"**Total: {_num(total)} / {_num(possible)}**"]
    missing = [q for q in _written(result) if _score(result, row, q) is None]
    if missing:
        lines += ["", f"Not graded yet (written, graded by people): {', '.join(missing)}"]
    if row.get("notebook"):
        lines += ["", f"Graded notebook: `{row['notebook']}`"]
        lines += [f"Not graded: {text}" for text in row.get("ignored", [])]
    if row["status"] != "Completed":
        lines += ["", f"Your submission could not be graded: {row['reason']}"]
    elif row.get("reason"):
        lines += ["", f"Note: {row['reason']}"]
    lines += ["", "| question | score | possible |", "|---|---|---|"]
    for q in ag.questions:
        lines.append(f"| {q} | {_num(row['scores'].get(q, 0))} | {_num(result.possible[q])} |")
    for q in _written(result):
        got = _score(result, row, q)
        shown = "not graded yet" if got is None else _num(got)
        lines.append(f"| {q} (written) | {shown} | {_num(result.manual.possible[q])} |")
    if row["status"] == "Completed":
        for q in ag.questions:
            lines += ["", f"## {q}", *_case_lines(row, ag, q)]
    for q in _written(result):
        got = _score(result, row, q)
        comment = result.manual.comments.get(row["name"], {}).get(q, "")
        lines += ["", f"## {q} (written)"]
        if got is None:
            lines.append("- not graded yet")
        else:
            lines.append(f"- {_num(got)} / {_num(result.manual.possible[q])} points")
            if comment:
                lines.append(f"- TA's comment: {comment}")
    lines += [
        "",
        "Hidden cases are listed by name only; they run your code on inputs you have not seen.",
        "",
    ]
    return "\n".join(lines)


def report_markdown(result, ag) -> str:
    """The instructor's report: the gradebook table, then each student's feedback section."""
    lines = [f"# Grades for {result.stage}", "", gradebook_markdown(result), ""]
    modes = sandbox_modes(result)
    if modes:
        lines += [f"Sandbox: {'; '.join(modes)}.", ""]
    if result.skipped:
        lines += ["Skipped (nobody's submission):", ""]
        lines += [f"- `{s.path}`: {s.reason}" for s in result.skipped] + [""]
    for row in sorted(result.rows, key=lambda r: r["name"]):
        body = student_markdown(row, result, ag).splitlines()
        lines += ["", "#" + body[0], *["#" + ln if ln.startswith("## ") else ln for ln in body[1:]]]
    return "\n".join(lines) + "\n"


def sandbox_modes(result) -> list[str]:
    """The isolation the batch's sandboxes had (bwrap, the unshare fallback or none), once each."""
    # each worker's kernel has a uid of its own (sandbox.kernel_uid): one line for all of them
    modes = {
        re.sub(r"uid \d+", "its own unprivileged uid", r.get("isolation", "")) for r in result.rows
    }
    return sorted(modes - {""})


def gradebook_markdown(result) -> str:
    qs = [*result.questions, *_written(result)]
    head = ["student", *qs, "total", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in sorted(result.rows, key=lambda r: r["name"]):
        cells = [row["name"], *(_shown(_score(result, row, q)) for q in qs)]
        cells += [_num(_row_total(result, row)), _status(row)]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    possible = [_num(_possible_all(result)[q]) for q in qs]
    lines.append("| (possible) | " + " | ".join(map(str, possible)) + f" | {_total(result)} | |")
    return "\n".join(lines)


def _shown(x) -> str:
    return "?" if x is None else str(_num(x))


def _total(result):
    return _num(sum(_possible_all(result).values()))


def _status(row: dict) -> str:
    if row["status"] == "Completed":
        return "ok" if not row.get("reason") else "ok*"
    return ("failed: " + row["reason"])[:60]


def summary_table(result) -> str:
    """Plain-text gradebook (student x question, total) and the report's path."""
    qs = [*result.questions, *_written(result)]
    possible = _possible_all(result)
    head = ["student", *qs, "total", "status"]
    body = []
    for row in sorted(result.rows, key=lambda r: r["name"]):
        cells = [row["name"], *(_shown(_score(result, row, q)) for q in qs)]
        body.append([*map(str, cells), str(_num(_row_total(result, row))), _status(row)])
    body.append(["(possible)", *(str(_num(possible[q])) for q in qs), str(_total(result)), ""])
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in body]
    lines += ["", *failure_lines(result)]
    if getattr(result, "manual", None) is not None:
        lines += [*result.manual.lines(), f"written packets: {result.out / 'written'}"]
    lines += [
        f"report: {result.report}",
        f"grades: {result.csv}",
    ]
    lines += [f"sandbox: {m}" for m in sandbox_modes(result)]
    return "\n".join(lines)


def failure_lines(result) -> list[str]:
    """The batch's counts: graded now / from the cache, one line per failure reason, skipped paths."""
    failed = result.failed
    batch = len(result.rows) - result.kept
    line = f"{batch} submission(s), {result.graded_now} graded now, "
    line += f"{batch - result.graded_now} from the cache"
    if result.kept:
        line += f"; {result.kept} row(s) of earlier runs kept (--append)"
    lines = [line + f"; seed {result.seed}"]
    if failed:
        lines.append(f"{len(failed)} could not be graded (0 points):")
        counts = Counter(r.get("failure") or "failed" for r in failed)
        for why, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            who = ", ".join(r["name"] for r in failed if (r.get("failure") or "failed") == why)
            lines.append(f"  {n} {why}: {who[:200]}")
    if result.skipped:
        lines.append(f"{len(result.skipped)} path(s) skipped, nobody's submission:")
        counts = Counter(s.reason for s in result.skipped)
        for why, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {n} {why}")
    return lines
