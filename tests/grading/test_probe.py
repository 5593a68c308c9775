"""The probe's tamper check: a student function that patches the recording path at call time.

`run_probe` runs here in-process on a tiny case (record mode, as in a student's kernel). Each tamper
way is done by the "student" function while the case runs, through `monkeypatch` so the pytest process
gets its builtins and modules back afterwards (the probe itself restores nothing).
"""

import builtins
import json
import os
import sys
import textwrap

import numpy as np
import pytest
import torch

import cnnkit
import cnnkit.checks
from cnnkit.grading.kernel.runtime import run_probe
from cnnkit.grading.records import load_environment, load_records, read_kernel_file
from cnnkit.grading.watch import depends_on, recording_path

CHECKS_SOURCE = open(cnnkit.checks.__file__, encoding="utf-8").read()  # noqa: SIM115

# The student function runs between two checks: a boolean recorded before it (whose record could be
# edited) and one recorded after it (which a patched `checks.true` would turn into True).
CASE = textwrap.dedent(
    """
    def test_case(f):
        from cnnkit import checks

        x = checks.rng().standard_normal(3)
        checks.true("recorded before", bool(x.size == 3), "no")
        checks.close("value", f(x), None)
        checks.true("recorded after", False, "the student's property does not hold")
    """
)
HONEST = textwrap.dedent(
    """
    def test_honest(f):
        from cnnkit import checks

        x = checks.rng().standard_normal(3)
        checks.close("value", f(x), None)
        checks.true("holds", True, "no")
    """
)


@pytest.fixture(autouse=True)
def _own_checks(monkeypatch):
    """run_probe installs its own cnnkit.checks: give the real one back after each test."""
    monkeypatch.setitem(sys.modules, "cnnkit.checks", sys.modules["cnnkit.checks"])
    monkeypatch.setattr(cnnkit, "checks", cnnkit.checks)


def probe(tmp_path, f, *sources):
    tests = []
    for src in sources:
        name = src.split("def ", 1)[1].split("(", 1)[0]
        tests.append({"name": name, "source": src, "params": ["f"], "seed": 7})  # hidden cases
    spec = {
        "mode": "record",
        "seed": 7,
        "out": str(tmp_path),
        "tests": tests,
        "checks_source": CHECKS_SOURCE,
        "case_seconds": 30,
    }
    run_probe({"f": f}, spec)
    return load_records(tmp_path)


def _checks():
    return sys.modules["cnnkit.checks"]  # the probe's copy while a case runs


def _forged_true(name, cond, msg):
    _checks()._record(name, "true", True, msg=msg)


def patch_true(mp):
    mp.setattr(_checks(), "true", _forged_true)


def replace_records(mp):
    _checks()._state["records"] = []


def swap_code(mp):
    g = _checks().__dict__
    forged = {}
    exec("def true(name, cond, msg):\n    _record(name, 'true', True, msg=msg)\n", g, forged)
    mp.setattr(g["true"], "__code__", forged["true"].__code__)


def replace_module(mp):
    fake = type(sys)("cnnkit.checks")
    fake.__dict__.update(_checks().__dict__, true=_forged_true)
    mp.setitem(sys.modules, "cnnkit.checks", fake)


def edit_records(mp):
    _checks()._state["records"][0]["value"] = False


def patch_bool(mp):
    real = bool
    mp.setattr(builtins, "bool", type("bool", (), {"__new__": lambda cls, x=False: real(x)}))


def patch_isinstance(mp):
    real = isinstance
    mp.setattr(builtins, "isinstance", lambda obj, cls: real(obj, cls))


def patch_asarray(mp):
    real = np.asarray
    mp.setattr(np, "asarray", lambda *a, **k: real(*a, **k))


def patch_numpy_code(mp):
    impl = np.allclose._implementation  # np.allclose dispatches to this Python function
    mp.setattr(impl, "__code__", impl.__code__.replace())


def patch_tensor(mp):
    base = torch._C.TensorBase.__bool__  # an override that still tells the truth, for pytest's sake
    mp.setattr(torch.Tensor, "__bool__", lambda self: base(self), raising=False)


TAMPERS = {
    "checks.true rebound": (patch_true, "checks.true"),
    "records list replaced": (replace_records, "checks._state['records']"),
    "checks.true.__code__ swapped": (swap_code, "checks.true.__code__"),
    "sys.modules entry replaced": (replace_module, "sys.modules['cnnkit.checks']"),
    "record edited in place": (edit_records, "checks._state['records']"),
    "builtins.bool": (patch_bool, "builtins.bool"),
    "builtins.isinstance": (patch_isinstance, "builtins.isinstance"),
    "numpy.asarray": (patch_asarray, "numpy.asarray"),
    "a numpy function's code": (patch_numpy_code, "numpy.allclose._implementation.__code__"),
    "torch.Tensor.__bool__ overridden": (patch_tensor, "torch.Tensor (overridden attributes)"),
}


def test_an_honest_case_is_recorded(tmp_path):
    got = probe(tmp_path, lambda x: 2 * x, HONEST, CASE)
    assert got["test_honest"]["error"] is None
    rec = got["test_honest"]["records"]
    assert [(r["name"], r["kind"]) for r in rec] == [("value", "close"), ("holds", "true")]
    assert rec[1]["value"] is True
    x = np.random.default_rng(cnnkit.checks._seed_for("test_honest", 7, 0)).standard_normal(3)
    np.testing.assert_array_equal(rec[0]["value"], 2 * x)
    # the second case: all three records, the false one false
    assert got["test_case"]["error"] is None
    assert [r["value"] for r in got["test_case"]["records"][::2]] == [True, False]


@pytest.mark.parametrize("way", sorted(TAMPERS))
def test_a_call_time_patch_fails_the_case(tmp_path, monkeypatch, way):
    patch, what = TAMPERS[way]

    def student(x):
        if not done:  # once: the second case calls an honest function
            done.append(patch(monkeypatch))
        return 2 * x

    done = []

    got = probe(tmp_path, student, CASE, HONEST)
    case = got["test_case"]
    assert case["error"].startswith("the grading helpers were modified while the case ran")
    assert what in case["error"]
    assert case["records"] == []  # none kept: the forged True never reaches the grader
    # nothing is restored: a patch that outlives the case (builtins, numpy, torch) fails the next one
    lasting = patch in (patch_bool, patch_isinstance, patch_asarray, patch_numpy_code, patch_tensor)
    assert (got["test_honest"]["error"] is not None) == lasting


def test_without_the_check_the_patch_earns_the_boolean(tmp_path, monkeypatch):
    """What the dropped records would have said: the patched `checks.true` records True."""
    seen = []

    def student():
        patch_true(monkeypatch)
        seen.append(_checks())

    src = "def test_case(f):\n    from cnnkit import checks\n    f()\n    checks.true('holds', False, 'no')\n"
    got = probe(tmp_path, student, src)
    assert got["test_case"]["records"] == [] and "checks.true" in got["test_case"]["error"]
    patched = seen[0]  # the probe's checks module, still patched (nothing was restored)
    patched._begin("test_case", "record", 7)
    patched.true("holds", False, "no")
    assert patched._records()[0]["value"] is True


def test_what_torch_changes_by_itself_is_not_tampering(tmp_path, monkeypatch):
    """Lazy imports and caches: `import torch._dynamo` (an optimizer's first step) rebinds
    torch.manual_seed; pickling a tensor (torch.save) caches `torch.Tensor.__slotnames__`."""
    import io

    real = torch.manual_seed
    if "__slotnames__" in vars(torch.Tensor):  # cached by an earlier test: start without it
        monkeypatch.delattr(torch.Tensor, "__slotnames__")

    def student(x):
        monkeypatch.setattr(torch, "manual_seed", lambda seed: real(seed))  # what dynamo does
        torch.save(torch.zeros(2), io.BytesIO())
        return 2 * x

    got = probe(tmp_path, student, HONEST)
    assert "__slotnames__" in vars(torch.Tensor)  # the cache did appear while the case ran
    assert got["test_honest"]["error"] is None
    assert [r["name"] for r in got["test_honest"]["records"]] == ["value", "holds"]


USES_TORCH_ALLCLOSE = textwrap.dedent(
    """
    def test_uses_allclose(f):
        import torch
        from cnnkit import checks

        x = checks.rng().standard_normal(3)
        same = torch.allclose(torch.tensor(f(x)), torch.tensor(x))
        checks.true("f is the identity", same, "f changes its input")
    """
)


def _pristine(tmp_path, f):
    """What the reference kernel writes at probe start: its watched functions, described."""
    ref = tmp_path / "reference"
    spec = {
        "mode": "reference",
        "seed": 7,
        "out": str(ref),
        "tests": [],
        "checks_source": CHECKS_SOURCE,
        "case_seconds": 30,
    }
    run_probe({"f": f}, spec)
    pristine = load_environment(ref)
    assert pristine == json.loads((ref / "environment.json").read_text()) and pristine
    return pristine


def _plan(tmp_path, limits=None, pristine=None):
    from cnnkit.grading.contract import Limits
    from cnnkit.grading.runs import Plan

    return Plan(
        "x",
        None,
        7,
        limits or Limits(case_timeout=30),
        tmp_path,
        tmp_path,
        CHECKS_SOURCE,
        {},
        tmp_path,
        tmp_path,
        pristine or {},
    )


def _record(tmp_path, f, pristine, *sources):
    """Probe the sources in record mode with the spec the grader ships (runs.probe_spec)."""
    from cnnkit.grading.autograder import Case
    from cnnkit.grading.runs import probe_spec

    cases = [
        Case(s.split("def ", 1)[1].split("(", 1)[0], "q1", 1.0, True, ["f"], s) for s in sources
    ]
    out = tmp_path / "student"
    spec = probe_spec(_plan(tmp_path, pristine=pristine), "record", out, cases)
    run_probe({"f": f}, spec.to_dict())
    return load_records(out)


def test_a_notebook_level_patch_voids_the_cases_that_use_it(tmp_path, monkeypatch):
    def wrong(x):
        return x + 1

    pristine = _pristine(tmp_path, wrong)
    # unpatched: the wrong function fails on its merits, the honest case is recorded
    got = _record(tmp_path, wrong, pristine, USES_TORCH_ALLCLOSE, HONEST)
    assert got["test_uses_allclose"]["records"][0]["value"] is False
    # the notebook replaced torch.allclose before the probe: the boolean it would forge is void,
    # the case that does not use it keeps its records
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    got = _record(tmp_path, wrong, pristine, USES_TORCH_ALLCLOSE, HONEST)
    assert "replaced torch.allclose before grading" in got["test_uses_allclose"]["error"]
    assert got["test_uses_allclose"]["records"] == []
    assert got["test_honest"]["error"] is None and len(got["test_honest"]["records"]) == 2


def test_a_replaced_builtin_voids_every_case(tmp_path, monkeypatch):
    pristine = _pristine(tmp_path, lambda x: 2 * x)
    real = builtins.isinstance
    monkeypatch.setattr(builtins, "isinstance", lambda o, t: real(o, t))
    got = _record(tmp_path, lambda x: 2 * x, pristine, HONEST)
    assert "replaced builtins.isinstance" in got["test_honest"]["error"]


def test_records_are_never_read_through_a_link(tmp_path):
    """The kernel owns its output folder: a link to a grader-side file must not be read."""
    secret = tmp_path / "reference-records.json"
    secret.write_text(json.dumps({"test_x": {"error": None, "records": []}}))
    out = tmp_path / "out"
    out.mkdir()
    (out / "records.json").symlink_to(secret)
    got = load_records(out)
    assert "test_x" not in got and "unreadable records" in got["<records>"]["error"]
    (out / "records.json").unlink()
    os.link(secret, out / "records.json")  # a hard link: same inode, two names
    assert "not a plain file" in load_records(out)["<records>"]["error"]
    (out / "records.json").unlink()
    with pytest.raises(ValueError, match="too large"):
        read_kernel_file(secret, 4)
    # nor the reference's digests: a link there reads as no digests at all
    (out / "environment.json").symlink_to(secret)
    assert load_environment(out) == {}


def test_a_case_depends_on_what_its_source_uses_not_on_checks_names():
    env = {
        "torch:equal": "a",
        "torch:allclose": "b",
        "numpy:allclose._implementation": "c",
        "numpy:save": "d",
        "builtins:max": "e",
        "torch.Tensor:<inherited>": "f",
    }
    src = "def test_x(f):\n    import torch\n    checks.equal('n', f(), 3)\n    ok = torch.allclose(f(), f())\n"
    assert recording_path(env) == ["numpy:save"]  # every case relies on it
    assert depends_on(src, env) == [
        "numpy:allclose._implementation",  # by name: `allclose` is used (whichever module's)
        "torch.Tensor:<inherited>",
        "torch:allclose",
    ]
    assert "builtins:max" in depends_on("def t():\n    m = max(1, 2)\n", env)


def test_a_case_gets_its_own_timeout_from_the_limits(tmp_path):
    """Limits.case_timeout bounds each case (default: the cell timeout), never past the wall clock."""
    import time

    from cnnkit.grading.contract import Limits
    from cnnkit.grading.runs import probe_spec

    def case_timeout(**kw):
        return probe_spec(_plan(tmp_path, Limits(**kw)), "record", tmp_path, []).case_seconds

    assert case_timeout(timeout=600, cell_timeout=20) == 20
    assert case_timeout(timeout=600, cell_timeout=20, case_timeout=120) == 120
    assert case_timeout(timeout=60, cell_timeout=20, case_timeout=120) == 60

    spec = {
        "mode": "record",
        "seed": 7,
        "out": str(tmp_path),
        "tests": [{"name": "test_honest", "source": HONEST, "params": ["f"]}],
        "checks_source": CHECKS_SOURCE,
        "case_seconds": case_timeout(timeout=600, cell_timeout=300, case_timeout=1),  # at least 5
    }
    start = time.monotonic()
    run_probe({"f": lambda x: time.sleep(60)}, spec)
    assert time.monotonic() - start < 30
    got = load_records(tmp_path)["test_honest"]
    assert got["error"] == "TimeoutError: the case ran past 5 s"
