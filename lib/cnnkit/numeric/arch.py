"""Conv arithmetic and architecture accounting (notebook 02, question 1).

Shapes here are (C, H, W) per image, the NCHW layout without the batch axis. The lectures write the
same volumes as HxWxC ("55x55x96"); `format_shape` prints them that way.

A layer spec is a dict with a `kind` and the kind's hyperparameters:
- {'kind': 'conv', 'name': 'CONV1', 'filters': K, 'size': F, 'stride': S, 'pad': P}
- {'kind': 'pool', 'name': 'POOL1', 'size': F, 'stride': S}   (max pool, no padding, no parameters)
- {'kind': 'norm', 'name': 'NORM1'}                          (shape-preserving, no parameters)
- {'kind': 'fc', 'name': 'FC6', 'units': M}                   (flattens its input volume)
"""

from __future__ import annotations

# BEGIN EXERCISE 02_conv_layers


def conv_output_size(N, F, S, P):
    """Spatial output size of a conv (or pool) layer: (N - F + 2P) / S + 1.

    Inputs:
    - N: input size along one spatial axis (height or width).
    - F: filter size along that axis.
    - S: stride.
    - P: zero padding added on each side.

    Returns:
    - out: the output size, an int.

    Raises ValueError when the filter does not fit: it is larger than the padded input, or the strided
    steps do not end exactly on the last column ((N - F + 2P) not divisible by S), e.g. (7, 3, 3, 0).
    """
    # BEGIN SOLUTION
    span = N - F + 2 * P
    if S <= 0 or span < 0 or span % S != 0:
        raise ValueError(
            f"filter does not fit: input {N}, filter {F}, stride {S}, pad {P} gives "
            f"(N - F + 2P) / S + 1 = {span / S + 1 if S > 0 else float('nan'):g}"
        )
    return span // S + 1
    # END SOLUTION


def conv_param_count(F, C, K, bias=True):
    """Number of learnable parameters of a conv layer with K filters of size F x F x C.

    Inputs:
    - F: filter size (square F x F).
    - C: input channels (every filter spans the full input depth).
    - K: number of filters.
    - bias: whether each filter has a bias.

    Returns:
    - count: F*F*C*K weights, plus K biases when bias is True.
    """
    # BEGIN SOLUTION
    return F * F * C * K + (K if bias else 0)
    # END SOLUTION


def trace_shapes(layers, input_shape, bias=True):
    """Follow an input volume through a list of layer specs (see the module docstring).

    Inputs:
    - layers: list of layer-spec dicts with keys 'kind', 'name' and the kind's hyperparameters.
    - input_shape: (C, H, W) of one input image.
    - bias: whether conv and fc layers count their biases.

    Returns:
    - rows: list of dicts, the input first ('name': 'INPUT'), then one per layer, each with
      'name', 'kind', 'shape' (C, H, W) of the output, 'activations' (C*H*W, an int) and
      'params' (an int). An fc layer's output shape is (units, 1, 1).

    Raises ValueError (from conv_output_size) when a conv or pool layer does not fit its input.
    """
    # BEGIN SOLUTION
    C, H, W = input_shape
    rows = [
        {
            "name": "INPUT",
            "kind": "input",
            "shape": (C, H, W),
            "activations": C * H * W,
            "params": 0,
        }
    ]
    for layer in layers:
        kind = layer["kind"]
        if kind == "conv":
            F, S, P, K = layer["size"], layer["stride"], layer["pad"], layer["filters"]
            params = conv_param_count(F, C, K, bias=bias)
            C, H, W = K, conv_output_size(H, F, S, P), conv_output_size(W, F, S, P)
        elif kind == "pool":
            F, S = layer["size"], layer["stride"]
            params = 0
            H, W = conv_output_size(H, F, S, 0), conv_output_size(W, F, S, 0)
        elif kind == "norm":
            params = 0
        elif kind == "fc":
            M = layer["units"]
            params = C * H * W * M + (M if bias else 0)
            C, H, W = M, 1, 1
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
        rows.append(
            {
                "name": layer.get("name", kind.upper()),
                "kind": kind,
                "shape": (C, H, W),
                "activations": C * H * W,
                "params": params,
            }
        )
    return rows
    # END SOLUTION


# END EXERCISE


def format_shape(shape):
    """The lecture's HxWxC notation for a (C, H, W) shape, e.g. (96, 55, 55) -> '55x55x96'."""
    C, H, W = shape
    return f"{H}x{W}x{C}"


def print_trace(rows):
    """Print a trace (from trace_shapes) as the lecture's table, with totals.

    Inputs:
    - rows: list of dicts from trace_shapes.

    Returns:
    - None; prints name, output shape (HxWxC), activations and params per row and their sums.
    """
    print(f"{'layer':<10} {'output':>14} {'activations':>13} {'params':>13}")
    for r in rows:
        print(
            f"{r['name']:<10} {format_shape(r['shape']):>14} {r['activations']:>13,} {r['params']:>13,}"
        )
    acts = sum(r["activations"] for r in rows)
    params = sum(r["params"] for r in rows)
    print(f"{'TOTAL':<10} {'':>14} {acts:>13,} {params:>13,}")


def alexnet_spec():
    """The lecture's simplified AlexNet (one tower, no grouping) on a 227x227x3 input.

    Returns:
    - layers: list of layer-spec dicts (CONV1 ... FC8); trace it with input_shape (3, 227, 227).
    """
    return [
        {"kind": "conv", "name": "CONV1", "filters": 96, "size": 11, "stride": 4, "pad": 0},
        {"kind": "pool", "name": "POOL1", "size": 3, "stride": 2},
        {"kind": "norm", "name": "NORM1"},
        {"kind": "conv", "name": "CONV2", "filters": 256, "size": 5, "stride": 1, "pad": 2},
        {"kind": "pool", "name": "POOL2", "size": 3, "stride": 2},
        {"kind": "norm", "name": "NORM2"},
        {"kind": "conv", "name": "CONV3", "filters": 384, "size": 3, "stride": 1, "pad": 1},
        {"kind": "conv", "name": "CONV4", "filters": 384, "size": 3, "stride": 1, "pad": 1},
        {"kind": "conv", "name": "CONV5", "filters": 256, "size": 3, "stride": 1, "pad": 1},
        {"kind": "pool", "name": "POOL3", "size": 3, "stride": 2},
        {"kind": "fc", "name": "FC6", "units": 4096},
        {"kind": "fc", "name": "FC7", "units": 4096},
        {"kind": "fc", "name": "FC8", "units": 1000},
    ]


def vgg16_spec():
    """VGG-16 (configuration D): 13 3x3 convs (stride 1, pad 1) in 5 blocks, 2x2/2 max pools, 3 FCs.

    Returns:
    - layers: list of layer-spec dicts; trace it with input_shape (3, 224, 224).
    """
    layers = []
    for block, (channels, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        for i in range(1, convs + 1):
            layers.append(
                {
                    "kind": "conv",
                    "name": f"CONV{block}_{i}",
                    "filters": channels,
                    "size": 3,
                    "stride": 1,
                    "pad": 1,
                }
            )
        layers.append({"kind": "pool", "name": f"POOL{block}", "size": 2, "stride": 2})
    layers += [
        {"kind": "fc", "name": "FC6", "units": 4096},
        {"kind": "fc", "name": "FC7", "units": 4096},
        {"kind": "fc", "name": "FC8", "units": 1000},
    ]
    return layers
