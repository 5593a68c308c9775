"""Sample submissions from samples.yml: notebooks, artifacts from a CI-mode run, manifest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnnkit.grading import build as B
from cnnkit.grading import samples as S
from cnnkit.grading.paths import repo_root, stage_dirs

FIXTURE = Path(__file__).parent / "build_fixtures" / "toy_stage"
STAGE = "toy_stage"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    real = repo_root()
    root = tmp_path_factory.mktemp("samples") / "repo"
    root.mkdir()
    shutil.copy(real / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(
        real / "lib" / "cnnkit",
        root / "lib" / "cnnkit",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    shutil.copytree(FIXTURE, root / "solutions" / STAGE)
    B.build([STAGE], root, samples=True)
    return root


def _code(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]


def test_manifest_lists_every_sample_with_its_expectation(built):
    manifest = json.loads((stage_dirs(STAGE, built).samples / "manifest.json").read_text())
    got = {m["name"]: (m["expect"], m["loses"], m["artifacts"]) for m in manifest}
    assert got == {
        "solution": ("full", [], ["toy_params.npz"]),
        "untouched": ("zero", [], []),
        "partial-affine-no-bias": ("partial", ["q2"], ["toy_params.npz"]),
        "broken-raises": ("partial", ["q2"], ["toy_params.npz"]),
        "stray-debug-cell": ("full", [], ["toy_params.npz"]),
        "malformed": ("error", [], []),
    }


def test_artifacts_come_from_a_ci_mode_run_of_the_solution(built):
    import numpy as np

    samples = stage_dirs(STAGE, built).samples
    params = np.load(samples / "solution" / "toy_params.npz", allow_pickle=False)
    # the fixture's training cell doubles W in CI mode: proves CNNKIT_CI=1 and otter_ignore ran
    np.testing.assert_array_equal(params["W"], np.arange(6.0).reshape(2, 3) * 2)
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


def test_regenerating_without_execution_keeps_artifacts_and_bytes(built):
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
