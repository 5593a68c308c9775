"""Leak scanner: no solution line, hidden case or marker may reach what students see.

Secrets come from two sources:
- the masters (solutions/<stage>/<stage>.py): every line inside an inline `# BEGIN SOLUTION` ...
  `# END SOLUTION` region or ending in `# SOLUTION`, and the name and body of every hidden test case;
- the library's exercise regions (`# BEGIN EXERCISE <stage>` ... `# END EXERCISE`): every line of a
  function or method body except its signature and docstring (those stay in a released stub).
A line that students see as code anyway (ordinary master cells, public tests, library code outside
exercise regions) is not a secret; markdown never exempts a line, so a solution pasted into a hint
is caught.
Lines are compared after collapsing whitespace; trivial lines (`return x`, `else:`) are ignored.

`scan(tree, secrets)` walks every file under `tree` (notebooks are read as JSON, so cell sources,
outputs and metadata are all searched; zip members are searched too) and returns a Finding per hit.
`exercise_drift(root)` proves that a master's solution cell and the library's exercise region hold the
same code (same AST without comments; docstrings included).
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cnnkit.grading.gate import find_regions
from cnnkit.grading.paths import STAGES, stage_dirs

# Raw-cell block delimiters of an otter master (first line of a raw cell).
_BLOCK_RE = re.compile(r"^#\s*(BEGIN|END)\s+(SOLUTION|TESTS|QUESTION|PROMPT)\b")
_INLINE_BEGIN = re.compile(r"^\s*#\s*BEGIN SOLUTION( NO PROMPT)?\s*$")
_INLINE_END = re.compile(r"^\s*#\s*END SOLUTION\s*$")
_LINE_SOLUTION = re.compile(r"#\s?SOLUTION\s*$")
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
)
MIN_LINE = 8  # shorter normalised lines are too common to be evidence of a leak
MIN_SUBSTRING = 25  # inside outputs/metadata, secrets this long are also searched as substrings


class LeakError(RuntimeError):
    """Secrets reached a tree that students see; the message lists every finding."""


def normalise(line: str) -> str:
    """A line with ANSI colour codes removed and whitespace collapsed (the unit of comparison)."""
    return " ".join(_ANSI.sub("", line).split())


def nontrivial(norm: str) -> bool:
    """True if a normalised line is specific enough that finding it in a student file means a leak."""
    if len(norm) < MIN_LINE or _TRIVIAL.match(norm):
        return False
    return not (norm.startswith("#") and len(norm) < 20)


# --------------------------------------------------------------------------------------------------
# Masters: jupytext percent scripts, read with line numbers


@dataclass
class MasterCell:
    """One cell of a master with where it sits in the .py file.

    cell_type: "code", "markdown" or "raw"; start: 1-based file line of the cell's first content line;
    lines: the cell's text lines (raw/markdown uncommented); block: "solution", "tests", "prompt" or
    None (the enclosing raw-cell block); hidden: a hidden test case; tags: cell tags.
    """

    cell_type: str
    start: int
    lines: list[str]
    block: str | None = None
    hidden: bool = False
    tags: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return "\n".join(self.lines)


_HEADER = re.compile(r"^# %%(.*)$")


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    return line[1:] if line.startswith("#") else line


def read_master(path: Path) -> list[MasterCell]:
    """The cells of a jupytext percent master, each with its block and its 1-based start line.

    Inputs:
    - path: solutions/<stage>/<stage>.py.

    Returns:
    - cells: list of MasterCell in order (a leading header before the first `# %%` is skipped).
    """
    cells: list[MasterCell] = []
    current: MasterCell | None = None
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = _HEADER.match(line)
        if m:
            rest = m.group(1)
            kind = "code"
            if "[markdown]" in rest or "[md]" in rest:
                kind = "markdown"
            elif "[raw]" in rest:
                kind = "raw"
            tags = re.findall(r'"([^"]+)"', rest.split("tags=", 1)[1]) if "tags=" in rest else []
            current = MasterCell(kind, i + 1, [], tags=tags)
            cells.append(current)
        elif current is not None:
            current.lines.append(line if current.cell_type == "code" else _uncomment(line))
    for cell in cells:  # jupytext separates cells with blank lines that are not part of them
        while cell.lines and not cell.lines[-1].strip():
            cell.lines.pop()
    block = None
    for cell in cells:
        if cell.cell_type == "raw" and cell.lines:
            m = _BLOCK_RE.match(cell.lines[0].strip())
            if m:
                what = {"SOLUTION": "solution", "TESTS": "tests", "PROMPT": "prompt"}.get(
                    m.group(2)
                )
                if what:
                    block = what if m.group(1) == "BEGIN" else None
                continue
        cell.block = block
        if block == "tests" and cell.cell_type == "code":
            cell.hidden = _is_hidden_test(cell.lines)
    return cells


def _is_hidden_test(lines: list[str]) -> bool:
    first = next((ln for ln in lines if ln.strip()), "")
    if re.match(r"^\s*#\s*HIDDEN\b", first):
        return True
    text = "\n".join(lines)
    m = re.search(r"BEGIN TEST CONFIG(.*?)END TEST CONFIG", text, re.DOTALL)
    return bool(m and re.search(r"^\s*hidden\s*:\s*true\s*$", m.group(1), re.MULTILINE | re.I))


def inline_solution_lines(lines: list[str]) -> list[int]:
    """Indices of the lines otter strips: inside inline BEGIN/END SOLUTION, or ending in `# SOLUTION`."""
    out, inside = [], False
    for k, line in enumerate(lines):
        if _INLINE_BEGIN.match(line):
            inside = True
        elif _INLINE_END.match(line):
            inside = False
        elif inside or _LINE_SOLUTION.search(line):
            out.append(k)
    return out


def has_inline_markers(lines: list[str]) -> bool:
    """True if a solution cell carries otter's inline markers (without them otter ships it whole)."""
    return any(_INLINE_BEGIN.match(ln) or _LINE_SOLUTION.search(ln) for ln in lines)


def missing_inline_markers(path: Path) -> list[str]:
    """Solution cells of a master that lack inline markers, as 'file:line: message' strings."""
    problems = []
    for cell in read_master(path):
        solution = cell.cell_type == "code" and cell.block == "solution" and cell.source.strip()
        if solution and not has_inline_markers(cell.lines):
            problems.append(
                f"{path}:{cell.start}: solution cell has no inline `# BEGIN SOLUTION` / "
                "`# END SOLUTION` (or `# SOLUTION`) markers; otter would ship it whole"
            )
    return problems


def structure_problems(path: Path) -> list[str]:
    """Block nesting errors of a master (otter's own message only gives a cell number).

    Inputs:
    - path: the master .py.

    Returns:
    - problems: 'file:line: message' strings; empty when QUESTION/SOLUTION/TESTS blocks nest properly.
    """
    problems, question, block = [], None, None
    for cell in read_master(path):
        if cell.cell_type != "raw" or not cell.lines:
            continue
        m = _BLOCK_RE.match(cell.lines[0].strip())
        if not m:
            continue
        where, begin, what = f"{path}:{cell.start}", m.group(1) == "BEGIN", m.group(2)
        if what == "QUESTION":
            if begin and question is not None:
                problems.append(f"{where}: BEGIN QUESTION inside the question opened at {question}")
            elif not begin and question is None:
                problems.append(f"{where}: END QUESTION without BEGIN QUESTION")
            question = where if begin else None
        elif what in ("SOLUTION", "TESTS"):
            if question is None:
                problems.append(
                    f"{where}: {m.group(1)} {what} outside a question "
                    "(add a `# BEGIN QUESTION` raw cell with `name: qN` before it)"
                )
            if begin and block is not None:
                problems.append(f"{where}: BEGIN {what} inside an open {block} block")
            block = what if begin else None
    if question is not None:
        problems.append(f"{question}: BEGIN QUESTION is never closed")
    return problems


# --------------------------------------------------------------------------------------------------
# Secrets


@dataclass(frozen=True)
class Secret:
    text: str  # normalised line, or a hidden case's function name
    kind: str  # "solution line", "hidden case", "hidden case name", "exercise line"
    origin: str  # file:line it came from


@dataclass
class Secrets:
    """What must not reach students: normalised lines and hidden case names, each with its origin."""

    lines: dict[str, Secret] = field(default_factory=dict)
    names: dict[str, Secret] = field(default_factory=dict)

    def add_line(self, line: str, kind: str, origin: str) -> None:
        norm = normalise(line)
        if nontrivial(norm) and norm not in self.lines:
            self.lines[norm] = Secret(norm, kind, origin)

    def drop_public(self, public: set[str]) -> None:
        for norm in public & set(self.lines):
            del self.lines[norm]

    def __len__(self) -> int:
        return len(self.lines) + len(self.names)


def _master_secrets(path: Path, root: Path, secrets: Secrets, public: set[str]) -> None:
    rel = path.relative_to(root) if path.is_relative_to(root) else path
    for cell in read_master(path):
        if cell.cell_type != "code":
            continue  # prose never makes a line public: a solution pasted into a hint is a leak
        if cell.hidden:
            names = re.findall(r"^def\s+(test_\w+)", cell.source, re.MULTILINE)
            for name in names:
                secrets.names[name] = Secret(name, "hidden case name", f"{rel}:{cell.start}")
            for k, line in _test_code_lines(cell):
                secrets.add_line(line, "hidden case", f"{rel}:{cell.start + k}")
            for line in _unparsed(cell):  # otter writes test files from the AST, reformatted
                secrets.add_line(line, "hidden case", f"{rel}:{cell.start}")
            continue
        if cell.block == "tests":
            public.update(normalise(ln) for _, ln in _test_code_lines(cell))
            public.update(normalise(ln) for ln in _unparsed(cell))
            continue
        secret_idx = set(inline_solution_lines(cell.lines))
        if cell.block == "solution" and not has_inline_markers(cell.lines):
            secret_idx = set(range(len(cell.lines)))  # shipped whole by otter: all of it is secret
        for k, line in enumerate(cell.lines):
            if k in secret_idx:
                text = _LINE_SOLUTION.sub("", line)
                secrets.add_line(text, "solution line", f"{rel}:{cell.start + k}")
            elif not _INLINE_BEGIN.match(line) and not _INLINE_END.match(line):
                public.add(normalise(line))


def _test_code_lines(cell: MasterCell) -> list[tuple[int, str]]:
    """(index, line) of a test cell outside its TEST CONFIG docstring."""
    out, in_config = [], False
    for k, line in enumerate(cell.lines):
        if "BEGIN TEST CONFIG" in line:
            in_config = True
        if not in_config:
            out.append((k, line))
        if "END TEST CONFIG" in line:
            in_config = False
    return out


def _unparsed(cell: MasterCell) -> list[str]:
    """The cell's functions as otter writes them into test files (ast.unparse, no config docstring)."""
    try:
        tree = ast.parse("\n".join(ln for _, ln in _test_code_lines(cell)))
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
            normalise(line) for n, line in enumerate(text.splitlines(), start=1) if n not in inside
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
                norm = normalise(line)
                if not norm:
                    continue
                hit = secrets.lines.get(norm)
                if hit is None and norm.startswith("#"):  # a solution line pasted as a comment
                    hit = secrets.lines.get(normalise(norm.lstrip("#")))
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


# --------------------------------------------------------------------------------------------------
# Drift between master solution cells and library exercise regions


def _strip_prompts_and_magics(lines: list[str]) -> str:
    out, in_prompt = [], False
    for line in lines:
        if re.search(r"#\s*BEGIN PROMPT\s*$", line):
            in_prompt = True
            continue
        if re.search(r"#\s*END PROMPT\s*$", line):
            in_prompt = False
            continue
        if in_prompt or line.lstrip().startswith(("%", "!")):
            continue
        out.append(line)
    return "\n".join(out)


def master_definitions(path: Path) -> Iterator[tuple[str, ast.stmt, int]]:
    """Top-level defs/classes of a master's solution code (cells in a SOLUTION block or with inline
    markers). Yields (name, node, file line)."""
    for cell in read_master(path):
        if cell.cell_type != "code" or cell.block == "tests":
            continue
        if cell.block != "solution" and not has_inline_markers(cell.lines):
            continue
        try:
            tree = ast.parse(_strip_prompts_and_magics(cell.lines))
        except SyntaxError as e:
            raise ValueError(f"{path}:{cell.start + (e.lineno or 1) - 1}: {e.msg}") from e
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield node.name, node, cell.start + node.lineno - 1


def exercise_drift(root: Path) -> list[str]:
    """Definitions whose master solution cell and library exercise region differ.

    Inputs:
    - root: the checkout.

    Returns:
    - problems: one message per differing definition (with a diff of the two, unparsed without
      comments); empty when every shared definition has the same AST (docstrings included).
    """
    library = {}
    for path, stage, node, _ in library_regions(root):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            library[node.name] = (path, stage, node)
    problems = []
    for stage in STAGES + tuple(
        sorted(p.name for p in (root / "solutions").glob("*") if p.name not in STAGES)
    ):
        master = stage_dirs(stage, root).master
        if not master.is_file():
            continue
        for name, node, line in master_definitions(master):
            if name not in library:
                continue
            lpath, lstage, lnode = library[name]
            if ast.dump(node) == ast.dump(lnode):
                continue
            diff = "\n".join(
                difflib.unified_diff(
                    ast.unparse(lnode).splitlines(),
                    ast.unparse(node).splitlines(),
                    f"{lpath.relative_to(root)} (library, {lstage})",
                    f"{master.relative_to(root)}:{line} (master)",
                    lineterm="",
                )
            )
            problems.append(
                f"{master.relative_to(root)}:{line}: {name} differs from the exercise region in "
                f"{lpath.relative_to(root)}:{lnode.lineno}\n{diff}"
            )
    return problems
