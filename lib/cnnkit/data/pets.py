"""Oxford-IIIT Pet (Parkhi et al. 2012, CC BY-SA 4.0): 7,349 photos of 37 cat and dog breeds.

The standard small transfer-learning target (about 100 labelled photos per breed in the official
trainval split, 3,669 in the test split). No package carries it, so it is downloaded once: the official
`images.tar.gz` (about 790 MB) and `annotations.tar.gz` (about 19 MB), each MD5-verified after the
download, then unpacked into the cache in torchvision's layout (CNNKIT_DATA/pets/oxford-iiit-pet/{images,
annotations}), so `torchvision.datasets.OxfordIIITPet(root=...)` reads the same folder (`dataset()`).
Mirrors: those in env CNNKIT_PETS_MIRRORS (space- or comma-separated base URLs holding both archives)
first, then the official URLs. URLs and MD5s are torchvision's own. No system package carries the data.

Loading decodes only the photos asked for (JPEG decoding dominates): `load(..., n_per_class=5)` reads
185 photos, not 3,310.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path, PurePosixPath

import numpy as np

from cnnkit.data import _common

NAME = "pets"
FOLDER = "oxford-iiit-pet"  # torchvision's folder name under its root
ARCHIVES = ("images.tar.gz", "annotations.tar.gz")
# Top-level folder inside each archive (the archives unpack to images/... and annotations/...).
TOP = {"images.tar.gz": "images", "annotations.tar.gz": "annotations"}
SPLIT_FILES = {"trainval": "trainval.txt", "test": "test.txt"}
# Written last, after both archives are unpacked: a folder without it is never read.
MARKER = ".complete"
# 10 per breed: the official trainval split has 93-100 per breed.
N_VAL = 370
DEFAULT_SIZE = 128
HOW_TO_GET = (
    "`cnnkit data fetch pets` with internet (about 810 MB from the Oxford VGG site), or set "
    "CNNKIT_PETS_MIRRORS to a base URL holding images.tar.gz and annotations.tar.gz, or put both "
    "archives (MD5s as torchvision.datasets.OxfordIIITPet keeps them) into {cache} and run "
    "`cnnkit data fetch pets` to verify and unpack them"
)


def cache_path() -> Path:
    return _common.cache_dir() / NAME


def _ready(d: Path) -> bool:
    return (d / MARKER).is_file() and all(
        (d / "annotations" / f).is_file() for f in SPLIT_FILES.values()
    )


def locate() -> tuple[Path, str] | None:
    """Where the unpacked dataset is now, offline: (folder oxford-iiit-pet, source) or None."""
    d = cache_path() / FOLDER
    return (d, "cache") if _ready(d) else None


def how_to_get() -> str:
    return HOW_TO_GET.format(cache=cache_path())


def resources() -> dict[str, tuple[str, str]]:
    """The official archives as torchvision keeps them: file name -> (URL, MD5).

    torchvision maintains the URLs and checksums (a copy here could rot); reading them needs torchvision,
    which every install of cnnkit has.
    """
    try:
        from torchvision.datasets import OxfordIIITPet

        res = OxfordIIITPet._RESOURCES
    except (ImportError, AttributeError) as exc:
        raise _common.DatasetUnavailable(
            f"pets: this torchvision does not list the Oxford-IIIT Pet archives ({exc}); "
            f"pass mirrors= and md5s= to cnnkit.data.fetch('pets', ...). Get it with: {how_to_get()}"
        ) from None
    return {url.rsplit("/", 1)[-1]: (url, md5) for url, md5 in res}


def mirrors_from_env() -> list[str]:
    return _common.env_urls("CNNKIT_PETS_MIRRORS")


def _safe_member(name: str, top: str) -> PurePosixPath | None:
    """The member's path below `top`, or None for anything else (absolute paths, '..', other folders)."""
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or len(p.parts) < 2 or p.parts[0] != top:
        return None
    return PurePosixPath(*p.parts[1:])


def _extract(archive: Path, top: str, dest: Path) -> None:
    """Unpack the regular files under `top`/ of a .tar.gz into dest/`top` atomically (temp, rename).

    Written by hand rather than with tarfile's extraction filters so that only the expected folder,
    and only regular files, can come out of a downloaded archive whatever the Python version.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".extract-{top}-", dir=dest))
    try:
        n = 0
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                rel = _safe_member(member.name, top)
                if rel is None or not member.isfile():
                    continue
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                with src, open(out, "wb") as f:
                    shutil.copyfileobj(src, f)
                n += 1
        if top == "annotations":
            missing = [f for f in SPLIT_FILES.values() if not (tmp / f).is_file()]
        else:
            missing = [] if any(tmp.glob("*.jpg")) else ["any .jpg photo"]
        if missing:
            raise _common.DatasetUnavailable(
                f"pets: {archive.name} lacks {top}/{', '.join(missing)} ({n} files found); it is not "
                f"the Oxford-IIIT Pet archive. Get it with: {how_to_get()}"
            )
        final = dest / top
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def fetch(
    mirrors: list[str] | None = None,
    md5s: dict | None = None,
    official: bool = True,
    progress: bool = True,
) -> Path:
    """Make the unpacked dataset available in the cache (verify + unpack cached archives, or download).

    Inputs:
    - mirrors: base URLs holding both archives, tried first (default: env CNNKIT_PETS_MIRRORS).
    - md5s: archive name -> expected MD5 (default: torchvision's; tests serve small archives).
    - official: also try the official URLs after the mirrors.
    - progress: show a download progress bar.

    Returns:
    - the folder oxford-iiit-pet holding images/ and annotations/.

    Raises DatasetUnavailable (with how to get it) when offline, when every mirror fails, or when an
    archive is not the expected one; a failed download leaves no partial file, and an archive that did
    download and verify is kept for the next try.
    """
    found = locate()
    if found is not None:
        return found[0]
    official_res = resources() if (md5s is None or official) else {}
    md5s = {k: v[1] for k, v in official_res.items()} if md5s is None else dict(md5s)
    bases = mirrors_from_env() if mirrors is None else list(mirrors)
    root = cache_path()
    for name in ARCHIVES:
        urls = [b.rstrip("/") + "/" + name for b in bases]
        if official:
            urls.append(official_res[name][0])
        _common.cached_archive(NAME, root / name, md5s[name], urls, how_to_get(), progress)
    base = root / FOLDER
    base.mkdir(parents=True, exist_ok=True)
    for name in ARCHIVES:
        try:
            _extract(root / name, TOP[name], base)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise _common.DatasetUnavailable(
                f"pets: could not unpack {name} ({exc}). Get it with: {how_to_get()}"
            ) from exc
    (base / MARKER).write_text("extracted from " + " + ".join(ARCHIVES) + "\n")
    for name in ARCHIVES:
        # The unpacked photos are the cache; keeping the 800 MB of archives too would double it.
        (root / name).unlink(missing_ok=True)
    return base


def _class_name(image_id: str) -> str:
    # torchvision's naming: "american_pit_bull_terrier_12" -> "American Pit Bull Terrier"
    return " ".join(part.title() for part in image_id.rsplit("_", 1)[0].split("_"))


@lru_cache(maxsize=4)
def _index(base: str, part: str) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]]:
    """(image ids, labels 0..36, class names) of the official 'trainval' or 'test' list."""
    ids, labels, names = [], [], {}
    for line in (Path(base) / "annotations" / SPLIT_FILES[part]).read_text().splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        image_id, label = fields[0], int(fields[1]) - 1
        ids.append(image_id)
        labels.append(label)
        names.setdefault(label, _class_name(image_id))
    y = np.asarray(labels, dtype=np.int64)
    y.flags.writeable = False
    return tuple(ids), y, tuple(names[k] for k in sorted(names))


def class_names(base: Path | None = None) -> list[str]:
    """The 37 breed names, index = label (torchvision's names)."""
    base = fetch() if base is None else base
    return list(_index(str(base), "trainval")[2])


def split_indices(
    split: str, n: int | None = None, seed: int = 0, n_per_class: int | None = None
) -> tuple[str, np.ndarray]:
    """Which photos a split (or its subset) holds, without decoding any.

    Inputs:
    - split: 'train' (trainval less val), 'val' (a fixed 10-per-breed slice of trainval) or 'test'.
    - n: optional class-balanced subset size; n_per_class: optional exact count per breed (not both).
    - seed: seed of the subset.

    Returns:
    - (part, idx): the official list ('trainval' or 'test') and sorted int64 row indices into it
      (also the indices of torchvision's OxfordIIITPet(split=part)).
    """
    _common.check_split(split)
    if n is not None and n_per_class is not None:
        raise ValueError("give n or n_per_class, not both")
    base = str(fetch())
    part = "test" if split == "test" else "trainval"
    _, y, _ = _index(base, part)
    idx = np.arange(len(y))
    if split != "test":
        # Tests serve tiny archives: keep val a tenth of trainval there.
        idx = _common.carve(y, split, min(N_VAL, len(y) // 10))
    if n_per_class is not None:
        idx = idx[_common.per_class_indices(y[idx], n_per_class, seed)]
    elif n is not None:
        if n > len(idx):
            raise ValueError(f"asked for n={n} but this split has only {len(idx)} images")
        idx = np.sort(idx[_common.stratified_order(y[idx], seed)[:n]])
    return part, idx


def read_photo(path: Path, size: int) -> np.ndarray:
    """One photo as uint8 (3, size, size): the central square at the full short side, resized.

    Pillow's ImageOps.fit does the crop and the resize (what Resize(size) + CenterCrop(size) does in
    torchvision); grey, palette and RGBA photos (a few are) become RGB.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img = ImageOps.fit(img.convert("RGB"), (size, size), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def load(
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
    n_per_class: int | None = None,
) -> _common.Split:
    """An Oxford-IIIT Pet split as float32 (N, 3, size, size) in [0, 1] (downloads once if needed).

    Inputs:
    - split: 'train' (3,310), 'val' (370, 10 per breed, carved from trainval) or 'test' (3,669).
    - n: optional deterministic class-balanced subset size.
    - seed: seed of the subset.
    - size: side of the square each photo is centre-cropped and resized to.
    - n_per_class: optional exactly this many photos per breed (few-label experiments; at most the
      smallest breed's count in the split, which the error names). Nested for one seed: the
      5-per-breed set is part of the 20-per-breed set.

    Returns:
    - Split(X, y, class_names); only the selected photos are decoded.
    """
    part, idx = split_indices(split, n, seed, n_per_class)
    base = fetch()
    ids, y, names = _index(str(base), part)
    X = np.empty((len(idx), 3, size, size), dtype=np.uint8)
    for row, i in enumerate(idx):
        X[row] = read_photo(base / "images" / f"{ids[i]}.jpg", size)
    return _common.finish(X, y[idx], names, None, seed)


def dataset(
    split: str = "train",
    transform=None,
    n: int | None = None,
    seed: int = 0,
    n_per_class: int | None = None,
):
    """The same split as a torch Dataset of PIL photos, read by torchvision's OxfordIIITPet (imports torch).

    For full-resolution pipelines, e.g. `transform=weights.transforms()` of a torchvision model, or
    torchvision augmentations on the PIL images.

    Inputs:
    - split, n, seed, n_per_class: as in `load`.
    - transform: applied to each PIL image.

    Returns:
    - torch.utils.data.Subset of torchvision.datasets.OxfordIIITPet yielding (transform(image), label);
      `.dataset.classes` holds the breed names.
    """
    import torch
    from torchvision.datasets import OxfordIIITPet

    part, idx = split_indices(split, n, seed, n_per_class)
    full = OxfordIIITPet(str(fetch().parent), split=part, transform=transform, download=False)
    return torch.utils.data.Subset(full, idx.tolist())
