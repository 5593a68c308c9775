"""Notebook 01b (deeper nets): the master's solution runs top to bottom in CI mode and passes its own
tests; its sanity ladder and experiments print what the text says."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from execute import assert_passes_its_cases, executed_notebook, text  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MASTER = ROOT / "solutions" / "01b_deep_nets" / "01b_deep_nets.py"


executed = executed_notebook(MASTER)


@pytest.mark.slow
def test_solution_passes_all_its_test_cases(executed):
    nb, _ = executed
    assert_passes_its_cases(nb, at_least=15)  # every question's public and hidden cases


@pytest.mark.slow
def test_deep_net_sanity_ladder_and_experiments(executed):
    nb, _ = executed
    out = text(nb)
    initial = float(out.split("deep initial loss ", 1)[1].split()[0])
    assert abs(initial - np.log(10)) < 0.01
    # the float64 gradient checks of the deep net: every parameter, with and without normalization
    for norm in ("None", "batchnorm", "layernorm"):
        line = out.split(f"\n{norm}: W1 ", 1)[1].splitlines()[0]
        errors = [float(tok.rstrip(",")) for tok in line.split() if tok[0].isdigit()]
        assert errors and max(errors) < 1e-5, line
    line = out.split("deep net, training accuracy on 50 examples after ", 1)[1].splitlines()[0]
    assert float(line.split(" steps: ")[1]) >= 0.98, line
    # Kaiming keeps a 10-layer ReLU net's activations, the small scale collapses them
    kaiming = [float(v) for v in out.split("relu  kaiming: std per layer ", 1)[1].split()[:10]]
    small = [float(v) for v in out.split("relu    small: std per layer ", 1)[1].split()[:10]]
    assert 0.5 < kaiming[-1] / kaiming[0] < 2 and small[-1] < 1e-6
    # the two batch-norm backward passes agree
    agree = out.split("dx: relative difference between the two backward passes ", 1)[1]
    assert float(agree.split()[0]) < 1e-8
