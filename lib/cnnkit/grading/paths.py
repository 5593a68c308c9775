"""Where the kit's trees live: the checkout root and, per stage, its master, built and sample folders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def repo_root() -> Path:
    """The kit's checkout: env CNNKIT_ROOT if set, else the checkout that holds this lib/cnnkit.

    Returns:
    - root: absolute Path of the folder holding solutions/, assignments/, autograder/ and lib/.
    """
    env = os.environ.get("CNNKIT_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve()
    # lib/cnnkit/grading/paths.py -> the checkout is three floors up from the package folder.
    for parent in here.parents:
        if (parent / "lib" / "cnnkit").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    raise RuntimeError(
        "cnnkit: cannot find the kit's checkout (no pyproject.toml above lib/cnnkit); "
        "set CNNKIT_ROOT to the folder that holds solutions/ and lib/"
    )


@dataclass(frozen=True)
class StageDirs:
    """Every path that belongs to one stage.

    master: solutions/<stage>/<stage>.py (jupytext percent source, the one thing authors edit)
    master_nb: solutions/<stage>/<stage>.ipynb (built from master, committed without outputs)
    samples_yml: solutions/<stage>/samples.yml
    assignment: assignments/<stage>/ (student notebook, Colab variant, public tests)
    autograder: autograder/<stage>/ (autograder.zip, otter_config.json, solution/, samples/)
    """

    stage: str
    root: Path
    solution_dir: Path
    master: Path
    master_nb: Path
    samples_yml: Path
    assignment: Path
    autograder: Path

    @property
    def student_nb(self) -> Path:
        return self.assignment / f"{self.stage}.ipynb"

    @property
    def colab_nb(self) -> Path:
        return self.assignment / f"{self.stage}-colab.ipynb"

    @property
    def public_tests(self) -> Path:
        return self.assignment / "tests"

    @property
    def autograder_zip(self) -> Path:
        return self.autograder / "autograder.zip"

    @property
    def solution_nb(self) -> Path:
        return self.autograder / "solution" / f"{self.stage}.ipynb"

    @property
    def samples(self) -> Path:
        return self.autograder / "samples"


def stage_dirs(stage: str, root: Path | None = None) -> StageDirs:
    """The paths of one stage under `root` (default: repo_root()).

    Inputs:
    - stage: a stage name such as "01_backprop" (any name works, so tests can use toy stages).
    - root: the checkout; default repo_root().

    Returns:
    - dirs: a StageDirs.
    """
    root = Path(root) if root is not None else repo_root()
    sol = root / "solutions" / stage
    return StageDirs(
        stage=stage,
        root=root,
        solution_dir=sol,
        master=sol / f"{stage}.py",
        master_nb=sol / f"{stage}.ipynb",
        samples_yml=sol / "samples.yml",
        assignment=root / "assignments" / stage,
        autograder=root / "autograder" / stage,
    )
