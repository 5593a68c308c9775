"""cnnkit.features: the offline photo task, frozen features, probes, PCA, saliency and occlusion."""

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import MobileNet_V2_Weights, mobilenet_v2, resnet18

from cnnkit import features, transfer


def _band_photo(H=120, W=600, seed=0):
    # Red encodes the band of every column; green is noise so no crop is rejected as flat.
    rng = np.random.default_rng(seed)
    photo = np.zeros((H, W, 3), np.uint8)
    band = W // features.N_BANDS
    photo[:, :, 0] = (np.minimum(np.arange(W) // band, features.N_BANDS - 1) * 40)[None, :]
    photo[:, :, 1] = rng.integers(0, 256, size=(H, W))
    return photo


@pytest.mark.parametrize("split", sorted(features.SPLIT_BANDS))
def test_crops_come_only_from_their_split_bands(split):
    photo = _band_photo()
    X = features.photo_crops(photo, 40, split, np.random.default_rng(1), size=16, jitter=0.0)
    assert X.shape == (40, 3, 16, 16) and X.dtype == np.float32
    red = X[:, 0] * 255 / 40
    # a crop lies inside one band: its red channel is constant and names the band
    assert np.allclose(red, red[:, :1, :1], atol=1e-3)
    bands = set(np.round(red[:, 0, 0]).astype(int).tolist())
    assert bands == set(features.SPLIT_BANDS[split])


def test_split_bands_are_disjoint_and_cover_the_photo():
    used = [b for bands in features.SPLIT_BANDS.values() for b in bands]
    assert sorted(used) == list(range(features.N_BANDS))


def test_photo_task_shapes_balance_and_determinism():
    names = ("coffee", "brick", "china")
    X, y, cls = features.photo_task(4, "val", seed=3, size=24, names=names)
    assert X.shape == (12, 3, 24, 24) and X.dtype == np.float32
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert cls == list(names) and np.bincount(y).tolist() == [4, 4, 4] and y.dtype == np.int64
    X2, y2, _ = features.photo_task(4, "val", seed=3, size=24, names=names)
    np.testing.assert_array_equal(X, X2)
    X3, _, _ = features.photo_task(4, "val", seed=4, size=24, names=names)
    assert not np.array_equal(X, X3)
    Xg, _, _ = features.photo_task(2, "train", seed=0, size=24, names=names, gray=True)
    np.testing.assert_allclose(Xg[:, 0], Xg[:, 1])
    with pytest.raises(ValueError, match="split"):
        features.photo_task(1, "holdout")


def _identity(x):
    return x


def test_extract_features_matches_a_manual_forward():
    torch.manual_seed(0)
    m = mobilenet_v2(weights=None).eval()
    X = torch.rand(5, 3, 32, 32)
    got = features.extract_features(m, X, _identity, batch_size=2)
    with torch.no_grad():
        ref = nn.functional.adaptive_avg_pool2d(m.features(X), 1).flatten(1)
    assert got.shape == (5, 1280)
    torch.testing.assert_close(got, ref)
    r = resnet18(weights=None).eval()
    got = features.extract_features(r, X, _identity)
    r.fc = nn.Identity()
    with torch.no_grad():
        torch.testing.assert_close(got, r(X))


def test_extract_features_uses_eval_mode_no_grad_and_restores_the_mode():
    torch.manual_seed(0)
    m = mobilenet_v2(weights=None).train()
    X = torch.rand(4, 3, 32, 32)
    one = features.extract_features(m, X, _identity, batch_size=1)
    four = features.extract_features(m, X, _identity, batch_size=4)
    torch.testing.assert_close(one, four, rtol=1e-4, atol=1e-5)
    assert m.training and not four.requires_grad


def test_cached_features_reuses_only_an_identical_call(tmp_path):
    torch.manual_seed(0)
    m = mobilenet_v2(weights=None).eval()
    calls = []
    m.features.register_forward_hook(lambda *a: calls.append(1))
    X = np.random.default_rng(0).random((2, 3, 32, 32), dtype=np.float32)

    def ran(*args):
        before = len(calls)
        out = features.cached_features(*args)
        return len(calls) > before, out

    first = ran(m, "a", X, _identity, tmp_path)
    again = ran(m, "a", X, _identity, tmp_path)
    assert first[0] and not again[0]
    torch.testing.assert_close(first[1], again[1], rtol=0, atol=0)
    assert ran(m, "b", X, _identity, tmp_path)[0]
    assert ran(m, "a", X, lambda x: x * 2, tmp_path)[0]  # another repr: another key
    assert ran(m, "a", X + 0.5, _identity, tmp_path)[0]


def test_augmentations_random_for_training_deterministic_for_test():
    train_tf, test_tf = features.augmentations(16)
    img = torch.rand(3, 30, 24)
    views = [train_tf(img) for _ in range(6)]
    assert all(v.shape == (3, 16, 16) for v in views)
    assert any(not torch.equal(views[0], v) for v in views[1:])
    torch.testing.assert_close(test_tf(img), test_tf(img), rtol=0, atol=0)
    small = torch.rand(3, 16, 16)
    torch.testing.assert_close(test_tf(small), small)


def test_train_steps_trains_with_augment_and_ends_in_eval():
    torch.manual_seed(0)
    X = torch.randn(40, 5)
    y = (X[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(5, 2))
    calls = []
    losses = features.train_steps(
        model,
        X,
        y,
        torch.optim.SGD(model.parameters(), lr=0.5),
        30,
        batch_size=8,
        augment=lambda x: calls.append(x.shape) or x,
    )
    assert len(losses) == 30 and len(calls) == 30 * 8 and not model.training
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_fine_tuning_moves_only_the_unfrozen_blocks_and_keeps_frozen_bn_stats():
    torch.manual_seed(0)
    m = mobilenet_v2(weights=None)
    transfer.replace_head(m, 3)
    opt = transfer.finetune_optimizer(m, 0.1, 2)
    before = {k: v.clone() for k, v in m.features.state_dict().items()}
    features.train_steps(m, torch.rand(6, 3, 32, 32), torch.tensor([0, 1, 2] * 2), opt, 2, 6)
    after = m.features.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"17", "18"}


def test_fgsm_and_targeted_attack_stay_in_range_and_box():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 3)).double()
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    adv = features.fgsm(model, x, torch.tensor([0, 1]), 0.3)
    assert adv.min() >= 0 and adv.max() <= 1 and not adv.requires_grad
    t = torch.tensor([2, 2])
    adv = features.targeted_attack(model, x, t, eps=0.05, step=0.02, steps=10)
    assert float((adv - x).abs().max()) <= 0.05 + 1e-12
    loss = nn.functional.cross_entropy
    with torch.no_grad():
        assert loss(model(adv), t) < loss(model(x), t)


def test_class_visualization_raises_the_target_score():
    model = _tiny_cnn(2)
    img = features.class_visualization(model, 3, (3, 8, 8), steps=20, lr=0.1, l2=1e-3)
    with torch.no_grad():
        assert model(img[None])[0, 3] > model(torch.zeros(1, 3, 8, 8, dtype=torch.float64))[0, 3]


def test_train_linear_and_accuracy_on_separable_data():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 8, generator=g) * 5
    y = torch.arange(60) % 3
    F = centers[y] + torch.randn(60, 8, generator=g) * 0.3
    lin = features.train_linear(F, y, 3, epochs=200)
    assert features.accuracy(lin(F), y) == 1.0
    assert features.accuracy(np.eye(3)[[0, 1, 1]], np.array([0, 1, 2])) == pytest.approx(2 / 3)


def test_pca_matches_numpy_svd():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 6)) @ np.diag([5, 3, 1, 0.5, 0.1, 0.01])
    B = rng.normal(size=(7, 6))
    Pa, Pb = features.pca(torch.from_numpy(A), 2, torch.from_numpy(B))
    mu = A.mean(0)
    _, _, vt = np.linalg.svd(A - mu, full_matrices=False)
    # principal directions are defined up to sign
    signs = np.sign(np.sum(Pa.numpy() * ((A - mu) @ vt[:2].T), axis=0))
    np.testing.assert_allclose(Pa.numpy() * signs, (A - mu) @ vt[:2].T, atol=1e-10)
    np.testing.assert_allclose(Pb.numpy() * signs, (B - mu) @ vt[:2].T, atol=1e-10)


def _tiny_cnn(seed=0):
    torch.manual_seed(seed)
    return (
        nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5)
        )
        .double()
        .eval()
    )


def test_saliency_is_the_abs_input_gradient_max_over_channels():
    model = _tiny_cnn()
    x = torch.randn(3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        got = features.saliency(model, x, 2)
    xx = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(xx[None])[0, 2], xx)
    torch.testing.assert_close(got, g.abs().amax(0))
    assert x.grad is None


def test_occlusion_matches_a_loop_oracle():
    model = _tiny_cnn(1)
    x = torch.randn(3, 8, 8, dtype=torch.float64)
    got = features.occlusion(model, x, 4, patch=4, stride=2, fill=0.3)
    with torch.no_grad():
        base = model(x[None]).softmax(1)[0, 4]
        ref = torch.zeros(3, 3, dtype=torch.float64)
        for i in range(3):
            for j in range(3):
                occ = x.clone()
                occ[:, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4] = 0.3
                ref[i, j] = base - model(occ[None]).softmax(1)[0, 4]
    torch.testing.assert_close(got, ref)


def test_scratch_cnn_shape():
    net = features.scratch_cnn(7)
    assert net(torch.zeros(2, 3, 112, 112)).shape == (2, 7)


def _pretrained_available():
    from pathlib import Path

    return (Path(torch.hub.get_dir()) / "checkpoints" / "mobilenet_v2-b0353104.pth").is_file()


@pytest.mark.slow
@pytest.mark.skipif(not _pretrained_available(), reason="offline MobileNetV2 weights not seeded")
def test_head_accuracy_round_trip(tmp_path):
    from cnnkit.training import save_checkpoint

    weights = MobileNet_V2_Weights.IMAGENET1K_V1
    model = mobilenet_v2(weights=weights)
    size = 64
    pre = weights.transforms(crop_size=size, resize_size=size)
    X, y, names = features.photo_task(6, "train", seed=0, size=size)
    head = features.train_linear(features.extract_features(model, X, pre), y, len(names))
    cfg = {"arch": "mobilenet_v2", "weights": "IMAGENET1K_V1", "image_size": size}
    path = save_checkpoint(tmp_path / "transfer_head.pt", head, config=cfg)
    acc = features.head_accuracy(path, n_per_class=3, seed=5)
    assert 1 / len(names) * 2 < acc <= 1.0
    # a head of zeros scores exactly chance-by-argmax (class 0 every time)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
    save_checkpoint(path, head, config=cfg)
    assert features.head_accuracy(path, n_per_class=3, seed=5) == pytest.approx(1 / len(names))
    save_checkpoint(path, head, config={**cfg, "arch": "resnet18"})
    with pytest.raises(ValueError, match="mobilenet_v2"):
        features.head_accuracy(path, n_per_class=1)


@pytest.mark.slow
@pytest.mark.skipif(not _pretrained_available(), reason="offline MobileNetV2 weights not seeded")
def test_heldout_features_are_kept_and_read_back(tmp_path, monkeypatch):
    from cnnkit.training import save_checkpoint

    size, n = 32, 2
    head = torch.nn.Linear(1280, len(features.PHOTOS))
    cfg = {"arch": "mobilenet_v2", "weights": "IMAGENET1K_V1", "image_size": size}
    path = save_checkpoint(tmp_path / "transfer_head.pt", head, config=cfg)
    fresh = features.head_accuracy(path, n_per_class=n, seed=9)
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv(features.HELDOUT_CACHE_ENV, str(cache))
    features.heldout_features(n, 9, size)  # computed; kept only when the grader says so
    assert list(cache.iterdir()) == []
    monkeypatch.setenv(features.HELDOUT_KEEP_ENV, "1")
    feats, y = features.heldout_features(n, 9, size)
    assert feats.shape == (n * len(features.PHOTOS), 1280) and feats.dtype == np.float32
    assert np.array_equal(y, np.repeat(np.arange(len(features.PHOTOS)), n))
    (kept,) = cache.iterdir()
    # the kept file is what is read: the same accuracy as computed fresh; a planted value shows
    # that the backbone did not run again
    assert features.head_accuracy(path, n_per_class=n, seed=9) == fresh
    # and it is the head on the backbone's features of the draw, computed here in one go
    weights = MobileNet_V2_Weights.IMAGENET1K_V1
    X, _, _ = features.photo_task(n, "test", seed=9, size=size)
    pre = weights.transforms(crop_size=size, resize_size=size)
    with torch.no_grad():
        direct = features.Backbone(mobilenet_v2(weights=weights).eval())(pre(torch.from_numpy(X)))
    np.testing.assert_allclose(feats, direct.numpy(), rtol=1e-4, atol=1e-5)
    assert fresh == pytest.approx(features.accuracy(head(direct), y))
    planted = np.zeros_like(feats)
    with open(kept, "wb") as f:
        np.savez(f, feats=planted, y=y)
    assert np.array_equal(features.heldout_features(n, 9, size)[0], planted)
    # a file of another shape, or one that does not load, is not used: recomputed (and replaced)
    for bad in ({"feats": planted[:3], "y": y[:3]}, None):
        with open(kept, "wb") as f:
            if bad:
                np.savez(f, **bad)
            else:
                f.write(b"PK\x03\x04 cut short")
        assert np.array_equal(features.heldout_features(n, 9, size)[0], feats)
