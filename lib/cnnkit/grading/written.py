"""Written questions (`manual: true` in a master): answers collected, packets for TAs, scores merged.

A written question is an otter manual question `wN` (README, "Written questions"). The build writes
its prompt, points, model answer and rubric to autograder/<stage>/written.json (instructors' output,
never released). `cnnkit grade` then, for a stage that has written questions:

- reads each submission's notebook as JSON (nothing of it runs here) and finds each answer: the cells
  after the question's (locked) prompt cell up to the next cell of the released notebook;
- writes OUT/written/<q>.html, one grading packet per question: the rubric on top, then every
  submission's answer (escaped text, never rendered HTML) next to the student's own output above the
  question (the last PNG image, validated and re-encoded, and the text output of the nearest code
  cell), with the submission's and the answer's hash;
- writes OUT/written/scores.csv, the TA's template (student, question, answer_hash, points, comment,
  note); points and comments already given for an unchanged answer are kept;
- with `--manual SCORES.csv`, merges the TA's scores into OUT/written/manual.json: a score counts only
  while the answer's hash is the one it was given for (a resubmitted, changed answer is flagged for
  regrading); missing scores are listed, never taken as 0.

`pdf()` prints one submission's answers (with their plots) to a PDF for Gradescope's manual grading
with Chromium headless, offline.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cnnkit.grading.errors import GradingError
from cnnkit.grading.outdir import write_text

QUESTIONS_FILE = "written.json"
FOLDER = "written"
SCORES = "scores.csv"
MANUAL = "manual.json"
COLUMNS = ["student", "question", "answer_hash", "points", "comment", "note"]
STUB = "_Type your answer here, replacing this text._"
MAX_PNG = 4 * 1024**2  # a larger image is left out of a packet
MAX_TEXT = 20_000  # characters of one answer shown; the hash covers all of it
MAX_OUTPUT = 3_000  # characters of the student's text output shown next to an answer
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_EXPORT_TAG = re.compile(r"^\s*<!--\s*(BEGIN|END) QUESTION\s*-->\s*$", re.M)


class ManualScoresError(GradingError):
    """A TA's scores file cannot be read (wrong columns, not a CSV)."""


@dataclass(frozen=True)
class WrittenQuestion:
    name: str
    points: float
    prompt: str
    model_answer: str  # model answer and rubric (markdown)
    prompt_key: str  # the last prompt cell's text: finds the prompt in a submission


@dataclass
class Answer:
    question: str
    text: str  # "" when the student left the stub or no answer cell
    found: bool  # the prompt cell was found in the submission
    png: str = ""  # validated base64 PNG of the student's last plot above the question
    output: str = ""  # text output of the nearest code cell above the question

    @property
    def hash(self) -> str:
        return answer_hash(self.text)


@dataclass
class Entry:
    """One submission's answers."""

    name: str
    submission_hash: str
    answers: dict[str, Answer] = field(default_factory=dict)
    error: str = ""  # the notebook could not be read


@dataclass
class Manual:
    """The merged manual scores of a batch."""

    questions: list[WrittenQuestion]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> q -> points
    comments: dict[str, dict[str, str]] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (student, question)
    regrade: list[tuple[str, str]] = field(default_factory=list)  # changed since scored
    errors: list[str] = field(default_factory=list)  # bad rows of the TA's file
    # the manual phase has begun (scores given now with --manual, or merged before): from then on
    # the written questions are columns of the gradebook and part of the totals
    active: bool = False

    @property
    def possible(self) -> dict[str, float]:
        return {q.name: q.points for q in self.questions}

    @property
    def complete(self) -> bool:
        return not (self.missing or self.regrade or self.errors)

    def lines(self) -> list[str]:
        """The summary lines `cnnkit grade` prints."""
        n = len(self.questions)
        out = [f"written questions: {n} ({', '.join(q.name for q in self.questions)})"]
        if not self.active:
            out.append(
                f"  not graded yet: score {len(self.missing)} answer(s) in {FOLDER}/{SCORES}, then "
                "merge with --manual (until then they are not in the gradebook's totals)"
            )
            return out + [f"  {e}" for e in self.errors]
        if self.complete:
            out.append("  every answer has a manual score (in the totals)")
        for what, pairs in (
            ("missing manual score(s)", self.missing),
            ("answer(s) changed since scored, regrade", self.regrade),
        ):
            if pairs:
                who = ", ".join(f"{s}:{q}" for s, q in pairs)
                out.append(f"  {len(pairs)} {what} (not counted): {who[:300]}")
        out += [f"  scores file: {e}" for e in self.errors]
        return out


# --------------------------------------------------------------------------------------------------
# The build's side


def questions_json(m) -> str:
    """written.json of a parsed master (master.Master with written questions)."""
    data = {
        "stage": m.stage,
        "questions": [
            {
                "name": q.name,
                "points": q.points,
                "prompt": q.prompt,
                "model_answer": q.model_answer,
                "prompt_key": q.prompt_cells[-1].source if q.prompt_cells else "",
            }
            for q in m.written
        ],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def load_questions(root: Path, stage: str) -> list[WrittenQuestion]:
    """The written questions of a built stage (none when autograder/<stage>/written.json is absent)."""
    path = Path(root) / "autograder" / stage / QUESTIONS_FILE
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [WrittenQuestion(**q) for q in data["questions"]]


# --------------------------------------------------------------------------------------------------
# Reading answers (notebook JSON only; nothing of a submission runs here)


def answer_hash(text: str) -> str:
    """A short content hash of an answer (whitespace at line ends and around it ignored)."""
    norm = "\n".join(ln.rstrip() for ln in text.strip().splitlines())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:12]


def _source(cell) -> str:
    src = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def _key(text: str) -> str:
    return " ".join(_EXPORT_TAG.sub("", text).split())


def valid_png(data) -> str:
    """`data` (a notebook's base64 image/png) re-encoded if it decodes to a PNG of bounded size,
    else ""."""
    if isinstance(data, list):
        data = "".join(d for d in data if isinstance(d, str))
    if not isinstance(data, str) or len(data) > MAX_PNG * 4 // 3 + 16:
        return ""
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return ""
    if not raw.startswith(PNG_MAGIC) or len(raw) > MAX_PNG:
        return ""
    return base64.b64encode(raw).decode("ascii")


def _outputs(cell) -> tuple[str, str]:
    """(last valid PNG, text) of a code cell's outputs."""
    png, text = "", []
    outputs = cell.get("outputs", []) if isinstance(cell, dict) else []
    for o in outputs if isinstance(outputs, list) else []:
        if not isinstance(o, dict):
            continue
        if o.get("output_type") == "stream":
            text.append(_source({"source": o.get("text", "")}))
        data = o.get("data")
        if isinstance(data, dict):
            png = valid_png(data.get("image/png")) or png
            if "text/plain" in data and "image/png" not in data:
                text.append(_source({"source": data["text/plain"]}))
    return png, "".join(text)


def find_answers(nb: dict, questions: list[WrittenQuestion], starter: dict) -> dict[str, Answer]:
    """Each written question's answer in a submitted notebook (JSON).

    Inputs:
    - nb: the submission (notebook JSON).
    - questions: the stage's written questions.
    - starter: the released student notebook (JSON): cells of it are not part of an answer.

    Returns:
    - {question: Answer}: the cells after the prompt up to the next released cell (the student's
      answer cell and any cells they added there), markdown as written, code fenced; the last plot
      and the nearest text output of the code cells above the prompt (up to the previous question).
    """
    released = {_key(_source(c)) for c in starter.get("cells", [])} - {_key(STUB)}
    cells = nb.get("cells", []) if isinstance(nb.get("cells"), list) else []
    cells = [c for c in cells if isinstance(c, dict)]
    keys = [_key(_source(c)) for c in cells]
    prompts = {_key(q.prompt_key) for q in questions}
    out = {}
    for q in questions:
        want = _key(q.prompt_key)
        at = next((k for k, key in enumerate(keys) if key == want), None)
        if at is None:
            out[q.name] = Answer(q.name, "", False)
            continue
        parts = []
        for c in cells[at + 1 :]:
            if _key(_source(c)) in released:
                break
            src = _source(c).strip()
            if not src or _key(src) == _key(STUB):
                continue
            parts.append(f"```python\n{src}\n```" if c.get("cell_type") == "code" else src)
        png = output = ""
        for c in reversed(cells[:at]):
            if _key(_source(c)) in prompts:
                break  # the previous written question: its plots are not this one's
            if c.get("cell_type") != "code":
                continue
            p, t = _outputs(c)
            png = png or p
            output = output or t
            if png and output:
                break
        text = "\n\n".join(parts)
        out[q.name] = Answer(q.name, text, True, png, output[-MAX_OUTPUT:])
    return out


def collect(subs: list, questions: list[WrittenQuestion], starter: Path) -> list[Entry]:
    """One Entry per submission (intake.Submission), its notebook read as JSON with size guards."""
    from cnnkit.grading.exercises import read_notebook_json

    start = json.loads(Path(starter).read_text(encoding="utf-8")) if Path(starter).is_file() else {}
    entries = []
    for s in sorted(subs, key=lambda s: s.name):
        path = s.path / s.notebook if s.notebook else s.path
        try:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
            nb = read_notebook_json(path)
            if not isinstance(nb, dict):
                raise ValueError("not a notebook")
            entries.append(Entry(s.name, digest, find_answers(nb, questions, start)))
        except Exception as err:  # noqa: BLE001 - one unreadable notebook: one row, not the batch
            answers = {q.name: Answer(q.name, "", False) for q in questions}
            entries.append(Entry(s.name, "", answers, f"{type(err).__name__}: {err}"[:200]))
    return entries


# --------------------------------------------------------------------------------------------------
# Packets

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
.rubric{background:#f4f1e8;border:1px solid #d8cfb0;padding:.8em 1em;border-radius:6px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1em;margin-top:1em}
.answer{border:1px solid #ccc;border-radius:6px;padding:.6em .9em;break-inside:avoid}
.answer h3{margin:.2em 0}.hash{font-family:monospace;color:#666;font-size:.85em}
pre{white-space:pre-wrap;word-break:break-word;background:#fafafa;padding:.5em;margin:.4em 0}
pre.out{font-size:.8em;color:#444;max-height:14em;overflow:auto}
img{max-width:100%;border:1px solid #eee}.missing{color:#a00}
@media print{.answer{page-break-inside:avoid}}
"""
_HEAD = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'>"
    # nothing in a packet loads or runs anything: only inline styles and data: images
    "<meta http-equiv='Content-Security-Policy' "
    "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
    "<title>{title}</title><style>{css}</style></head><body>"
)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def answer_html(entry: Entry, q: WrittenQuestion, answer: Answer) -> str:
    """One submission's answer to one question as an HTML block (all of it escaped)."""
    parts = [
        "<div class='answer'>",
        f"<h3>{_esc(entry.name)}</h3>",
        f"<div class='hash'>submission {_esc(entry.submission_hash or '-')} · "
        f"answer {_esc(answer.hash)} · {_esc(q.name)} ({_num(q.points)} points)</div>",
    ]
    if entry.error:
        parts.append(f"<p class='missing'>notebook unreadable: {_esc(entry.error)}</p>")
    elif not answer.found:
        parts.append("<p class='missing'>the question's cell is not in this notebook</p>")
    elif not answer.text:
        parts.append("<p class='missing'>no answer</p>")
    if answer.text:
        parts.append(f"<pre class='text'>{_esc(answer.text[:MAX_TEXT])}</pre>")
    if answer.png:
        parts.append(
            f"<img alt='the student&#39;s plot above the question' "
            f"src='data:image/png;base64,{answer.png}'>"
        )
    if answer.output:
        parts.append(f"<pre class='out'>{_esc(answer.output)}</pre>")
    parts.append("</div>")
    return "".join(parts)


def packet_html(stage: str, q: WrittenQuestion, entries: list[Entry]) -> str:
    """The grading packet of one written question: rubric on top, every answer below."""
    body = [
        _HEAD.format(title=_esc(f"{stage} {q.name}"), css=_CSS),
        f"<h1>{_esc(stage)}: {_esc(q.name)} ({_num(q.points)} points)</h1>",
        f"<h2>Question</h2><pre>{_esc(q.prompt)}</pre>",
        f"<div class='rubric'><h2>Model answer and rubric</h2><pre>{_esc(q.model_answer)}</pre></div>",
        f"<p>{len(entries)} submission(s). Score them in {FOLDER}/{SCORES} (the answer hash must "
        "match the one shown here).</p><div class='grid'>",
    ]
    body += [answer_html(e, q, e.answers[q.name]) for e in entries]
    body.append("</div></body></html>\n")
    return "".join(body)


def submission_html(stage: str, questions: list[WrittenQuestion], entry: Entry) -> str:
    """One submission's written answers (no rubric): the page printed for Gradescope."""
    body = [
        _HEAD.format(title=_esc(f"{stage} {entry.name}"), css=_CSS),
        f"<h1>{_esc(stage)}: {_esc(entry.name)} — written answers</h1>",
    ]
    for q in questions:
        body.append(f"<h2>{_esc(q.name)}</h2><pre>{_esc(q.prompt)}</pre>")
        body.append(answer_html(entry, q, entry.answers[q.name]))
    body.append("</body></html>\n")
    return "".join(body)


def _num(x: float):
    return int(x) if float(x).is_integer() else round(float(x), 5)


# --------------------------------------------------------------------------------------------------
# Scores


def read_scores(path: Path) -> list[dict]:
    """The rows of a TA's scores CSV (COLUMNS; `note` optional). Raises ManualScoresError."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ManualScoresError(f"{path}: {err}") from err
    reader = csv.DictReader(io.StringIO(text))
    need = set(COLUMNS) - {"note"}
    if not reader.fieldnames or not need <= set(reader.fieldnames):
        raise ManualScoresError(f"{path}: expected the columns {', '.join(COLUMNS)}")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def _stored(out: Path) -> dict:
    path = Path(out) / FOLDER / MANUAL
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update(
    out: Path,
    stage: str,
    questions: list[WrittenQuestion],
    entries: list[Entry],
    scores_csv: Path | None = None,
    kept: list[str] = (),
) -> Manual:
    """Write the packets and the scores template, merge the TA's scores (if given) and return them.

    Inputs:
    - out: the batch's output folder (OUT/written/ is written).
    - stage, questions: the stage and its written questions.
    - entries: the answers of this batch's submissions (collect()).
    - scores_csv: the TA's filled scores (None: only the scores merged before count).
    - kept: names of rows kept from earlier runs (--append): their stored scores stand unchecked.

    Returns:
    - manual: the scores that count (answer hash unchanged), what is missing, what needs a regrade.
    """
    folder = Path(out) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    stored = _stored(out)  # {student: {q: {points, comment, hash}}}
    current = {e.name: {q: a.hash for q, a in e.answers.items()} for e in entries}
    by_name = {q.name: q for q in questions}
    manual = Manual(questions, active=scores_csv is not None or bool(stored))
    if scores_csv is not None:
        for n, row in enumerate(read_scores(scores_csv), start=2):
            who, q, pts = row.get("student", ""), row.get("question", ""), row.get("points", "")
            where = f"{Path(scores_csv).name}:{n}"
            if q not in by_name or (who not in current and who not in kept):
                manual.errors.append(f"{where}: unknown student or question {who!r} {q!r}")
                continue
            if pts == "":
                continue
            if not row.get("answer_hash"):
                manual.errors.append(
                    f"{where}: {who} {q}: no answer_hash (copy it from the packet)"
                )
                continue
            try:
                value = float(pts)
            except ValueError:
                manual.errors.append(f"{where}: points {pts!r} is not a number")
                continue
            if not 0 <= value <= by_name[q].points:
                manual.errors.append(
                    f"{where}: {who} {q}: {pts} points outside 0..{_num(by_name[q].points)}"
                )
                continue
            stored.setdefault(who, {})[q] = {
                "points": value,
                "comment": row.get("comment", ""),
                "hash": row.get("answer_hash", ""),
            }
    template = []
    names = sorted(set(current) | set(kept))
    for who in names:
        for q in questions:
            s = stored.get(who, {}).get(q.name)
            now = current.get(who, {}).get(q.name)
            note = ""
            if s is not None and (now is None or s["hash"] == now):
                manual.scores.setdefault(who, {})[q.name] = float(s["points"])
                manual.comments.setdefault(who, {})[q.name] = s.get("comment", "")
                points, comment = _num(s["points"]), s.get("comment", "")
            elif s is not None:
                manual.regrade.append((who, q.name))
                points, comment = "", s.get("comment", "")
                note = f"answer changed since scored ({s['hash']}: {_num(s['points'])} points): regrade"
            else:
                manual.missing.append((who, q.name))
                points, comment = "", ""
            template.append([who, q.name, now or s and s["hash"] or "", points, comment, note])
    keep = {w: v for w, v in stored.items() if w in names}
    write_text(folder / MANUAL, json.dumps(keep, indent=1, sort_keys=True) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    w.writerows(template)
    write_text(folder / SCORES, buf.getvalue())
    for q in questions:
        write_text(folder / f"{q.name}.html", packet_html(stage, q, entries))
    return manual


# --------------------------------------------------------------------------------------------------
# PDF for Gradescope


def chromium() -> str | None:
    """A Chromium executable: $CNNKIT_CHROMIUM, else one on PATH (the kit's browser test installs
    Debian's), or None."""
    env = os.environ.get("CNNKIT_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def pdfs(out: Path, stage: str, questions: list[WrittenQuestion], entries: list[Entry]) -> list:
    """OUT/written/pdf/<student>.pdf: each submission's written answers with their plots (for
    Gradescope's manual grading), printed offline by Chromium headless.

    Returns:
    - written: the PDFs written; raises FileNotFoundError (with what to install) without Chromium.
    """
    from cnnkit.grading.outdir import file_names

    exe = chromium()
    if exe is None:
        raise FileNotFoundError(
            "no Chromium for the PDFs (apt-get install chromium, or set CNNKIT_CHROMIUM to a "
            "Chromium/Chrome executable); the HTML packets are written anyway"
        )
    dest = Path(out) / FOLDER / "pdf"
    dest.mkdir(parents=True, exist_ok=True)
    stems = file_names([e.name for e in entries])
    written = []
    with tempfile.TemporaryDirectory(prefix="cnnkit-pdf-") as tmp:
        for e in entries:
            page = Path(tmp) / f"{stems[e.name]}.html"
            page.write_text(submission_html(stage, questions, e), encoding="utf-8")
            pdf = dest / f"{stems[e.name]}.pdf"
            cmd = [
                exe,
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--no-pdf-header-footer",
                f"--user-data-dir={tmp}/profile",
                f"--print-to-pdf={pdf}",
                page.as_uri(),
            ]
            subprocess.run(cmd, capture_output=True, timeout=120, check=False)
            if pdf.is_file() and pdf.read_bytes().startswith(b"%PDF"):
                written.append(pdf)
    return written
