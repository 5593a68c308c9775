"""Fashion-MNIST (Zalando, MIT licence): 60k train / 10k test grayscale 28x28 images of 10 clothing classes.

Sources in order: the cache (CNNKIT_DATA/fashion_mnist), Debian's `dataset-fashion-mnist` package
(/usr/share/datasets/fashion-mnist), then torchvision's mirrors with torchvision's MD5s.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np

from cnnkit.data import _common
from cnnkit.data._download import DownloadError, download

NAME = "fashion_mnist"
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SYSTEM_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
N_VAL = 5000
SHAPE = (1, 28, 28)
HOW_TO_GET = (
    "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, offline afterwards), or "
    "`cnnkit data fetch fashion_mnist` with internet (torchvision's mirrors), or copy the four "
    "*-ubyte.gz files into {cache}"
)


def _complete(d: Path) -> bool:
    return all((d / f).is_file() for pair in FILES.values() for f in pair)


def cache_path() -> Path:
    return _common.cache_dir() / NAME


def locate() -> tuple[Path, str] | None:
    """Where the files are now, offline: (directory, source description) or None."""
    if _complete(cache_path()):
        return cache_path(), "cache"
    if _common.system_files_enabled():
        for d in SYSTEM_DIRS:
            if _complete(d):
                return d, "system files (Debian dataset-fashion-mnist)"
    return None


def how_to_get() -> str:
    return HOW_TO_GET.format(cache=cache_path())


def _mirrors_and_md5s():
    # torchvision keeps the list of live mirrors and the checksums; copying them would let them rot.
    from torchvision.datasets import FashionMNIST

    return list(FashionMNIST.mirrors), dict(FashionMNIST.resources)


def fetch(mirrors: list[str] | None = None, md5s: dict | None = None) -> Path:
    """Make the files available offline (download into the cache if needed).

    Inputs:
    - mirrors: base URLs (default: torchvision's FashionMNIST.mirrors).
    - md5s: file name -> MD5 (default: torchvision's FashionMNIST.resources).

    Returns:
    - directory holding the four .gz files.
    """
    found = locate()
    if found is not None:
        return found[0]
    if not _common.downloads_enabled():
        raise _common.DatasetUnavailable(
            f"fashion_mnist is not available offline and downloads are off (CNNKIT_OFFLINE). "
            f"Get it with: {how_to_get()}"
        )
    if mirrors is None or md5s is None:
        tv_mirrors, tv_md5s = _mirrors_and_md5s()
        mirrors = tv_mirrors if mirrors is None else mirrors
        md5s = tv_md5s if md5s is None else md5s
    dest = cache_path()
    try:
        for pair in FILES.values():
            for fname in pair:
                if not (dest / fname).is_file():
                    download(
                        [m.rstrip("/") + "/" + fname for m in mirrors], dest / fname, md5s[fname]
                    )
    except DownloadError as exc:
        raise _common.DatasetUnavailable(
            f"fashion_mnist: download failed ({exc}). Get it with: {how_to_get()}"
        ) from exc
    return dest


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (the MNIST format: big-endian dims after a magic number).

    Inputs:
    - path: a .gz IDX file.

    Returns:
    - array: uint8 of the stored shape, e.g. (N, 28, 28) images or (N,) labels.
    """
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: {arr.size} bytes for shape {tuple(dims)}")
    return arr.reshape(tuple(dims))


@lru_cache(maxsize=4)
def _read(directory: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    img_file, lbl_file = FILES[part]
    X = read_idx(Path(directory) / img_file)[:, None, :, :]
    y = read_idx(Path(directory) / lbl_file).astype(np.int64)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def load(split: str = "train", n: int | None = None, seed: int = 0) -> _common.Split:
    """Fashion-MNIST split as float32 (N, 1, 28, 28) in [0, 1]; val is a fixed 5k slice of train.

    Inputs:
    - split: 'train' (55k), 'val' (5k) or 'test' (10k).
    - n: optional deterministic class-balanced subset size.
    - seed: seed of the subset.

    Returns:
    - Split(X, y, class_names).
    """
    _common.check_split(split)
    directory = str(fetch())
    if split == "test":
        X, y = _read(directory, "test")
    else:
        X, y = _read(directory, "train")
        idx = _common.carve(y, split, N_VAL)
        X, y = X[idx], y[idx]
    return _common.finish(X, y, CLASS_NAMES, n, seed)
