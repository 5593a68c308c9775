"""Class analytics and similarity on a real stage: the bundled samples of stage 01 plus generated
near-copies and one independently written submission, graded once (module-scoped batch). The bundled
samples' rows come from the run's shared gradebook (conftest.py's `bundled`) through the grader's own
row cache, so only the generated submissions run here.

The bundled partial samples are the solution with one bug each, so at the exercise level they ARE
copies of the solution in every exercise they did not touch; the submissions that must not be flagged
are the independently written one and the untouched starter notebook.
"""

import base64
import csv
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
sys.path.insert(0, str(Path(__file__).parent))
import gradebooks  # noqa: E402
from copies import INDEPENDENT, independent, near_copy  # noqa: E402

from cnnkit.grading import analytics, report_html  # noqa: E402
from cnnkit.grading.grade import grade  # noqa: E402
from cnnkit.grading.paths import repo_root  # noqa: E402
from cnnkit.grading.similarity import SimilarityReport  # noqa: E402

pytestmark = pytest.mark.slow

STAGE = "01_backprop"
ROOT = repo_root()
SAMPLES = ROOT / "autograder" / STAGE / "samples"
MANIFEST = {e["name"]: e for e in json.loads((SAMPLES / "manifest.json").read_text())}
# generated: the near-copies copy the named sample's code; "independent" is scored from the CSV
GENERATED = {"copy-renamed": "solution", "copy-of-partial": "partial-db-axis"}


@pytest.fixture(scope="module")
def batch(tmp_path_factory, bundled):
    gen = tmp_path_factory.mktemp("generated")
    for name, source in GENERATED.items():
        near_copy(SAMPLES / source / f"{STAGE}.ipynb", gen / name / f"{STAGE}.ipynb")
    student = ROOT / "assignments" / STAGE / f"{STAGE}.ipynb"
    independent(student, gen / "independent" / f"{STAGE}.ipynb")
    subs = [SAMPLES / n for n in MANIFEST] + [gen / n for n in [*GENERATED, "independent"]]
    out = tmp_path_factory.mktemp("out")
    # same seed and limits as the shared gradebook: its cached rows are this batch's rows
    shutil.copytree(bundled(STAGE).out / ".cache", out / ".cache")
    result = grade(
        STAGE,
        subs,
        out,
        workers=2,
        timeout=gradebooks.TIMEOUT,
        progress=False,
        seed=gradebooks.SEED,
    )
    assert result.graded_now == len(GENERATED) + 1, "the bundled rows were not reused"
    return out


def _csv(out):
    with open(out / "final_grades.csv") as f:
        rows = list(csv.DictReader(f))
    return rows[0], {r["file"]: r for r in rows[1:]}


class _Tables(HTMLParser):
    """The page's tables (after each <h2 id=...>) as lists of rows of cell texts, and its tags."""

    def __init__(self):
        super().__init__()
        self.tables, self.section, self.tags, self.imgs = {}, None, [], []
        self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "h2":
            self.section = attrs.get("id")
        elif tag == "table":
            self.tables.setdefault(self.section, [])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.imgs.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            self.tables[self.section].append(self._row)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _page(out) -> _Tables:
    p = _Tables()
    p.feed((out / "report.html").read_text())
    return p


def _expected_scores(out) -> dict[str, dict[str, bool]]:
    """{file: {question: full marks?}} from the manifest (independent: from the CSV)."""
    possible, rows = _csv(out)
    questions = [q for q in possible if re.fullmatch(r"q\d+", q)]
    full = {}
    for name, e in MANIFEST.items():
        if e["expect"] == "full":
            full[name] = dict.fromkeys(questions, True)
        elif e["expect"] in ("zero", "error"):
            full[name] = dict.fromkeys(questions, False)
        else:
            full[name] = {q: q not in e["loses"] for q in questions}
    for name, source in GENERATED.items():
        full[name] = full[source]
    full["independent"] = {q: rows["independent"][q] == possible[q] for q in questions}
    return full


def test_report_is_self_contained_with_inline_plots(batch):
    page = _page(batch)
    text = (batch / "report.html").read_text()
    assert not any(t in ("script", "link", "iframe") for t, _ in page.tags)
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:|//|file:)", text)
    assert len(page.imgs) >= 2
    for src in page.imgs:
        head, data = src.split(",", 1)
        assert head == "data:image/png;base64"
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_question_statistics_match_the_samples(batch):
    expected = _expected_scores(batch)
    table = _page(batch).tables["questions"]
    assert table[0] == ["question", "possible", "mean", "full marks"]
    n = len(expected)
    possible, rows = _csv(batch)
    for q, poss, mean, full in table[1:]:
        want = sum(1 for v in expected.values() if v[q])
        assert full == f"{want}/{n}", q
        assert poss == possible[q]
        assert float(mean) == pytest.approx(sum(float(r[q]) for r in rows.values()) / n, abs=0.005)


def test_case_pass_rates_and_hardest_hidden_cases(batch):
    results, hidden = analytics.load_results(batch)
    stats = analytics.class_stats(results, hidden)
    expected = _expected_scores(batch)
    graded = sum(1 for e in MANIFEST.values() if e["expect"] != "error") + len(GENERATED) + 1
    by_q = {}
    for c in stats.cases:
        assert c.graded == graded
        by_q.setdefault(c.question, []).append(c)
    for q, cases in by_q.items():
        # a question has full marks iff all its cases pass: the cases' minimum pass count is bounded
        # below by the full-marks count, and each case that some full-marks student fails is a bug
        full = sum(1 for v in expected.values() if v[q])
        assert min(c.passed for c in cases) >= full, q
    table = _page(batch).tables["cases"]
    assert len(table) - 1 == len(stats.cases)
    assert {r[2] for r in table[1:]} == {"public", "hidden"}
    hardest = stats.hardest_hidden
    rates = sorted(c.pass_rate for c in stats.cases if c.hidden)
    assert [c.pass_rate for c in hardest] == rates[: len(hardest)]
    # the hardest hidden cases carry their failure messages (hidden messages reach the instructor)
    failing = [c for c in hardest if c.passed < c.graded]
    assert failing and all(c.messages for c in failing)
    page_rows = _page(batch).tables["hardest"][1:]
    assert [r[0] for r in page_rows] == [f"{c.question}/{c.name}" for c in hardest]
    for row, c in zip(page_rows, hardest, strict=True):
        if c.messages:
            assert c.messages[0][0][:40] in row[2]


def test_failures_and_student_lines(batch):
    page = _page(batch)
    failures = {r[0]: r for r in page.tables["failures"][1:]}
    assert set(failures) == {"malformed"}
    assert "malformed notebook" in failures["malformed"][3]
    students = {r[0]: r for r in page.tables["students"][1:]}
    assert set(students) == set(_expected_scores(batch))
    results, _ = analytics.load_results(batch)
    case_q = {c: q for q, v in results["submissions"][0]["questions"].items() for c in v["cases"]}
    for name, e in MANIFEST.items():
        if e["expect"] != "partial":
            continue
        failed = [c for c in (students[name][4] + ", " + students[name][5]).split(", ") if c]
        assert failed, name
        assert {case_q[c] for c in failed} <= set(e["loses"]), name
    assert students["solution"][1] == _csv(batch)[0]["total_points_earned"]
    assert students["solution"][4:6] == ["", ""]


def test_similarity_flags_the_near_copies_and_not_the_independent_ones(batch):
    sim = SimilarityReport.from_json((batch / "similarity.json").read_text())
    pairs = {frozenset((p.a, p.b)): p for p in sim.pairs}
    renamed = pairs[frozenset(("copy-renamed", "solution"))]
    # every exercise both wrote is flagged: renaming and new comments do not hide a copy
    assert len(renamed.matches) == renamed.compared >= 10
    assert renamed.score >= 0.95
    of_partial = pairs[frozenset(("copy-of-partial", "partial-db-axis"))]
    assert len(of_partial.matches) == of_partial.compared
    flagged = {n for p in sim.pairs for n in (p.a, p.b)}
    assert "independent" not in flagged
    assert "untouched" not in flagged  # starter code only: all boilerplate
    assert "malformed" not in flagged
    exercises = json.loads((batch / "exercises.json").read_text())
    assert "malformed" in exercises["unreadable"]
    assert set(INDEPENDENT) <= set(exercises["exercises"])
    # the table lists every flagged pair; the side-by-side view shows both cells, overlap marked
    page = _page(batch)
    listed = {frozenset(r[:2]) for r in page.tables["similarity"][1:]}
    assert listed == set(pairs)
    text = (batch / "report.html").read_text()
    first = sim.pairs[0]
    best = sorted(first.matches, key=lambda m: -m.score)[0]
    assert f"{first.a} &harr; {first.b}: {best.exercise}" in text
    assert "<mark>" in text
    assert "not a verdict or a penalty" in text


def test_report_can_be_rewritten_from_the_output_folder(batch, tmp_path):
    import shutil

    copy = tmp_path / "out"
    shutil.copytree(batch, copy)
    (copy / "report.html").unlink()
    report_html.write(copy)
    assert (copy / "report.html").read_text() == (batch / "report.html").read_text()
