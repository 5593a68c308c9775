"""The probe: runs a stage's test functions and writes what `cnnkit.checks` recorded as plain data.

`probe_cell(spec)` is the code of the final cell appended to a notebook under `cnnkit grade`: it calls
every test function that takes parameters with the notebook's globals ("record" mode in a student's
kernel, "reference" mode for the solution) and writes `records.json` plus one `.npy` per array
(allow_pickle=False) into `spec["out"]`. The test functions are compiled from the autograder's test
files (not from the notebook), and `cnnkit.checks` is re-created from the grader's copy of its source
right before each case, so a notebook that redefines tests or monkeypatches `checks` changes nothing.
Artifact cases (no parameters) run outside the kernel, in a sandbox of their own (`run_checks`, started
by `sandbox.execute_checks`), with cwd = a folder holding only the stage's artifact files.

Tamper check. A student function called by a case runs in the same process as the recording code and
could patch it at call time: rebind `cnnkit.checks.true` (booleans have a guessable reference value,
True), swap a function's `__code__`, replace or edit `checks._state["records"]`, or rebind a builtin or
a numpy/json/torch function the recording path and the tests' comparisons use. `run_probe` notes all of
these by identity before each case (modules once, when first seen) and compares after it; a case
during which any of them changed gets the error "the grading helpers were modified while the case ran"
and no records (0 points). Nothing is restored: a patch that outlives its case (a builtin, numpy,
torch) fails every later case too. This catches the known ways, not every way: code in the kernel can
in principle rewrite anything in the kernel (the probe's own state, or `records.json` once written).
Records compared with the reference run's values (arrays, losses, gradients) cannot be forged that way;
guessable ones (`checks.true`, shapes, small counts) are where this check matters.

Replaced before grading. Patches made before the probe starts are the tamper check's baseline; instead
the watched functions are compared, as digests, with the reference kernel's (`environment.json`):
a notebook-level `torch.allclose = lambda *a, **k: True` voids the cases whose kernel-side source
uses it (`depends_on`), and a replaced recording path (`recording_path`) voids every case.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import os
import re
import stat
from pathlib import Path


def run_probe(nb_globals, spec):  # noqa: C901 - one self-contained function: its source is the cell
    """Run the cases in `spec` and write their records (executed inside the kernel; stdlib + numpy).

    Inputs:
    - nb_globals: dict of the notebook's globals (parameters are looked up here by name).
    - spec: dict with mode, seed, out (directory), tests (list of {name, source, params, seed: the
      case's own seed when given, None for the fixed per-name inputs of "check" mode}),
      checks_source (text of cnnkit/checks.py), case_timeout (seconds).

    Returns:
    - None; writes out/records.json: {case: {"error": str | None, "records": [...]}}.
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

    out = spec["out"]
    os.makedirs(out, exist_ok=True)
    checks = types.ModuleType("cnnkit.checks")
    results = {}

    # --- tamper check (module docstring). Bound now: a case that rebinds a builtin cannot blind it.
    _type, _getattr, _len, _list, _dict, _zip = type, getattr, len, list, dict, zip
    _isinstance, _frozenset, _all, _sorted, _open = isinstance, frozenset, all, sorted, open
    dump, save_npy, join = json.dump, numpy.save, os.path.join
    module_type, function_type = types.ModuleType, types.FunctionType
    mapping_type, builtin_type = types.MappingProxyType, types.BuiltinFunctionType
    # builtins, the recording path (numpy), this probe's writer (json) and, of torch, what the tests'
    # comparisons and conversions use (torch rebinds some of its own names on lazy imports:
    # `import torch._dynamo` wraps torch.manual_seed)
    torch_names = ("Tensor", "all", "allclose", "any", "as_tensor", "equal", "eq", "from_numpy")
    torch_names += ("is_tensor", "isclose", "ne", "no_grad", "tensor")
    watched = {"builtins": None, "numpy": None, "numpy.lib.format": None, "json": None}
    watched.update({"json.encoder": None, "torch": torch_names})

    class Records(list):
        """A case's record list that keeps a copy of each record appended, so edits show."""

        def __init__(self):
            super().__init__()
            self.copies = []

        def append(self, rec):
            self.copies.append(_dict(rec))
            list.append(self, rec)

    def note(where, attrs, into, cls=None, only=None):
        """Note a namespace's values by identity (a Python function's code and defaults too)."""
        if cls is not None:  # a class: so is overriding what it inherits (`Tensor.__bool__ = ..`);
            # adding a name of its own is not (pickle caches `Tensor.__slotnames__`)
            inherited = {k for base in cls.__mro__[1:] for k in base.__dict__}
            into[(where, "<inherited>")] = _frozenset(inherited - attrs.keys())
        for k, v in _list(attrs.items()):
            if only is not None and k not in only:
                continue
            if where == "builtins" and not _isinstance(v, (_type, builtin_type)):
                continue  # IPython keeps objects of its own there (display, exit)
            into[(where, k)] = v
            if _type(v).__name__ == "_ArrayFunctionDispatcher":  # np.allclose: the code is here
                k, v = k + "._implementation", _getattr(v, "_implementation", None)
                into[(where, k)] = v
            if _type(v) is function_type:
                into[(where, k + ".__code__")] = v.__code__
                into[(where, k + ".__defaults__")] = v.__defaults__
                into[(where, k + ".__kwdefaults__")] = v.__kwdefaults__

    def environment():
        """The watched modules (those loaded now) and torch.Tensor's attributes."""
        now = {}
        for name, only in watched.items():
            mod = sys.modules.get(name)
            if mod is not None:  # a module loaded later joins the baseline then
                now[("sys.modules", name)] = mod
                if _type(mod) is module_type:
                    note(name, mod.__dict__, now, only=only)
        tensor = now.get(("torch", "Tensor"))
        if _isinstance(tensor, _type) and _type(tensor.__dict__) is mapping_type:
            note("torch.Tensor", tensor.__dict__, now, cls=tensor)
        return now

    def case_state():
        """What one case's recording relies on: the checks module, its functions and state."""
        now = {("sys.modules", "cnnkit.checks"): sys.modules.get("cnnkit.checks")}
        pkg = sys.modules.get("cnnkit")
        if _type(pkg) is module_type:
            now[("cnnkit", "checks")] = pkg.__dict__.get("checks", checks)
        note("checks", checks.__dict__, now)
        st = checks.__dict__.get("_state")
        if _type(st) is _dict:
            for k in ("records", "mode", "seed", "test"):
                now[("checks._state", k)] = st.get(k)
            if _type(st.get("records")) is Records:
                now[("checks._state", "records.copies")] = st["records"].__dict__.get("copies")
        note("Records", Records.__dict__, now, cls=Records)
        return now

    def modified(before, now):
        """Names of what differs from `before`."""
        bad = []
        for key, old in before.items():
            new = now.get(key, modified)
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

    def records_edited(recs):
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
            if t is module_type:
                return "module " + v.__name__
            if t is _frozenset:
                return "names " + " ".join(_sorted(v))
            if t is function_type:
                c = v.__code__
                return (
                    f"function {v.__module__}.{v.__qualname__} {c.co_filename}:{c.co_firstlineno}"
                )
            if t is types.CodeType:
                return f"code {v.co_name} {v.co_filename}:{v.co_firstlineno}"
            if _isinstance(v, _type) or t is builtin_type or t.__name__ in dispatchers:
                name = _getattr(v, "__qualname__", None) or _getattr(v, "__name__", "?")
                return f"{t.__name__} {_getattr(v, '__module__', None)}.{name}"
            return "object " + t.__qualname__
        except Exception:  # noqa: BLE001 - a value that cannot describe itself is not watched
            return "?"

    dispatchers = ("_ArrayFunctionDispatcher", "ufunc", "method_descriptor", "wrapper_descriptor")
    # Before the first case: what the notebook left in the watched modules, as short digests. The
    # reference kernel writes them all; a student's kernel gets from the grader the digests of what
    # its cases depend on ("pristine", see grade._spec) and each case's list of them ("depends"):
    # a function the notebook replaced (`torch.allclose = lambda *a, **k: True`) voids the cases that
    # use it. Digests keep the cell small: a kernel whose threads ran out (a fork bomb) cannot send a
    # large message.
    start = {
        f"{w}:{k}": hashlib.sha1(describe(v).encode()).hexdigest()[:10]
        for (w, k), v in environment().items()
    }
    if spec["mode"] == "reference":
        with _open(join(out, "environment.json"), "w") as f:
            dump(start, f)
    pristine = spec.get("pristine") or {}
    # a builtin replaced by a Python function drops out of `start` (note() keeps builtin types only);
    # elsewhere a missing name is one the notebook did not load yet
    replaced = {
        k
        for k in pristine
        if (k in start and start[k] != pristine[k])
        or (k.startswith("builtins:") and k not in start)
    }

    always = spec.get("always", [])  # what every case relies on (the recording path)

    class ReplacedBeforeGrading(Exception):
        pass

    baseline = {}

    def on_alarm(signum, frame):
        raise TimeoutError(f"the case ran past {spec['case_timeout']} s")

    def plain(value, stem):
        if _isinstance(value, numpy.ndarray):
            fname = stem + ".npy"
            save_npy(join(out, fname), value, allow_pickle=False)
            return {"npy": fname}
        return {"value": value}

    def save():
        with _open(join(out, "records.json"), "w") as f:
            dump(results, f)

    for i, test in enumerate(spec["tests"]):
        exec(compile(spec["checks_source"], "cnnkit/checks.py", "exec"), checks.__dict__)
        sys.modules["cnnkit.checks"] = checks
        if "cnnkit" in sys.modules:
            sys.modules["cnnkit"].checks = checks
        entry = {"error": None, "records": []}
        recorded, tampered = [], []
        try:
            hit = _sorted(k for k in [*always, *test.get("depends", [])] if k in replaced)
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
            before = case_state()
            for key, value in environment().items():
                baseline.setdefault(key, value)
            old = signal.signal(signal.SIGALRM, on_alarm)
            signal.alarm(int(spec["case_timeout"]))
            try:
                fn(**args)
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, old)
                # copy the records first, then compare: whatever runs in between is seen
                st = checks.__dict__.get("_state")
                recs = st.get("records") if _type(st) is _dict else None
                if _type(recs) is Records:
                    recorded = [_dict(r) for r in _list(recs) if _type(r) is _dict]
                tampered = modified(before, case_state()) + modified(baseline, environment())
                if records_edited(recs):
                    tampered.append("checks._state['records']")
        except BaseException as err:  # noqa: BLE001 - a student's SystemExit is a failed case too
            text = f"{type(err).__name__}: {err}"
            if spec["mode"] == "reference":
                text += "\n" + "".join(traceback.format_exception(err)[-3:])
            entry["error"] = text[:2000]
        if tampered:  # nothing restored: the records are dropped and so are every later case's
            more = f" and {_len(tampered) - 3} more" if _len(tampered) > 3 else ""
            entry["error"] = (
                "the grading helpers were modified while the case ran "
                f"({', '.join(tampered[:3])}{more})"
            )[:2000]
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
                        **plain(rec["value"], f"{i}_{j}"),
                    }
                )
        except BaseException as err:  # noqa: BLE001
            entry["error"] = entry["error"] or f"{type(err).__name__}: {err}"[:2000]
        if not tampered:
            checks._end()
        results[test["name"]] = entry
        save()
    save()


# What the probe and `cnnkit.checks` themselves use to record and write: replaced before grading, it
# voids every case. Other numpy/torch/builtin names void the cases whose kernel-side source uses them.
_RECORDING_PATH = {
    "builtins": {
        "bool",
        "dict",
        "float",
        "getattr",
        "int",
        "isinstance",
        "len",
        "list",
        "open",
        "type",
    },
    "numpy": {"array", "asarray", "generic", "iscomplexobj", "ndarray", "save"},
    "numpy.lib.format": {"write_array", "dtype_to_descr", "header_data_from_array_1_0"},
    "json": {"dump", "dumps", "JSONEncoder"},
    "json.encoder": {"JSONEncoder", "c_make_encoder", "encode_basestring_ascii"},
    "sys.modules": {"builtins", "json", "json.encoder", "numpy", "numpy.lib.format"},
}


def _used_names(source: str) -> set[str]:
    """Names a test source uses: bare names and attributes (`torch.equal`), not `checks.*`."""
    attrs = {
        a for p, a in re.findall(r"([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)", source) if p != "checks"
    }
    return attrs | set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)", source))


def recording_path(environment: dict) -> list[str]:
    """The watched names (keys of the reference's environment.json) every case relies on."""
    return sorted(
        k
        for k in environment
        if k.split(":", 1)[1].split(".")[0] in _RECORDING_PATH.get(k.split(":")[0], ())
    )


def depends_on(source: str, environment: dict) -> list[str]:
    """The watched names (keys of the reference's environment.json) a kernel-side test relies on.

    Inputs:
    - source: the test's kernel-side source.
    - environment: {"<module>:<name>[.__code__ ...]": digest} written by the reference kernel.

    Returns:
    - keys: those whose name the source uses (the recording path's are in `recording_path`).
    """
    words = _used_names(source)
    torch_used = "torch" in words
    path = set(recording_path(environment))

    def relied_on(where: str, what: str) -> bool:
        if f"{where}:{what}" in path:
            return False
        name = what.split(".")[0]
        if where in ("builtins", "numpy", "torch"):
            return name in words
        # a Tensor method overridden (`Tensor.__eq__ = ..`), or torch itself swapped
        return torch_used and (where, what) in (
            ("torch.Tensor", "<inherited>"),
            ("sys.modules", "torch"),
        )

    keys = [k for k in environment if relied_on(*k.split(":", 1))]
    return sorted(keys)


def probe_cell(spec: dict) -> str:
    """The source of the probe cell for a kernel.

    Inputs:
    - spec: as in run_probe.

    Returns:
    - source: Python code that calls run_probe with the notebook's globals and this spec.
    """
    src = inspect.getsource(run_probe)
    return (
        f"{src}\n"
        f"run_probe(globals(), __import__('json').loads({json.dumps(json.dumps(spec))}))\n"
        "del run_probe\n"
    )


def read_kernel_file(path: Path, max_bytes: int) -> bytes:
    """Read a file the student's kernel wrote, as the grader (maybe root): never through a link.

    The kernel owns the directory, so it could leave a symlink or a hard link to a grader-side file
    (the reference run's records) in place of its own output.

    Inputs:
    - path: the file.
    - max_bytes: refuse larger files.

    Returns:
    - data: the file's bytes; raises OSError or ValueError for a link, a non-regular or a large file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise ValueError(f"{path.name} is not a plain file")
        if st.st_size > max_bytes:
            raise ValueError(f"{path.name} is too large")
        return f.read(max_bytes + 1)[:max_bytes]


def load_environment(out: Path) -> dict:
    """The digests of the watched functions a reference kernel wrote at probe start ({} if none).

    Inputs:
    - out: the probe's output directory (of a "reference" run).

    Returns:
    - pristine: {"module:name": digest}, what `Plan.pristine` holds.
    """
    try:
        env = json.loads(read_kernel_file(Path(out) / "environment.json", 64 * 1024**2))
    except (OSError, ValueError):
        return {}
    return env if isinstance(env, dict) else {}


MAX_RECORDS = 10_000  # per case; a real case records a handful


def load_records(out: Path, max_bytes: int = 256 * 1024**2, max_total: int = 1024**3) -> dict:
    """Read a probe's records back in the grader, refusing anything that is not plain data.

    Inputs:
    - out: the probe's output directory.
    - max_bytes: refuse .npy files larger than this.
    - max_total: refuse the rest once this many bytes of arrays were read in all (one file named by
      many records is read each time: the kernel must not make the grader read without bound).

    Returns:
    - results: {case: {"error": str | None, "records": [{name, kind, rtol, atol, value}]}}; a case
      whose records are malformed gets an error instead.
    """
    import numpy as np

    path = Path(out) / "records.json"
    if not path.exists():
        return {}
    try:
        raw = json.loads(read_kernel_file(path, max_bytes))
    except (OSError, ValueError) as err:
        return {"<records>": {"error": f"unreadable records ({err})", "records": []}}
    results = {}
    budget = max_total
    for case, entry in raw.items() if isinstance(raw, dict) else []:
        try:
            error = entry.get("error")
            recs = []
            if len(entry["records"]) > MAX_RECORDS:
                raise ValueError(f"more than {MAX_RECORDS} records")
            for rec in entry["records"]:
                value = rec.get("value")
                if "npy" in rec:
                    f = Path(out) / Path(str(rec["npy"])).name
                    data = read_kernel_file(f, min(max_bytes, budget))
                    budget -= len(data)
                    value = np.load(io.BytesIO(data), allow_pickle=False)
                elif value is not None and not isinstance(value, (bool, int, float, str)):
                    raise ValueError("recorded value is not plain data")
                recs.append(
                    {
                        "name": str(rec["name"]),
                        "kind": str(rec["kind"]),
                        "rtol": float(rec["rtol"]),
                        "atol": float(rec["atol"]),
                        "msg": None if rec.get("msg") is None else str(rec["msg"])[:300],
                        "tuple": rec.get("tuple") is True,
                        "value": value,
                    }
                )
            results[str(case)] = {"error": None if error is None else str(error), "records": recs}
        except (KeyError, TypeError, ValueError, OSError, AttributeError) as err:
            results[str(case)] = {"error": f"unreadable records ({err})", "records": []}
    return results


# ------------------------------------------------- record-mode test source (grader side) --

_CHECKS_EXPECTED = {"close": 2, "equal": 2}
_ALWAYS = (
    ast.Import,
    ast.ImportFrom,
    ast.Return,
    ast.Raise,
    ast.Assert,
    ast.Global,
    ast.Nonlocal,
    ast.Delete,
)


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _targets(stmt: ast.stmt) -> set[str]:
    """Names a simple statement binds or mutates (the root of `d[k] = ..`, `obj.attr = ..`)."""
    if isinstance(stmt, ast.Assign):
        nodes = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        nodes = [stmt.target]
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Name):  # a plain call may mutate its arguments
            return _loads(stmt.value)
        return {_root(func)} - {None}
    else:
        return set()
    out: set[str] = set()
    for t in nodes:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                out.add(n.id)
        r = _root(t)
        if r:
            out.add(r)
    return out


def _tainted(fn: ast.FunctionDef, params: set[str]) -> set[str]:
    """Names whose value may come from the student's code (assigned from a param or such a name)."""
    tainted = set(params)
    while True:
        n = len(tainted)
        for node in ast.walk(fn):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets, value = [node.target], node.iter
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                targets, value = [node.optional_vars], node.context_expr
            elif (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and _loads(node.value.func) & tainted
            ):
                # a student call made for its effect (`freeze_backbone(model)`) changes its
                # arguments: what is later computed from them belongs to the student's run
                call = node.value
                targets = [a.value if isinstance(a, ast.Starred) else a for a in call.args]
                targets += [k.value for k in call.keywords]
                targets = [t for t in targets if isinstance(t, ast.Name)]
                value = call.func
            else:
                continue
            if _loads(value) & tainted:
                for t in targets:
                    tainted |= {x.id for x in ast.walk(t) if isinstance(x, ast.Name)}
        if len(tainted) == n:
            return tainted


def _rng_names(fn: ast.FunctionDef) -> set[str]:
    """Names bound to `checks.rng()`: every draw from them must stay (same input stream)."""
    out = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and any(
            isinstance(n, ast.Attribute) and n.attr == "rng" for n in ast.walk(node.value)
        ):
            out |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return out


def _alias(expr: ast.AST, names: set[str]) -> bool:
    """`a`, `a.b[0]`, `a.parameters()`: an expression that may return (part of) object `a`."""
    node = expr
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, (ast.Attribute, ast.Subscript)):
                return False  # torch.tensor(a) copies; a free function's result is new
            node = node.func
        node = node.value
    return isinstance(node, ast.Name) and node.id in names


def _visible(fn: ast.FunctionDef, student: set[str]) -> set[str]:
    """Objects the student's code receives (call arguments) and their aliases."""
    visible = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and _root(node.func) in student:
            for a in [*node.args, *(k.value for k in node.keywords)]:
                visible |= _loads(a)
    while True:
        n = len(visible)
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign):
                pairs = [(t, node.value) for t in node.targets]
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                pairs = [(node.target, node.iter)]
            else:
                continue
            for target, value in pairs:
                it = (
                    value.args[0]
                    if isinstance(value, ast.Call)
                    and _root(value)
                    in (
                        "enumerate",
                        "zip",
                    )
                    and value.args
                    else value
                )
                if _alias(it, visible):
                    visible |= {x.id for x in ast.walk(target) if isinstance(x, ast.Name)}
        if len(visible) == n:
            return visible - student


def _definition(stmt: ast.stmt) -> bool:
    """`def f(..)`, `class C`, `f = lambda ..`: binds code that runs only where it is called."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    return (
        isinstance(stmt, ast.Assign)
        and isinstance(stmt.value, ast.Lambda)
        and all(isinstance(t, ast.Name) for t in stmt.targets)
    )


def _oracle_backward(stmt: ast.stmt, student: set[str]) -> bool:
    """`x.backward(...)` on a value that does not come from the student's code."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    f = stmt.value.func
    return isinstance(f, ast.Attribute) and f.attr == "backward" and _root(f) not in student


class _StripExpected(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        f = node.func
        if (
            isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and f.value.id == "checks"
            and f.attr in _CHECKS_EXPECTED
        ):
            i = _CHECKS_EXPECTED[f.attr]
            if len(node.args) > i:
                node.args[i] = ast.Constant(None)
            for kw in node.keywords:
                if kw.arg == "expected":
                    kw.value = ast.Constant(None)
        return node


def record_source(source: str, params: list[str]) -> str:
    """A test function without the computation of its expected values (what a student kernel runs).

    In "record" mode the kernel only needs the inputs and the student's outputs, so the `expected`
    argument of `checks.close/equal` becomes None and every statement that only fed it (an oracle's
    forward and backward pass, a reference call) is dropped: a student function that inspects its
    caller's frame or patches `checks` at call time finds no expected value to copy. Kept: statements
    that use the notebook's names, values derived from them (method calls on the student's objects
    mutate them) or `checks` (the rng stream stays the same), imports, returns, and whatever a kept
    statement reads (to a fixed point, so loops keep their carried names).

    Inputs:
    - source: the test function's source (one `def test_...(params)`).
    - params: its parameter names (the notebook's functions and classes).

    Returns:
    - source: the sliced function's source.
    """
    tree = _StripExpected().visit(ast.parse(source))
    fn = tree.body[0]
    keep_names = set(params) | {"checks"}
    # running the student's code on the same objects in the same order is what gets recorded:
    # every statement that touches a value coming from it stays (method calls mutate it)
    student = _tainted(fn, set(params))
    keep_names |= student | _rng_names(fn)
    visible = _visible(fn, student)
    modules = {
        (a.asname or a.name).split(".")[0]
        for n in ast.walk(fn)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    live_names: set[str] = set()
    live: set[int] = set()

    def visit(body: list[ast.stmt]) -> bool:
        any_live = False
        for stmt in body:
            children = [
                b
                for name in ("body", "orelse", "finalbody")
                if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                for b in [getattr(stmt, name, None)]
                if isinstance(b, list)
            ]
            children += [h.body for h in getattr(stmt, "handlers", [])]
            if children:
                header = [
                    getattr(stmt, a)
                    for a in ("iter", "test", "subject")
                    if getattr(stmt, a, None) is not None
                ]
                header += [i.context_expr for i in getattr(stmt, "items", [])]
                header += [h.type for h in getattr(stmt, "handlers", []) if h.type is not None]
                stored = set()
                for t in [getattr(stmt, "target", None)] + [
                    i.optional_vars for i in getattr(stmt, "items", [])
                ]:
                    if t is not None:
                        stored |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
                inner = any([visit(c) for c in children])
                hdr = set().union(*[_loads(h) for h in header]) if header else set()
                is_live = inner or bool(stored & live_names) or bool(hdr & keep_names)
                if is_live:
                    live_names.update(hdr)
            else:
                names = _loads(stmt)
                targets = _targets(stmt)
                if _definition(stmt):
                    # a nested def, class or lambda runs only where it is used: live only when a
                    # live statement loads its name (`def reference(): ...` called by stripped
                    # expected values goes), however much of the student's state it reads
                    is_live = bool(targets & live_names)
                else:
                    is_live = (
                        isinstance(stmt, _ALWAYS)
                        or bool(names & keep_names)
                        or bool(targets & live_names)
                        # mutates an object the student's code gets (`p.requires_grad_(False)`)
                        or bool(targets & visible)
                        # global state such as `torch.manual_seed(..)`, `np.random.seed(..)`
                        or (isinstance(stmt, ast.Expr) and _root(stmt.value) in modules)
                    )
                if _oracle_backward(stmt, student):
                    # an oracle's backward pass only fills .grad, i.e. expected gradients, even
                    # when its output is live because an input's shape was read from it
                    is_live = bool(names & student)
                if is_live:
                    live_names.update(names)
            if is_live:
                live.add(id(stmt))
                any_live = True
        return any_live

    while True:
        before = (len(live), len(live_names))
        visit(fn.body)
        if (len(live), len(live_names)) == before:
            break

    def prune(body: list[ast.stmt]) -> list[ast.stmt]:
        kept = []
        for stmt in body:
            if id(stmt) not in live:
                continue
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for name in ("body", "orelse", "finalbody"):
                    b = getattr(stmt, name, None)
                    if isinstance(b, list) and b:
                        setattr(stmt, name, prune(b) or [ast.Pass()])
                for h in getattr(stmt, "handlers", []):
                    h.body = prune(h.body) or [ast.Pass()]
            kept.append(stmt)
        return kept

    fn.body = prune(fn.body) or [ast.Pass()]
    return ast.unparse(ast.fix_missing_locations(tree))


def run_checks(spec: dict) -> int:
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
