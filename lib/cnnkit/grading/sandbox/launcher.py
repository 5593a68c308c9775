"""The grader's side of the sandbox: start a notebook's run, or the artifact checks, and wait for it.

`execute(...)` starts the runner (runner.py, copied with contract.py and boot.py into the run's 0700
boot dir and run with `python -I`; its config is a `contract.RunnerConfig`) in its own session, inside fresh PID, mount, IPC, UTS and network
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
  ipython/, mpl/ and the caller's `writable` ones); the grader's files in the work dir stay root's. Under
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
`kernel.runtime.run_checks` in a `python -I` process whose cwd holds only the files the caller copied there.

Cells tagged `otter_ignore` and otter's `grader.check`/`export` cells are skipped, cell errors do not stop
execution, each cell has a timeout and the whole run a wall-clock limit after which the process group is
killed. The temp dir is removed by the caller (`grade`) in every case.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cnnkit.grading import contract
from cnnkit.grading.contract import Limits, ProbeSpec, RunnerConfig
from cnnkit.grading.sandbox import boot as boot_mod
from cnnkit.grading.sandbox import runner as runner_mod
from cnnkit.grading.sandbox.runner import _processes_of

# the files the runner runs from, copied into each run's boot dir (the library stays out of reach)
_SHIPPED = (Path(runner_mod.__file__), Path(boot_mod.__file__), Path(contract.__file__))


class SandboxError(RuntimeError):
    """The sandbox asked for cannot be had here."""


@dataclass
class Outcome:
    """What happened when a notebook ran: status "ok", "timeout", "crashed"; reason text for the row."""

    status: str
    reason: str = ""
    seconds: float = 0.0
    isolation: str = ""


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


def user_task_count(uid: int | None = None) -> int:
    """Processes and threads currently owned by `uid` (default: this user): what RLIMIT_NPROC counts."""
    uid = os.getuid() if uid is None else uid
    return sum(int(f.get("Threads", "1")) for f in _processes_of(uid))


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


def always_shown() -> list[str]:
    """What every sandbox shows of the host besides its binds (bwrap's system folders, /etc files
    and the interpreter; the unshare fallback shows more): a grader's private store must lie
    outside all of it."""
    return [*_SYSTEM, "/etc", *sorted(_interpreter_paths())]


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
    job = RunnerConfig(
        entry="kernel", workdir=str(workdir), library="", notebook=str(notebook), probe=probe_source
    )
    return _launch(job, Path(workdir), library, limits, extra_env, writable)


def execute_checks(
    spec: ProbeSpec | dict,
    workdir: Path,
    library: Path,
    limits: Limits,
    extra_env: dict[str, str] | None = None,
    writable: list[Path] | None = None,
) -> Outcome:
    """Run `kernel.runtime.run_checks(spec)` (the artifact cases) in the same sandbox a kernel gets.

    The process is `python -I` (no PYTHONPATH, nothing imported from its cwd), imports the library
    by its explicit path, runs as the kernel's unprivileged uid with the kernel's limits and
    filesystem, with cwd workdir/sub (holding only what the caller copied there), and everything it
    starts dies with it.

    Inputs:
    - spec: the ProbeSpec (mode "check"; its `out` must be one of `writable`), or its dict.
    - workdir, library, limits, extra_env, writable: as for `execute`.

    Returns:
    - outcome: Outcome(status, reason, seconds, isolation).
    """
    data = spec.to_dict() if isinstance(spec, ProbeSpec) else dict(spec)
    job = RunnerConfig(entry="probe", workdir=str(workdir), library="", spec=data)
    return _launch(job, Path(workdir), library, limits, extra_env, writable)


def _launch(job: RunnerConfig, workdir, library, limits: Limits, extra_env, writable) -> Outcome:
    """Start the runner (runner.py, run as a script from the boot dir) in the sandbox and wait."""
    own = [workdir / d for d in ("sub", "tmp", "ipc", "ipython", "mpl")] + list(writable or [])
    for d in [*own, workdir / "runtime", workdir / "boot"]:
        d.mkdir(parents=True, exist_ok=True)
    fonts = _font_list()
    if fonts is not None:
        (workdir / "mpl" / fonts[0]).write_bytes(fonts[1])
    (workdir / "boot").chmod(0o700)
    read_only = [library, *_interpreter_paths(), *(p for p in limits.read_only if Path(p).exists())]
    binds = [(os.path.realpath(workdir), True)] + [(os.path.realpath(p), False) for p in read_only]
    prefix, isolation, backend = sandbox_prefix(limits, binds)
    # a root grader's kernel runs as its own uid; mounting the covers that keep its paths reachable
    # needs the mount namespace
    uid = kernel_uid() if prefix else None
    cfg = RunnerConfig(
        **{
            **asdict(job),
            "library": os.path.realpath(library),
            "cell_seconds": limits.cell_seconds,
            "wall_seconds": limits.wall_seconds,
            "as_bytes": int(limits.memory_bytes) if limits.memory_bytes else 0,
            "cpu_seconds": limits.cpu_seconds_limit,
            "nproc": user_task_count(uid) + limits.nproc if limits.nproc else 0,
            "file_bytes": int(limits.file_bytes) if limits.file_bytes else 0,
            "scratch_bytes": int(limits.scratch_bytes),
            "backend": backend,
            "hide": [p for p in limits.hide if Path(p).exists()] if backend == "unshare" else [],
            "blocked": sorted(_blocked_paths() - {os.path.realpath(library)}),
            "env": extra_env or {},
            "uid": uid,
            # the kernel starts as root of a user namespace (unshare -r) and must drop its
            # capabilities; bwrap gives it none
            "userns": backend == "unshare" and uid is None,
            "expose": sorted({p for p, _ in binds}),
        }
    )
    (workdir / "runner.json").write_text(cfg.to_json())
    # the runner's own code: copies in the boot dir (0700, the grader's), not the library's lib/
    for f in _SHIPPED:
        (workdir / "boot" / f.name).write_text(f.read_text(encoding="utf-8"))
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
            proc.wait(timeout=limits.wall_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc)
            if uid is not None:
                # nothing of this run outlives it (the PID namespace's end kills the rest too)
                runner_mod._kill_uid(uid, host=True)
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
    if cfg.hide and not status.get("hidden", False):
        isolation += " (tmpfs hiding failed)"
    return Outcome(status["status"], status.get("reason", ""), seconds, isolation)


@functools.lru_cache(maxsize=1)
def _font_list() -> tuple[str, bytes] | None:
    """matplotlib's font list (file name, JSON), for every kernel's fresh MPLCONFIGDIR (runner.py).

    A kernel starts with an empty config dir, so its first `import matplotlib.pyplot` would scan the
    system's fonts and write the list again: that import took 1.19 s against 0.76 s with the list
    (sandboxed, idle machine, median of 6), more under load. The grader's own matplotlib writes it
    once per process (matplotlib's `json_dump`, the file its `font_manager` reads at import). It
    holds font paths only; a font the sandbox cannot see makes that kernel's matplotlib rebuild the
    list, as every kernel did before.

    Returns:
    - (name, data), or None where the grader has no matplotlib (kernels then build their own).
    """
    try:
        from matplotlib import font_manager
    except ImportError:
        return None
    import tempfile

    name = f"fontlist-v{font_manager.FontManager.__version__}.json"
    with tempfile.TemporaryDirectory() as tmp:
        font_manager.json_dump(font_manager.fontManager, os.path.join(tmp, name))
        return name, Path(tmp, name).read_bytes()


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
