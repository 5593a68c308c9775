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

Then, per submission, its files: `materialize` writes what is graded (the notebook and the artifact
files) into the run's folder and `content_hash` keys its cache entry, both bounded (size, number of
files) before anything is read; a submission past the bounds is a SubmissionError (a 0 row).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cnnkit.grading.errors import SubmissionError

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


# ------------------------------------------------------- a submission's files (bounded) --


# Everything a submission brings is bounded before it is read: its bytes (a zip's, unpacked; a folder's,
# by size, so a sparse file counts what it claims) and its number of files.
MAX_ZIP_BYTES = 512 * 1024**2
MAX_SUBMISSION_BYTES = MAX_ZIP_BYTES
MAX_SUBMISSION_FILES = 256
_CHUNK = 1 << 20


def _graded_files(sub: Submission) -> list[Path]:
    """A folder submission's files that go to the grader: its chosen notebook and the artifacts.

    Refused (SubmissionError) past MAX_SUBMISSION_FILES or MAX_SUBMISSION_BYTES, counted by size
    before anything is read: a sparse file counts what it claims.
    """
    files = [
        f
        for f in sorted(sub.path.iterdir())
        if f.is_file()
        and not f.is_symlink()
        and not f.name.startswith(".")
        and (f.suffix != ".ipynb" or f.name == sub.notebook)
    ]
    if len(files) > MAX_SUBMISSION_FILES:
        raise SubmissionError(f"folder holds more than {MAX_SUBMISSION_FILES} files")
    if sum(f.stat().st_size for f in files) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"folder too large (over {MAX_SUBMISSION_BYTES // 1024**2} MiB)")
    return files


def _file_digest(path: Path) -> bytes:
    """sha256 of a file, read in chunks (a large file costs no memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.digest()


def content_hash(sub: Submission) -> str:
    """sha256 over the submission's files (names and bytes), read in chunks.

    A submission past the limits (size, number of files) is not read at all: its key covers its
    names and sizes (it gets a 0 row saying why, cached like any row).
    """
    h = hashlib.sha256(sub.kind.encode())
    if sub.kind == "folder":
        h.update(sub.notebook.encode() + b"\0")
        try:
            files = _graded_files(sub)
        except SubmissionError:
            for f in sorted(sub.path.iterdir()):
                with contextlib.suppress(OSError):
                    h.update(f"{f.name}\0{f.lstat().st_size}\0".encode())
            return h.hexdigest()
        for f in files:
            h.update(f.name.encode() + b"\0" + _file_digest(f))
    elif sub.path.is_file():
        if sub.path.stat().st_size > MAX_SUBMISSION_BYTES:
            h.update(f"{sub.path.name}\0{sub.path.stat().st_size}".encode())
        else:
            h.update(_file_digest(sub.path))
    return h.hexdigest()


def _copy_limited(src, dest: Path, budget: int) -> int:
    """Copy a readable stream into dest, refusing more than `budget` bytes; return bytes written."""
    n = 0
    with open(dest, "wb") as out:
        while chunk := src.read(_CHUNK):
            n += len(chunk)
            if n > budget:
                raise SubmissionError(
                    f"submission too large (over {MAX_SUBMISSION_BYTES // 1024**2} MiB)"
                )
            out.write(chunk)
    return n


def materialize(sub: Submission, dest: Path) -> str:
    """Write the submission's notebook and artifact files into `dest`; return the notebook's name.

    Inputs:
    - sub: the submission.
    - dest: an empty directory.

    Returns:
    - name: the notebook file name inside dest; raises SubmissionError for unusable submissions
      (not a notebook, folder or zip; past MAX_SUBMISSION_BYTES or MAX_SUBMISSION_FILES).
    """
    dest.mkdir(parents=True, exist_ok=True)
    budget = MAX_SUBMISSION_BYTES
    if sub.kind == "invalid":
        raise SubmissionError(sub.reason or f"not a notebook, folder or zip: {sub.path.name}")
    if sub.kind == "ipynb":
        with open(sub.path, "rb") as f:
            _copy_limited(f, dest / "submission.ipynb", budget)
        return "submission.ipynb"
    if sub.kind == "folder":
        for f in _graded_files(sub):
            with open(f, "rb") as src:
                budget -= _copy_limited(src, dest / f.name, budget)
        return sub.notebook
    try:
        with zipfile.ZipFile(sub.path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
                raise SubmissionError("zip too large")
            if len(infos) > MAX_SUBMISSION_FILES:
                raise SubmissionError(f"the zip holds more than {MAX_SUBMISSION_FILES} files")
            nbs = []
            for i in infos:
                name = Path(i.filename).name
                parts = Path(i.filename).parts
                if not name or name.startswith(".") or "__MACOSX" in parts or ".." in parts:
                    continue
                if name.endswith(".ipynb"):
                    nbs.append(name)
                with zf.open(i) as src:  # the sizes a zip declares are checked as it unpacks
                    budget -= _copy_limited(src, dest / name, budget)
    except zipfile.BadZipFile as err:
        raise SubmissionError(f"not a valid zip file: {err}") from err
    if len(nbs) != 1:
        raise SubmissionError(f"the zip must hold exactly one notebook, found {len(nbs)}")
    return nbs[0]
