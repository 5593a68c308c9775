"""The README's description of the library's floors matches the library's imports.

- The floors of lib/cnnkit (README, "Library floors": modules separated by →): every top-level module
  is on one floor and imports (anywhere in its files, functions included) only modules of the floors
  below its own.
- Third-party floors: every distribution the library imports is declared in pyproject.toml with a
  lower bound, in the core dependencies or in the extra that fits (the `instructor` extra only for
  `cnnkit.grading`), and the README names it with that bound.
"""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import cnnkit

PACKAGE = Path(cnnkit.__file__).resolve().parent
ROOT = PACKAGE.parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# imported names that are no distribution to declare
NOT_DISTRIBUTIONS = {
    "google": "google.colab exists only on Colab (colab.py imports it there)",
    "contract": "the sandbox's boot dir copy of cnnkit/grading/contract.py (runner.py, boot.py)",
}


def _paragraph(start: str, end: str) -> str:
    return README[README.index(start) : README.index(end)]


def _imports(path: Path):
    """(imported module name, line) of every absolute import in the file, functions included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:  # `from cnnkit import data` imports the module data
                yield f"{node.module}.{alias.name}", node.lineno


def _top_modules() -> set[str]:
    return {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }


def _floors() -> dict[str, int]:
    """module -> its floor (0: the lowest) as the README's paragraph lists them."""
    text = _paragraph("Library floors", "Third-party floors")
    text = text.split(":", 1)[1]  # after the heading's own parenthesis
    while "(" in text:  # what a module is for, in parentheses (nested ones too), is not a floor
        text = re.sub(r"\([^()]*\)", "", text)
    return {
        name: level
        for level, part in enumerate(text.split("→"))
        for name in re.findall(r"`(\w+)`", part)
    }


def _library_edges() -> dict[str, set[tuple[str, str]]]:
    """top-level module -> {(imported top-level module, 'file:line')}; the package itself stands
    for what its __init__ imports."""
    tops = _top_modules()
    edges: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        src = rel.parts[0].removesuffix(".py")
        for name, line in _imports(path):
            parts = name.split(".")
            if parts[0] != "cnnkit":
                continue
            dst = parts[1] if len(parts) > 1 and parts[1] in tops else "__init__"
            if dst != src:
                edges.setdefault(src, set()).add((dst, f"{rel}:{line}"))
    package_deps = {d for d, _ in edges.pop("__init__", set())}
    for src, out in edges.items():
        for dst, where in list(out):
            if dst == "__init__":
                out.discard((dst, where))
                out |= {(d, where) for d in package_deps if d != src}
    return edges


def test_every_module_is_on_one_floor_and_imports_only_lower_floors():
    floors = _floors()
    assert set(floors) == _top_modules(), "the README's floors and lib/cnnkit's modules differ"
    upward = [
        f"{where}: {src} (floor {floors[src]}) imports {dst} (floor {floors[dst]})"
        for src, out in _library_edges().items()
        for dst, where in sorted(out)
        if floors[dst] >= floors[src]
    ]
    assert upward == []


def _declared() -> dict[str, tuple[str, Requirement]]:
    """distribution -> (where: 'core' or the extra's name, requirement) of pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    out = {}
    groups = [("core", project["dependencies"]), *project["optional-dependencies"].items()]
    for where, deps in groups:
        for line in deps:
            req = Requirement(line)
            out[canonicalize_name(req.name)] = (where, req)
    return out


def test_every_declared_dependency_has_a_lower_bound_and_the_readme_names_it():
    text = " ".join(_paragraph("Third-party floors", "## Students").split())
    for where, req in _declared().values():
        lower = [s for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{req} ({where}): no lower bound"
        assert f"{req.name}{lower[0]}" in text, (
            f"the README's floors do not say {req.name}{lower[0]}"
        )


def test_every_imported_distribution_is_declared_where_it_belongs():
    stdlib = set(sys.stdlib_module_names) | {"__future__", "cnnkit"}
    owners = importlib.metadata.packages_distributions()
    declared = _declared()
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        for name, line in _imports(path):
            top = name.split(".")[0]
            if top in stdlib or top in NOT_DISTRIBUTIONS:
                continue
            # not installed here (tomli on Python 3.11+): the distribution of that name
            dists = [canonicalize_name(d) for d in owners.get(top, [top])]
            found = [declared[d] for d in dists if d in declared]
            if not found:
                problems.append(f"{rel}:{line}: {top} ({dists or 'not installed'}) is not declared")
            elif found[0][0] == "instructor" and rel.parts[0] != "grading":
                problems.append(f"{rel}:{line}: {top} is an instructor extra outside grading")
    assert problems == []
