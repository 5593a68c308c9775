"""The batch's held-out features (runs.run_artifact_cases, features.HELDOUT_CACHE_ENV): the reference
run's artifact cases write them, every submission's artifact cases read them read-only, no kernel
sees them, and a batch that reuses the stored preflight still has them.

On the toy stage with one more artifact case that keeps a value in the folder the way
`features.heldout_features` keeps MobileNetV2 features (stage 04's head-accuracy cases).
"""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toystage import CASES, STAGE, make_root, samples  # noqa: E402

from cnnkit.features import HELDOUT_CACHE_ENV, HELDOUT_KEEP_ENV  # noqa: E402
from cnnkit.grading import grade as grade_mod  # noqa: E402
from cnnkit.grading import runs as runs_mod  # noqa: E402
from cnnkit.grading.build import build  # noqa: E402
from cnnkit.grading.sandbox import Limits  # noqa: E402

pytestmark = pytest.mark.slow

LIMITS = Limits(timeout=120, cell_timeout=15)
# written by the reference run (told so by CNNKIT_HELDOUT_KEEP), read by the others, which must not be
# able to write there; a run that finds no folder, or a folder without the file, fails the case
HELDOUT_CASE = """

@case("q3", points=1, hidden=True)
def test_heldout_kept_by_the_reference():
    import os

    import numpy as np

    from cnnkit import checks

    folder = os.environ.get("CNNKIT_HELDOUT_CACHE", "")
    path = os.path.join(folder, "toy-heldout.npz")
    if os.environ.get("CNNKIT_HELDOUT_KEEP") == "1":  # the reference run
        with open(path, "wb") as f:
            np.savez(f, v=np.arange(3.0))
    else:
        checks.true("read-only", not os.access(folder, os.W_OK), "a submission could write there")
    with np.load(path, allow_pickle=False) as f:
        v = f["v"]
    checks.close("kept values", v, lambda: np.arange(3.0), msg="wrong")
"""


def test_reference_keeps_heldout_features_for_the_artifact_cases_only(tmp_path, monkeypatch):
    root = make_root(tmp_path / "repo", cases=CASES.read_text() + HELDOUT_CASE)
    build([STAGE], root, samples=True)
    built = samples(root)
    subs = tmp_path / "subs"
    for name, sample in (("alice", "solution"), ("bob", "partial-affine-no-bias")):
        shutil.copytree(built[sample], subs / name)
    kernels, checks = [], []
    real_execute, real_checks = runs_mod.execute, runs_mod.execute_checks

    def execute(notebook, workdir, library, limits, **kw):
        kernels.append((limits, kw.get("extra_env") or {}))
        return real_execute(notebook, workdir, library, limits, **kw)

    def execute_checks(spec, workdir, library, limits, extra_env=None, writable=None):
        checks.append((limits, dict(extra_env or {}), [str(w) for w in writable or []]))
        return real_checks(spec, workdir, library, limits, extra_env, writable)

    monkeypatch.setattr(runs_mod, "execute", execute)
    monkeypatch.setattr(runs_mod, "execute_checks", execute_checks)
    out = tmp_path / "out"

    def batch(**kw):
        return grade_mod.grade(
            STAGE,
            sorted(subs.iterdir()),
            out,
            workers=1,
            root=root,
            limits=LIMITS,
            progress=False,
            **kw,
        )

    first = batch()
    for row in first.rows:
        assert row["cases"]["test_heldout_kept_by_the_reference"]["passed"], row["name"]
    assert [sum(r["scores"].values()) == 10 for r in first.rows] == [True, False]
    # the reference's artifact run writes into its own work dir; the submissions' read the batch's
    # copy, shown read-only and not covered; the kernels get neither the folder nor the variable
    (ref, *graded) = checks
    assert ref[1][HELDOUT_CACHE_ENV] in ref[2] and ref[1][HELDOUT_KEEP_ENV] == "1"
    assert len(graded) == 2
    for limits, env, writable in graded:
        folder = env[HELDOUT_CACHE_ENV]
        assert folder in limits.read_only and folder not in limits.hide
        assert folder not in writable and Path(folder).name == "heldout"
        assert HELDOUT_KEEP_ENV not in env
    assert len(kernels) == 3 and all(HELDOUT_CACHE_ENV not in env for _, env in kernels)
    for limits, _ in kernels[1:]:  # the students' (the reference's trusted kernel hides nothing)
        assert folder in limits.hide and folder not in limits.read_only
    # a regrade into the same folder reuses the stored preflight (no reference run): the
    # submissions still read the features it kept
    checks.clear()
    again = batch(force=True)
    assert len(checks) == 2 and all(HELDOUT_CACHE_ENV in env for _, env, _ in checks)
    assert [r["scores"] for r in again.rows] == [r["scores"] for r in first.rows]
