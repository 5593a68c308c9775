"""Run one notebook, or the artifact checks, in a sandbox: the execution half of `cnnkit grade`.

`execute(...)` (grader side) starts a runner process (this module's text, copied into the run's 0700
boot dir and run with `python -I`) in its own session, inside fresh PID, mount, IPC, UTS and network
namespaces (a user namespace too when the grader is not root):

- bwrap (bubblewrap, where installed and allowed): an allow-list filesystem. The sandbox sees /usr
  (and the /bin, /lib links), a few /etc files, the interpreter and its packages, the library, the
  caller's read-only data (`Limits.read_only`) and the run's work dir; a private /tmp and /dev/shm
  (tmpfs of `Limits.scratch_bytes`) and a fresh /proc. Nothing else of the host exists there.
- unshare (the fallback): the host's filesystem with its /tmp and /dev/shm replaced by private tmpfs
  (the work dir bound back), a fresh /proc, and the kit's checkout, the output folder and the
  submissions covered by empty tmpfs mounts (`Limits.hide`, a deny-list).
- neither (macOS, a locked-down container): only the process group, rlimits and the temp dir; the
  isolation text says so, and the report and exit summary repeat it.

No network; every process the notebook starts dies with the runner (PID namespace). The runner
executes the notebook with nbclient in a kernel that

- holds no privilege: when the grader is root, the boot script first drops to an unprivileged uid of
  its own (`SANDBOX_UID_BASE` + the grader process's pid, no groups), since Linux exempts uid 0 from
  RLIMIT_NPROC and root may read every file. The kernel then owns only its dirs (sub/, tmp/, ipc/,
  ipython/ and the caller's `writable` ones); the grader's files in the work dir stay root's. Under
  unshare, directories on the way to what it needs that others may not enter (python under a 0700
  /root, a 0700 batch dir) are covered by a tmpfs holding only those paths, bind-mounted back; bwrap
  creates them 0755. A grader that is not root runs the kernel as its own uid, which RLIMIT_NPROC
  binds, without capabilities. Either way no_new_privs keeps setuid binaries from giving anything back,
- sees only the stage-gated library (`python -I`, the library's path put first on sys.path by the
  boot script; the repo's lib/ entry of the editable install is removed),
- runs with resource limits (address space, CPU seconds, process count, file size) set by its boot
  script,
- has CNNKIT_GRADING=1, MPLBACKEND=Agg, OMP_NUM_THREADS=1 and cwd = a temp dir holding only the
  submission's notebook and artifact files.

`execute_checks(...)` runs the artifact cases the same way (same sandbox, uid and limits), as
`probe.run_checks` in a `python -I` process whose cwd holds only the files the caller copied there.

Cells tagged `otter_ignore` and otter's `grader.check`/`export` cells are skipped, cell errors do not stop
execution, each cell has a timeout and the whole run a wall-clock limit after which the process group is
killed. The temp dir is removed by the caller (`grade`) in every case.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_NAME = "cnnkit-grade"
# otter's own cells: the checks run outside the kernel here, and `import otter` alone costs seconds
_SKIP_CELL = re.compile(r"^\s*(grader\.(check|check_all|export)\([^\n]*\)\s*)+$")
_OTTER_LINE = re.compile(r"^\s*(#.*|import otter|grader\s*=\s*otter\.Notebook\(.*\))?\s*$")


def _otter_cell(source: str) -> bool:
    lines = source.splitlines()
    return bool(_SKIP_CELL.match(source)) or (
        "otter.Notebook(" in source and all(_OTTER_LINE.match(ln) for ln in lines)
    )


class SandboxError(RuntimeError):
    """The sandbox asked for cannot be had here."""


@dataclass
class Limits:
    """Per-submission limits.

    - timeout: wall-clock seconds for the whole notebook (kernel start to probe end).
    - cell_timeout: seconds per cell.
    - case_timeout: seconds per grading case (each runs under its own alarm in the probe cell; default:
      cell_timeout). A case that loads a pretrained network needs more than a `while True` cell
      should get.
    - memory_bytes: RLIMIT_AS of the kernel (address space; torch alone maps ~3 GiB).
    - cpu_seconds: RLIMIT_CPU of the kernel (default: the wall-clock limit).
    - nproc: processes and threads the kernel may add (RLIMIT_NPROC counts all tasks of the kernel's
      uid, so the limit is that uid's current task count plus this margin; the kernel's own ~12
      threads come out of it). Linux never applies it to uid 0, so a root grader runs the kernel as an
      unprivileged uid of its own (one per grader process: concurrent workers do not share a count).
    - file_bytes: RLIMIT_FSIZE of the kernel (the largest file it may write, its log included).
    - scratch_bytes: size of each of the sandbox's private /tmp and /dev/shm (bwrap).
    - network: try to run without network (an unshared network namespace).
    - hide: paths to cover with empty tmpfs mounts inside the sandbox (the unshare fallback's
      deny-list; bwrap shows only what it binds).
    - read_only: more paths the sandbox sees read-only (data the cases need: torch weights).
    - isolate: use namespaces at all (False: only the process group, rlimits and the temp dir).
    - backend: "auto" (bwrap where installed and allowed, else unshare), "bwrap" or "unshare".
    """

    timeout: float = 600.0
    cell_timeout: float = 300.0
    case_timeout: float | None = None
    memory_bytes: int = 6 * 1024**3
    cpu_seconds: int | None = None
    nproc: int = 64
    file_bytes: int = 1024**3
    scratch_bytes: int = 1024**3
    network: bool = False
    hide: list[str] = field(default_factory=list)
    read_only: list[str] = field(default_factory=list)
    isolate: bool = True
    backend: str = "auto"


@dataclass
class Outcome:
    """What happened when a notebook ran: status "ok", "timeout", "crashed"; reason text for the row."""

    status: str
    reason: str = ""
    seconds: float = 0.0
    isolation: str = ""


_BOOT = r"""
import json, os, resource, sys

cfg = json.loads({cfg!r})
if cfg["uid"] is not None or cfg["userns"]:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def check(ret, what):
        if ret != 0:
            raise OSError(ctypes.get_errno(), what)

    if cfg["uid"] is not None:
        # first, as root: the kernel's own uid and gid, no groups (this clears every capability)
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
    else:
        # root of the user namespace that owns the tmpfs covers: with its capabilities it could
        # unmount them. Give up all of them, for this process and anything it execs
        for cap in range(int(open("/proc/sys/kernel/cap_last_cap").read()) + 1):
            check(libc.prctl(24, cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP)")
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        check(libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")
    # no way back through a setuid binary or file capabilities
    check(libc.prctl(38, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    del ctypes, libc, check
limits = (("RLIMIT_AS", cfg["as"]), ("RLIMIT_CPU", cfg["cpu"]), ("RLIMIT_NPROC", cfg["nproc"]))
for name, value in (*limits, ("RLIMIT_FSIZE", cfg["fsize"])):
    if value:
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError):
            pass
# started with -I (no PYTHONPATH, no script dir of the cwd's): the library by its explicit path
sys.dont_write_bytecode = True
blocked = set(cfg["blocked"])
sys.path[:] = [cfg["library"]] + [p for p in sys.path if os.path.realpath(p or ".") not in blocked]
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
if cfg["entry"] == "probe":
    spec = cfg["spec"]
    del cfg, blocked, json, resource, limits
    from cnnkit.grading.probe import run_checks
    sys.exit(run_checks(spec))
del cfg, blocked, json, resource, limits
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


# The kernel's uid under a root grader is this plus the grader process's pid: unique among the graders
# running at once (pid_max <= 2**22), so each has its own RLIMIT_NPROC count and cannot open another's
# files. systemd leaves 1879048192-2147352575 unassigned (no users, no container ranges).
SANDBOX_UID_BASE = 2_000_000_000


def kernel_uid() -> int | None:
    """The uid the kernel drops to: only for the real root (uid 0 of the initial user namespace,
    which RLIMIT_NPROC exempts) where that uid exists; otherwise None (the kernel keeps the grader's
    uid, root of a user namespace that maps it: rootless containers are bound by RLIMIT_NPROC)."""
    if os.geteuid() != 0:
        return None
    uid = SANDBOX_UID_BASE + os.getpid()
    try:
        lines = Path("/proc/self/uid_map").read_text().splitlines()
        ranges = [tuple(map(int, ln.split())) for ln in lines]
    except (OSError, ValueError):
        return None
    if not any(a <= 0 < a + n and b == a for a, b, n in ranges):
        return None  # "root" of a user namespace: not the uid Linux exempts
    return uid if any(a <= uid < a + n for a, b, n in ranges) else None


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


def user_task_count(uid: int | None = None) -> int:
    """Processes and threads currently owned by `uid` (default: this user): what RLIMIT_NPROC counts."""
    uid = os.getuid() if uid is None else uid
    return sum(int(f.get("Threads", "1")) for f in _processes_of(uid))


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


# What a root grader's runner keeps inside bwrap: it hands dirs and connection files to the kernel's
# uid, starts the kernel (which drops to that uid and so loses all of them) and kills leftovers.
_RUNNER_CAPS = (
    "CAP_CHOWN",
    "CAP_FOWNER",
    "CAP_DAC_OVERRIDE",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_KILL",
)
# the system trees an interpreter and its libraries need, and of /etc only what they read
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = (
    "alternatives",
    "fonts",
    "group",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "ssl",
)


def _system_binds() -> list[str]:
    args = []
    for top in _SYSTEM:
        if os.path.islink(top):  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in _ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _bwrap_base(exe: str, real_root: bool, limits: Limits) -> list[str]:
    """bwrap's namespaces, capabilities and private scratch space (before any bind)."""
    cmd = [exe, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc"]
    cmd += ["--unshare-uts", "--unshare-cgroup-try"]
    if not limits.network:
        cmd.append("--unshare-net")
    if real_root:
        cmd += ["--cap-drop", "ALL"]
        for cap in _RUNNER_CAPS:
            cmd += ["--cap-add", cap]
    else:  # the grader's own uid, mapped in a user namespace, without capabilities
        cmd += ["--unshare-user", "--cap-drop", "ALL"]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    for d in ("/tmp", "/dev/shm"):
        cmd += ["--perms", "1777", "--size", str(int(limits.scratch_bytes)), "--tmpfs", d]
    return cmd


def _bwrap_cmd(exe: str, real_root: bool, limits: Limits, binds) -> list[str]:
    """bwrap's command line: namespaces, scratch space, the system trees and `binds`."""
    cmd = _bwrap_base(exe, real_root, limits) + _system_binds()
    # the folders on the way to a bound path, enterable by the kernel's uid (bwrap would make
    # them 0700; the host's may be too, /root)
    paths = [p for p, _ in binds]
    made = {"/", "/tmp", "/dev", "/proc", *_SYSTEM}
    for path in sorted(set(paths), key=lambda p: len(Path(p).parts)):
        for up in reversed(Path(path).parents):
            inside = any(str(up) == q or _under(str(up), q) for q in paths)
            if str(up) not in made and not inside:
                cmd += ["--perms", "0755", "--dir", str(up)]
                made.add(str(up))
    # parents before what lies inside them (the gated library inside the writable work dir)
    for path, writable in sorted(set(binds), key=lambda b: (len(Path(b[0]).parts), b)):
        cmd += ["--bind" if writable else "--ro-bind", path, path]
    return cmd


@functools.lru_cache(maxsize=4)
def _bwrap_works(exe: str, real_root: bool, network: bool) -> bool:
    """Whether this interpreter starts inside bwrap here (user namespaces may be refused, the
    interpreter unreachable)."""
    binds = [(p, False) for p in _interpreter_paths()]
    cmd = _bwrap_cmd(exe, real_root, Limits(network=network), binds)
    try:
        run = subprocess.run(
            cmd + [sys.executable, "-I", "-c", ""], capture_output=True, timeout=30
        )
        return run.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _unshare_prefix(limits: Limits) -> tuple[list[str], str]:
    """The `unshare` command line that isolates the runner, if this OS allows it (the fallback)."""
    exe = shutil.which("unshare")
    if not limits.isolate:
        return [], "namespaces off"
    if not exe:
        return [], "no unshare: network and filesystem not isolated"
    # the real root needs no user namespace (and must not be one's root: the kernel drops to its uid)
    real_root = kernel_uid() is not None
    flags = ("-pfm" if real_root else "-rpfm") + ("" if limits.network else "n")
    cmd = [exe, flags, "--kill-child", "--mount-proc"]
    try:
        ok = subprocess.run(cmd + ["true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        return [], "unshare refused: network and filesystem not isolated"
    kinds = "pid, mount" if real_root else "user, pid, mount"
    return cmd, "namespaces: " + kinds + ("" if limits.network else ", network")


def sandbox_prefix(limits: Limits, binds: list[tuple[str, bool]]) -> tuple[list[str], str, str]:
    """The command line that starts the runner in its sandbox, and what isolation it gives.

    Inputs:
    - limits: Limits (isolate, network, backend, scratch_bytes).
    - binds: (path, writable) pairs the sandbox must see (bwrap shows nothing else of the host).

    Returns:
    - (prefix, isolation, backend): backend "bwrap" (an allow-list filesystem), "unshare" (the host's
      filesystem with tmpfs covers over the checkout, the submissions and /tmp) or "" (none: the
      isolation text says so).
    """
    if not limits.isolate:
        return [], "namespaces off: network and filesystem not isolated", ""
    real_root = kernel_uid() is not None
    exe = shutil.which("bwrap")
    usable = bool(exe) and limits.backend in ("auto", "bwrap")
    usable = usable and _bwrap_works(exe, real_root, limits.network)
    if limits.backend == "bwrap" and not usable:
        # asked for by name: a weaker sandbox in its place would be a silent downgrade
        raise SandboxError(
            "backend 'bwrap' was asked for but "
            + ("bwrap is not installed" if not exe else "bwrap cannot start this interpreter")
        )
    if usable:
        cmd = _bwrap_cmd(exe, real_root, limits, binds)
        kinds = "pid, mount, ipc, uts" + ("" if real_root else ", user")
        kinds += "" if limits.network else ", network"
        text = (
            f"bwrap: allow-list filesystem, private /tmp, /dev/shm and /proc; namespaces: {kinds}"
        )
        return cmd, text, "bwrap"
    prefix, text = _unshare_prefix(limits)
    if not prefix:
        return [], text, ""
    why = "bwrap not installed" if not exe else "bwrap refused" if limits.backend == "auto" else ""
    text += "; private /tmp, /dev/shm and /proc; tmpfs covers over the checkout and submissions"
    return prefix, text + (f" ({why})" if why else ""), "unshare"


def _under(path: str, parent: str) -> bool:
    return path.startswith(parent.rstrip("/") + "/")


def _interpreter_paths() -> set[str]:
    """The interpreter and its packages: a venv, the Python it was made from, and package folders
    that a .pth file adds (a venv layered on another's site-packages); never other sys.path entries
    (an editable checkout's lib/, a test runner's folders)."""
    paths = {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent)}
    for entry in sys.path:
        if Path(entry).name in ("site-packages", "dist-packages") and os.path.isdir(entry):
            paths.add(entry)
    return {os.path.realpath(p) for p in paths}


def execute(
    notebook: Path,
    workdir: Path,
    library: Path,
    limits: Limits,
    probe_source: str | None = None,
    extra_env: dict[str, str] | None = None,
    writable: list[Path] | None = None,
) -> Outcome:
    """Execute `workdir/sub/<notebook>` in a sandboxed kernel (see the module docstring).

    Inputs:
    - notebook: the notebook file inside workdir/sub (the kernel's cwd).
    - workdir: private temp dir of this run (holds sub/, the boot script, the runner's status file).
    - library: directory holding the cnnkit package the kernel must import (gated or full).
    - limits: Limits.
    - probe_source: code appended as the final cell.
    - extra_env: more environment variables for the kernel.
    - writable: more directories the kernel must write (the probe's output), created if missing.

    Returns:
    - outcome: Outcome(status, reason, seconds, isolation).
    """
    job = {"entry": "kernel", "notebook": str(notebook), "probe": probe_source, "spec": None}
    return _launch(job, Path(workdir), library, limits, extra_env, writable)


def execute_checks(
    spec: dict,
    workdir: Path,
    library: Path,
    limits: Limits,
    extra_env: dict[str, str] | None = None,
    writable: list[Path] | None = None,
) -> Outcome:
    """Run `probe.run_checks(spec)` (the artifact cases) in the same sandbox a kernel gets.

    The process is `python -I` (no PYTHONPATH, nothing imported from its cwd), imports the library
    by its explicit path, runs as the kernel's unprivileged uid with the kernel's limits and
    filesystem, with cwd workdir/sub (holding only what the caller copied there), and everything it
    starts dies with it.

    Inputs:
    - spec: the probe spec (mode "check"; its "out" must be one of `writable`).
    - workdir, library, limits, extra_env, writable: as for `execute`.

    Returns:
    - outcome: Outcome(status, reason, seconds, isolation).
    """
    job = {"entry": "probe", "notebook": "", "probe": None, "spec": spec}
    return _launch(job, Path(workdir), library, limits, extra_env, writable)


def _launch(job, workdir, library, limits, extra_env, writable) -> Outcome:
    """Start the runner (this module's text, run as a script) in the sandbox and wait for it."""
    own = [workdir / d for d in ("sub", "tmp", "ipc", "ipython")] + list(writable or [])
    for d in [*own, workdir / "runtime", workdir / "boot"]:
        d.mkdir(parents=True, exist_ok=True)
    (workdir / "boot").chmod(0o700)
    read_only = [library, *_interpreter_paths(), *(p for p in limits.read_only if Path(p).exists())]
    binds = [(os.path.realpath(workdir), True)] + [(os.path.realpath(p), False) for p in read_only]
    prefix, isolation, backend = sandbox_prefix(limits, binds)
    # a root grader's kernel runs as its own uid; mounting the covers that keep its paths reachable
    # needs the mount namespace
    uid = kernel_uid() if prefix else None
    cfg = {
        **job,
        "workdir": str(workdir),
        "library": os.path.realpath(library),
        "cell_timeout": min(limits.cell_timeout, limits.timeout),
        "wall_timeout": limits.timeout,
        "as": int(limits.memory_bytes) if limits.memory_bytes else 0,
        "cpu": int(limits.cpu_seconds or limits.timeout) + 1,
        "nproc": user_task_count(uid) + limits.nproc if limits.nproc else 0,
        "fsize": int(limits.file_bytes) if limits.file_bytes else 0,
        "scratch": int(limits.scratch_bytes),
        "backend": backend,
        "hide": [p for p in limits.hide if Path(p).exists()] if backend == "unshare" else [],
        "blocked": sorted(_blocked_paths() - {os.path.realpath(library)}),
        "env": extra_env or {},
        "uid": uid,
        # the kernel starts as root of a user namespace (unshare -r) and must drop its capabilities;
        # bwrap gives it none
        "userns": backend == "unshare" and uid is None,
        "expose": sorted({p for p, _ in binds}),
    }
    (workdir / "runner.json").write_text(json.dumps(cfg))
    # the runner's own code: a copy in the boot dir (0700, the grader's), not the library's lib/
    (workdir / "boot" / "runner.py").write_text(Path(__file__).read_text(encoding="utf-8"))
    if uid is not None:
        isolation += f"; kernel runs as uid {uid}"
        # the kernel enters the work dir but cannot list it or touch the grader's files there
        workdir.chmod(0o711)
        (workdir / "runtime").chmod(0o711)
        (workdir / "runner.json").chmod(0o600)
        for d in own:
            _give(d, uid)
    runner = [sys.executable, "-I", str(workdir / "boot" / "runner.py")]
    cmd = prefix + runner + [str(workdir / "runner.json")]
    env = dict(os.environ)
    for key in ("PYTHONPATH", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "IPYTHONDIR"):
        env.pop(key, None)
    env["OMP_NUM_THREADS"] = "1"
    # connection files and the notebook's own temp files stay in the work dir, removed with it
    for key, sub in (("TMPDIR", "tmp"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("HOME", "runtime")):
        env[key] = str(workdir / sub)
    start = time.monotonic()
    log = open(workdir / "runner.log", "wb")  # noqa: SIM115 - closed in finally
    os.chmod(log.fileno(), 0o600)
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            proc.wait(timeout=limits.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc)
            if uid is not None:
                # nothing of this run outlives it (the PID namespace's end kills the rest too)
                _kill_uid(uid, host=True)
    finally:
        log.close()
    seconds = time.monotonic() - start
    short = workdir / "boot" / "ipc-dir"
    if short.exists() and not backend:  # elsewhere it lay in the sandbox's private /tmp
        shutil.rmtree(short.read_text().strip(), ignore_errors=True)
    status_file = workdir / "status.json"
    status = json.loads(status_file.read_text()) if status_file.exists() else {}
    if timed_out or status.get("status") == "timeout":
        return Outcome("timeout", f"timed out after {limits.timeout:.0f} s", seconds, isolation)
    if not status:
        with open(workdir / "runner.log", "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 400))
            tail = f.read().decode(errors="replace")
        return Outcome("crashed", f"grader runner failed: {tail.strip()}", seconds, isolation)
    if cfg["hide"] and not status.get("hidden", False):
        isolation += " (tmpfs hiding failed)"
    return Outcome(status["status"], status.get("reason", ""), seconds, isolation)


def _give(top: Path, uid: int) -> None:
    """Hand a directory tree to the kernel's uid (lchown: a submitted symlink must not pass root's
    file to the kernel), private to it."""
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(dirpath, name), uid, uid)
    os.chown(top, uid, uid)
    top.chmod(0o700)


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the grader dies (a killed batch leaves nothing)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _blocked_paths() -> set[str]:
    """sys.path entries of the full library (the editable install's lib/) that the kernel must not see."""
    import cnnkit

    lib = Path(cnnkit.__file__).resolve().parents[1]
    return {str(lib)}


# ---------------------------------------------------------------- runner (inside the sandbox) --


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


def _run_checks(cfg: dict, boot: Path, env: dict, done) -> int:
    """The artifact cases: boot.py in "probe" mode (`python -I`), cwd sub/, under the wall clock;
    whatever it started is killed when it ends."""
    uid = cfg["uid"]
    proc = subprocess.Popen(
        [sys.executable, "-I", str(boot / "boot.py")],
        cwd=Path(cfg["workdir"]) / "sub",
        env=env,
        start_new_session=True,
    )
    try:
        rc = proc.wait(timeout=cfg["wall_timeout"])
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
    cfg = json.loads(Path(cfg_path).read_text())
    workdir = Path(cfg["workdir"])
    sub = workdir / "sub"
    status_file = workdir / "status.json"

    def done(status: str, reason: str = "", **extra) -> int:
        status_file.write_text(json.dumps({"status": status, "reason": reason, **extra}))
        return 0

    boot = workdir / "boot"
    (boot / "kernels" / KERNEL_NAME).mkdir(parents=True, exist_ok=True)
    boot.chmod(0o700)
    boot_cfg = {k: cfg[k] for k in _BOOT_KEYS}
    boot_cfg["blocked"] = [*boot_cfg["blocked"], os.path.realpath(boot)]  # the script's own dir
    (boot / "boot.py").write_text(_BOOT.format(cfg=json.dumps(boot_cfg)))
    uid = cfg["uid"]
    kernel_env = {
        "PYTHONPATH": cfg["library"],
        "CNNKIT_GRADING": "1",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": str(workdir / "ipython"),
        "HOME": str(sub),
        **cfg["env"],
    }
    if cfg["backend"]:  # the private /tmp: sized, gone with the sandbox (not the grader's disk)
        kernel_env["TMPDIR"] = "/tmp"
    spec = {
        "argv": [sys.executable, "-I", str(boot / "boot.py"), "-f", "{connection_file}"],
        "display_name": "cnnkit grading",
        "language": "python",
        "env": kernel_env,
    }
    (boot / "kernels" / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec))
    if cfg["backend"] == "unshare":
        # bwrap builds the filesystem from what it binds; unshare keeps the host's, so /tmp and
        # /dev/shm get covered here, and the deny-list below covers the checkout and submissions
        _private_scratch(cfg["expose"], cfg["scratch"], boot / "scratch")
        if uid is not None:
            _expose(cfg["expose"], boot / "stage")
    hidden = _hide(cfg["hide"]) if cfg["hide"] else True
    _lo_up()
    if cfg["entry"] == "probe":
        return _run_checks(cfg, boot, {**os.environ, **kernel_env}, done)

    try:
        nb = nbformat.read(str(sub / cfg["notebook"]), as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable notebook is the submission's fault
        return done("crashed", f"not a readable notebook: {type(err).__name__}: {err}"[:300])
    prepare_notebook(nb, cfg["probe"])
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
        probe_cell = nb.cells[-1] if cfg["probe"] else None
        client = _Client(
            nb,
            km=km,
            timeout=int(cfg["cell_timeout"]),
            # the probe runs every case (each under its own alarm): only the wall clock bounds it
            timeout_func=lambda cell, probe_cell=probe_cell: (
                int(cfg.get("wall_timeout", cfg["cell_timeout"]))
                if cell is probe_cell
                else int(cfg["cell_timeout"])
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


_BOOT_KEYS = ("as", "cpu", "nproc", "fsize", "blocked", "uid", "userns", "library", "entry", "spec")


if __name__ == "__main__":
    sys.exit(_run(sys.argv[1]))
