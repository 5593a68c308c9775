"""Fashion-MNIST (Zalando, MIT licence): 60k train / 10k test grayscale 28x28 images of 10 clothing classes.

Sources in order: the cache (CNNKIT_DATA/fashion_mnist), Debian's `dataset-fashion-mnist` package
(/usr/share/datasets/fashion-mnist), then torchvision's mirrors with torchvision's MD5s. Each part
(train, test) is looked up on its own, so a cache holding only the test files (what an autograder zip
carries for its held-out cases) serves the test split; each file may also lie there uncompressed (the
name without `.gz`), which is how the zips carry it (gzip output differs between compressors, the
images do not).
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
# sha256 of the uncompressed IDX files (the same images whichever gzip packed them; recorded from
# Debian's dataset-fashion-mnist, whose archives are recompressed so torchvision's MD5s don't apply)
CONTENT_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
SYSTEM_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
N_VAL = 5000
SHAPE = (1, 28, 28)
HOW_TO_GET = (
    "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, offline afterwards), or "
    "`cnnkit data fetch fashion_mnist` with internet (torchvision's mirrors), or copy the four "
    "*-ubyte.gz files into {cache}"
)


def file_in(d: Path, name: str) -> Path | None:
    """The file `name` (a FILES entry) in folder d, gzipped or uncompressed; None if neither."""
    for path in (d / name, d / name.removesuffix(".gz")):
        if path.is_file():
            return path
    return None


def _complete(d: Path, part: str | None = None) -> bool:
    parts = [part] if part else list(FILES)
    return all(file_in(d, f) is not None for p in parts for f in FILES[p])


def cache_path() -> Path:
    return _common.cache_dir() / NAME


def locate(part: str | None = None) -> tuple[Path, str] | None:
    """Where the files are now, offline: (directory, source description) or None.

    Inputs:
    - part: "train" or "test" to look for that part's two files only; None: all four.
    """
    if _complete(cache_path(), part):
        return cache_path(), "cache"
    if _common.system_files_enabled():
        for d in SYSTEM_DIRS:
            if _complete(d, part):
                return d, "system files (Debian dataset-fashion-mnist)"
    return None


def how_to_get() -> str:
    return HOW_TO_GET.format(cache=cache_path())


def _mirrors_and_md5s():
    # torchvision keeps the list of live mirrors and the checksums; copying them would let them rot.
    from torchvision.datasets import FashionMNIST

    return list(FashionMNIST.mirrors), dict(FashionMNIST.resources)


def fetch(
    mirrors: list[str] | None = None, md5s: dict | None = None, part: str | None = None
) -> Path:
    """Make the files available offline (download into the cache if needed).

    Inputs:
    - mirrors: base URLs (default: torchvision's FashionMNIST.mirrors).
    - md5s: file name -> MD5 (default: torchvision's FashionMNIST.resources).
    - part: "train" or "test" to need only that part's files; None: all four.

    Returns:
    - directory holding the needed .gz files.
    """
    found = locate(part)
    if found is not None:
        return found[0]
    _common.require_downloads(NAME, how_to_get())
    if mirrors is None or md5s is None:
        tv_mirrors, tv_md5s = _mirrors_and_md5s()
        mirrors = tv_mirrors if mirrors is None else mirrors
        md5s = tv_md5s if md5s is None else md5s
    dest = cache_path()
    try:
        for p in [part] if part else list(FILES):
            for fname in FILES[p]:
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
    """Read an IDX file (the MNIST format: big-endian dims after a magic number).

    Inputs:
    - path: an IDX file, gzipped when its name ends in .gz.

    Returns:
    - array: uint8 of the stored shape, e.g. (N, 28, 28) images or (N,) labels.
    """
    with (gzip.open if Path(path).suffix == ".gz" else open)(path, "rb") as f:
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
    X = read_idx(file_in(Path(directory), img_file))[:, None, :, :]
    y = read_idx(file_in(Path(directory), lbl_file)).astype(np.int64)
    return _common.read_only(X, y)


def load(split: str = "train", n: int | None = None, seed: int = 0) -> _common.Split:
    """Fashion-MNIST split as float32 (N, 1, 28, 28) in [0, 1]: 'train' 55k, 'val' 5k, 'test' 10k images.

    val is a fixed slice of the official training set (`_common.official_split`); `n` and `seed` pick
    a deterministic class-balanced subset, as in `cnnkit.data.load`. Returns Split(X, y, class_names).
    """
    _common.check_split(split)
    directory = str(fetch(part="test" if split == "test" else "train"))
    X, y = _common.official_split(split, lambda part: _read(directory, part), N_VAL)
    return _common.finish(X, y, CLASS_NAMES, n, seed)
