"""The kernel's boot script: the first code of the process a student's notebook runs in.

The runner (runner.py) copies this file, `contract.py` and `boot.json` (a `contract.BootConfig`) into
the run's 0700 boot dir and starts `python -I boot.py` as the kernel (with ipykernel's arguments) or
as the artifact checks. Before anything of the submission runs it

- drops privilege: to the kernel's own uid (a root grader; Linux exempts uid 0 from RLIMIT_NPROC),
  or, as root of a user namespace, gives up every capability; then sets no_new_privs;
- sets the rlimits (address space, CPU seconds, processes, file size);
- puts the library first on sys.path and removes the full library's (and this dir's) entries.

Stdlib only: nothing of the library is importable before the last step.
"""

import contextlib
import os
import resource
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _read_config():
    """The BootConfig beside this script (read before dropping privilege: the dir is the grader's)."""
    sys.path.insert(0, HERE)
    try:
        from contract import BootConfig

        with open(os.path.join(HERE, "boot.json"), encoding="utf-8") as f:
            return BootConfig.from_json(f.read())
    finally:
        sys.path.remove(HERE)
        sys.modules.pop("contract", None)


def _drop_privilege(cfg) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def check(ret, what):
        if ret != 0:
            raise OSError(ctypes.get_errno(), what)

    if cfg.uid is not None:
        # first, as root: the kernel's own uid and gid, no groups (this clears every capability)
        os.setgroups([])
        os.setgid(cfg.uid)
        os.setuid(cfg.uid)
    else:
        # root of the user namespace that owns the tmpfs covers: with its capabilities it could
        # unmount them. Give up all of them, for this process and anything it execs
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
        for cap in range(last + 1):
            check(libc.prctl(24, cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP)")
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        check(libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")
    # no way back through a setuid binary or file capabilities
    check(libc.prctl(38, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def _set_limits(cfg) -> None:
    limits = (
        ("RLIMIT_AS", cfg.as_bytes),
        ("RLIMIT_CPU", cfg.cpu_seconds),
        ("RLIMIT_NPROC", cfg.nproc),
        ("RLIMIT_FSIZE", cfg.file_bytes),
    )
    for name, value in limits:
        if value:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(getattr(resource, name), (value, value))


def _library_path(cfg) -> None:
    # started with -I (no PYTHONPATH, no script dir): the library by its explicit path
    sys.dont_write_bytecode = True
    blocked = set(cfg.blocked)
    sys.path[:] = [cfg.library] + [p for p in sys.path if os.path.realpath(p or ".") not in blocked]
    sys.meta_path[:] = [
        f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
    ]


def main() -> int:
    cfg = _read_config()
    if cfg.uid is not None or cfg.userns:
        _drop_privilege(cfg)
    _set_limits(cfg)
    _library_path(cfg)
    if cfg.entry == "probe":
        from cnnkit.grading.kernel.runtime import run_checks

        rc = run_checks(cfg.spec)
        # the records are written and closed: the interpreter's teardown (torch's ~1 s, measured)
        # would change nothing the grader reads
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
    return 0


if __name__ == "__main__":
    sys.exit(main())
