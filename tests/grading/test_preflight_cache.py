"""The preflight's result is reused across batches of one output folder while nothing that decides it
changed (preflight_cache.py), on the toy stage of test_grade.py (conftest.py's `toy`)."""

import shutil
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toystage import STAGE, samples  # noqa: E402

from cnnkit.grading import grade as grade_mod  # noqa: E402
from cnnkit.grading import preflight_cache  # noqa: E402
from cnnkit.grading import runs as runs_mod  # noqa: E402
from cnnkit.grading.sandbox import Limits  # noqa: E402

LIMITS = Limits(timeout=120, cell_timeout=15)


def _plan(**changes):
    base = dict(
        stage=STAGE,
        ag=SimpleNamespace(zip_hash="z", reference_hash="r"),
        grader="0.1+abc",
        limits=LIMITS,
        seed=7,
    )
    base.update(changes)
    return SimpleNamespace(**base)


def test_the_key_covers_the_build_grader_limits_seed_and_data(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "w.pth").write_bytes(b"x")
    same = preflight_cache.key(_plan(), [data])
    assert same == preflight_cache.key(
        _plan(limits=Limits(**{**vars(LIMITS), "hide": ["/x"]})), [data]
    )
    for changed in (
        _plan(ag=SimpleNamespace(zip_hash="z2", reference_hash="r")),
        _plan(ag=SimpleNamespace(zip_hash="z", reference_hash="r2")),
        _plan(grader="0.1+def"),
        _plan(seed=8),
        _plan(limits=Limits(timeout=60, cell_timeout=15)),
    ):
        assert preflight_cache.key(changed, [data]) != same
    (data / "w.pth").write_bytes(b"xy")  # a replaced weight file
    assert preflight_cache.key(_plan(), [data]) != same


def test_a_stored_entry_with_a_failing_case_is_not_reused(tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    (records / "records.json").write_text('{"t": {"error": "boom", "records": []}}')
    preflight_cache.store(tmp_path / "cache", "k", records)
    assert preflight_cache.load(tmp_path / "cache", "k") is None
    assert preflight_cache.load(tmp_path / "cache", "other") is None


@pytest.mark.slow
def test_a_second_batch_reuses_the_preflight_and_a_changed_build_redoes_it(
    toy, tmp_path, monkeypatch
):
    toy = shutil.copytree(toy, tmp_path / "toy")  # its autograder zip is rebuilt below
    solution = samples(toy)["solution"]
    reference_runs = []
    real = runs_mod.run_kernel_cases

    def counting(plan, files, nb_name, mode, *args, **kw):
        if mode == "reference":  # the preflight runs in this process; submissions may not
            reference_runs.append(plan.seed)
        return real(plan, files, nb_name, mode, *args, **kw)

    monkeypatch.setattr(runs_mod, "run_kernel_cases", counting)
    out = tmp_path / "out"

    def batch(**kw):
        return grade_mod.grade(
            STAGE,
            [solution],
            out,
            workers=1,
            root=toy,
            limits=LIMITS,
            progress=False,
            **kw,
        )

    first = batch()
    assert len(reference_runs) == 1
    assert len(list((out / ".cache" / preflight_cache.FOLDER).iterdir())) == 1
    # a forced regrade into the same folder (same seed, build, grader): the stored preflight
    again = batch(force=True)
    assert len(reference_runs) == 1 and again.graded_now == 1
    assert again.rows[0]["cases"] == first.rows[0]["cases"]
    assert sum(again.rows[0]["scores"].values()) == 9
    # a rebuilt stage (another autograder zip): the preflight runs again, and replaces the entry
    with zipfile.ZipFile(toy / "autograder" / STAGE / "autograder.zip", "a") as zf:
        zf.writestr("NOTES.txt", "rebuilt")
    rebuilt = batch(force=True)
    assert len(reference_runs) == 2
    assert rebuilt.rows[0]["cases"] == first.rows[0]["cases"]
    assert len(list((out / ".cache" / preflight_cache.FOLDER).iterdir())) == 1
