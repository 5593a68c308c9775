"""The typed contracts between the grading processes, the limits derived in one place, and the
in-kernel runtime shipped by its file text."""

import ast
import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnkit
import cnnkit.checks
from cnnkit.grading import contract, grade, gradescope
from cnnkit.grading.contract import (
    CELL_SHARE,
    DEFAULT_TIMEOUT,
    MAX_CELL_SECONDS,
    MIN_CASE_SECONDS,
    REFERENCE_SECONDS,
    BootConfig,
    CaseSpec,
    Limits,
    ProbeSpec,
    RunnerConfig,
)
from cnnkit.grading.kernel import CONTRACT, LOAD, RUNTIME, TAMPER, probe_cell
from cnnkit.grading.records import load_records
from cnnkit.grading.slicing import _CHECKS_EXPECTED, record_source

CHECKS_SOURCE = open(cnnkit.checks.__file__, encoding="utf-8").read()  # noqa: SIM115


def test_the_enforced_limits_derive_from_the_wall_clock():
    lim = Limits.for_timeout(DEFAULT_TIMEOUT)
    assert lim.wall_seconds == DEFAULT_TIMEOUT
    assert lim.cell_seconds == min(MAX_CELL_SECONDS, DEFAULT_TIMEOUT * CELL_SHARE)
    assert lim.case_seconds == int(lim.cell_seconds)
    assert lim.cpu_seconds_limit == int(DEFAULT_TIMEOUT) + 1
    # a long wall clock: the cell limit is capped; a short one: no limit exceeds it
    assert Limits(timeout=4000).cell_seconds == MAX_CELL_SECONDS
    short = Limits(timeout=8, cell_timeout=60, case_timeout=60)
    assert (short.cell_seconds, short.case_seconds) == (8, 8)
    assert Limits(timeout=600, case_timeout=1).case_seconds == MIN_CASE_SECONDS
    assert Limits(timeout=600, cpu_seconds=30).cpu_seconds_limit == 31


def test_the_reference_gets_a_generous_clock_and_hides_nothing():
    ref = Limits(timeout=60, cell_timeout=5, case_timeout=5, hide=["/x"]).for_reference()
    assert ref.hide == []
    assert ref.wall_seconds == ref.cell_seconds == ref.case_seconds == REFERENCE_SECONDS
    assert Limits(timeout=5000).for_reference().wall_seconds == 5000


def test_the_cache_key_sees_the_enforced_limits_not_how_they_were_written():
    a = Limits(timeout=600, hide=["/tmp/a"], read_only=["/tmp/w"])
    b = Limits(timeout=600, cell_timeout=a.cell_seconds, case_timeout=a.case_seconds)
    assert a.verdict_fields() == b.verdict_fields()
    assert "hide" not in a.verdict_fields() and "read_only" not in a.verdict_fields()
    assert Limits(timeout=900).verdict_fields() != a.verdict_fields()
    assert Limits(timeout=600, memory_bytes=1024**3).verdict_fields() != a.verdict_fields()


def test_every_default_timeout_is_the_contracts():
    """The CLI, `grade()`, Gradescope and `Limits()` read the one default (README, "Limits")."""
    from cnnkit.cli import build_parser

    args = build_parser().parse_args(["grade", "01_backprop", "x.ipynb"])
    assert args.timeout == DEFAULT_TIMEOUT
    assert gradescope.DEFAULTS["timeout"] == DEFAULT_TIMEOUT
    assert Limits().timeout == DEFAULT_TIMEOUT
    assert inspect.signature(grade.grade).parameters["timeout"].default is None


def test_configs_round_trip_and_refuse_unknown_fields():
    cfg = RunnerConfig(
        entry="kernel", workdir="/w", library="/lib", probe="x = 1", cell_seconds=3.0, uid=7
    )
    assert RunnerConfig.from_json(cfg.to_json()) == cfg
    boot = cfg.boot(also_blocked=["/w/boot"])
    assert boot.blocked == ["/w/boot"] and boot.uid == 7 and boot.entry == "kernel"
    assert BootConfig.from_json(boot.to_json()) == boot
    with pytest.raises(ValueError, match="unknown fields"):
        RunnerConfig.from_json(json.dumps({**json.loads(cfg.to_json()), "cell_timeout": 1}))
    spec = ProbeSpec("record", 1, "/o", [CaseSpec("t", "def t(f): pass", ["f"])], "", 5)
    assert ProbeSpec.from_dict(json.loads(spec.to_json())) == spec


def test_the_probe_cell_ships_the_runtime_and_leaves_the_notebook_alone(tmp_path, monkeypatch):
    """The cell carries kernel/runtime.py's text and runs it in a namespace of its own."""
    source = (
        "def test_double(f):\n"
        "    from cnnkit import checks\n"
        "    x = checks.rng().normal(size=3)\n"
        "    checks.close('double', f(x), 2 * x)\n"
    )
    spec = ProbeSpec(
        "record",
        3,
        str(tmp_path),
        [CaseSpec("test_double", record_source(source, ["f"]), ["f"], 3)],
        CHECKS_SOURCE,
        30,
    )
    cell = probe_cell(spec)
    # the probe installs its own cnnkit.checks: the real one comes back after the test
    monkeypatch.setitem(sys.modules, "cnnkit.checks", sys.modules["cnnkit.checks"])
    monkeypatch.setattr(cnnkit, "checks", cnnkit.checks)
    for path in (LOAD, CONTRACT, TAMPER, RUNTIME):
        assert repr(path.read_text(encoding="utf-8")) in cell
    # nothing of the library is imported in the kernel: a notebook's stand-ins would not be used
    for name in ("cnnkit.grading", "cnnkit.grading.contract", "cnnkit.grading.kernel.tamper"):
        monkeypatch.setitem(sys.modules, name, None)
    before = set(sys.modules)
    nb = {"f": lambda x: 2 * x, "__builtins__": __builtins__}
    exec(cell, nb)
    assert set(nb) == {"f", "__builtins__"}  # no runtime name left behind
    assert not any(m.startswith("cnnkit_kernel") for m in set(sys.modules) - before)
    got = load_records(tmp_path)["test_double"]
    assert got["error"] is None
    assert [r["name"] for r in got["records"]] == ["double"]
    assert isinstance(got["records"][0]["value"], np.ndarray)


def test_the_slicer_strips_expected_where_the_checks_signatures_put_it():
    for name in ("close", "equal"):
        params = list(inspect.signature(getattr(cnnkit.checks, name)).parameters)
        assert _CHECKS_EXPECTED[name] == params.index("expected")
    sliced = record_source(
        "def test_t(f):\n    checks.close('a', f(1), secret())\n    checks.equal('b', f(2), 3)\n",
        ["f"],
    )
    assert "secret" not in sliced and ", 3)" not in sliced


def _imports(path):
    return _imports_of(ast.parse(path.read_text(encoding="utf-8")))


def _imports_of(tree):
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_what_runs_beside_the_kernel_imports_no_library():
    """contract.py travels beside the runner; the runtime is stdlib + numpy; boot.py imports the
    library only after it put the (gated) library's path first."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    assert _imports(Path(contract.__file__)) <= stdlib
    assert _imports(LOAD) <= stdlib and _imports(TAMPER) <= stdlib
    # the runtime imports contract and tamper from the library only when imported as a module: in
    # a kernel the probe cell passes them in
    tree = ast.parse(RUNTIME.read_text(encoding="utf-8"))
    fallback = [n for n in tree.body if isinstance(n, ast.If) and "tamper" in ast.unparse(n.test)]
    assert len(fallback) == 1
    tree.body.remove(fallback[0])
    assert _imports_of(tree) <= stdlib | {"numpy"}
    assert _imports_of(fallback[0]) == {"cnnkit"}
    from cnnkit.grading.sandbox import boot, runner

    assert _imports(Path(boot.__file__)) - stdlib == {"contract", "cnnkit", "ipykernel"}
    third = _imports(Path(runner.__file__)) - stdlib
    assert third == {"contract", "cnnkit", "nbformat", "jupyter_client", "jupyter_core", "nbclient"}


def test_the_probe_refuses_a_spec_it_does_not_understand(tmp_path):
    """The kernel loads what it is told as a ProbeSpec: a misspelt, missing or mistyped field is an
    error before any case runs, not a silently different run."""
    good = ProbeSpec("record", 1, str(tmp_path), [CaseSpec("t", "def t(f): pass", ["f"])], "", 5)
    data = good.to_dict()
    assert ProbeSpec.from_json(good.to_json()) == good
    bad = [
        {**data, "case_timeout": 5},  # unknown
        {k: v for k, v in data.items() if k != "mode"},  # missing
        {**data, "mode": "grade"},
        {**data, "case_seconds": "5"},
        {**data, "seed": True},
        {**data, "pristine": {"builtins:len": 3}},
        {**data, "tests": [{**data["tests"][0], "params": "f"}]},
        {**data, "tests": [{**data["tests"][0], "depend": []}]},
        {**data, "tests": ["t"]},
    ]
    for d in bad:
        with pytest.raises(ValueError, match="ProbeSpec|CaseSpec"):
            ProbeSpec.from_dict(d)
