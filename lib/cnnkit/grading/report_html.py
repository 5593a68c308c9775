"""report.html: the class analytics page of a graded batch, one self-contained file.

Plots are matplotlib PNGs inlined as base64 data URIs; no script, stylesheet or image is fetched, so
the file can be mailed or opened offline. Sections: summary, score distribution per question, pass
rate per case, hardest hidden cases with their most common failure messages, time-outs and failures,
flagged similar pairs with a side-by-side view, one line per student (with lateness when
gradebook.csv is there). It is for the instructor: it shows hidden cases' failure messages.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path

from cnnkit.grading import analytics, similarity
from cnnkit.grading.report import _num

# side-by-side views for the most similar pairs and their most similar exercises only (the table
# lists every flagged pair and exercise): the page stays small for a class of hundreds
MAX_VIEWS = 10
VIEWS_PER_PAIR = 3

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.num{text-align:right}
.low{background:#fde2e2}.side{display:flex;gap:1em}.side pre{flex:1;overflow:auto;background:#f8f8f8;
padding:.5em;font-size:12px;max-height:30em}mark{background:#ffe08a}img{max-width:100%}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return (
        f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'
    )


def _figures():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_scores(stats: analytics.ClassStats) -> str:
    """One histogram of scores per question (x: points, y: students)."""
    plt = _figures()
    n = max(1, len(stats.questions))
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, q in zip(axes.flat, stats.questions, strict=False):
        ax.hist(q.scores, bins=min(10, max(2, int(q.possible) + 1)), range=(0, q.possible or 1))
        ax.set_title(f"{q.name} (mean {q.mean:.1f} / {_num(q.possible)})", fontsize=9)
        ax.set_xlabel("points", fontsize=8)
        ax.set_ylabel("students", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def plot_pass_rates(stats: analytics.ClassStats) -> str:
    """Horizontal bars: pass rate of every case, hidden ones in another colour."""
    plt = _figures()
    cases = stats.cases
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(cases) + 1))
    labels = [f"{c.question}/{c.name}" for c in cases]
    colors = ["#c0504d" if c.hidden else "#4f81bd" for c in cases]
    ax.barh(range(len(cases)), [100 * c.pass_rate for c in cases], color=colors)
    ax.set_yticks(range(len(cases)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of graded submissions passing (blue: public, red: hidden)")
    fig.tight_layout()
    return _png(fig)


def _table(head: list[str], rows: list[list], num: set[int] = frozenset(), low=None) -> str:
    out = ["<table><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr>"]
    for i, r in enumerate(rows):
        cls = ' class="low"' if low and low(i) else ""
        cells = "".join(
            f'<td class="num">{_e(c)}</td>' if j in num else f"<td>{_e(c)}</td>"
            for j, c in enumerate(r)
        )
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</table>")
    return "".join(out)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _late_columns(out: Path) -> dict[str, dict]:
    path = out / "gradebook.csv"
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


def render(
    stats: analytics.ClassStats,
    sim: similarity.SimilarityReport | None = None,
    code: dict | None = None,
    late: dict[str, dict] | None = None,
) -> str:
    """The page as a string.

    Inputs:
    - stats: analytics.class_stats of the batch.
    - sim: the similarity report (None: the section says it was not run).
    - code: exercises.json's content (for the side-by-side view).
    - late: gradebook.csv's rows by file (adds submitted / days late / final to the student lines).
    """
    late = late or {}
    n = len(stats.students)
    totals = [s.total for s in stats.students]
    mean = sum(totals) / n if n else 0.0
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(stats.stage)}: class report"
        f"</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(stats.stage)}: class report</h1>",
        f"<p id='summary'>{n} submission(s); mean total {mean:.2f} / {_num(stats.possible)}; "
        f"{len(stats.failed)} failed to grade; {len(stats.timed_out)} timed out.</p>",
        "<h2 id='questions'>Score distribution per question</h2>",
    ]
    if n:
        parts.append(plot_scores(stats))
    parts.append(
        _table(
            ["question", "possible", "mean", "full marks"],
            [
                [q.name, _num(q.possible), f"{q.mean:.2f}", f"{q.full_marks}/{n}"]
                for q in stats.questions
            ],
            num={1, 2, 3},
        )
    )
    parts.append("<h2 id='cases'>Pass rate per case</h2>")
    if stats.cases and n:
        parts.append(plot_pass_rates(stats))
    parts.append(
        _table(
            ["question", "case", "kind", "points", "passed", "pass rate"],
            [
                [
                    c.question,
                    c.name,
                    "hidden" if c.hidden else "public",
                    _num(c.points),
                    f"{c.passed}/{c.graded}",
                    _pct(c.pass_rate),
                ]
                for c in stats.cases
            ],
            num={3, 4, 5},
            low=lambda i: stats.cases[i].graded and stats.cases[i].pass_rate < 0.5,
        )
    )
    parts.append("<h2 id='hardest'>Hardest hidden cases</h2>")
    parts.append(
        _table(
            ["case", "pass rate", "most common failure messages (count)"],
            [
                [
                    f"{c.question}/{c.name}",
                    _pct(c.pass_rate),
                    " | ".join(f"{m} ({k})" for m, k in c.messages) or "-",
                ]
                for c in stats.hardest_hidden
            ],
            num={1},
        )
    )
    parts.append("<h2 id='failures'>Time-outs and failures</h2>")
    trouble = [s for s in stats.students if s.status != "Completed" or s.timed_out]
    parts.append(
        _table(
            ["student", "status", "timed out", "reason"],
            [[s.file, s.status, "yes" if s.timed_out else "", s.reason] for s in trouble],
        )
        if trouble
        else "<p>None.</p>"
    )
    parts.append(_similarity_section(sim, code or {}))
    parts.append("<h2 id='students'>Students</h2>")
    head = ["student", "total", "%", "status", "failed public", "failed hidden"]
    if late:
        head += ["submitted (UTC)", "days late", "late days used", "final"]
    rows = []
    for s in stats.students:
        row = [
            s.file,
            _num(s.total),
            _pct(s.total / s.possible) if s.possible else "-",
            "ok" if s.status == "Completed" else f"failed: {s.reason}",
            ", ".join(s.failed_public),
            ", ".join(s.failed_hidden),
        ]
        if late:
            g = late.get(s.file, {})
            row += [g.get(k, "") for k in ("submitted_utc", "days_late", "late_days_used", "final")]
        rows.append(row)
    parts.append(_table(head, rows, num={1, 2}))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _similarity_section(sim: similarity.SimilarityReport | None, code: dict) -> str:
    head = "<h2 id='similarity'>Similar submissions</h2>"
    if sim is None:
        return head + "<p>Not run (no student notebook to take the starter code from).</p>"
    intro = (
        f"<p>Each exercise's code compared pairwise with copydetect (starter code removed); "
        f"a pair is flagged on an exercise at overlap &ge; {_pct(sim.threshold)}. "
        f"{len(sim.pairs)} flagged pair(s) among {sim.submissions} submissions. "
        "<b>Flags are evidence for a person to read, not a verdict or a penalty.</b></p>"
    )
    if not sim.pairs:
        return head + intro
    if len(sim.pairs) > MAX_VIEWS or any(len(p.matches) > VIEWS_PER_PAIR for p in sim.pairs):
        intro += (
            f"<p>Below the table: side-by-side views of the first {MAX_VIEWS} pairs' "
            f"{VIEWS_PER_PAIR} most similar exercises.</p>"
        )
    table = _table(
        ["student A", "student B", "flagged exercises", "mean overlap"],
        [
            [
                p.a,
                p.b,
                f"{len(p.matches)}/{p.compared}: " + ", ".join(m.exercise for m in p.matches),
                _pct(p.score),
            ]
            for p in sim.pairs
        ],
        num={3},
    )
    views = []
    cells = code.get("code", {})
    for p in sim.pairs[:MAX_VIEWS]:
        for m in sorted(p.matches, key=lambda m: -m.score)[:VIEWS_PER_PAIR]:
            a = similarity.highlight(cells.get(p.a, {}).get(m.exercise, ""), m.spans_a)
            b = similarity.highlight(cells.get(p.b, {}).get(m.exercise, ""), m.spans_b)
            views.append(
                f"<details><summary>{_e(p.a)} &harr; {_e(p.b)}: {_e(m.exercise)} "
                f"({_pct(m.score_a)} / {_pct(m.score_b)})</summary><div class='side'>"
                f"<pre>{a}</pre><pre>{b}</pre></div></details>"
            )
    return head + intro + table + "\n".join(views)


def write(out: Path) -> Path:
    """Render OUT/report.html from results.json, hidden_messages.json, similarity.json,
    exercises.json and gradebook.csv (those present)."""
    out = Path(out)
    results, hidden = analytics.load_results(out)
    stats = analytics.class_stats(results, hidden)
    sim = similarity.load(out / "similarity.json")
    code_path = out / "exercises.json"
    code = json.loads(code_path.read_text()) if code_path.exists() else {}
    path = out / "report.html"
    path.write_text(render(stats, sim, code, _late_columns(out)), encoding="utf-8")
    return path
