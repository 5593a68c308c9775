"""The pipeline's invariants on the real stages: every bundled sample scores as its manifest says.

One `cnnkit grade` batch per stage (kernel starts dominate, so all samples go in together), shared
with the other modules that read it (conftest.py's `bundled`: graded once per run):
- the solution scores full marks;
- the untouched student notebook scores 0 and fails at least one public case per question;
- a partial sample scores strictly between, loses points on exactly the questions it declares and
  keeps full points elsewhere;
- a broken sample still gets a row (0 and a reason when it cannot be read);
- every sample's per-question scores equal the golden gradebook (tests/grading/golden/samples/, see
  gradebooks.py): graded with the golden seed, so a refactor that changes any score is caught.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import gradebooks  # noqa: E402

from cnnkit.grading.stage import NAMES  # noqa: E402

STAGES = list(NAMES)  # every notebook of the course


@pytest.fixture(scope="module", params=STAGES)
def graded(request, bundled):
    batch = bundled(request.param)
    return batch.stage, batch.manifest, batch.results, batch


pytestmark = pytest.mark.slow


def test_every_sample_has_exactly_one_row(graded):
    _, manifest, rows, batch = graded
    assert sorted(rows) == sorted(m["name"] for m in manifest)
    assert sorted(batch.rows) == sorted(rows)


def test_solution_scores_full(graded):
    stage, _, rows, _ = graded
    row = rows["solution"]
    assert row["total"] == row["possible"] > 0, f"{stage}: {row['reason']}"


def test_untouched_scores_zero_and_fails_a_public_case_per_question(graded):
    _, _, rows, _ = graded
    row = rows["untouched"]
    assert row["total"] == 0
    for q, qres in row["questions"].items():
        public = [c for c in qres["cases"].values() if not c["hidden"]]
        assert public, f"{q} has no public case"
        assert any(not c["passed"] for c in public), f"{q}: every public case passes untouched"


def test_partial_samples_lose_exactly_their_questions(graded):
    stage, manifest, rows, _ = graded
    for m in manifest:
        if m["expect"] != "partial":
            continue
        row = rows[m["name"]]
        assert 0 < row["total"] < row["possible"], f"{stage}/{m['name']}: {row['total']}"
        for q, qres in row["questions"].items():
            lost = qres["score"] < qres["possible"]
            assert lost == (q in m["loses"]), f"{stage}/{m['name']}: {q} lost={lost}"


def test_broken_samples_get_a_row_with_a_reason(graded):
    stage, manifest, rows, _ = graded
    for m in manifest:
        if m["expect"] != "error":
            continue
        row = rows[m["name"]]
        assert row["total"] == 0 and row["reason"], f"{stage}/{m['name']}"


def test_final_grades_csv_has_one_line_per_sample(graded):
    _, manifest, _, batch = graded
    lines = (batch.out / "final_grades.csv").read_text().strip().splitlines()
    # otter grade's layout: a header, a points-per-question row, then one row per submission
    assert lines[1].startswith("points-per-question,")
    assert len(lines) == 2 + len(manifest)


def test_scores_equal_the_golden_gradebook(graded):
    stage, _, _, batch = graded
    gradebooks.check("samples", stage, list(batch.rows.values()), batch.seed)
