"""The sandboxed kernel of `cnnkit grade`: limits, isolation, cleanup, notebook normalisation."""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

import cnnkit
from cnnkit.grading.gate import gated_copy
from cnnkit.grading.sandbox import Limits, _unshare_prefix, execute, prepare_notebook

pytestmark = pytest.mark.slow

LIB = Path(cnnkit.__file__).resolve().parents[1]


def _run(cells, limits, library=LIB, files=None):
    """Run code cells in the sandbox; each cell appends its result to sub/out.json lines."""
    work = Path(tempfile.mkdtemp(prefix="cnnkit-sbtest-"))
    try:
        sub = work / "sub"
        sub.mkdir()
        for name, text in (files or {}).items():
            (sub / name).write_text(text)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
        nbformat.write(nb, sub / "n.ipynb")
        outcome = execute(Path("n.ipynb"), work, library, limits)
        log = sub / "log.txt"
        lines = log.read_text().splitlines() if log.exists() else []
        return outcome, lines
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _say(expr: str) -> str:
    return f"open('log.txt', 'a').write(repr({expr}) + '\\n')"


ISOLATED = _unshare_prefix(Limits())[0] != []


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


def test_memory_bomb_and_fork_bomb_are_contained():
    limits = Limits(timeout=90, cell_timeout=30, memory_bytes=2 * 1024**3, nproc=20)
    cells = [
        "try:\n    x = bytearray(8 * 1024**3)\n    r = 'allocated'\nexcept MemoryError:\n"
        "    r = 'MemoryError'\n" + _say("r"),
        "import os\nn = 0\ntry:\n    for _ in range(200):\n        if os.fork() == 0:\n"
        "            import time; time.sleep(60); os._exit(0)\n        n += 1\n"
        "except OSError:\n    pass\n" + _say("n < 200"),
        _say("'after'"),
    ]
    outcome, lines = _run(cells, limits)
    assert outcome.status == "ok", outcome
    # Linux exempts uid 0 from RLIMIT_NPROC; as root the forks live until the sandbox is torn down
    assert lines == ["'MemoryError'", "True" if os.getuid() != 0 else lines[1], "'after'"]
    assert _gone(b"cnnkit-sbtest-")


def test_wall_clock_limit_kills_everything():
    limits = Limits(timeout=15, cell_timeout=60)
    cells = [
        "import subprocess, signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "subprocess.Popen(['sleep', '300'])\nwhile True:\n    pass\n"
    ]
    outcome, _ = _run(cells, limits)
    assert outcome.status == "timeout"
    # the `sleep 300` child dies with the sandbox (the kernel reaps a PID namespace asynchronously)
    assert _gone(b"sleep\x00300\x00")


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
