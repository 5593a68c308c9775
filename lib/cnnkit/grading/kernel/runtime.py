"""The probe: runs a stage's test functions and writes what `cnnkit.checks` recorded as plain data.

This module runs inside the student's kernel (and in the artifact checks' sandboxed process). In the
kernel it imports nothing of cnnkit: the probe cell (`kernel.probe_cell`) carries its file text, and
those of `tamper.py` and `contract.py`, and runs each in a module of its own (`kernel/load.py`), so a
notebook that shadows `cnnkit` or one of its modules changes nothing here. Imported as a module (the
artifact checks' boot, tests) it imports those two from the library.

`run_probe(nb_globals, spec)` loads `spec` as a `contract.ProbeSpec` (validated), calls every test
function of it with the notebook's globals ("record" mode in a student's kernel, "reference" mode for
the solution) and writes `records.json` plus one `.npy` per array (allow_pickle=False) into
`spec.out`. The test functions come from the autograder's test files (not from the notebook), and
`cnnkit.checks` is re-created from the grader's copy of its source right before each case, so a
notebook that redefines tests or monkeypatches `checks` changes nothing; what a case may not change
while it runs, and what a notebook may not have replaced before, is the tamper check's (`tamper.py`).
Artifact cases (no parameters) run outside the kernel, in a sandbox of their own (`run_checks`,
started by `sandbox.execute_checks`), with cwd = a folder holding only the stage's artifact files. No
verdict is decided here and no expected value of a student's case is here: the grader judges the
records (judge.py) against the reference run's.

Numpy only. In a numpy-only stage (`spec.numpy_only`, from `Stage.numpy_only`) each case runs under a
`numpy_only.Guard` (shipped by its text like this module): a case whose student code called torch or
scipy's convolutions gets "forbidden": "<what it called>" in its entry, and the grader's judge gives
it 0 points with the reason; nothing else changes. What the tests import of the watched packages is
imported before the first case and before the tamper baseline (`numpy_only.preimport`): under the
guard's profiler an import costs seconds.
"""

import builtins
import json
import os
import signal
import sys
import traceback
import types

import numpy

if "tamper" not in globals():  # imported as a module; in a kernel the probe cell passes them in
    from cnnkit import numpy_only
    from cnnkit.grading import contract
    from cnnkit.grading.kernel import tamper

# Bound when this module runs (before any case): a case that rebinds a builtin cannot blind the probe.
_type, _list, _dict, _isinstance, _open = type, list, dict, isinstance, open
_dump, _save_npy, _join = json.dump, numpy.save, os.path.join
MAX_ERROR_CHARS = 2000


# ------------------------------------------------------------------------------------ running --


def _plain(value, stem, out):
    """A record's value as JSON: an array goes to its own .npy file (no pickles)."""
    if _isinstance(value, numpy.ndarray):
        fname = stem + ".npy"
        _save_npy(_join(out, fname), value, allow_pickle=False)
        return {"npy": fname}
    return {"value": value}


def _save(results, out):
    with _open(_join(out, "records.json"), "w") as f:
        _dump(results, f)


def _fresh_checks(checks, source):
    """Re-create `cnnkit.checks` from the grader's copy of its source, where the tests find it."""
    exec(compile(source, "cnnkit/checks.py", "exec"), checks.__dict__)
    sys.modules["cnnkit.checks"] = checks
    if "cnnkit" in sys.modules:
        sys.modules["cnnkit"].checks = checks


def _run_case(test, nb_globals, spec, checks, replaced, baseline, seen):
    """Run one case under its alarm, raising the case's own error.

    `seen` gets "recorded" (copies of the records) and "tampered" (what was modified) even when the
    case raises: a case that patches the helpers and then fails is reported as tampering."""
    tamper.refuse_replaced([*spec.always, *test.depends], replaced)
    g = dict(nb_globals)
    g.update(__builtins__=builtins, np=numpy, numpy=numpy, __name__="__cnnkit_tests__")
    exec(compile(test.source, f"<test {test.name}>", "exec"), g)
    fn = g[test.name]
    missing = [p for p in test.params if p not in nb_globals]
    if missing:
        raise NameError(f"{', '.join(missing)} is not defined in your notebook")
    args = {p: nb_globals[p] for p in test.params}
    # a test's own seed: None for public cases (the inputs `grader.check` draws)
    checks._begin(test.name, spec.mode, test.seed)
    checks._state["records"] = tamper.Records()
    before = tamper.before_case(checks, baseline)

    def on_alarm(signum, frame):
        raise TimeoutError(f"the case ran past {spec.case_seconds} s")

    # a numpy-only stage: what the student's code calls of torch/scipy is noted (numpy_only.py)
    guard = numpy_only.Guard() if spec.numpy_only else None
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(spec.case_seconds))
    try:
        if guard is not None:
            guard.start()
        fn(**args)
    finally:
        if guard is not None:
            seen["forbidden"] = guard.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        # copy the records first, then compare: whatever runs in between is seen
        st = checks.__dict__.get("_state")
        recs = st.get("records") if _type(st) is _dict else None
        if _type(recs) is tamper.Records:
            seen["recorded"] = [_dict(r) for r in _list(recs) if _type(r) is _dict]
        seen["tampered"] = tamper.after_case(checks, before, baseline, recs)


def run_probe(nb_globals, spec):
    """Run the cases in `spec` and write their records (executed inside the kernel).

    Inputs:
    - nb_globals: dict of the notebook's globals (parameters are looked up here by name).
    - spec: a `contract.ProbeSpec`, or its dict (loaded with `ProbeSpec.from_dict`, which refuses an
      unknown field, a missing one or a value of the wrong type).

    Returns:
    - None; writes out/records.json: {case: {"error": str | None, "records": [...]}, plus "forbidden"
      for a case of a numpy-only stage whose student code called torch/scipy} and, in
      "reference" mode, out/environment.json (the digests of the watched names).
    """
    if not _isinstance(spec, contract.ProbeSpec):
        spec = contract.ProbeSpec.from_dict(spec)
    out = spec.out
    os.makedirs(out, exist_ok=True)
    checks = types.ModuleType("cnnkit.checks")
    results = {}
    if spec.numpy_only:  # imported under the guard they would cost seconds (numpy_only.preimport)
        numpy_only.preimport([t.source for t in spec.tests], eager_only=spec.mode == "record")
    # Before the first case: what the notebook left in the watched modules. The reference kernel
    # writes them all; a student's kernel gets from the grader the digests of what its cases
    # depend on ("pristine") and each case's list of them ("depends").
    start = tamper.digests()
    if spec.mode == "reference":
        with _open(_join(out, "environment.json"), "w") as f:
            _dump(start, f)
    replaced = tamper.replaced_before(start, spec.pristine)
    baseline = {}
    for i, test in enumerate(spec.tests):
        _fresh_checks(checks, spec.checks_source)
        entry = {"error": None, "records": []}
        seen = {"recorded": [], "tampered": [], "forbidden": None}
        try:
            _run_case(test, nb_globals, spec, checks, replaced, baseline, seen)
        except BaseException as err:  # noqa: BLE001 - a student's SystemExit is a failed case too
            text = f"{type(err).__name__}: {err}"
            if spec.mode == "reference":
                text += "\n" + "".join(traceback.format_exception(err)[-3:])
            entry["error"] = text[:MAX_ERROR_CHARS]
        recorded, tampered = seen["recorded"], seen["tampered"]
        if tampered:  # nothing restored: the records are dropped and so are every later case's
            entry["error"] = tamper.message(tampered)[:MAX_ERROR_CHARS]
            recorded = []
        try:
            for j, rec in enumerate(recorded):
                entry["records"].append(
                    {
                        "name": rec["name"],
                        "kind": rec["kind"],
                        "rtol": float(rec["rtol"]),
                        "atol": float(rec["atol"]),
                        "msg": rec.get("msg"),
                        "tuple": rec.get("tuple") is True,
                        **_plain(rec["value"], f"{i}_{j}", out),
                    }
                )
        except BaseException as err:  # noqa: BLE001
            entry["error"] = entry["error"] or f"{type(err).__name__}: {err}"[:MAX_ERROR_CHARS]
        if seen["forbidden"]:  # judged outside: the case earns nothing (judge.py)
            entry["forbidden"] = str(seen["forbidden"])[:200]
        if not tampered:
            checks._end()
        results[test.name] = entry
        _save(results, out)
    _save(results, out)


def run_checks(spec):
    """Artifact cases: the process entry of the sandbox's "probe" boot (`sandbox.execute_checks`).

    Runs as the sandbox's unprivileged uid under `python -I`, cwd = a folder holding only the
    stage's artifact files (loaded with allow_pickle=False / weights_only=True by the cases).

    Inputs:
    - spec: a ProbeSpec's dict (mode "check"), with memory_bytes (RLIMIT_AS).

    Returns:
    - 0; the records are in spec.out.
    """
    import resource

    spec = contract.ProbeSpec.from_dict(spec)
    limit = spec.memory_bytes
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    run_probe({}, spec)
    return 0
