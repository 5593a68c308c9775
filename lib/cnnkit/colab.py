"""The first cell of every notebook: `from cnnkit.colab import bootstrap; bootstrap("<stage>")`.

On Colab (the `google.colab` module is loaded, or env COLAB_RELEASE_TAG is set) it installs cnnkit from
the course release (INSTALL_SPEC below, set at release time, or env CNNKIT_INSTALL_SPEC) and
otter-grader, puts the stage's public tests in ./tests where `grader.check` looks for them (copied from
the installed release checkout, or fetched from TESTS_URL), and optionally mounts Google Drive for
checkpoints. Everywhere it prints the cnnkit version, where cnnkit was imported from, and the device
(`torch.cuda.is_available()` is called). Locally it installs nothing and touches no file.

Colab cannot run otter's export: students download the .ipynb (and the saved parameters file).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from cnnkit.runtime import grading_mode

# Set by the release tool: a pip requirement for the course's cnnkit (git URL with tag, or a wheel URL).
INSTALL_SPEC = "cnnkit @ git+https://github.com/cnnkit/cnnkit-course@main"
# Where a stage's public tests live inside that release (a git checkout of it).
TESTS_SUBDIR = "assignments/{stage}/tests"

Runner = Callable[[Sequence[str]], None]


def on_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules or bool(os.environ.get("COLAB_RELEASE_TAG"))


def install_spec(release_ref: str | None = None) -> str:
    """The pip requirement for cnnkit: env CNNKIT_INSTALL_SPEC, else INSTALL_SPEC at `release_ref`.

    Inputs:
    - release_ref: a git tag/branch replacing the one in a git INSTALL_SPEC (ignored for wheel URLs).

    Returns:
    - spec: a string pip accepts.
    """
    spec = os.environ.get("CNNKIT_INSTALL_SPEC") or INSTALL_SPEC
    if release_ref and "git+" in spec:
        base = spec.rsplit("@", 1)[0] if spec.count("@") >= 2 else spec
        spec = f"{base}@{release_ref}"
    return spec


def _git_url(spec: str) -> str | None:
    """The repository URL (with @ref) inside a `name @ git+URL@ref` spec, or None for wheels."""
    if "git+" not in spec:
        return None
    return spec.split("git+", 1)[1]


def _run(cmd: Sequence[str]) -> None:
    subprocess.run(list(cmd), check=True)


def _pip(runner: Runner, *args: str) -> None:
    runner([sys.executable, "-m", "pip", "install", "-q", *args])


def fetch_tests(stage: str, spec: str, dest: Path, runner: Runner) -> Path | None:
    """Put the stage's public tests into `dest` (./tests) from a shallow clone of the release.

    Inputs:
    - stage: the stage name.
    - spec: the install spec (its git URL and ref name the release).
    - dest: target folder, usually Path("tests").
    - runner: runs a command (list of str); raises on failure.

    Returns:
    - dest if tests were put there, else None (wheel installs: no repository to take them from).
    """
    url = _git_url(spec)
    if url is None:
        return None
    repo, _, ref = url.rpartition("@") if url.count("@") else (url, "", "")
    repo = repo or url
    with tempfile.TemporaryDirectory(prefix="cnnkit-release-") as tmp:
        cmd = ["git", "clone", "--quiet", "--depth", "1"]
        if ref:
            cmd += ["--branch", ref]
        runner([*cmd, repo, tmp])
        src = Path(tmp) / TESTS_SUBDIR.format(stage=stage)
        if not src.is_dir():
            print(
                f"cnnkit: the release has no {TESTS_SUBDIR.format(stage=stage)}; checks will fail"
            )
            return None
        shutil.copytree(src, dest, dirs_exist_ok=True)
    return dest


def _device_report() -> str:
    try:
        import torch
    except ImportError:
        return "torch is not installed: the numpy notebooks work, the torch ones need it"
    if torch.cuda.is_available():
        return f"GPU available: {torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return (
        f"no GPU (torch.cuda.is_available() is False; torch {torch.__version__}); "
        "fine for the numpy notebooks, slow for training. On Colab: Runtime > Change runtime type > GPU"
    )


class BootstrapInfo(dict):
    """What bootstrap() found: a dict that shows as one short line when it ends a notebook cell."""

    def __repr__(self) -> str:
        where = "Colab" if self.get("colab") else "local"
        return f"<cnnkit {self.get('version')} ready ({where})>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


def bootstrap(
    stage: str,
    release_ref: str | None = None,
    *,
    mount_drive: bool = False,
    runner: Runner | None = None,
) -> BootstrapInfo:
    """Make the notebook ready: on Colab install and fetch tests; everywhere report version and device.

    Inputs:
    - stage: the notebook's stage, e.g. "01_backprop".
    - release_ref: optional git tag of the release to install on Colab.
    - mount_drive: on Colab, mount Google Drive at /content/drive (for checkpoints).
    - runner: runs shell commands (tests inject a fake); default subprocess.run(check=True).

    Returns:
    - info: BootstrapInfo (a dict) with keys colab (bool), installed (list of specs installed), tests (str or None),
      version, location (where cnnkit was imported from), device (the device message).
    """
    runner = runner or _run
    info = BootstrapInfo(colab=on_colab(), installed=[], tests=None, drive=None)
    if info["colab"]:
        spec = install_spec(release_ref)
        _pip(runner, spec, "otter-grader")
        info["installed"] = [spec, "otter-grader"]
        tests = Path("tests")
        if not any(tests.glob("*.py")):
            fetched = fetch_tests(stage, spec, tests, runner)
            info["tests"] = str(fetched) if fetched else None
        else:
            info["tests"] = str(tests)
        if mount_drive:
            from google.colab import drive

            drive.mount("/content/drive")
            info["drive"] = "/content/drive/MyDrive"
    import cnnkit

    info["version"] = cnnkit.__version__
    info["location"] = str(Path(cnnkit.__file__).resolve().parent)
    where = "Colab" if info["colab"] else "local"
    print(f"cnnkit {info['version']} ({where}) imported from {info['location']}")
    if grading_mode():
        # nobody reads a graded kernel's output, and importing torch for this line alone costs
        # every submission of the numpy stages seconds
        info["device"] = "not checked while grading"
    else:
        print(
            "cnnkit: checking the device (the first torch import takes a few seconds)...",
            flush=True,
        )
        info["device"] = _device_report()
    print(f"cnnkit: {info['device']}")
    if info["colab"] and info["tests"] is None:
        print("cnnkit: public tests not found in ./tests; upload the stage's tests folder")
    return info


def colab_cell(stage: str, spec: str | None = None) -> str:
    """Source of the Colab variant's first code cell: install cnnkit if missing, then bootstrap.

    Inputs:
    - stage: the stage name.
    - spec: pip requirement for cnnkit (default install_spec()).

    Returns:
    - source: Python source for a notebook cell.
    """
    spec = spec or install_spec()
    return (
        "# On Colab, cnnkit is installed from the course release first.\n"
        "import importlib.util, os, subprocess, sys\n"
        'if importlib.util.find_spec("cnnkit") is None:\n'
        "    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q',\n"
        f"                    os.environ.get('CNNKIT_INSTALL_SPEC', {spec!r})], check=True)\n"
        "from cnnkit.colab import bootstrap\n"
        f"bootstrap({stage!r})"
    )
