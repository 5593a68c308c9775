"""The output folder of `cnnkit grade`: one run at a time, whose stage and seed, atomic files, names.

- `OutputFolder.open(out, stage)` takes an exclusive lock (`OUT/.lock`, released by the OS when the
  process dies, so a killed run never leaves a stale lock) and reads the folder's state
  (`OUT/.cnnkit-grade.json`: stage, seed, the gradebook's rows). A folder holding another stage's
  results, or files that are not a gradebook's, is refused.
- `write_text` replaces a file atomically (a temp file in the same folder, then `os.replace`): a run
  killed mid-write leaves the previous file whole.
- `file_names` maps student names to collision-free file names that keep Unicode.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

STATE = ".cnnkit-grade.json"
LOCK = ".lock"
# what a gradebook folder holds (anything else in a non-empty -o means it is not one)
_OURS = {STATE, LOCK, ".cache", "final_grades.csv", "results.json", "report.md", "feedback"}


class OutputFolderError(RuntimeError):
    """The output folder cannot be used (another run holds it, another stage's results)."""


@dataclass
class State:
    """What a gradebook folder remembers between runs.

    - stage: the stage its results belong to.
    - seed: the grading seed its rows were judged with (reruns reuse it: cached and new rows agree).
    - rows: the gradebook's rows (grade.py's row dicts), for `--append`.
    """

    stage: str
    seed: int | None
    rows: list[dict] = field(default_factory=list)


def write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) atomically."""
    path = Path(path)
    # not mkstemp: its 0600 would make the gradebook unreadable to the course's other staff
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class OutputFolder:
    """A locked output folder; use as a context manager (`with OutputFolder.open(...) as folder`)."""

    def __init__(self, path: Path, stage: str, lock: FileLock, state: State | None):
        self.path, self.stage, self._lock, self.state = path, stage, lock, state

    @classmethod
    def open(cls, out: Path, stage: str) -> OutputFolder:
        """Create or open `out` for grading `stage`, locked against a concurrent run.

        Inputs:
        - out: the output folder (created when missing).
        - stage: the stage to be graded into it.

        Returns:
        - folder: holding the lock until closed; `state` is None for a new folder. Raises
          OutputFolderError when another run holds it, it holds another stage's results, or it
          is a non-empty folder that is not a gradebook.
        """
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise OutputFolderError(f"-o {out} is a file, not a folder")
        if out.is_dir():
            foreign = sorted(p.name for p in out.iterdir() if p.name not in _OURS)
            if foreign and not any((out / f).exists() for f in (STATE, "results.json", ".cache")):
                raise OutputFolderError(
                    f"-o {out} is not empty and holds no cnnkit grades ({', '.join(foreign[:5])}):"
                    " pick a new folder"
                )
        out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(out / LOCK), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise OutputFolderError(
                f"another `cnnkit grade` is writing to {out} right now (it holds {out / LOCK}); "
                "wait for it to finish or pick another -o"
            ) from None
        try:
            state = read_state(out)
            if state is not None and state.stage != stage:
                raise OutputFolderError(
                    f"{out} holds the results of {state.stage}, not {stage}: pick another -o"
                )
        except BaseException:
            lock.release()
            raise
        return cls(out, stage, lock, state)

    def save(self, state: State) -> None:
        """Record the folder's state (before grading: an interrupted run resumes with its seed)."""
        self.state = state
        write_text(self.path / STATE, json.dumps(_state_json(state), ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._lock.release()

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _state_json(state: State) -> dict:
    return {"stage": state.stage, "seed": state.seed, "rows": state.rows}


def read_state(out: Path) -> State | None:
    """The state of a gradebook folder, or None (no state, or unreadable).

    A folder without a state file (written before there were any, or by `cnnkit merge`) has its
    stage and seed in results.json; its rows are not kept (--append starts from none).
    """
    path = Path(out) / STATE
    if not path.is_file():
        return _results_state(out)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return State(str(data["stage"]), int(data["seed"]), list(data.get("rows") or []))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _results_state(out: Path) -> State | None:
    """Stage and seed from a results.json (a seed of None: a fresh one is drawn)."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads((Path(out) / "results.json").read_text(encoding="utf-8"))
        seed = data.get("seed")
        return State(str(data["stage"]), int(seed) if seed is not None else None, [])
    return None


def _safe(name: str) -> str:
    """A file name for a student name: Unicode letters kept, separators and control chars replaced."""
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r'[\x00-\x1f\x7f<>:"/\\|?*]+', "_", name).strip(" ._")
    return name[:120] or "submission"


def file_names(names: list[str]) -> dict[str, str]:
    """Collision-free file stems for student names (`müller` and `mäller` stay apart).

    Inputs:
    - names: the gradebook's names (unique).

    Returns:
    - stems: {name: stem}; names whose safe form collides (case-insensitively, for macOS and
      Windows file systems) get a short hash of the full name appended.
    """
    safe = {n: _safe(n) for n in names}
    groups: dict[str, list[str]] = {}
    for n, s in safe.items():
        groups.setdefault(s.casefold(), []).append(n)
    out = {}
    for n, s in safe.items():
        if len(groups[s.casefold()]) > 1:
            s = f"{s}-{hashlib.sha256(n.encode()).hexdigest()[:8]}"
        out[n] = s
    return out
