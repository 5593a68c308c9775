"""Notebook 01 (backprop): the master's solution runs top to bottom in CI mode and passes its own tests."""

import os
from pathlib import Path

import numpy as np
import pytest

from cnnkit.grading.master import read as read_master

ROOT = Path(__file__).resolve().parents[2]
MASTER = ROOT / "solutions" / "01_backprop" / "01_backprop.py"

# Calls every test function of the notebook in otter's "check" mode with arguments looked up by name,
# the way `grader.check` does, and reports failures by name.
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


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    nb = read_master(MASTER).notebook()  # the lecture with its named exercises and cases
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    work = tmp_path_factory.mktemp("nb01")
    env_keys = {"CNNKIT_CI": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env_keys}
    os.environ.update(env_keys)
    try:
        client = nbclient.NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(work)}}
        )
        client.execute()
    finally:
        nbformat.write(nb, str(work / "executed.ipynb"))
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb, work


def _text(nb):
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") if o.get("output_type") == "stream" else "")
    return "\n".join(out)


@pytest.mark.slow
def test_solution_runs_in_ci_mode_and_saves_params(executed):
    nb, work = executed
    params = work / "twolayer_params.npz"
    assert params.is_file()
    with np.load(params, allow_pickle=False) as f:
        h = int(f["hidden_dim"])
        assert f["W1"].shape == (784, h) and f["b1"].shape == (h,)
        assert f["W2"].shape == (h, 10) and f["b2"].shape == (10,)


@pytest.mark.slow
def test_solution_passes_all_its_test_cases(executed):
    nb, _ = executed
    text = _text(nb)
    assert "FAILED {}" in text, text.split("RAN ", 1)[-1]
    ran = int(text.split("RAN ", 1)[1].split()[0])
    assert ran >= 20  # every question's public and hidden cases (artifact cases included)


@pytest.mark.slow
def test_sanity_ladder_outputs(executed):
    nb, _ = executed
    text = _text(nb)
    initial = float(text.split("initial loss ", 1)[1].split()[0])
    assert abs(initial - np.log(10)) < 0.05
    line = text.split("training accuracy on 50 examples after ", 1)[1].splitlines()[0]
    steps, acc = line.split(" steps: ")
    assert int(steps) == 120
    # the net memorises the 50 examples (chance is 0.1); one example at the boundary may flip with
    # the BLAS build's summation order, so 49/50 counts too
    assert float(acc) >= 0.98, line


@pytest.mark.slow
def test_deep_net_sanity_ladder_and_experiments(executed):
    nb, _ = executed
    text = _text(nb)
    initial = float(text.split("deep initial loss ", 1)[1].split()[0])
    assert abs(initial - np.log(10)) < 0.01
    # the float64 gradient checks of the deep net: every parameter, with and without normalization
    for norm in ("None", "batchnorm", "layernorm"):
        line = text.split(f"\n{norm}: W1 ", 1)[1].splitlines()[0]
        errors = [float(tok.rstrip(",")) for tok in line.split() if tok[0].isdigit()]
        assert errors and max(errors) < 1e-5, line
    line = text.split("deep net, training accuracy on 50 examples after ", 1)[1].splitlines()[0]
    assert float(line.split(" steps: ")[1]) >= 0.98, line
    # Kaiming keeps a 10-layer ReLU net's activations, the small scale collapses them
    kaiming = [float(v) for v in text.split("relu  kaiming: std per layer ", 1)[1].split()[:10]]
    small = [float(v) for v in text.split("relu    small: std per layer ", 1)[1].split()[:10]]
    assert 0.5 < kaiming[-1] / kaiming[0] < 2 and small[-1] < 1e-6
    # the two batch-norm backward passes agree
    agree = text.split("dx: relative difference between the two backward passes ", 1)[1]
    assert float(agree.split()[0]) < 1e-8
