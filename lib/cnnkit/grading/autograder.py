"""A built stage's autograder, read for `cnnkit grade`: its cases (public and hidden), questions and
points from otter's zip, the solution notebook, and the artifact files the cases check.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cnnkit.grading.errors import GradingError


@dataclass
class Case:
    name: str
    question: str
    points: float
    hidden: bool
    params: list[str]
    source: str

    @property
    def artifact(self) -> bool:
        return not self.params


@dataclass
class Autograder:
    stage: str
    zip_path: Path
    zip_hash: str
    cases: list[Case]
    questions: list[str]
    solution: Path
    # the files the notebook saves and a submission carries (the solution folder's besides its
    # notebook): the only ones the artifact cases get to see
    artifacts: list[str] = field(default_factory=list)
    # the solution folder's files (notebook and trained artefacts): the reference run's inputs
    reference_hash: str = ""

    def possible(self) -> dict[str, float]:
        return {q: sum(c.points for c in self.cases if c.question == q) for q in self.questions}


def _literal(node: ast.AST, default):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return default


def parse_test_file(text: str, filename: str = "<test>") -> tuple[str, list[Case]]:
    """Cases of one otter exception-format test file.

    Inputs:
    - text: the file (`name = "q1"`, `@test_case(points=.., hidden=..)` functions).
    - filename: for error messages.

    Returns:
    - (question, cases): the question name and its cases in file order.
    """
    tree = ast.parse(text, filename=filename)
    question = Path(filename).stem
    cases = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "name" for t in node.targets
        ):
            question = str(_literal(node.value, question))
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        deco = [
            d
            for d in node.decorator_list
            if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "test_case"
        ]
        if not deco:
            continue
        kw = {k.arg: _literal(k.value, None) for k in deco[0].keywords}
        node.decorator_list = []
        params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
        cases.append(
            Case(
                name=node.name,
                question=question,
                points=float(kw.get("points") or 0.0),
                hidden=bool(kw.get("hidden") or False),
                params=params,
                source=ast.unparse(node),
            )
        )
    return question, cases


def load_autograder(stage: str, root: Path) -> Autograder:
    """Read a stage's autograder zip and locate its solution notebook.

    Inputs:
    - stage: e.g. "01_backprop".
    - root: the kit's checkout (autograder/<stage>/autograder.zip, .../solution/<stage>.ipynb).

    Returns:
    - autograder: Autograder with every case (public and hidden), question order as in the zip.
    """
    base = Path(root) / "autograder" / stage
    zip_path = base / "autograder.zip"
    solution = base / "solution" / f"{stage}.ipynb"
    if not zip_path.exists():
        raise GradingError(f"{zip_path} not found: run `cnnkit build {stage}` first")
    if not solution.exists():
        raise GradingError(f"{solution} not found: run `cnnkit build {stage}` first")
    data = zip_path.read_bytes()
    cases, questions = [], []
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py"))
        for n in names:
            q, cs = parse_test_file(zf.read(n).decode("utf-8"), n)
            questions.append(q)
            cases.extend(cs)
    questions.sort(key=_natural)
    if not cases:
        raise GradingError(f"{zip_path} holds no test cases")
    return Autograder(
        stage,
        zip_path,
        hashlib.sha256(data).hexdigest(),
        cases,
        questions,
        solution.resolve(),
        artifact_names(base),
        _folder_digest(solution.parent),
    )


def _folder_digest(folder: Path) -> str:
    """sha256 over a folder's files (names and bytes, read in chunks), not recursing."""
    h = hashlib.sha256()
    for f in sorted(x for x in Path(folder).iterdir() if x.is_file()):
        h.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def artifact_names(base: Path) -> list[str]:
    """The artifact file names of a built stage: the solution folder's files besides the notebook,
    and the "solution" sample's artifacts (older builds keep them only there).

    Inputs:
    - base: autograder/<stage>.

    Returns:
    - names: sorted file names (no folders).
    """
    names = {f.name for f in (base / "solution").iterdir() if f.is_file() and f.suffix != ".ipynb"}
    with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
        for entry in json.loads((base / "samples" / "manifest.json").read_text()):
            if entry.get("name") == "solution":
                names |= {Path(str(a)).name for a in entry.get("artifacts", [])}
    return sorted(n for n in names if n and not n.startswith("."))


def _natural(text: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]
