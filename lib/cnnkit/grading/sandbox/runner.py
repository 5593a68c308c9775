"""The sandbox's runner: the process the grader starts inside the namespaces (see launcher.py).

The grader copies this file, `contract.py` and `boot.py` into the run's 0700 boot dir and starts
`python -I runner.py runner.json` (a `contract.RunnerConfig`) in the sandbox. The runner

- under the unshare fallback, builds the private /tmp and /dev/shm, keeps the paths the kernel's uid
  needs reachable (`_expose`) and covers the deny-list (`_hide`); bwrap did all of it already;
- writes the boot script's config and the kernel spec, then executes the notebook with nbclient in a
  kernel started by `boot.py` (otter's own cells emptied, the probe cell appended, each cell under its
  limit, a dead kernel's notebook rerun without the cell that killed it), or runs the artifact checks
  (`boot.py` in "probe" mode) under the wall clock;
- writes status.json ({status, reason, hidden, deaths}) for the grader; kills what the kernel left.

It imports nothing of the library (the kernel must not see the full one); the launcher imports it
for `prepare_notebook` and the process helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

if __package__:  # imported by the launcher
    from cnnkit.grading.contract import RunnerConfig
else:  # run as a script from the boot dir (`python -I`): contract.py lies beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from contract import RunnerConfig

KERNEL_NAME = "cnnkit-grade"
# otter's own cells: the checks run outside the kernel here, and `import otter` alone costs seconds
_SKIP_CELL = re.compile(r"^\s*(grader\.(check|check_all|export)\([^\n]*\)\s*)+$")
_OTTER_LINE = re.compile(r"^\s*(#.*|import otter|grader\s*=\s*otter\.Notebook\(.*\))?\s*$")


def _otter_cell(source: str) -> bool:
    lines = source.splitlines()
    return bool(_SKIP_CELL.match(source)) or (
        "otter.Notebook(" in source and all(_OTTER_LINE.match(ln) for ln in lines)
    )


def _processes_of(uid: int):
    """The /proc/PID/status fields of every process whose real uid is `uid`.

    The real uid from the status file, not the /proc entry's owner (a setuid process's is root's).
    """
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            lines = (p / "status").read_text().splitlines()
            fields = dict(ln.split(":", 1) for ln in lines if ":" in ln)
            real = int(fields["Uid"].split()[0])
        except (OSError, KeyError, ValueError, IndexError):
            continue  # gone meanwhile
        if real == uid:
            fields["/proc"] = p.name
            yield fields


def prepare_notebook(nb, probe_source: str | None):
    """Normalise a notebook for grading (in place) and append the probe cell.

    Inputs:
    - nb: an nbformat NotebookNode (v4).
    - probe_source: code of the final probe cell, or None.

    Returns:
    - nb: the same notebook; kernelspec python3, otter_ignore and grader.check cells emptied, outputs
      cleared.
    """
    import nbformat

    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        tags = cell.get("metadata", {}).get("tags", [])
        if "otter_ignore" in tags or _otter_cell(cell.source or ""):
            cell.source = ""
    if probe_source:
        nb.cells.append(nbformat.v4.new_code_cell(probe_source))
    return nb


def _barrier(path: str) -> str | None:
    """The outermost directory above `path` that others may not enter (e.g. /root, 0700), if any."""
    parts = Path(path).parts
    for i in range(2, len(parts)):
        d = os.path.join(*parts[:i])
        if not os.stat(d).st_mode & 0o001:
            return d
    return None


def _expose(paths: list[str], stage: Path) -> None:
    """Keep `paths` reachable for the kernel's uid: cover each barrier above them with a tmpfs that
    holds only these paths, bind-mounted back (the rest of the barred directory disappears).

    Each cover is built on a staging dir first and then moved onto its barrier in one step: the
    staging dir and the paths may lie under the barrier themselves (a worker's dir in a 0700 batch
    dir). A barrier inside a bound path is covered in the next round.
    """
    for rnd in range(32):
        groups: dict[str, list[str]] = {}
        for p in paths:
            barrier = _barrier(p)
            if barrier:
                groups.setdefault(barrier, []).append(p)
        if not groups:
            return
        for i, (barrier, inside) in enumerate(groups.items()):
            _cover(barrier, inside, stage / f"{rnd}-{i}", "size=1m,mode=755")
    raise RuntimeError(f"cannot expose {paths}")


def _kill_uid(uid: int, host: bool = False) -> None:
    """SIGKILL every process whose real uid is `uid` (the kernel's own: no other process has it).

    Inputs:
    - uid: the kernel's uid.
    - host: called by the grader (its /proc entries name the pids); else inside the sandbox, where
      /proc may be the host's (the unshare fallback) and a pid is the last of its NSpid.
    """
    for fields in _processes_of(uid):
        with contextlib.suppress(OSError, KeyError, ValueError, IndexError):
            pid = fields["/proc"] if host else fields["NSpid"].split()[-1]
            os.kill(int(pid), signal.SIGKILL)


def _mount(args: list[str]) -> None:
    # a failure ends the run (fail closed), with mount's message in runner.log
    subprocess.run(["mount", *args], check=True)


def _hide(paths: list[str]) -> bool:
    ok = True
    for p in paths:
        if not os.path.lexists(p):
            continue  # inside a barrier covered by _expose: gone already
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,mode=000", "none", p], check=False
        )
        ok = ok and r.returncode == 0
    return ok


def _lo_up() -> None:
    # ZMQ uses ipc sockets below, so a down loopback only matters to students' own code
    with contextlib.suppress(OSError):  # no `ip` (bwrap brings lo up itself)
        subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, check=False)


def _cover(barrier: str, inside: list[str], cover: Path, options: str) -> None:
    """Replace `barrier` by a tmpfs (mount `options`) holding only the paths `inside`, bind-mounted
    back. Built on `cover` first and moved onto the barrier in one step: `cover` and the paths may lie
    under the barrier themselves."""
    cover.mkdir(parents=True)
    _mount(["-t", "tmpfs", "-o", options, "none", str(cover)])
    for p in inside:
        if any(p.startswith(q + "/") for q in inside):
            continue  # comes with the enclosing path
        target = cover / os.path.relpath(p, barrier)
        target.mkdir(parents=True)
        _mount(["--bind", p, str(target)])
    _mount(["--move", str(cover), barrier])


def _private_scratch(keep: list[str], size: int, stage: Path) -> None:
    """The unshare fallback's private /tmp and /dev/shm: empty tmpfs (1777) of `size` bytes; of the
    host's /tmp only the paths in `keep` below it stay (the work dir, the gated library)."""
    tmp = os.path.realpath("/tmp")
    _cover(tmp, [p for p in keep if p.startswith(tmp + "/")], stage, f"size={size},mode=1777")
    if os.path.isdir("/dev/shm"):
        _mount(["-t", "tmpfs", "-o", f"size={size},mode=1777", "none", "/dev/shm"])


def _run_checks(cfg: RunnerConfig, boot: Path, env: dict, done) -> int:
    """The artifact cases: boot.py in "probe" mode (`python -I`), cwd sub/, under the wall clock;
    whatever it started is killed when it ends."""
    uid = cfg.uid
    proc = subprocess.Popen(
        [sys.executable, "-I", str(boot / "boot.py")],
        cwd=Path(cfg.workdir) / "sub",
        env=env,
        start_new_session=True,
    )
    try:
        rc = proc.wait(timeout=cfg.wall_seconds)
    except subprocess.TimeoutExpired:
        return done("timeout", "the artifact checks ran past the wall-clock limit")
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if uid is not None:
            _kill_uid(uid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    return done("ok", "" if rc == 0 else f"the artifact checks exited with status {rc}")


def _client_class():
    from nbclient import NotebookClient

    class Client(NotebookClient):
        """Keeps no cell output: the grader reads none, and a cell printing without end must not
        grow the runner's memory."""

        def output(self, outs, msg, display_id, cell_index):
            return None

    return Client


def _run(cfg_path: str) -> int:
    import logging

    # nbformat's validator imports jsonschema, whose optional IRI check builds a lark grammar on
    # import (1-3 s per submission); no notebook schema checks that format
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    _Client = _client_class()  # noqa: N806 - a class
    cfg = RunnerConfig.from_json(Path(cfg_path).read_text())
    workdir = Path(cfg.workdir)
    sub = workdir / "sub"
    status_file = workdir / "status.json"

    def done(status: str, reason: str = "", **extra) -> int:
        status_file.write_text(json.dumps({"status": status, "reason": reason, **extra}))
        return 0

    boot = workdir / "boot"
    (boot / "kernels" / KERNEL_NAME).mkdir(parents=True, exist_ok=True)
    boot.chmod(0o700)
    # boot.py (copied here by the grader) reads its config beside it; the dir is off its sys.path
    (boot / "boot.json").write_text(cfg.boot(also_blocked=[os.path.realpath(boot)]).to_json())
    uid = cfg.uid
    kernel_env = {
        "PYTHONPATH": cfg.library,
        "CNNKIT_GRADING": "1",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": str(workdir / "ipython"),
        "MPLCONFIGDIR": str(workdir / "mpl"),  # holds the grader's font list (launcher._font_list)
        "HOME": str(sub),
        **cfg.env,
    }
    if cfg.backend:  # the private /tmp: sized, gone with the sandbox (not the grader's disk)
        kernel_env["TMPDIR"] = "/tmp"
    spec = {
        "argv": [sys.executable, "-I", str(boot / "boot.py"), "-f", "{connection_file}"],
        "display_name": "cnnkit grading",
        "language": "python",
        "env": kernel_env,
    }
    (boot / "kernels" / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec))
    if cfg.backend == "unshare":
        # bwrap builds the filesystem from what it binds; unshare keeps the host's, so /tmp and
        # /dev/shm get covered here, and the deny-list below covers the checkout and submissions
        _private_scratch(cfg.expose, cfg.scratch_bytes, boot / "scratch")
        if uid is not None:
            _expose(cfg.expose, boot / "stage")
    hidden = _hide(cfg.hide) if cfg.hide else True
    _lo_up()
    if cfg.entry == "probe":
        return _run_checks(cfg, boot, {**os.environ, **kernel_env}, done)

    try:
        nb = nbformat.read(str(sub / cfg.notebook), as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable notebook is the submission's fault
        return done("crashed", f"not a readable notebook: {type(err).__name__}: {err}"[:300])
    prepare_notebook(nb, cfg.probe)
    ksm = KernelSpecManager(kernel_dirs=[str(boot / "kernels")])
    # the kernel binds its ipc sockets: in a dir of its own. Unix socket paths are limited to ~107
    # bytes: deep temp dirs get a short private dir instead
    ipc = str(workdir / "ipc" / "k")
    if len(ipc) > 80:
        import tempfile

        short = tempfile.mkdtemp(prefix="ck", dir="/tmp")
        (boot / "ipc-dir").write_text(short)
        if uid is not None:
            os.chown(short, uid, uid)
        ipc = os.path.join(short, "k")

    class Manager(AsyncKernelManager):
        def write_connection_file(self, **kw):
            super().write_connection_file(**kw)
            if uid is not None:  # written 0600 by root: the kernel must read its ports and key
                os.chown(self.connection_file, uid, uid)

    # A kernel that dies (os._exit, the memory limit) loses the notebook's state: rerun the notebook
    # from the top without the cell that killed it, so the points earned elsewhere are kept.
    deaths: list[int] = []
    for _attempt in range(3):
        current = {"index": -1}

        def remember(cell, cell_index, current=current, **_kw):
            current["index"] = cell_index

        # nbclient drives the kernel from an event loop: a blocking manager deadlocks on interrupt
        km = Manager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm, transport="ipc", ip=ipc)
        probe_cell = nb.cells[-1] if cfg.probe else None
        client = _Client(
            nb,
            km=km,
            timeout=int(cfg.cell_seconds),
            # the probe runs every case (each under its own alarm): only the wall clock bounds it
            timeout_func=lambda cell, probe_cell=probe_cell: (
                int(cfg.wall_seconds) if cell is probe_cell else int(cfg.cell_seconds)
            ),
            interrupt_on_timeout=True,
            allow_errors=True,
            kernel_name=KERNEL_NAME,
            resources={"metadata": {"path": str(sub)}},
            startup_timeout=120,
            record_timing=False,
            on_cell_execute=remember,
        )
        try:
            client.execute(cwd=str(sub))
            break
        except DeadKernelError:
            if current["index"] < 0 or current["index"] == len(nb.cells) - 1:
                return done("ok", "the kernel died while grading", hidden=hidden, deaths=deaths)
            deaths.append(current["index"])
            nb.cells[current["index"]].source = ""
            if uid is not None:
                # what the dead kernel started (a fork loop's children) would count against the
                # rerun's RLIMIT_NPROC: the rerun starts with none of it
                _kill_uid(uid)
        except CellTimeoutError:
            return done("timeout", "a cell ran past the per-cell timeout", hidden=hidden)
        except Exception as err:  # noqa: BLE001
            return done("crashed", f"{type(err).__name__}: {err}"[:300], hidden=hidden)
        finally:
            # the process group is killed next anyway
            with contextlib.suppress(Exception):
                run_sync(km.shutdown_kernel)(now=True)
    reason = f"the kernel died in cell(s) {deaths}; rerun without them" if deaths else ""
    return done("ok", reason, hidden=hidden, deaths=deaths)


def main(argv: list[str]) -> int:
    return _run(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
