"""The test-source slicer: a stage's test function without the computation of its expected values.

A student's kernel runs each hidden test sliced by `record_source` (grader side, before the kernel
starts): the `expected` argument of `checks.close/equal` becomes None and every statement that only fed
it is dropped, so no expected value is in the kernel for a student's code to copy.
"""

from __future__ import annotations

import ast
import inspect


def _expected_positions() -> dict[str, int]:
    """{check: position of its `expected` parameter} for the `cnnkit.checks` functions that take one
    (read from their signatures, so a reordered parameter cannot leave an expected value behind)."""
    from cnnkit import checks

    out = {}
    for name, fn in vars(checks).items():
        if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != checks.__name__:
            continue
        params = list(inspect.signature(fn).parameters)
        if "expected" in params:
            out[name] = params.index("expected")
    return out


_CHECKS_EXPECTED = _expected_positions()
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
