"""Runs a master's solution top to bottom in CI mode, then calls every test function of the notebook
the way `grader.check` does (arguments looked up by name) and prints which ran and which failed.

Shared by the notebook tests of 01_backprop, 01b_deep_nets, 03_pytorch_cnn, 03b_cnn_experiments and
04_transfer_learning.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnnkit.grading.master import read as read_master

PROBE = """
import inspect as _inspect
_failures, _ran = {}, []
for _name, _fn in list(globals().items()):
    if _name.startswith("test_") and callable(_fn):
        _args = [globals()[p] for p in _inspect.signature(_fn).parameters]
        try:
            _fn(*_args)
            _ran.append(_name)
        except Exception as _e:
            _failures[_name] = f"{type(_e).__name__}: {_e}"
print("RAN", len(_ran), "FAILED", _failures)
"""


def execute(master: Path, work: Path, timeout: int = 300):
    """The master's notebook executed in `work` with CNNKIT_CI=1, the probe cell last.

    Inputs:
    - master: solutions/<stage>/<stage>.py.
    - work: the kernel's working folder (the notebook's saved files land here).
    - timeout: seconds a cell may run.

    Returns:
    - nb: the executed notebook (also written to work/executed.ipynb).
    """
    pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    nb = read_master(master).notebook()  # the lecture with its named exercises and cases
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    env_keys = {"CNNKIT_CI": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env_keys}
    os.environ.update(env_keys)
    try:
        client = nbclient.NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(work)}}
        )
        client.execute()
    finally:
        nbformat.write(nb, str(work / "executed.ipynb"))
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def text(nb) -> str:
    """Every stream output of the notebook: a cell's pieces joined as printed (the kernel may send
    one print's words in several messages under load), cells one per line."""
    cells = []
    for cell in nb.cells:
        streams = [
            o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
        ]
        cells.append("".join(streams))
    return "\n".join(cells)


def probe_result(nb) -> tuple[int, str]:
    """(how many test functions ran, the failures as printed: "{}" when none failed)."""
    tail = text(nb).split("RAN ", 1)[1]
    ran, rest = tail.split(" FAILED ", 1)
    return int(ran), rest.splitlines()[0]


def executed_notebook(master: Path, timeout: int = 300):
    """A module-scoped pytest fixture: the master executed once (`execute`), as (nb, work folder)."""

    @pytest.fixture(scope="module")
    def executed(tmp_path_factory):
        work = tmp_path_factory.mktemp(master.stem)
        return execute(master, work, timeout), work

    return executed


def assert_passes_its_cases(nb, at_least: int) -> None:
    """Every test function of the executed notebook passed, and at least `at_least` ran."""
    ran, failed = probe_result(nb)
    assert failed == "{}", failed
    assert ran >= at_least
