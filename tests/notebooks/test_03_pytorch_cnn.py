"""Notebook 03 (modules and loops): the master's solution runs top to bottom in CI mode on a CPU and
passes its own tests; its sanity ladder prints what the text says."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from execute import assert_passes_its_cases, executed_notebook, text  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MASTER = ROOT / "solutions" / "03_pytorch_cnn" / "03_pytorch_cnn.py"


executed = executed_notebook(MASTER)


@pytest.mark.slow
def test_solution_passes_all_its_test_cases(executed):
    nb, _ = executed
    assert_passes_its_cases(nb, at_least=20)  # every question's public and hidden cases


@pytest.mark.slow
def test_sanity_ladder_and_the_small_run(executed):
    nb, work = executed
    out = text(nb)
    first = float(out.split("first loss ", 1)[1].split()[0])
    assert abs(first - math.log(10)) < 0.3
    line = out.split("accuracy on the 64 images ", 1)[1].split()[0]
    assert float(line) >= 0.95, line
    cut = out.split("with a 1 s budget: ", 1)[1].splitlines()[0]
    assert "stopped early: True" in cut and not cut.startswith("50 epoch"), cut
    assert (work / "small_model.pt2").is_file()  # the small run's best checkpoint
