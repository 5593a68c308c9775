"""Fixtures for the browser tests: a released student repo, JupyterLab on 127.0.0.1, headless Chromium.

Everything here stays on the loopback interface: JupyterLab runs with news, update checks and the
extension manager off, and Chromium with its background networking off, because this machine and CI
have no network and a blocked connection attempt can stall the UI.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CNNKIT_CHROMIUM", "/usr/bin/chromium"))
REPO = Path(__file__).resolve().parents[2]
STAGE = "01_backprop"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# Debian's Chromium under Playwright, headless, as root, on a machine without a network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# User settings of the JupyterLab under test: every cell stays in the DOM (no windowed rendering, so
# selectors find cells below the fold) and nothing asks the network for news or updates.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}
PAGE_CONFIG = {
    "disabledExtensions": {
        "@jupyterlab/extensionmanager-extension": True,
        "@jupyterlab/apputils-extension:announcements": True,
        # instructor tooling installed in the kit's venv; a student's JupyterLab does not have it
        "@jupyter/nbgrader": True,
    }
}


# Server extensions of the kit's venv that a student's JupyterLab does not have (instructor tooling).
SERVER_CONFIG = {
    "ServerApp": {
        "jpserver_extensions": {
            f"nbgrader.server_extensions.{name}": False
            for name in ("assignment_list", "course_list", "formgrader", "validate_assignment")
        }
    }
}


def missing_browser() -> str | None:
    """Why the browser test cannot run here (Chromium or Playwright missing), or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install chromium; `make test` does it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python playwright client is not installed (pip install playwright)"
    return None


def pytest_collection_modifyitems(config, items):
    """Skip the browser tests, with the reason, where Chromium or Playwright is not installed.

    With env CNNKIT_REQUIRE_BROWSER=1 (CI) they are not skipped but fail with that reason.
    """
    reason = missing_browser()
    if reason and not os.environ.get("CNNKIT_REQUIRE_BROWSER"):
        for item in items:
            if item.get_closest_marker("browser"):
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def release_stage(out: Path) -> Path:
    """`cnnkit release --stage 1 --out out`: the student repository a student of stage 01 gets."""
    from cnnkit.grading.release import release

    return release(1, out, root=REPO)


class Lab:
    """A JupyterLab server in its own process group, on 127.0.0.1 with a random port and token.

    Inputs:
    - root: the folder JupyterLab serves (the released student repository).
    - work: a scratch folder for Jupyter's config, runtime and settings dirs and the server log.
    - pythonpath: prepended to the kernel's PYTHONPATH (the release's gated lib/, so the kernel
      imports the student's cnnkit and not the checkout's full library).
    """

    def __init__(self, root: Path, work: Path, pythonpath: Path):
        self.root, self.work = root, work
        self.token = secrets.token_hex(24)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None
        self.env = self._env(pythonpath)

    def _env(self, pythonpath: Path) -> dict:
        cfg, settings = self.work / "config", self.work / "settings"
        (cfg / "labconfig").mkdir(parents=True, exist_ok=True)
        (cfg / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
        (cfg / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG))
        for rel, value in LAB_SETTINGS.items():
            p = settings / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(value))
        env = dict(os.environ)
        # A student's kernel: inline plots (not the suite's Agg), no CI shortcuts, no grading mode.
        for key in ("MPLBACKEND", "CNNKIT_CI", "CNNKIT_GRADING", "JPY_SESSION_NAME"):
            env.pop(key, None)
        env.update(
            PYTHONPATH=os.pathsep.join(
                [str(pythonpath), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            JUPYTER_CONFIG_DIR=str(cfg),
            JUPYTER_RUNTIME_DIR=str(self.work / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.work / "workspaces"),
            IPYTHONDIR=str(self.work / "ipython"),
            MPLCONFIGDIR=str(self.work / "mpl"),
            JUPYTER_PLATFORM_DIRS="1",
            OMP_NUM_THREADS="1",
        )
        return env

    def start(self) -> Lab:
        """Start the server process; wait_ready() waits for it to answer."""
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def wait_ready(self, timeout: float = 90.0) -> Lab:
        """Wait until the server answers /api/status (raises with the server log if it never does)."""
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status = self.api("GET", "/api/status")
                if "started" in status:
                    return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.3)
        raise RuntimeError(
            f"JupyterLab did not answer /api/status in {timeout:.0f}s:\n{self.log()}"
        )

    def api(self, method: str, path: str, timeout: float = 10.0) -> dict:
        req = urllib.request.Request(
            self.url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body.strip() else {}

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def descendants(self) -> list:
        """psutil.Process objects of the server and everything it started (kernels included)."""
        import psutil

        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            p = psutil.Process(self.proc.pid)
            return [p, *p.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 20.0) -> None:
        """Shut down through the API (kernels first), then end the whole process group."""
        if self.proc is None:
            return
        import psutil

        procs = self.descendants()
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.api("POST", "/api/shutdown", timeout=5)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, sig)
                    self.proc.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        # Kernels run in sessions of their own: end any the API shutdown left behind.
        _, alive = psutil.wait_procs([p for p in procs if _alive(p)], timeout=5)
        for p in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(alive, timeout=5)
        self.proc = None


def _alive(p) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def student_repo(tmp_path: Path) -> Path:
    """The released stage-01 student repository in a temp folder (the output of `cnnkit release`)."""
    from cnnkit.grading.release import ReleaseError

    reason = missing_browser()
    if reason:  # only reached when CNNKIT_REQUIRE_BROWSER is set
        pytest.fail(f"the browser test is required here but cannot run: {reason}")
    try:
        out = release_stage(tmp_path / "student-repo")
    except ReleaseError as e:
        pytest.fail(f"`cnnkit release --stage 1` failed, so there is no student repo to open:\n{e}")
    # the released library must be what the kernel imports, and it must be gated
    assert (out / "lib" / "cnnkit" / "__init__.py").is_file()
    assert not (out / "lib" / "cnnkit" / "grading").exists()
    return out


@pytest.fixture
def lab(student_repo: Path, tmp_path: Path):
    """A running JupyterLab serving the student repo; stopped (API shutdown + process group) after."""
    work = tmp_path / "lab"
    work.mkdir()
    server = Lab(student_repo, work, pythonpath=student_repo / "lib")
    try:
        # started here, waited for in the test: the server boots while Chromium launches
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def screenshots() -> Path:
    """Folder for this run's screenshots (test artifacts; the README links one of them), emptied."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


@pytest.fixture
def chromium(tmp_path: Path):
    """A headless Debian Chromium driven by Playwright, with a fresh profile; closed after the test.

    Yields a dict with `context` (a persistent BrowserContext) and `close()` (idempotent).
    """
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    state: dict = {"context": None}

    def close() -> None:
        if state.get("closed"):
            return
        state["closed"] = True
        try:
            if state["context"] is not None:
                state["context"].close()
        finally:
            pw.stop()

    state["close"] = close
    try:
        state["context"] = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            device_scale_factor=1,
        )
        yield state
    finally:
        close()
