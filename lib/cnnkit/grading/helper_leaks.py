"""Library helpers outside exercise regions never hold a stage's solution.

The gate stubs only `# BEGIN EXERCISE <stage>` regions; a helper outside every region ships to every
stage's students in the clear. If such a helper repeats the solution of an exercise (a stage-03
training step copied into `training.default_step`), a stage-01 student receives stage 03's answer,
and its lines, being public library code, even stop counting as secrets for the leak scan. This
check compares each top-level function and method outside the regions, line by line (the leak
scan's unit: whitespace collapsed, trivial lines ignored), with the solution lines of every exercise
(one master definition, or one cell's loose `# SOLUTION` lines). A helper that repeats most of an
exercise's lines holds its solution; a few shared lines are the field's idioms (`model.eval()`,
`loss.backward()`, `optimizer.step()` appear in every torch loop) and are allowed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from cnnkit.grading import master
from cnnkit.grading.gate import find_regions
from cnnkit.grading.leaks import LeakError, _public_line_numbers, nontrivial
from cnnkit.grading.leaks import normalise_line as normalise
from cnnkit.grading.master import inline_solution_lines

MIN_SHARED = 3  # solution lines a helper must repeat (fewer are idioms: `with torch.no_grad():`),
# or all of a two-line exercise's
SHARE = 0.6  # ... and this share of the exercise's solution lines
_DEF = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)")


@dataclass(frozen=True)
class HelperLeak:
    """A library definition outside every exercise region that repeats solution lines."""

    path: str  # relative to the checkout
    line: int
    name: str
    stage: str  # the master whose solution it repeats
    exercise: str  # the master definition (or cell) of that solution
    shared: list[str]  # master file:line of each repeated solution line
    total: int  # the exercise's nontrivial solution lines

    def __str__(self) -> str:
        more = ", ..." if len(self.shared) > 4 else ""
        return (
            f"{self.path}:{self.line}: {self.name} repeats {len(self.shared)} of the "
            f"{self.total} solution lines of {self.exercise} in {self.stage} "
            f"({', '.join(self.shared[:4])}{more}) outside an exercise region; put it in "
            f"`# BEGIN EXERCISE {self.stage}` ... `# END EXERCISE` so earlier stages' library "
            "stubs it"
        )


def solution_lines(root: Path) -> dict[tuple[str, str], dict[str, str]]:
    """Nontrivial normalised solution lines of each exercise of each master.

    Inputs:
    - root: the checkout.

    Returns:
    - lines: {(stage, exercise): {normalised line: "solutions/<stage>/<stage>.py:<line>"}}; the
      exercise is the top-level def/class holding the lines, else "cell at line <n>".
    """
    root = Path(root).resolve()
    out: dict[tuple[str, str], dict[str, str]] = {}
    for path in sorted((root / "solutions").glob("*/*.py")):
        stage = path.parent.name
        if path.stem != stage:
            continue
        for cell in master.read(path, stage).cells:
            if cell.cell_type != "code" or cell.block == "tests":
                continue
            owner = {}
            current = f"cell at line {cell.start}"
            for k, line in enumerate(cell.lines):
                if m := _DEF.match(line):
                    current = m.group(1)
                owner[k] = current
            for k in inline_solution_lines(cell.lines):
                norm = normalise(cell.lines[k].split("# SOLUTION")[0])
                if nontrivial(norm):
                    found = out.setdefault((stage, owner[k]), {})
                    where = cell.path if cell.path is not None else path
                    found.setdefault(norm, f"{where.relative_to(root)}:{cell.line(k)}")
    return out


def _definitions(tree: ast.Module):
    """Top-level functions and the methods of top-level classes."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}.{sub.name}", sub


def findings(root: Path, gated: bool = False) -> list[HelperLeak]:
    """Library definitions outside exercise regions that repeat a master's solution lines.

    Inputs:
    - root: the checkout (reads solutions/*/*.py and lib/cnnkit/**.py except grading/).
    - gated: look inside the exercise regions instead (the helpers gated because they repeat an
      exercise, such as training.default_step; a region definition is either a master's exercise
      or such a helper).

    Returns:
    - leaks: one HelperLeak per (definition, stage) over the thresholds; empty when clean.
    """
    root = Path(root).resolve()
    solutions = solution_lines(root)
    lib = root / "lib" / "cnnkit"
    out = []
    for path in sorted(lib.rglob("*.py")):
        rel = path.relative_to(lib)
        if "__pycache__" in rel.parts or rel.parts[0] == "grading":
            continue
        text = path.read_text(encoding="utf-8")
        inside = {n for r in find_regions(text, str(path)) for n in range(r.begin, r.end + 1)}
        lines = text.splitlines()
        for name, node in _definitions(ast.parse(text, filename=str(path))):
            if (node.lineno in inside) != gated:
                continue
            keep = _public_line_numbers(node)
            body = {
                normalise(lines[n - 1])
                for n in range(node.lineno, node.end_lineno + 1)
                if n not in keep
            }
            where = str(path.relative_to(root))
            for (stage, exercise), known in solutions.items():
                shared = sorted(known[b] for b in body & set(known))
                if exercise in (name, name.split(".")[0]) and all(
                    s.startswith(where + ":") for s in shared
                ):
                    continue  # the exercise's one source itself (a master names it), no helper
                enough = min(MIN_SHARED, len(known)) if len(known) >= 2 else MIN_SHARED
                if len(shared) >= enough and len(shared) >= SHARE * len(known):
                    out.append(
                        HelperLeak(where, node.lineno, name, stage, exercise, shared, len(known))
                    )
    return out


def check(root: Path) -> None:
    """Raise LeakError listing every helper that repeats a solution (see findings)."""
    found = findings(Path(root))
    if found:
        raise LeakError(
            f"{len(found)} library helper(s) outside exercise regions repeat a solution:\n  "
            + "\n  ".join(str(f) for f in found)
        )
