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
from cnnkit.data import cifar10, fashion_mnist
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
