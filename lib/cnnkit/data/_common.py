"""What every dataset of the registry shares: the cache dir, the switches, the error, the split logic,
and the one way an archive reaches the cache (verified when found, downloaded when not)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cnnkit.data._download import DownloadError, download, file_digest

# Fixed forever: changing it would move images between train and val for everyone.
VAL_SEED = 20240531
SPLITS = ("train", "val", "test")


class DatasetUnavailable(RuntimeError):
    """A dataset is not on this machine and could not be fetched; the message says how to get it."""


class Split(NamedTuple):
    """One split of a dataset (unpacks as `X, y, class_names = load(...)`).

    - X: float32 (N, C, H, W) in [0, 1].
    - y: int64 (N,) class indices.
    - class_names: list of C_cls strings, `class_names[y[i]]` names image i.
    """

    X: np.ndarray
    y: np.ndarray
    class_names: list


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def cache_dir() -> Path:
    """The one cache directory: env CNNKIT_DATA, else $XDG_CACHE_HOME/cnnkit, else ~/.cache/cnnkit."""
    env = os.environ.get("CNNKIT_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "cnnkit"


def system_files_enabled() -> bool:
    """False when env CNNKIT_NO_SYSTEM_DATA is set (tests, or to force the cache)."""
    return not _flag("CNNKIT_NO_SYSTEM_DATA")


def downloads_enabled() -> bool:
    """False when env CNNKIT_OFFLINE is set: nothing is fetched from the network."""
    return not _flag("CNNKIT_OFFLINE")


def env_urls(variable: str) -> list[str]:
    """The URLs listed in environment variable `variable`, space- or comma-separated (mirrors)."""
    return [u for u in re.split(r"[\s,]+", os.environ.get(variable, "")) if u]


def require_downloads(dataset: str, how_to_get: str) -> None:
    """Raise DatasetUnavailable (saying how to get `dataset`) when downloads are off (CNNKIT_OFFLINE)."""
    if not downloads_enabled():
        raise DatasetUnavailable(
            f"{dataset} is not available offline and downloads are off (CNNKIT_OFFLINE). "
            f"Get it with: {how_to_get}"
        )


def cached_archive(
    dataset: str, archive: Path, md5: str, urls: list[str], how_to_get: str, progress: bool = True
) -> Path:
    """`archive` in the cache with the expected MD5: a file already there is checked, else downloaded.

    Inputs:
    - dataset: its name, for the messages.
    - archive: the path in the cache.
    - md5: the archive's expected MD5.
    - urls: where to download it from, in order (only used when the file is not there).
    - how_to_get: what the messages tell the user to do.
    - progress: show a download progress bar.

    Returns:
    - archive, verified.

    Raises DatasetUnavailable for a file of the wrong MD5 (one placed by hand: said rather than silently
    replaced), when downloads are off, or when every URL fails (a failed first download leaves no folder).
    """
    if archive.is_file():
        if file_digest(archive, "md5") != md5:
            raise DatasetUnavailable(
                f"{dataset}: {archive} has the wrong MD5 (expected {md5}); delete it. "
                f"Get it with: {how_to_get}"
            )
        return archive
    require_downloads(dataset, how_to_get)
    try:
        download(urls, archive, md5, "md5", progress=progress)
    except DownloadError as exc:
        with contextlib.suppress(OSError):
            archive.parent.rmdir()  # only if empty: a failed first download leaves no trace
        raise DatasetUnavailable(
            f"{dataset}: download failed ({exc}). Get it with: {how_to_get}"
        ) from exc
    return archive


def stratified_order(y: np.ndarray, seed: int) -> np.ndarray:
    """A permutation whose every prefix is (nearly) class-balanced.

    Inputs:
    - y: int (N,) labels.
    - seed: seed of the permutation.

    Returns:
    - order: int64 (N,) permutation of range(N); order[:n] holds about n / num_classes of each class.
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    ys = y[perm]
    # Rank of each item within its class (in permuted order), then a stable sort by rank interleaves
    # the classes: one of each class, then the second of each, ...
    rank = np.empty(len(y), dtype=np.int64)
    for c in np.unique(ys):
        idx = np.flatnonzero(ys == c)
        rank[idx] = np.arange(len(idx))
    return perm[np.argsort(rank, kind="stable")]


def per_class_indices(y: np.ndarray, n_per_class: int, seed: int) -> np.ndarray:
    """Exactly `n_per_class` items of every class, chosen at random with `seed` (few-label splits).

    The choice is the class-balanced prefix of `stratified_order(y, seed)`, so for one seed the sets
    are nested: the 5-per-class set lies inside the 20-per-class set (a learning curve adds labels
    rather than drawing new ones).

    Inputs:
    - y: int (N,) labels.
    - n_per_class: how many of each class (>= 1).
    - seed: seed of the choice.

    Returns:
    - idx: int64 sorted indices into y, n_per_class * (number of classes in y) of them.

    Raises ValueError when a class has fewer than n_per_class items.
    """
    y = np.asarray(y)
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    classes, counts = np.unique(y, return_counts=True)
    short = {int(c): int(k) for c, k in zip(classes, counts, strict=True) if k < n_per_class}
    if short:
        raise ValueError(
            f"n_per_class={n_per_class} but {len(short)} class(es) have fewer items "
            f"(class: count {short}); the largest possible here is {int(counts.min())}"
        )
    return np.sort(stratified_order(y, seed)[: n_per_class * len(classes)])


def carve(y: np.ndarray, split: str, n_val: int) -> np.ndarray:
    """Indices of the train or val part of an official training set (val: a fixed stratified slice).

    Inputs:
    - y: int (N,) labels of the official training set.
    - split: 'train' or 'val'.
    - n_val: size of the validation part.

    Returns:
    - idx: int64 sorted indices into the official training set.
    """
    order = stratified_order(y, VAL_SEED)
    idx = order[:n_val] if split == "val" else order[n_val:]
    return np.sort(idx)


def read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays, marked read-only: what a loader caches (lru_cache) must not be changed by a caller."""
    for a in arrays:
        a.flags.writeable = False
    return arrays


def official_split(
    split: str, read: Callable[[str], tuple[np.ndarray, np.ndarray]], n_val: int
) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of a split of a dataset published as a training and a test set.

    Inputs:
    - split: 'train', 'val' or 'test'.
    - read: part -> (X, y) of the official 'train' or 'test' set.
    - n_val: size of val, a fixed stratified slice of the training set (`carve`); at most a tenth of
      it (tests serve tiny archives). train is the rest.

    Returns:
    - (X, y) of the split.
    """
    check_split(split)
    if split == "test":
        return read("test")
    X, y = read("train")
    idx = carve(y, split, min(n_val, len(y) // 10))
    return X[idx], y[idx]


def finish(X: np.ndarray, y: np.ndarray, class_names, n: int | None, seed: int) -> Split:
    """Take the deterministic subset of size n (if given) and scale uint8 images to float32 [0, 1].

    Inputs:
    - X: uint8 (N, C, H, W) or float (N, C, H, W) already in [0, 1].
    - y: int (N,) labels.
    - class_names: list of names.
    - n: optional subset size (first n of a stratified permutation seeded by `seed`).
    - seed: seed of that permutation.

    Returns:
    - split: Split with float32 X, int64 y.
    """
    if n is not None:
        if n > len(y):
            raise ValueError(f"asked for n={n} but this split has only {len(y)} images")
        idx = np.sort(stratified_order(y, seed)[:n])
        X, y = X[idx], y[idx]
    if X.dtype == np.uint8:
        Xf = X.astype(np.float32)
        Xf *= np.float32(1 / 255)
    else:
        Xf = np.array(X, dtype=np.float32, copy=True)
    return Split(Xf, np.asarray(y, dtype=np.int64).copy(), list(class_names))


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
