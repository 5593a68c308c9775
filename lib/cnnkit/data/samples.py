"""Small real data that ships inside scikit-learn and scikit-image wheels: `digits` and `photos`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from cnnkit.data import _common

DIGITS_SHAPE = (1, 8, 8)
DIGITS_CLASS_NAMES = [str(i) for i in range(10)]
# load_digits has no official split: fixed stratified slices (about 20 % test, 10 % val).
DIGITS_N_TEST = 360
DIGITS_N_VAL = 180
_DIGITS_TEST_SEED = 20240601

# scikit-image photos that are colour, real and CC0/public domain (see skimage/data/README.txt).
SKIMAGE_PHOTOS = ["astronaut", "chelsea", "coffee", "rocket"]
HOW_TO_GET_DIGITS = "`pip install scikit-learn` (the data ships inside the wheel)"
HOW_TO_GET_PHOTOS = "`pip install scikit-image scikit-learn` (the photos ship inside the wheels)"


def _package_dir(name: str) -> Path | None:
    """Where a package is installed, without importing it (scikit-learn takes seconds to import)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def digits_locate() -> tuple[Path, str] | None:
    root = _package_dir("sklearn")
    p = root / "datasets" / "data" / "digits.csv.gz" if root else None
    return (p, "scikit-learn wheel") if p is not None and p.is_file() else None


def load_digits(split: str = "train", n: int | None = None, seed: int = 0) -> _common.Split:
    """scikit-learn's 8x8 digits (1,797 images, 16 grey levels) as float32 (N, 1, 8, 8) in [0, 1].

    Inputs:
    - split: 'train' (1,257), 'val' (180) or 'test' (360), fixed stratified slices.
    - n: optional deterministic class-balanced subset size.
    - seed: seed of the subset.

    Returns:
    - Split(X, y, class_names).
    """
    _common.check_split(split)
    if digits_locate() is None:
        raise _common.DatasetUnavailable(f"digits needs scikit-learn: {HOW_TO_GET_DIGITS}")
    from sklearn.datasets import load_digits as sk_load

    d = sk_load()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    order = _common.stratified_order(y, _DIGITS_TEST_SEED)
    test = np.sort(order[:DIGITS_N_TEST])
    if split == "test":
        idx = test
    else:
        rest = np.sort(order[DIGITS_N_TEST:])
        idx = rest[_common.carve(y[rest], split, DIGITS_N_VAL)]
    return _common.finish(X[idx], y[idx], DIGITS_CLASS_NAMES, n, seed)


def photos_locate() -> tuple[Path, str] | None:
    root = _package_dir("skimage")
    p = root / "data" if root else None
    if p is None or not (p / "chelsea.png").is_file():
        return None
    return p, "scikit-image wheel (+ scikit-learn sample images)"


SKLEARN_PHOTOS = ("china", "flower")


def photos(names: tuple[str, ...] | list[str] | None = None) -> dict[str, np.ndarray]:
    """Real colour photos for filter and transfer-learning demos, read from the installed wheels.

    Inputs:
    - names: which photos; None gives the default set: scikit-image's astronaut, chelsea (a cat),
      coffee, rocket, and scikit-learn's china and flower (when scikit-learn is installed). Any other
      image in `skimage.data` (e.g. 'brick', 'grass', 'retina') may be named; grey images get 3 channels.

    Returns:
    - dict name -> uint8 (H, W, 3) array, in the order asked for.
    """
    if photos_locate() is None:
        raise _common.DatasetUnavailable(f"photos need scikit-image: {HOW_TO_GET_PHOTOS}")
    import skimage.data

    wanted = list(names) if names is not None else [*SKIMAGE_PHOTOS, *SKLEARN_PHOTOS]
    out = {}
    for name in wanted:
        if name in SKLEARN_PHOTOS:
            try:
                from sklearn.datasets import load_sample_image
            except ImportError:
                if names is None:  # the default set just leaves them out
                    continue
                raise _common.DatasetUnavailable(
                    f"photo {name!r} needs scikit-learn: {HOW_TO_GET_PHOTOS}"
                ) from None
            img = np.asarray(load_sample_image(f"{name}.jpg"))
        elif callable(getattr(skimage.data, name, None)):
            img = np.asarray(getattr(skimage.data, name)())
        else:
            raise _common.DatasetUnavailable(
                f"no photo named {name!r} in scikit-image or scikit-learn"
            )
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        out[name] = np.ascontiguousarray(img[..., :3]).astype(np.uint8)
    return out
