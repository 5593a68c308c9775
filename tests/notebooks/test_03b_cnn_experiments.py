"""Notebook 03b (pipeline, experiment, challenge): the master's solution runs top to bottom in CI
mode on a CPU with the library's loops, passes its own tests, and writes an exported model a grader
can use."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from execute import assert_passes_its_cases, executed_notebook, text  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MASTER = ROOT / "solutions" / "03b_cnn_experiments" / "03b_cnn_experiments.py"


executed = executed_notebook(MASTER, timeout=600)


@pytest.mark.slow
def test_solution_passes_all_its_test_cases(executed):
    nb, _ = executed
    assert_passes_its_cases(nb, at_least=10)  # every question's public and hidden cases


@pytest.mark.slow
def test_sanity_ladder_with_the_students_pipeline(executed):
    nb, _ = executed
    out = text(nb)
    untrained = float(out.split("untrained: validation loss ", 1)[1].split()[0])
    assert abs(untrained - math.log(10)) < 0.3
    line = out.split("epochs on 128 images: training accuracy ", 1)[1].split()[0]
    assert float(line.rstrip(",")) >= 0.95, line


@pytest.mark.slow
def test_the_exported_model_is_what_a_grader_can_use(executed):
    from cnnkit import heldout

    _, work = executed
    program = work / "cnn_model.pt2"
    assert program.is_file()
    # What the artifact cases do: load the exported program (no class), fresh images, its limits.
    acc = heldout.program_accuracy(program, n=1000, seed=12345)
    assert acc >= 0.9, f"solution's exported model reaches only {acc:.3f} on fresh shapes"


def test_the_student_can_edit_the_challenge_cell():
    """Question 6 asks for the student's own network, epochs and augmentation, and written question
    4 for a second run: the cell that sets them must stay editable in the student notebook (otter
    assign locks the code cells of a question's block that are not solution cells)."""
    import json

    nb = json.loads(
        (ROOT / "assignments" / "03b_cnn_experiments" / "03b_cnn_experiments.ipynb").read_text()
    )
    cells = [
        c
        for c in nb["cells"]
        if c["cell_type"] == "code" and "CHALLENGE_AUGMENT = " in "".join(c["source"])
    ]
    assert len(cells) == 1
    assert cells[0]["metadata"].get("editable", True) is not False
