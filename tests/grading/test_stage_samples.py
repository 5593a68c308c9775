"""The pipeline's invariants on the real stages: every bundled sample scores as its manifest says.

One `cnnkit grade` batch per stage (kernel starts dominate, so all samples go in together):
- the solution scores full marks;
- the untouched student notebook scores 0 and fails at least one public case per question;
- a partial sample scores strictly between, loses points on exactly the questions it declares and
  keeps full points elsewhere;
- a broken sample still gets a row (0 and a reason when it cannot be read);
- every sample's per-question scores equal the golden gradebook (tests/grading/golden/samples/, see
  gradebooks.py): graded with the golden seed, so a refactor that changes any score is caught.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import gradebooks  # noqa: E402

from cnnkit.grading.grade import grade  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STAGES = ["01_backprop", "02_conv_layers", "03_pytorch_cnn", "04_transfer_learning"]


def _manifest(stage: str) -> list[dict]:
    path = ROOT / "autograder" / stage / "samples" / "manifest.json"
    if not path.is_file():
        pytest.fail(f"{stage}: no bundled samples; run `cnnkit build --samples {stage}`")
    return json.loads(path.read_text())


_GRADED: dict[str, tuple] = {}  # pytest may set a parametrized module fixture up twice


@pytest.fixture(scope="module", params=STAGES)
def graded(request, tmp_path_factory):
    stage = request.param
    if stage in _GRADED:
        return _GRADED[stage]
    manifest = _manifest(stage)
    samples = ROOT / "autograder" / stage / "samples"
    subs = [samples / m["name"] for m in manifest]
    out = tmp_path_factory.mktemp(f"grade-{stage}")
    result = grade(
        stage,
        subs,
        out=out,
        workers=2,
        timeout=600,
        root=ROOT,
        progress=False,
        seed=gradebooks.SEED,
    )
    data = json.loads((out / "results.json").read_text())
    rows = {Path(r["file"]).name: r for r in data["submissions"]}
    _GRADED[stage] = (stage, manifest, rows, result)
    return _GRADED[stage]


pytestmark = pytest.mark.slow


def test_every_sample_has_exactly_one_row(graded):
    _, manifest, rows, result = graded
    assert sorted(rows) == sorted(m["name"] for m in manifest)
    assert len(result.rows) == len(manifest)


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
    _, manifest, _, result = graded
    lines = result.csv.read_text().strip().splitlines()
    # otter grade's layout: a header, a points-per-question row, then one row per submission
    assert lines[1].startswith("points-per-question,")
    assert len(lines) == 2 + len(manifest)


def test_scores_equal_the_golden_gradebook(graded):
    stage, _, _, result = graded
    gradebooks.check("samples", stage, result.rows, result.seed)
