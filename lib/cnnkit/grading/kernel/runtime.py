"""The probe: runs a stage's test functions and writes what `cnnkit.checks` recorded as plain data.

This module runs inside the student's kernel (and in the artifact checks' sandboxed process). It is
stdlib + numpy only and imports nothing of cnnkit: the grader ships it by its file text (see
`kernel.probe_cell`), executed in a namespace of its own, so a notebook that shadows `cnnkit` or one
of its modules changes nothing here.

`run_probe(nb_globals, spec)` calls every test function of `spec` (a `contract.ProbeSpec` as a dict)
with the notebook's globals ("record" mode in a student's kernel, "reference" mode for the solution)
and writes `records.json` plus one `.npy` per array (allow_pickle=False) into `spec["out"]`. The test
functions come from the autograder's test files (not from the notebook), and `cnnkit.checks` is
re-created from the grader's copy of its source right before each case, so a notebook that redefines
tests or monkeypatches `checks` changes nothing. Artifact cases (no parameters) run outside the
kernel, in a sandbox of their own (`run_checks`, started by `sandbox.execute_checks`), with cwd = a
folder holding only the stage's artifact files. No verdict is decided here and no expected value of a
student's case is here: the grader judges the records (judge.py) against the reference run's.

Tamper check. A student function called by a case runs in the same process as the recording code and
could patch it at call time: rebind `cnnkit.checks.true` (booleans have a guessable reference value,
True), swap a function's `__code__`, replace or edit `checks._state["records"]`, or rebind a builtin or
a numpy/json/torch function the recording path and the tests' comparisons use. The probe notes all of
these by identity before each case (modules once, when first seen) and compares after it; a case
during which any of them changed gets the error "the grading helpers were modified while the case ran"
and no records (0 points). Nothing is restored: a patch that outlives its case (a builtin, numpy,
torch) fails every later case too. This catches the known ways, not every way: code in the kernel can
in principle rewrite anything in the kernel (the probe's own state, or `records.json` once written).
Records compared with the reference run's values (arrays, losses, gradients) cannot be forged that way;
guessable ones (`checks.true`, shapes, small counts) are where this check matters.

Numpy only. In a numpy-only stage (spec["numpy_only"], from `Stage.numpy_only`) each case runs under
a `numpy_only.Guard` (shipped by its text before this module, see `kernel.probe_cell`): a case whose
student code called torch or scipy's convolutions gets "forbidden": "<what it called>" in its entry,
and the grader's judge gives it 0 points with the reason; nothing else changes.

Replaced before grading. Patches made before the probe starts are the tamper check's baseline; instead
the watched functions are compared, as digests, with the reference kernel's (`environment.json`):
a notebook-level `torch.allclose = lambda *a, **k: True` voids the cases whose kernel-side source
uses it (`depends`), and a replaced recording path (`always`) voids every case (see watch.py).
"""

import builtins
import hashlib
import json
import os
import signal
import sys
import traceback
import types

import numpy

if "numpy_only" not in globals():  # imported as a module (tests, the artifact checks' boot): the
    # sibling file, by its path (in a kernel the probe cell puts its text here first, probe_cell)
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "cnnkit_kernel_numpy_only", os.path.join(os.path.dirname(__file__), "numpy_only.py")
    )
    numpy_only = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(numpy_only)

# Bound when this module runs (before any case): a case that rebinds a builtin cannot blind the check.
_type, _getattr, _len, _list, _dict, _zip = type, getattr, len, list, dict, zip
_isinstance, _frozenset, _all, _sorted, _open = isinstance, frozenset, all, sorted, open
_dump, _save_npy, _join = json.dump, numpy.save, os.path.join
_module_type, _function_type = types.ModuleType, types.FunctionType
_mapping_type, _builtin_type, _code_type = (
    types.MappingProxyType,
    types.BuiltinFunctionType,
    types.CodeType,
)

# builtins, the recording path (numpy), this probe's writer (json) and, of torch, what the tests'
# comparisons and conversions use (torch rebinds some of its own names on lazy imports:
# `import torch._dynamo` wraps torch.manual_seed)
TORCH_NAMES = ("Tensor", "all", "allclose", "any", "as_tensor", "equal", "eq", "from_numpy")
TORCH_NAMES += ("is_tensor", "isclose", "ne", "no_grad", "tensor")
WATCHED = {"builtins": None, "numpy": None, "numpy.lib.format": None, "json": None}
WATCHED.update({"json.encoder": None, "torch": TORCH_NAMES})
_DISPATCHERS = ("_ArrayFunctionDispatcher", "ufunc", "method_descriptor", "wrapper_descriptor")
MAX_ERROR_CHARS = 2000


class Records(list):
    """A case's record list that keeps a copy of each record appended, so edits show."""

    def __init__(self):
        super().__init__()
        self.copies = []

    def append(self, rec):
        self.copies.append(_dict(rec))
        list.append(self, rec)


class ReplacedBeforeGrading(Exception):
    """The notebook replaced, before the probe started, a function this case relies on."""


# ------------------------------------------------------------------------------ tamper check --


def _note(where, attrs, into, cls=None, only=None):
    """Note a namespace's values by identity (a Python function's code and defaults too)."""
    if cls is not None:  # a class: so is overriding what it inherits (`Tensor.__bool__ = ..`);
        # adding a name of its own is not (pickle caches `Tensor.__slotnames__`)
        inherited = {k for base in cls.__mro__[1:] for k in base.__dict__}
        into[(where, "<inherited>")] = _frozenset(inherited - attrs.keys())
    for k, v in _list(attrs.items()):
        if only is not None and k not in only:
            continue
        if where == "builtins" and not _isinstance(v, (_type, _builtin_type)):
            continue  # IPython keeps objects of its own there (display, exit)
        into[(where, k)] = v
        if _type(v).__name__ == "_ArrayFunctionDispatcher":  # np.allclose: the code is here
            k, v = k + "._implementation", _getattr(v, "_implementation", None)
            into[(where, k)] = v
        if _type(v) is _function_type:
            into[(where, k + ".__code__")] = v.__code__
            into[(where, k + ".__defaults__")] = v.__defaults__
            into[(where, k + ".__kwdefaults__")] = v.__kwdefaults__


def environment():
    """The watched modules (those loaded now) and torch.Tensor's attributes."""
    now = {}
    for name, only in WATCHED.items():
        mod = sys.modules.get(name)
        if mod is not None:  # a module loaded later joins the baseline then
            now[("sys.modules", name)] = mod
            if _type(mod) is _module_type:
                _note(name, mod.__dict__, now, only=only)
    tensor = now.get(("torch", "Tensor"))
    if _isinstance(tensor, _type) and _type(tensor.__dict__) is _mapping_type:
        _note("torch.Tensor", tensor.__dict__, now, cls=tensor)
    return now


def _case_state(checks):
    """What one case's recording relies on: the checks module, its functions and state."""
    now = {("sys.modules", "cnnkit.checks"): sys.modules.get("cnnkit.checks")}
    pkg = sys.modules.get("cnnkit")
    if _type(pkg) is _module_type:
        now[("cnnkit", "checks")] = pkg.__dict__.get("checks", checks)
    _note("checks", checks.__dict__, now)
    st = checks.__dict__.get("_state")
    if _type(st) is _dict:
        for k in ("records", "mode", "seed", "test"):
            now[("checks._state", k)] = st.get(k)
        if _type(st.get("records")) is Records:
            now[("checks._state", "records.copies")] = st["records"].__dict__.get("copies")
    _note("Records", Records.__dict__, now, cls=Records)
    return now


def _modified(before, now):
    """Names of what differs from `before`."""
    bad = []
    for key, old in before.items():
        new = now.get(key, _modified)
        if new is not old and not (
            _type(old) is _frozenset and _type(new) is _frozenset and new == old
        ):
            where, what = key
            if where in ("sys.modules", "checks._state"):
                bad.append(f"{where}[{what!r}]")
            else:
                over = what == "<inherited>"
                bad.append(f"{where} (overridden attributes)" if over else f"{where}.{what}")
    return bad


def _records_edited(recs):
    """True unless recs is the case's own record list with the records as they were appended."""
    if _type(recs) is not Records:
        return True
    copies = recs.__dict__.get("copies")
    return not (
        _type(copies) is _list
        and _len(recs) == _len(copies)
        and _all(
            _type(a) is _dict and _sorted(a) == _sorted(b) and _all(a[k] is b[k] for k in b)
            for a, b in _zip(_list(recs), copies)
        )
    )


def describe(v):
    """What a watched value is, as text both kernels can compare (the objects differ)."""
    try:
        t = _type(v)
        if t is _module_type:
            return "module " + v.__name__
        if t is _frozenset:
            return "names " + " ".join(_sorted(v))
        if t is _function_type:
            c = v.__code__
            return f"function {v.__module__}.{v.__qualname__} {c.co_filename}:{c.co_firstlineno}"
        if t is _code_type:
            return f"code {v.co_name} {v.co_filename}:{v.co_firstlineno}"
        if _isinstance(v, _type) or t is _builtin_type or t.__name__ in _DISPATCHERS:
            name = _getattr(v, "__qualname__", None) or _getattr(v, "__name__", "?")
            return f"{t.__name__} {_getattr(v, '__module__', None)}.{name}"
        return "object " + t.__qualname__
    except Exception:  # noqa: BLE001 - a value that cannot describe itself is not watched
        return "?"


def digests():
    """The watched values now, as short digests: {"<module>:<name>": digest}.

    Digests keep the probe cell small: a kernel whose threads ran out (a fork bomb) cannot send a
    large message.
    """
    return {
        f"{w}:{k}": hashlib.sha1(describe(v).encode()).hexdigest()[:10]
        for (w, k), v in environment().items()
    }


def replaced_before(start, pristine):
    """The watched names the notebook replaced before the probe: digests that differ from the
    reference kernel's. A builtin replaced by a Python function drops out of `start` (_note keeps
    builtin types only); elsewhere a missing name is one the notebook did not load yet."""
    return {
        k
        for k in pristine
        if (k in start and start[k] != pristine[k])
        or (k.startswith("builtins:") and k not in start)
    }


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
    hit = _sorted(k for k in [*spec.get("always", []), *test.get("depends", [])] if k in replaced)
    if hit:
        names = ", ".join(k.replace(":", ".", 1) for k in hit[:3])
        raise ReplacedBeforeGrading(
            f"your notebook replaced {names} before grading; this case relies on it"
        )
    g = dict(nb_globals)
    g.update(__builtins__=builtins, np=numpy, numpy=numpy, __name__="__cnnkit_tests__")
    exec(compile(test["source"], f"<test {test['name']}>", "exec"), g)
    fn = g[test["name"]]
    missing = [p for p in test["params"] if p not in nb_globals]
    if missing:
        raise NameError(f"{', '.join(missing)} is not defined in your notebook")
    args = {p: nb_globals[p] for p in test["params"]}
    # a test's own seed: None for public cases (the inputs `grader.check` draws)
    checks._begin(test["name"], spec["mode"], test.get("seed", spec["seed"]))
    checks._state["records"] = Records()
    before = _case_state(checks)
    for key, value in environment().items():
        baseline.setdefault(key, value)

    def on_alarm(signum, frame):
        raise TimeoutError(f"the case ran past {spec['case_seconds']} s")

    # a numpy-only stage: what the student's code calls of torch/scipy is noted (numpy_only.py)
    guard = numpy_only.Guard() if spec.get("numpy_only") else None
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(spec["case_seconds"]))
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
        if _type(recs) is Records:
            seen["recorded"] = [_dict(r) for r in _list(recs) if _type(r) is _dict]
        tampered = _modified(before, _case_state(checks)) + _modified(baseline, environment())
        if _records_edited(recs):
            tampered.append("checks._state['records']")
        seen["tampered"] = tampered


def run_probe(nb_globals, spec):
    """Run the cases in `spec` and write their records (executed inside the kernel).

    Inputs:
    - nb_globals: dict of the notebook's globals (parameters are looked up here by name).
    - spec: a `contract.ProbeSpec` as a dict: mode, seed, out (directory), tests (list of {name,
      source, params, seed, depends}), checks_source (text of cnnkit/checks.py), case_seconds
      (seconds), always and pristine (the watched names and the reference kernel's digests),
      numpy_only (a numpy-only stage: each case runs under a numpy_only.Guard).

    Returns:
    - None; writes out/records.json: {case: {"error": str | None, "records": [...]}, plus
      "forbidden": "torch.conv2d" for a case whose student code called torch/scipy} and, in
      "reference" mode, out/environment.json (the digests of the watched names).
    """
    out = spec["out"]
    os.makedirs(out, exist_ok=True)
    checks = types.ModuleType("cnnkit.checks")
    results = {}
    # Before the first case: what the notebook left in the watched modules. The reference kernel
    # writes them all; a student's kernel gets from the grader the digests of what its cases
    # depend on ("pristine") and each case's list of them ("depends").
    start = digests()
    if spec["mode"] == "reference":
        with _open(_join(out, "environment.json"), "w") as f:
            _dump(start, f)
    replaced = replaced_before(start, spec.get("pristine") or {})
    baseline = {}
    for i, test in enumerate(spec["tests"]):
        _fresh_checks(checks, spec["checks_source"])
        entry = {"error": None, "records": []}
        seen = {"recorded": [], "tampered": [], "forbidden": None}
        try:
            _run_case(test, nb_globals, spec, checks, replaced, baseline, seen)
        except BaseException as err:  # noqa: BLE001 - a student's SystemExit is a failed case too
            text = f"{type(err).__name__}: {err}"
            if spec["mode"] == "reference":
                text += "\n" + "".join(traceback.format_exception(err)[-3:])
            entry["error"] = text[:MAX_ERROR_CHARS]
        recorded, tampered = seen["recorded"], seen["tampered"]
        if tampered:  # nothing restored: the records are dropped and so are every later case's
            more = f" and {_len(tampered) - 3} more" if _len(tampered) > 3 else ""
            entry["error"] = (
                "the grading helpers were modified while the case ran "
                f"({', '.join(tampered[:3])}{more})"
            )[:MAX_ERROR_CHARS]
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
        results[test["name"]] = entry
        _save(results, out)
    _save(results, out)


def run_checks(spec):
    """Artifact cases: the process entry of the sandbox's "probe" boot (`sandbox.execute_checks`).

    Runs as the sandbox's unprivileged uid under `python -I`, cwd = a folder holding only the
    stage's artifact files (loaded with allow_pickle=False / weights_only=True by the cases).

    Inputs:
    - spec: as in run_probe (mode "check"), with memory_bytes (RLIMIT_AS).

    Returns:
    - 0; the records are in spec["out"].
    """
    import resource

    limit = spec.get("memory_bytes")
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    run_probe({}, spec)
    return 0
