"""The notebook bootstrap: harmless locally; on a simulated Colab it installs, fetches tests, mounts."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import cnnkit
from cnnkit import colab


class FakeRunner:
    """Records commands; a `git clone` writes a release checkout with the stage's public tests."""

    def __init__(self, stage: str = "01_backprop"):
        self.calls: list[list[str]] = []
        self.stage = stage

    def __call__(self, cmd):
        cmd = list(cmd)
        self.calls.append(cmd)
        if cmd[:2] == ["git", "clone"]:
            tests = Path(cmd[-1]) / "assignments" / self.stage / "tests"
            tests.mkdir(parents=True)
            (tests / "q1.py").write_text("OK_FORMAT = False\nname = 'q1'\n")


@pytest.fixture
def cuda_calls(monkeypatch):
    import torch

    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: calls.append(1) or False)
    return calls


@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    drive = types.SimpleNamespace(mounted=[], mount=None)
    drive.mount = lambda path: drive.mounted.append(path)
    google = types.ModuleType("google")
    gcolab = types.ModuleType("google.colab")
    gcolab.drive = drive
    google.colab = gcolab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", gcolab)
    monkeypatch.delenv("CNNKIT_INSTALL_SPEC", raising=False)
    monkeypatch.chdir(tmp_path)
    return drive


def test_local_bootstrap_installs_nothing_and_reports(monkeypatch, tmp_path, capsys, cuda_calls):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = FakeRunner()
    info = colab.bootstrap("01_backprop", runner=runner)
    assert runner.calls == [] and list(tmp_path.iterdir()) == []
    assert info["colab"] is False and info["version"] == cnnkit.__version__
    assert Path(info["location"]) == Path(cnnkit.__file__).resolve().parent
    assert cuda_calls, "torch.cuda.is_available() must be called"
    out = capsys.readouterr().out
    assert f"cnnkit {cnnkit.__version__}" in out and info["location"] in out
    assert "torch.cuda.is_available() is False" in out


def test_a_graded_kernel_skips_the_device_check(monkeypatch, tmp_path, capsys, cuda_calls):
    # `cnnkit grade` sets CNNKIT_GRADING: the torch import behind the device line would cost every
    # submission of the numpy stages seconds, and nobody reads the graded kernel's output
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("CNNKIT_GRADING", "1")
    monkeypatch.chdir(tmp_path)
    info = colab.bootstrap("01_backprop", runner=FakeRunner())
    assert cuda_calls == []
    assert info["device"] == "not checked while grading"
    assert f"cnnkit {cnnkit.__version__}" in capsys.readouterr().out


def test_colab_installs_cnnkit_and_otter_and_fetches_tests(fake_colab, cuda_calls, capsys):
    runner = FakeRunner()
    info = colab.bootstrap("01_backprop", runner=runner)
    pip = runner.calls[0]
    assert pip[:4] == [sys.executable, "-m", "pip", "install"]
    assert colab.INSTALL_SPEC in pip and "otter-grader" in pip
    clone = runner.calls[1]
    assert clone[:2] == ["git", "clone"] and "--depth" in clone
    repo = colab.INSTALL_SPEC.split("git+", 1)[1].rsplit("@", 1)[0]
    assert repo in clone
    assert Path("tests/q1.py").is_file() and info["tests"] == "tests"
    assert info["colab"] is True and cuda_calls
    assert fake_colab.mounted == []
    assert "(Colab)" in capsys.readouterr().out


def test_colab_env_spec_and_release_ref_and_drive(fake_colab, monkeypatch):
    monkeypatch.setenv("CNNKIT_INSTALL_SPEC", "cnnkit @ git+https://example.org/course.git@v1")
    runner = FakeRunner("02_conv_layers")
    info = colab.bootstrap("02_conv_layers", release_ref="v2", mount_drive=True, runner=runner)
    assert "cnnkit @ git+https://example.org/course.git@v2" in runner.calls[0]
    clone = runner.calls[1]
    assert (
        clone[-2] == "https://example.org/course.git" and clone[clone.index("--branch") + 1] == "v2"
    )
    assert fake_colab.mounted == ["/content/drive"] and info["drive"] == "/content/drive/MyDrive"


def test_colab_wheel_spec_keeps_existing_tests_and_skips_clone(fake_colab, monkeypatch):
    monkeypatch.setenv("CNNKIT_INSTALL_SPEC", "https://example.org/cnnkit-0.1.0-py3-none-any.whl")
    Path("tests").mkdir()
    Path("tests/q1.py").write_text("# uploaded by the student\n")
    runner = FakeRunner()
    info = colab.bootstrap("01_backprop", runner=runner)
    assert len(runner.calls) == 1 and runner.calls[0][-2].endswith(".whl")
    assert info["tests"] == "tests"
    assert Path("tests/q1.py").read_text() == "# uploaded by the student\n"


def test_colab_detected_from_env(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20260101")
    assert colab.on_colab()
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    assert not colab.on_colab()


def test_colab_cell_installs_before_importing():
    src = colab.colab_cell("03_pytorch_cnn", spec="cnnkit @ git+https://x.org/r@t")
    compile(src, "cell", "exec")
    assert src.index("pip") < src.index("from cnnkit.colab import bootstrap")
    assert "'cnnkit @ git+https://x.org/r@t'" in src and "bootstrap('03_pytorch_cnn')" in src
