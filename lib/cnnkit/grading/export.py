"""`cnnkit gradebook OUT`: the late policy applied and the LMS files written for a graded batch.

Writes OUT/gradebook.csv (raw, lateness, final; for people), and with a roster OUT/canvas.csv (Canvas
import) and OUT/scores.csv (student_id, score), then rewrites OUT/report.html with the lateness.
"""

from __future__ import annotations

from pathlib import Path

from cnnkit.grading import gradebook, late, lms, report_html
from cnnkit.grading.analytics import load_results

GRADEBOOK = "gradebook.csv"
CANVAS = "canvas.csv"
SCORES = "scores.csv"


def export_gradebook(
    out: Path,
    policy: Path | None = None,
    times: Path | None = None,
    submissions: list[Path] = (),
    roster: Path | None = None,
    assignment: str = "",
    assignment_id: str = "",
) -> tuple[list[Path], list[str]]:
    """Apply the late policy and write the gradebook and LMS files of a graded batch.

    Inputs:
    - out: the batch's output folder (results.json).
    - policy: late-policy JSON (late.LatePolicy); times: submission-times CSV (late.read_times);
      submissions: otter export zips to read submission times from (when `times` lacks one).
    - roster: roster CSV (lms.read_roster); assignment, assignment_id: Canvas's column.

    Returns:
    - (written paths, warnings): warnings name submissions without a time, outside the roster (left out of the
      importable files) and roster students without a submission (empty in canvas.csv).
    """
    out = Path(out)
    results, _ = load_results(out)
    pol = late.LatePolicy.load(policy) if policy else None
    tz = pol.timezone if pol else "UTC"
    time_rows = late.read_times(times, tz) if times else {}
    zip_times = {}
    for z in submissions:
        t = late.otter_zip_time(Path(z), tz)
        if t is not None:
            zip_times[Path(z).name] = t
    students = lms.read_roster(roster) if roster else []
    files = [s["file"] for s in results["submissions"]]
    found, unknown = lms.match(students, files) if roster else ({}, [])
    student_of = {f: s.student_id for f, s in found.items()}
    entries, no_time = gradebook.build(results, pol, time_rows, student_of, zip_times)
    written = [gradebook.write_csv(entries, out / GRADEBOOK)]
    warnings = []
    if no_time:
        warnings.append(
            f"no submission time for {len(no_time)} submission(s), taken as on time: "
            + ", ".join(no_time[:10])
        )
    if roster:
        scores = {e.student_id: e.final for e in entries if e.student_id}
        name = assignment or results["stage"]
        written.append(lms.write_canvas(students, scores, out / CANVAS, name, assignment_id))
        written.append(lms.write_scores(students, scores, out / SCORES))
        if unknown:
            warnings.append(
                f"{len(unknown)} submission(s) match nobody in the roster and are not in "
                f"{CANVAS}/{SCORES}: {', '.join(unknown[:10])}"
            )
        absent = [s.student_id for s in students if s.student_id not in scores]
        if absent:
            warnings.append(
                f"{len(absent)} roster student(s) without a submission (empty in {CANVAS}): "
                + ", ".join(absent[:10])
            )
    written.append(report_html.write(out))
    return written, warnings
