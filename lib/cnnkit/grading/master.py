"""One reading of a master: `solutions/<stage>/<stage>.py` (jupytext percent, otter-assign markers)
parsed once into a typed model that the build, the leak scan, the nbgrader export and the samples use.

A master is a sequence of cells (`# %%` headers). Raw cells whose first line is a block marker
(`# BEGIN QUESTION`, `# BEGIN SOLUTION`, `# BEGIN TESTS`, their ENDs, `# ASSIGNMENT CONFIG`) structure
it; every other cell is lecture content (markdown, code), an exercise (a code cell in a SOLUTION block
or with inline `# BEGIN SOLUTION` / `# END SOLUTION` / `... # SOLUTION` markers) or a test case (a code
cell in a TESTS block: a TEST CONFIG docstring (`# BEGIN TEST CONFIG` ... `# END TEST CONFIG`) with `points`
and `hidden`, then one `def test_...(names)`; a case without parameters is an artefact case: it grades
the files the notebook saved, not the kernel's names).

    m = master.read(path)            # Master: cells (with file lines), config, questions
    m.questions[0].cases             # Case: name, question, points, hidden, params, artifact
    m.exercises                      # Exercise: the names a solution cell defines
    m.written                        # Question with manual: true: prompt, model answer + rubric
    m.problems()                     # what makes it unbuildable, as 'file:line: message'
    m.notebook()                     # the master as a notebook (jupytext), for otter assign
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class BuildError(RuntimeError):
    """A master cannot be built safely (missing inline markers, no seed call, otter failed)."""


# Raw-cell block delimiters (first line of a raw cell).
BLOCK_RE = re.compile(r"^#\s*(BEGIN|END)\s+(SOLUTION|TESTS|QUESTION|PROMPT)\b")
CONFIG_RE = re.compile(r"^#\s*ASSIGNMENT CONFIG\b")
# Inline markers inside a code cell (otter strips what they enclose from the student notebook).
INLINE_BEGIN = re.compile(r"^(\s*)#\s*BEGIN SOLUTION( NO PROMPT)?\s*$")
INLINE_END = re.compile(r"^(\s*)#\s*END SOLUTION\s*$")
LINE_SOLUTION = re.compile(r"#\s?SOLUTION\s*$")
PROMPT_BEGIN = re.compile(r"^\s*#\s*BEGIN PROMPT\s*$")
PROMPT_END = re.compile(r"^\s*#\s*END PROMPT\s*$")
# A test cell's config docstring.
TEST_CONFIG = re.compile(
    r'^\s*"""\s*#\s*BEGIN TEST CONFIG(.*?)"""\s*#\s*END TEST CONFIG\s*$', re.S | re.M
)
SEED_CALL = "seed_everything("
# A master's exercise whose reference the library holds: the cell is this one line.
# `# EXERCISE cnnkit.numeric.layers.affine_forward` or, for a cell of several definitions that
# follow each other in the library, `# EXERCISE cnnkit.transfer.freeze_backbone, count_trainable`.
EXERCISE_REF = re.compile(r"^#\s*EXERCISE\s+(cnnkit(?:\.\w+)+)((?:\s*,\s*\w+)*)\s*$")

_HEADER = re.compile(r"^# %%(.*)$")
_BLOCKS = {"SOLUTION": "solution", "TESTS": "tests", "PROMPT": "prompt"}


@dataclass
class Cell:
    """One cell of a master with where it sits in the .py file.

    cell_type: "code", "markdown" or "raw"; start: 1-based file line of the cell's first content line;
    lines: the cell's text lines (raw/markdown uncommented); tags: cell tags; block: "solution",
    "tests", "prompt" or None (the enclosing raw-cell block); question: the enclosing question's name;
    hidden: a hidden test case; marker: (BEGIN|END, SOLUTION|TESTS|QUESTION|PROMPT) for a raw block
    delimiter, ("", "CONFIG") for the ASSIGNMENT CONFIG cell, else None.
    """

    cell_type: str
    start: int
    lines: list[str]
    tags: list[str] = field(default_factory=list)
    block: str | None = None
    question: str | None = None
    hidden: bool = False
    marker: tuple[str, str] | None = None
    # where it comes from: the file, and (for the lecture's own cells) its index among the file's
    # cells; None for a cell the build adds (a block marker, a case of the sibling file)
    path: Path | None = None
    index: int | None = None
    # leading lines that are not in the file (a sibling case's TEST CONFIG, written by the build)
    added: int = 0
    # an exercise the master names (`# EXERCISE cnnkit.module.name`): its text comes from the library
    ref: str | None = None

    @property
    def source(self) -> str:
        return "\n".join(self.lines)

    def line(self, k: int) -> int:
        """The 1-based file line of the cell's k-th line (0-based)."""
        return self.start + max(0, k - self.added)

    @property
    def is_solution(self) -> bool:
        """An exercise cell: in a SOLUTION block, or carrying inline solution markers."""
        return self.cell_type == "code" and (
            self.block == "solution" or (self.block != "tests" and has_inline_markers(self.lines))
        )

    @property
    def is_test(self) -> bool:
        return self.cell_type == "code" and self.block == "tests" and bool(self.source.strip())


@dataclass(frozen=True)
class Case:
    """One test case: a test function of a TESTS block.

    params: the names it receives from the student's kernel (none: an artefact case).
    """

    name: str
    question: str
    points: float
    hidden: bool
    params: tuple[str, ...]
    cell: Cell

    @property
    def artifact(self) -> bool:
        return not self.params


@dataclass(frozen=True)
class Exercise:
    """One solution cell: the top-level names it defines (name: the first, else "cell@LINE")."""

    name: str
    names: tuple[str, ...]
    question: str | None
    cell: Cell


@dataclass
class Question:
    """One `# BEGIN QUESTION` block: its config (name, points, ...), exercises and cases."""

    name: str
    config: dict
    start: int
    exercises: list[Exercise] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    # a written (manual) question's markdown: the prompt cells (question text, students see them)
    # and the SOLUTION block's markdown cells (model answer and rubric, never shipped)
    prompt_cells: list[Cell] = field(default_factory=list)
    solution_cells: list[Cell] = field(default_factory=list)

    @property
    def manual(self) -> bool:
        """A written question (`manual: true`): graded by people, never by cases."""
        return self.config.get("manual") is True

    @property
    def points(self) -> float:
        """The question's points: the sum of its cases' points (otter's rule for test files); a
        written question's come from its config."""
        if self.manual:
            try:
                return float(self.config.get("points") or 0)
            except (TypeError, ValueError):
                return 0.0
        return float(sum(c.points for c in self.cases))

    @property
    def prompt(self) -> str:
        """A written question's text as students see it (its markdown cells before SOLUTION)."""
        return "\n\n".join(c.source for c in self.prompt_cells)

    @property
    def model_answer(self) -> str:
        """A written question's model answer and rubric (the SOLUTION block's markdown)."""
        return "\n\n".join(c.source for c in self.solution_cells)

    @property
    def public(self) -> list[Case]:
        return [c for c in self.cases if not c.hidden]

    @property
    def hidden(self) -> list[Case]:
        return [c for c in self.cases if c.hidden]


@dataclass
class Master:
    """A parsed master. config: its own ASSIGNMENT CONFIG (the build merges the common one over it)."""

    path: Path
    stage: str
    text: str
    cells: list[Cell]
    config: dict
    questions: list[Question]
    orphans: list[str] = field(default_factory=list)

    @property
    def cases(self) -> list[Case]:
        return [c for q in self.questions for c in q.cases]

    @property
    def written(self) -> list[Question]:
        """The written questions (`manual: true`), in order."""
        return [q for q in self.questions if q.manual]

    @property
    def exercises(self) -> list[Exercise]:
        """Every solution cell, in order (inside questions or not)."""
        out = []
        for cell in self.cells:
            if cell.is_solution:
                names = tuple(definitions(strip_prompts_and_magics(cell.lines)))
                name = names[0] if names else f"cell@{cell.start}"
                out.append(Exercise(name, names, cell.question, cell))
        return out

    def question(self, name: str) -> Question:
        found = next((q for q in self.questions if q.name == name), None)
        if found is None:
            raise KeyError(f"{self.path}: no question {name!r}")
        return found

    def solution_definitions(self) -> Iterator[tuple[str, ast.stmt, int]]:
        """Top-level defs/classes of the solution cells: (name, node, file line)."""
        for cell in self.cells:
            if not cell.is_solution:
                continue
            try:
                tree = ast.parse(strip_prompts_and_magics(cell.lines))
            except SyntaxError as e:
                raise BuildError(f"{self.path}:{cell.start + (e.lineno or 1) - 1}: {e.msg}") from e
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    yield node.name, node, cell.start + node.lineno - 1

    def problems(self) -> list[str]:
        """What makes the master unbuildable: block nesting, solution cells without inline markers
        (otter would ship them whole), test cells otter cannot read, no seed call.

        Returns:
        - problems: 'file:line: message' strings; empty when the master is buildable.
        """
        return (
            structure_problems(self)
            + missing_inline_markers(self)
            + case_problems(self)
            + written_problems(self)
            + self.orphans
            + (
                []
                if SEED_CALL in self.text
                else [
                    f"{self.path}: no `cnnkit.seed_everything(SEED)` call; every master seeds "
                    "itself (otter's seed only covers numpy and random)"
                ]
            )
        )

    def notebook(self):
        """The master as a notebook (jupytext's percent reader: the one otter assign is fed).

        Returns:
        - nb: an nbformat node, one cell per Cell of this model (checked).
        """
        import jupytext
        import nbformat

        nb = jupytext.reads(self.text, fmt="py:percent")
        own = [c for c in self.cells if c.index is not None]
        if len(nb.cells) != len(own):
            raise BuildError(
                f"{self.path}: jupytext reads {len(nb.cells)} cells, cnnkit {len(own)}; "
                "a `# %%` header inside a string?"
            )
        lecture = nb.cells
        for c in self.cells:
            if c.ref is not None:
                lecture[c.index].source = c.source
        nb.cells = [
            lecture[c.index]
            if c.index is not None
            else (nbformat.v4.new_raw_cell if c.cell_type == "raw" else nbformat.v4.new_code_cell)(
                c.source
            )
            for c in self.cells
        ]
        return nb


# --------------------------------------------------------------------------------------------------
# Reading


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    return line[1:] if line.startswith("#") else line


def split_cells(text: str, path: Path | None = None) -> list[Cell]:
    """The cells of a jupytext percent script, each with its 1-based start line (a header before the
    first `# %%` is skipped; jupytext's blank separator lines are not part of a cell)."""
    cells: list[Cell] = []
    current: Cell | None = None
    for i, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m:
            rest = m.group(1)
            kind = "code"
            if "[markdown]" in rest or "[md]" in rest:
                kind = "markdown"
            elif "[raw]" in rest:
                kind = "raw"
            tags = re.findall(r'"([^"]+)"', rest.split("tags=", 1)[1]) if "tags=" in rest else []
            current = Cell(kind, i + 1, [], tags=tags, path=path, index=len(cells))
            cells.append(current)
        elif current is not None:
            current.lines.append(line if current.cell_type == "code" else _uncomment(line))
    for cell in cells:
        while cell.lines and not cell.lines[-1].strip():
            cell.lines.pop()
    return cells


def _yaml_after_first_line(cell: Cell) -> dict:
    try:
        data = yaml.safe_load("\n".join(cell.lines[1:])) if len(cell.lines) > 1 else None
    except yaml.YAMLError as e:
        raise BuildError(f"cell at line {cell.start}: bad YAML: {e}") from e
    return data if isinstance(data, dict) else {}


def cases_path(path: Path) -> Path:
    """The sibling file of a master that holds its cases outside the lecture: `<stage>.cases.py`."""
    return path.with_name(f"{path.stem}.cases.py")


def read(path: Path, stage: str | None = None) -> Master:
    """Parse a master and its sibling cases file.

    Inputs:
    - path: solutions/<stage>/<stage>.py (the lecture); its hidden and artefact cases may sit in
      solutions/<stage>/<stage>.cases.py (see read_cases).
    - stage: its stage name (default: the file's stem).

    Returns:
    - master: a Master whose cells are otter assign's input: the lecture's cells with the block
      markers the lecture leaves implicit added (SOLUTION around a question's code cell with inline
      solution markers, TESTS around its test cells) and each sibling case at the end of its
      question's tests; cells annotated with their block, question and hidden flag; questions with
      their exercises and cases. Raises BuildError for unreadable YAML in a config cell or a
      malformed cases file.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    extra = read_cases(cases_path(path))
    cells = _expand_references(split_cells(text, path), stage or path.stem, path)
    cells, orphans = _assemble(cells, extra, path)
    config: dict = {}
    questions: list[Question] = []
    block = question = None
    for cell in cells:
        first = cell.lines[0].strip() if cell.lines else ""
        if cell.cell_type == "raw" and CONFIG_RE.match(first):
            cell.marker = ("", "CONFIG")
            try:
                config = _yaml_after_first_line(cell)
            except BuildError as e:
                raise BuildError(f"{path}: {e}") from e
            continue
        m = BLOCK_RE.match(first) if cell.cell_type == "raw" else None
        if m:
            cell.marker = (m.group(1), m.group(2))
            if m.group(2) == "QUESTION":
                if m.group(1) == "BEGIN":
                    try:
                        qcfg = _yaml_after_first_line(cell)
                    except BuildError as e:
                        raise BuildError(f"{path}: {e}") from e
                    question = Question(str(qcfg.get("name", "")), qcfg, cell.start)
                    questions.append(question)
                else:
                    question = None
            elif m.group(2) in _BLOCKS:
                block = _BLOCKS[m.group(2)] if m.group(1) == "BEGIN" else None
            cell.question = question.name if question else None
            continue
        cell.block, cell.question = block, question.name if question else None
        if question is not None and question.manual and cell.cell_type == "markdown":
            (question.solution_cells if block == "solution" else question.prompt_cells).append(cell)
        if cell.is_test:
            cfg = test_config(cell.source)
            cell.hidden = bool(cfg["hidden"]) or _hidden_comment(cell.lines)
            if question is not None:
                question.cases += _cases(cell, question.name, cfg)
    master = Master(path, stage or path.stem, text, cells, config, questions, orphans)
    by_name = {q.name: q for q in questions}
    for ex in master.exercises:
        if ex.question in by_name:
            by_name[ex.question].exercises.append(ex)
    return master


def library_root(path: Path) -> Path:
    """The checkout of a master (solutions/<stage>/<stage>.py -> the folder holding lib/)."""
    return Path(path).resolve().parents[2]


def _expand_references(cells: list[Cell], stage: str, path: Path) -> list[Cell]:
    """Exercises the master names get the library's text (a cell that is one `# EXERCISE` line).

    The library holds each such reference once, inline markers included, inside a
    `# BEGIN EXERCISE <stage>` region of the master's own stage (a region is what the release and
    `cnnkit grade` stub out, so a reference outside one would ship its solution to students).
    """
    from cnnkit.grading.gate import find_regions

    root = library_root(path)
    for cell in cells:
        code = [ln for ln in cell.lines if ln.strip()]
        m = EXERCISE_REF.match(code[0]) if cell.cell_type == "code" and len(code) == 1 else None
        if m is None:
            continue
        module, _, name = m.group(1).rpartition(".")
        names = [name] + [n.strip() for n in m.group(2).split(",") if n.strip()]
        ref = f"{module}.{', '.join(names)}"
        file = root / "lib" / Path(*module.split("."))
        file = file / "__init__.py" if file.is_dir() else file.with_suffix(".py")
        where = f"{path}:{cell.start}: `# EXERCISE {ref}`"
        if not file.is_file():
            raise BuildError(f"{where}: no module {module} under {root / 'lib'}")
        text = file.read_text(encoding="utf-8")
        span = _definitions_span(text, names, stage, find_regions(text, str(file)))
        if span is None:
            raise BuildError(
                f"{where}: {file} has no top-level {', '.join(names)} (one after the other) inside "
                f"a `# BEGIN EXERCISE {stage}` region (outside one, its solution would ship to "
                "students)"
            )
        first, last = span
        cell.lines = text.splitlines()[first - 1 : last]
        cell.path, cell.start, cell.ref = file, first, ref
    return cells


def _definitions_span(text: str, names: list[str], stage: str, regions) -> tuple[int, int] | None:
    """(first, last) file lines of consecutive top-level defs/classes `names` in a region of
    `stage`: from the first one's first decorator to the line before the statement after the last
    one, or the region's end (so a trailing `# END SOLUTION` comment belongs to it), trailing blank
    lines left out. None when they are not there, in that order, one after the other."""
    tree = ast.parse(text)
    lines = text.splitlines()

    def top(node) -> int:
        return min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])

    for region in (r for r in regions if r.stage == stage):
        nodes = [n for n in tree.body if region.begin < n.lineno < region.end]
        found = [getattr(n, "name", None) for n in nodes]
        for k in range(len(nodes) - len(names) + 1):
            if found[k : k + len(names)] != names:
                continue
            end = k + len(names)
            last = top(nodes[end]) - 1 if end < len(nodes) else region.end - 1
            while last > top(nodes[k]) and not lines[last - 1].strip():
                last -= 1
            return top(nodes[k]), last
    return None


def _marker(what: str, near: Cell) -> Cell:
    """A raw block-marker cell the build adds (located at the cell it stands next to)."""
    return Cell("raw", near.start, [f"# {what}"], path=near.path)


def _is_test_source(lines: list[str]) -> bool:
    return bool(lines) and bool(TEST_CONFIG.match("\n".join(lines)))


def _assemble(
    cells: list[Cell], extra: dict[str, list[Cell]], path: Path
) -> tuple[list[Cell], list[str]]:
    """The lecture's cells with implicit block markers made explicit and the sibling cases placed.

    Inside a question, a code cell with inline solution markers outside an explicit block becomes a
    SOLUTION block, a run of test cells a TESTS block; the sibling cases of the question close its
    last TESTS block (or get one of their own before END QUESTION). Explicit blocks are kept as they
    are (the otter-assign format is a master too).

    Returns:
    - (cells, orphans): the cells, and "file:line: message" for sibling cases of no question.
    """
    out: list[Cell] = []
    question: str | None = None
    explicit: str | None = None  # an explicit block the lecture opened
    open_tests: Cell | None = None  # a TESTS block this function opened (its first cell)
    placed: set[str] = set()

    def close_tests(near: Cell, with_extra: bool) -> None:
        nonlocal open_tests
        if with_extra and question in extra and question not in placed:
            out.extend(extra[question])
            placed.add(question)
        out.append(_marker("END TESTS", near))
        open_tests = None

    for cell in cells:
        m = (
            BLOCK_RE.match(cell.lines[0].strip())
            if cell.cell_type == "raw" and cell.lines
            else None
        )
        if m and m.group(2) == "QUESTION":
            if open_tests is not None:
                close_tests(cell, with_extra=m.group(1) == "END")
            if m.group(1) == "END" and question in extra and question not in placed:
                out += [_marker("BEGIN TESTS", cell), *extra[question], _marker("END TESTS", cell)]
                placed.add(question)
            if m.group(1) == "BEGIN":
                qcfg = {}
                with contextlib.suppress(BuildError):  # read() reports it
                    qcfg = _yaml_after_first_line(cell)
                question = str(qcfg.get("name", ""))
            else:
                question = None
            out.append(cell)
            continue
        if m:
            if m.group(1) == "BEGIN":
                explicit = m.group(2)
            else:
                if m.group(2) == "TESTS" and question in extra and question not in placed:
                    out.extend(extra[question])
                    placed.add(question)
                explicit = None
            out.append(cell)
            continue
        implicit = question is not None and explicit is None and cell.cell_type == "code"
        if implicit and _is_test_source(cell.lines):
            if open_tests is None:
                out.append(_marker("BEGIN TESTS", cell))
                open_tests = cell
            out.append(cell)
            continue
        if open_tests is not None and cell.cell_type != "raw":
            close_tests(cell, with_extra=False)
        if implicit and has_inline_markers(cell.lines):
            out += [_marker("BEGIN SOLUTION", cell), cell, _marker("END SOLUTION", cell)]
            continue
        out.append(cell)
    orphans = [
        f"{c.path}:{c.start}: case for question {q!r}, which the master does not have"
        for q, cs in extra.items()
        if q not in placed
        for c in cs
    ]
    return out, orphans


def read_cases(path: Path) -> dict[str, list[Cell]]:
    """The cases of a master's sibling file, by question, as otter test cells.

    The file is Python that is never imported: a module docstring, then one function per case, each
    decorated `@case("qN", points=P, hidden=True)` (hidden defaults to false: a public artefact
    case); the function is written as in a master test cell and its TEST CONFIG is made from the
    decorator.

    Inputs:
    - path: solutions/<stage>/<stage>.cases.py (missing: no cases).

    Returns:
    - {question: [Cell]} in file order; raises BuildError naming the line of anything else.
    """
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as e:
        raise BuildError(f"{path}:{e.lineno}: {e.msg}") from e
    lines = text.splitlines()
    out: dict[str, list[Cell]] = {}
    for k, node in enumerate(tree.body):
        if k == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        decos = node.decorator_list if isinstance(node, ast.FunctionDef) else []
        deco = decos[0] if decos else None
        ok = (
            isinstance(deco, ast.Call)
            and getattr(deco.func, "id", None) == "case"
            and len(decos) == 1
            and len(deco.args) == 1
            and isinstance(deco.args[0], ast.Constant)
            and {kw.arg for kw in deco.keywords} <= {"points", "hidden"}
        )
        if not ok:
            first = min([node.lineno] + [d.lineno for d in decos])
            raise BuildError(
                f"{path}:{first}: expected a function decorated "
                '`@case("qN", points=P, hidden=True)` (nothing else belongs in a cases file)'
            )
        kw = {a.arg: a.value for a in deco.keywords}
        points = ast.get_source_segment(text, kw["points"]) if "points" in kw else "1"
        hidden = "hidden" in kw and ast.literal_eval(kw["hidden"]) is True
        config = [
            '""" # BEGIN TEST CONFIG',
            f"points: {points}",
            f"hidden: {'true' if hidden else 'false'}",
            '""" # END TEST CONFIG',
        ]
        body = lines[node.lineno - 1 : node.end_lineno]
        cell = Cell("code", node.lineno, config + body, path=path, added=len(config))
        out.setdefault(str(deco.args[0].value), []).append(cell)
    return out


def _hidden_comment(lines: list[str]) -> bool:
    first = next((ln for ln in lines if ln.strip()), "")
    return bool(re.match(r"^\s*#\s*HIDDEN\b", first))


def _cases(cell: Cell, question: str, cfg: dict) -> list[Case]:
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return []  # reported by case_problems
    return [
        Case(
            name=node.name,
            question=question,
            points=float(cfg["points"]),
            hidden=cell.hidden,
            params=tuple(
                a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            ),
            cell=cell,
        )
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
    ]


# --------------------------------------------------------------------------------------------------
# Cell-level helpers (shared by the build, the leak scan and the nbgrader export)


def test_config(source: str) -> dict:
    """A test cell's TEST CONFIG: {"points": float, "hidden": bool} (otter's defaults: 1, false)."""
    m = TEST_CONFIG.search(source)
    cfg = yaml.safe_load(m.group(1)) if m else None
    cfg = cfg if isinstance(cfg, dict) else {}
    return {"points": cfg.get("points", 1), "hidden": bool(cfg.get("hidden", False))}


def test_code_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(index, line) of a test cell outside its TEST CONFIG docstring."""
    out, in_config = [], False
    for k, line in enumerate(lines):
        if "BEGIN TEST CONFIG" in line:
            in_config = True
        if not in_config:
            out.append((k, line))
        if "END TEST CONFIG" in line:
            in_config = False
    return out


def definitions(source: str) -> dict[str, ast.stmt]:
    """Top-level defs and classes of a cell's source, by name ({} when it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    return {
        n.name: n
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def inline_solution_lines(lines: list[str]) -> list[int]:
    """Indices of the lines otter strips: inside inline BEGIN/END SOLUTION, or ending in `# SOLUTION`."""
    out, inside = [], False
    for k, line in enumerate(lines):
        if INLINE_BEGIN.match(line):
            inside = True
        elif INLINE_END.match(line):
            inside = False
        elif inside or LINE_SOLUTION.search(line):
            out.append(k)
    return out


def has_inline_markers(lines: list[str]) -> bool:
    """True if a cell carries otter's inline markers (without them otter ships a solution cell whole)."""
    return any(INLINE_BEGIN.match(ln) or LINE_SOLUTION.search(ln) for ln in lines)


def strip_prompts_and_magics(lines: list[str]) -> str:
    """A solution cell's code without otter prompt blocks and IPython magics (parseable Python)."""
    out, in_prompt = [], False
    for line in lines:
        if PROMPT_BEGIN.match(line):
            in_prompt = True
            continue
        if PROMPT_END.match(line):
            in_prompt = False
            continue
        if in_prompt or line.lstrip().startswith(("%", "!")):
            continue
        out.append(line)
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# Problems


def missing_inline_markers(master: Master) -> list[str]:
    """Solution cells that lack inline markers, as 'file:line: message' strings."""
    return [
        f"{master.path}:{cell.start}: solution cell has no inline `# BEGIN SOLUTION` / "
        "`# END SOLUTION` (or `# SOLUTION`) markers; otter would ship it whole"
        for cell in master.cells
        if cell.cell_type == "code"
        and cell.block == "solution"
        and cell.source.strip()
        and not has_inline_markers(cell.lines)
    ]


def structure_problems(master: Master) -> list[str]:
    """Block nesting errors (otter's own message only gives a cell number), as 'file:line: message'."""
    problems, question, block = [], None, None
    for cell in master.cells:
        if cell.marker is None or cell.marker[1] == "CONFIG":
            continue
        begin, what = cell.marker[0] == "BEGIN", cell.marker[1]
        where = f"{master.path}:{cell.start}"
        if what == "QUESTION":
            if begin and question is not None:
                problems.append(f"{where}: BEGIN QUESTION inside the question opened at {question}")
            elif not begin and question is None:
                problems.append(f"{where}: END QUESTION without BEGIN QUESTION")
            question = where if begin else None
        elif what in ("SOLUTION", "TESTS"):
            if question is None:
                problems.append(
                    f"{where}: {cell.marker[0]} {what} outside a question "
                    "(add a `# BEGIN QUESTION` raw cell with `name: qN` before it)"
                )
            if begin and block is not None:
                problems.append(f"{where}: BEGIN {what} inside an open {block} block")
            block = what if begin else None
    if question is not None:
        problems.append(f"{question}: BEGIN QUESTION is never closed")
    return problems


def case_problems(master: Master) -> list[str]:
    """Test cells that do not parse, as 'file:line: message' strings."""
    out = []
    for cell in master.cells:
        if not cell.is_test:
            continue
        try:
            ast.parse(cell.source)
        except SyntaxError as e:
            out.append(f"{master.path}:{cell.start + (e.lineno or 1) - 1}: test cell: {e.msg}")
    return out


WRITTEN_NAME = re.compile(r"^w\d+$")


def written_problems(master: Master) -> list[str]:
    """Written questions otter would build wrongly or the grader could not grade, as
    'file:line: message' strings: a name not `wN`, no positive `points`, no prompt, no model answer
    (a SOLUTION block with a markdown cell: otter puts the answer cell in its place), test cells."""
    out = []
    for q in master.questions:
        where = f"{master.path}:{q.start}"
        if not q.manual:
            if WRITTEN_NAME.match(q.name):
                out.append(
                    f"{where}: question {q.name}: `wN` names are written questions (manual: true)"
                )
            continue
        if not WRITTEN_NAME.match(q.name):
            out.append(
                f"{where}: written question {q.name!r}: name it w1, w2, ... (distinct from qN)"
            )
        if q.points <= 0:
            out.append(f"{where}: written question {q.name}: needs `points:` (a positive number)")
        if not q.prompt.strip():
            out.append(
                f"{where}: written question {q.name}: no markdown prompt before its SOLUTION"
            )
        if not q.model_answer.strip():
            out.append(
                f"{where}: written question {q.name}: no SOLUTION block with a markdown cell "
                "(model answer and rubric; otter replaces it by the student's answer cell)"
            )
        if q.cases:
            out.append(
                f"{where}: written question {q.name}: has test cases (graded by people only)"
            )
    return out
