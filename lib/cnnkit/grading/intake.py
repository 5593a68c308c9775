"""Submission intake for `cnnkit grade`: the command line resolved into one submission per student,
and what is skipped, before anything runs (`cnnkit grade --dry-run` prints it).

Rules (README, "TAs: Collect"):
- a path that does not exist is an IntakeError: nothing is graded;
- a notebook or an otter export zip is one submission, named after the file;
- a folder is one student, named after the folder: its notebook is `<stage>.ipynb`, else the only
  notebook that is not a copy (`-Copy1`, ` (1)`, `copy`), else the only copy; other notebooks and
  `.ipynb_checkpoints` are ignored and listed; its other files are the artifacts. A student folder
  without a notebook of its own but with one nested folder that has one (an LMS download) uses that;
- a folder of student folders (two or more folders holding a notebook or zip) is a class: each
  folder is a student (one without a notebook gets a 0 row with the reason), and loose files beside
  them are skipped: a stray notebook is nobody's. A folder with one such folder is one student;
- a folder that holds several notebooks, none named `<stage>.ipynb` and no folders, is a folder of
  bare notebooks (one submission each), as `subs/*.ipynb` would be;
- junk (`__MACOSX`, dotfiles, files that are neither notebooks nor zips) is listed and skipped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

# copies Jupyter, browsers and file managers make: `x-Copy1.ipynb`, `x (1).ipynb`, `x copy.ipynb`
_COPY = re.compile(r"(-Copy\d*| \(\d+\)|[ _-]copy\d*)$", re.IGNORECASE)
_JUNK_DIRS = {"__MACOSX": "macOS archive metadata", "__pycache__": "Python cache"}
_JUNK_FILES = {"Thumbs.db": "Windows thumbnail cache", "desktop.ini": "Windows folder settings"}


class IntakeError(ValueError):
    """The command line names something that cannot be a submission (a missing path)."""


@dataclass
class Submission:
    """One gradebook row.

    - name: the gradebook's "file" column (a student folder's name, or a file's name).
    - path: the folder holding the notebook and its artifacts ("folder"), or the file.
    - kind: "ipynb", "folder", "zip", or "invalid" (a 0 row with `reason`).
    - notebook: the notebook graded inside a folder.
    - ignored: what the folder holds that is not graded, with why ("01_backprop-Copy1.ipynb (a copy)").
    - reason: why an "invalid" submission cannot be graded.
    """

    name: str
    path: Path
    kind: str
    notebook: str = ""
    ignored: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def files(self) -> list[str]:
        """The artifact files a folder submission carries (every file but its notebooks)."""
        if self.kind != "folder":
            return []
        files = [f for f in _entries(self.path) if f.is_file() and not _junk(f)]
        return [f.name for f in files if f.suffix != ".ipynb"]


@dataclass
class Skipped:
    """A path on the command line (or inside a folder) that is nobody's submission, and why."""

    path: Path
    reason: str


@dataclass
class Intake:
    """What a batch will grade and what it skips."""

    submissions: list[Submission] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _nfc(name: str) -> str:
    # macOS writes decomposed names (u + combining diaeresis): one student, one spelling
    return unicodedata.normalize("NFC", name)


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.iterdir(), key=lambda p: p.name)


def _junk(p: Path) -> str:
    """Why `p` is junk ("" when it is not)."""
    if p.name == ".ipynb_checkpoints":
        return "Jupyter checkpoints"
    if p.name.startswith("."):
        return "hidden file"
    if p.is_dir():
        return _JUNK_DIRS.get(p.name, "")
    if p.is_symlink():
        return "a link (never followed)"
    return _JUNK_FILES.get(p.name, "")


def _notebooks(folder: Path) -> list[Path]:
    return [p for p in _entries(folder) if p.suffix == ".ipynb" and p.is_file() and not _junk(p)]


def _gradable(folder: Path, depth: int = 2) -> bool:
    """True when `folder` holds a notebook or zip (looking `depth` folders down)."""
    for p in _entries(folder):
        if _junk(p):
            continue
        if p.is_file() and p.suffix in (".ipynb", ".zip"):
            return True
        if p.is_dir() and depth > 1 and _gradable(p, depth - 1):
            return True
    return False


def choose_notebook(stage: str, notebooks: list[str]) -> tuple[str | None, list[str]]:
    """The notebook a student folder is graded on, and the others with why they are ignored.

    Inputs:
    - stage: e.g. "01_backprop".
    - notebooks: the folder's notebook file names (checkpoints already excluded).

    Returns:
    - (chosen, ignored): chosen is None when the rule finds no single notebook.
    """
    wanted = f"{stage}.ipynb"
    originals = [n for n in notebooks if not _COPY.search(Path(n).stem)]
    copies = [n for n in notebooks if n not in originals]
    if wanted in notebooks:
        chosen = wanted
    elif len(originals) == 1:
        chosen = originals[0]
    elif not originals and len(copies) == 1:
        chosen = copies[0]
    else:
        return None, []
    ignored = [f"{n} ({'a copy' if n in copies else 'another notebook'})" for n in notebooks]
    return chosen, [text for n, text in zip(notebooks, ignored, strict=True) if n != chosen]


def _student(stage: str, folder: Path, name: str) -> Submission:
    """One student's folder (see the module docstring)."""
    where = folder
    ignored = [f"{p.name}/ ({_junk(p)})" for p in _entries(folder) if _junk(p)]
    nbs = _notebooks(folder)
    if not nbs:
        nested = [p for p in _entries(folder) if p.is_dir() and not _junk(p) and _notebooks(p)]
        zips = [p for p in _entries(folder) if p.suffix == ".zip" and p.is_file()]
        if len(nested) == 1:
            where, nbs = nested[0], _notebooks(nested[0])
            ignored += [f"{p.name}/ ({_junk(p)})" for p in _entries(where) if _junk(p)]
        elif len(zips) == 1 and not nested:
            return Submission(name, zips[0], "zip", ignored=ignored)
    if not nbs:
        held = ", ".join(p.name for p in _entries(folder) if not _junk(p))[:200] or "nothing"
        reason = f"no notebook found in the folder (it holds: {held})"
        return Submission(name, folder, "invalid", ignored=ignored, reason=reason)
    chosen, more = choose_notebook(stage, [p.name for p in nbs])
    if chosen is None:
        names = ", ".join(p.name for p in nbs)
        reason = f"several notebooks and none is {stage}.ipynb: {names}"[:300]
        return Submission(name, where, "invalid", ignored=ignored, reason=reason)
    ignored += more
    subdirs = [p for p in _entries(where) if p.is_dir() and not _junk(p)]
    ignored += [f"{p.name}/ (a folder inside the student's folder)" for p in subdirs]
    return Submission(name, where, "folder", notebook=chosen, ignored=ignored)


def _file(p: Path, intake: Intake) -> None:
    if p.suffix == ".ipynb":
        intake.submissions.append(Submission(_nfc(p.name), p, "ipynb"))
    elif p.suffix == ".zip":
        intake.submissions.append(Submission(_nfc(p.name), p, "zip"))
    else:
        intake.skipped.append(Skipped(p, "not a notebook, folder or zip"))


def _folder(stage: str, folder: Path, intake: Intake) -> None:
    entries = _entries(folder)
    junk = [Skipped(p, _junk(p)) for p in entries if _junk(p)]
    entries = [p for p in entries if not _junk(p)]
    students = [p for p in entries if p.is_dir() and _gradable(p)]
    if len(students) >= 2:
        intake.skipped += junk
        # a class folder: every folder is a student, loose files are nobody's
        for p in entries:
            if p.is_dir():
                intake.submissions.append(_student(stage, p, _nfc(p.name)))
            elif p.suffix in (".ipynb", ".zip"):
                why = "a loose file beside the student folders: put it in its student's folder"
                intake.skipped.append(Skipped(p, why))
            else:
                intake.skipped.append(Skipped(p, "not a notebook, folder or zip"))
        return
    loose = _notebooks(folder)
    if (
        len(loose) > 1
        and not students
        and choose_notebook(stage, [p.name for p in loose])[0] is None
    ):
        intake.skipped += junk
        for p in entries:  # a folder of bare notebooks
            if p.is_file():
                _file(p, intake)
            else:
                intake.skipped.append(Skipped(p, "a folder beside bare notebooks"))
        return
    # one student: their junk is listed with what their folder holds (Submission.ignored)
    intake.submissions.append(_student(stage, folder, _nfc(folder.resolve().name)))


def collect(stage: str, paths: list[Path]) -> Intake:
    """Resolve the command line into submissions (see the module docstring).

    Inputs:
    - stage: e.g. "01_backprop" (a student folder's notebook is chosen by it).
    - paths: notebooks, zips, student folders, class folders.

    Returns:
    - intake: submissions sorted by name (names made unique with their parent folder), and what
      was skipped; raises IntakeError when a path does not exist.
    """
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise IntakeError(f"no such file or folder: {', '.join(missing)} (nothing was graded)")
    intake = Intake()
    for p in map(Path, paths):
        if _junk(p) and p.name not in (".", ".."):
            intake.skipped.append(Skipped(p, _junk(p)))
        elif p.is_dir():
            _folder(stage, p, intake)
        else:
            _file(p, intake)
    # names are the gradebook key: make duplicates unique with their parent folder
    counts: dict[str, int] = {}
    for s in intake.submissions:
        counts[s.name] = counts.get(s.name, 0) + 1
    for s in intake.submissions:
        if counts[s.name] > 1:
            s.name = f"{_nfc(s.path.parent.name)}/{s.name}"
    intake.submissions.sort(key=lambda s: (s.name, str(s.path)))
    return intake


def describe(stage: str, intake: Intake, artifacts: list[str]) -> str:
    """The plan as text: who is graded on which notebook with which artifacts, and what is skipped.

    Inputs:
    - stage: e.g. "01_backprop".
    - intake: from `collect`.
    - artifacts: the files the stage's artifact cases read (e.g. ["twolayer_params.npz"]).

    Returns:
    - text: one line per submission, then one per skipped path.
    """
    subs = intake.submissions
    lines = [f"cnnkit grade {stage}: {len(subs)} submission(s), {len(intake.skipped)} skipped"]
    width = max([len(s.name) for s in subs] + [7])
    for s in subs:
        if s.kind == "invalid":
            what = f"0 points: {s.reason}"
        elif s.kind == "folder":
            have = s.files
            missing = [a for a in artifacts if a not in have]
            what = f"{s.path / s.notebook}"
            what += f"  artifacts: {', '.join(a for a in artifacts if a in have) or 'none'}"
            if missing:
                what += f"  MISSING: {', '.join(missing)}"
            extra = [f for f in have if f not in artifacts]
            if extra:
                what += f"  other files: {', '.join(extra)}"
        elif s.kind == "zip":
            what = f"{s.path}  (otter export zip: notebook and artifacts inside)"
        else:
            what = f"{s.path}  (a bare notebook: no artifacts"
            what += f", {', '.join(artifacts)} cases score 0)" if artifacts else ")"
        lines.append(f"  {s.name:<{width}}  {what}")
        for text in s.ignored:
            lines.append(f"  {'':<{width}}    ignored: {text}")
    if intake.skipped:
        lines.append("skipped (nobody's submission):")
        lines += [f"  {sk.path}  ({sk.reason})" for sk in intake.skipped]
    return "\n".join(lines)
