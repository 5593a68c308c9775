"""The stage-gated library: a copy of `cnnkit` with the exercises of this stage and later ones stubbed.

Regions in the library look like
    # BEGIN EXERCISE 01_backprop
    def affine_forward(x, w, b):
        ...
    # END EXERCISE
and hold whole top-level `def`/`class` statements. A gated copy for stage S keeps the code of exercise
regions of stages < S (past their deadline) and replaces, for stages >= S, every function body (and every
method body of a class) by `raise NotImplementedError("<name> is implemented by you in notebook <stage>")`,
keeping signatures, decorators and docstrings. `cnnkit grade` puts this copy on the student kernel's path;
the release task writes it into the student repository.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

BEGIN_RE = re.compile(r"^#\s*BEGIN EXERCISE\s+(\S+)\s*$")
END_RE = re.compile(r"^#\s*END EXERCISE\s*$")
LIBRARY = Path(__file__).resolve().parents[1]  # lib/cnnkit
EXCLUDE_DIRS = {"grading", "__pycache__"}


class GateError(ValueError):
    """An exercise region that cannot be gated (unbalanced markers, code that is not a def/class)."""


@dataclass(frozen=True)
class Region:
    stage: str
    begin: int  # 1-based line of the BEGIN marker
    end: int  # 1-based line of the END marker


def find_regions(source: str, filename: str = "<source>") -> list[Region]:
    """Exercise regions of one module.

    Inputs:
    - source: the module's text.
    - filename: for error messages.

    Returns:
    - regions: list of Region(stage, begin, end) in file order (1-based marker lines).
    """
    regions, open_ = [], None
    for i, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if m := BEGIN_RE.match(stripped):
            if line != stripped:
                raise GateError(f"{filename}:{i}: exercise markers must be at top level")
            if open_ is not None:
                raise GateError(f"{filename}:{i}: BEGIN EXERCISE inside another region")
            open_ = (m.group(1), i)
        elif END_RE.match(stripped):
            if open_ is None:
                raise GateError(f"{filename}:{i}: END EXERCISE without BEGIN")
            regions.append(Region(open_[0], open_[1], i))
            open_ = None
    if open_ is not None:
        raise GateError(f"{filename}:{open_[1]}: BEGIN EXERCISE {open_[0]} is never closed")
    return regions


def _stub_function(node: ast.FunctionDef | ast.AsyncFunctionDef, label: str, stage: str) -> None:
    body: list[ast.stmt] = []
    doc = ast.get_docstring(node, clean=False)
    if doc is not None:
        body.append(node.body[0])
    text = f"{label} is implemented by you in notebook {stage}"
    body.append(
        ast.Raise(
            exc=ast.Call(
                func=ast.Name(id="NotImplementedError", ctx=ast.Load()),
                args=[ast.Constant(value=text)],
                keywords=[],
            ),
            cause=None,
        )
    )
    node.body = body


def _stub(node: ast.stmt, stage: str) -> ast.stmt:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        _stub_function(node, node.name, stage)
    elif isinstance(node, ast.ClassDef):
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                _stub_function(item, f"{node.name}.{item.name}", stage)
    return node


def gate_source(source: str, stage: str, filename: str = "<source>") -> str:
    """Stub the exercise regions of stages >= `stage` in one module's text.

    Inputs:
    - source: the module's text.
    - stage: the stage being released or graded, e.g. "02_conv_layers".
    - filename: for error messages.

    Returns:
    - text: the module with gated regions replaced by stubs (markers kept); unchanged if none apply.
    """
    regions = [r for r in find_regions(source, filename) if r.stage >= stage]
    if not regions:
        return source
    tree = ast.parse(source, filename=filename)
    lines = source.splitlines(keepends=True)
    replacements = []  # (first line, last line, text), 1-based inclusive
    for region in regions:
        nodes = [n for n in tree.body if region.begin < n.lineno < region.end]
        first = min([n.lineno for n in nodes] + [region.end])
        for node in nodes:
            start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
            first = min(first, start)
            if node.end_lineno is None or node.end_lineno >= region.end:
                raise GateError(f"{filename}:{node.lineno}: statement crosses END EXERCISE")
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                raise GateError(
                    f"{filename}:{node.lineno}: only def/class statements may sit in an "
                    f"exercise region (found {type(node).__name__})"
                )
        stubs = [ast.unparse(_stub(node, region.stage)) for node in nodes]
        text = "\n\n\n".join(stubs) + "\n" if stubs else ""
        replacements.append((region.begin + 1, region.end - 1, text))
    for first, last, text in sorted(replacements, reverse=True):
        lines[first - 1 : last] = [text]
    return "".join(lines)


def gated_copy(stage: str, dest: Path, library: Path | None = None) -> Path:
    """Copy the cnnkit package into `dest/cnnkit` with the exercises of stages >= `stage` stubbed.

    Inputs:
    - stage: e.g. "01_backprop"; regions of this stage and later ones become stubs.
    - dest: directory to write into (created); an existing dest/cnnkit is replaced.
    - library: the package directory to copy (default: this installed cnnkit, lib/cnnkit); tests pass
      a fake package here.

    Returns:
    - path: dest/<package name>, the gated package (without grading/ and __pycache__).
    """
    src = Path(library or LIBRARY).resolve()
    out = Path(dest) / src.name
    if out.exists():
        shutil.rmtree(out)

    def ignore(directory: str, names: list[str]) -> set[str]:
        top = Path(directory).resolve() == src
        return {
            n
            for n in names
            if n == "__pycache__"
            or n.endswith((".pyc", ".pyo"))
            or (top and n in EXCLUDE_DIRS)
            or n.endswith(".egg-info")
        }

    shutil.copytree(src, out, ignore=ignore)
    for py in sorted(out.rglob("*.py")):
        text = py.read_text(encoding="utf-8")
        if "EXERCISE" not in text:
            continue
        gated = gate_source(text, stage, filename=str(py.relative_to(out.parent)))
        if gated != text:
            py.write_text(gated, encoding="utf-8")
    return out
