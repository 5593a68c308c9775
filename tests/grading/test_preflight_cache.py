"""The preflight's result is reused across batches, whatever their output folder, while nothing that
decides it changed (preflight_cache.py), on the toy stage of test_grade.py (conftest.py's `toy`)."""

import os
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
from cnnkit.grading.errors import GradingError  # noqa: E402
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
    (records / "environment.json").write_text("{}")
    preflight_cache.store(tmp_path / "store", "k", records)
    assert (tmp_path / "store" / "k" / "records.json").is_file()
    assert preflight_cache.load(tmp_path / "store", "k", tmp_path / "a") is None
    assert preflight_cache.load(tmp_path / "store", "other", tmp_path / "b") is None


def test_an_entry_without_its_environment_is_not_reused(tmp_path):
    # the environment holds the watched functions' digests: without it nothing would be compared
    records = tmp_path / "records"
    records.mkdir()
    (records / "records.json").write_text('{"t": {"error": null, "records": []}}')
    preflight_cache.store(tmp_path / "store", "k", records)
    assert preflight_cache.load(tmp_path / "store", "k", tmp_path / "a") is None
    (records / "environment.json").write_text("{}")
    preflight_cache.store(tmp_path / "store", "j", records)
    kept = preflight_cache.load(tmp_path / "store", "j", tmp_path / "b")
    assert kept is not None and kept.records == {"t": {"error": None, "records": []}}


def test_the_store_keeps_the_most_recently_used_entries(tmp_path, monkeypatch):
    records = tmp_path / "records"
    records.mkdir()
    (records / "records.json").write_text('{"t": {"error": "", "records": []}}')
    (records / "environment.json").write_text("{}")
    store = tmp_path / "store"
    store.mkdir()
    monkeypatch.setattr(preflight_cache, "KEEP", 3)
    for k in "abc":
        preflight_cache.store(store, k, records)
    for age, k in enumerate("abc"):  # a is the oldest
        os.utime(store / k, (1000 + age, 1000 + age))
    assert preflight_cache.load(store, "a", tmp_path / "used") is not None  # now the newest
    (store / ".x.killed").mkdir()  # a copy a killed batch left, a day old
    os.utime(store / ".x.killed", (1000, 1000))
    preflight_cache.store(store, "d", records)
    preflight_cache.store(store, "d", records)  # stored again (a batch beside): kept once
    assert sorted(p.name for p in store.iterdir() if p.name != ".lock") == ["a", "c", "d"]


def test_the_store_is_private_and_follows_its_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(preflight_cache.STORE_ENV, str(tmp_path / "s" / "preflight"))
    store = preflight_cache.store_dir()
    assert store == tmp_path / "s" / "preflight"
    assert store.stat().st_mode & 0o777 == 0o700
    monkeypatch.delenv(preflight_cache.STORE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert preflight_cache.store_dir() == tmp_path / "xdg" / "cnnkit-grading" / "preflight"
    (tmp_path / "file").write_text("")  # a store that cannot be made: no store, no crash
    monkeypatch.setenv(preflight_cache.STORE_ENV, str(tmp_path / "file" / "preflight"))
    assert preflight_cache.store_dir() is None


def test_a_store_inside_the_data_the_sandbox_shows_is_refused(toy, tmp_path, monkeypatch):
    data = tmp_path / "data"  # the kit's dataset cache: bound read-only into every sandbox
    data.mkdir()
    monkeypatch.setenv("CNNKIT_DATA", str(data))
    for inside in (data / "preflight", Path(sys.prefix) / "cnnkit-preflight-test"):
        monkeypatch.setenv(preflight_cache.STORE_ENV, str(inside))
        with pytest.raises(GradingError, match="lies inside what the sandbox shows"):
            grade_mod.grade(
                STAGE,
                [samples(toy)["solution"]],
                tmp_path / "out",
                workers=1,
                root=toy,
                limits=LIMITS,
                progress=False,
            )
        shutil.rmtree(inside, ignore_errors=True)
    assert not (tmp_path / "out" / "final_grades.csv").exists()


@pytest.mark.slow
def test_the_store_is_covered_in_every_sandbox_and_unused_without_one(toy, tmp_path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setenv(preflight_cache.STORE_ENV, str(store))
    seen = []
    real = runs_mod.execute

    def execute(notebook, workdir, library, limits, **kw):
        seen.append(limits)
        return real(notebook, workdir, library, limits, **kw)

    monkeypatch.setattr(runs_mod, "execute", execute)
    kw = dict(workers=1, root=toy, progress=False)
    grade_mod.grade(STAGE, [samples(toy)["solution"]], tmp_path / "a", limits=LIMITS, **kw)
    # the reference's trusted kernel first (it hides nothing), then the student's
    assert len(seen) == 2 and str(store) in seen[1].hide
    assert len(list(store.iterdir())) == 2  # the entry and the lock
    # no namespaces (nothing covers the store): the batch neither reads nor writes it
    shutil.rmtree(store)
    off = Limits(**{**vars(LIMITS), "isolate": False})
    grade_mod.grade(STAGE, [samples(toy)["solution"]], tmp_path / "b", limits=off, **kw)
    assert not store.exists() or not list(store.iterdir())


@pytest.mark.slow
def test_a_second_batch_reuses_the_preflight_and_a_changed_build_redoes_it(
    toy, tmp_path, monkeypatch
):
    toy = shutil.copytree(toy, tmp_path / "toy")  # its autograder zip is rebuilt below
    solution = samples(toy)["solution"]
    store = tmp_path / "store"
    monkeypatch.setenv(preflight_cache.STORE_ENV, str(store))
    reference_runs = []
    real = runs_mod.run_kernel_cases

    def counting(plan, files, nb_name, mode, *args, **kw):
        if mode == "reference":  # the preflight runs in this process; submissions may not
            reference_runs.append(plan.seed)
        return real(plan, files, nb_name, mode, *args, **kw)

    monkeypatch.setattr(runs_mod, "run_kernel_cases", counting)
    out = tmp_path / "out"

    def batch(folder=out, **kw):
        return grade_mod.grade(
            STAGE,
            [solution],
            folder,
            workers=1,
            root=toy,
            limits=LIMITS,
            progress=False,
            **kw,
        )

    first = batch()
    assert len(reference_runs) == 1
    assert len([p for p in store.iterdir() if p.is_dir()]) == 1
    # a forced regrade into the same folder (same seed, build, grader): the stored preflight
    again = batch(force=True)
    assert len(reference_runs) == 1 and again.graded_now == 1
    assert again.rows[0]["cases"] == first.rows[0]["cases"]
    assert sum(again.rows[0]["scores"].values()) == 9
    # another folder with the same --seed (a shard, a regrade elsewhere): the stored preflight too
    elsewhere = batch(tmp_path / "elsewhere", seed=first.seed)
    assert len(reference_runs) == 1 and elsewhere.graded_now == 1
    assert elsewhere.rows[0]["cases"] == first.rows[0]["cases"]
    # a new folder without --seed draws a fresh seed: its own preflight
    batch(tmp_path / "fresh")
    assert len(reference_runs) == 2 and reference_runs[1] != first.seed
    # a rebuilt stage (another autograder zip): the preflight runs again
    with zipfile.ZipFile(toy / "autograder" / STAGE / "autograder.zip", "a") as zf:
        zf.writestr("NOTES.txt", "rebuilt")
    rebuilt = batch(force=True)
    assert len(reference_runs) == 3
    assert rebuilt.rows[0]["cases"] == first.rows[0]["cases"]
    assert len([p for p in store.iterdir() if p.is_dir()]) == 3
