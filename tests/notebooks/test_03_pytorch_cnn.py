"""Notebook 03: the solution notebook runs top to bottom in CI mode on a CPU and writes an exported
model a grader can use."""

import os
import time
from pathlib import Path

import pytest

from cnnkit.grading.master import read as read_master

ROOT = Path(__file__).resolve().parents[2]
MASTER = ROOT / "solutions" / "03_pytorch_cnn" / "03_pytorch_cnn.py"


@pytest.mark.slow
def test_solution_runs_in_ci_mode(tmp_path):
    from nbclient import NotebookClient

    from cnnkit import heldout

    nb = read_master(MASTER).notebook()  # the lecture with its named exercises and cases
    env = {"CNNKIT_CI": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    t0 = time.perf_counter()
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    elapsed = time.perf_counter() - t0
    program = tmp_path / "cnn_model.pt2"
    assert program.is_file()
    # What the artifact cases do: load the exported program (no class), fresh images, its limits.
    acc = heldout.program_accuracy(program, n=1000, seed=12345)
    assert acc >= 0.9, f"solution's exported model reaches only {acc:.3f} on fresh shapes"
    print(f"03 solution notebook: {elapsed:.0f} s, held-out accuracy {acc:.3f}")
