"""Notebook 04 (transfer learning): the master's solution runs top to bottom in CI mode, offline, saves
transfer_head.pt, and passes its own test cases; its solution cells hold the library's code."""

import os
import re
import time
from pathlib import Path

import pytest

from cnnkit.grading.master import read as read_master

ROOT = Path(__file__).resolve().parents[2]
MASTER = ROOT / "solutions" / "04_transfer_learning" / "04_transfer_learning.py"

# Calls every test function of the notebook in "check" mode with arguments looked up by name (the way
# `grader.check` does; artifact cases take none and read transfer_head.pt from the cwd).
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


def _weights_seeded():
    import torch

    return (Path(torch.hub.get_dir()) / "checkpoints" / "mobilenet_v2-b0353104.pth").is_file()


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    if not _weights_seeded():
        pytest.skip("offline MobileNetV2 weights not seeded (cnnkit weights seed ...)")
    nb = read_master(MASTER).notebook()  # the lecture with its named exercises and cases
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    work = tmp_path_factory.mktemp("nb04")
    env_keys = {"CNNKIT_CI": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env_keys}
    os.environ.update(env_keys)
    t0 = time.perf_counter()
    try:
        client = nbclient.NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}
        )
        client.execute()
    finally:
        nbformat.write(nb, str(work / "executed.ipynb"))
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb, work, time.perf_counter() - t0


def _text(nb):
    return "\n".join(
        o.get("text", "")
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream"
    )


@pytest.mark.slow
def test_solution_runs_offline_in_ci_mode_and_saves_the_head(executed):
    import torch

    nb, work, seconds = executed
    ckpt = torch.load(work / "transfer_head.pt", map_location="cpu", weights_only=True)
    assert tuple(ckpt["state_dict"]["weight"].shape) == (12, 1280)
    assert ckpt["config"]["arch"] == "mobilenet_v2" and ckpt["config"]["weights"] == "IMAGENET1K_V1"
    # the gaps the README quotes are printed for every label count of both tasks
    gaps = re.findall(
        r"(photo crops|Fashion-MNIST), +(\d+) labels/class: pretrained \(linear probe\) - scratch"
        r" = ([+-][\d.]+) points",
        _text(nb),
    )
    assert [(task, n) for task, n, _ in gaps] == [
        (task, n) for task in ("photo crops", "Fashion-MNIST") for n in ("5", "20")
    ], _text(nb)[-2000:]
    # the category-level task is learnt: the probe on ImageNet features beats chance (10%) clearly
    probe = re.findall(
        r"Fashion-MNIST, seed 0, +\d+ labels/class: .*linear probe ([\d.]+)", _text(nb)
    )
    assert len(probe) == 2 and min(map(float, probe)) > 0.4, probe
    print(f"notebook 04 in CI mode: {seconds:.0f} s, probe - scratch gaps: {gaps}")


@pytest.mark.slow
def test_solution_passes_its_own_cases(executed):
    nb, _, _ = executed
    line = [s for s in _text(nb).splitlines() if s.startswith("RAN ")][-1]
    ran, failed = re.match(r"RAN (\d+) FAILED (.*)", line).groups()
    assert failed == "{}", failed
    assert int(ran) >= 20
