"""CIFAR-10 (Krizhevsky 2009): 50k train / 10k test RGB 32x32 images of 10 classes.

No package carries it, so it is downloaded once: `cifar-10-python.tar.gz` (the official "python version"),
MD5-verified after the download, extracted into the cache, read from its pickled batches. Mirrors: those in
env CNNKIT_CIFAR10_MIRRORS (space- or comma-separated; a URL ending in '/' gets the file name appended)
first, since a course that sets one wants its own server used, then the official Toronto URL.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from cnnkit.data import _common

NAME = "cifar10"
ARCHIVE = "cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]
META = "batches.meta"
MEMBERS = TRAIN_BATCHES + TEST_BATCHES + [META]
# Written last, after a complete extraction: a folder without it is never read.
MARKER = ".complete"
N_VAL = 5000
SHAPE = (3, 32, 32)
HOW_TO_GET = (
    "`cnnkit data fetch cifar10` with internet (about 170 MB from {url}), or set "
    "CNNKIT_CIFAR10_MIRRORS to a mirror, or put {archive} (MD5 {md5}) into {cache} and run "
    "`cnnkit data fetch cifar10` to verify and unpack it"
)


def cache_path() -> Path:
    return _common.cache_dir() / NAME


def _ready(d: Path) -> bool:
    return (d / MARKER).is_file() and all((d / m).is_file() for m in MEMBERS)


def locate() -> tuple[Path, str] | None:
    """Where the extracted batches are now, offline: (folder, source description) or None."""
    d = cache_path() / FOLDER
    return (d, "cache") if _ready(d) else None


def how_to_get() -> str:
    return HOW_TO_GET.format(url=OFFICIAL_URL, archive=ARCHIVE, md5=MD5, cache=cache_path())


def mirrors_from_env() -> list[str]:
    return _common.env_urls("CNNKIT_CIFAR10_MIRRORS")


def _full_url(url: str) -> str:
    return url + ARCHIVE if url.endswith("/") else url


def _extract(archive: Path, dest_root: Path) -> Path:
    """Unpack the batches into dest_root/FOLDER atomically (temp folder, then rename)."""
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_root))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            wanted = {f"{FOLDER}/{m}": m for m in MEMBERS}
            found = set()
            for member in tar.getmembers():
                if member.name in wanted and member.isfile():
                    src = tar.extractfile(member)
                    with src, open(tmp / wanted[member.name], "wb") as out:
                        shutil.copyfileobj(src, out)
                    found.add(member.name)
            missing = sorted(set(wanted) - found)
            if missing:
                raise _common.DatasetUnavailable(
                    f"cifar10: {archive.name} lacks {', '.join(missing)}; it is not the CIFAR-10 "
                    f"python archive. Get it with: {how_to_get()}"
                )
        (tmp / MARKER).write_text("extracted from " + ARCHIVE + "\n")
        final = dest_root / FOLDER
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        return final
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def fetch(
    mirrors: list[str] | None = None, md5: str = MD5, official: bool = True, progress: bool = True
) -> Path:
    """Make the extracted batches available in the cache (verify + unpack a cached archive, or download).

    Inputs:
    - mirrors: extra archive URLs tried first (default: env CNNKIT_CIFAR10_MIRRORS).
    - md5: expected MD5 of the archive (tests serve a small archive and pass its MD5 here).
    - official: also try the official Toronto URL after the mirrors.
    - progress: show a download progress bar.

    Returns:
    - the folder cifar-10-batches-py with the batches.
    """
    found = locate()
    if found is not None:
        return found[0]
    root = cache_path()
    urls = [_full_url(u) for u in (mirrors_from_env() if mirrors is None else mirrors)]
    if official:
        urls.append(OFFICIAL_URL)
    archive = _common.cached_archive(NAME, root / ARCHIVE, md5, urls, how_to_get(), progress)
    root.mkdir(parents=True, exist_ok=True)
    try:
        folder = _extract(archive, root)
    finally:
        # The extracted batches are the cache; keeping the 170 MB archive too would double it.
        archive.unlink(missing_ok=True)
    return folder


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        # Written by Python 2: latin1 maps its byte strings 1:1; the file's MD5 was verified on download.
        return pickle.load(f, encoding="latin1")


@lru_cache(maxsize=2)
def _read(folder: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    batches = TRAIN_BATCHES if part == "train" else TEST_BATCHES
    xs, ys = [], []
    for b in batches:
        d = _unpickle(Path(folder) / b)
        xs.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, *SHAPE))
        ys.append(np.asarray(d["labels"], dtype=np.int64))
    X, y = np.concatenate(xs), np.concatenate(ys)
    return _common.read_only(X, y)


def class_names(folder: Path) -> list[str]:
    return list(_unpickle(folder / META)["label_names"])


def load(split: str = "train", n: int | None = None, seed: int = 0) -> _common.Split:
    """CIFAR-10 split as float32 (N, 3, 32, 32) in [0, 1]: 'train' 45k, 'val' 5k, 'test' 10k images.

    val is a fixed slice of the official training set (`_common.official_split`); `n` and `seed` pick
    a deterministic class-balanced subset, as in `cnnkit.data.load`. Returns Split(X, y, class_names).
    """
    _common.check_split(split)
    folder = fetch()
    X, y = _common.official_split(split, lambda part: _read(str(folder), part), N_VAL)
    return _common.finish(X, y, class_names(folder), n, seed)
