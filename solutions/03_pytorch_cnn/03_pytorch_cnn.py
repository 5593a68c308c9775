# %% [markdown]
# # Notebook 03 — CNNs in PyTorch: you write the network and the loop
#
# The first of stage 03's two notebooks. Notebook 03b, released once this one is due, feeds your
# networks through a data pipeline you write, runs a fair CNN-against-MLP experiment with the loop
# you write here (the course library's copy of it, same signatures), and ends in the challenge
# whose exported model is graded on fresh images.
#
# **What you'll learn**
# - how PyTorch's autograd relates to the gates you wrote by hand in notebook 01, and how to write
#   your own `torch.autograd.Function` (forward, saved tensors, backward) and check it with
#   `torch.autograd.gradcheck`;
# - one small ConvNet written at **three levels** of PyTorch: bare tensors with `requires_grad`,
#   `F.conv2d` and a hand-written SGD step; an `nn.Module` subclass of your own; an `nn.Sequential`;
# - to count parameters like the lecture does (`F*F*C*K + K`), including grouped and dilated
#   convolutions, checked against torchvision's VGG-16 and AlexNet, and to build CNNs from the
#   lecture's pattern `[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K` with BatchNorm and Dropout;
# - **your own training and evaluation loops**: `train()`/`eval()` modes, `zero_grad`, device moves
#   that follow `cnnkit.get_device()` (never a hard-coded `'cuda'`), mixed precision with a
#   `GradScaler` on CUDA, a learning-rate schedule stepped at the right place, a time budget enforced
#   in code, best-checkpoint saving and a model exported with `torch.export` (the library only draws
#   the live curves), checked with the sanity ladder.
#
# **Time.** About 6–7 hours of work for a careful first pass: question 1 about 45 minutes,
# question 2 (three levels) 1.5–2 hours, question 3 about 1 hour, question 4 (the loops) 2–2.5
# hours, the two written questions about 30 minutes. The models here are small: the notebook runs
# top to bottom on a CPU in well under a minute (10 s on a 2-core cloud VM with one thread); a GPU
# is not needed.
#
# **How to submit.** Run the notebook top to bottom, then hand in this notebook
# (`03_pytorch_cnn.ipynb`, on Colab: *File > Download > Download .ipynb*).
#
# **Tests.** `grader.check("qN")` runs the *public* tests of a question. **Hidden tests exist and are
# worth most of the points**: they call your functions on fresh inputs (other models, shapes, loaders,
# budgets) and compare with PyTorch, so "All tests passed" from a public check does not mean full
# marks. The two *written questions* (`w1`, `w2`) are answered in a few sentences in the answer
# cell below each one (double-click it to edit); a TA grades them by hand, so refer to your own
# numbers and plots.
# %% [raw]
# # ASSIGNMENT CONFIG
# name: 03_pytorch_cnn

# %%
from cnnkit.colab import bootstrap

bootstrap("03_pytorch_cnn")

# %%
import copy
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import cnnkit
from cnnkit import data, training, vis

SEED = 0
cnnkit.seed_everything(SEED)
CI = cnnkit.ci_mode()  # True in automated runs
print("CI mode (small data, short budgets):", CI)
DEVICE = cnnkit.get_device()  # cuda -> mps -> cpu; never write 'cuda' into your functions
# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# ## Question 1 — Autograd meets notebook 01
#
# In notebook 01 you pushed gradients through the circuit `L = sigmoid(w0*x0 + w1*x1 + w2)` by hand.
# PyTorch records every operation on tensors that `requires_grad` and runs the same backward pass for
# you. Each node of that graph is a `torch.autograd.Function`: `forward(ctx, ...)` computes the output
# and stashes what the backward pass will need with `ctx.save_for_backward(...)`; `backward(ctx, grad)`
# receives the upstream gradient and returns **one gradient per input of forward** (local gradient
# times upstream gradient). This is the lecture's "actual PyTorch code" for the multiply gate.
#
# 1. `Multiply`: `z = x * y`; backward swaps the inputs (`dL/dx = y * dL/dz`).
# 2. `Sigmoid`: `z = 1 / (1 + exp(-x))`; save the **output** `z` and compute the backward from it,
#    `dL/dx = dL/dz * z * (1 - z)` — exactly what PyTorch's own sigmoid does.
# 3. `sigmoid_circuit_autograd(w0, x0, w1, x1, w2)` builds the circuit from your two Functions on
#    float64 tensors, calls `backward()` and returns `(L, grads)` with `grads` a dict of Python floats.
#
# Use them with `.apply`: `Multiply.apply(a, b)`.

# %%
# EXERCISE cnnkit.autograd.Multiply, Sigmoid, sigmoid_circuit_autograd

# %% [markdown]
# `torch.autograd.gradcheck` compares your backward with centered differences; it needs float64 inputs
# (in float32 the rounding error of a difference quotient swamps the check, as in notebook 01).

# %% tags=["otter_ignore"]
L, grads = sigmoid_circuit_autograd(2.0, -1.0, -3.0, -2.0, -3.0)
print(f"L = {L:.6f}", {k: round(v, 6) for k, v in grads.items()})
x64 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
y64 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
print("gradcheck Multiply:", torch.autograd.gradcheck(Multiply.apply, (x64, y64)))
print("gradcheck Sigmoid: ", torch.autograd.gradcheck(Sigmoid.apply, (x64,)))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q1_circuit_lecture_values(sigmoid_circuit_autograd):
    from cnnkit import checks

    # The lecture's circuit and the numbers on its slide, to double precision (notebook 01's values).
    L, grads = sigmoid_circuit_autograd(2.0, -1.0, -3.0, -2.0, -3.0)
    lecture = {"w0": -0.19661193324148185, "x0": 0.3932238664829637, "w1": -0.3932238664829637,
               "x1": -0.5898357997244456, "w2": 0.19661193324148185}
    checks.close("L", L, 0.7310585786300049, rtol=1e-9)
    checks.equal("gradient names", sorted(grads), ["w0", "w1", "w2", "x0", "x1"])
    for name, want in lecture.items():
        checks.close(f"d{name}", grads[name], want, rtol=1e-9)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q1_gradcheck(Multiply, Sigmoid):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    x = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    ok_mul = torch.autograd.gradcheck(Multiply.apply, (x, y), raise_exception=False)
    ok_sig = torch.autograd.gradcheck(Sigmoid.apply, (x,), raise_exception=False)
    checks.true("Multiply passes gradcheck", ok_mul, "Multiply's backward disagrees with gradcheck")
    checks.true("Sigmoid passes gradcheck", ok_sig, "Sigmoid's backward disagrees with gradcheck")

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# ## Question 2 — One ConvNet, three levels of PyTorch
#
# The same two-layer ConvNet, `conv 3x3 (padding 1) - ReLU - 2x2 max pool - FC`, three times over.
# Each level hides a little more of the machinery; writing all three shows what `nn.Module` and
# `nn.Sequential` actually do for you.
#
# **Level 1: bare tensors.** The parameters are four leaf tensors with `requires_grad=True`, kept in a
# dict: `conv_w` `(channels, in_channels, 3, 3)`, `conv_b` `(channels,)`, `fc_w`
# `(num_classes, channels * (image_size // 2) ** 2)`, `fc_b` `(num_classes,)`.
#
# 1. `convnet_params(in_channels, channels, num_classes, image_size)` creates them: weights drawn
#    from `torch.randn` times Kaiming's `sqrt(2 / fan_in)` (fan_in = the inputs one output sees:
#    `in_channels * 3 * 3` for the conv, the flattened size for the FC layer), biases zero. Create
#    each as a *leaf*: scale the random tensor first, then `requires_grad_()` (a tensor computed from
#    a `requires_grad` tensor is not a leaf, and its `.grad` stays `None`).
# 2. `convnet_forward(x, params)`: `F.conv2d(x, w, b, padding=1)`, `F.relu`, `F.max_pool2d(..., 2)`,
#    flatten all but the batch dimension, `F.linear` (which computes `x @ w.T + b`). Returns scores.
# 3. `sgd_step(params, lr)`: after `loss.backward()` each tensor holds its gradient in `.grad`;
#    update every parameter in place, `p -= lr * p.grad`, **inside `torch.no_grad()`** (else the
#    update itself is recorded in the graph, and an in-place change of a leaf that requires grad is
#    refused), then reset the gradient (`p.grad = None`): PyTorch *adds* new gradients to `.grad`.
#
# **Level 2: an `nn.Module` subclass.** `ConvNet(in_channels, channels, num_classes, image_size)`:
# `__init__` calls `super().__init__()` and creates `self.conv = nn.Conv2d(...)` and
# `self.fc = nn.Linear(...)` (assigning a module to an attribute registers its parameters, so
# `model.parameters()` and `state_dict()` find them); `forward(x)` is the same computation as
# level 1, with the layers you registered.
#
# **Level 3: `nn.Sequential`.** `convnet_sequential(...)` returns
# `nn.Sequential(Conv2d, ReLU, MaxPool2d, Flatten, Linear)`: no class, no `forward` to write.
#
# All three compute the same function: with the same weights they give the same scores (checked below
# by copying the weights of level 1 into levels 2 and 3).

# %%
def convnet_params(in_channels=3, channels=16, num_classes=10, image_size=32):
    """Leaf parameter tensors of conv3x3 - ReLU - maxpool2 - FC, Kaiming-initialised.

    Inputs:
    - in_channels: C of the input images.
    - channels: filters of the conv layer.
    - num_classes: number of class scores.
    - image_size: H = W of the input (even).

    Returns:
    - params: dict with float32 leaf tensors that require grad: conv_w (channels, in_channels, 3, 3),
      conv_b (channels,) zeros, fc_w (num_classes, channels * (image_size // 2) ** 2),
      fc_b (num_classes,) zeros.
    """
    # BEGIN SOLUTION
    fc_in = channels * (image_size // 2) ** 2
    conv_w = torch.randn(channels, in_channels, 3, 3) * math.sqrt(2.0 / (in_channels * 9))
    fc_w = torch.randn(num_classes, fc_in) * math.sqrt(2.0 / fc_in)
    params = {"conv_w": conv_w, "conv_b": torch.zeros(channels), "fc_w": fc_w, "fc_b": torch.zeros(num_classes)}
    return {k: v.requires_grad_() for k, v in params.items()}
    # END SOLUTION


def convnet_forward(x, params):
    """Scores of conv3x3 (padding 1) - ReLU - 2x2 max pool - FC, with torch.nn.functional only.

    Inputs:
    - x: (N, C, H, W) float tensor.
    - params: dict as returned by convnet_params.

    Returns:
    - scores: (N, num_classes) tensor, in the graph of the parameters.
    """
    # BEGIN SOLUTION
    h = F.relu(F.conv2d(x, params["conv_w"], params["conv_b"], padding=1))
    h = F.max_pool2d(h, 2)
    return F.linear(h.flatten(1), params["fc_w"], params["fc_b"])
    # END SOLUTION


def sgd_step(params, lr):
    """One plain SGD update in place, p -= lr * p.grad, then clear the gradients.

    Inputs:
    - params: dict of leaf tensors whose .grad was filled by backward().
    - lr: the learning rate.

    Returns:
    - None (the tensors are updated in place; every .grad is None afterwards).
    """
    # BEGIN SOLUTION
    with torch.no_grad():
        for p in params.values():
            p -= lr * p.grad
            p.grad = None
    # END SOLUTION


class ConvNet(nn.Module):
    """conv3x3 - ReLU - maxpool2 - FC as an nn.Module subclass (attributes `conv` and `fc`)."""

    def __init__(self, in_channels=3, channels=16, num_classes=10, image_size=32):
        """Register the layers.

        Inputs:
        - in_channels, channels, num_classes, image_size: as for convnet_params.
        """
        # BEGIN SOLUTION
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel_size=3, padding=1)
        self.fc = nn.Linear(channels * (image_size // 2) ** 2, num_classes)
        # END SOLUTION

    def forward(self, x):
        """Scores (N, num_classes) for x (N, C, H, W)."""
        # BEGIN SOLUTION
        h = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(h.flatten(1))
        # END SOLUTION


def convnet_sequential(in_channels=3, channels=16, num_classes=10, image_size=32):
    """The same ConvNet as one nn.Sequential: Conv2d, ReLU, MaxPool2d, Flatten, Linear.

    Inputs:
    - in_channels, channels, num_classes, image_size: as for convnet_params.

    Returns:
    - model: nn.Sequential with the conv at index 0 and the Linear at index 4.
    """
    # BEGIN SOLUTION
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * (image_size // 2) ** 2, num_classes),
    )
    # END SOLUTION

# %% [markdown]
# Level 1 at work: a few hundred images of the kit's `shapes` set (32x32 RGB, 10 classes of coloured,
# rotated, noisy shapes, generated offline), the loop written out by hand. The first loss should be
# near `log(10) = 2.30`; it should then fall. Then the weights go into levels 2 and 3, which must
# give the same scores.

# %%
Xs, ys, class_names = data.load("shapes", "train", n=512)
xb_all, yb_all = torch.tensor(Xs), torch.tensor(ys)

# %% tags=["otter_ignore"]
cnnkit.seed_everything(SEED)
params = convnet_params(channels=16)
for it in range(60 if CI else 150):
    idx = torch.randint(0, len(xb_all), (64,))
    loss = F.cross_entropy(convnet_forward(xb_all[idx], params), yb_all[idx])
    loss.backward()
    sgd_step(params, lr=0.05)
    if it % 20 == 0:
        print(f"step {it:3d}  loss {loss.item():.3f}")
module_net, seq_net = ConvNet(channels=16), convnet_sequential(channels=16)
with torch.no_grad():
    for conv, fc in ((module_net.conv, module_net.fc), (seq_net[0], seq_net[4])):
        conv.weight.copy_(params["conv_w"]), conv.bias.copy_(params["conv_b"])
        fc.weight.copy_(params["fc_w"]), fc.bias.copy_(params["fc_b"])
    s1, s2, s3 = convnet_forward(xb_all[:8], params), module_net(xb_all[:8]), seq_net(xb_all[:8])
print("largest difference, level 1 vs 2:", (s1 - s2).abs().max().item(), " level 1 vs 3:", (s1 - s3).abs().max().item())
print("state_dict keys, level 2:", list(module_net.state_dict()), " level 3:", list(seq_net.state_dict()))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q2_sgd_step_by_hand(sgd_step):
    import torch

    from cnnkit import checks

    # By hand: p - 0.1 * grad = [1 - 0.05, 2 + 0.1]; the gradient is cleared afterwards.
    p = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([0.5, -1.0], dtype=torch.float64)
    out = sgd_step({"p": p}, 0.1)
    checks.equal("return value", out, None)
    checks.close("p after one step", p.detach(), [0.95, 2.1], rtol=1e-12)
    checks.true("p is still a leaf that requires grad", p.is_leaf and p.requires_grad, "p lost requires_grad or is no longer a leaf")
    checks.true("gradient cleared", p.grad is None or not p.grad.any(), "p.grad still holds the old gradient")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q2_three_levels_agree(convnet_params, convnet_forward, ConvNet, convnet_sequential):
    import torch

    from cnnkit import checks

    torch.manual_seed(0)
    params = convnet_params(in_channels=2, channels=3, num_classes=4, image_size=6)
    names = ["conv_w", "conv_b", "fc_w", "fc_b"]
    checks.equal("parameter names", sorted(params), sorted(names))
    checks.equal("parameter shapes", [str(tuple(params[k].shape)) for k in names], ["(3, 2, 3, 3)", "(3,)", "(4, 27)", "(4,)"])
    checks.true("leaf tensors that require grad", all(v.is_leaf and v.requires_grad for v in params.values()), "some parameter is not a leaf that requires grad")
    x = torch.rand(5, 2, 6, 6)
    module, seq = ConvNet(2, 3, 4, 6), convnet_sequential(2, 3, 4, 6)
    with torch.no_grad():
        for conv, fc in ((module.conv, module.fc), (seq[0], seq[4])):
            conv.weight.copy_(params["conv_w"])
            conv.bias.copy_(params["conv_b"])
            fc.weight.copy_(params["fc_w"])
            fc.bias.copy_(params["fc_b"])
        s1 = convnet_forward(x, params)
        checks.equal("scores shape", tuple(s1.shape), (5, 4))
        checks.close("nn.Module vs bare tensors", module(x), s1, rtol=1e-5, atol=1e-6)
        checks.close("nn.Sequential vs bare tensors", seq(x), s1, rtol=1e-5, atol=1e-6)

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [markdown]
# ## Question 3 — Parameter accounting and a CNN builder
#
# The lecture's rule: a conv layer with `K` filters of size `F x F` on `C` input channels has
# `F*F*C*K` weights and `K` biases. `nn.Conv2d(in_channels, out_channels, kernel_size, stride=1,
# padding=0, dilation=1, groups=1, bias=True)`:
# - `nn.Conv2d(3, 10, 5, padding=2)` (32x32x3 input, 10 5x5 filters): `5*5*3*10 + 10 = 760`;
# - `nn.Conv2d(64, 32, 1)` (a 1x1 conv is a 64-dimensional dot product per pixel): `64*32 + 32 = 2,080`.
#
# **Groups** split the channels: with `groups=g` each filter sees only `C/g` input channels ("two conv
# layers side by side"), so the weights shrink by `g`: `F*F*(C/g)*K + K`. `nn.Conv2d(4, 8, 3,
# groups=2)` has `3*3*2*8 + 8 = 152`; `groups=C` is a *depthwise* conv (one filter per channel).
# **Dilation** spaces the kernel taps apart (à trous): a 3x3 kernel with dilation 2 covers 5x5 pixels
# with the same 9 weights, so the count does not change.
#
# Write `count_params(model, trainable_only=False)`: the number of scalars in the model's parameters
# (BatchNorm's running statistics are *buffers*, not parameters); with `trainable_only=True` only those
# with `requires_grad`.

# %%
# EXERCISE cnnkit.models.count_params

# %% [markdown]
# Now check the formula on two famous networks. torchvision builds them without downloading anything
# when `weights=None`, and on PyTorch's meta device without even allocating their weights (shapes
# only, all a parameter count needs, provided your `count_params` counts with `p.numel()`: reading
# values with `.numpy()` fails on the meta device, and telling tensors apart by `data_ptr()`
# miscounts, since every meta tensor's is 0). VGG-16 is the lecture's table plus biases
# (138,357,544). torchvision's AlexNet is **not** the lecture's: it follows the later single-GPU
# version ("one weird trick", Krizhevsky 2014) with 64/192/384/256/256 filters instead of
# 96/256/384/384/256, no Local Response Normalization, and an adaptive average pool that makes the
# 6x6x256 input of FC6 independent of the image size — so it has about 61.1M parameters instead of
# the lecture's 62.4M. Dropout has no parameters: AlexNet's two dropout layers sit before FC6 and
# FC7 (printed below), none before the last layer.

# %% tags=["otter_ignore"]
from torchvision.models import alexnet, vgg16

# drawing VGG-16's 138M random weights takes seconds; on the meta device the modules hold no storage
with torch.device("meta"):
    vgg, tv_alexnet = vgg16(weights=None), alexnet(weights=None)


def conv_formula(F_, C, K, groups=1, bias=True):
    return F_ * F_ * (C // groups) * K + (K if bias else 0)


vgg_cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
vgg_formula, c = 0, 3
for v in vgg_cfg:
    if v != "M":
        vgg_formula, c = vgg_formula + conv_formula(3, c, v), v
vgg_formula += (7 * 7 * 512 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 1000
print(f"VGG-16   torchvision {count_params(vgg):,}  formula {vgg_formula:,}")

tv_spec = [(11, 3, 64), (5, 64, 192), (3, 192, 384), (3, 384, 256), (3, 256, 256)]
lecture_spec = [(11, 3, 96), (5, 96, 256), (3, 256, 384), (3, 384, 384), (3, 384, 256)]
fc_part = (256 * 6 * 6 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 1000
tv_formula = sum(conv_formula(*s) for s in tv_spec) + fc_part
lecture_formula = sum(conv_formula(*s) for s in lecture_spec) + fc_part
print(f"AlexNet  torchvision {count_params(tv_alexnet):,}  formula {tv_formula:,}")
print(f"AlexNet  lecture (96/256/384/384/256, no grouping) {lecture_formula:,}")
print("AlexNet's classifier:", [type(m).__name__ for m in tv_alexnet.classifier])
print("grouped 3x3, 4->8, groups=2:", count_params(nn.Conv2d(4, 8, 3, groups=2)))
print("dilated 3x3, 4->8, dilation=2:", count_params(nn.Conv2d(4, 8, 3, dilation=2)))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_lecture_layers(count_params):
    from torch import nn

    from cnnkit import checks

    checks.equal("Conv2d(3, 10, 5, padding=2)", count_params(nn.Conv2d(3, 10, 5, padding=2)), 5 * 5 * 3 * 10 + 10)
    checks.equal("Conv2d(64, 32, 1)", count_params(nn.Conv2d(64, 32, 1)), 64 * 32 + 32)
    checks.equal("Conv2d(4, 8, 3, groups=2)", count_params(nn.Conv2d(4, 8, 3, groups=2)), 3 * 3 * 2 * 8 + 8)
    checks.equal("MaxPool2d(2)", count_params(nn.MaxPool2d(2)), 0)

# %% [markdown]
# ### A CNN builder and an MLP baseline
#
# The lecture's summary: typical architectures look like `[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,SOFTMAX`.
# Write `build_cnn(...)` returning one `nn.Sequential`:
# - `M = len(channels)` blocks; block `m` has `N = convs_per_block` layers
#   `Conv2d(3x3, stride 1, padding 1)` (keeps H and W) each followed by `BatchNorm2d` when
#   `batchnorm=True` (the ResNet recipe; the conv then has no bias, BatchNorm's shift replaces it) and
#   `ReLU`, then one `MaxPool2d(2, 2)` (halves H and W); raise `ValueError` when `image_size` is not
#   divisible by `2**M`;
# - with `global_pool=True` an `AdaptiveAvgPool2d(1)` after the blocks (as in ResNet: the classifier
#   then no longer cares *where* in the image a feature fired);
# - `Flatten`, then `K = len(fc)` layers `Linear-ReLU`, then the final `Linear` to `num_classes` scores.
#   With `dropout > 0` a `Dropout(dropout)` comes before **every** `Linear`, the classifier
#   included. (AlexNet is sparer: dropout before its first two FC layers only, FC6 and FC7, none
#   before the 1000-way FC8 — torchvision's `alexnet().classifier` shows it. This builder drops out
#   before every Linear so that `fc=()` with `dropout > 0` still regularises the classifier.)
#   No softmax at the end: `F.cross_entropy` takes raw scores (logits).
#
# The exact order of the modules matters: the hidden tests compare your `build_cnn` with the
# pattern module by module, and load one set of weights into both.
#
# `build_mlp(...)` is the baseline: `Flatten`, then `Linear-ReLU` per hidden width, then `Linear`
# (again with `Dropout` before every `Linear` when `dropout > 0`).

# %%
# EXERCISE cnnkit.models.build_cnn, build_mlp

# %%
demo = build_cnn(channels=(16, 32), convs_per_block=2, fc=(64,), dropout=0.5)
print(demo)
print("scores:", tuple(demo(torch.zeros(2, 3, 32, 32)).shape), "parameters:", count_params(demo))
print("MLP parameters:", count_params(build_mlp()))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_default_cnn(build_cnn):
    import torch
    from torch import nn

    from cnnkit import checks

    model = build_cnn().eval()
    checks.equal("output shape", tuple(model(torch.zeros(2, 3, 32, 32)).shape), (2, 10))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    checks.equal("number of convs", len(convs), 3)
    checks.equal("conv filters", [m.out_channels for m in convs], [32, 64, 128])
    for i, m in enumerate(convs):
        checks.equal(f"conv {i} kernel/stride/padding", (m.kernel_size, m.stride, m.padding), ((3, 3), (1, 1), (1, 1)))
    checks.equal("batchnorms", sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()), 3)
    checks.equal("pools", sum(isinstance(m, nn.MaxPool2d) for m in model.modules()), 3)

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_mlp(build_mlp):
    import torch
    from torch import nn

    from cnnkit import checks

    model = build_mlp(hidden=(20,))
    checks.equal("output shape", tuple(model(torch.zeros(4, 3, 32, 32)).shape), (4, 10))
    checks.equal("no convs", any(isinstance(m, nn.Conv2d) for m in model.modules()), False)
    shapes = [str(tuple(v.shape)) for v in model.state_dict().values()]  # an MLP has no buffers
    checks.equal("weight and bias shapes", shapes, [str(s) for s in [(20, 3 * 32 * 32), (20,), (10, 20), (10,)]])

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q4

# %% [markdown]
# ## Question 4 — Your training and evaluation loops
#
# The lecture's loop: sample a batch, forward it, compute the loss, backprop, update. Here you write
# it for real models, any device and a time budget. The library draws the live curves
# (`cnnkit.training.LivePlot`) and stores the numbers (`cnnkit.training.History`); the loop is yours.
#
# 1. `train_step(model, batch, optimizer, loss_fn, scaler=None)`: one step on a batch `(x, y)` that
#    is already on the model's device. `optimizer.zero_grad()` (PyTorch *accumulates* gradients in
#    `.grad`), scores (logits) → `loss_fn(scores, y)` (cross-entropy wants **raw scores**: it applies
#    log-softmax itself) → `backward()` → `optimizer.step()`. With a `scaler` (a
#    `torch.amp.GradScaler`, only ever made on CUDA) the forward pass and the loss run under
#    `torch.autocast("cuda", dtype=torch.float16)` and the update becomes
#    `scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()` — float16 gradients
#    underflow to zero without the scaling. Return `(loss, n_correct, n)`: the loss **detached** from
#    the graph (else every batch's graph stays alive as long as you keep the loss), how many argmax
#    predictions are right, the batch size.
# 2. `predict(model, x)`: predicted labels `(N,)` for a batch `x` that may live anywhere: put the
#    model in **eval mode** (Dropout off, BatchNorm uses its running statistics), move `x` to the
#    model's device (`next(model.parameters()).device` — never a hard-coded `'cuda'`), no gradients
#    (`torch.no_grad()`). The labels stay on the model's device.
# 3. `evaluate(model, loader, loss_fn)`: mean loss per example and accuracy over all batches of a
#    loader, as Python floats, in eval mode, without gradients, each batch moved to the model's device.
# 4. `save_model(path, model, example)` **exports** the model: `torch.export.export` traces its
#    `forward` into a graph of tensor operations, and `torch.export.save` writes that graph and the
#    weights to a `.pt2` file. Whoever loads it needs no Python class of yours, and nobody unpickles
#    a stranger's objects (pickling the module, `torch.save(model)`, would need both). Three details:
#    - export a **copy** (`copy.deepcopy`) on the CPU in **eval mode**: the graph records the mode
#      you export in (Dropout on or off, BatchNorm's batch or running statistics) and cannot switch
#      afterwards; the model you were given stays as it was (its mode, its device);
#    - the example input is a zero batch of 2 shaped like `example`'s images (`example.shape[1:]`),
#      and the batch dimension is declared dynamic, `dynamic_shapes=({0: torch.export.Dim("batch")},)`,
#      so the program takes any batch size (an example batch of 1 would fix it to 1);
#    - `load_model(path)` returns `torch.export.load(path).module()`: a module that runs the graph.
#      It has parameters and takes batches like your model, but its mode was fixed when it was
#      exported: don't call `.eval()` or `.train()` on it (PyTorch refuses), so don't pass it to
#      `predict` or `evaluate` either — call it directly under `torch.no_grad()`.
# 5. `train(model, loaders, epochs, lr, ...)`, the whole loop:
#    - the device is the `device` argument, or `cnnkit.get_device()` when it is `None`; move the
#      model there once and every batch as it comes;
#    - `loss_fn = nn.CrossEntropyLoss()`, `torch.optim.AdamW(model.parameters(), lr=lr,
#      weight_decay=weight_decay)` and `torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr,
#      total_steps=epochs * len(loaders["train"]))`: OneCycle plans its warm-up and annealing in
#      **batches**, so it is stepped once after every `train_step` (a schedule planned in epochs,
#      such as `StepLR(step_size=epochs // 3)`, is stepped once per epoch instead);
#    - a `GradScaler` only when the device is CUDA (`torch.amp.GradScaler("cuda")`), else `None`;
#    - every epoch: `model.train()`, then the batches of `loaders["train"]` in order; before each
#      batch, stop if `time_limit` seconds have passed since the loop started (`time.perf_counter()`),
#      and set `history.stopped_early`; after the batches (if at least one ran) append to
#      `history` the epoch's `train_loss` (mean per example), `train_acc`, `lr` (the learning rate
#      the epoch's last batch was trained with: `optimizer.param_groups[0]["lr"]` read before that
#      batch's step; OneCycle's very last `step()` runs past the end of the cycle and its value is
#      never used), then `evaluate` on
#      `loaders["val"]` and append `val_loss`, `val_acc`, and the epoch's seconds to `epoch_time`;
#    - when the validation accuracy beats the best so far (strictly), keep a copy of the weights
#      (`copy.deepcopy(model.state_dict())`), set `history.best_epoch` to the epoch (0-based) and,
#      when `checkpoint` is a path, write it with `save_model(checkpoint, model, x)` (`x`: the
#      last training batch, for its image shape);
#    - at the end load the best weights back into the model and return the `History`.
#
#    Call `live.update(history)` after every epoch with `live = training.LivePlot(live_plot)` to see
#    the curves grow.

# %%
# EXERCISE cnnkit.loops.train_step, predict, evaluate, save_model, load_model, train

# %% [markdown]
# ### The sanity ladder: overfit one small batch first
#
# Before a long run, check that the model *can* learn: with regularisation off, 64 images should be
# memorised to (almost) 100% training accuracy within a few dozen steps, and the first loss should be
# close to `log(10) = 2.30` (ten classes, nothing learned yet). If not, something is wrong with the
# model, the loss or the step — much cheaper to find out now.

# %% tags=["otter_ignore"]
xb, yb = xb_all[:64], yb_all[:64]
vis.image_grid(Xs[:16], ys[:16], class_names=class_names, ncols=8)
plt.show()
tiny = build_cnn(channels=(8, 16)).to(DEVICE)
opt = torch.optim.Adam(tiny.parameters(), lr=1e-2)
tiny.train()
for it in range(40):
    loss, n_correct, n = train_step(tiny, (xb.to(DEVICE), yb.to(DEVICE)), opt, nn.CrossEntropyLoss())
    if it == 0:
        print(f"first loss {loss.item():.3f} (log 10 = {math.log(10):.3f})")
acc = (predict(tiny, xb).cpu() == yb).float().mean().item()
print(f"after 40 steps: loss {loss.item():.4f}, accuracy on the 64 images {acc:.2f}")

# %% [markdown]
# And the whole loop on a small run: two epochs, a checkpoint, the learning rate of each epoch's last
# batch (OneCycle: near the peak after the first epoch, annealed to almost zero after the last), and
# a one-second budget that must cut a 50-epoch run short. (Two short epochs are not enough to learn
# much: this run checks the mechanics.)

# %% tags=["otter_ignore"]
# Plain torch loaders over tensors for now (notebook 03b has you write the real pipeline).
small = {}
for split, n in (("train", 1024), ("val", 512), ("test", 512)):
    X_split, y_split, _ = data.load("shapes", split, n=n)
    tensors = torch.utils.data.TensorDataset(torch.tensor(X_split), torch.tensor(y_split))
    small[split] = torch.utils.data.DataLoader(tensors, batch_size=64, shuffle=split == "train")
cnnkit.seed_everything(SEED)
small_net = build_cnn(channels=(8, 16), global_pool=True)
h = train(small_net, small, epochs=2, lr=1e-2, checkpoint="small_model.pt2")
print("lr of the last batch of each epoch:", [f"{v:.2e}" for v in h.lr], "| best epoch:", h.best_epoch)
print("evaluate on the test split (loss, accuracy):", evaluate(small_net, small["test"]))
h_cut = train(build_cnn(channels=(8, 16), global_pool=True), small, epochs=50, time_limit=1.0)
print(f"with a 1 s budget: {len(h_cut.train_loss)} epoch(s) of 50, stopped early: {h_cut.stopped_early}, {h_cut.total_time:.1f} s")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q4_train_step(train_step):
    import math

    import torch
    from torch import nn

    from cnnkit import checks

    # By hand: with zero weights every score is 0, so the loss is log 5, argmax picks class 0, and the
    # gradient of the mean cross-entropy on the bias is 1/5 - (share of labels equal to k).
    rng = checks.rng()
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    x = torch.tensor(rng.standard_normal((6, 3, 2, 2)))
    y = torch.tensor(rng.integers(0, 5, 6))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, n_correct, n = train_step(model, (x, y), opt, nn.CrossEntropyLoss())
    counts = [int((y == k).sum()) for k in range(5)]
    checks.close("loss", float(loss), math.log(5), rtol=1e-9)
    checks.true("loss detached from the graph", not loss.requires_grad, "the returned loss still holds its graph")
    checks.equal("n_correct", int(n_correct), counts[0], msg="count the correct predictions of the scores the loss was computed from")
    checks.equal("n", int(n), 6)
    checks.close(
        "bias after one SGD step (lr 0.1) on this batch's gradients", model[1].bias.detach(),
        [-0.1 * (1 / 5 - c / 6) for c in counts], rtol=1e-9, atol=1e-12,
    )

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q4_predict_and_checkpoint(predict, save_model, load_model, build_cnn):
    import os
    import tempfile

    import torch

    from cnnkit import checks

    torch.manual_seed(0)
    cfg = {"channels": [4], "fc": [], "image_size": 8}
    model = build_cnn(**cfg)
    x = torch.rand(5, 3, 8, 8)
    labels = predict(model, x)
    checks.equal("predict shape", tuple(labels.shape), (5,))
    checks.equal("model is in eval mode after predict", model.training, False)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.pt2")
        save_model(path, model, x)
        again = load_model(path)
        with torch.no_grad():
            scores = again(x)
            one = again(x[:1])
    checks.equal("scores of the loaded program", tuple(scores.shape), (5, 10))
    checks.true("the loaded program predicts the same labels", torch.equal(scores.argmax(1), labels), "the loaded program predicts differently from the model in eval mode")
    checks.equal("scores for a batch of one image", tuple(one.shape), (1, 10), msg="declare the batch dimension dynamic when you export")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q4_train_small_run(train):
    import torch
    from torch import nn

    from cnnkit import checks

    # Four batches of 8 two-class points, two epochs: the history has two entries per list, and the
    # OneCycle schedule (8 steps in all) ends far below its peak.
    torch.manual_seed(0)
    x = torch.randn(32, 1, 2, 2)
    y = (x.flatten(1).sum(1) > 0).long()
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    history = train(model, {"train": batches, "val": batches}, epochs=2, lr=0.1, device="cpu")
    checks.equal("epochs recorded", [len(history.train_loss), len(history.val_acc), len(history.lr)], [2, 2, 2])
    checks.true("losses are Python floats", all(type(v) is float for v in history.train_loss + history.val_loss), "history holds tensors, not floats")
    checks.true("lr annealed after the last batch", history.lr[-1] < 1e-3, "the learning rate at the end is still high: is the scheduler stepped after every batch?")
    checks.true("a best epoch", history.best_epoch in (0, 1), "history.best_epoch is not set")

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: w1
# points: 3
# manual: true

# %% [markdown]
# ### Written question 1 (3 points) — Train mode and eval mode
# Your `evaluate` and `predict` put the model in eval mode and your `train` puts it back in train mode
# at every epoch. Name the two kinds of layers of this notebook's networks that behave differently in
# the two modes, say what each does in each mode, and say what would happen to the validation accuracy
# your loop records if `evaluate` forgot `model.eval()` — for a model with Dropout, and for a
# BatchNorm model evaluated on a batch of a single image.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** Dropout zeroes each activation with probability p in train mode and rescales the
# survivors by 1/(1-p); in eval mode it is the identity. BatchNorm normalises with the statistics of
# the current batch in train mode (and updates its running mean and variance); in eval mode it uses
# the running statistics, so an image's output does not depend on the other images of its batch.
# Without `model.eval()` the recorded validation accuracy is noisy and typically lower (random units
# dropped at test time; it changes from one call to the next), evaluation also silently updates
# BatchNorm's running statistics with validation data, and a single-image batch gets normalised by
# its own statistics (its feature maps' mean and variance, or an error for BatchNorm1d with one
# value per channel), which gives meaningless predictions.
#
# **Rubric (3 points).**
# - 1 point: Dropout: drops and rescales in train mode, identity in eval mode.
# - 1 point: BatchNorm: batch statistics (and running-statistics updates) in train mode, running
#   statistics in eval mode.
# - 1 point: the consequence without `eval()`: noisy/lower, non-reproducible validation accuracy,
#   running statistics polluted by validation data, single-image predictions depending on that image's
#   own statistics.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: w2
# points: 3
# manual: true

# %% [markdown]
# ### Written question 2 (3 points) — Where the scheduler steps
# Your `train` steps `OneCycleLR` after every batch; the small run above printed the learning rate at
# the end of each epoch. Explain why OneCycle is stepped per batch here, what the printed learning
# rates would look like if `scheduler.step()` were called once per epoch instead (with `total_steps`
# unchanged), and where `scheduler.step()` belongs for a `StepLR(step_size=10)` built to decay every
# ten epochs. Why does the time budget make OneCycle's end of schedule a problem, and what in your
# loop softens it?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** OneCycleLR was built with `total_steps = epochs * len(train_loader)`: its warm-up
# and annealing are planned in batches, so one `step()` per batch walks the whole cycle exactly once.
# Stepped once per epoch it would advance only `epochs` of its `total_steps` steps: the printed
# learning rates would stay near the start of the warm-up (far below the peak, rising slowly) and
# never anneal, so training would end at a low-but-wrong point of the cycle rather than at the
# annealed end. A StepLR planned in epochs (`step_size=10` epochs) is stepped once per epoch, after
# the epoch's batches; stepped per batch it would decay every ten *batches*, collapsing the rate
# within the first epoch. A time budget cuts the run before the planned number of steps, so OneCycle
# is stopped early, possibly at a high learning rate, before its annealing phase; keeping and
# restoring the weights of the best validation epoch (and saving that checkpoint) softens it, as
# would planning `total_steps` from the epochs that fit the budget.
#
# **Rubric (3 points).**
# - 1 point: OneCycle's plan is in batches (`total_steps` counts batches), so it steps per batch; the
#   per-epoch mistake leaves the rate in early warm-up, never reaching the peak or annealing.
# - 1 point: StepLR planned in epochs steps once per epoch, after the batches (per batch it decays
#   far too early).
# - 1 point: the budget stops the cycle before annealing; best-validation weights restored / saved
#   checkpoint (or planning the cycle for the epochs that fit) soften it.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION


# %% [markdown]
# ## Submit
#
# Run the whole notebook (*Run > Run All Cells*) and hand it in. Public checks passing does not mean
# full marks: hidden tests decide most of the points. Keep your question 4 in mind: notebook 03b
# trains with the same `train`, `evaluate`, `predict` and `save_model` (the course library's
# versions, filled in once this notebook is due).
