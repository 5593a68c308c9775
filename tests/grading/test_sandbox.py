"""The sandboxed kernel of `cnnkit grade`: limits, isolation, cleanup, notebook normalisation."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

import cnnkit
from cnnkit.grading.gate import gated_copy
from cnnkit.grading.records import load_records
from cnnkit.grading.sandbox import (
    Limits,
    execute,
    execute_checks,
    kernel_uid,
    prepare_notebook,
    sandbox_prefix,
)
from cnnkit.grading.sandbox.launcher import _font_list, _unshare_prefix

pytestmark = pytest.mark.slow

LIB = Path(cnnkit.__file__).resolve().parents[1]


def _run(cells, limits, library=LIB, files=None, writable=()):
    """Run code cells in the sandbox; each cell appends its result to sub/log.txt lines."""
    work = Path(tempfile.mkdtemp(prefix="cnnkit-sbtest-"))
    try:
        sub = work / "sub"
        sub.mkdir()
        for name, text in (files or {}).items():
            (sub / name).write_text(text)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
        nbformat.write(nb, sub / "n.ipynb")
        dirs = [work / w for w in writable]
        outcome = execute(Path("n.ipynb"), work, library, limits, writable=dirs)
        log = sub / "log.txt"
        lines = log.read_text().splitlines() if log.exists() else []
        return outcome, lines
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _say(expr: str) -> str:
    return f"open('log.txt', 'a').write(repr({expr}) + '\\n')"


ISOLATED = _unshare_prefix(Limits())[0] != []
# bwrap's allow-list where installed (else the unshare fallback with tmpfs covers)
BWRAP = sandbox_prefix(Limits(), [])[2] == "bwrap"
BACKENDS = ["auto", "unshare"] if BWRAP else ["auto"]
# a root grader's kernel drops to an unprivileged uid of its own (Linux exempts uid 0 from RLIMIT_NPROC)
DROPS = ISOLATED and kernel_uid() is not None
# RLIMIT_NPROC binds any kernel but the real root's
NPROC_BINDS = DROPS or os.getuid() != 0

# forks until RLIMIT_NPROC refuses, then ends the children (the kernel needs tasks of its own to go on)
FORK_LOOP = """
import os, signal
pids, err = [], None
try:
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            os.execv('/bin/sleep', ['sleep', '60'])
        pids.append(pid)
except OSError as e:
    err = type(e).__name__
for pid in pids:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
"""


def test_kernel_sees_gated_library_env_and_limits(tmp_path):
    gated = gated_copy("01_backprop", tmp_path / "gated").parent
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answer.txt").write_text("42")
    limits = Limits(timeout=120, cell_timeout=60, memory_bytes=3 * 1024**3, hide=[str(secret)])
    probe = [
        "import os, sys, resource, cnnkit",
        _say("cnnkit.__file__"),
        _say("[os.environ.get(k) for k in ('CNNKIT_GRADING', 'MPLBACKEND', 'OMP_NUM_THREADS')]"),
        _say("resource.getrlimit(resource.RLIMIT_AS)[0]"),
        _say("resource.getrlimit(resource.RLIMIT_NPROC)[0] > 0"),
        _say(f"any(os.path.realpath(p) == {str(LIB)!r} for p in sys.path)"),
        _say(f"os.path.exists({str(secret / 'answer.txt')!r})"),
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3); net = 'up'\n"
        "except OSError:\n    net = 'down'\n" + _say("net"),
        _say("os.getcwd().endswith('/sub')"),
        # the kernel holds no capability over the sandbox's mounts: the cover stays
        f"import subprocess\nfor flags in ([], ['-l']):\n"
        f"    subprocess.run(['umount', *flags, {str(secret)!r}], capture_output=True)\n"
        + _say(f"os.path.exists({str(secret / 'answer.txt')!r})"),
    ]
    outcome, lines = _run(probe, limits, library=gated)
    assert outcome.status == "ok", outcome
    assert lines[0] == repr(str(gated / "cnnkit" / "__init__.py"))
    assert lines[1] == repr(["1", "Agg", "1"])
    assert lines[2] == repr(3 * 1024**3)
    assert lines[3] == "True"
    assert lines[4] == "False"  # the repo's lib/ is gone from sys.path
    if ISOLATED:
        assert lines[5] == "False"  # hidden behind an empty tmpfs
        assert lines[6] == "'down'"
    assert lines[7] == "True"
    if ISOLATED:
        assert lines[8] == "False"


def test_kernel_reads_the_graders_font_list_instead_of_scanning_fonts():
    # a kernel's config dir is fresh: without the grader's list its matplotlib scans the fonts again
    name = _font_list()[0]
    cells = [
        "import os, time\nt0 = time.time()",
        "import matplotlib, matplotlib.pyplot as plt\n"
        "fig = plt.figure()\nfig.text(0.5, 0.5, 'text needs a font')\nfig.savefig('f.png')",
        _say("os.path.basename(matplotlib.get_cachedir())"),
        _say(f"os.stat(os.path.join(matplotlib.get_cachedir(), {name!r})).st_mtime < t0"),
        _say("os.path.exists(os.path.expanduser('~/.cache/matplotlib'))"),
    ]
    outcome, lines = _run(cells, Limits(timeout=120, cell_timeout=60))
    assert outcome.status == "ok", outcome
    assert lines == ["'mpl'", "True", "False"]


def test_memory_bomb_and_fork_bomb_are_contained():
    limits = Limits(timeout=90, cell_timeout=30, memory_bytes=2 * 1024**3, nproc=20)
    cells = [
        "try:\n    x = bytearray(8 * 1024**3)\n    r = 'allocated'\nexcept MemoryError:\n"
        "    r = 'MemoryError'\n" + _say("r"),
        FORK_LOOP + _say("(len(pids), err)"),
        _say("'after'"),
    ]
    outcome, lines = _run(cells, limits)
    assert outcome.status == "ok", outcome
    assert lines[0] == "'MemoryError'"
    assert lines[2] == "'after'"
    forks, err = eval(lines[1])
    if NPROC_BINDS:
        # the limit counts the kernel's own threads too: fewer forks than nproc succeed
        assert 0 < forks <= limits.nproc and err == "BlockingIOError", lines[1]
    assert _gone(b"cnnkit-sbtest-")


@pytest.mark.skipif(not DROPS, reason="only a root grader (with namespaces) drops the kernel's uid")
@pytest.mark.parametrize("backend", BACKENDS)
def test_root_grader_runs_kernel_as_unprivileged_uid_with_nproc_limit(backend):
    # a root-only file outside the hidden paths, in a directory everyone may enter
    shown = Path(tempfile.mkdtemp(prefix="cnnkit-sbtest-shown-"))
    try:
        shown.chmod(0o755)
        (shown / "root-only.txt").write_text("secret")
        (shown / "root-only.txt").chmod(0o600)
        limits = Limits(timeout=90, cell_timeout=30, nproc=30, backend=backend)
        cells = [
            "import os, tempfile\n" + _say("(os.getuid(), os.getgid(), os.getgroups())"),
            f"try:\n    r = open({str(shown / 'root-only.txt')!r}).read()\nexcept OSError as e:\n"
            "    r = type(e).__name__\n" + _say("r"),
            # the grader's own files in the work dir are out of reach; the kernel's dirs are its own
            "try:\n    open('../runner.json', 'a'); r = 'wrote'\nexcept OSError as e:\n"
            "    r = type(e).__name__\n" + _say("r"),
            "open('../records/x', 'w').write('1'); tempfile.mkstemp()\n" + _say("'writable'"),
            _say("open('/proc/self/status').read().split('NoNewPrivs:')[1].split()[0]"),
            FORK_LOOP + _say("(len(pids), err)"),
        ]
        outcome, lines = _run(cells, limits, writable=["records"])
    finally:
        shutil.rmtree(shown)
    assert outcome.status == "ok", outcome
    uid = eval(lines[0])[0]
    assert uid != 0 and lines[0] == repr((uid, uid, []))
    assert f"kernel runs as uid {uid}" in outcome.isolation
    # bwrap shows nothing of the host's /tmp; the unshare fallback's private /tmp keeps only the
    # work dir, so the root-only file is gone there too
    assert lines[1] == "'FileNotFoundError'"
    # no_new_privs: no setuid binary gives root back
    assert lines[2:5] == ["'PermissionError'", "'writable'", "'1'"]
    forks, err = eval(lines[5])
    assert 0 < forks <= limits.nproc and err == "BlockingIOError", lines[5]


@pytest.mark.skipif(not DROPS, reason="only a root grader (with namespaces) drops the kernel's uid")
def test_paths_behind_barriers_are_exposed_and_nothing_else(tmp_path):
    # /barred (0700) holds the wanted dir and a sibling; inside the wanted dir, another 0700 dir
    # holds a deeper wanted dir (covered in a second round)
    barred = tmp_path / "barred"
    deep = barred / "want" / "inner" / "deep"
    deep.mkdir(parents=True)
    (barred / "sibling").mkdir()
    for d in (barred, barred / "want" / "inner"):
        d.chmod(0o700)
    (deep / "f").write_text("ok")
    (barred / "want" / "g").write_text("ok")
    code = (
        "import os, sys; from pathlib import Path\n"
        "from cnnkit.grading.sandbox.runner import _expose\n"
        f"_expose([{str(barred / 'want')!r}, {str(deep)!r}], Path({str(tmp_path / 'stage')!r}))\n"
        "os.setgroups([]); os.setgid(2**31 - 7); os.setuid(2**31 - 7)\n"
        f"print(open({str(deep / 'f')!r}).read(), open({str(barred / 'want' / 'g')!r}).read(),"
        f" sorted(os.listdir({str(barred)!r})))\n"
    )
    r = subprocess.run(
        ["unshare", "-m", sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert r.stdout.split() == ["ok", "ok", "['want']"], r.stderr


def test_wall_clock_limit_kills_everything():
    limits = Limits(timeout=15, cell_timeout=60)
    # an argv no other process on the machine has (a plain `sleep 300` elsewhere would count)
    mark = f"300.{os.getpid()}{secrets.randbelow(10**6)}"
    cells = [
        "import subprocess, signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"subprocess.Popen(['sleep', '{mark}'])\nwhile True:\n    pass\n"
    ]
    outcome, _ = _run(cells, limits)
    assert outcome.status == "timeout"
    # the sleep child dies with the sandbox (the kernel reaps a PID namespace asynchronously)
    assert _gone(b"sleep\x00" + mark.encode() + b"\x00")


def _gone(cmdline: bytes, wait: float = 10.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        alive = False
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    alive = alive or cmdline in (proc / "cmdline").read_bytes()
                except OSError:
                    continue
        if not alive:
            return True
        time.sleep(0.5)
    return False


def test_per_cell_timeout_interrupts_and_continues_and_kernel_death_reruns():
    limits = Limits(timeout=120, cell_timeout=5)
    cells = [
        _say("'a'"),
        "while True:\n    pass\n",
        _say("'b'"),
        "import os\nos._exit(1)",
        _say("'c'"),
    ]
    outcome, lines = _run(cells, limits)
    assert outcome.status == "ok"
    assert "died" in outcome.reason
    # first attempt wrote a, b then died; the rerun without the killing cell wrote a, b, c
    assert lines == ["'a'", "'b'", "'a'", "'b'", "'c'"]


def test_prepare_notebook_normalises_kernelspec_and_skips_otter_cells():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "conda-env-dl-py",
        "display_name": "x",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            '# Initialize Otter\nimport otter\ngrader = otter.Notebook("a.ipynb")'
        ),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell('grader.check("q1")'),
        nbformat.v4.new_code_cell("train()", metadata={"tags": ["otter_ignore"]}),
        nbformat.v4.new_code_cell('grader.check("q1")\nprint(x)'),
    ]
    prepare_notebook(nb, "probe()")
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert [c.source for c in nb.cells] == [
        "",
        "x = 1",
        "",
        "",
        'grader.check("q1")\nprint(x)',
        "probe()",
    ]
    json.dumps(nb)


@pytest.mark.parametrize("backend", BACKENDS)
def test_files_and_scratch_space_are_bounded(backend):
    limits = Limits(
        timeout=90,
        cell_timeout=30,
        file_bytes=8 * 1024**2,
        scratch_bytes=16 * 1024**2,
        backend=backend,
    )
    write = (
        "import errno\n"
        "def w(path, mib):\n"
        "    try:\n"
        "        with open(path, 'wb') as f:\n"
        "            for _ in range(mib):\n"
        "                f.write(bytes(1024**2))\n"
        "        return 'wrote'\n"
        "    except OSError as e:\n"
        "        return errno.errorcode[e.errno]\n"
    )
    cells = [
        write + _say("w('big.bin', 32)"),  # RLIMIT_FSIZE: 8 MiB per file
        _say("[w(f'/tmp/f{i}', 6) for i in range(4)]"),  # 24 MiB into a 16 MiB /tmp
        _say("[w(f'/dev/shm/f{i}', 6) for i in range(4)]"),
    ]
    outcome, lines = _run(cells, limits)
    assert outcome.status == "ok", outcome
    assert lines[0] == "'EFBIG'"
    if ISOLATED:
        assert "ENOSPC" in lines[1] and "ENOSPC" in lines[2], lines


@pytest.mark.parametrize("backend", BACKENDS)
def test_artifact_checks_run_sandboxed_and_their_daemon_dies(backend):
    """execute_checks: python -I, the kernel's uid, cwd holding only what the caller put there, no
    host /tmp, a daemon started by a check does not outlive it, and the process ends once its
    records are written, without the interpreter's teardown (atexit, torch's cleanup)."""
    mark = f"300.{os.getpid()}{secrets.randbelow(10**6)}"
    work = Path(tempfile.mkdtemp(prefix="cnnkit-sbtest-"))
    host = Path(tempfile.mkdtemp(prefix="cnnkit-sbtest-host-"))
    try:
        (work / "sub").mkdir()
        (work / "sub" / "art.npz").write_bytes(b"")
        source = (
            "def test_box():\n"
            "    import os, subprocess, sys\n"
            "    from cnnkit import checks\n"
            f"    checks.equal('uid', os.getuid() != 0, {DROPS or os.getuid() != 0})\n"
            "    checks.equal('isolated', (sys.flags.isolated, sys.flags.safe_path), (1, True))\n"
            "    checks.equal('cwd', sorted(os.listdir('.')), ['art.npz'])\n"
            f"    checks.equal('host tmp', os.path.exists({str(host)!r}), {not ISOLATED})\n"
            f"    subprocess.Popen(['sleep', '{mark}'], start_new_session=True)\n"
            "    import atexit\n"
            "    atexit.register(lambda: open('../records/teardown', 'w').close())\n"
        )
        records = work / "records"
        spec = {
            "mode": "check",
            "seed": 1,
            "out": str(records),
            "tests": [{"name": "test_box", "source": source, "params": []}],
            "checks_source": (LIB / "cnnkit" / "checks.py").read_text(),
            "case_seconds": 30,
            "memory_bytes": 4 * 1024**3,
        }
        limits = Limits(timeout=60, backend=backend)
        outcome = execute_checks(spec, work, LIB, limits, writable=[records])
        got = load_records(records)
        torn_down = (records / "teardown").exists()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(host, ignore_errors=True)
    assert outcome.status == "ok", outcome
    assert got["test_box"]["error"] is None, got
    assert _gone(b"sleep\x00" + mark.encode() + b"\x00")
    assert not torn_down


def test_without_bwrap_the_grader_falls_back_and_says_so(monkeypatch):
    import cnnkit.grading.sandbox.launcher as sb

    real = shutil.which
    monkeypatch.setattr(sb.shutil, "which", lambda name: None if name == "bwrap" else real(name))
    prefix, text, backend = sb.sandbox_prefix(Limits(), [])
    if ISOLATED:
        assert backend == "unshare" and prefix[0].endswith("unshare")
        assert "bwrap not installed" in text and "private /tmp, /dev/shm and /proc" in text
    else:
        assert (prefix, backend) == ([], "") and "not isolated" in text
    assert sb.sandbox_prefix(Limits(isolate=False), [])[1].startswith("namespaces off")


def test_bwrap_asked_for_by_name_is_never_silently_replaced(monkeypatch):
    import cnnkit.grading.sandbox.launcher as sb

    real = shutil.which
    monkeypatch.setattr(sb.shutil, "which", lambda name: None if name == "bwrap" else real(name))
    with pytest.raises(sb.SandboxError, match="bwrap is not installed"):
        sb.sandbox_prefix(Limits(backend="bwrap"), [])
    # "unshare" by name still works without bwrap (or says namespaces are refused)
    assert sb.sandbox_prefix(Limits(backend="unshare"), [])[2] in ("unshare", "")
