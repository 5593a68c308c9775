"""Sample submissions from samples.yml: notebooks, artifacts from a CI-mode run, manifest (on the toy
stage that conftest.py's `toy` builds with `cnnkit build --samples`; see toystage.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toystage import STAGE  # noqa: E402

from cnnkit.grading import build as B  # noqa: E402
from cnnkit.grading import samples as S  # noqa: E402
from cnnkit.grading.paths import stage_dirs  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def built(toy) -> Path:
    """The toy stage built with its samples, once per run (read only)."""
    return toy


def _code(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]


def test_manifest_lists_every_sample_with_its_expectation(built):
    manifest = json.loads((stage_dirs(STAGE, built).samples / "manifest.json").read_text())
    got = {m["name"]: (m["expect"], m["loses"], m["artifacts"]) for m in manifest}
    params = ["toy_params.npz"]
    assert got == {
        "solution": ("full", [], params),
        "untouched": ("zero", [], []),
        "partial-affine-no-bias": ("partial", ["q2"], params),
        "broken-raises": ("partial", ["q2"], params),
        "stray-debug-cell": ("full", [], params),
        "loop": ("full", [], params),
        "exits": ("full", [], params),
        "hang": ("partial", ["q1", "q2", "q3"], params),
        "cheat": ("zero", [], []),
        "malformed": ("error", [], []),
    }
    assert [m["file"] for m in manifest] == [f"{m['name']}/{STAGE}.ipynb" for m in manifest]


def test_artifacts_come_from_a_ci_mode_run_of_the_solution(built):
    import numpy as np

    samples = stage_dirs(STAGE, built).samples
    params = np.load(samples / "solution" / "toy_params.npz", allow_pickle=False)
    # the toy's training cell saves cnnkit.ci_mode(): proves CNNKIT_CI=1 and otter_ignore ran
    assert params["ci"].item() is True
    np.testing.assert_array_equal(params["W"], np.arange(6.0).reshape(2, 3))
    assert (stage_dirs(STAGE, built).solution_nb.parent / "toy_params.npz").is_file()
    assert not (samples / "untouched" / "toy_params.npz").exists()
    assert (samples / "malformed" / f"{STAGE}.ipynb").read_text() == "{ this is not json"


def test_replace_swaps_only_the_named_definition(built):
    samples = stage_dirs(STAGE, built).samples
    code = _code(samples / "partial-affine-no-bias" / f"{STAGE}.ipynb")
    affine = next(c for c in code if c.startswith("def affine("))
    assert "without the bias" in affine and "+ b" not in affine
    assert any("squared_value_of_x = np.multiply(x, x)" in c for c in code)
    stray = _code(samples / "stray-debug-cell" / f"{STAGE}.ipynb")
    k = next(i for i, c in enumerate(stray) if c.startswith("def square_plus_one("))
    assert stray[k + 1] == "raise RuntimeError('a stray cell that raises')"
    untouched = _code(samples / "untouched" / f"{STAGE}.ipynb")
    assert untouched == _code(stage_dirs(STAGE, built).student_nb)


def test_regenerating_without_execution_keeps_artifacts_and_bytes(built, tmp_path):
    built = shutil.copytree(built, tmp_path / "repo")  # the shared build stays untouched
    samples = stage_dirs(STAGE, built).samples
    before = {p: p.read_bytes() for p in sorted(samples.rglob("*")) if p.is_file()}
    S.generate(STAGE, built, execute=False)
    after = {p: p.read_bytes() for p in sorted(samples.rglob("*")) if p.is_file()}
    assert before == after


def test_bad_spec_is_refused(tmp_path):
    spec = tmp_path / "samples.yml"
    spec.write_text("samples:\n  - name: a\n    base: teacher\n")
    with pytest.raises(B.BuildError, match="base must be solution or student"):
        S.load_spec(spec)
    spec.write_text("- name: a\n  base: solution\n")  # a bare list: no artifacts
    assert S.load_spec(spec) == {"artifacts": [], "samples": [{"name": "a", "base": "solution"}]}


def test_otter_run_scores_the_partial_sample_as_declared(built, tmp_path):
    """The built autograder.zip grades with `otter run`: the partial sample loses exactly q2."""
    dirs = stage_dirs(STAGE, built)
    sub = tmp_path / "sub"
    shutil.copytree(dirs.samples / "partial-affine-no-bias", sub)
    out = tmp_path / "out"
    out.mkdir()
    otter = Path(sys.executable).with_name("otter")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(
        [
            str(otter),
            "run",
            "-a",
            str(dirs.autograder_zip),
            "-o",
            str(out),
            str(sub / f"{STAGE}.ipynb"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    results = json.loads((out / "results.json").read_text())
    by_q = {t["name"]: (t["score"], t["max_score"]) for t in results["tests"] if "score" in t}
    assert by_q["q1"][0] == by_q["q1"][1] == 3  # 1 public + 2 hidden points
    assert by_q["q2"][0] == 1 and by_q["q2"][1] == 4  # the shape check passes, the values do not
