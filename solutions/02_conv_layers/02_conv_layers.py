# %% [markdown]
# # Notebook 02 — Conv and pool layers in numpy: naive, vectorized, and a ConvNet
#
# **What you'll learn**
# - the arithmetic of conv layers: output sizes, parameter counts, and where a network keeps its
#   memory and its parameters (AlexNet and VGG-16, traced layer by layer);
# - what a filter does to a real photo (edges, blur), convolution vs cross-correlation, translation
#   equivariance, and convolution as a (sparse) matrix multiply;
# - the forward and backward passes of conv and max-pool layers, first with plain loops, then
#   vectorized (im2col and strided windows) to within a small factor of PyTorch's speed;
# - a three-layer ConvNet built from your layers, checked step by step and trained on Fashion-MNIST.
#
# Conventions: arrays are **NCHW** (batch, channels, height, width) and a "conv" layer computes a
# **cross-correlation** (the kernel is not flipped), exactly like `torch.nn.functional.conv2d`.
# `conv_param = {'stride', 'pad'}` and `pool_param = {'pool_height', 'pool_width', 'stride'}`, as in
# CS231n.
#
# **Time.** About 4–6 hours of work. Running the whole notebook takes about 5 minutes on a laptop CPU
# (the training cell is the longest, about 3 minutes); everything here is numpy, so a GPU does not
# help (on Colab the same ~5 minutes).
#
# **How to submit.** Run the notebook top to bottom, then hand in **two files**: this notebook
# (`02_conv_layers.ipynb`) and `convnet_params.npz`, which the training cell of question 5 writes next
# to it. The trained parameters are graded as they are (held-out accuracy); grading never retrains.
#
# **Tests.** `grader.check("qN")` runs the *public* tests of a question. **Hidden tests exist and are
# worth most of the points**: they run your functions on fresh inputs (other shapes, strides, paddings)
# and compare with PyTorch in float64, so "All tests passed" from a public check does not mean full
# marks. Write general code, not code that fits the public examples.

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 02_conv_layers

# %%
from cnnkit.colab import bootstrap

bootstrap("02_conv_layers")

# %%
import matplotlib.pyplot as plt
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import cnnkit
from cnnkit import data, vis
from cnnkit.numeric.arch import alexnet_spec, format_shape, print_trace, vgg16_spec
from cnnkit.numeric.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from cnnkit.numeric.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss
from cnnkit.numeric.solver import Solver

SEED = 0
cnnkit.seed_everything(SEED)
CI = cnnkit.ci_mode()
print("CI mode (small data, short budgets):", CI)

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# ## Question 1 — Conv arithmetic and architecture accounting
#
# A conv layer with filter size `F`, stride `S` and zero padding `P` on an input of size `N` (along one
# spatial axis) gives an output of size `(N - F + 2P) / S + 1`. When that is not a whole number the
# filter **does not fit** (the lecture's 7x7 input with a 3x3 filter at stride 3).
#
# 1. `conv_output_size(N, F, S, P)` returns the output size and raises `ValueError` when the filter
#    does not fit (also when it is larger than the padded input).
# 2. `conv_param_count(F, C, K, bias=True)`: `K` filters of size `F x F x C`, plus `K` biases.
# 3. `trace_shapes(layers, input_shape, bias=True)` follows an input of shape `(C, H, W)` through a list
#    of layer specs (dicts, see the docstring; `alexnet_spec()` and `vgg16_spec()` give two) and returns
#    one row per layer — the input first — with the output shape, the number of activations and of
#    parameters. Use your two functions above.

# %% [raw]
# # BEGIN SOLUTION

# %%
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

# %%
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

# %%
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

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_conv_output_size_lecture(conv_output_size):
    import torch

    from cnnkit import checks

    for N, F, S, P in [(7, 3, 1, 0), (7, 3, 2, 0), (7, 3, 1, 1), (32, 5, 1, 2), (227, 11, 4, 0)]:
        conv = torch.nn.Conv2d(1, 1, F, stride=S, padding=P, device="meta")
        size = conv(torch.empty(1, 1, N, N, device="meta")).shape[-1]
        checks.equal(f"conv_output_size{(N, F, S, P)}", conv_output_size(N, F, S, P), size)
    try:
        conv_output_size(7, 3, 3, 0)
        raised = False
    except ValueError:
        raised = True
    checks.true(
        "conv_output_size(7, 3, 3, 0) raises ValueError",
        raised,
        "a 3x3 filter at stride 3 does not fit a 7x7 input: raise ValueError",
    )

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_conv_param_count_public(conv_param_count):
    import torch

    from cnnkit import checks

    for F, C, K, bias in [(5, 3, 10, True), (1, 64, 32, True), (11, 3, 96, False)]:
        conv = torch.nn.Conv2d(C, K, F, bias=bias, device="meta")
        count = sum(p.numel() for p in conv.parameters())
        checks.equal(f"conv_param_count{(F, C, K, bias)}", conv_param_count(F, C, K, bias=bias), count)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_trace_alexnet_public(trace_shapes, alexnet_spec):
    from cnnkit import checks

    # The lecture's AlexNet table: output shape (C, H, W), activations and parameters of each layer.
    table = [
        ("CONV1", (96, 55, 55), 290400, 34944),
        ("POOL1", (96, 27, 27), 69984, 0),
        ("NORM1", (96, 27, 27), 69984, 0),
        ("CONV2", (256, 27, 27), 186624, 614656),
        ("POOL2", (256, 13, 13), 43264, 0),
        ("NORM2", (256, 13, 13), 43264, 0),
        ("CONV3", (384, 13, 13), 64896, 885120),
        ("CONV4", (384, 13, 13), 64896, 1327488),
        ("CONV5", (256, 13, 13), 43264, 884992),
        ("POOL3", (256, 6, 6), 9216, 0),
        ("FC6", (4096, 1, 1), 4096, 37752832),
        ("FC7", (4096, 1, 1), 4096, 16781312),
        ("FC8", (1000, 1, 1), 1000, 4097000),
    ]
    rows = trace_shapes(alexnet_spec(), (3, 227, 227))
    checks.equal("number of rows (input + layers)", len(rows), len(table) + 1)
    for (name, shape, activations, params), row in zip(table, rows[1:]):
        checks.equal(f"{name} output shape", tuple(row["shape"]), shape)
        checks.equal(f"{name} activations", row["activations"], activations)
        checks.equal(f"{name} params", row["params"], params)

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_conv_output_size_fresh(conv_output_size):
    from cnnkit import checks

    rng = checks.rng()
    cases = [(3, 7, 1, 1), (10, 3, 2, 0), (9, 9, 1, 0)]
    cases += [tuple(int(v) for v in rng.integers([4, 1, 1, 0], [64, 9, 5, 4])) for _ in range(14)]
    for i, (N, F, S, P) in enumerate(cases):
        try:
            got = conv_output_size(N, F, S, P)
        except ValueError:
            got = "ValueError"
        span = N - F + 2 * P
        expected = span // S + 1 if span >= 0 and span % S == 0 else "ValueError"
        checks.equal(f"case {i}", got, expected, msg="wrong output size or ValueError missing")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_conv_param_count_fresh(conv_param_count):
    from cnnkit import checks

    rng = checks.rng()
    for i in range(8):
        F, C, K = (int(v) for v in rng.integers(1, [8, 70, 130]))
        bias = bool(i % 2)
        checks.equal(
            f"case {i}", conv_param_count(F, C, K, bias=bias), F * F * C * K + (K if bias else 0),
            msg="wrong parameter count",
        )

# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_trace_vgg16_and_fresh_specs(trace_shapes, vgg16_spec):
    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric import arch as ref

    def table(rows):
        return np.array([[*r["shape"], r["activations"], r["params"]] for r in rows], dtype=np.int64)

    for bias in (True, False):
        checks.equal(
            f"VGG-16 table (bias={bias})",
            table(trace_shapes(vgg16_spec(), (3, 224, 224), bias=bias)),
            lambda bias=bias: table(ref.trace_shapes(ref.vgg16_spec(), (3, 224, 224), bias=bias)),
            msg="VGG-16 trace is wrong",
        )
    rng = checks.rng()
    H, W = int(rng.integers(20, 40)), int(rng.integers(20, 40))
    spec = [
        {"kind": "conv", "name": "A", "filters": int(rng.integers(2, 9)), "size": 3, "stride": 1, "pad": 1},
        {"kind": "pool", "name": "B", "size": 2, "stride": 2},
        {"kind": "norm", "name": "C"},
        {"kind": "conv", "name": "D", "filters": int(rng.integers(2, 9)), "size": 1, "stride": 1, "pad": 0},
        {"kind": "fc", "name": "E", "units": int(rng.integers(5, 20))},
        {"kind": "fc", "name": "F", "units": 3},
    ]
    checks.equal(
        "fresh spec table",
        table(trace_shapes(spec, (2, H - H % 2, W - W % 2))),
        lambda: table(ref.trace_shapes(spec, (2, H - H % 2, W - W % 2))),
        msg="trace of a fresh spec is wrong",
    )

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### The lecture's tables, recomputed
#
# AlexNet (the lecture's one-tower version on a 227x227x3 input) and VGG-16, traced with your
# function. Check the lecture's numbers: CONV1 55x55x96 with 34,944 parameters ("35K", weights only:
# 34,848), about 60M parameters in total; VGG-16 has 138,357,544 parameters with biases, exactly what
# `torchvision.models.vgg16` has.

# %%
print_trace(trace_shapes(alexnet_spec(), (3, 227, 227)))
print()
vgg_rows = trace_shapes(vgg16_spec(), (3, 224, 224))
print_trace(vgg_rows)

# %% [markdown]
# **The slide's "24M" is wrong.** The VGG-16 slide ends its table with "TOTAL memory: 24M * 4 bytes
# ~= 93MB / image (only forward! ~*2 for bwd)". Add up the slide's own memory column (the input and
# every layer's output, as your trace does) and you get about **15.2M** activations, ~58 MiB per image in
# float32 — the 24M does not follow from the table. The slide's other lesson does hold: most of the
# memory sits in the early conv layers (224x224x64 maps), most of the parameters in the first FC layer
# (7x7x512x4096 = 102,760,448 of 138M).

# %%
total_acts = sum(r["activations"] for r in vgg_rows)
print(f"VGG-16 forward activations: {total_acts:,} numbers = {total_acts * 4 / 2**20:.1f} MiB in float32")
print("largest activation layer:", max(vgg_rows, key=lambda r: r["activations"])["name"])
print("largest parameter layer: ", max(vgg_rows, key=lambda r: r["params"])["name"])

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# ## Question 2 — Filters on real photos
#
# Before layers with many channels, one channel and one kernel. Implement
# 1. `correlate2d(image, kernel)`: the *valid* cross-correlation `out[i, j] = sum_uv kernel[u, v] *
#    image[i+u, j+v]` (what a conv layer computes);
# 2. `convolve2d(image, kernel)`: the convolution of signal processing, which flips the kernel first
#    (`f * g [x, y] = sum f[n1, n2] g[x - n1, y - n2]` in the lecture);
# 3. `gaussian_kernel(size, sigma)`: a normalized Gaussian blur kernel;
# 4. `conv_as_matrix(kernel, input_shape)`: the matrix `M` with `M @ image.ravel() ==
#    correlate2d(image, kernel).ravel()` — for a 3x3 kernel on a 4x4 input the lecture's 4x16 matrix.
#
# Hint: `correlate2d` needs only two loops over the *kernel* entries, each adding a shifted copy of the
# image.

# %% [raw]
# # BEGIN SOLUTION

# %%
def correlate2d(image, kernel):
    """Valid 2-D cross-correlation of one channel: out[i, j] = sum_uv kernel[u, v] * image[i+u, j+v].

    Inputs:
    - image: array of shape (H, W).
    - kernel: array of shape (KH, KW), KH <= H and KW <= W.

    Returns:
    - out: array of shape (H - KH + 1, W - KW + 1).
    """
    # BEGIN SOLUTION
    H, W = image.shape
    KH, KW = kernel.shape
    H_out, W_out = H - KH + 1, W - KW + 1
    out = np.zeros((H_out, W_out), dtype=np.result_type(image, kernel, np.float64))
    # One shifted copy of the image per kernel entry: KH*KW array adds instead of H*W small sums.
    for u in range(KH):
        for v in range(KW):
            out += kernel[u, v] * image[u : u + H_out, v : v + W_out]
    return out
    # END SOLUTION

# %%
def convolve2d(image, kernel):
    """Valid 2-D convolution (the signal-processing one): the kernel flipped, then cross-correlated.

    out[i, j] = sum_uv kernel[u, v] * image[i + KH-1-u, j + KW-1-v].

    Inputs:
    - image: array of shape (H, W).
    - kernel: array of shape (KH, KW).

    Returns:
    - out: array of shape (H - KH + 1, W - KW + 1).
    """
    # BEGIN SOLUTION
    return correlate2d(image, kernel[::-1, ::-1])
    # END SOLUTION

# %%
def gaussian_kernel(size, sigma):
    """A normalized 2-D Gaussian blur kernel centred in a size x size grid.

    Inputs:
    - size: odd int, the kernel width and height.
    - sigma: standard deviation in pixels.

    Returns:
    - kernel: array of shape (size, size), entries exp(-(u^2 + v^2) / (2 sigma^2)) scaled to sum 1,
      where u, v are offsets from the centre.
    """
    # BEGIN SOLUTION
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()
    # END SOLUTION

# %%
def conv_as_matrix(kernel, input_shape):
    """The matrix M of a valid cross-correlation: M @ image.ravel() == correlate2d(image, kernel).ravel().

    Inputs:
    - kernel: array of shape (KH, KW).
    - input_shape: (H, W) of the image.

    Returns:
    - M: array of shape ((H-KH+1) * (W-KW+1), H * W); row r = i * W_out + j holds the kernel placed
      at the window of output pixel (i, j) and zeros elsewhere (a 4x16 matrix for 3x3 on 4x4).
    """
    # BEGIN SOLUTION
    H, W = input_shape
    KH, KW = kernel.shape
    H_out, W_out = H - KH + 1, W - KW + 1
    M = np.zeros((H_out * W_out, H * W), dtype=np.result_type(kernel, np.float64))
    for i in range(H_out):
        for j in range(W_out):
            placed = np.zeros((H, W), dtype=M.dtype)
            placed[i : i + KH, j : j + KW] = kernel
            M[i * W_out + j] = placed.ravel()
    return M
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_correlate2d_public(correlate2d):
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    image, kernel = rng.standard_normal((6, 7)), rng.standard_normal((3, 2))
    expected = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None])[0, 0].numpy()
    checks.close("correlate2d(image, kernel)", correlate2d(image, kernel), expected, rtol=1e-9, atol=1e-10)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_convolve2d_impulse_and_gaussian(convolve2d, gaussian_kernel):
    import math

    import numpy as np

    from cnnkit import checks

    kernel = np.arange(9.0).reshape(3, 3)
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1.0
    checks.close(
        "convolve2d(impulse, kernel)", convolve2d(impulse, kernel), kernel,
        msg="the convolution of a centred impulse must reproduce the kernel",
    )
    g = np.asarray(gaussian_kernel(5, 1.0), dtype=np.float64)
    checks.equal("gaussian_kernel(5, 1.0).shape", np.shape(g), (5, 5))
    checks.close("sum of gaussian_kernel(5, 1.0) (a blur kernel sums to 1)", float(g.sum()), 1.0, rtol=1e-9)
    asym = float(max(np.abs(g - g.T).max(), np.abs(g - g[::-1, ::-1]).max())) if g.shape == (5, 5) else math.inf
    checks.true("gaussian_kernel(5, 1.0) is symmetric about its centre", asym < 1e-15, f"entries mirrored about the centre differ by up to {asym:.1e}")
    # Ratios fixed by the Gaussian's definition: one pixel from the centre the weight falls by
    # exp(1 / (2 sigma^2)), two pixels diagonally (u^2 + v^2 = 8) by exp(8 / (2 sigma^2)).
    for sigma in (1.0, 2.0):
        g = np.asarray(gaussian_kernel(5, sigma), dtype=np.float64)
        checks.close(f"gaussian_kernel(5, {sigma}): centre / neighbour", g[2, 2] / g[2, 3], math.exp(1 / (2 * sigma**2)), rtol=1e-9)
        checks.close(f"gaussian_kernel(5, {sigma}): centre / corner", g[2, 2] / g[0, 0], math.exp(8 / (2 * sigma**2)), rtol=1e-9)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_conv_as_matrix_public(conv_as_matrix):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    kernel, image = rng.standard_normal((3, 3)), rng.standard_normal((4, 4))
    M = conv_as_matrix(kernel, (4, 4))
    checks.equal("conv_as_matrix(3x3 kernel, (4, 4)).shape", np.shape(M), (4, 16))
    expected = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None]).numpy().ravel()
    checks.close("M @ image.ravel()", np.asarray(M) @ image.ravel(), expected, rtol=1e-9, atol=1e-10)

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_correlate_convolve_fresh(correlate2d, convolve2d):
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    image, kernel = rng.standard_normal((11, 8)), rng.standard_normal((2, 5))

    def torch_corr(k):
        return F.conv2d(torch.tensor(image)[None, None], torch.tensor(k.copy())[None, None])[0, 0].numpy()

    checks.close("correlate2d", correlate2d(image, kernel), lambda: torch_corr(kernel), rtol=1e-9, atol=1e-10)
    checks.close(
        "convolve2d", convolve2d(image, kernel), lambda: torch_corr(kernel[::-1, ::-1]), rtol=1e-9, atol=1e-10
    )

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_gaussian_and_matrix_fresh(gaussian_kernel, conv_as_matrix):
    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric import conv_layers as ref

    rng = checks.rng()
    sigma = float(rng.uniform(0.5, 3.0))
    checks.close(
        "gaussian_kernel(7, sigma)", gaussian_kernel(7, sigma), lambda: ref.gaussian_kernel(7, sigma),
        rtol=1e-9, atol=1e-12,
    )
    kernel = rng.standard_normal((2, 3))
    checks.close(
        "conv_as_matrix(2x3 kernel, (5, 6))", np.asarray(conv_as_matrix(kernel, (5, 6))),
        lambda: ref.conv_as_matrix(kernel, (5, 6)), rtol=1e-12, atol=0.0,
    )

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### Filters on a photo
#
# The lecture's left-to-right edge detector `[[-1, 0, 1]] x 3` and a Gaussian blur, on a real photo
# (scikit-image's cat, in grayscale).

# %%
photos = data.photos()
cat = photos["chelsea"].mean(axis=2) / 255.0
edge = np.array([[-1.0, 0.0, 1.0]] * 3)
blur = gaussian_kernel(9, 2.0)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for ax, (title, img) in zip(
    axes,
    [("photo", cat), ("edge detector (cross-correlation)", correlate2d(cat, edge)), ("Gaussian blur 9x9, sigma 2", correlate2d(cat, blur))],
):
    ax.imshow(img, cmap="gray")
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# **Convolution vs cross-correlation.** Flipping the edge kernel negates it, so the true convolution
# gives the negated edge map; a symmetric kernel (the Gaussian) gives the same either way. Deep-learning
# libraries compute cross-correlation and call it convolution: the learned kernel simply comes out flipped.

# %%
print("edge: convolve == -correlate:", np.allclose(convolve2d(cat, edge), -correlate2d(cat, edge)))
print("blur: convolve == correlate: ", np.allclose(convolve2d(cat, blur), correlate2d(cat, blur)))

# %% [markdown]
# **Translation equivariance** (lecture [004]): shifting the input shifts the output by the same amount,
# except near the borders, where the shifted image wrapped around.

# %%
dy, dx_ = 5, 12
shifted_then_filtered = correlate2d(np.roll(cat, (dy, dx_), axis=(0, 1)), edge)
filtered_then_shifted = np.roll(correlate2d(cat, edge), (dy, dx_), axis=(0, 1))
inside = (slice(dy + 2, None), slice(dx_ + 2, None))
print("max difference away from the border:", np.abs(shifted_then_filtered - filtered_then_shifted)[inside].max())
print("max difference over the whole map:  ", np.abs(shifted_then_filtered - filtered_then_shifted).max())

# %% [markdown]
# **Convolution as a matrix multiply.** A 3x3 kernel on a 4x4 input (unit stride, no padding) is the 4x16
# matrix below: each row holds the kernel at one output position, zeros elsewhere. Its transpose is what
# the backward pass multiplies by — and what a "transposed convolution" computes.

# %%
lecture_kernel = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]], dtype=float)
M = conv_as_matrix(lecture_kernel, (4, 4))
print(M.astype(int))
x4 = np.arange(16.0).reshape(4, 4)
print("M @ x == correlate2d(x, k):", np.allclose(M @ x4.ravel(), correlate2d(x4, lecture_kernel).ravel()))

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [markdown]
# ## Question 3 — Naive conv and max-pool layers
#
# Implement the forward and backward passes with explicit loops (clarity first, speed in question 4):
# - `conv_forward_naive(x, w, b, conv_param)` and `conv_backward_naive(dout, cache)`; pad with
#   `np.pad` on **both** sides; output size `H_out = 1 + (H + 2 * pad - HH) // stride` (like PyTorch,
#   rows no window reaches are ignored);
# - `max_pool_forward_naive(x, pool_param)` and `max_pool_backward_naive(dout, cache)`: each window's
#   gradient goes to the window's max (the first one on a tie, like PyTorch); where windows overlap
#   (e.g. 3x3 windows at stride 2) an input can receive gradient from several windows — they add.
#
# Lecture check: the 5x5 input and 3x3 kernel of the lecture give `[[6,17,3],[8,17,13],[6,4,4]]` at pad 1,
# stride 2 (the slide prints another matrix: the top-left of the *stride 1* output, a known figure bug);
# the 4x4 max-pool example gives `[[6,8],[3,4]]`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def conv_forward_naive(x, w, b, conv_param):
    """Forward pass of a conv layer (cross-correlation), with explicit loops.

    Inputs:
    - x: input of shape (N, C, H, W).
    - w: filters of shape (F, C, HH, WW).
    - b: biases of shape (F,).
    - conv_param: dict with 'stride' (int, both axes) and 'pad' (int, zeros added on every side).

    Returns:
    - out: output of shape (N, F, H_out, W_out) with
      H_out = 1 + (H + 2 * pad - HH) // stride, W_out = 1 + (W + 2 * pad - WW) // stride.
    - cache: (x, w, b, conv_param).
    """
    # BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w, b))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = xp[n, :, hs : hs + HH, ws : ws + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache
    # END SOLUTION

# %%
def conv_backward_naive(dout, cache):
    """Backward pass of a conv layer, with explicit loops.

    Inputs:
    - dout: upstream gradient of shape (N, F, H_out, W_out).
    - cache: (x, w, b, conv_param) from conv_forward_naive.

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W).
    - dw: gradient with respect to w, shape (F, C, HH, WW).
    - db: gradient with respect to b, shape (F,).
    """
    # BEGIN SOLUTION
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp, dtype=np.result_type(xp, w, dout))
    dw = np.zeros_like(w, dtype=np.result_type(x, w, dout))
    # Each output pixel used b[f] once, so db sums dout over batch and space.
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    g = dout[n, f, i, j]
                    dxp[n, :, hs : hs + HH, ws : ws + WW] += g * w[f]
                    dw[f] += g * xp[n, :, hs : hs + HH, ws : ws + WW]
    dx = dxp[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, db
    # END SOLUTION

# %%
def max_pool_forward_naive(x, pool_param):
    """Forward pass of a max-pooling layer, with explicit loops.

    Inputs:
    - x: input of shape (N, C, H, W).
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride' (no padding).

    Returns:
    - out: output of shape (N, C, H_out, W_out) with
      H_out = 1 + (H - pool_height) // stride, W_out = 1 + (W - pool_width) // stride.
    - cache: (x, pool_param).
    """
    # BEGIN SOLUTION
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    out[n, c, i, j] = np.max(x[n, c, hs : hs + ph, ws : ws + pw])
    cache = (x, pool_param)
    return out, cache
    # END SOLUTION

# %%
def max_pool_backward_naive(dout, cache):
    """Backward pass of a max-pooling layer, with explicit loops.

    Each window's upstream gradient goes to the window's max (the first one in row-major order on a
    tie, as torch does); where windows overlap, an input that is the max of several gets their sum.

    Inputs:
    - dout: upstream gradient of shape (N, C, H_out, W_out).
    - cache: (x, pool_param) from max_pool_forward_naive.

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W).
    """
    # BEGIN SOLUTION
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x, dtype=np.result_type(x, dout))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = x[n, c, hs : hs + ph, ws : ws + pw]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, hs + u, ws + v] += dout[n, c, i, j]
    return dx
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_conv_naive_lecture_fixture(conv_forward_naive):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    x = np.array([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]], dtype=float)
    k = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]], dtype=float)
    x, k = x[None, None], k[None, None]
    for pad, stride in [(1, 2), (0, 1)]:
        expected = F.conv2d(torch.tensor(x), torch.tensor(k), stride=stride, padding=pad).numpy()
        out, _ = conv_forward_naive(x, k, np.zeros(1), {"stride": stride, "pad": pad})
        checks.close(f"lecture example, pad {pad}, stride {stride}", out, expected, rtol=1e-12)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_conv_naive_vs_torch_public(conv_forward_naive, conv_backward_naive):
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((3, 3, 3, 3)), rng.standard_normal(3)
    out, cache = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    dout = rng.standard_normal((2, 3, 5, 5))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = F.conv2d(xt, wt, bt, stride=1, padding=1)
    ref.backward(torch.tensor(dout))
    checks.close("out", out, ref.detach().numpy(), rtol=1e-9, atol=1e-10)
    dx, dw, db = conv_backward_naive(dout, cache)
    checks.close("dx", dx, xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    checks.close("dw", dw, wt.grad.numpy(), rtol=1e-9, atol=1e-10)
    checks.close("db", db, bt.grad.numpy(), rtol=1e-9, atol=1e-10)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_max_pool_naive_lecture(max_pool_forward_naive, max_pool_backward_naive):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)[None, None]
    xt = torch.tensor(x, requires_grad=True)
    ref = F.max_pool2d(xt, 2, 2)
    dout = checks.rng().standard_normal((1, 1, 2, 2))
    ref.backward(torch.tensor(dout))
    out, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    checks.close("lecture max pool", out, ref.detach().numpy(), rtol=1e-12)
    checks.close("dx", max_pool_backward_naive(dout, cache), xt.grad.numpy(), rtol=1e-12)

# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_conv_naive_strides_pads_nonsquare(conv_forward_naive, conv_backward_naive):
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    for i, (xs, ws, stride, pad) in enumerate(
        [((3, 2, 7, 9), (4, 2, 3, 2), 2, 1), ((2, 3, 6, 5), (2, 3, 1, 3), 1, 2), ((2, 2, 10, 7), (3, 2, 3, 3), 3, 0)]
    ):
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
        out, cache = conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        ref = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
        dout = rng.standard_normal(tuple(ref.shape))
        ref.backward(torch.tensor(dout))
        checks.close(f"case {i} out", out, lambda: ref.detach().numpy(), rtol=1e-9, atol=1e-10, msg="wrong")
        dx, dw, db = conv_backward_naive(dout, cache)
        checks.close(f"case {i} dx", dx, lambda: xt.grad.numpy(), rtol=1e-9, atol=1e-10, msg="wrong")
        checks.close(f"case {i} dw", dw, lambda: wt.grad.numpy(), rtol=1e-9, atol=1e-10, msg="wrong")
        checks.close(f"case {i} db", db, lambda: bt.grad.numpy(), rtol=1e-9, atol=1e-10, msg="wrong")

# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_max_pool_naive_overlap_nonsquare(max_pool_forward_naive, max_pool_backward_naive):
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    for i, (xs, ph, pw, stride) in enumerate(
        [((2, 3, 9, 7), 3, 3, 2), ((2, 2, 7, 10), 2, 3, 1), ((1, 3, 9, 8), 2, 2, 2), ((2, 2, 10, 9), 3, 2, 3)]
    ):
        x = rng.standard_normal(xs)
        out, cache = max_pool_forward_naive(x, {"pool_height": ph, "pool_width": pw, "stride": stride})
        xt = torch.tensor(x, requires_grad=True)
        ref = F.max_pool2d(xt, (ph, pw), stride)
        dout = rng.standard_normal(tuple(ref.shape))
        ref.backward(torch.tensor(dout))
        checks.close(f"case {i} out", out, lambda: ref.detach().numpy(), rtol=1e-12, msg="wrong")
        checks.close(f"case {i} dx", max_pool_backward_naive(dout, cache), lambda: xt.grad.numpy(), rtol=1e-12, atol=1e-12, msg="wrong")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# A numeric gradient check of your naive conv layer (centered differences, float64): relative errors
# around 1e-8 or smaller mean the backward pass is right.

# %%
rng = np.random.default_rng(SEED)
x = rng.standard_normal((2, 3, 6, 5))
w = rng.standard_normal((3, 3, 3, 2))
b = rng.standard_normal(3)
conv_param = {"stride": 2, "pad": 1}
out, cache = conv_forward_naive(x, w, b, conv_param)
dout = rng.standard_normal(out.shape)
dx, dw, db = conv_backward_naive(dout, cache)
dx_num = eval_numerical_gradient_array(lambda v: conv_forward_naive(v, w, b, conv_param)[0], x, dout)
dw_num = eval_numerical_gradient_array(lambda v: conv_forward_naive(x, v, b, conv_param)[0], w, dout)
db_num = eval_numerical_gradient_array(lambda v: conv_forward_naive(x, w, v, conv_param)[0], b, dout)
print(f"dx error {rel_error(dx, dx_num):.2e}, dw error {rel_error(dw, dw_num):.2e}, db error {rel_error(db, db_num):.2e}")

# %% [raw]
# # BEGIN QUESTION
# name: q4

# %% [markdown]
# ## Question 4 — Vectorized layers
#
# Same signatures, same caches, same results — and fast. Pure numpy, no compiled extension:
# - **conv**: build every window at once as a *view* with
#   `sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]` (shape
#   `(N, C, H_out, W_out, HH, WW)`; `np.lib.stride_tricks.as_strided` works too), reshape it to an
#   im2col matrix and do **one** matrix multiply. Backward: two matrix multiplies give `dw` and the
#   gradient of the columns; scatter that back with `HH * WW` strided adds (col2im) — overlapping
#   windows must **add**.
# - **max pool**: the same strided window view serves tiling and overlapping windows. Copy it with the
#   window offset first (`(ph * pw, N, C, H_out, W_out)`) and the max is a handful of elementwise
#   maxima. Backward: route each window's gradient to its first max (row-major, as torch), adding
#   where windows overlap — `np.bincount(index, weights=...)` adds many values into one array in one
#   call (`np.add.at` does too, many times slower).
#
# The hidden tests check against PyTorch in float64 (relative error 1e-9) on other shapes, strides and
# paddings, and that your layers are vectorized: forward+backward within 50x of `F.conv2d` /
# `F.max_pool2d`, measured in the same run (loops over pixels are ~1000x slower).

# %% [raw]
# # BEGIN SOLUTION

# %%
def conv_forward_fast(x, w, b, conv_param):
    """Vectorized forward pass of a conv layer (cross-correlation): im2col and one matrix multiply.

    Inputs:
    - x: input of shape (N, C, H, W).
    - w: filters of shape (F, C, HH, WW).
    - b: biases of shape (F,).
    - conv_param: dict with 'stride' (int, both axes) and 'pad' (int, zeros added on every side).

    Returns:
    - out: output of shape (N, F, H_out, W_out) with
      H_out = 1 + (H + 2 * pad - HH) // stride, W_out = 1 + (W + 2 * pad - WW) // stride.
    - cache: (x, w, b, conv_param), as conv_forward_naive.
    """
    # BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # (N, C, H_out, W_out, HH, WW): a view, every window of every image, nothing copied yet.
    windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    # im2col: one row per (c, u, v) (the order of w.reshape(F, -1)), one column per output pixel;
    # this order keeps the copy's inner loop on runs of neighbouring pixels.
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * HH * WW, N * H_out * W_out)
    out = w.reshape(F, -1) @ cols
    out += b.reshape(F, 1)  # in place: no second output-sized array
    # (F, N, H_out, W_out) in memory, returned as an (N, F, H_out, W_out) view: no copy either.
    out = out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)
    cache = (x, w, b, conv_param)
    return out, cache
    # END SOLUTION

# %%
def conv_backward_fast(dout, cache):
    """Vectorized backward pass of a conv layer: two matrix multiplies and col2im by strided adds.

    Inputs:
    - dout: upstream gradient of shape (N, F, H_out, W_out).
    - cache: (x, w, b, conv_param) from conv_forward_fast (or conv_forward_naive).

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W).
    - dw: gradient with respect to w, shape (F, C, HH, WW).
    - db: gradient with respect to b, shape (F,).
    """
    # BEGIN SOLUTION
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * HH * WW, N * H_out * W_out)
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, N * H_out * W_out)
    db = dout_rows.sum(axis=1)
    # The matrix product sums over every output pixel of every image: the batch sum of dw.
    dw = (dout_rows @ cols.T).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ dout_rows).reshape(C, HH, WW, N, H_out, W_out)
    # col2im: kernel entry (u, v) touched input pixels (u + stride*i, v + stride*j); overlaps add.
    dxp = np.zeros(xp.shape, dtype=dcols.dtype)
    dxp_cn = dxp.transpose(1, 0, 2, 3)  # a (C, N, Hp, Wp) view, the layout of dcols[:, u, v]
    for u in range(HH):
        for v in range(WW):
            rows = slice(u, u + stride * H_out, stride)
            columns = slice(v, v + stride * W_out, stride)
            dxp_cn[:, :, rows, columns] += dcols[:, u, v]
    dx = dxp[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, db
    # END SOLUTION

# %%
def max_pool_forward_fast(x, pool_param):
    """Vectorized forward pass of a max-pooling layer: im2col and a max over the window offsets.

    Inputs:
    - x: input of shape (N, C, H, W).
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride' (no padding).

    Returns:
    - out: output of shape (N, C, H_out, W_out) with
      H_out = 1 + (H - pool_height) // stride, W_out = 1 + (W - pool_width) // stride.
    - cache: (x, pool_param), as max_pool_forward_naive.
    """
    # BEGIN SOLUTION
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    # (N, C, H_out, W_out, ph, pw): a view, every window of every image (tiling or overlapping).
    windows = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
    # A few images at a time (about 4 MiB of input): the copy below then stays in the CPU cache and
    # numpy reuses its memory; one copy of a whole large batch is several times slower.
    step = max(1, 2**22 // max(1, x[:1].nbytes))
    for i in range(0, N, step):
        # im2col with the window offset first: cols[k] is offset k (row-major) of every window. The
        # max over that leading axis is ph*pw - 1 elementwise maxima of whole arrays; numpy's
        # reduction over two tiny trailing axes (windows.max(axis=(4, 5))) is about ten times slower.
        cols = (
            windows[i : i + step].transpose(4, 5, 0, 1, 2, 3).reshape(ph * pw, -1, C, H_out, W_out)
        )
        out[i : i + step] = cols.max(axis=0)
    cache = (x, pool_param)
    return out, cache
    # END SOLUTION

# %%
def max_pool_backward_fast(dout, cache):
    """Vectorized backward pass of a max-pooling layer: find each window's max, then one scatter.

    Each window's upstream gradient goes to the window's first max (row-major, as torch and the naive
    version); where windows overlap, the gradients of every window an input is the max of add up.

    Inputs:
    - dout: upstream gradient of shape (N, C, H_out, W_out).
    - cache: (x, pool_param) from max_pool_forward_fast (or max_pool_forward_naive).

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W).
    """
    # BEGIN SOLUTION
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    _, _, H_out, W_out = dout.shape
    windows = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    # Index, in one image flattened, of each window's top-left input.
    top_left = (
        np.arange(C).reshape(C, 1, 1) * (H * W)
        + np.arange(H_out).reshape(H_out, 1) * (stride * W)
        + np.arange(W_out) * stride
    )
    dx = np.empty(x.shape, dtype=np.result_type(x, dout))
    step = max(1, 2**22 // max(1, x[:1].nbytes))  # images at a time, as in the forward pass
    for i in range(0, N, step):
        cols = (
            windows[i : i + step].transpose(4, 5, 0, 1, 2, 3).reshape(ph * pw, -1, C, H_out, W_out)
        )
        out = cols.max(axis=0)
        n = out.shape[0]
        # target: each window's top-left input as a flat index into this chunk of x ...
        target = np.arange(n).reshape(n, 1, 1, 1) * (C * H * W) + top_left
        # ... moved to the first offset (row-major, as torch) holding the window's max.
        routed = np.zeros(out.shape, dtype=bool)
        for u in range(ph):
            for v in range(pw):
                first = (cols[u * pw + v] == out) & ~routed
                routed |= first
                target += first * (u * W + v)
        # One scatter: bincount sums the gradients of all windows routed to the same input, as
        # overlapping windows need (np.add.at does the same, many times slower).
        grads = np.bincount(
            target.ravel(), weights=dout[i : i + n].ravel(), minlength=n * C * H * W
        )
        dx[i : i + n] = grads.reshape(n, C, H, W)
    return dx
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_conv_fast_vs_torch_public(conv_forward_fast, conv_backward_fast):
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    x, w, b = rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    out, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    dout = rng.standard_normal((4, 5, 8, 8))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = F.conv2d(xt, wt, bt, stride=1, padding=1)
    ref.backward(torch.tensor(dout))
    checks.close("out", out, ref.detach().numpy(), rtol=1e-9, atol=1e-10)
    dx, dw, db = conv_backward_fast(dout, cache)
    checks.close("dx", dx, xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    checks.close("dw", dw, wt.grad.numpy(), rtol=1e-9, atol=1e-10)
    checks.close("db", db, bt.grad.numpy(), rtol=1e-9, atol=1e-10)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_max_pool_fast_vs_torch_public(max_pool_forward_fast, max_pool_backward_fast):
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    x = rng.standard_normal((3, 4, 8, 8))
    out, cache = max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dout = rng.standard_normal((3, 4, 4, 4))
    xt = torch.tensor(x, requires_grad=True)
    ref = F.max_pool2d(xt, 2, 2)
    ref.backward(torch.tensor(dout))
    checks.close("out", out, ref.detach().numpy(), rtol=1e-12)
    checks.close("dx", max_pool_backward_fast(dout, cache), xt.grad.numpy(), rtol=1e-12)

# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_conv_fast_strides_pads_nonsquare(conv_forward_fast, conv_backward_fast):
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    for i, (xs, ws, stride, pad) in enumerate(
        [((3, 2, 9, 7), (4, 2, 2, 3), 2, 1), ((2, 3, 5, 6), (2, 3, 3, 1), 1, 2), ((2, 4, 11, 8), (3, 4, 3, 5), 2, 2), ((2, 2, 10, 7), (3, 2, 3, 3), 3, 0)]
    ):
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
        out, cache = conv_forward_fast(x, w, b, {"stride": stride, "pad": pad})
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        ref = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
        dout = rng.standard_normal(tuple(ref.shape))
        ref.backward(torch.tensor(dout))
        checks.close(f"case {i} out", out, lambda: ref.detach().numpy(), rtol=1e-9, atol=1e-10, msg="wrong")
        dx, dw, db = conv_backward_fast(dout, cache)
        checks.close(f"case {i} dx", dx, lambda: xt.grad.numpy(), rtol=1e-9, atol=1e-10, msg="wrong")
        checks.close(f"case {i} dw", dw, lambda: wt.grad.numpy(), rtol=1e-9, atol=1e-10, msg="wrong")
        checks.close(f"case {i} db", db, lambda: bt.grad.numpy(), rtol=1e-9, atol=1e-10, msg="wrong")

# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_max_pool_fast_overlap_nonsquare(max_pool_forward_fast, max_pool_backward_fast):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    cases = [((2, 3, 9, 7), 3, 3, 2), ((2, 2, 7, 10), 2, 3, 1), ((1, 3, 9, 8), 2, 2, 2), ((2, 2, 10, 9), 3, 2, 3)]
    for i, (xs, ph, pw, stride) in enumerate(cases):
        x = rng.standard_normal(xs)
        if i == 2:  # ties, as after a ReLU: one window gradient must go to one element only
            x = np.maximum(np.round(x), 0.0)
        out, cache = max_pool_forward_fast(x, {"pool_height": ph, "pool_width": pw, "stride": stride})
        xt = torch.tensor(x, requires_grad=True)
        ref = F.max_pool2d(xt, (ph, pw), stride)
        dout = rng.standard_normal(tuple(ref.shape))
        ref.backward(torch.tensor(dout))
        checks.close(f"case {i} out", out, lambda: ref.detach().numpy(), rtol=1e-12, msg="wrong")
        checks.close(f"case {i} dx", max_pool_backward_fast(dout, cache), lambda: xt.grad.numpy(), rtol=1e-12, atol=1e-12, msg="wrong")

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_fast_layers_are_vectorized(conv_forward_fast, conv_backward_fast, max_pool_forward_fast, max_pool_backward_fast):
    import torch
    import torch.nn.functional as F

    from cnnkit import checks
    from cnnkit.timing import compare

    rng = checks.rng()
    x, w, b = rng.standard_normal((16, 3, 24, 24)), rng.standard_normal((8, 3, 3, 3)), rng.standard_normal(8)
    conv_param = {"stride": 1, "pad": 1}
    dout = rng.standard_normal((16, 8, 24, 24))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dt = torch.tensor(dout)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    pdout = rng.standard_normal((16, 3, 12, 12))
    pdt = torch.tensor(pdout)
    r = compare(
        {
            "torch conv": lambda: F.conv2d(xt, wt, bt, padding=1).backward(dt),
            "your conv": lambda: conv_backward_fast(dout, conv_forward_fast(x, w, b, conv_param)[1]),
            "torch pool": lambda: F.max_pool2d(xt, 2, 2).backward(pdt),
            "your pool": lambda: max_pool_backward_fast(pdout, max_pool_forward_fast(x, pool_param)[1]),
        },
        "torch conv",
        repeat=3,
    )
    conv_ratio = r["your conv"]["seconds"] / r["torch conv"]["seconds"]
    pool_ratio = r["your pool"]["seconds"] / r["torch pool"]["seconds"]
    checks.true("conv fwd+bwd within 50x of F.conv2d", conv_ratio <= 50, "conv layers are not vectorized")
    checks.true("pool fwd+bwd within 50x of F.max_pool2d", pool_ratio <= 50, "pool layers are not vectorized")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### How fast?
#
# Naive loops, your vectorized layers and PyTorch's `F.conv2d`, forward + backward in float64, timed
# in the same run (ratios are what to look at; seconds depend on the machine and its load).

# %% tags=["otter_ignore"]
import torch
import torch.nn.functional as F

from cnnkit.timing import compare

rng = np.random.default_rng(SEED)
N = 2 if CI else 10
x, w, b = rng.standard_normal((N, 3, 32, 32)), rng.standard_normal((16, 3, 3, 3)), rng.standard_normal(16)
conv_param = {"stride": 1, "pad": 1}
dout = rng.standard_normal((N, 16, 32, 32))
xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
dt = torch.tensor(dout)
timings = compare(
    {
        "torch F.conv2d": lambda: F.conv2d(xt, wt, bt, padding=1).backward(dt),
        "conv fast": lambda: conv_backward_fast(dout, conv_forward_fast(x, w, b, conv_param)[1]),
        "conv naive": lambda: conv_backward_naive(dout, conv_forward_naive(x, w, b, conv_param)[1]),
    },
    "torch F.conv2d",
    repeat=1 if CI else 3,
)
for name, t in timings.items():
    print(f"{name:<16} {t['seconds'] * 1e3:9.2f} ms  {t['ratio']:8.1f}x torch")
print(f"naive / fast: {timings['conv naive']['seconds'] / timings['conv fast']['seconds']:.0f}x")

# %% [raw]
# # BEGIN QUESTION
# name: q5

# %% [markdown]
# ## Question 5 — A three-layer ConvNet
#
# `ThreeLayerConvNet`: conv – relu – 2x2 max pool – affine – relu – affine – softmax, with `params` and
# `loss(X, y=None)` (scores when `y is None`, else `(loss, grads)`), so the `Solver` of notebook 01
# trains it. Use your **fast** layers and the library's `affine_forward`, `relu_forward`,
# `softmax_loss`, ... (imported at the top). L2 regularization: `0.5 * reg * sum(W**2)` for W1, W2, W3
# (not the biases), and its gradient.

# %% [raw]
# # BEGIN SOLUTION

# %%
class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax, on NCHW minibatches.

    The conv layer keeps the spatial size (stride 1, pad (filter_size - 1) // 2, odd filter_size);
    the pool halves it (2x2 windows, stride 2). Parameters live in self.params:
    - W1: (num_filters, C, filter_size, filter_size), b1: (num_filters,)
    - W2: (num_filters * (H // 2) * (W // 2), hidden_dim), b2: (hidden_dim,)
    - W3: (hidden_dim, num_classes), b3: (num_classes,)
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        """Initialize the network: weights ~ N(0, weight_scale^2) from numpy's global RNG, biases 0.

        Inputs:
        - input_dim: (C, H, W) of one input image.
        - num_filters: number of conv filters.
        - filter_size: odd width and height of the conv filters.
        - hidden_dim: units of the hidden affine layer.
        - num_classes: number of class scores.
        - weight_scale: standard deviation of the initial weights.
        - reg: L2 regularization strength (loss adds 0.5 * reg * sum of squared weights).
        - dtype: numpy float type of the parameters (float64 for gradient checks).
        """
        # BEGIN SOLUTION
        C, H, W = input_dim
        self.reg = reg
        self.dtype = dtype
        pooled = num_filters * (H // 2) * (W // 2)
        self.params = {
            "W1": weight_scale * np.random.randn(num_filters, C, filter_size, filter_size),
            "b1": np.zeros(num_filters),
            "W2": weight_scale * np.random.randn(pooled, hidden_dim),
            "b2": np.zeros(hidden_dim),
            "W3": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b3": np.zeros(num_classes),
        }
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        # END SOLUTION

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients.

        Inputs:
        - X: array of shape (N, C, H, W), a minibatch.
        - y: None, or int array of shape (N,) with labels 0 <= y[i] < num_classes.

        Returns:
        - scores: array of shape (N, num_classes), when y is None.
        - (loss, grads), when y is given: loss a float (softmax loss + L2 regularization), grads a dict
          with the keys of self.params and arrays shaped like them.
        """
        # BEGIN SOLUTION
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        conv_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        a1, conv_cache = conv_forward_fast(X, W1, b1, conv_param)
        r1, relu1_cache = relu_forward(a1)
        p1, pool_cache = max_pool_forward_fast(r1, pool_param)
        a2, fc2_cache = affine_forward(p1, W2, b2)
        r2, relu2_cache = relu_forward(a2)
        scores, fc3_cache = affine_forward(r2, W3, b3)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))
        dr2, dW3, db3 = affine_backward(dscores, fc3_cache)
        da2 = relu_backward(dr2, relu2_cache)
        dp1, dW2, db2 = affine_backward(da2, fc2_cache)
        dr1 = max_pool_backward_fast(dp1, pool_cache)
        da1 = relu_backward(dr1, relu1_cache)
        _, dW1, db1 = conv_backward_fast(da1, conv_cache)
        grads = {
            "W1": dW1 + self.reg * W1,
            "b1": db1,
            "W2": dW2 + self.reg * W2,
            "b2": db2,
            "W3": dW3 + self.reg * W3,
            "b3": db3,
        }
        return loss, grads
        # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_convnet_initial_loss_and_shapes(ThreeLayerConvNet):
    import math

    import numpy as np

    from cnnkit import checks

    rng = checks.rng()
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(1, 12, 12), num_filters=4, filter_size=3, hidden_dim=10)
    X = rng.random((20, 1, 12, 12)).astype(np.float32)
    y = np.arange(20) % 10
    checks.equal("scores shape", np.shape(model.loss(X)), (20, 10))
    loss, grads = model.loss(X, y)
    checks.close("initial loss (small weights, 10 classes)", loss, math.log(10), rtol=0.0, atol=0.02)
    checks.equal("gradient keys", sorted(grads), ["W1", "W2", "W3", "b1", "b2", "b3"])

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_convnet_hand_loss_and_numeric_gradients(ThreeLayerConvNet):
    import math

    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient

    def grad_error(a, b):  # relative error of the whole array: tiny entries do not dominate
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return float("inf")
        return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))

    rng = checks.rng()
    np.random.seed(1)
    model = ThreeLayerConvNet(
        input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=7, num_classes=5,
        weight_scale=0.3, reg=0.1, dtype=np.float64,
    )
    X, y = rng.standard_normal((4, 3, 8, 8)), rng.integers(0, 5, 4)
    # By hand: with every weight 0 the scores are b3 = log([1, 2, 3, 4, 5]) whatever the input, so
    # class c has probability (c + 1) / 15 and no weight adds to the L2 term.
    saved = dict(model.params)  # the zeros below are new arrays: these stay untouched
    for k in model.params:
        model.params[k] = np.zeros_like(saved[k])
    model.params["b3"] = np.log(np.arange(1.0, 6.0))
    loss, _ = model.loss(X, y)
    checks.close("loss with zero weights and b3 = log([1, 2, 3, 4, 5])", loss, float(np.mean(np.log(15 / (y + 1)))), rtol=1e-9)
    model.params = saved
    for k in ("b1", "b2", "b3"):
        model.params[k] = rng.standard_normal(model.params[k].shape)
    loss, grads = model.loss(X, y)
    model.reg = 0.0
    data_loss, _ = model.loss(X, y)
    model.reg = 0.1
    l2 = sum(float(np.sum(model.params[k] ** 2)) for k in ("W1", "W2", "W3"))
    checks.close("loss minus its data term (0.5 * reg * the squared weights' sum)", loss - data_loss, 0.5 * 0.1 * l2, rtol=1e-9)
    for k in sorted(model.params):
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[k])
        err = grad_error(grads[k], num)
        checks.true(f"grads[{k!r}] matches numeric", err < 1e-6, f"grads[{k!r}]: relative error {err:.1e} vs the numeric gradient")

# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_convnet_fresh_dims(ThreeLayerConvNet):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    def reference(params, X, y, pad, reg):
        """The torch oracle: scores, loss and gradients (run only when the expected values are)."""
        t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X), t["W1"], t["b1"], padding=pad)), 2, 2)
        scores = F.relu(h.flatten(1) @ t["W2"] + t["b2"]) @ t["W3"] + t["b3"]
        ref = F.cross_entropy(scores, torch.tensor(y)) + 0.5 * reg * sum((t[k] ** 2).sum() for k in ("W1", "W2", "W3"))
        ref.backward()
        return {"scores": scores.detach().numpy(), "loss": ref.item(), **{k: t[k].grad.numpy() for k in t}}

    rng = checks.rng()
    for i, (dim, fs, reg) in enumerate([((2, 10, 6), 5, 0.3), ((1, 7, 9), 1, 0.0)]):
        model = ThreeLayerConvNet(
            input_dim=dim, num_filters=3, filter_size=fs, hidden_dim=6, num_classes=4, weight_scale=0.2,
            reg=reg, dtype=np.float64,
        )
        shapes = {k: np.shape(v) for k, v in model.params.items()}
        checks.equal(f"case {i} W2 shape", shapes.get("W2"), (3 * (dim[1] // 2) * (dim[2] // 2), 6), msg="wrong")
        params = {k: rng.standard_normal(shapes[k]) * 0.3 for k in sorted(shapes)}
        model.params.update({k: v.copy() for k, v in params.items()})
        X, y = rng.standard_normal((5, *dim)), rng.integers(0, 4, 5)
        expected = {}

        def get(key, inputs=(params, X.copy(), y.copy(), (fs - 1) // 2, reg)):
            # inputs copied before the student's loss sees X; the oracle runs once, when first needed
            if not expected:
                expected.update(reference(*inputs))
            return expected[key]

        checks.close(f"case {i} scores", model.loss(X), lambda: get("scores"), rtol=1e-9, atol=1e-10, msg="wrong")
        loss, grads = model.loss(X, y)
        checks.close(f"case {i} loss", loss, lambda: get("loss"), rtol=1e-9, msg="wrong")
        for k in sorted(params):
            checks.close(f"case {i} grads[{k!r}]", grads[k], lambda k=k: get(k), rtol=1e-8, atol=1e-10, msg="wrong")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### The sanity ladder
#
# Before a long training run: (1) with small weights the initial loss is about `log(10)`; (2) a
# gradient check in float64 on a tiny net; (3) the net overfits 50 examples. Only then train for real.

# %%
np.random.seed(SEED)
tiny = ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=5, weight_scale=0.1, reg=0.05, dtype=np.float64)
Xs = np.random.randn(3, 2, 6, 6)
ys = np.random.randint(10, size=3)
loss, grads = tiny.loss(Xs, ys)
print(f"initial loss {loss:.4f} (log 10 = {np.log(10):.4f})")
for name in sorted(tiny.params):
    num = eval_numerical_gradient(lambda _: tiny.loss(Xs, ys)[0], tiny.params[name])
    print(f"{name}: max relative error {rel_error(num, grads[name]):.2e}")

# %% [markdown]
# Fashion-MNIST (real, offline: 28x28 grayscale clothes, 10 classes), as `cnnkit.data` gives it: float32
# `(N, 1, 28, 28)` in [0, 1]. **Feed the images exactly like this** (no extra normalization): the grader
# evaluates your saved parameters on held-out test images in this format.

# %%
n_train = 10_000 if CI else None
X_train, y_train, class_names = data.load("fashion_mnist", "train", n=n_train)
X_val, y_val, _ = data.load("fashion_mnist", "val", n=1000 if CI else None)
print("train", X_train.shape, X_train.dtype, "val", X_val.shape, "classes:", class_names)
vis.image_grid(X_train[:16], y_train[:16], class_names, ncols=8)
plt.show()

# %% tags=["otter_ignore"]
np.random.seed(SEED)
small = {"X_train": X_train[:50], "y_train": y_train[:50], "X_val": X_train[:50], "y_val": y_train[:50]}
overfit = ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=8, filter_size=3, hidden_dim=50, weight_scale=5e-2)
solver = Solver(overfit, small, update_rule="adam", optim_config={"learning_rate": 3e-3}, batch_size=25, num_epochs=30, progress=False, seed=SEED)
solver.train()
print("train accuracy on 50 examples:", solver.check_accuracy(small["X_train"], small["y_train"]))

# %% [markdown]
# ### Train
#
# The full run (3 epochs over 50,000 images) takes a few minutes on a CPU; CI mode trains briefly on
# 10,000 images. The training cell saves `convnet_params.npz`: submit it with the notebook.

# %% tags=["otter_ignore"]
np.random.seed(SEED)
model = ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=16, filter_size=3, hidden_dim=100, weight_scale=5e-2)
solver = Solver(
    model,
    {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val},
    update_rule="adam",
    optim_config={"learning_rate": 2e-3},
    lr_decay=0.8,
    batch_size=50,
    num_epochs=2 if CI else 3,
    num_val_samples=1000,
    seed=SEED,
    verbose=True,
)
solver.train()
print(f"best validation accuracy: {solver.best_val_acc:.3f}")
np.savez("convnet_params.npz", **{k: np.asarray(v, dtype=np.float32) for k, v in model.params.items()})
print("saved convnet_params.npz")

# %% tags=["otter_ignore"]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
vis.plot_curves({"minibatch loss": solver.loss_history}, ax=axes[0], xlabel="iteration")
vis.plot_curves({"train": solver.train_acc_history, "val": solver.val_acc_history}, ax=axes[1], ylabel="accuracy")
plt.show()
vis.filter_grid(model.params["W1"])
plt.title("first-layer filters (3x3)")
plt.show()

# %% [raw]
# # BEGIN QUESTION
# name: q6

# %% [markdown]
# ## Question 6 — Your trained ConvNet
#
# Graded from `convnet_params.npz` (written by the training cell above): a public check that the file
# loads and fits the architecture, and hidden accuracy bands on held-out Fashion-MNIST test images
# (at least 60%, 72% and 80%). Nothing is retrained.

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_saved_params_load():
    import numpy as np

    from cnnkit import checks

    with np.load("convnet_params.npz", allow_pickle=False) as f:
        p = {k: f[k] for k in f.files}
    checks.equal("saved keys", sorted(p), ["W1", "W2", "W3", "b1", "b2", "b3"])
    nf, c, k1, k2 = p["W1"].shape
    checks.equal("W1 is (F, 1, k, k) with odd k", (c, k1 % 2, k1 == k2), (1, 1, True))
    checks.equal("W2 rows", p["W2"].shape[0], nf * 14 * 14)
    checks.equal("W3 columns", p["W3"].shape[1], 10)

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_heldout_accuracy_at_least_60():
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks, data

    with np.load("convnet_params.npz", allow_pickle=False) as f:
        p = {k: torch.tensor(np.asarray(f[k], dtype=np.float32)) for k in f.files}
    X, y, _ = data.load("fashion_mnist", "test")
    idx = checks.rng().choice(len(X), 2000, replace=False)
    pad = (p["W1"].shape[2] - 1) // 2
    with torch.no_grad():
        h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X[idx]), p["W1"], p["b1"], padding=pad)), 2, 2)
        scores = F.relu(h.flatten(1) @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    acc = float((scores.argmax(1).numpy() == y[idx]).mean())
    checks.true("held-out accuracy >= 60%", acc >= 0.6, "held-out accuracy below 60%")

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_heldout_accuracy_at_least_72():
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks, data

    with np.load("convnet_params.npz", allow_pickle=False) as f:
        p = {k: torch.tensor(np.asarray(f[k], dtype=np.float32)) for k in f.files}
    X, y, _ = data.load("fashion_mnist", "test")
    idx = checks.rng().choice(len(X), 2000, replace=False)
    pad = (p["W1"].shape[2] - 1) // 2
    with torch.no_grad():
        h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X[idx]), p["W1"], p["b1"], padding=pad)), 2, 2)
        scores = F.relu(h.flatten(1) @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    acc = float((scores.argmax(1).numpy() == y[idx]).mean())
    checks.true("held-out accuracy >= 72%", acc >= 0.72, "held-out accuracy below 72%")

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_heldout_accuracy_at_least_80():
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks, data

    with np.load("convnet_params.npz", allow_pickle=False) as f:
        p = {k: torch.tensor(np.asarray(f[k], dtype=np.float32)) for k in f.files}
    X, y, _ = data.load("fashion_mnist", "test")
    idx = checks.rng().choice(len(X), 2000, replace=False)
    pad = (p["W1"].shape[2] - 1) // 2
    with torch.no_grad():
        h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X[idx]), p["W1"], p["b1"], padding=pad)), 2, 2)
        scores = F.relu(h.flatten(1) @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    acc = float((scores.argmax(1).numpy() == y[idx]).mean())
    checks.true("held-out accuracy >= 80%", acc >= 0.8, "held-out accuracy below 80%")
# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION
