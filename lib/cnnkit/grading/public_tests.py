"""Public tests never reproduce their exercise's solution: a build-time check on the masters.

A public test ships to students, so it may test properties, small hand-computed cases or numbers
fixed when the master was written, but never hold the reference algorithm of what it checks (a
student would copy it). For each question of a master this module compares the code of every public
test cell with the question's solution lines (inline `# BEGIN SOLUTION` regions and `# SOLUTION`
lines) as normalised token streams: local names become `V`, numbers `N`, strings `S`; keywords,
operators and attribute names (`.softmax`, `.amax`, `.exp`) stay, since they carry the algorithm.
Only "content" tokens weigh: attribute names, keywords and arithmetic or comparison operators
(`V[S], V[S], V[S]` or `(N, N, N, N)` are shapes, not an algorithm). A test is refused when one
shared run weighs `LONG_WEIGHT`, or when shared runs of at least `MIN_RUN` tokens cover `COVERED` of
the solution's weight (a short solution copied piecewise). Known limit: a solution of a line or two
(`x.grad[0].abs().amax(0)`) is too short to tell from an idiom; review such tests by hand.

Written by hand rather than with copydetect (pinned, used for similarity between students): its
winnowed fingerprints over whole files guarantee only runs longer than its window and count
characters of normalised code; here the snippets are a few lines each, every shared run must be
found, and the error must name the lines of both sides. An exact longest-common-run over two short
token lists (stdlib `tokenize`) does that in a few milliseconds per master.
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from cnnkit.grading import master as master_model
from cnnkit.grading.master import inline_solution_lines

LONG_WEIGHT = 4  # content tokens in one shared run: a copied expression, whatever its names
MIN_RUN = 7  # shorter shared runs are idioms (`with torch.no_grad():`, `x.shape[0]`)
COVERED = 0.5  # share of a solution's weight that shared runs may cover
_OPERATORS = frozenset(
    ["+", "-", "*", "/", "//", "%", "**", "@", "<", ">", "<=", ">=", "==", "!="]
    + ["+=", "-=", "*=", "/=", "@=", "~", "&", "|", "^", "<<", ">>"]
)


@dataclass(frozen=True)
class Token:
    text: str  # the normalised token
    line: int  # 1-based line in the master file
    weight: int  # 1 for an attribute name, keyword or operator, else 0


@dataclass(frozen=True)
class Reproduction:
    """A public test that shares too much code with its question's solution."""

    master: Path
    question: str
    test: str  # the test function's name (or the cell's first line)
    test_lines: tuple[int, int]  # first and last master line of the shared code, test side
    solution_lines: tuple[int, int]  # the same, solution side
    shared: int  # weight shared (the heaviest run, or the covered total)
    solution_weight: int

    def __str__(self) -> str:
        t0, t1 = self.test_lines
        s0, s1 = self.solution_lines
        return (
            f"{self.master}:{t0}-{t1}: public test {self.test} of {self.question} reproduces its "
            f"solution ({self.shared} of the solution's {self.solution_weight} content tokens, "
            f"as in lines {s0}-{s1}); test properties, a small hand-computed case or fixed numbers "
            "instead"
        )


def tokens(lines: list[tuple[int, str]]) -> list[Token]:
    """Normalised tokens of some source lines (not necessarily a whole statement or block).

    Inputs:
    - lines: (1-based master line, text) pairs; leading whitespace is dropped, so a body cut out of
      its function still tokenizes.

    Returns:
    - tokens: list of Token; comments, newlines and indentation are left out.
    """
    if not lines:
        return []
    numbers = [n for n, _ in lines]
    text = "\n".join(t.strip() for _, t in lines) + "\n"
    out: list[Token] = []
    prev = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind, s = tok.type, tok.string
            line = numbers[min(tok.start[0], len(numbers)) - 1]
            if kind in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT):
                continue
            if kind in (tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            weight = 1 if kind == tokenize.NAME or s in _OPERATORS else 0
            if kind == tokenize.NAME and not keyword.iskeyword(s) and prev != ".":
                s, weight = "V", 0
            elif kind == tokenize.NUMBER:
                s = "N"
            elif kind == tokenize.STRING or kind == getattr(tokenize, "FSTRING_START", -1):
                s = "S"
            out.append(Token(s, line, weight))
            prev = tok.string
    except (tokenize.TokenError, SyntaxError):
        pass  # an unterminated bracket at the end of a cut-out region: keep what was read
    return out


def _runs(a: list[Token], b: list[Token], min_run: int) -> list[tuple[int, int, int]]:
    """Maximal common runs of at least min_run tokens: (start in a, start in b, length)."""
    runs = []
    prev = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        cur = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1].text == b[j - 1].text:
                cur[j] = prev[j - 1] + 1
        for j in range(1, len(b) + 1):  # a run ends where it cannot be extended
            n = cur[j]
            if n >= min_run and (i == len(a) or j == len(b) or a[i].text != b[j].text):
                runs.append((i - n, j - n, n))
        prev = cur
    return runs


@dataclass
class _Question:
    name: str
    solution: list[tuple[int, str]]
    tests: list[tuple[str, list[tuple[int, str]]]]


def questions(master: Path) -> list[_Question]:
    """Each question of a master with its solution lines and its public test cells.

    Inputs:
    - master: solutions/<stage>/<stage>.py.

    Returns:
    - questions: list of _Question (name, solution (line, text) pairs, public tests as
      (test name, (line, text) pairs)).
    """
    model = master_model.read(master)
    by_name = {q.name: _Question(q.name, [], []) for q in model.questions}
    for cell in model.cells:
        current = by_name.get(cell.question)
        if current is None or cell.cell_type != "code":
            continue
        numbered = [(cell.line(i), line) for i, line in enumerate(cell.lines)]
        if cell.block == "tests":
            if not cell.hidden:
                m = re.search(r"^def (\w+)", cell.source, re.MULTILINE)
                current.tests.append((m.group(1) if m else cell.lines[0].strip(), numbered))
            continue
        current.solution += [numbered[i] for i in inline_solution_lines(cell.lines)]
    return list(by_name.values())


def reproductions(master: Path) -> list[Reproduction]:
    """Public tests of a master that reproduce their question's solution (see the module docstring).

    Inputs:
    - master: solutions/<stage>/<stage>.py.

    Returns:
    - found: one Reproduction per offending public test; empty when the master is clean.
    """
    found = []
    for q in questions(master):
        sol = tokens(q.solution)
        total = sum(t.weight for t in sol)
        if not total:
            continue
        for test, lines in q.tests:
            code = tokens(lines)
            runs = [
                (i, j, n, sum(t.weight for t in sol[j : j + n]))
                for i, j, n in _runs(code, sol, MIN_RUN)
            ]
            runs = [r for r in runs if r[3] >= 2]
            if not runs:
                continue
            covered = sum(
                sol[k].weight for k in {k for _, j, n, _ in runs for k in range(j, j + n)}
            )
            i, j, n, heaviest = max(runs, key=lambda r: r[3])
            if heaviest < LONG_WEIGHT and covered < COVERED * total:
                continue
            found.append(
                Reproduction(
                    master=master,
                    question=q.name,
                    test=test,
                    test_lines=(code[i].line, code[i + n - 1].line),
                    solution_lines=(sol[j].line, sol[j + n - 1].line),
                    shared=max(heaviest, covered),
                    solution_weight=total,
                )
            )
    return found


def problems(master: Path) -> list[str]:
    """The build's view: one message per public test that reproduces its solution."""
    return [str(r) for r in reproductions(master)]
