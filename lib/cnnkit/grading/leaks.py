"""Leak scanner: no solution line, hidden case or marker may reach what students see.

Secrets come from two sources:
- the masters (solutions/<stage>/<stage>.py): every line inside an inline `# BEGIN SOLUTION` ...
  `# END SOLUTION` region or ending in `# SOLUTION`, and the name and body of every hidden test case;
- the masters' written questions (`manual: true`): every line of the SOLUTION block's markdown (the
  model answer and the rubric; otter replaces it by the student's answer cell);
- the library's exercise regions (`# BEGIN EXERCISE <stage>` ... `# END EXERCISE`): every line of a
  function or method body except its signature and docstring (those stay in a released stub).
A line that students see as code anyway (ordinary master cells, public tests, library code outside
exercise regions) is not a secret; markdown never exempts a line, so a solution pasted into a hint
is caught.
Lines are compared after collapsing whitespace; trivial lines (`return x`, `else:`) are ignored.

`scan(tree, secrets)` walks every file under `tree` (notebooks are read as JSON, so cell sources,
outputs and metadata are all searched; zip members are searched too) and returns a Finding per hit.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cnnkit.grading import master
from cnnkit.grading.gate import find_regions

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRIVIAL = re.compile(
    r"^(return|pass|continue|break|else:|try:|finally:|\.\.\.|[)\]}]+[,:]?|\"\"\"|'''|"
    r"return (None|True|False|[\w.]+)|raise|[\w.]+ = (None|0|\[\]|\{\}|0\.0))$"
)
MARKERS = (
    (re.compile(r"BEGIN SOLUTION|END SOLUTION"), "solution marker"),
    (re.compile(r"^\s*#\s*HIDDEN\b"), "hidden-test marker"),
    (re.compile(r"hidden\s*:\s*true", re.IGNORECASE), "hidden-test config"),
    (re.compile(r"hidden\s*=\s*True\b"), "hidden test case"),
    (re.compile(r"BEGIN TEST CONFIG|BEGIN HIDDEN TESTS"), "test marker"),
    (re.compile(r"BEGIN EXERCISE|END EXERCISE"), "exercise marker"),
    (re.compile(r"\*\*(Model answer|Rubric)\b"), "rubric marker"),
)
MIN_LINE = 8  # shorter normalised lines are too common to be evidence of a leak
MIN_SUBSTRING = 25  # inside outputs/metadata, secrets this long are also searched as substrings


class LeakError(RuntimeError):
    """Secrets reached a tree that students see; the message lists every finding."""


def normalise_line(line: str) -> str:
    """A line with ANSI colour codes removed and whitespace collapsed (the unit of comparison)."""
    return " ".join(_ANSI.sub("", line).split())


def nontrivial(norm: str) -> bool:
    """True if a normalised line is specific enough that finding it in a student file means a leak."""
    if len(norm) < MIN_LINE or _TRIVIAL.match(norm):
        return False
    return not (norm.startswith("#") and len(norm) < 20)


# --------------------------------------------------------------------------------------------------
# Secrets


@dataclass(frozen=True)
class Secret:
    text: str  # normalised line, or a hidden case's function name
    kind: str  # "solution line", "hidden case", "hidden case name", "exercise line", "rubric line"
    origin: str  # file:line it came from


@dataclass
class Secrets:
    """What must not reach students: normalised lines and hidden case names, each with its origin."""

    lines: dict[str, Secret] = field(default_factory=dict)
    names: dict[str, Secret] = field(default_factory=dict)

    def add_line(self, line: str, kind: str, origin: str) -> None:
        norm = normalise_line(line)
        if nontrivial(norm) and norm not in self.lines:
            self.lines[norm] = Secret(norm, kind, origin)

    def drop_public(self, public: set[str]) -> None:
        for norm in public & set(self.lines):
            del self.lines[norm]

    def __len__(self) -> int:
        return len(self.lines) + len(self.names)


def _master_secrets(path: Path, root: Path, secrets: Secrets, public: set[str]) -> None:
    def where(cell: master.Cell, k: int = 0) -> str:
        file = cell.path or path
        rel = file.relative_to(root) if file.is_relative_to(root) else file
        return f"{rel}:{cell.line(k)}"

    for cell in master.read(path).cells:
        if cell.cell_type == "markdown" and cell.block == "solution":
            for k, line in enumerate(cell.lines):  # a written question's model answer and rubric
                secrets.add_line(line, "rubric line", where(cell, k))
            continue
        if cell.cell_type != "code":
            continue  # prose never makes a line public: a solution pasted into a hint is a leak
        if cell.hidden:
            names = re.findall(r"^def\s+(test_\w+)", cell.source, re.MULTILINE)
            for name in names:
                secrets.names[name] = Secret(name, "hidden case name", where(cell))
            for k, line in master.test_code_lines(cell.lines):
                secrets.add_line(line, "hidden case", where(cell, k))
            for line in _unparsed(cell):  # otter writes test files from the AST, reformatted
                secrets.add_line(line, "hidden case", where(cell))
            continue
        if cell.block == "tests":
            public.update(normalise_line(ln) for _, ln in master.test_code_lines(cell.lines))
            public.update(normalise_line(ln) for ln in _unparsed(cell))
            continue
        secret_idx = set(master.inline_solution_lines(cell.lines))
        if cell.block == "solution" and not master.has_inline_markers(cell.lines):
            secret_idx = set(range(len(cell.lines)))  # shipped whole by otter: all of it is secret
        for k, line in enumerate(cell.lines):
            if k in secret_idx:
                text = master.LINE_SOLUTION.sub("", line)
                secrets.add_line(text, "solution line", where(cell, k))
            elif not master.INLINE_BEGIN.match(line) and not master.INLINE_END.match(line):
                public.add(normalise_line(line))


def _unparsed(cell: master.Cell) -> list[str]:
    """The cell's functions as otter writes them into test files (ast.unparse, no config docstring)."""
    try:
        tree = ast.parse("\n".join(ln for _, ln in master.test_code_lines(cell.lines)))
    except SyntaxError:
        return []
    return [
        line
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for line in ast.unparse(node).splitlines()
    ]


def _public_line_numbers(node: ast.AST) -> set[int]:
    """Lines of a def/class that a released stub keeps: decorators, signature, docstring."""
    keep: set[int] = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for dec in sub.decorator_list:
                keep.update(range(dec.lineno, dec.end_lineno + 1))
            body_start = sub.body[0].lineno
            keep.update(range(sub.lineno, body_start))
            first = sub.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                keep.update(range(first.lineno, first.end_lineno + 1))
    return keep


def library_regions(root: Path) -> Iterator[tuple[Path, str, ast.stmt, list[str]]]:
    """Every top-level def/class inside an exercise region of the library under root/lib/cnnkit.

    Returns (yields):
    - (file, stage, node, file_lines) per definition.
    """
    lib = root / "lib" / "cnnkit"
    for path in sorted(lib.rglob("*.py")):
        if "__pycache__" in path.parts or "grading" in path.relative_to(lib).parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "BEGIN EXERCISE" not in text:
            continue
        regions = find_regions(text, str(path))
        if not regions:
            continue
        tree = ast.parse(text, filename=str(path))
        lines = text.splitlines()
        for region in regions:
            for node in tree.body:
                if region.begin < node.lineno < region.end:
                    yield path, region.stage, node, lines


def _library_public_lines(root: Path) -> set[str]:
    """Lines of the library outside every exercise region: they ship to students anyway."""
    lib, public = root / "lib" / "cnnkit", set()
    for path in sorted(lib.rglob("*.py")):
        if "__pycache__" in path.parts or "grading" in path.relative_to(lib).parts:
            continue
        text = path.read_text(encoding="utf-8")
        inside = set()
        for region in find_regions(text, str(path)):
            inside.update(range(region.begin, region.end + 1))
        public.update(
            normalise_line(line)
            for n, line in enumerate(text.splitlines(), start=1)
            if n not in inside
        )
    return public


def collect_secrets(
    root: Path, stages: list[str] | None = None, library_stages: list[str] | None = None
) -> Secrets:
    """Secrets of the masters of `stages` and the library exercise regions of `library_stages`.

    Inputs:
    - root: the checkout.
    - stages: masters to read (default: every stage whose master exists, including toy ones).
    - library_stages: exercise regions to include (default: all regions); a release of stage K passes
      the stages >= K, since earlier exercises ship in the clear.

    Returns:
    - secrets: a Secrets (lines minus every line the masters show students, hidden case names).
    """
    secrets, public = Secrets(), set()
    masters = sorted((root / "solutions").glob("*/*.py"))
    for path in masters:
        stage = path.parent.name
        if path.stem != stage or (stages is not None and stage not in stages):
            continue
        _master_secrets(path, root, secrets, public)
    public |= _library_public_lines(root)
    for path, stage, node, lines in library_regions(root):
        if library_stages is not None and stage not in library_stages:
            continue
        keep = _public_line_numbers(node)
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        rel = path.relative_to(root)
        for n in range(start, node.end_lineno + 1):
            if n not in keep:
                secrets.add_line(lines[n - 1], "exercise line", f"{rel}:{n}")
    secrets.drop_public(public)
    return secrets


# --------------------------------------------------------------------------------------------------
# Scanning


@dataclass(frozen=True)
class Finding:
    path: Path
    where: str  # "line 12" for text files; "cells[3].source line 2" for notebooks
    kind: str
    text: str
    origin: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.kind} (from {self.origin}): {self.text[:120]!r}"


def _json_strings(obj, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, str):
        yield where, obj
    elif isinstance(obj, list):
        # a notebook stores multi-line text as a list of lines; join them to number lines properly
        if obj and all(isinstance(x, str) for x in obj):
            yield where, "".join(obj)
        else:
            for k, x in enumerate(obj):
                yield from _json_strings(x, f"{where}[{k}]")
    elif isinstance(obj, dict):
        for key in sorted(obj):
            yield from _json_strings(key, f"{where}.<key>")
            yield from _json_strings(obj[key], f"{where}.{key}" if where else key)


def _texts(name: str, data: bytes) -> Iterator[tuple[str, str, bool]]:
    """(where, text, deep) chunks of one file; deep: search long secrets as substrings too."""
    if name.endswith(".zip"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for member in sorted(zf.namelist()):
                    for where, text, deep in _texts(member, zf.read(member)):
                        yield f"{member}!{where}", text, deep
        except zipfile.BadZipFile:
            pass
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    if name.endswith(".ipynb"):
        try:
            nb = json.loads(text)
        except ValueError:
            yield "", text, True
            return
        for where, s in _json_strings(nb, ""):
            deep = not re.match(r"^cells\[\d+\]\.source$", where)
            yield where, s, deep
        return
    yield "", text, False


def scan(tree: Path, secrets: Secrets) -> list[Finding]:
    """Search every file under `tree` for secrets and markers.

    Inputs:
    - tree: a folder (assignments/, a release) or a single file.
    - secrets: from collect_secrets().

    Returns:
    - findings: list of Finding, in path order; empty means clean.
    """
    tree = Path(tree)
    files = [tree] if tree.is_file() else sorted(p for p in tree.rglob("*") if p.is_file())
    long_secrets = [s for s in secrets.lines.values() if len(s.text) >= MIN_SUBSTRING]
    names_re = (
        re.compile(r"\b(" + "|".join(map(re.escape, sorted(secrets.names))) + r")\b")
        if secrets.names
        else None
    )
    findings: list[Finding] = []
    for path in files:
        if "__pycache__" in path.parts:
            continue
        for where, text, deep in _texts(path.name, path.read_bytes()):
            for k, line in enumerate(text.splitlines(), start=1):
                loc = f"{where} line {k}" if where else f"line {k}"
                norm = normalise_line(line)
                if not norm:
                    continue
                hit = secrets.lines.get(norm)
                if hit is None and norm.startswith("#"):  # a solution line pasted as a comment
                    hit = secrets.lines.get(normalise_line(norm.lstrip("#")))
                if hit is None and deep and len(norm) > MIN_SUBSTRING:
                    hit = next((s for s in long_secrets if s.text in norm), None)
                if hit is not None:
                    findings.append(Finding(path, loc, hit.kind, norm, hit.origin))
                if names_re is not None:
                    for m in names_re.finditer(line):
                        s = secrets.names[m.group(1)]
                        findings.append(Finding(path, loc, s.kind, m.group(1), s.origin))
                for pattern, kind in MARKERS:
                    if pattern.search(line):
                        findings.append(Finding(path, loc, kind, norm, "marker"))
    return findings


def check_tree(tree: Path, secrets: Secrets) -> None:
    """Raise LeakError listing every finding if `tree` holds any secret or marker."""
    findings = scan(tree, secrets)
    if findings:
        shown = "\n  ".join(str(f) for f in findings[:50])
        more = f"\n  ... and {len(findings) - 50} more" if len(findings) > 50 else ""
        raise LeakError(f"{len(findings)} leak(s) under {tree}:\n  {shown}{more}")
