"""cnnkit.models: parameter counts against the hand formula F*F*C*K + K, builder shapes and structure,
checkpoint round trips through the builder's JSON config."""

import json
import math

import pytest
import torch
from torch import nn

from cnnkit.models import build_cnn, build_mlp, count_params


def conv_formula(f, c, k, groups=1, bias=True):
    """The lecture's F*F*C*K (+K) with C split over groups; a 2-tuple f is (kh, kw)."""
    kh, kw = (f, f) if isinstance(f, int) else f
    return kh * kw * (c // groups) * k + (k if bias else 0)


def fc_formula(d_in, d_out, bias=True):
    return d_in * d_out + (d_out if bias else 0)


def test_lecture_layer_counts():
    assert count_params(nn.Conv2d(3, 10, 5, padding=2)) == conv_formula(5, 3, 10) == 760
    assert count_params(nn.Conv2d(64, 32, 1)) == conv_formula(1, 64, 32) == 2080
    assert count_params(nn.Conv2d(4, 8, 3, groups=2)) == conv_formula(3, 4, 8, groups=2) == 152
    # Dilation spreads the same 3x3 taps further apart: the count does not change.
    assert count_params(nn.Conv2d(4, 8, 3, dilation=2)) == conv_formula(3, 4, 8)
    # Depthwise (groups = C): one F x F filter per channel.
    assert count_params(nn.Conv2d(16, 16, 3, groups=16)) == 16 * 9 + 16
    assert count_params(nn.MaxPool2d(2)) == 0


def test_count_params_trainable_only():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    for p in model[0].parameters():
        p.requires_grad_(False)
    assert count_params(model) == fc_formula(4, 3) + fc_formula(3, 2)
    assert count_params(model, trainable_only=True) == fc_formula(3, 2)


def test_count_params_skips_batchnorm_buffers():
    bn = nn.BatchNorm2d(7)
    assert count_params(bn) == 14  # weight and bias; running mean/var are buffers


def test_torchvision_vgg16_matches_formula():
    from torchvision.models import vgg16

    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    total, c = 0, 3
    for v in cfg:
        if v != "M":
            total += conv_formula(3, c, v)
            c = v
    total += fc_formula(7 * 7 * 512, 4096) + fc_formula(4096, 4096) + fc_formula(4096, 1000)
    assert count_params(vgg16(weights=None)) == total
    assert total == 138_357_544  # lecture-digest figure (weights + 13,416 biases)


def test_torchvision_alexnet_matches_its_formula_not_the_lecture():
    from torchvision.models import alexnet

    # torchvision's single-GPU AlexNet: 64/192/384/256/256 filters, 11/5/3/3/3 kernels.
    spec = [(11, 3, 64), (5, 64, 192), (3, 192, 384), (3, 384, 256), (3, 256, 256)]
    tv = sum(conv_formula(f, c, k) for f, c, k in spec)
    tv += fc_formula(256 * 6 * 6, 4096) + fc_formula(4096, 4096) + fc_formula(4096, 1000)
    assert count_params(alexnet(weights=None)) == tv
    # The lecture's AlexNet (96/256/384/384/256, no grouping) is a different, larger network.
    lecture = [(11, 3, 96), (5, 96, 256), (3, 256, 384), (3, 384, 384), (3, 384, 256)]
    lec = sum(conv_formula(f, c, k) for f, c, k in lecture)
    lec += fc_formula(256 * 6 * 6, 4096) + fc_formula(4096, 4096) + fc_formula(4096, 1000)
    assert lec == 62_378_344  # lecture-digest figure, recomputed here
    assert tv < lec


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"channels": (8, 16), "convs_per_block": 2, "fc": (32,), "dropout": 0.5},
        {"in_channels": 1, "num_classes": 4, "channels": (4,), "batchnorm": False, "image_size": 8},
    ],
)
def test_build_cnn_shapes_and_structure(kw):
    model = build_cnn(**kw)
    cin = kw.get("in_channels", 3)
    size = kw.get("image_size", 32)
    ncls = kw.get("num_classes", 10)
    channels = kw.get("channels", (32, 64, 128))
    n = kw.get("convs_per_block", 1)
    bn = kw.get("batchnorm", True)
    fc = kw.get("fc", ())
    model.eval()
    out = model(torch.randn(2, cin, size, size))
    assert out.shape == (2, ncls)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == len(channels) * n
    for m in convs:
        assert m.kernel_size == (3, 3) and m.stride == (1, 1) and m.padding == (1, 1)
        assert (m.bias is None) == bn
    assert [m.out_channels for m in convs] == [k for k in channels for _ in range(n)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == (len(convs) if bn else 0)
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == len(channels)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == len(fc) + 1
    d = channels[-1] * (size // 2 ** len(channels)) ** 2
    assert linears[0].in_features == d
    drop = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(drop) == (len(linears) if kw.get("dropout", 0) > 0 else 0)
    assert not isinstance(list(model.children())[-1], nn.ReLU)
    # Parameter count equals the hand formula summed over the layers.
    expected, c = 0, cin
    for k in channels:
        for _ in range(n):
            expected += conv_formula(3, c, k, bias=not bn) + (2 * k if bn else 0)
            c = k
    for h in list(fc) + [ncls]:
        expected += fc_formula(d, h)
        d = h
    assert count_params(model) == expected


def test_build_cnn_rejects_indivisible_size():
    with pytest.raises(ValueError, match="divisible"):
        build_cnn(channels=(8, 8, 8), image_size=12)


def test_build_cnn_accepts_json_lists():
    cfg = {"channels": [8, 16], "fc": [16], "dropout": 0.25}
    again = json.loads(json.dumps(cfg))
    a, b = build_cnn(**cfg), build_cnn(**again)
    assert list(a.state_dict()) == list(b.state_dict())


def test_build_mlp():
    model = build_mlp(hidden=(64, 32), dropout=0.1)
    assert model(torch.randn(5, 3, 32, 32)).shape == (5, 10)
    assert count_params(model) == fc_formula(3072, 64) + fc_formula(64, 32) + fc_formula(32, 10)
    assert not any(isinstance(m, nn.Conv2d) for m in model.modules())
    assert build_mlp(in_channels=1, image_size=8, hidden=(), num_classes=3)(
        torch.zeros(1, 1, 8, 8)
    ).shape == (1, 3)


def test_state_dict_round_trip_through_config(tmp_path):
    """What a grader does: rebuild from the JSON config alone and load with weights_only=True."""
    cfg = {"channels": [8, 16], "convs_per_block": 1, "fc": [], "batchnorm": True}
    torch.manual_seed(0)
    model = build_cnn(**cfg)
    model.train()
    model(torch.randn(8, 3, 32, 32))  # moves the BatchNorm running statistics off their init
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": model.state_dict(), "config": json.loads(json.dumps(cfg))}, path)
    blob = torch.load(path, weights_only=True, map_location="cpu")
    fresh = build_cnn(**blob["config"])
    fresh.load_state_dict(blob["state_dict"])
    model.eval()
    fresh.eval()
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)


def test_checkpoint_round_trip_with_training_module(tmp_path):
    training = pytest.importorskip("cnnkit.training")
    cfg = {"channels": [4, 8], "fc": [8], "dropout": 0.5}
    torch.manual_seed(1)
    model = build_cnn(**cfg).eval()
    path = tmp_path / "cnn_checkpoint.pt"
    training.save_checkpoint(path, model, config=cfg)
    fresh, meta = training.load_checkpoint(path, builder=build_cnn)
    fresh.eval()
    x = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)
    assert meta["config"] == json.loads(json.dumps(cfg))


def test_build_cnn_overfits_a_small_batch():
    """The notebook's sanity ladder: 64 shapes images memorised by a small CNN in a few dozen steps."""
    from cnnkit import data

    X, y, _ = data.load("shapes", "train", n=64)
    x, y = torch.tensor(X), torch.tensor(y)
    torch.manual_seed(0)
    model = build_cnn(channels=(8, 16))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    first = None
    for _ in range(40):
        loss = nn.functional.cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    acc = (model(x).argmax(1) == y).float().mean().item()
    assert abs(first - math.log(10)) < 0.5
    assert acc >= 0.95


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_build_cnn_trains_on_cuda_with_amp_and_channels_last():
    from cnnkit import training

    torch.manual_seed(0)
    model = build_cnn(channels=(8, 16), global_pool=True)
    x, y = torch.rand(64, 3, 32, 32), torch.randint(0, 10, (64,))
    batches = [(x, y)] * 4
    history = training.fit(model, batches, batches, epochs=2, device="cuda", progress=False)
    assert next(model.parameters()).device.type == "cuda"
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert len(history.train_loss) == 2
    assert all(math.isfinite(v) for v in history.train_loss)
