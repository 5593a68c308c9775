"""The grading package as a whole: every module imports, and no two modules import each other, even
through others or from inside a function (README, "How grading fits together": one job per file)."""

import ast
import importlib
from pathlib import Path

import pytest

import cnnkit

LIB = Path(cnnkit.__file__).resolve().parent.parent


def _modules(package: str) -> dict[str, Path]:
    """module name -> file, for every .py file of `package` (a folder of lib/)."""
    out = {}
    for path in sorted((LIB / package.replace(".", "/")).rglob("*.py")):
        parts = list(path.relative_to(LIB).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported(name: str, path: Path, known: dict) -> set[str]:
    """The modules of `known` that `name` imports anywhere in its file (functions included).

    Its own packages are left out: Python runs a package's __init__ before any of its modules
    whether the module imports from it or not."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            # `from pkg import sub` imports the submodule; `from mod import name`, the module
            targets |= {
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            }
    found = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and not (name + ".").startswith(target + "."):
            found.add(target)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on.discard(comp[-1])
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


GRADING = _modules("cnnkit.grading")


@pytest.mark.parametrize("name", sorted(GRADING))
def test_every_grading_module_imports(name):
    assert importlib.import_module(name).__name__ == name


def test_no_import_cycle_in_the_library():
    known = _modules("cnnkit")
    graph = {name: _imported(name, path, known) for name, path in known.items()}
    assert "cnnkit.grading.batch" in graph["cnnkit.grading.grade"]  # the scan sees imports
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
