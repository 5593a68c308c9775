"""Torch side of the registry: DataLoaders, the on-device augmenting loader, augment_batch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit import data
from cnnkit.data.torch import DeviceLoader, augment_batch, default_num_workers

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_cpu_loaders_batches_shapes_and_standard_transforms():
    loaders = data.loaders(
        "shapes", batch_size=32, n_train=64, n_val=40, n_test=32, device="cpu", seed=0
    )
    assert set(loaders) == {"train", "val", "test"}
    train = loaders["train"]
    assert isinstance(train, torch.utils.data.DataLoader)
    assert train.num_workers == 0 and train.pin_memory is False
    xb, yb = next(iter(train))
    assert xb.shape == (32, 3, 32, 32) and xb.dtype == torch.float32
    assert yb.shape == (32,) and yb.dtype == torch.int64
    names = [type(t).__name__ for t in train.dataset.transform.transforms]
    assert names == ["RandomCrop", "RandomHorizontalFlip"]
    assert train.dataset.transform.transforms[0].padding == 4
    assert loaders["val"].dataset.transform is None
    # val/test: unshuffled, unaugmented, equal to the numpy split.
    ref = data.load("shapes", "val", n=40)
    xs = torch.cat([x for x, _ in loaders["val"]])
    np.testing.assert_array_equal(xs.numpy(), ref.X)
    assert [len(y) for _, y in loaders["val"]] == [32, 8]
    assert loaders["test"].dataset.class_names == ref.class_names


def test_no_augment_and_digits_not_flipped():
    plain = data.loaders("shapes", augment=False, n_train=16, n_val=10, n_test=10, device="cpu")
    assert plain["train"].dataset.transform is None
    digits = data.loaders("digits", batch_size=16, n_train=20, n_val=10, n_test=10, device="cpu")
    names = [type(t).__name__ for t in digits["train"].dataset.transform.transforms]
    assert names == ["RandomCrop"]
    xb, _ = next(iter(digits["train"]))
    assert xb.shape == (16, 1, 8, 8)


def test_default_num_workers(monkeypatch):
    assert default_num_workers("cpu") == 0
    monkeypatch.setattr("sys.platform", "win32")
    assert default_num_workers("cuda") == 0
    monkeypatch.setattr("sys.platform", "linux")
    assert default_num_workers("cuda") >= 1


@pytest.mark.parametrize("device", DEVICES)
def test_augment_batch_flip_only_matches_flip(device):
    x = torch.rand(200, 3, 8, 8, device=device)
    out, p = augment_batch(x, pad=0, flip=True, return_params=True)
    f = p["flipped"]
    assert 0 < f.sum() < 200  # both kinds present
    torch.testing.assert_close(out[f], x[f].flip(-1), rtol=0, atol=0)
    torch.testing.assert_close(out[~f], x[~f], rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_augment_batch_crop_is_a_window_of_the_zero_padded_image(device):
    g = torch.Generator(device=device)
    g.manual_seed(0)
    x = torch.rand(64, 3, 32, 32, device=device)
    out, p = augment_batch(x, pad=4, flip=True, generator=g, return_params=True)
    assert out.shape == x.shape
    xp = F.pad(x, (4, 4, 4, 4))
    for i in range(len(x)):
        t, left = int(p["top"][i]), int(p["left"][i])
        ref = xp[i, :, t : t + 32, left : left + 32]
        if p["flipped"][i]:
            ref = ref.flip(-1)
        torch.testing.assert_close(out[i], ref, rtol=0, atol=0)
    assert p["top"].min() >= 0 and p["top"].max() <= 8
    assert len(set(p["top"].tolist())) > 3  # really random
    unchanged = (p["top"] == 4) & (p["left"] == 4) & ~p["flipped"]
    changed = ~unchanged
    assert (out[changed] != x[changed]).flatten(1).any(1).all()


@pytest.mark.parametrize("device", DEVICES)
def test_device_loader_epoch_covers_each_image_once_on_the_device(device):
    n = 50
    X = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()
    y = torch.arange(n)
    loader = DeviceLoader(X, y, batch_size=16, shuffle=True, device=device, seed=1)
    assert len(loader) == 4
    seen = []
    for xb, yb in loader:
        assert xb.device.type == device and yb.device.type == device
        torch.testing.assert_close(xb[:, 0, 0, 0], yb.float())
        seen += yb.tolist()
    assert sorted(seen) == list(range(n)) and seen != list(range(n))
    second = [int(v) for _, yb in loader for v in yb]
    assert second != seen  # a new order every epoch


def test_on_device_loaders_augment_train_only():
    loaders = data.loaders(
        "shapes", batch_size=64, n_train=64, n_val=64, n_test=64, device="cpu", on_device=True
    )
    assert isinstance(loaders["train"], DeviceLoader)
    assert loaders["train"].pad == 4 and loaders["train"].flip
    ref = data.load("shapes", "train", n=64)
    originals = {img.tobytes() for img in ref.X}
    xs, ys = zip(*loaders["train"], strict=True)
    xs, ys = torch.cat(xs), torch.cat(ys)
    assert xs.shape == (64, 3, 32, 32)
    assert sorted(ys.tolist()) == sorted(ref.y.tolist())
    # An image comes out unchanged only with zero shift and no flip (1 in 162).
    assert sum(img.numpy().tobytes() in originals for img in xs) < 8
    ref_val = torch.from_numpy(data.load("shapes", "val", n=64).X)
    xv, _ = next(iter(loaders["val"]))
    torch.testing.assert_close(xv, ref_val, rtol=0, atol=0)
