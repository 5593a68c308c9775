"""The preflight's result, kept in the machine's store and reused while nothing that decides it changed.

The reference run (the solution graded in "reference" mode, `runs.reference_run`) is both the
preflight (the solution must score full marks here) and the source of the reference values every
submission is judged against. It costs a whole notebook run before anyone is graded. Its outcome is
decided by: the stage's build (the autograder zip, the solution folder), the grader's code
(`grade.grader_version`), the limits, the grading seed (hidden cases draw their inputs from it), the
interpreter and its installed packages, and the data the cases read. A batch with all of these
unchanged reuses the stored records instead of running the solution again, whatever its output
folder: a resumed batch, `--force NAME`, `--append` of late submissions, a rerun after a crash, the
shards of one class graded on one machine (one `--seed`), a regrade into a new folder with the
same `--seed`.

Stored in the machine's store (`store_dir()`: env CNNKIT_PREFLIGHT_STORE, else
$XDG_CACHE_HOME/cnnkit-grading/preflight, ~/.cache/... by default; 0700), one folder per key (the
probe's `records.json`, `.npy` files and `environment.json`, copied after a passing preflight only),
the `KEEP` most recently used kept. It lies outside everything the sandbox shows (bwrap binds an
allow-list that never holds it; the unshare fallback covers it, as it covers the output folder), so
no kernel can read a reference value or plant an entry; entries are read back with the probe's own
bounded, pickle-free readers. A new output folder gets a fresh seed, hence a new key, unless
`--seed` is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cnnkit.grading.records import load_environment, load_records

STORE_ENV = "CNNKIT_PREFLIGHT_STORE"
HELDOUT = "heldout"
KEEP = 16  # entries kept: a few stages, seeds and limit sets of one course's current builds


@dataclass(frozen=True)
class Reference:
    """A stored reference run: the kernel cases' records and the watched functions' digests."""

    records: dict
    pristine: dict
    heldout: Path | None = None  # the artifact cases' held-out features (runs._keep_heldout)


def store_dir() -> Path | None:
    """The machine's store of passing preflights (see the module docstring), created 0700.

    Returns:
    - store: the folder holding one folder per key; None where it cannot be created (a read-only
      home): every batch then runs its preflight.
    """
    env = os.environ.get(STORE_ENV)
    if env:
        store = Path(env).expanduser().resolve()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
        store = base / "cnnkit-grading" / "preflight"
    try:
        store.mkdir(parents=True, exist_ok=True, mode=0o700)
        store.chmod(0o700)
    except OSError:
        return None
    return store


def environment_digest() -> str:
    """sha256 of the interpreter and its installed distributions (name and version each).

    Returns:
    - digest: hex; changes when Python, numpy, torch, otter or the kit itself is reinstalled at
      another version.
    """
    from importlib import metadata

    dists = sorted(
        f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata
    )
    text = json.dumps([os.path.realpath(sys.executable), sys.version, dists])
    return hashlib.sha256(text.encode()).hexdigest()


def data_digest(paths: list[Path]) -> str:
    """sha256 of the names, sizes and modification times of the files below `paths` (the data
    the cases read: a replaced weight file or dataset changes it).

    Inputs:
    - paths: files or folders (missing ones count as missing).

    Returns:
    - digest: hex.
    """
    h = hashlib.sha256()
    for top in sorted(str(p) for p in paths):
        h.update(top.encode() + b"\0")
        entries = [Path(top)] if os.path.isfile(top) else sorted(Path(top).rglob("*"))
        for f in entries:
            try:
                st = f.stat()
            except OSError:
                continue
            if f.is_file():
                h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


def data_sources() -> list[Path]:
    """Where the data the cases read comes from on the host: torch's weight files of the kit's
    models (TORCH_HOME, else ~/.cache/torch), the datasets' folders of the kit's cache (CNNKIT_DATA,
    else ~/.cache/cnnkit; not the rest of it, which other tools write to) and Debian's datasets
    (/usr/share/datasets). See runs/batch for what the sandbox gets of them."""
    from cnnkit.data import list_datasets
    from cnnkit.data._common import cache_dir
    from cnnkit.pretrained import KNOWN

    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    torch_home = Path(os.environ.get("TORCH_HOME") or Path(cache) / "torch").expanduser()
    found = torch_home / "hub" / "checkpoints"
    models = tuple(f"{model}-" for model, *_ in KNOWN.values())
    weights = [f for f in (found.iterdir() if found.is_dir() else []) if f.name.startswith(models)]
    datasets = [cache_dir() / row["name"] for row in list_datasets()]
    return [*weights, *datasets, Path("/usr/share/datasets")]


def key(plan, sources: list[Path]) -> str:
    """The preflight's cache key: everything that decides the reference run's outcome.

    Inputs:
    - plan: grade.Plan (stage, ag.zip_hash, ag.reference_hash, grader, limits, seed).
    - sources: the data the cases read, where they come from on the host (see data_digest).

    Returns:
    - key: hex sha256.
    """
    limits = asdict(plan.limits)
    limits.pop("hide")  # temp and submission paths: they differ per batch, the run does not
    limits.pop("read_only")
    text = json.dumps(
        [
            plan.stage,
            plan.ag.zip_hash,
            plan.ag.reference_hash,
            plan.grader,
            limits,
            plan.seed,
            environment_digest(),
            data_digest(sources),
            shutil.which("bwrap"),  # the sandbox the solution ran in
            os.geteuid() == 0,  # root: the kernel runs as its own uid
            platform.machine(),  # a store in a home shared by several machines
            # the kit's switches the kernel inherits (CNNKIT_CI shortens the notebooks)
            sorted((k, v) for k, v in os.environ.items() if k.startswith("CNNKIT_")),
        ],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def load(store: Path, entry_key: str, into: Path) -> Reference | None:
    """The stored reference run under `entry_key`, copied to `into` and read from there, or None
    (missing, incomplete or unreadable: run it again).

    Inputs:
    - store: the folder of entries (`store_dir()`).
    - entry_key: from `key`.
    - into: a new folder of the batch's own (the copy outlives an eviction by another batch).

    Returns:
    - reference: Reference, or None.
    """
    folder = Path(store) / entry_key
    try:
        with _locked(store):
            # stored whole (a rename) and evicted under this lock: both files or no entry
            if not all((folder / f).is_file() for f in ("records.json", "environment.json")):
                return None
            shutil.copytree(folder, into, symlinks=True)
            os.utime(folder)  # most recently used: the last to be evicted
        records = load_records(into)
    except OSError:
        return None
    if not records or any(r["error"] for r in records.values()):
        return None  # only passing preflights are stored; anything else is not ours
    return Reference(records, load_environment(into), into / HELDOUT)


def store(store: Path, entry_key: str, records_dir: Path, heldout: Path | None = None) -> None:
    """Keep a passing reference run's probe output under `entry_key` (a copy, then a rename under
    the store's lock; an entry another batch stored meanwhile under the same key is kept), then
    evict all but the `KEEP` most recently used entries. A store that cannot be written (a full
    disk) keeps nothing.

    Inputs:
    - store: the folder of entries (`store_dir()`).
    - entry_key: from `key`.
    - records_dir: the reference probe's output directory (records.json, .npy, environment.json).
    - heldout: the reference artifact cases' held-out features (.npz files), kept in `heldout/`.
    """
    base = Path(store)
    tmp = None
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry_key}.", dir=base))
        for src, dest, pattern in ((records_dir, tmp, "*"), (heldout, tmp / HELDOUT, "*.npz")):
            for f in Path(src).glob(pattern) if src is not None and Path(src).is_dir() else []:
                if f.is_file() and not f.is_symlink():
                    dest.mkdir(exist_ok=True)
                    shutil.copyfile(f, dest / f.name)
        with _locked(base):
            if not (base / entry_key).exists():
                os.replace(tmp, base / entry_key)
            _evict(base)
    except OSError:
        pass
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _locked(store: Path):
    from filelock import FileLock

    return FileLock(str(Path(store) / ".lock"), timeout=120)


def _evict(base: Path) -> None:
    """All but the KEEP most recently used entries, and copies a killed batch left a day ago."""
    entries = [e for e in base.iterdir() if not e.name.startswith(".")]
    entries.sort(key=_last_used, reverse=True)
    stale = [e for e in base.iterdir() if e.name.startswith(".") and e.is_dir()]
    stale = [e for e in stale if _last_used(e) < time.time() - 86400]
    for old in entries[KEEP:] + stale:
        shutil.rmtree(old, ignore_errors=True)


def _last_used(entry: Path) -> float:
    try:
        return entry.stat().st_mtime
    except OSError:  # evicted meanwhile by a batch beside this one
        return 0.0
