"""The tamper check: what a student function may not change while a case runs, and what a notebook
may not have replaced before grading.

Runs inside the student's kernel with the probe (runtime.py), shipped the same way: by its file text,
executed in a module of its own (see `kernel.probe_cell`); stdlib only, and it imports nothing of
cnnkit.

While a case runs. A student function called by a case runs in the same process as the recording code
and could patch it at call time: rebind `cnnkit.checks.true` (booleans have a guessable reference
value, True), swap a function's `__code__`, replace or edit `checks._state["records"]`, or rebind a
builtin or a numpy/json/torch function the recording path and the tests' comparisons use. `before_case`
notes all of these by identity (modules once, when first seen) and `after_case` compares; a case
during which any of them changed gets the error `message(...)` and no records (0 points). Nothing is
restored: a patch that outlives its case (a builtin, numpy, torch) fails every later case too. This
catches the known ways, not every way: code in the kernel can in principle rewrite anything in the
kernel (the probe's own state, or `records.json` once written). Records compared with the reference
run's values (arrays, losses, gradients) cannot be forged that way; guessable ones (`checks.true`,
shapes, small counts) are where this check matters.

Before grading. Patches made before the probe starts are the baseline of the check above; instead the
watched functions are compared, as digests (`digests`), with the reference kernel's
(`environment.json`): a notebook-level `torch.allclose = lambda *a, **k: True` voids the cases whose
kernel-side source uses it (`depends`), and a replaced recording path (`always`) voids every case
(`replaced_before`, `refuse_replaced`; the grader's side is watch.py).
"""

import hashlib
import sys
import types

# Bound when this module runs (before any case): a case that rebinds a builtin cannot blind the check.
_type, _getattr, _len, _list, _dict, _zip = type, getattr, len, list, dict, zip
_isinstance, _frozenset, _all, _sorted = isinstance, frozenset, all, sorted
_module_type, _function_type = types.ModuleType, types.FunctionType
_mapping_type, _builtin_type, _code_type = (
    types.MappingProxyType,
    types.BuiltinFunctionType,
    types.CodeType,
)

# builtins, the recording path (numpy), the probe's writer (json) and, of torch, what the tests'
# comparisons and conversions use (torch rebinds some of its own names on lazy imports:
# `import torch._dynamo` wraps torch.manual_seed)
TORCH_NAMES = ("Tensor", "all", "allclose", "any", "as_tensor", "equal", "eq", "from_numpy")
TORCH_NAMES += ("is_tensor", "isclose", "ne", "no_grad", "tensor")
WATCHED = {"builtins": None, "numpy": None, "numpy.lib.format": None, "json": None}
WATCHED.update({"json.encoder": None, "torch": TORCH_NAMES})
_DISPATCHERS = ("_ArrayFunctionDispatcher", "ufunc", "method_descriptor", "wrapper_descriptor")


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


def refuse_replaced(names, replaced):
    """Raise ReplacedBeforeGrading when the notebook replaced one of `names` (watched names a case
    relies on) before the probe started (`replaced`: from `replaced_before`)."""
    hit = _sorted(k for k in names if k in replaced)
    if hit:
        shown = ", ".join(k.replace(":", ".", 1) for k in hit[:3])
        raise ReplacedBeforeGrading(
            f"your notebook replaced {shown} before grading; this case relies on it"
        )


def before_case(checks, baseline):
    """Note, right before a case's student code runs, what its recording relies on.

    Inputs:
    - checks: the probe's `cnnkit.checks` module, the case's Records already installed.
    - baseline: the watched modules' values, kept across cases (a module loaded since joins it).

    Returns:
    - the case's own state, for `after_case`.
    """
    for key, value in environment().items():
        baseline.setdefault(key, value)
    return _case_state(checks)


def after_case(checks, before, baseline, recs):
    """What was modified while the case ran (empty: nothing): names for `message`.

    Inputs:
    - checks, baseline: as for `before_case`; before: what it returned.
    - recs: `checks._state["records"]` as the case left it (read by the caller first, so that
      whatever runs in between is seen).
    """
    tampered = _modified(before, _case_state(checks)) + _modified(baseline, environment())
    if _records_edited(recs):
        tampered.append("checks._state['records']")
    return tampered


def message(tampered):
    """The error of a case during which `tampered` (from `after_case`, not empty) were modified."""
    more = f" and {_len(tampered) - 3} more" if _len(tampered) > 3 else ""
    shown = ", ".join(tampered[:3])
    return f"the grading helpers were modified while the case ran ({shown}{more})"
