"""The `cnnkit` command through a real subprocess (the console script the venv installs)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import cnnkit

BIN = Path(sys.executable).parent / "cnnkit"


def _run(*args, timeout=120):
    # The installed console script when there is one, else the module: both run cli.main.
    cmd = [str(BIN), *args] if BIN.exists() else [sys.executable, "-m", "cnnkit.cli", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_help_lists_subcommands():
    r = _run("--help")
    assert r.returncode == 0, r.stderr
    for sub in ("doctor", "data", "weights", "build", "grade", "release", "demo", "merge"):
        assert sub in r.stdout


def test_version_matches_package():
    r = _run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"cnnkit {cnnkit.__version__}"


def test_unknown_subcommand_fails_with_usage():
    r = _run("no-such-command")
    assert r.returncode == 2
    assert "usage:" in r.stderr


@pytest.mark.skipif(not _has("cnnkit.data"), reason="cnnkit.data (data task) not present yet")
def test_data_list_agrees_with_registry():
    from cnnkit import data

    r = _run("data", "list")
    assert r.returncode == 0, r.stderr
    rows = data.list_datasets()
    names = [line.split()[0] for line in r.stdout.splitlines() if line and not line[0].isspace()]
    assert names == [row["name"] for row in rows]
    for row in rows:
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith(row["name"] + " "))
        assert ("offline: yes" in line) == row["available"]
    # the generated set is always there
    assert next(row for row in rows if row["name"] == "shapes")["available"]


@pytest.mark.skipif(not _has("cnnkit.data"), reason="cnnkit.data (data task) not present yet")
def test_data_path_of_unknown_dataset_fails_clearly():
    r = _run("data", "path", "no_such_dataset")
    assert r.returncode != 0
    assert "no_such_dataset" in r.stderr
    r = _run("data", "path")
    assert r.returncode == 2 and "name a dataset" in r.stderr


@pytest.mark.skipif(not _has("cnnkit.doctor"), reason="cnnkit.doctor (data task) not present yet")
@pytest.mark.slow
def test_doctor_reports_versions_device_and_datasets():
    r = _run("doctor")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert cnnkit.__version__ in out
    assert "torch" in out and "device" in out
    assert "shapes" in out and "fashion_mnist" in out


def test_training_demo_runs_end_to_end_at_tiny_size(tmp_path, monkeypatch, capsys):
    from cnnkit import demo

    # the real sizes train for ~40 s; the code path is the same at a few hundred images
    monkeypatch.setattr(demo, "N_TRAIN", 256)
    monkeypatch.setattr(demo, "N_VAL", 128)
    monkeypatch.setattr(demo, "EPOCHS", 1)
    monkeypatch.setenv("CNNKIT_DEVICE", "cpu")
    rc = demo.train_demo(tmp_path / "out")
    out = capsys.readouterr().out
    assert rc == 0
    png = tmp_path / "out" / "demo_training.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(png.resolve()) in out
    assert "final val accuracy" in out
