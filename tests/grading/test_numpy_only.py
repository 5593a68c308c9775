"""Numpy means numpy (stages 01-02): a case whose student code calls torch or scipy's convolutions
earns nothing, under `cnnkit grade` (the probe notes it, the judge decides) and under `grader.check`
(the check fails with the same message). End to end on the real stages: the "torch-autograd" and
"torch-conv" submissions of tests/grading/adversarial/attacks.py.
"""

import json
import sys
import textwrap

import pytest

import cnnkit
import cnnkit.checks
from cnnkit import numpy_only
from cnnkit.grading.judge import judge
from cnnkit.grading.kernel import probe_cell
from cnnkit.grading.kernel.runtime import run_probe
from cnnkit.grading.master import NUMPY_ONLY_LINE, with_numpy_only
from cnnkit.grading.records import load_records
from cnnkit.grading.stage import Stage

CHECKS_SOURCE = open(cnnkit.checks.__file__, encoding="utf-8").read()  # noqa: SIM115

# what a notebook defines: functions whose globals are the kernel's `__main__`
STUDENT = textwrap.dedent(
    """
    import numpy as np

    def honest(x):
        return np.convolve(x, [1.0, 2.0], mode="same") + np.fft.fft(x).real

    def torch_conv(x):
        import torch
        import torch.nn.functional as F

        t = torch.from_numpy(x)[None, None]
        return F.conv1d(t, torch.ones(1, 1, 1, dtype=t.dtype))[0, 0].numpy()

    def torch_autograd(x):
        import torch

        t = torch.tensor(x, requires_grad=True)
        (t ** 2).sum().backward()
        return t.grad.numpy()

    def scipy_signal(x):
        import scipy.signal

        return scipy.signal.convolve(x, [1.0, 2.0], mode="same")

    def via_a_helper(x):
        return helper(x)  # library code in between: the call is still the student's

    def switch_off(x):
        import sys

        sys.setprofile(None)
        return 2 * x

    def off_and_on_again(x):
        import sys

        import torch

        hook = sys.getprofile()
        sys.setprofile(None)
        y = torch.tensor(x).numpy() * 2
        sys.setprofile(hook)
        return y
    """
)


def _student():
    ns = {"__name__": "__main__"}
    exec(compile(STUDENT, "<notebook cell>", "exec"), ns)
    import torch  # noqa: F401 - seed_everything seeds torch once it is imported

    import cnnkit.runtime as seeding_module  # a library function that calls torch

    ns["helper"] = lambda x: (seeding_module.seed_everything(0), 2 * x)[1]
    return ns


CASE = textwrap.dedent(
    """
    def test_case(f):
        import torch

        from cnnkit import checks

        x = checks.rng().standard_normal(5)
        got = f(x)
        ref = torch.nn.functional.conv1d(torch.tensor(x)[None, None], torch.ones(1, 1, 1, dtype=torch.float64))
        checks.close("value", got, None)
        checks.true("the test's own torch", bool(ref.shape[-1] == 5), "no")
    """
)


@pytest.fixture(autouse=True)
def _own_checks(monkeypatch):
    """run_probe installs its own cnnkit.checks: give the real one back after each test."""
    monkeypatch.setitem(sys.modules, "cnnkit.checks", sys.modules["cnnkit.checks"])
    monkeypatch.setattr(cnnkit, "checks", cnnkit.checks)
    yield
    cnnkit.checks._end()


def _guarded(f, x):
    """Call f(x) from test code under a Guard, as the probe does; what it found."""
    test = {"__name__": "__cnnkit_tests__"}
    exec(compile("def call(f, x):\n    return f(x)\n", "<test call>", "exec"), test)
    guard = numpy_only.Guard().start()
    try:
        test["call"](f, x)
    finally:
        found = guard.stop()
    return found


@pytest.mark.parametrize(
    "name, found",
    [
        ("honest", None),
        ("torch_conv", "torch."),
        ("torch_autograd", "torch."),
        ("scipy_signal", "scipy.signal."),
        ("via_a_helper", "torch."),
        ("switch_off", "sys.setprofile"),
        ("off_and_on_again", "sys.setprofile"),
    ],
)
def test_the_guard_notes_what_the_student_code_calls(name, found):
    import numpy as np

    got = _guarded(_student()[name], np.arange(4.0))
    assert (got is None) if found is None else got.startswith(found), got
    assert sys.getprofile() is None


def test_a_notebook_that_replaced_setprofile_is_caught():
    """A fake setprofile/getprofile pair that reports the profiler installed while none runs."""
    got = _fresh(
        """
        import sys
        import torch
        from cnnkit import numpy_only

        installed = []
        sys.setprofile = installed.append
        sys.getprofile = lambda: installed[-1] if installed else None

        def student(x):
            return torch.relu(torch.tensor(x)).numpy()

        test = {"__name__": "__cnnkit_tests__"}
        exec(compile("def call(f, x):\\n    return f(x)\\n", "<test call>", "exec"), test)
        guard = numpy_only.Guard().start()
        test["call"](student, [1.0, -1.0])
        print(guard.stop())
        """
    )
    assert got.strip().startswith("sys.setprofile"), got


def test_the_stage_says_which_stages_are_numpy_only():
    assert [
        s.name
        for s in map(
            Stage.named,
            (
                "01_backprop",
                "01b_deep_nets",
                "02_conv_layers",
                "03_pytorch_cnn",
                "03b_cnn_experiments",
            ),
        )
        if s.numpy_only
    ] == ["01_backprop", "01b_deep_nets", "02_conv_layers"]


def _spec(out, source=CASE, numpy_only_stage=True, case_seconds=30):
    """A ProbeSpec's dict: one case `test_case(f)` of `source`, recorded into `out`."""
    return {
        "mode": "record",
        "seed": 7,
        "out": str(out),
        "tests": [{"name": "test_case", "source": source, "params": ["f"]}],
        "checks_source": CHECKS_SOURCE,
        "case_seconds": case_seconds,
        "numpy_only": numpy_only_stage,
    }


def _probe(tmp_path, f, numpy_only_stage=True):
    run_probe({"f": f}, _spec(tmp_path, numpy_only_stage=numpy_only_stage))
    return load_records(tmp_path)


def test_the_probe_records_the_call_and_the_judge_gives_nothing(tmp_path):
    from cnnkit.grading.autograder import Case

    student = _student()
    honest = _probe(tmp_path / "h", student["honest"])["test_case"]
    cheat = _probe(tmp_path / "c", student["torch_conv"])["test_case"]
    assert "forbidden" not in honest and honest["error"] is None
    assert cheat["forbidden"].startswith("torch.") and cheat["error"] is None
    # in a stage that allows torch the same case is not watched
    assert "forbidden" not in _probe(tmp_path / "o", student["torch_conv"], False)["test_case"]
    case = Case("test_case", "q1", 1.0, False, ("f",), CASE)
    ref = {"test_case": honest}
    assert judge([case], ref, {"test_case": honest}, {})["test_case"]["passed"]
    verdict = judge([case], ref, {"test_case": cheat}, {})["test_case"]
    assert verdict["earned"] == 0 and verdict["message"].startswith(
        "numpy only: your code called torch."
    )


def test_the_probe_cell_ships_the_guard_by_its_text(tmp_path):
    student = _student()
    src = probe_cell(_spec(tmp_path))
    assert "class Guard" in src
    exec(compile(src, "<probe>", "exec"), {**student, "f": student["torch_autograd"]})
    assert json.loads((tmp_path / "records.json").read_text())["test_case"]["forbidden"]


def test_grader_check_fails_the_case_with_the_same_message():
    """A built test of a numpy-only stage starts with `checks.numpy_only()`; in check mode the next
    check fails when the student's code called torch, and the test's own torch is fine."""
    case = CASE.replace('checks.close("value", got, None)', 'checks.close("value", got, 2 * x)')
    source = with_numpy_only('""" # BEGIN TEST CONFIG\npoints: 1\n""" # END TEST CONFIG\n' + case)
    assert NUMPY_ONLY_LINE in source
    ns = {"__name__": "tests_q1"}
    exec(compile(source, "tests/q1.py", "exec"), ns)
    student = {"__name__": "__main__"}
    exec("def twice(x):\n    return 2 * x\n", student)
    student.update(_student())
    cnnkit.checks._end()
    ns["test_case"](student["twice"])
    ns["test_case"](lambda x: 2 * x)  # nothing raised: the test's own torch is allowed
    assert sys.getprofile() is None  # the guard ended with the test
    with pytest.raises(cnnkit.checks.CheckFailed, match="numpy only: your code called torch"):
        ns["test_case"](student["torch_autograd"])
    assert sys.getprofile() is None
    cnnkit.checks.true("a later test's check", True, "no")  # not failed by the earlier test's guard


def test_artefact_cases_are_left_alone():
    src = '""" # BEGIN TEST CONFIG\npoints: 1\n""" # END TEST CONFIG\ndef test_file():\n    pass\n'
    assert with_numpy_only(src) == src


def _fresh(code: str) -> str:
    """Run `code` in a fresh interpreter (nothing of torch imported yet); its stdout."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_preimport_imports_the_watched_packages_the_tests_import():
    got = _fresh(
        """
        import json, sys
        from cnnkit import numpy_only

        plain = [
            "def t(f):\\n    import numpy as np\\n    import torch.nn.functional as F\\n",
            "def u(f):\\n    from scipy import ndimage\\n    from . import sibling\\n",
            "def v(f):\\n    import scipy.signal.no_such_module\\n",
            "def w(f) broken syntax",
        ]
        first = numpy_only.preimport(plain)
        dynamo_after_plain = "torch._dynamo" in sys.modules
        # an optimizer only inside the test's oracle (a lambda, a nested function): a kernel that
        # records never evaluates it
        lazy = [
            "def y(f):\\n    import torch\\n    check(f(), lambda: torch.optim.SGD([], lr=0.1))\\n",
            "def z(f):\\n    def oracle():\\n        import torch\\n        return torch.optim.Adam\\n",
        ]
        recording = numpy_only.preimport(lazy, eager_only=True)
        dynamo_after_recording = "torch._dynamo" in sys.modules
        optim = ["def x(f):\\n    import torch\\n    opt = torch.optim.SGD([], lr=0.1)\\n"]
        second = numpy_only.preimport(optim, eager_only=True)
        print(json.dumps([first, dynamo_after_plain, recording, dynamo_after_recording, second]))
        """
    )
    first, dynamo_after_plain, recording, dynamo_after_recording, second = json.loads(got)
    # numpy is not the guard's concern; a module that does not exist is left for the case to fail on
    assert first == ["torch.nn.functional", "scipy.ndimage"]
    # torch's optimizers import torch._dynamo on first use: it comes only with a test that uses one,
    # and in a recording kernel only with one whose own body does
    assert not dynamo_after_plain
    assert recording == ["torch"] and not dynamo_after_recording
    assert second == ["torch", "torch._dynamo"]


def test_the_probe_imports_them_before_the_first_case(tmp_path):
    """In a numpy-only stage the case finds torch's optimizer machinery imported (not under its
    guard's profiler); elsewhere the probe imports nothing for it."""
    case = (
        "def test_case(f):\n"
        "    import sys\n"
        "    present = 'torch._dynamo' in sys.modules\n"
        "    import torch\n"
        "    torch.optim.SGD\n"
        "    from cnnkit import checks\n"
        "    checks.true('preimported', present, 'no')\n"
    )
    # the same optimizer as the test's oracle (a lambda): imported first in the reference kernel,
    # which evaluates it, not in a student's, which records only
    oracle = case.replace("    torch.optim.SGD\n", "    (lambda: torch.optim.SGD)\n")
    assert oracle != case
    seen = {}
    runs = [(case, True, "record"), (case, False, "record")]
    runs += [(oracle, True, "record"), (oracle, True, "reference")]
    for source, numpy_only_stage, mode in runs:
        out = tmp_path / f"{len(seen)}"
        spec = {**_spec(out, source, numpy_only_stage, case_seconds=60), "mode": mode}
        _fresh(
            f"""
            from cnnkit.grading.kernel.runtime import run_probe
            run_probe({{"f": len, "__name__": "__main__"}}, {spec!r})
            """
        )
        (rec,) = load_records(out)["test_case"]["records"]
        seen[source is oracle, numpy_only_stage, mode] = rec["value"]
    assert seen == {
        (False, True, "record"): True,
        (False, False, "record"): False,
        (True, True, "record"): False,
        (True, True, "reference"): True,
    }
