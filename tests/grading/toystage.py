"""The toy stage of the grader's tests, built by `cnnkit build` (the same `cnnkit.grading.build.build`).

Its sources, `toy/00_toy/` (a master in the lecture format, `00_toy.cases.py` with the hidden and
artefact cases, `samples.yml` with the sample submissions), are authored exactly as a course stage's
`solutions/<stage>/`, but the stage is no stage of the course (`cnnkit.grading.stage.COURSE` does not
list it; `Stage.named("00_toy")` is a stage of index 0): it is built under a temp checkout that
`make_root` lays out (pyproject.toml, a copy of the real lib/cnnkit, solutions/00_toy/), so
students never see it.

tests/grading/conftest.py builds it once per pytest run (the session fixture `toy`, with its
samples); tests that need a broken master or library make their own root with `make_root`.
"""

from __future__ import annotations

import copy
import shutil
import zipfile
from pathlib import Path

import nbformat

from cnnkit.grading.paths import repo_root, stage_dirs

SOURCE = Path(__file__).resolve().parent / "toy" / "00_toy"
STAGE = "00_toy"
MASTER = SOURCE / f"{STAGE}.py"
CASES = SOURCE / f"{STAGE}.cases.py"


def make_root(dest: Path, master: str | None = None, cases: str | None = None) -> Path:
    """A minimal checkout: pyproject, a copy of the real library and the toy stage's sources.

    Inputs:
    - dest: the folder to create.
    - master, cases: texts that replace 00_toy.py / 00_toy.cases.py in the copy (None: as they are).

    Returns:
    - root: dest, ready for `cnnkit.grading.build.build([STAGE], root)`.
    """
    real = repo_root()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(real / "pyproject.toml", dest / "pyproject.toml")
    shutil.copytree(
        real / "lib" / "cnnkit",
        dest / "lib" / "cnnkit",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    sol = dest / "solutions" / STAGE
    shutil.copytree(SOURCE, sol, ignore=shutil.ignore_patterns("__pycache__"))
    if master is not None:
        (sol / f"{STAGE}.py").write_text(master, encoding="utf-8")
    if cases is not None:
        (sol / f"{STAGE}.cases.py").write_text(cases, encoding="utf-8")
    return dest


def build(dest: Path, samples: bool = True) -> Path:
    """`make_root(dest)`, then `cnnkit build 00_toy [--samples]` on it; returns the root."""
    from cnnkit.grading.build import build as build_stages

    root = make_root(dest)
    build_stages([STAGE], root, samples=samples)
    return root


def samples(root: Path) -> dict[str, Path]:
    """The built samples of the toy stage by name: autograder/00_toy/samples/<name>/ (a folder with
    the notebook and, for solution-based samples, toy_params.npz)."""
    folder = stage_dirs(STAGE, root).samples
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_dir()}


def derived(root: Path, dest: Path) -> dict[str, Path]:
    """Submissions samples.yml cannot describe, made from the built ones into dest:

    - foreign: the solution sample with a conda kernelspec (as a student's Anaconda saves it);
    - reader.ipynb: the untouched notebook plus a cell that copies the solution's functions from the
      grader's disk (the built solution notebook's absolute path under root);
    - solution.ipynb, untouched.ipynb: the bare notebooks of those samples (no artefact file).

    Returns:
    - {name: path} (a file's name ends in .ipynb, as its row in the gradebook does).
    """
    dirs = stage_dirs(STAGE, root)
    built = samples(root)
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def notebook(name: str):
        return nbformat.read(built[name] / f"{STAGE}.ipynb", as_version=4)

    foreign = notebook("solution")
    foreign.metadata["kernelspec"] = {
        "name": "conda-env-dl-py",
        "display_name": "Python [conda env:dl]",
        "language": "python",
    }
    shutil.copytree(built["solution"], dest / "foreign")
    nbformat.write(foreign, dest / "foreign" / f"{STAGE}.ipynb")
    out["foreign"] = dest / "foreign"

    reader = copy.deepcopy(notebook("untouched"))
    reader.cells.append(
        nbformat.v4.new_code_cell(
            "import json\n"
            f"for c in json.load(open({str(dirs.solution_nb)!r}))['cells']:\n"
            "    if c['cell_type'] == 'code' and ''.join(c['source']).startswith('def '):\n"
            "        exec(''.join(c['source']))\n"
        )
    )
    nbformat.write(reader, dest / "reader.ipynb")
    out["reader.ipynb"] = dest / "reader.ipynb"
    for name in ("solution", "untouched"):
        shutil.copy(built[name] / f"{STAGE}.ipynb", dest / f"{name}.ipynb")
        out[f"{name}.ipynb"] = dest / f"{name}.ipynb"
    return out


def hidden_sources(root: Path) -> list[str]:
    """Source lines of the hidden cases in the built autograder zip (never in reports or feedback)."""
    lines = []
    with zipfile.ZipFile(stage_dirs(STAGE, root).autograder_zip) as zf:
        for n in zf.namelist():
            if n.startswith("tests/"):
                text = zf.read(n).decode()
                for block in text.split("@test_case")[1:]:
                    if "hidden=True" in block.splitlines()[0]:
                        lines += [ln.strip() for ln in block.splitlines()[1:] if len(ln) > 30]
    return lines
