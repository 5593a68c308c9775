"""Conv arithmetic and the layer-spec tracer against torch modules (shapes on the meta device)."""

import math

import pytest
import torch
from torch import nn

from cnnkit.numeric import arch


def _torch_out_size(N, F, S, P):
    """Output size from torch itself: a Conv2d run on a meta tensor (shapes only, no compute)."""
    conv = nn.Conv2d(1, 1, F, stride=S, padding=P, device="meta")
    return conv(torch.empty(1, 1, N, N, device="meta")).shape[-1]


@pytest.mark.parametrize(
    "N,F,S,P,documented",
    [
        (7, 3, 1, 0, 5),
        (7, 3, 2, 0, 3),
        (7, 3, 1, 1, 7),
        (32, 5, 1, 2, 32),
        (32, 5, 1, 0, 28),
        (28, 5, 1, 0, 24),
        (227, 11, 4, 0, 55),
        (55, 3, 2, 0, 27),
        (27, 5, 1, 2, 27),
        (13, 3, 2, 0, 6),
        (19, 5, 1, 2, 19),
    ],
)
def test_conv_output_size_lecture_values(N, F, S, P, documented):
    assert arch.conv_output_size(N, F, S, P) == documented == _torch_out_size(N, F, S, P)


@pytest.mark.parametrize("N,F,S,P", [(7, 3, 3, 0), (10, 3, 2, 0), (4, 7, 1, 1), (5, 3, 0, 1)])
def test_conv_output_size_raises_when_the_filter_does_not_fit(N, F, S, P):
    with pytest.raises(ValueError, match="does not fit"):
        arch.conv_output_size(N, F, S, P)


@pytest.mark.parametrize(
    "F,C,K,bias,documented",
    [(5, 3, 10, True, 760), (5, 3, 6, True, 456), (5, 3, 1, True, 76), (11, 3, 96, False, 34848),
     (1, 64, 32, True, 2080), (3, 7, 5, True, None)],
)  # fmt: skip
def test_conv_param_count_matches_torch(F, C, K, bias, documented):
    conv = nn.Conv2d(C, K, F, bias=bias, device="meta")
    count = sum(p.numel() for p in conv.parameters())
    assert arch.conv_param_count(F, C, K, bias=bias) == count
    if documented is not None:
        assert count == documented


def _torch_layer(spec, x):
    """The torch module for one layer spec (norm -> Identity), on the meta device."""
    kind = spec["kind"]
    if kind == "conv":
        return nn.Conv2d(x.shape[1], spec["filters"], spec["size"], spec["stride"], spec["pad"])
    if kind == "pool":
        return nn.MaxPool2d(spec["size"], spec["stride"])
    if kind == "norm":
        return nn.Identity()
    return nn.Sequential(nn.Flatten(), nn.Linear(x[0].numel(), spec["units"]))


def _torch_trace(layers, input_shape):
    shapes, params = [], []
    x = torch.empty(1, *input_shape, device="meta")
    for spec in layers:
        mod = _torch_layer(spec, x).to("meta")
        x = mod(x)
        shapes.append(tuple(x.shape[1:]) if x.dim() == 4 else (x.shape[1], 1, 1))
        params.append(sum(p.numel() for p in mod.parameters()))
    return shapes, params


@pytest.mark.parametrize(
    "spec,input_shape", [(arch.alexnet_spec, (3, 227, 227)), (arch.vgg16_spec, (3, 224, 224))]
)
def test_trace_matches_torch_layer_by_layer(spec, input_shape):
    rows = arch.trace_shapes(spec(), input_shape)
    shapes, params = _torch_trace(spec(), input_shape)
    assert rows[0] == {
        "name": "INPUT",
        "kind": "input",
        "shape": input_shape,
        "activations": math.prod(input_shape),
        "params": 0,
    }
    assert [r["shape"] for r in rows[1:]] == shapes
    assert [r["params"] for r in rows[1:]] == params
    assert all(r["activations"] == math.prod(r["shape"]) for r in rows)


def test_alexnet_trace_lecture_shapes_and_totals():
    rows = arch.trace_shapes(arch.alexnet_spec(), (3, 227, 227))[1:]
    names = [r["name"] for r in rows]
    assert names[:10] == [
        "CONV1", "POOL1", "NORM1", "CONV2", "POOL2", "NORM2", "CONV3", "CONV4", "CONV5", "POOL3",
    ]  # fmt: skip
    spatial = [r["shape"][1] for r in rows[:10]]
    channels = [r["shape"][0] for r in rows[:10]]
    assert spatial == [55, 27, 27, 27, 13, 13, 13, 13, 13, 6]
    assert channels == [96, 96, 96, 256, 256, 256, 384, 384, 256, 256]
    with_bias = sum(r["params"] for r in rows)
    without = sum(r["params"] for r in arch.trace_shapes(arch.alexnet_spec(), (3, 227, 227), False))
    assert (without, with_bias) == (62_367_776, 62_378_344)  # the lecture's "60M"


def test_vgg16_params_match_torchvision_and_the_lecture():
    from torchvision.models import vgg16

    with torch.device("meta"):
        tv = sum(p.numel() for p in vgg16(weights=None).parameters())
    rows = arch.trace_shapes(arch.vgg16_spec(), (3, 224, 224))
    weights_only = arch.trace_shapes(arch.vgg16_spec(), (3, 224, 224), bias=False)
    assert sum(r["params"] for r in rows) == tv == 138_357_544
    assert sum(r["params"] for r in weights_only) == 138_344_128
    by_name = {r["name"]: r for r in weights_only}
    assert by_name["CONV1_1"]["params"] == (3 * 3 * 3) * 64 == 1_728
    assert by_name["FC6"]["params"] == 7 * 7 * 512 * 4096 == 102_760_448


def test_vgg16_memory_is_15_2M_activations_not_the_slides_24M():
    rows = arch.trace_shapes(arch.vgg16_spec(), (3, 224, 224))
    total = sum(r["activations"] for r in rows)
    assert total == 15_237_608  # the table's own column sums to this; the slide says "24M"
    assert abs(total - 24e6) > 8e6
    # "Most memory is in early CONV, most params are in late FC"
    assert max(rows, key=lambda r: r["activations"])["name"] in ("CONV1_1", "CONV1_2")
    assert max(rows, key=lambda r: r["params"])["name"] == "FC6"


def test_trace_raises_when_a_layer_does_not_fit():
    layers = [{"kind": "conv", "name": "C", "filters": 4, "size": 3, "stride": 3, "pad": 0}]
    with pytest.raises(ValueError):
        arch.trace_shapes(layers, (3, 7, 7))
    with pytest.raises(ValueError):
        arch.trace_shapes([{"kind": "pool", "size": 2, "stride": 2}], (3, 7, 7))


def test_print_trace_writes_the_lecture_notation(capsys):
    arch.print_trace(arch.trace_shapes(arch.alexnet_spec(), (3, 227, 227)))
    text = capsys.readouterr().out
    assert "55x55x96" in text and "6x6x256" in text and "62,378,344" in text
