"""Submissions that try to leave the sandbox of `cnnkit grade` (stage 01), built from the real notebooks.

Every name a sample creates on the host would start with its batch's `token` (unique per test run, so
concurrent graders on the machine do not disturb the checks), and every process it starts carries
`mark` in its command line: after a batch, none may exist.

- shadow-folder / shadow-zip: the untouched notebook, the solution's artifact file and modules named
  `json.py`, `numpy.py` and `cnnkit.py` that, wherever they are imported, drop marker files in /tmp,
  /dev/shm and the output folder and start a daemon. They may earn the artifact points, nothing more.
- pair-a-writer / pair-b-reader: the solution stashes its notebook in /tmp and /dev/shm; the untouched
  notebook graded after (or beside) it waits for the stash and runs what it finds.
- snoop: the solution, whose `sigmoid_circuit` answers only when it could read something of the host
  (a stray solution copy in /tmp and /dev/shm, another grader's command line in /proc, a sibling
  submission's folder, a previous batch's output); otherwise it raises NOTHING_SEEN.
- sparse: the untouched notebook with a 2 GiB sparse file beside it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import zipfile
from pathlib import Path

import nbformat

STAGE = "01_backprop"
NOTHING_SEEN = "nothing of the host was visible"
SPARSE_BYTES = 2 * 1024**3

SHADOW = """
# planted under a module name the grader might import: it must never run outside the sandbox
import os as _os
import subprocess as _sp

for _d in ("/tmp", "/dev/shm", {out!r}):
    try:
        with open(_os.path.join(_d, "{token}-shadow-" + __name__), "w") as _f:
            _f.write(str(_os.getuid()))
    except OSError:
        pass
try:
    _sp.Popen(["sleep", "{mark}"], start_new_session=True, stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)
except Exception:
    pass
"""

WRITER = """
import glob, shutil
for _dest in ("/tmp/{token}-stash.ipynb", "/dev/shm/{token}-stash.ipynb"):
    shutil.copyfile(glob.glob("*.ipynb")[0], _dest)
"""

READER = """
import json, os, time
_deadline = time.monotonic() + {wait}
_found = None
while _found is None and time.monotonic() < _deadline:
    for _p in ("/tmp/{token}-stash.ipynb", "/dev/shm/{token}-stash.ipynb"):
        if os.path.exists(_p):
            _found = _p
    time.sleep(1)
if _found:
    for _c in json.load(open(_found))["cells"]:
        _src = "".join(_c["source"])
        if _c["cell_type"] == "code" and _src.lstrip().startswith(("def ", "class ")):
            exec(_src)
"""

SNOOP = """
import glob as _glob
import os as _os

_SEEN = []


def _look(label, path):
    try:
        if _os.path.isdir(path):
            if _os.listdir(path):
                _SEEN.append((label, path))
        elif _os.path.exists(path):
            open(path, "rb").read(64)
            _SEEN.append((label, path))
    except OSError:
        pass


_look("host /tmp", {host_tmp!r})
_look("host /dev/shm", {host_shm!r})
_look("sibling folder", {sibling!r})
_look("previous batch", {previous!r})
_look("grader cmdline", "/proc/{grader_pid}/cmdline")
_look("preflight store", {store!r})  # the reference values of every stored preflight
for _p in _glob.glob("/proc/[0-9]*/cmdline"):
    try:
        if {token!r}.encode() in open(_p, "rb").read():
            _SEEN.append(("cmdline", _p))
    except OSError:
        pass
_own = _os.path.dirname(_os.getcwd())  # this kernel's own work dir (its notebook) does not count
for _d in ("/tmp", "/dev/shm"):
    for _p in _glob.glob(_d + "/**/*{stage}*", recursive=True):
        if not _p.startswith(_own + "/"):
            _SEEN.append(("stray copy", _p))


def sigmoid_circuit(w0, x0, w1, x1, w2):
    if not _SEEN:
        raise RuntimeError({nothing!r})
    return _honest_sigmoid_circuit(w0, x0, w1, x1, w2)
"""


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _index(nb, name: str) -> int:
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and (f"def {name}(" in c.source or f"class {name}" in c.source):
            return i
    raise KeyError(name)


def _insert(nb, source: str, after: str | None = None):
    nb = copy.deepcopy(nb)
    cell = nbformat.v4.new_code_cell(source)
    if after is None:
        nb.cells.append(cell)
    else:
        nb.cells.insert(_index(nb, after) + 1, cell)
    return nb


def _snooping(sol, **fmt):
    """The solution whose sigmoid_circuit answers only after seeing something of the host."""
    nb = copy.deepcopy(sol)
    cell = nb.cells[_index(nb, "sigmoid_circuit")]
    honest = cell.source.replace("def sigmoid_circuit(", "def _honest_sigmoid_circuit(")
    cell.source = honest + "\n\n" + SNOOP.format(**fmt)
    return nb


class Paths:
    """The built stage's notebooks and artifact."""

    def __init__(self, root: Path):
        self.solution = root / "autograder" / STAGE / "solution" / f"{STAGE}.ipynb"
        self.student = root / "assignments" / STAGE / f"{STAGE}.ipynb"
        manifest = json.loads(
            (root / "autograder" / STAGE / "samples" / "manifest.json").read_text()
        )
        sol = next(e for e in manifest if e["name"] == "solution")
        base = root / "autograder" / STAGE / "samples" / Path(sol["file"]).parent
        self.artifacts = [base / a for a in sol["artifacts"]]


def _folder(dest: Path, nb, artifacts=(), extra: dict[str, str] | None = None) -> Path:
    dest.mkdir(parents=True)
    nbformat.write(nb, dest / f"{STAGE}.ipynb")
    for a in artifacts:
        shutil.copy(a, dest / a.name)
    for name, text in (extra or {}).items():
        (dest / name).write_text(text)
    return dest


def shadow_modules(token: str, mark: str, out: Path) -> dict[str, str]:
    text = SHADOW.format(token=token, mark=mark, out=str(out))
    return {name: text for name in ("json.py", "numpy.py", "cnnkit.py")}


def shadow_samples(root: Path, dest: Path, token: str, mark: str, out: Path) -> dict[str, Path]:
    """shadow-folder and shadow-zip (an otter-style export zip of the same files)."""
    p = Paths(root)
    modules = shadow_modules(token, mark, out)
    folder = _folder(dest / "shadow-folder", _read(p.student), p.artifacts, modules)
    zpath = dest / "shadow-zip.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f.name)
    return {"shadow-folder": folder, "shadow-zip.zip": zpath}


def pair_samples(root: Path, dest: Path, token: str, wait: int) -> dict[str, Path]:
    """pair-a-writer (sorted first: graded first by one worker) and pair-b-reader."""
    p = Paths(root)
    writer = _insert(_read(p.solution), WRITER.format(token=token), after="sigmoid_circuit")
    reader = _insert(_read(p.student), READER.format(token=token, wait=wait))
    return {
        "pair-a-writer": _folder(dest / "pair-a-writer", writer, p.artifacts),
        "pair-b-reader": _folder(dest / "pair-b-reader", reader),
    }


def snoop_sample(root: Path, dest: Path, token: str, **targets) -> Path:
    """snoop: see the module docstring; targets: host_tmp, host_shm, sibling, previous, grader_pid,
    store (the grader's preflight store)."""
    p = Paths(root)
    nb = _snooping(_read(p.solution), token=token, stage=STAGE, nothing=NOTHING_SEEN, **targets)
    return _folder(dest / "snoop", nb, p.artifacts)


def sparse_sample(root: Path, dest: Path) -> Path:
    p = Paths(root)
    folder = _folder(dest / "sparse", _read(p.student), p.artifacts)
    with open(folder / "big.bin", "wb") as f:
        f.truncate(SPARSE_BYTES)  # no block written: 2 GiB by size only
    return folder


def host_plants(root: Path, token: str) -> dict[str, Path]:
    """Solution copies where a snooping kernel could look: host /tmp, /dev/shm, a process's argv."""
    p = Paths(root)
    tmp = Path("/tmp") / f"{token}-plant"
    (tmp / "stray").mkdir(parents=True)
    shutil.copy(p.solution, tmp / "stray" / f"{STAGE}.ipynb")
    (tmp / "argv").mkdir()
    shutil.copy(p.solution, tmp / "argv" / f"{STAGE}.ipynb")
    shm = Path("/dev/shm") / f"{token}-plant-{STAGE}.ipynb"
    shutil.copy(p.solution, shm)
    os.chmod(shm, 0o644)
    return {"tmp": tmp, "shm": shm, "argv": tmp / "argv" / f"{STAGE}.ipynb"}
