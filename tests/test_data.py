"""The dataset registry: offline Fashion-MNIST, the shapes generator, digits/photos, error texts."""

import gzip
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnnkit import data
from cnnkit.data import _common, fashion_mnist, shapes

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (make data installs it)",
)


@pytest.fixture
def empty_machine(tmp_path, monkeypatch):
    """An empty cache, no system files, no downloads: what a fresh offline machine sees."""
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNKIT_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    return tmp_path / "cache"


def test_import_does_not_import_torch():
    code = "import sys, cnnkit.data; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_list_datasets_has_every_dataset_with_contract_keys():
    rows = data.list_datasets()
    names = [r["name"] for r in rows]
    assert names == ["fashion_mnist", "cifar10", "pets", "shapes", "digits", "photos"]
    for r in rows:
        assert {"name", "available", "source", "how_to_get"} <= set(r)
        assert isinstance(r["available"], bool)
        assert r["available"] == data.available(r["name"])
    assert data.available("shapes")


@needs_fashion
def test_fashion_mnist_offline_matches_torchvision_reader(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))  # empty cache: must come from system files
    assert data.path("fashion_mnist") == FASHION_DIR
    test = data.load("fashion_mnist", split="test")
    assert test.X.shape == (10000, 1, 28, 28) and test.X.dtype == np.float32
    assert test.y.shape == (10000,) and test.y.dtype == np.int64
    assert test.X.min() >= 0.0 and test.X.max() <= 1.0 and test.X.max() == 1.0
    assert test.class_names[0] == "T-shirt/top" and len(test.class_names) == 10
    # Oracle: torchvision's own IDX reader on the gunzipped files.
    from torchvision.datasets.mnist import read_image_file, read_label_file

    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(FASHION_DIR / f"{name}.gz") as src, open(tmp_path / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    ref_x = read_image_file(str(tmp_path / "t10k-images-idx3-ubyte")).numpy()
    ref_y = read_label_file(str(tmp_path / "t10k-labels-idx1-ubyte")).numpy()
    np.testing.assert_array_equal(np.rint(test.X[:, 0] * 255).astype(np.uint8), ref_x)
    np.testing.assert_array_equal(test.y, ref_y)


@needs_fashion
def test_fashion_mnist_train_val_split_is_fixed_and_partitions_train(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))
    train = data.load("fashion_mnist", "train")
    val = data.load("fashion_mnist", "val")
    assert train.X.shape == (55000, 1, 28, 28) and val.X.shape == (5000, 1, 28, 28)
    full_y = fashion_mnist.read_idx(FASHION_DIR / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(
        np.bincount(train.y, minlength=10) + np.bincount(val.y, minlength=10),
        np.bincount(full_y, minlength=10),
    )
    np.testing.assert_array_equal(np.bincount(val.y), np.full(10, 500))  # 6000 per class
    # Same pixels overall, so no image moved or got lost between the two parts.
    full_sum = fashion_mnist.read_idx(FASHION_DIR / "train-images-idx3-ubyte.gz").sum(
        dtype=np.int64
    )
    got = np.rint(train.X * 255).sum(dtype=np.int64) + np.rint(val.X * 255).sum(dtype=np.int64)
    assert got == full_sum
    again = data.load("fashion_mnist", "val", n=200, seed=3)
    np.testing.assert_array_equal(again.y, data.load("fashion_mnist", "val", n=200, seed=3).y)
    np.testing.assert_array_equal(np.bincount(again.y), np.full(10, 20))


def test_missing_dataset_names_what_to_install(empty_machine):
    assert not data.available("fashion_mnist")
    with pytest.raises(data.DatasetUnavailable) as exc:
        data.load("fashion_mnist")
    msg = str(exc.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "cnnkit data fetch fashion_mnist" in msg
    assert str(empty_machine / "fashion_mnist") in msg
    with pytest.raises(data.DatasetUnavailable, match="MD5 c58f30108f718f92721af3b95e74349a"):
        data.load("cifar10", "test")
    with pytest.raises(data.DatasetUnavailable, match="CNNKIT_CIFAR10_MIRRORS"):
        data.path("cifar10")
    row = {r["name"]: r for r in data.list_datasets()}["fashion_mnist"]
    assert row["available"] is False and "apt-get" in row["how_to_get"]
    assert not empty_machine.exists() or not any(empty_machine.rglob("*"))
    with pytest.raises(data.DatasetUnavailable, match="unknown dataset 'mnist'"):
        data.load("mnist")


def test_shapes_split_shape_dtype_range_and_balance():
    s = data.load("shapes", "train", n=2000)
    assert s.X.shape == (2000, 3, 32, 32) and s.X.dtype == np.float32
    assert s.y.shape == (2000,) and s.y.dtype == np.int64
    assert s.X.min() >= 0.0 and s.X.max() <= 1.0
    assert s.class_names == shapes.CLASS_NAMES and len(set(s.class_names)) == 10
    np.testing.assert_array_equal(np.bincount(s.y, minlength=10), np.full(10, 200))


def test_shapes_is_deterministic_prefix_stable_and_splits_differ():
    a = data.load("shapes", "val", n=1500)
    b = data.load("shapes", "val", n=2500)
    np.testing.assert_array_equal(a.X, b.X[:1500])  # first n do not depend on n
    np.testing.assert_array_equal(a.y, b.y[:1500])
    t = data.load("shapes", "test", n=1500)
    assert not np.array_equal(a.X, t.X)
    g1, g2 = shapes.generate(300, seed=7), shapes.generate(300, seed=7)
    np.testing.assert_array_equal(g1.X, g2.X)
    assert not np.array_equal(g1.X, shapes.generate(300, seed=8).X)
    assert not np.array_equal(g1.X, data.load("shapes", "test", n=300).X)
    assert not np.array_equal(a.X[:300], data.load("shapes", "val", n=300, seed=1).X)


def test_shapes_colour_does_not_give_the_class_away():
    s = data.load("shapes", "train", n=5000)
    # Per-class mean colour of whole images: all classes within a few percent of each other.
    means = np.stack([s.X[s.y == c].mean(axis=(0, 2, 3)) for c in range(10)])
    assert np.ptp(means, axis=0).max() < 0.05


def test_shapes_generation_speed_is_a_small_multiple_of_drawing_its_noise():
    def best(fn, repeat=2):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    n = 2000
    t_gen = best(lambda: shapes.generate(n, seed=1))
    rng = np.random.default_rng(0)
    t_noise = best(lambda: rng.standard_normal((n, 3, 32, 32), dtype=np.float32))
    # Vectorised generation costs a few times the Gaussian noise it draws; a per-pixel Python loop
    # would be thousands of times slower.
    assert t_gen / t_noise < 60, (t_gen, t_noise)


def test_stratified_order_prefixes_are_balanced():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    order = _common.stratified_order(y, seed=5)
    assert sorted(order.tolist()) == list(range(100))
    np.testing.assert_array_equal(np.bincount(y[order[:40]], minlength=4), [10, 10, 10, 10])


def test_digits_and_photos():
    tr, va, te = (data.load("digits", s) for s in ("train", "val", "test"))
    from sklearn.datasets import load_digits

    ref = load_digits()
    assert tr.X.shape[1:] == (1, 8, 8) and len(tr.y) + len(va.y) + len(te.y) == len(ref.target)
    np.testing.assert_array_equal(
        np.bincount(np.concatenate([tr.y, va.y, te.y])), np.bincount(ref.target)
    )
    assert tr.X.max() == 1.0 and tr.X.dtype == np.float32
    photos = data.photos()
    assert {"chelsea", "coffee", "astronaut", "rocket"} <= set(photos)
    for img in photos.values():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    as_list = data.load("photos")
    assert len(as_list) == len(photos)
    np.testing.assert_array_equal(as_list[0], next(iter(photos.values())))


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "x"))
    assert data.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("CNNKIT_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "cnnkit"


@needs_fashion
def test_a_cache_with_only_the_uncompressed_test_files_serves_the_test_split(empty_machine):
    """What an autograder zip carries (cnnkit.grading.offline): the test part, uncompressed."""
    empty_machine.joinpath("fashion_mnist").mkdir(parents=True)
    for name in fashion_mnist.FILES["test"]:
        raw = gzip.decompress((FASHION_DIR / name).read_bytes())
        (empty_machine / "fashion_mnist" / name.removesuffix(".gz")).write_bytes(raw)
    assert fashion_mnist.locate("test") == (empty_machine / "fashion_mnist", "cache")
    assert fashion_mnist.locate() is None  # the train part is missing
    test = data.load("fashion_mnist", "test", n=100, seed=3)
    assert test.X.shape == (100, 1, 28, 28) and np.bincount(test.y).tolist() == [10] * 10
    with pytest.raises(data.DatasetUnavailable, match="downloads are off"):
        data.load("fashion_mnist", "train", n=10)


@needs_fashion
def test_recorded_content_hashes_match_the_dataset():
    import hashlib

    for name in (n for pair in fashion_mnist.FILES.values() for n in pair):
        raw = gzip.decompress((FASHION_DIR / name).read_bytes())
        digest = hashlib.sha256(raw).hexdigest()
        assert digest == fashion_mnist.CONTENT_SHA256[name.removesuffix(".gz")]
