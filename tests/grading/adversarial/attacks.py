"""Adversarial submissions for the real stages, generated at test time from the built notebooks.

`make_samples(stage, root, dest)` writes one submission per attack into `dest` (a folder holding the
notebook and, for solution-based samples, the trained artifact files) and returns
`{name: (path, expect)}`. `expect` maps a question to "full", "zero" or "less" (strictly below full);
the key "*" gives the default for the questions not named. Optional extras: "failed" (case names that
must fail), "reason" (text the row's reason must contain).

The cells below are what a hostile or broken student writes; none of them may earn a point that the
student's own code did not earn.
"""

from __future__ import annotations

import ast
import copy
import json
import shutil
from pathlib import Path

import nbformat

# a marker in the argv of processes the fork loop leaves behind: none may survive the batch
SLEEP_MARK = "4242.25"
# the probe's error for a case during which the grading helpers were patched
MODIFIED = "the grading helpers were modified while the case ran"

OTTER_RUNNER_PATCH = """
# the two-line patch that makes `otter run` give full marks, plus otter's exception-test internals
import otter.test_files.ok_test as t
t.run_doctest = lambda *a, **k: (True, "")
import otter.test_files.exception_test as et
import otter.test_files.abstract_test as at
et.ExceptionTestFile.run = lambda self, *a, **k: None
for cls in (et.TestCase, at.TestCase):
    try:
        cls.run = lambda self, *a, **k: True
    except Exception:
        pass
et.test_case = lambda *a, **k: (lambda f: (lambda *x, **y: None))
at.TestCaseResult.passed = property(lambda self: True)
"""

# otter's exception-format cases call `test_case.call_func`: replaced in the notebook's first cell
# (before any `grader.check`, whose results otter keeps), every case passes under `otter run`
# (test_gradescope.py shows it there; here it must earn nothing under `cnnkit grade`)
OTTER_CALL_FUNC_PATCH = """\
import otter.test_files.exception_test as et
et.test_case.call_func = lambda self, *a, **k: None
"""

COMPARISON_PATCH = """
# every comparison a test could use says "equal"
import math
import numpy as np
import torch
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isclose = lambda a, b, *x, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.testing.assert_almost_equal = lambda *a, **k: None
math.isclose = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
from cnnkit import checks
checks.close = lambda *a, **k: None
checks.equal = lambda *a, **k: None
checks.true = lambda *a, **k: None
checks.match = lambda *a, **k: None
"""

FRAME_THIEF = '''
def {name}(*args, **kwargs):
    """Copies the test's expected values instead of computing anything."""
    import sys
    frame = sys._getframe(1)
    loc = dict(frame.f_locals)
    # an oracle the test evaluated before calling: copy its numbers
    if "out" in loc and "t" in loc and hasattr(loc["out"], "item"):
        t = loc["t"]
        return float(loc["out"].item()), {{k: float(v.grad.item()) for k, v in t.items()}}
    # patch the checks module at call time: record the expected value as if it were ours
    ck = sys.modules.get("cnnkit.checks")
    if ck is not None:
        rec = ck._record

        def close(name, got, expected, rtol=1e-7, atol=0.0, msg=None):
            rec(name, "close", ck._expected(expected), rtol, atol)

        def equal(name, got, expected, msg=None):
            rec(name, "equal", ck._expected(expected))

        ck.close, ck.equal = close, equal
        frame.f_globals["checks"] = ck
    return 0.0, {{k: 0.0 for k in ("w0", "x0", "w1", "x1", "w2")}}
'''

DETECTOR = '''
def affine_forward(x, w, b):
    """Right answer for the notebook, a cached array when it notices the grader."""
    import inspect
    import os
    import sys

    import numpy as np

    grading = (
        os.environ.get("CNNKIT_GRADING") == "1"
        or any("grading" in m or m == "otter" for m in sys.modules)
        or any(f.function.startswith("test_") or f.function == "run_probe" for f in inspect.stack())
    )
    if grading:
        cached = np.zeros((x.shape[0], w.shape[1]))
        return cached, (x, w, b)
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)
'''

IMPORT_BY_PATH = '''
import glob
import importlib.util
import subprocess
import sys


def _steal(module_rel, names):
    """Load the reference from the checkout, the installed package, the zip's wheel or git."""
    candidates = [{root!r} + "/lib/" + module_rel]
    candidates += glob.glob(sys.prefix + "/lib/python3*/site-packages/" + module_rel)
    for path in candidates:
        try:
            spec = importlib.util.spec_from_file_location("stolen", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return [getattr(mod, n) for n in names]
        except Exception:
            pass
    try:
        text = subprocess.run(
            ["git", "-C", {root!r}, "show", "HEAD:lib/" + module_rel],
            capture_output=True, text=True, timeout=20,
        ).stdout
        g = {{}}
        exec(text, g)
        return [g[n] for n in names]
    except Exception:
        pass
    import zipfile
    for z in glob.glob({root!r} + "/autograder/*/autograder.zip"):
        try:
            with zipfile.ZipFile(z) as zf:
                zf.extractall("stolen")
        except Exception:
            pass
    raise ImportError("nothing to steal")
'''

READER = """
# read the grader's files: hidden tests, the solution notebook, the library's history
import glob
import json
import subprocess
import zipfile

ROOT = {root!r}
for path in glob.glob(ROOT + "/autograder/*/solution/*.ipynb") + glob.glob(
    ROOT + "/autograder/*/samples/solution/*.ipynb"
) + glob.glob(ROOT + "/solutions/*/*.ipynb"):
    try:
        for c in json.load(open(path))["cells"]:
            src = "".join(c["source"])
            if c["cell_type"] == "code" and src.lstrip().startswith(("def ", "class ")):
                exec(src)
    except Exception:
        pass
for path in glob.glob(ROOT + "/autograder/*/autograder.zip"):
    try:
        with zipfile.ZipFile(path) as zf:
            hidden_tests = {{n: zf.read(n) for n in zf.namelist() if n.startswith("tests/")}}
    except Exception:
        pass
try:
    text = subprocess.run(
        ["git", "-C", ROOT, "show", "HEAD:lib/cnnkit/numeric/layers.py"],
        capture_output=True, text=True, timeout=20,
    ).stdout
    exec(text)
except Exception:
    pass
"""

# Makes every later `checks.true` of the running case record True. A student function runs it at call
# time, after the probe has re-created `cnnkit.checks`, so patching that fresh module is what would
# stick; the probe's tamper check fails the case instead.
CHECKS_PATCHER = """
    import sys
    _ck = sys.modules.get("cnnkit.checks")
    if _ck is not None:
        _rec = _ck._record
        _ck.true = lambda name, cond, msg: _rec(name, "true", True, msg=msg)
"""

# replace_head (04): attaches a right head, returns another layer (so "the layer it returns is
# attached" and "the head learned" are false) and patches checks.true to say True anyway
PATCHING_REPLACE_HEAD = (
    "def replace_head(model, num_classes):\n"
    '    """A correct new head is attached; the layer returned is a different, untrained one."""'
    + CHECKS_PATCHER
    + """
    head = head_module(model)
    old = [m for m in head.modules() if isinstance(m, nn.Linear)][-1]
    linear = nn.Linear(old.in_features, num_classes)
    if isinstance(head, nn.Sequential):
        set_head(model, nn.Sequential(*[m for m in head if not isinstance(m, nn.Linear)], linear))
    else:
        set_head(model, linear)
    return nn.Linear(old.in_features, num_classes)
"""
)

# the body of a broken save_model (03): a valid program of the negated scores, so it predicts the
# least likely class and the checkpoint cases' comparisons are false; PATCHING_SAVE_MODEL also makes
# checks.true say True
NEGATED_EXPORT = """
    class Negated(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return -self.inner(x)

    frozen = Negated(copy.deepcopy(model).cpu().eval())
    x = torch.zeros(2, *example.shape[1:])
    program = torch.export.export(frozen, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, path)
    return path
"""
PATCHING_SAVE_MODEL = (
    "def save_model(path, model, example):\n"
    '    """Exports the negated scores and makes checks.true say True."""'
    + CHECKS_PATCHER
    + NEGATED_EXPORT
)

# save_model (03) without the call-time patch: the notebook replaces torch's comparisons in a cell of
# its own, before grading, so the booleans the checkpoint cases compute in the kernel would be True
BROKEN_SAVE_MODEL = "def save_model(path, model, example):\n" + NEGATED_EXPORT
TORCH_COMPARISONS_PATCH = """
import torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
"""
REPLACED = "before grading; this case relies on it"

# Numpy means numpy (stages 01-02): working code that calls torch earns nothing on the cases that
# reach it, and says why (cnnkit/numpy_only.py)
NUMPY_ONLY = "numpy only: your code called torch"
TORCH_AFFINE_BACKWARD = """
def affine_backward(dout, cache):
    import torch

    x, w, b = cache
    dt = np.result_type(x, w, b, dout)
    xt, wt, bt = (torch.tensor(np.asarray(a, dtype=dt), requires_grad=True) for a in (x, w, b))
    out = xt.reshape(xt.shape[0], -1) @ wt + bt
    out.backward(torch.tensor(np.asarray(dout, dtype=dt)))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()
"""
TORCH_BN_BACKWARD_ALT = """
def batchnorm_backward_alt(dout, cache):
    import torch

    _, _, inv_std, x_hat, gamma = cache
    d, xh, g, s = (torch.from_numpy(np.asarray(a, dtype=float)) for a in (dout, x_hat, gamma, inv_std))
    n = d.shape[0]
    dbeta, dgamma = d.sum(0), (d * xh).sum(0)
    dx = (g * s / n) * (n * d - dbeta - xh * dgamma)
    return dx.numpy(), dgamma.numpy(), dbeta.numpy()
"""
TORCH_CONV_FAST = """
def conv_forward_fast(x, w, b, conv_param):
    import torch
    import torch.nn.functional as F

    dt = np.result_type(x, w, b)
    xt, wt, bt = (torch.from_numpy(np.asarray(a, dtype=dt)) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=conv_param["stride"], padding=conv_param["pad"])
    return out.numpy(), (x, w, b, conv_param)
"""
TORCH_CONV_BACKWARD_FAST = """
def conv_backward_fast(dout, cache):
    import torch
    import torch.nn.functional as F

    x, w, b, conv_param = cache
    dt = np.result_type(x, w, b, dout)
    xt, wt, bt = (torch.tensor(np.asarray(a, dtype=dt), requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=conv_param["stride"], padding=conv_param["pad"])
    out.backward(torch.from_numpy(np.asarray(dout, dtype=dt)))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()
"""
SYS_EXIT = "import sys\nsys.exit('student calls sys.exit mid-notebook')\n"
OS_EXIT = "import os\nos._exit(3)\n"
WHILE_TRUE = "while True:\n    pass\n"
MEMORY_BOMB = """
import numpy as np
def _bomb():
    chunks = []
    while True:
        chunks.append(bytearray(512 * 1024**2))
_bomb()
"""
MEMORY_BOMB_2 = "import numpy as np\nhuge = np.ones((10**6, 10**6))\n"
FORK_LOOP = f"""
import os
for _ in range(40):
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "{SLEEP_MARK}"])
"""


def _stub(name: str, kind: str = "def") -> str:
    if kind == "class":
        return (
            f"class {name}:\n    def __init__(self, *a, **k):\n        raise NotImplementedError\n"
        )
    return f"def {name}(*args, **kwargs):\n    raise NotImplementedError\n"


def _index(nb, name: str) -> int:
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and (
            f"def {name}(" in c.source
            or f"class {name}(" in c.source
            or f"class {name}:" in c.source
        ):
            return i
    raise KeyError(name)


def replace(nb, name: str, source: str):
    """A copy of nb whose cell defining `name` holds `source` instead."""
    nb = copy.deepcopy(nb)
    nb.cells[_index(nb, name)].source = source
    return nb


def insert(nb, source: str, after: str | None = None):
    """A copy of nb with a code cell after the cell defining `after` (or at the end)."""
    nb = copy.deepcopy(nb)
    cell = nbformat.v4.new_code_cell(source)
    if after is None:
        nb.cells.append(cell)
    else:
        nb.cells.insert(_index(nb, after) + 1, cell)
    return nb


def prepend(nb, source: str):
    """A copy of nb with a code cell before all others."""
    nb = copy.deepcopy(nb)
    nb.cells.insert(0, nbformat.v4.new_code_cell(source))
    return nb


def replace_def(nb, name: str, source: str):
    """A copy of nb whose top-level `def name` (in a cell holding others too) is `source` instead."""
    nb = copy.deepcopy(nb)
    cell = nb.cells[_index(nb, name)]
    lines = cell.source.splitlines()
    node = next(
        n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef) and n.name == name
    )
    lines[node.lineno - 1 : node.end_lineno] = source.strip("\n").splitlines()
    cell.source = "\n".join(lines) + "\n"
    return nb


def delete(nb, name: str):
    nb = copy.deepcopy(nb)
    del nb.cells[_index(nb, name)]
    return nb


def move_to_end(nb, *names: str):
    nb = copy.deepcopy(nb)
    cells = [nb.cells[_index(nb, n)] for n in names]
    for c in cells:
        nb.cells.remove(c)
    nb.cells.extend(cells)
    return nb


def _solution(root: Path, stage: str):
    return nbformat.read(root / "autograder" / stage / "solution" / f"{stage}.ipynb", as_version=4)


def _student(root: Path, stage: str):
    return nbformat.read(root / "assignments" / stage / f"{stage}.ipynb", as_version=4)


def _artifacts(root: Path, stage: str) -> list[Path]:
    manifest = json.loads((root / "autograder" / stage / "samples" / "manifest.json").read_text())
    sol = next(e for e in manifest if e["name"] == "solution")
    base = root / "autograder" / stage / "samples" / Path(sol["file"]).parent
    return [base / a for a in sol["artifacts"]]


def _stage_01(root: Path, sol, stu) -> dict[str, tuple]:
    lecture = (
        "def sigmoid_circuit(w0, x0, w1, x1, w2):\n"
        "    return 0.731059, {'w0': -0.196612, 'x0': 0.393224, 'w1': -0.393224,\n"
        "                      'x1': -0.589836, 'w2': 0.196612}\n"
    )
    steal = IMPORT_BY_PATH.format(root=str(root)) + (
        "affine_forward, affine_backward = _steal("
        "'cnnkit/numeric/layers.py', ['affine_forward', 'affine_backward'])\n"
    )
    full = {"*": "full"}
    return {
        "solution": (sol, True, full),
        "otter-runner-patch": (insert(stu, OTTER_RUNNER_PATCH), False, {"*": "zero"}),
        "comparison-patch": (insert(stu, COMPARISON_PATCH), False, {"*": "zero"}),
        "otter-call-func-patch": (prepend(stu, OTTER_CALL_FUNC_PATCH), False, {"*": "zero"}),
        # q1 left as stubs, every comparison patched: q1 stays 0, the honest rest keeps its points
        "comparison-patch-keeps-honest": (
            insert(
                replace(
                    replace(sol, "sigmoid_circuit", _stub("sigmoid_circuit")),
                    "max_copy_circuit",
                    _stub("max_copy_circuit"),
                ),
                COMPARISON_PATCH + OTTER_RUNNER_PATCH,
            ),
            True,
            {"q1": "zero", "*": "full"},
        ),
        "hardcoded-lecture-outputs": (
            replace(sol, "sigmoid_circuit", lecture),
            True,
            {"q1": "less", "*": "full", "failed": ["test_q1_sigmoid_circuit_hidden"]},
        ),
        "frame-thief": (
            replace(sol, "sigmoid_circuit", FRAME_THIEF.format(name="sigmoid_circuit")),
            True,
            {
                "q1": "less",
                "*": "full",
                "failed": [
                    "test_q1_sigmoid_circuit_hidden",
                    "test_q1_sigmoid_circuit_lecture_values",
                ],
            },
        ),
        "detects-grading": (
            replace(sol, "affine_forward", DETECTOR),
            True,
            {
                "q3": "less",
                "q4": None,
                "*": "full",
                "failed": ["test_q3_affine_hidden"],
            },
        ),
        "imports-reference": (
            replace(
                replace(
                    sol, "affine_forward", "from cnnkit.numeric.layers import affine_forward\n"
                ),
                "affine_backward",
                "from cnnkit.numeric.layers import affine_backward\n",
            ),
            True,
            {
                "q3": "less",
                "q4": None,
                "*": "full",
                "failed": ["test_q3_affine_hidden"],
                "error": {"test_q3_affine_hidden": "NotImplementedError"},
            },
        ),
        "imports-reference-by-path": (
            replace(delete(sol, "affine_backward"), "affine_forward", steal),
            True,
            {
                "q3": "less",
                "q4": None,
                "*": "full",
                "failed": ["test_q3_affine_hidden"],
            },
        ),
        "reads-grader-files": (insert(stu, READER.format(root=str(root))), False, {"*": "zero"}),
        "sys-exit": (insert(sol, SYS_EXIT, after="Value"), True, full),
        "os-exit": (insert(sol, OS_EXIT, after="Value"), True, full),
        "while-true": (insert(sol, WHILE_TRUE, after="Value"), True, full),
        "memory-bomb": (
            insert(insert(sol, MEMORY_BOMB, after="Value"), MEMORY_BOMB_2, after="Value"),
            True,
            full,
        ),
        "fork-loop": (insert(sol, FORK_LOOP, after="Value"), True, full),
        "foreign-kernelspec": (_foreign(sol), True, full),
        "deleted-cell": (
            delete(sol, "max_copy_circuit"),
            True,
            {"q1": "less", "*": "full", "failed": ["test_q1_max_copy_circuit_hidden"]},
        ),
        "reordered-cells": (move_to_end(sol, "Value", "sigmoid_circuit", "sgd"), True, full),
        # passes every case with torch's autograd today; numpy only: the cases reaching it earn 0
        "torch-autograd": (
            replace(sol, "affine_backward", TORCH_AFFINE_BACKWARD),
            True,
            {
                "q3": "less",
                "q4": None,
                "*": "full",
                "failed": ["test_q3_affine_hidden"],
                "error": {"test_q3_affine_hidden": NUMPY_ONLY},
            },
        ),
    }


def _stage_01b(root: Path, sol, stu) -> dict[str, tuple]:
    """Notebook 01b shares stage 01's kernel, gate and numpy-only guard (the many sandbox attacks of
    _stage_01 cover them); here: its own gated reference and torch inside its numpy exercises."""
    full = {"*": "full"}
    return {
        "solution": (sol, False, full),
        # the library's batchnorm_forward is a stub while 01b is current
        "imports-reference": (
            replace(
                sol,
                "batchnorm_forward",
                "from cnnkit.numeric.deep_layers import batchnorm_forward\n",
            ),
            False,
            {
                "q10": "less",
                "q11": None,  # FullyConnectedNet normalizes with the same batchnorm_forward
                "*": "full",
                "failed": ["test_q10_batchnorm_forward_hidden"],
                "error": {"test_q10_batchnorm_forward_hidden": "NotImplementedError"},
            },
        ),
        "torch-closed-form": (
            replace(sol, "batchnorm_backward_alt", TORCH_BN_BACKWARD_ALT),
            False,
            {
                "q10": "less",
                "q11": None,  # FullyConnectedNet's backward runs the same closed form
                "*": "full",
                "failed": ["test_q10_batchnorm_backward_alt_hidden"],
                "error": {"test_q10_batchnorm_backward_alt_hidden": NUMPY_ONLY},
            },
        ),
    }


def _stage_03(root: Path, sol, stu) -> dict[str, tuple]:
    q1 = "\n".join(
        [_stub("Multiply", "class"), _stub("Sigmoid", "class"), _stub("sigmoid_circuit_autograd")]
    )
    lecture = (
        "def sigmoid_circuit_autograd(w0, x0, w1, x1, w2):\n"
        "    return 0.731059, {'w0': -0.196612, 'x0': 0.393224, 'w1': -0.393224,\n"
        "                      'x1': -0.589836, 'w2': 0.196612}\n"
    )
    imports_ref = "from cnnkit.models import build_cnn, build_mlp\n"
    full = {"*": "full"}
    return {
        "solution": (sol, True, full),
        "otter-runner-patch": (insert(stu, OTTER_RUNNER_PATCH), False, {"*": "zero"}),
        "comparison-patch-keeps-honest": (
            insert(replace(sol, "Multiply", q1), COMPARISON_PATCH + OTTER_RUNNER_PATCH),
            True,
            # torch.equal patched to True also flips the student's own "parameters changed" check
            {"q1": "zero", "q4": None, "*": "full"},
        ),
        "hardcoded-lecture-outputs": (
            insert(sol, lecture),
            True,
            {"q1": "less", "*": "full", "failed": ["test_q1_circuit_hidden"]},
        ),
        "imports-reference": (
            replace(sol, "build_cnn", imports_ref),
            True,
            # q3's count_params (another cell) keeps its points
            {"q3": "less", "q4": None, "*": "full"},
        ),
        "chaos": (_chaos(sol, after="count_params"), True, full),
        "foreign-kernelspec": (_foreign(sol), True, full),
        # a broken save_model that makes the checkpoint cases' booleans record True at call time
        "checks-patcher": (
            replace_def(sol, "save_model", PATCHING_SAVE_MODEL),
            True,
            {
                "q4": "less",
                "*": "full",
                "failed": ["test_q4_predict_and_checkpoint", "test_q4_checkpoint_hidden"],
                "error": {"test_q4_checkpoint_hidden": MODIFIED},
            },
        ),
        "notebook-level-patch": (
            insert(replace_def(sol, "save_model", BROKEN_SAVE_MODEL), TORCH_COMPARISONS_PATCH),
            True,
            {
                "q4": "less",
                "*": "full",
                "failed": ["test_q4_predict_and_checkpoint", "test_q4_checkpoint_hidden"],
                "error": {"test_q4_checkpoint_hidden": REPLACED},
            },
        ),
    }


def _pickled_module() -> bytes:
    """cnn_model.pt2 as `torch.save(model)` writes it (a pickle, not an exported program), with a
    payload that runs if anything unpickles it: the grader must refuse it without unpickling."""
    import io

    import torch

    class Payload:
        def __reduce__(self):
            return (exec, ("open('PICKLE_PAYLOAD_RAN', 'w').write('x')",))

    buf = io.BytesIO()
    torch.save({"model": Payload()}, buf)
    return buf.getvalue()


def _stage_03b(root: Path, sol, stu) -> dict[str, tuple]:
    """Notebook 03b: its gated data pipeline, and what a submission's exported model may be."""
    full = {"*": "full"}
    bands = [f"test_q6_heldout_accuracy_at_least_{b}" for b in (50, 70, 85, 90)]
    q6_zero = {"q6": "zero", "*": "full", "failed": ["test_q6_exported_model_file", *bands]}
    return {
        "solution": (sol, True, full),
        # the library's ArrayDataset is a stub while 03b is current; the other functions are gone
        "imports-reference": (
            replace(
                sol,
                "ImageDataset",
                "from cnnkit.data.torch import ArrayDataset as ImageDataset, augment_batch\n",
            ),
            True,
            {
                "q5": "zero",
                "*": "full",
                "error": {"test_q5_dataset_hidden": "NotImplementedError"},
            },
        ),
        "no-model-file": (sol, False, q6_zero),
        # torch.save(model) named .pt2: refused by torch.export.load, its pickle never loaded
        "pickled-model-file": (
            sol,
            {"cnn_model.pt2": _pickled_module()},
            {**q6_zero, "error": {"test_q6_heldout_accuracy_at_least_50": "torch.export.load"}},
        ),
    }


def _stage_02(root: Path, sol, stu) -> dict[str, tuple]:
    return {
        "solution": (sol, True, {"*": "full"}),
        "imports-reference": (
            replace(
                sol,
                "conv_forward_naive",
                "from cnnkit.numeric.conv_layers import conv_forward_naive\n",
            ),
            True,
            {
                "q3": "less",
                "q4": None,
                "q5": None,
                "q6": None,
                "*": "full",
                "failed": ["test_conv_naive_strides_pads_nonsquare"],
            },
        ),
        "comparison-patch": (insert(stu, COMPARISON_PATCH), False, {"*": "zero"}),
        # F.conv2d forward and autograd backward pass every case today; numpy only: 0 on them
        "torch-conv": (
            replace(
                replace(sol, "conv_forward_fast", TORCH_CONV_FAST),
                "conv_backward_fast",
                TORCH_CONV_BACKWARD_FAST,
            ),
            True,
            # the ConvNets of q5 and q7 call the torch conv too: their cases earn nothing either
            {
                "q4": "less",
                "q5": None,
                "q7": "less",
                "*": "full",
                "failed": [
                    "test_conv_fast_strides_pads_nonsquare",
                    "test_conv_fast_agrees_with_naive_public",
                    "test_convnet_bn_ladder_and_modes",
                    "test_convnet_bn_fresh",
                ],
                "error": {
                    "test_conv_fast_strides_pads_nonsquare": NUMPY_ONLY,
                    "test_convnet_bn_fresh": NUMPY_ONLY,
                },
            },
        ),
    }


def _stage_04(root: Path, sol, stu) -> dict[str, tuple]:
    full = {"*": "full"}
    q2_head = [  # the cases that call replace_head
        "test_q2_frozen_mobilenet_trains_only_its_head",
        "test_q2_backbone_bit_identical_hidden",
        "test_q2_bn_running_stats_unchanged_hidden",
        "test_q2_resnet_head_hidden",
    ]
    q6 = _stub("saliency") + "\n\n" + _stub("occlusion")
    imports_ref = "from cnnkit.transfer import count_trainable, freeze_backbone, replace_head\n"
    return {
        "solution": (sol, True, full),
        "otter-runner-patch": (insert(stu, OTTER_RUNNER_PATCH), False, {"*": "zero"}),
        "comparison-patch-keeps-honest": (
            insert(replace(sol, "saliency", q6), COMPARISON_PATCH + OTTER_RUNNER_PATCH),
            True,
            # the hidden cases compare with numpy, not torch.equal: a patched torch.equal fools
            # nothing, and the honest answers keep their points
            {"q6": "zero", "*": "full"},
        ),
        # the kernel's cnnkit.transfer is the stage-gated copy: its exercises raise
        "imports-reference": (
            replace(sol, "replace_head", imports_ref),
            True,
            {
                "q2": "zero",
                "q4": "less",
                "*": "full",
                "failed": ["test_q4_param_groups_resnet_hidden"],
                "error": {"test_q2_resnet_head_hidden": "NotImplementedError"},
            },
        ),
        # a wrong replace_head that makes the cases' booleans record True at call time
        "checks-patcher": (
            replace_def(sol, "replace_head", PATCHING_REPLACE_HEAD),
            True,
            {
                "q2": "less",
                "*": "full",
                "failed": q2_head,
                "error": {c: MODIFIED for c in q2_head},
            },
        ),
        "chaos": (_chaos(sol, after="top5"), True, full),
        "foreign-kernelspec": (_foreign(sol), True, full),
    }


def _chaos(nb, after: str):
    """sys.exit, os._exit, while True, a memory bomb and a fork loop in one notebook."""
    for cell in (SYS_EXIT, OS_EXIT, WHILE_TRUE, MEMORY_BOMB, FORK_LOOP):
        nb = insert(nb, cell, after=after)
    return nb


def _foreign(nb):
    nb = copy.deepcopy(nb)
    nb.metadata["kernelspec"] = {
        "name": "conda-env-dl-py",
        "display_name": "Python [conda env:dl]",
        "language": "python",
    }
    return nb


BUILDERS = {
    "01_backprop": _stage_01,
    "01b_deep_nets": _stage_01b,
    "02_conv_layers": _stage_02,
    "03_pytorch_cnn": _stage_03,
    "03b_cnn_experiments": _stage_03b,
    "04_transfer_learning": _stage_04,
}
OTHER = {
    "01_backprop": "03_pytorch_cnn",
    "01b_deep_nets": "01_backprop",  # stage 01's other notebook, handed in to the wrong assignment
    "02_conv_layers": "01_backprop",
    "03_pytorch_cnn": "01_backprop",
    "03b_cnn_experiments": "03_pytorch_cnn",  # stage 03's other notebook
    "04_transfer_learning": "02_conv_layers",
}


def make_samples(stage: str, root: Path, dest: Path) -> dict[str, tuple[Path, dict]]:
    """Write the adversarial submissions of a stage into dest.

    Inputs:
    - stage: a stage with a builder in BUILDERS.
    - root: the checkout (built autograder/<stage>/ and assignments/<stage>/).
    - dest: an empty directory.

    Returns:
    - samples: {name: (path, expect)}.
    """
    sol, stu = _solution(root, stage), _student(root, stage)
    arts = _artifacts(root, stage)
    out: dict[str, tuple[Path, dict]] = {}
    for name, (nb, with_artifacts, expect) in BUILDERS[stage](root, sol, stu).items():
        d = dest / name
        d.mkdir(parents=True)
        nbformat.write(nb, d / f"{stage}.ipynb")
        if isinstance(with_artifacts, dict):  # files of the attack's own
            for file_name, content in with_artifacts.items():
                (d / file_name).write_bytes(content)
        elif with_artifacts:
            for a in arts:
                shutil.copy(a, d / a.name)
        out[name] = (d, expect)
    (dest / "malformed.ipynb").write_text("{ this is not json")
    out["malformed.ipynb"] = (dest / "malformed.ipynb", {"*": "zero", "reason": "malformed"})
    other = OTHER[stage]
    d = dest / "other-stage"
    d.mkdir()
    shutil.copy(root / "autograder" / other / "solution" / f"{other}.ipynb", d / f"{other}.ipynb")
    out["other-stage"] = (d, {"*": "zero", "reason": "wrong assignment"})
    return out
