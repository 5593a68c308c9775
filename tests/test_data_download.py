"""Downloads of the registry against a local HTTP server on 127.0.0.1 (the only network tests use).

The CIFAR-10 archive served here is tiny but in the real format: the same member names in a
cifar-10-batches-py folder, pickled dicts with the same keys ('data' uint8 (n, 3072) rows in CHW order,
'labels', 'batch_label', 'filenames'; 'label_names' in batches.meta).
"""

import contextlib
import functools
import gzip
import http.server
import io
import pickle
import tarfile
import threading

import numpy as np
import pytest

from cnnkit import data
from cnnkit.data import cifar10, fashion_mnist, pets
from cnnkit.data._download import file_digest

LABEL_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
PER_BATCH = 20


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    """Serve `directory` on 127.0.0.1 at a random port from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _batch(rng, name):
    return {
        "batch_label": name,
        "labels": [int(v) for v in rng.integers(0, 10, PER_BATCH)],
        "data": rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
        "filenames": [f"img_{i}.png" for i in range(PER_BATCH)],
    }


def make_cifar_archive(path, seed=0):
    """Write a small cifar-10-python.tar.gz in the official layout; returns the batches by name."""
    rng = np.random.default_rng(seed)
    members = {f"data_batch_{i}": _batch(rng, f"training batch {i} of 5") for i in range(1, 6)}
    members["test_batch"] = _batch(rng, "testing batch 1 of 1")
    members["batches.meta"] = {
        "num_cases_per_batch": PER_BATCH,
        "label_names": LABEL_NAMES,
        "num_vis": 3072,
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in members.items():
            payload = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return members


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A web root with a good archive under good/, a corrupt one under bad/; an empty cache."""
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNKIT_NO_SYSTEM_DATA", "1")
    monkeypatch.delenv("CNNKIT_OFFLINE", raising=False)
    monkeypatch.delenv("CNNKIT_CIFAR10_MIRRORS", raising=False)
    root = tmp_path / "site"
    (root / "good").mkdir(parents=True)
    (root / "bad").mkdir()
    members = make_cifar_archive(root / "good" / cifar10.ARCHIVE)
    blob = bytearray((root / "good" / cifar10.ARCHIVE).read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte: same size, wrong MD5
    (root / "bad" / cifar10.ARCHIVE).write_bytes(bytes(blob))
    md5 = file_digest(root / "good" / cifar10.ARCHIVE, "md5")
    with serve(root) as url:
        yield {"url": url, "md5": md5, "members": members, "cache": tmp_path / "cache"}


def _files(d):
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()) if d.exists() else []


def test_production_md5_is_the_official_one():
    from torchvision.datasets import CIFAR10

    assert cifar10.MD5 == "c58f30108f718f92721af3b95e74349a" == CIFAR10.tgz_md5
    assert CIFAR10.url == cifar10.OFFICIAL_URL


def test_cifar10_good_archive_loads_like_torchvision(site, monkeypatch):
    folder = data.fetch(
        "cifar10", mirrors=[site["url"] + "/good/"], md5=site["md5"], official=False, progress=False
    )
    assert folder == site["cache"] / "cifar10" / "cifar-10-batches-py"
    # Only the extracted batches remain: no archive copy, no partial file.
    assert _files(site["cache"]) == sorted(
        f"cifar10/cifar-10-batches-py/{m}" for m in [*cifar10.MEMBERS, cifar10.MARKER]
    )
    assert data.available("cifar10") and data.path("cifar10") == folder

    test = data.load("cifar10", "test")
    assert test.X.shape == (PER_BATCH, 3, 32, 32) and test.X.dtype == np.float32
    assert test.y.dtype == np.int64 and test.class_names == LABEL_NAMES
    # Oracle: torchvision's CIFAR10 reader on the same folder (its per-file MD5s are of the real data).
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
    monkeypatch.setattr(tv_cifar.CIFAR10, "_check_integrity", lambda self: True)
    ref = tv_cifar.CIFAR10(str(site["cache"] / "cifar10"), train=False)
    np.testing.assert_array_equal(
        np.rint(test.X * 255).astype(np.uint8), ref.data.transpose(0, 3, 1, 2)
    )
    np.testing.assert_array_equal(test.y, ref.targets)
    assert ref.classes == test.class_names

    train, val = data.load("cifar10", "train"), data.load("cifar10", "val")
    assert len(train.y) + len(val.y) == 5 * PER_BATCH and len(val.y) == 5 * PER_BATCH // 10
    ref_train = tv_cifar.CIFAR10(str(site["cache"] / "cifar10"), train=True)
    np.testing.assert_array_equal(
        np.bincount(np.concatenate([train.y, val.y]), minlength=10),
        np.bincount(ref_train.targets, minlength=10),
    )


def test_cifar10_corrupt_archive_is_a_clear_error_and_leaves_nothing(site):
    with pytest.raises(data.DatasetUnavailable) as exc:
        data.fetch(
            "cifar10",
            mirrors=[site["url"] + "/bad/"],
            md5=site["md5"],
            official=False,
            progress=False,
        )
    msg = str(exc.value)
    assert "md5 mismatch" in msg and site["url"] + "/bad/" + cifar10.ARCHIVE in msg
    assert "cnnkit data fetch cifar10" in msg
    assert _files(site["cache"]) == []
    assert not data.available("cifar10")


def test_cifar10_first_mirror_404_second_used(site):
    mirrors = [site["url"] + "/missing/", site["url"] + "/bad/", site["url"] + "/good/"]
    folder = data.fetch("cifar10", mirrors=mirrors, md5=site["md5"], official=False, progress=False)
    assert data.load("cifar10", "test").X.shape == (PER_BATCH, 3, 32, 32)
    assert folder.is_dir()


def test_cifar10_mirrors_from_env_are_tried_first(site, monkeypatch):
    monkeypatch.setenv(
        "CNNKIT_CIFAR10_MIRRORS",
        f"{site['url']}/missing/{cifar10.ARCHIVE}, {site['url']}/good/",
    )
    assert cifar10.mirrors_from_env() == [
        f"{site['url']}/missing/{cifar10.ARCHIVE}",
        f"{site['url']}/good/",
    ]
    data.fetch("cifar10", md5=site["md5"], official=False, progress=False)
    assert data.available("cifar10")


def test_cifar10_all_mirrors_fail_names_each(site):
    with pytest.raises(data.DatasetUnavailable) as exc:
        data.fetch(
            "cifar10",
            mirrors=[site["url"] + "/missing/"],
            md5=site["md5"],
            official=False,
            progress=False,
        )
    assert "/missing/cifar-10-python.tar.gz: HTTP 404" in str(exc.value)
    assert _files(site["cache"]) == []


def _write_idx(path, arr):
    arr = np.asarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + arr.tobytes())


def test_fashion_mnist_download_into_cache_from_local_mirror(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CNNKIT_DATA", str(cache))
    monkeypatch.setenv("CNNKIT_NO_SYSTEM_DATA", "1")
    monkeypatch.delenv("CNNKIT_OFFLINE", raising=False)
    rng = np.random.default_rng(0)
    web = tmp_path / "site"
    web.mkdir()
    parts = {
        "train": (rng.integers(0, 256, (30, 28, 28)), np.arange(30) % 10),
        "t10k": (rng.integers(0, 256, (10, 28, 28)), np.arange(10)),
    }
    for prefix, (x, y) in parts.items():
        _write_idx(web / f"{prefix}-images-idx3-ubyte.gz", x)
        _write_idx(web / f"{prefix}-labels-idx1-ubyte.gz", y)
    md5s = {p.name: file_digest(p) for p in web.iterdir()}
    with serve(web) as url:
        got = data.fetch("fashion_mnist", mirrors=[url + "/nothing-here/", url + "/"], md5s=md5s)
    assert got == cache / "fashion_mnist"
    assert sorted(p.name for p in got.iterdir()) == sorted(md5s)  # no temp files left
    test = data.load("fashion_mnist", "test")
    np.testing.assert_array_equal(np.rint(test.X[:, 0] * 255), parts["t10k"][0])
    np.testing.assert_array_equal(test.y, parts["t10k"][1])
    assert fashion_mnist.locate()[1] == "cache"


def test_cifar10_archive_copied_into_cache_by_hand_is_verified_and_unpacked(site, monkeypatch):
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")  # no network needed for a hand-placed archive
    target = site["cache"] / "cifar10" / cifar10.ARCHIVE
    target.parent.mkdir(parents=True)
    make_cifar_archive(target, seed=1)
    with pytest.raises(data.DatasetUnavailable, match="wrong MD5"):
        data.fetch("cifar10")  # the production MD5: this small archive is not the real one
    md5 = file_digest(target, "md5")
    data.fetch("cifar10", md5=md5)
    assert not target.exists() and data.available("cifar10")


# --- Oxford-IIIT Pet: two archives in the official layout, served from 127.0.0.1 ---------------------

# The first four breeds with their official class ids (1-based) and species (1 cat, 2 dog).
PET_BREEDS = [
    ("Abyssinian", 1),
    ("american_bulldog", 2),
    ("american_pit_bull_terrier", 2),
    ("basset_hound", 2),
]
PET_TRAINVAL, PET_TEST, PET_SIZE = 12, 3, 32  # 32: colour edges on JPEG's 16-pixel blocks


def _jpeg(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _add(tar, name, payload: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def make_pet_archives(folder, seed=0):
    """Write images.tar.gz and annotations.tar.gz as the official ones are laid out.

    images/: one JPEG per photo (square PET_SIZE x PET_SIZE, one grey, one wider than high whose
    central square is pure blue between red margins) and a stray .mat file as in the real archive;
    annotations/: list.txt with its '#' header, trainval.txt, test.txt, a trimap, an AppleDouble file.
    Returns {'trainval': [(id, label0)], 'test': [...]}.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    parts = {"trainval": [], "test": []}
    photos = {}
    k = 1
    for breed, species in PET_BREEDS:
        for part, count in (("trainval", PET_TRAINVAL), ("test", PET_TEST)):
            for _ in range(count):
                image_id = f"{breed}_{k}"
                k += 1
                label = PET_BREEDS.index((breed, species))
                parts[part].append((image_id, label, species))
                pixels = rng.integers(0, 256, (PET_SIZE, PET_SIZE, 3), dtype=np.uint8)
                photos[image_id] = Image.fromarray(pixels)
    grey_id = parts["test"][0][0]
    photos[grey_id] = photos[grey_id].convert("L")
    wide = np.zeros((PET_SIZE, 2 * PET_SIZE, 3), dtype=np.uint8)
    wide[:, : PET_SIZE // 2, 0] = wide[:, -PET_SIZE // 2 :, 0] = 255
    wide[:, PET_SIZE // 2 : -PET_SIZE // 2, 2] = 255
    wide_id = parts["test"][1][0]
    photos[wide_id] = Image.fromarray(wide)
    with tarfile.open(folder / "images.tar.gz", "w:gz") as tar:
        for image_id, img in photos.items():
            _add(tar, f"images/{image_id}.jpg", _jpeg(img))
        _add(tar, "images/Abyssinian_100.mat", b"MATLAB 5.0 MAT-file")

    def lines(rows):
        return "".join(f"{i} {c + 1} {s} {c + 1}\n" for i, c, s in rows).encode()

    header = b"#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n"
    with tarfile.open(folder / "annotations.tar.gz", "w:gz") as tar:
        _add(tar, "annotations/list.txt", header + lines(parts["trainval"] + parts["test"]))
        _add(tar, "annotations/trainval.txt", lines(parts["trainval"]))
        _add(tar, "annotations/test.txt", lines(parts["test"]))
        _add(tar, "annotations/README", b"Oxford-IIIT Pet Dataset annotations\n")
        _add(tar, f"annotations/trimaps/{wide_id}.png", b"\x89PNG fake trimap")
        _add(tar, f"annotations/trimaps/._{wide_id}.png", b"AppleDouble")
    out = {p: [(i, c) for i, c, _ in rows] for p, rows in parts.items()}
    out["grey"], out["wide"] = grey_id, wide_id
    return out


@pytest.fixture
def pet_site(tmp_path, monkeypatch):
    """good/ holds both archives, bad/ a corrupt images archive, odd/ verified but wrong archives."""
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNKIT_NO_SYSTEM_DATA", "1")
    monkeypatch.delenv("CNNKIT_OFFLINE", raising=False)
    monkeypatch.delenv("CNNKIT_PETS_MIRRORS", raising=False)
    root = tmp_path / "site"
    for d in ("good", "bad", "odd"):
        (root / d).mkdir(parents=True)
    parts = make_pet_archives(root / "good")
    blob = bytearray((root / "good" / "images.tar.gz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (root / "bad" / "images.tar.gz").write_bytes(bytes(blob))
    (root / "bad" / "annotations.tar.gz").write_bytes(
        (root / "good" / "annotations.tar.gz").read_bytes()
    )
    md5s = {a: file_digest(root / "good" / a, "md5") for a in pets.ARCHIVES}
    with tarfile.open(root / "odd" / "annotations.tar.gz", "w:gz") as tar:
        _add(tar, "annotations/list.txt", b"# no split files\n")
    (root / "odd" / "images.tar.gz").write_bytes((root / "good" / "images.tar.gz").read_bytes())
    odd_md5s = {a: file_digest(root / "odd" / a, "md5") for a in pets.ARCHIVES}
    with serve(root) as url:
        yield {
            "url": url,
            "md5s": md5s,
            "odd_md5s": odd_md5s,
            "parts": parts,
            "cache": tmp_path / "cache",
        }


def _fetch_pets(site, *dirs, md5s=None):
    return data.fetch(
        "pets",
        mirrors=[f"{site['url']}/{d}/" for d in dirs],
        md5s=md5s or site["md5s"],
        official=False,
        progress=False,
    )


def test_pets_official_urls_and_md5s_are_torchvision_s():
    from torchvision.datasets import OxfordIIITPet

    res = pets.resources()
    assert sorted(res) == sorted(pets.ARCHIVES)
    assert sorted(res.values()) == sorted(OxfordIIITPet._RESOURCES)
    assert all(url.startswith("https://") and len(md5) == 32 for url, md5 in res.values())


def test_pets_good_archives_load_like_torchvision(pet_site):
    base = _fetch_pets(pet_site, "good")
    assert base == pet_site["cache"] / "pets" / "oxford-iiit-pet"
    files = _files(pet_site["cache"])
    # Unpacked in torchvision's layout; no archive, no partial download, no temporary folder left.
    assert not [f for f in files if f.endswith((".tar.gz", ".part")) or "/.extract-" in f]
    assert f"pets/oxford-iiit-pet/images/{pet_site['parts']['wide']}.jpg" in files
    assert "pets/oxford-iiit-pet/annotations/test.txt" in files
    assert data.available("pets") and data.path("pets") == base

    test = data.load("pets", "test", size=PET_SIZE)
    n_test = len(PET_BREEDS) * PET_TEST
    assert test.X.shape == (n_test, 3, PET_SIZE, PET_SIZE) and test.X.dtype == np.float32
    assert test.class_names == [
        "Abyssinian",
        "American Bulldog",
        "American Pit Bull Terrier",
        "Basset Hound",
    ]
    # Oracle: torchvision's own reader of the same folder (photos already PET_SIZE square, so the
    # crop-and-resize is the identity there).
    from torchvision.datasets import OxfordIIITPet

    ref = OxfordIIITPet(str(base.parent), split="test")
    assert ref.classes == test.class_names and len(ref) == n_test
    for i in range(n_test):
        image, label = ref[i]
        assert test.y[i] == label
        if pet_site["parts"]["test"][i][0] == pet_site["parts"]["wide"]:
            # A photo wider than high keeps its central square: blue, no red margin.
            rgb = np.rint(test.X[i] * 255)
            assert rgb[2].mean() > 220 and rgb[0].mean() < 30
            continue
        np.testing.assert_array_equal(
            np.rint(test.X[i] * 255).astype(np.uint8), np.asarray(image).transpose(2, 0, 1)
        )

    train = data.load("pets", "train", size=8)
    val = data.load("pets", "val", size=8)
    assert train.X.shape[1:] == (3, 8, 8)
    # val is a tenth of trainval (one per breed here); train and val partition trainval.
    np.testing.assert_array_equal(np.bincount(val.y), np.ones(len(PET_BREEDS)))
    np.testing.assert_array_equal(
        np.bincount(np.concatenate([train.y, val.y])),
        np.bincount([c for _, c in pet_site["parts"]["trainval"]]),
    )

    # The torch Dataset view is torchvision's reader over the same rows.
    ds = pets.dataset("train")
    assert [int(ds[i][1]) for i in range(len(ds))] == train.y.tolist()


def test_pets_few_labels_decode_only_the_chosen_photos(pet_site, monkeypatch):
    _fetch_pets(pet_site, "good")
    decoded = []
    read = pets.read_photo
    monkeypatch.setattr(pets, "read_photo", lambda p, s: decoded.append(p) or read(p, s))
    few = data.few_labels("pets", 2, seed=1, size=16)
    assert len(decoded) == 2 * len(PET_BREEDS)
    np.testing.assert_array_equal(np.bincount(few.y), np.full(len(PET_BREEDS), 2))
    more = data.few_labels("pets", 5, seed=1, size=16)
    other = data.few_labels("pets", 2, seed=2, size=16)
    part, five = pets.split_indices("train", seed=1, n_per_class=5)
    _, two = pets.split_indices("train", seed=1, n_per_class=2)
    _, two_other = pets.split_indices("train", seed=2, n_per_class=2)
    assert part == "trainval" and set(two) <= set(five) and set(two) != set(two_other)
    assert len(more.y) == 5 * len(PET_BREEDS) and len(other.y) == len(few.y)
    with pytest.raises(ValueError, match="largest possible here is"):
        data.few_labels("pets", PET_TRAINVAL, size=16)


def test_pets_corrupt_archive_is_a_clear_error_and_leaves_nothing(pet_site):
    with pytest.raises(data.DatasetUnavailable) as exc:
        _fetch_pets(pet_site, "bad")
    msg = str(exc.value)
    assert "md5 mismatch" in msg and pet_site["url"] + "/bad/images.tar.gz" in msg
    assert "cnnkit data fetch pets" in msg
    assert _files(pet_site["cache"]) == []
    assert not data.available("pets")


def test_pets_first_mirror_404_then_corrupt_then_good(pet_site):
    base = _fetch_pets(pet_site, "missing", "bad", "good")
    assert base.is_dir() and data.available("pets")
    assert len(data.load("pets", "test", size=8).y) == len(PET_BREEDS) * PET_TEST


def test_pets_mirrors_from_env_are_tried_first(pet_site, monkeypatch):
    monkeypatch.setenv("CNNKIT_PETS_MIRRORS", f"{pet_site['url']}/missing, {pet_site['url']}/good/")
    assert pets.mirrors_from_env() == [f"{pet_site['url']}/missing", f"{pet_site['url']}/good/"]
    data.fetch("pets", md5s=pet_site["md5s"], official=False, progress=False)
    assert data.available("pets")


def test_pets_verified_archive_of_the_wrong_layout_is_named(pet_site):
    with pytest.raises(data.DatasetUnavailable, match="annotations.tar.gz lacks annotations/"):
        _fetch_pets(pet_site, "odd", md5s=pet_site["odd_md5s"])
    assert not data.available("pets")


def test_pets_offline_says_how_to_get_it(pet_site, monkeypatch):
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    with pytest.raises(data.DatasetUnavailable) as exc:
        data.load("pets", "test")
    msg = str(exc.value)
    assert "CNNKIT_OFFLINE" in msg and "cnnkit data fetch pets" in msg
    assert "CNNKIT_PETS_MIRRORS" in msg and str(pet_site["cache"] / "pets") in msg
    row = {r["name"]: r for r in data.list_datasets()}["pets"]
    assert row["available"] is False and row["how_to_get"] == pets.how_to_get()
    assert _files(pet_site["cache"]) == []
    # Archives copied in by hand are verified and unpacked without the network.
    target = pet_site["cache"] / "pets"
    target.mkdir(parents=True)
    make_pet_archives(target, seed=3)
    with pytest.raises(data.DatasetUnavailable, match="wrong MD5"):
        data.fetch("pets", md5s=pet_site["md5s"], official=False)
    md5s = {a: file_digest(target / a, "md5") for a in pets.ARCHIVES}
    data.fetch("pets", md5s=md5s, official=False)
    assert data.available("pets") and not list(target.glob("*.tar.gz"))
