"""Numpy means numpy: notes when a student's code calls torch or scipy's convolutions (stdlib only).

In a numpy-only stage (`cnnkit.grading.stage.Stage.numpy_only`: stages 01 and 02) the graded
functions may use numpy and the Python standard library only. A `Guard` watches one case with
`sys.setprofile` (and `threading.setprofile` for threads the case starts): every Python function of a
watched package (torch, torchvision, scipy.signal, scipy.ndimage) that starts and every C function of
one that is called (`F.conv2d`, a tensor's methods, autograd's engine) is attributed to the nearest
frame on the stack that is either the student's (the notebook's globals, `__name__ == "__main__"`)
or the test's (the grader's test code: compiled as `<test NAME>`, or the file `grader.check` runs);
library frames in between (numpy, cnnkit, the standard library) are looked through. The first call
the student's code owns is kept in `Guard.found` ("torch.conv2d"); the test's own oracles are not
counted. A case that switches the profiler off is caught too (`stop` reports it), and so is one that
switches it off and on again around its call (its `sys.setprofile` call is seen) or a notebook that
replaced `sys.setprofile`/`sys.getprofile` before (`start` checks they are the interpreter's own).

Who uses it: the in-kernel probe (`runtime.py`, shipped by its text with this module's text before it,
see `kernel.probe_cell`) wraps each student case of such a stage and writes what it found as data
(the grader's judge gives the case 0 points and says why); `cnnkit.checks.numpy_only()` (the first
line the build puts in each test of such a stage) does the same for `grader.check`, whose next check
then fails with `message(found)`. The probe first calls `preimport` with the tests' sources, so the
imports of the tests' own oracles do not run under the profiler.

This catches the known ways (direct calls, calls through a library helper, autograd, threads); code
written against this module (a function whose globals claim another `__name__`) can hide from it.
"""

import ast
import importlib
import sys
import threading
import types

PACKAGES = ("torch", "torchvision", "functorch", "scipy.signal", "scipy.ndimage")
_PREFIXES = tuple(p + "." for p in PACKAGES)
_module_type = types.ModuleType
# what code that uses a name imports lazily: torch's optimizers import torch._dynamo (about 900
# modules, 2 s) through `torch._disable_dynamo` when first constructed
_LAZY = {"torch.optim": ("torch._dynamo",)}


def watched(module):
    """True for a module name of a watched package ("torch.nn.functional", "scipy.signal")."""
    return type(module) is str and (module in PACKAGES or module.startswith(_PREFIXES))


SWITCHED_OFF = "sys.setprofile (the grader's numpy-only check was switched off)"


def _genuine(fn, name):
    """True for the interpreter's own `sys.<name>` (a builtin bound to sys), not a stand-in."""
    return (
        type(fn) is types.BuiltinFunctionType
        and getattr(fn, "__self__", None) is sys
        and getattr(fn, "__name__", None) == name
    )


def message(found):
    """The failure message of a case whose code called `found`."""
    return (
        f"numpy only: your code called {found}; in this stage the graded functions may use numpy "
        "and the Python standard library only (no torch, no scipy.signal/ndimage), so this case "
        "earns nothing"
    )


def _c_name(fn):
    """The watched module and name of a C function, or None."""
    module = getattr(fn, "__module__", None)
    if not watched(module):
        owner = getattr(fn, "__self__", None)
        module = owner.__name__ if type(owner) is _module_type else type(owner).__module__
        if not watched(module):
            return None
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "?")
    return f"{module}.{name.replace('_VariableFunctionsClass.', '')}"


def _dotted(node):
    """ "torch.optim.SGD" for the attribute chain `torch.optim.SGD`, else None."""
    parts = []
    while type(node) is ast.Attribute:
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if type(node) is ast.Name else None


def preimport(sources, eager_only=False):
    """Import the watched packages that test code imports, before any guard runs.

    Under the profiler every Python call of an import is an event: importing torch's optimizer
    machinery inside a guarded case took 5-8 s of a stage-01 submission's 13-15 s (2026-12-06).
    Imported here first, the case finds it in `sys.modules`. What a used name imports lazily
    (`_LAZY`: an optimizer's torch._dynamo, 2.2 s) comes only with code that uses the name; with
    `eager_only` (a student's kernel, which records and never checks) only with code outside the
    test's lambdas and nested functions: those hold the oracles, which only checking evaluates. A
    package that cannot be imported is left for the case to fail on, as it would have.

    Inputs:
    - sources: the test functions' source texts.
    - eager_only: count only the imports and names of the test's own body, not those of its
      lambdas and nested functions.

    Returns:
    - names: the modules imported (or already imported), in order.
    """
    names = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        used = set()
        for node in _walk(tree, eager_only):
            if type(node) is ast.Import:
                found = [a.name for a in node.names]
            elif type(node) is ast.ImportFrom and not node.level and node.module:
                # `from scipy import ndimage` imports a watched package by its attribute name
                found = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                if type(node) is ast.Attribute:
                    used.add(_dotted(node))
                continue
            used.update(found)
            names.extend(n for n in found if watched(n) and n not in names)
        for trigger, lazy in _LAZY.items():
            if any(type(u) is str and (u + ".").startswith(trigger + ".") for u in used):
                names.extend(m for m in lazy if m not in names)
    done = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - the case itself will fail on it and say why
            continue
        done.append(name)
    return done


def _walk(tree, eager_only):
    """Every node of `tree`, parents first and in source order; with `eager_only`, not the bodies
    (nor decorators and defaults: none of the cases has code there) of a test function's lambdas
    and nested functions (the test functions themselves are the module's top-level definitions)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        children = list(ast.iter_child_nodes(node))
        for child in reversed(children):
            nested = type(child) in (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef)
            if not (eager_only and nested and type(node) is not ast.Module):
                todo.append(child)


class Guard:
    """Watches the calls of one case; `found` is the first watched call the student's code owns.

    Inputs:
    - test_files: code file names of the test's own code besides `<test ...>` (grader.check's file).
    - until: a frame; the guard stops itself when that frame returns (grader.check's test function).
    """

    def __init__(self, test_files=(), until=None):
        self.test_files = frozenset(test_files)
        self.until = until
        self.found = None
        self._old = None
        self._on = False
        self._setprofile = None

    def _owner(self, frame):
        """ "student", "test" or None: whose code is nearest on the stack from `frame` up."""
        tests = self.test_files
        while frame is not None:
            fname = frame.f_code.co_filename
            if fname in tests or fname.startswith("<test "):
                return "test"
            if frame.f_globals.get("__name__") == "__main__":
                return "student"
            frame = frame.f_back
        return None

    def _hit(self, frame, what):
        if self.found is None and self._owner(frame) == "student":
            self.found = what

    def _profile(self, frame, event, arg):
        try:
            if event == "call":
                module = frame.f_globals.get("__name__")
                if watched(module) and self.found is None:
                    self._hit(frame.f_back, f"{module}.{frame.f_code.co_name}")
            elif event == "c_call":
                if self.found is None:
                    # switched off and on again around a watched call (not the guard's own stop)
                    if arg is self._setprofile and self._on:
                        self._hit(frame, SWITCHED_OFF)
                    what = _c_name(arg)
                    if what is not None:
                        self._hit(frame, what)
            elif event == "return" and frame is self.until:
                self.stop()
        except Exception:  # noqa: BLE001, S110 - the profiler must never break the code it watches
            pass

    @property
    def running(self):
        """Started and not stopped yet."""
        return self._on

    def start(self):
        """Install the profiler (this thread and threads started from now on). A notebook that
        replaced `sys.setprofile` or `sys.getprofile` before (a fake pair can report the profiler as
        installed while none runs) counts as a watched call."""
        if not (_genuine(sys.setprofile, "setprofile") and _genuine(sys.getprofile, "getprofile")):
            self.found = SWITCHED_OFF
        self._setprofile = sys.setprofile
        self._old = sys.getprofile()
        self._on = True
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        return self

    def stop(self):
        """Remove the profiler; a case that removed or replaced it counts as a watched call.

        Returns:
        - found: the first watched call the student's code owns ("torch.conv2d"), or None.
        """
        if not self._on:
            return self.found
        self._on = False
        intact = sys.getprofile() == self._profile
        sys.setprofile(self._old)
        threading.setprofile(None)
        if not intact and self.found is None:
            self.found = SWITCHED_OFF
        return self.found
