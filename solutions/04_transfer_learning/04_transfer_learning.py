# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 04_transfer_learning

# %% [markdown]
# # Notebook 04 — Transfer learning with real pretrained networks
#
# **What you will learn**
# - how to use a network pretrained on ImageNet through its torchvision *weight enum*, with **the
#   weights' own preprocessing** (resize, crop, mean/std normalisation);
# - the lecture's recipe for a **small dataset**: use the network as a fixed *feature extractor* — freeze
#   every layer but the last, including BatchNorm's running statistics, and train a new head;
# - the recipe for a **medium dataset**: *fine-tune* the top blocks too, with about 1/10 of the
#   learning rate on the top layers and 1/100 further down;
# - when each strategy wins: training from scratch vs a linear probe vs fine-tuning at 5, 20 and 100
#   labels per class, measured on a real offline task;
# - how to look inside: features in 2-D (PCA / t-SNE), accuracy vs feature dimension, saliency and
#   occlusion maps ("which pixels made the network say *espresso*?").
#
# **Time.** About 2–3 hours of work. Everything runs on a laptop CPU: the full comparison in Q4 takes
# 5–10 minutes there (about 2 minutes with `CNNKIT_CI=1`), well under a minute on a GPU such as Colab's.
# No download is needed: the pretrained MobileNetV2 weights come with the course kit (`cnnkit doctor`
# says whether they are installed).
#
# **How to submit.** Run the whole notebook top to bottom (Q4 saves your best head as
# `transfer_head.pt`), then submit **two files**: this `.ipynb` notebook (on Colab: *File → Download →
# Download .ipynb*) and `transfer_head.pt` (on Colab: the folder icon on the left, right-click →
# Download). Do not rename the functions you are asked to write: the grader calls them by name.
#
# **How you are graded.** `grader.check("qN")` runs the *public* tests of question N. **Hidden tests
# exist and are worth most of the points**: they call your functions on other networks (MobileNetV2 and
# ResNet-18), other inputs and other settings, and check freezing, BatchNorm state, learning rates and
# trainable counts exactly. Passing the public tests does not mean full marks. Your saved head is graded
# by its accuracy on held-out crops you never see, with the frozen pretrained backbone on a CPU.

# %%
from cnnkit.colab import bootstrap

bootstrap("04_transfer_learning")

# %%
import time
import types

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

import cnnkit
from cnnkit import features, vis
from cnnkit.training import save_checkpoint
from cnnkit.transfer import backbone_blocks, head_module, is_batchnorm, set_head, stay_in_eval

SEED = 0
cnnkit.seed_everything(SEED)
CI = cnnkit.ci_mode()  # True in automated runs: fewer crops, shorter training
device = cnnkit.get_device()  # Q4 runs on the CPU: the frozen features are computed once

# %% [markdown]
# ## Q1. Use a pretrained network
#
# torchvision names every set of pretrained weights with an *enum*: `MobileNet_V2_Weights.IMAGENET1K_V1`
# is the MobileNetV2 trained on ImageNet's 1000 classes (ILSVRC, the lecture's top-5 benchmark). The enum
# also carries what you must know to use the weights correctly:
#
# - `weights.transforms()` — the preprocessing the network was trained with: resize the short side to
#   256, centre-crop 224×224, scale to [0, 1], subtract the ImageNet mean and divide by its standard
#   deviation, channel by channel. A network fed images preprocessed differently (no normalisation,
#   0–255 values, BGR) still runs — and quietly gives worse answers.
# - `weights.meta["categories"]` — the 1000 class names.
#
# (Name `IMAGENET1K_V1` explicitly: `DEFAULT` is the V2 recipe, another file, which needs a download.)

# %%
weights = MobileNet_V2_Weights.IMAGENET1K_V1
pretrained = mobilenet_v2(weights=weights).eval()
categories = weights.meta["categories"]
print(len(categories), "classes, e.g.", categories[:3])

# %% [markdown]
# Set `preprocess` to the weights' own transform, and write `top5(model, batch, categories)`: run the
# model in eval mode without gradients, turn the scores into probabilities with a softmax, and return
# for each image the five most probable classes as `(name, probability)` pairs, most probable first.

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [raw]
# # BEGIN SOLUTION

# %%
preprocess = weights.transforms()  # SOLUTION


def top5(model, batch, categories):
    """The five most probable classes of every image in a batch.

    Inputs:
    - model: a classification network (put in eval mode here).
    - batch: float tensor (N, 3, H, W), already preprocessed.
    - categories: list of C class names.

    Returns:
    - result: list of N lists of 5 (name, probability) pairs, probability a float, descending.
    """
    # BEGIN SOLUTION
    model.eval()
    with torch.no_grad():
        probs = model(batch).softmax(dim=1)
    top_p, top_i = probs.topk(5, dim=1)
    return [
        [(categories[i], float(p)) for i, p in zip(row_i.tolist(), row_p.tolist())]
        for row_i, row_p in zip(top_i, top_p)
    ]
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
def test_q1_preprocess_matches_the_weights(preprocess):
    import numpy as np
    import torch

    from cnnkit import checks

    # A grey photo in a black frame: the frame lies outside the central crop, so every output pixel is
    # the grey level normalised with ImageNet's mean and std (numbers of the weights' documentation).
    rng = checks.rng()
    level = int(rng.integers(40, 216))
    img = torch.zeros(3, 300, 260, dtype=torch.uint8)
    img[:, 12:-12, 12:-12] = level
    got = preprocess(img)
    checks.equal("shape of preprocess(image)", tuple(got.shape), (3, 224, 224))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected = np.broadcast_to(((level / 255 - mean) / std)[:, None, None], (3, 224, 224))
    name = "preprocess(framed grey image) (the weights' own transforms(): resize 256, crop 224, ImageNet mean/std)"
    checks.close(name, got.double(), expected, rtol=0, atol=1e-4)


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q1_preprocess_float_batch_hidden(preprocess):
    import numpy as np
    import torch
    from torchvision.models import MobileNet_V2_Weights

    from cnnkit import checks

    rng = checks.rng()
    h, w = (int(v) for v in rng.integers(230, 330, size=2))
    img = torch.from_numpy(rng.random((2, 3, h, w), dtype=np.float32))
    ref = MobileNet_V2_Weights.IMAGENET1K_V1.transforms()
    checks.close("preprocess", preprocess(img).double(), lambda: ref(img).double(), atol=1e-5)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q1_top5_tiny_model(top5):
    import math

    import torch

    from cnnkit import checks

    # A model that ignores its input and scores class i with log(counts[i]): the softmax probabilities
    # are counts / 45, so the top five are known by hand.
    counts = [3, 9, 1, 7, 5, 2, 8, 4, 6]
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 9)).double()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([math.log(c) for c in counts]))
    batch = torch.from_numpy(checks.rng().normal(size=(3, 3, 2, 2)))
    names = [f"class{i}" for i in range(9)]
    got = top5(model, batch, names)
    checks.equal("number of images", len(got), 3)
    checks.equal("pairs per image", [len(r) for r in got], [5, 5, 5])
    checks.equal("top-5 names", [[n for n, _ in r] for r in got], [["class1", "class6", "class3", "class8", "class4"]] * 3)
    checks.close(
        "top-5 probabilities (a softmax over the scores)", [[p for _, p in r] for r in got],
        [[9 / 45, 8 / 45, 7 / 45, 6 / 45, 5 / 45]] * 3, rtol=1e-6,
    )


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q1_top5_eval_mode_hidden(top5):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(20, 30)).double()
    model.train()
    batch = torch.from_numpy(rng.normal(size=(4, 5, 2, 2)) * 3)
    names = [f"n{i}" for i in range(30)]
    got = top5(model, batch, names)

    def oracle():
        model.eval()
        with torch.no_grad():
            return torch.softmax(model(batch), 1).topk(5, 1)

    checks.equal("names", [[n for n, _ in r] for r in got], lambda: [[names[i] for i in row] for row in oracle()[1].tolist()])
    checks.close("probabilities", [[p for _, p in r] for r in got], lambda: oracle()[0].numpy(), rtol=1e-6)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The bundled photos through the pretrained network (they come with scikit-image and scikit-learn).

# %% tags=["otter_ignore"]
photo_names = ["coffee", "chelsea", "astronaut", "rocket", "china", "flower"]
photos = features.load_photos(photo_names)
batch = torch.stack([preprocess(torch.from_numpy(photos[n]).permute(2, 0, 1)) for n in photo_names])
fig, axes = plt.subplots(1, len(photo_names), figsize=(3 * len(photo_names), 3.6))
for ax, name, preds in zip(axes, photo_names, top5(pretrained, batch, categories)):
    ax.imshow(photos[name])
    ax.set_axis_off()
    ax.set_title("\n".join(f"{c[:18]} {p:.2f}" for c, p in preds[:3]), fontsize=8)
    print(f"{name:10s}", ", ".join(f"{c} ({p:.2f})" for c, p in preds))
plt.show()

# %% [markdown]
# ## Q2. A fixed feature extractor
#
# The lecture's recipe for a small dataset: *freeze* everything but the last layer and train only a new
# head ("the last layer is a linear classifier" on features that ImageNet taught the network).
#
# Freezing has two parts, and most bugs come from forgetting the second:
# 1. `requires_grad = False` on every backbone parameter, so no gradient is computed for it and no
#    optimizer can change it;
# 2. **BatchNorm layers in eval mode, and kept there.** In train mode a BatchNorm layer normalises with
#    the statistics of the current batch *and updates its running mean and variance* — it changes
#    even with `requires_grad = False`. `model.train()` puts every layer back into train mode, so
#    calling `bn.eval()` once is not enough. `model.train()` calls `.train(mode)` on every child, so
#    give each frozen BatchNorm a `train` method that ignores `mode`:
#    `bn.train = types.MethodType(stay_in_eval, bn)` (`stay_in_eval` is imported from `cnnkit.transfer`).
#
# Write `freeze_backbone(model)` (everything outside `head_module(model)` frozen as above),
# `count_trainable(model)` and `replace_head(model, num_classes)`, which attaches a new `nn.Linear` head
# (for MobileNetV2 keep the dropout in front of it: `classifier = Sequential(Dropout, Linear)`) and
# returns the new linear layer. `head_module`, `set_head` and `is_batchnorm` from `cnnkit.transfer` find,
# set and recognise the head and the BatchNorm layers of MobileNetV2 (`classifier`) and ResNet (`fc`).

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [raw]
# # BEGIN SOLUTION

# %%
def freeze_backbone(model: nn.Module) -> nn.Module:
    """Freeze everything but the classification head: a fixed feature extractor.

    Every parameter outside the head gets requires_grad=False, and every BatchNorm layer outside the
    head is put in eval mode and kept there, even through later `model.train()` calls, so its running
    mean and variance never change.

    Inputs:
    - model: a torchvision network (MobileNetV2-like or ResNet-like).

    Returns:
    - model: the same model, frozen in place.
    """
    # BEGIN SOLUTION
    head = head_module(model)
    head_params = {id(p) for p in head.parameters()}
    for p in model.parameters():
        p.requires_grad = id(p) in head_params
    head_modules = {id(m) for m in head.modules()}
    for m in model.modules():
        if is_batchnorm(m) and id(m) not in head_modules:
            m.train = types.MethodType(stay_in_eval, m)
            m.eval()
    return model
    # END SOLUTION


def count_trainable(model: nn.Module) -> int:
    """Number of scalar parameters that an optimizer would update (requires_grad=True).

    Inputs:
    - model: any nn.Module.

    Returns:
    - n: int.
    """
    # BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
    # END SOLUTION


def replace_head(model: nn.Module, num_classes: int) -> nn.Linear:
    """Attach a new, trainable linear head with `num_classes` outputs in place of the old head.

    For MobileNetV2 the dropout in front of the old linear layer is kept (classifier = Dropout, Linear).

    Inputs:
    - model: a torchvision network.
    - num_classes: number of classes of the target task.

    Returns:
    - linear: the new nn.Linear (in_features = the backbone's feature dimension), already attached.
    """
    # BEGIN SOLUTION
    head = head_module(model)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError("the head holds no nn.Linear to replace")
    old = linears[-1]
    linear = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    if isinstance(head, nn.Sequential):
        new_head = nn.Sequential(*[m for m in head if not isinstance(m, nn.Linear)], linear)
    else:
        new_head = linear
    set_head(model, new_head)
    return linear
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
def test_q2_count_trainable(count_trainable):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    sizes = [int(v) for v in rng.integers(2, 9, size=4)]
    net = torch.nn.Sequential(*[torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
    frozen = int(rng.integers(len(net)))
    for p in net[frozen].parameters():
        p.requires_grad = False
    # Linear(a, b) holds a * b weights and b biases.
    expected = sum(a * b + b for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])) if i != frozen)
    checks.equal("count_trainable", count_trainable(net), expected)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q2_frozen_mobilenet_trains_only_its_head(freeze_backbone, replace_head, count_trainable):
    import torch
    from torchvision.models import mobilenet_v2

    from cnnkit import checks

    rng = checks.rng()
    num_classes = int(rng.integers(3, 12))
    torch.manual_seed(int(rng.integers(2**31)))
    model = mobilenet_v2(weights=None)
    freeze_backbone(model)
    linear = replace_head(model, num_classes)
    checks.equal("count_trainable after freeze + new head", count_trainable(model), 1280 * num_classes + num_classes)
    checks.equal("scores shape", tuple(model(torch.zeros(2, 3, 32, 32)).shape), (2, num_classes))
    checks.true("the new linear layer is part of the model", any(m is linear for m in model.modules()), "replace_head must attach the layer it returns")
    model.train()
    checks.true("BatchNorm stays in eval mode after model.train()", not any(m.training for m in model.features.modules() if isinstance(m, torch.nn.BatchNorm2d)), "a frozen BatchNorm must stay in eval mode, even after model.train()")


# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_q2_backbone_bit_identical_hidden(freeze_backbone, replace_head):
    import numpy as np
    import torch
    from torchvision.models import mobilenet_v2

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = mobilenet_v2(weights=None)
    freeze_backbone(model)
    linear = replace_head(model, 6)
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    head_before = linear.weight.detach().clone()
    model.train()
    x = torch.from_numpy(rng.normal(size=(4, 3, 40, 40)).astype(np.float32))
    y = torch.from_numpy(rng.integers(6, size=4))
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    after = model.features.state_dict()
    params = [k for k in before if "running" not in k and "num_batches" not in k]
    checks.close("max change of a backbone weight", max(float((before[k] - after[k]).abs().max()) for k in params), 0.0, atol=0.0)
    checks.true("the head learned", not torch.equal(head_before, linear.weight), "short")


# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_q2_bn_running_stats_unchanged_hidden(freeze_backbone, replace_head):
    import numpy as np
    import torch
    from torchvision.models import resnet18

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = resnet18(weights=None)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    freeze_backbone(model)
    replace_head(model, 4)
    model.eval()
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(rng.normal(size=(3, 3, 48, 48)).astype(np.float32)))
    after = model.state_dict()
    checks.close("max change of a BatchNorm statistic", max(float((stats[k].double() - after[k].double()).abs().max()) for k in stats), 0.0, atol=0.0)


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q2_resnet_head_hidden(freeze_backbone, replace_head, count_trainable):
    import torch
    from torchvision.models import resnet18

    from cnnkit import checks

    rng = checks.rng()
    num_classes = int(rng.integers(2, 40))
    torch.manual_seed(int(rng.integers(2**31)))
    model = resnet18(weights=None)
    freeze_backbone(model)
    linear = replace_head(model, num_classes)
    checks.equal("trainable", count_trainable(model), 512 * num_classes + num_classes)
    checks.true("attached", model.fc is linear, "short")
    checks.equal("shape", tuple(model(torch.zeros(1, 3, 32, 32)).shape), (1, num_classes))


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Check it on the real network: freeze, attach a head for the 12 classes of Q4, and take one optimizer
# step with **every** parameter handed to the optimizer. Only the head may change.

# %% tags=["otter_ignore"]
check_model = mobilenet_v2(weights=weights)
freeze_backbone(check_model)
new_head = replace_head(check_model, 12)
print(f"trainable: {count_trainable(check_model):,} of {sum(p.numel() for p in check_model.parameters()):,}")
before = {k: v.clone() for k, v in check_model.features.state_dict().items()}
opt = torch.optim.SGD(check_model.parameters(), lr=0.1)
check_model.train()
loss = nn.functional.cross_entropy(check_model(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 3]))
loss.backward()
opt.step()
changed = [k for k, v in check_model.features.state_dict().items() if not torch.equal(v, before[k])]
print("backbone tensors changed by one step (weights and BN statistics):", changed or "none")

# %% [markdown]
# ## Q3. Fine-tuning
#
# With more data, the lecture says, *retrain more of the network*: unfreeze the top blocks too, with
# "~1/10th of the original learning rate in finetuning top layer, and ~1/100th on intermediate layers".
# Here the new head learns at `base_lr`, the top `top_blocks` backbone blocks at `base_lr / 10` and
# every other trainable block at `base_lr / 100`.
#
# - `unfreeze_top(model, k)`: make the top `k` blocks of `backbone_blocks(model)` trainable again,
#   BatchNorm included (remove the frozen `train` method with `del bn.train` and set its mode to the
#   model's).
# - `param_groups(model, base_lr, top_blocks=2)`: three groups `{"name", "params", "lr"}` named
#   `"head"`, `"top"`, `"rest"` in that order, each listing only **trainable** parameters.
# - `finetune_optimizer(model, base_lr, k, top_blocks=2, momentum=0.9)`: freeze, unfreeze the top `k`,
#   and **then** build `torch.optim.SGD` from the groups. Why the order matters: an optimizer keeps the
#   list of tensors it was given. Built before `unfreeze_top`, it never sees the unfrozen blocks — they
#   get gradients every step and never move, and nothing warns you. Built before freezing, it holds every
#   parameter in the wrong learning-rate group.

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [raw]
# # BEGIN SOLUTION

# %%
def unfreeze_top(model: nn.Module, k: int) -> nn.Module:
    """Make the top `k` backbone blocks trainable again (fine-tuning), BatchNorm included.

    Blocks below stay frozen. The head is not touched.

    Inputs:
    - model: a network, usually frozen with freeze_backbone first.
    - k: number of blocks, counted from the top (0 unfreezes nothing).

    Returns:
    - model: the same model.
    """
    # BEGIN SOLUTION
    blocks = backbone_blocks(model)
    for block in blocks[len(blocks) - k :] if k > 0 else []:
        for p in block.parameters():
            p.requires_grad = True
        for m in block.modules():
            if is_batchnorm(m) and "train" in vars(m):
                del m.train
                m.train(model.training)
    return model
    # END SOLUTION


def param_groups(model: nn.Module, base_lr: float, top_blocks: int = 2) -> list[dict]:
    """Optimizer parameter groups with the lecture's learning-rate ratios 1 : 1/10 : 1/100.

    The new head learns at base_lr, the top `top_blocks` backbone blocks at base_lr / 10 and the rest of
    the backbone at base_lr / 100. Only trainable parameters (requires_grad=True) are listed, so build
    the optimizer after freezing / unfreezing; a group may be empty.

    Inputs:
    - model: a torchvision network.
    - base_lr: learning rate of the head.
    - top_blocks: how many backbone blocks, from the top, form the "top" group.

    Returns:
    - groups: list of 3 dicts with keys 'name' ('head', 'top', 'rest'), 'params' (list of tensors)
      and 'lr', for torch.optim optimizers.
    """
    # BEGIN SOLUTION
    blocks = backbone_blocks(model)
    split = max(len(blocks) - top_blocks, 0)
    top = {id(p) for b in blocks[split:] for p in b.parameters()}
    head = {id(p) for p in head_module(model).parameters()}
    groups = {"head": [], "top": [], "rest": []}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        name = "head" if id(p) in head else "top" if id(p) in top else "rest"
        groups[name].append(p)
    lrs = {"head": base_lr, "top": base_lr / 10, "rest": base_lr / 100}
    return [{"name": n, "params": groups[n], "lr": lrs[n]} for n in ("head", "top", "rest")]
    # END SOLUTION


def finetune_optimizer(model: nn.Module, base_lr: float, k: int, top_blocks: int = 2, momentum=0.9):
    """Set a model up for fine-tuning its top `k` blocks and build the matching SGD optimizer.

    Order matters: freeze, unfreeze the top k blocks, and only then build the optimizer from
    param_groups, so it holds exactly the trainable parameters with the 1 : 1/10 : 1/100 rates.
    (An optimizer built earlier would miss the parameters unfrozen later, which then never move, or
    hold frozen ones, which would then sit in the wrong learning-rate groups.)

    Inputs:
    - model: a torchvision network whose head is already the new head.
    - base_lr: learning rate of the head.
    - k: number of top backbone blocks to fine-tune.
    - top_blocks: blocks in the base_lr / 10 group (the rest of the k get base_lr / 100).
    - momentum: SGD momentum.

    Returns:
    - optimizer: torch.optim.SGD over the trainable parameters, groups named 'head', 'top', 'rest'.
    """
    # BEGIN SOLUTION
    import torch

    freeze_backbone(model)
    unfreeze_top(model, k)
    return torch.optim.SGD(param_groups(model, base_lr, top_blocks), lr=base_lr, momentum=momentum)
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
def test_q3_param_groups_mobilenet(param_groups):
    import torch
    from torchvision.models import mobilenet_v2

    from cnnkit import checks

    rng = checks.rng()
    base_lr = float(rng.uniform(0.01, 1.0))
    model = mobilenet_v2(weights=None)
    groups = param_groups(model, base_lr)
    checks.equal("group names", [g["name"] for g in groups], ["head", "top", "rest"])
    checks.close("learning rates", [g["lr"] for g in groups], [base_lr, base_lr / 10, base_lr / 100], rtol=1e-12)
    # MobileNetV2's sizes (torchvision): classifier 1,281,000; features[17:] 886,080; features[:17] 1,337,792.
    checks.equal("parameters per group", [sum(p.numel() for p in g["params"]) for g in groups], [1281000, 886080, 1337792])


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_unfreeze_top_mobilenet(freeze_backbone, unfreeze_top, count_trainable):
    import torch
    from torchvision.models import mobilenet_v2

    from cnnkit import checks

    rng = checks.rng()
    k = int(rng.integers(1, 5))
    model = mobilenet_v2(weights=None)
    freeze_backbone(model)
    unfreeze_top(model, k)
    # The classifier (1,281,000) plus the top k of MobileNetV2's feature blocks (torchvision's sizes).
    expected = {1: 1693160, 2: 2167080, 3: 2487080, 4: 2807080}[k]
    checks.equal(f"count_trainable after unfreeze_top(model, {k})", count_trainable(model), expected)
    model.train()
    bns = [m for m in model.features[-k:].modules() if isinstance(m, torch.nn.BatchNorm2d)]
    checks.true("unfrozen BatchNorm layers train again", all(m.training for m in bns), "after unfreeze_top and model.train(), the top blocks' BatchNorm layers are in train mode")


# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_q3_param_groups_resnet_hidden(param_groups, freeze_backbone, unfreeze_top):
    import torch
    from torchvision.models import resnet18

    from cnnkit import checks

    rng = checks.rng()
    base_lr = float(rng.uniform(1e-3, 1e-1))
    model = resnet18(weights=None)
    model.fc = torch.nn.Linear(512, 5)
    freeze_backbone(model)
    unfreeze_top(model, 3)
    groups = param_groups(model, base_lr, top_blocks=1)
    checks.close("lrs", [g["lr"] for g in groups], [base_lr, base_lr / 10, base_lr / 100], rtol=1e-12)
    checks.equal("sizes", [sum(p.numel() for p in g["params"]) for g in groups], lambda: [sum(p.numel() for p in m.parameters()) for m in (model.fc, model.layer4, torch.nn.ModuleList([model.layer2, model.layer3]))])
    checks.true("only trainable", all(p.requires_grad for g in groups for p in g["params"]), "short")


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q3_unfreeze_resnet_bn_hidden(freeze_backbone, unfreeze_top):
    import torch
    from torchvision.models import resnet18

    from cnnkit import checks

    rng = checks.rng()
    k = int(rng.integers(1, 3))
    model = resnet18(weights=None)
    freeze_backbone(model)
    unfreeze_top(model, k)
    model.train()
    blocks = [torch.nn.ModuleList([model.conv1, model.bn1]), model.layer1, model.layer2, model.layer3, model.layer4]
    modes = [[m.training for m in b.modules() if isinstance(m, torch.nn.BatchNorm2d)] for b in blocks]
    checks.equal("BatchNorm train flags per block", [all(m) if i >= 5 - k else any(m) for i, m in enumerate(modes)], [i >= 5 - k for i in range(5)])
    checks.equal("trainable tensors per block", [sum(p.requires_grad for p in b.parameters()) for b in blocks], lambda: [len(list(b.parameters())) if i >= 5 - k else 0 for i, b in enumerate(blocks)])


# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
""" # END TEST CONFIG
def test_q3_optimizer_built_after_freezing_hidden(finetune_optimizer):
    import torch
    from torchvision.models import mobilenet_v2

    from cnnkit import checks

    rng = checks.rng()
    k = int(rng.integers(3, 6))
    base_lr = float(rng.uniform(0.01, 0.5))
    model = mobilenet_v2(weights=None)
    model.classifier[-1] = torch.nn.Linear(1280, 7)
    opt = finetune_optimizer(model, base_lr, k)
    in_opt = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    checks.equal("optimizer holds exactly the trainable parameters", sorted(in_opt) == sorted(trainable), True)
    checks.equal("trainable tensors", len(trainable), lambda: len(list(model.classifier.parameters())) + len(list(model.features[-k:].parameters())))
    lr_of = lambda m: sorted({in_opt.get(id(p), -1.0) for p in m.parameters()})
    checks.close("learning rate of head, top 2, lower unfrozen blocks", [lr_of(model.classifier), lr_of(model.features[-2:]), lr_of(model.features[-k:-2])], [[base_lr], [base_lr / 10], [base_lr / 100]], rtol=1e-12)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Q4. Which strategy? Scratch vs linear probe vs fine-tuning
#
# **The target task.** Twelve real photos ship with scikit-image and scikit-learn (an astronaut, a cup
# of coffee, a cat, a rocket, the Hubble deep field, a retina, a stained tissue sample, a Chinese temple,
# a flower, and brick, grass and gravel textures). The task: *which photo does this crop come from?*
# Each crop is a random zoom of a part of the photo with random brightness and contrast. Every photo is
# cut into six vertical bands: **train** crops come from bands 0 and 3, **validation** crops from bands 1
# and 4, and the **test** crops the grader draws from bands 2 and 5 — so no test pixel is ever seen in
# training. (Why not digits or Fashion-MNIST? Measured: ImageNet features do not beat raw pixels on tiny
# grey images; transfer pays off on real photos.)
#
# Three strategies, at 5, 20 and 100 labels per class:
# - **(a) scratch** — a small CNN (`features.scratch_cnn`, ~70k parameters) trained from random weights;
# - **(b) linear probe** — frozen MobileNetV2 features (1280-d) and a linear head (your Q2 functions);
# - **(c) fine-tuning** — the linear probe's head, then the top 3 blocks trained too, with your Q3
#   optimizer. The lower blocks are frozen, so their output is computed once and cached
#   (`features.TopOfNetwork`): same result as running the whole network, much cheaper.
#
# Then save the best head as `transfer_head.pt` (a state_dict and a JSON config, loadable with
# `torch.load(weights_only=True)`), which is graded on held-out crops.

# %% tags=["otter_ignore"]
SIZE = 112
LABELS = (5, 20) if CI else (5, 20, 100)
N_VAL = 15 if CI else 40
SCRATCH_STEPS = 60 if CI else 300
FT_STEPS = 30 if CI else 150
FT_BLOCKS = 3

X_tr, y_tr, class_names = features.photo_task(max(LABELS), "train", seed=SEED, size=SIZE)
X_val, y_val, _ = features.photo_task(N_VAL, "val", seed=SEED, size=SIZE)
num_classes = len(class_names)
target_preprocess = weights.transforms(crop_size=SIZE, resize_size=SIZE)  # the weights' mean/std at SIZE
print(f"{num_classes} classes, train {tuple(X_tr.shape)}, val {tuple(X_val.shape)}")
vis.image_grid(X_tr[:: max(LABELS)][:12], labels=y_tr[:: max(LABELS)][:12], class_names=class_names, ncols=6)
plt.show()

# %% tags=["otter_ignore"]
t0 = time.perf_counter()
model = mobilenet_v2(weights=weights)
freeze_backbone(model)
head = replace_head(model, num_classes)
F_tr = features.extract_features(model, X_tr, target_preprocess)
F_val = features.extract_features(model, X_val, target_preprocess)
top = features.TopOfNetwork(model, FT_BLOCKS)
H_tr = top.lower_features(X_tr, target_preprocess)
H_val = top.lower_features(X_val, target_preprocess)
print(f"features {tuple(F_tr.shape)} and cached block inputs {tuple(H_tr.shape)} in {time.perf_counter() - t0:.1f} s")


def first_n(n):
    """Indices of the first n training crops of every class."""
    return np.concatenate([np.flatnonzero(y_tr == c)[:n] for c in range(num_classes)])


results = {"scratch": [], "linear probe": [], "fine-tune": []}
heads = {}
Xt_tr, Xt_val = torch.from_numpy(X_tr), torch.from_numpy(X_val)
for n in LABELS:
    idx = first_n(n)
    cnnkit.seed_everything(SEED)
    net = features.scratch_cnn(num_classes)
    features.train_steps(net, Xt_tr[idx], y_tr[idx], torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=5e-4), SCRATCH_STEPS)
    results["scratch"].append(features.accuracy(features.predict(net, Xt_val), y_val))

    probe = features.train_linear(F_tr[idx], y_tr[idx], num_classes)
    results["linear probe"].append(features.accuracy(probe(F_val), y_val))
    heads[n] = probe

    # fine-tuning starts from the probe's head (a random head would wreck the top blocks first)
    ft = mobilenet_v2(weights=weights)
    replace_head(ft, num_classes).load_state_dict(probe.state_dict())
    opt = finetune_optimizer(ft, base_lr=1e-2, k=FT_BLOCKS)
    ft_top = features.TopOfNetwork(ft, FT_BLOCKS)
    features.train_steps(ft_top, H_tr[idx], y_tr[idx], opt, FT_STEPS, flip=False)
    results["fine-tune"].append(features.accuracy(features.predict(ft_top, H_val), y_val))
    print(f"{n:3d} labels/class: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in results.items()), flush=True)
print(f"Q4 took {time.perf_counter() - t0:.0f} s")

# %% tags=["otter_ignore"]
fig, ax = plt.subplots(figsize=(5, 3.5))
for name, accs in results.items():
    ax.plot(LABELS, accs, "o-", label=name)
ax.axhline(1 / num_classes, color="grey", ls=":", label="chance")
ax.set(xscale="log", xticks=LABELS, xticklabels=LABELS, xlabel="labels per class", ylabel="val accuracy", ylim=(0, 1))
ax.legend()
plt.show()
for i, n in enumerate(LABELS):
    gap = results["linear probe"][i] - results["scratch"][i]
    print(f"{n:3d} labels/class: pretrained (linear probe) - scratch = {100 * gap:+.1f} points")

# %% [markdown]
# Save the head with the most labels (the grader puts it on the frozen pretrained MobileNetV2 and
# measures it on crops from the test bands).

# %% tags=["otter_ignore"]
best_n = max(LABELS)
save_checkpoint(
    "transfer_head.pt",
    heads[best_n],
    config={"arch": "mobilenet_v2", "weights": "IMAGENET1K_V1", "image_size": SIZE, "classes": class_names},
    labels_per_class=best_n,
    val_acc=results["linear probe"][LABELS.index(best_n)],
)
print("saved transfer_head.pt")

# %% [markdown]
# **Online only (optional).** With internet (Colab), the same code on a standard target: CIFAR-10 with
# 5 / 20 / 100 labels per class. Skipped offline and never graded.

# %% tags=["otter_ignore"]
try:
    from cnnkit import data as cnnkit_data

    cifar_ok = (not CI) and cnnkit_data.available("cifar10")
except Exception as exc:  # the registry says why (offline, not installed)
    print("CIFAR-10 comparison skipped:", exc)
    cifar_ok = False
if cifar_ok:
    cifar_tr = cnnkit_data.load("cifar10", "train")
    cifar_te = cnnkit_data.load("cifar10", "test")
    c_pre = weights.transforms(crop_size=96, resize_size=96)
    sel = np.concatenate([np.flatnonzero(cifar_tr.y == c)[:100] for c in range(10)])
    Fc_tr = features.extract_features(model, cifar_tr.X[sel], c_pre)
    Fc_te = features.extract_features(model, cifar_te.X[:2000], c_pre)
    for n in LABELS:
        idx = np.concatenate([np.flatnonzero(cifar_tr.y[sel] == c)[:n] for c in range(10)])
        acc = features.accuracy(features.train_linear(Fc_tr[idx], cifar_tr.y[sel][idx], 10)(Fc_te), cifar_te.y[:2000])
        print(f"CIFAR-10, {n} labels/class, linear probe: {acc:.3f}")
else:
    print("CIFAR-10 comparison skipped (offline or CI)")

# %% [raw]
# # BEGIN QUESTION
# name: q4

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q4_head_file_and_accuracy_60():
    import torch

    from cnnkit import checks, features

    ckpt = torch.load("transfer_head.pt", map_location="cpu", weights_only=True)
    w = ckpt["state_dict"].get("weight")
    checks.true("head shape", w is not None and tuple(w.shape) == (12, 1280), "transfer_head.pt must hold the state_dict of an nn.Linear(1280, 12) and its config")
    acc = features.head_accuracy("transfer_head.pt", n_per_class=15, seed=int(checks.rng().integers(2**31)))
    checks.true("test accuracy >= 60%", acc >= 0.60, f"test accuracy {acc:.3f} is below 0.60")


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q4_accuracy_70_hidden():
    from cnnkit import checks, features

    acc = features.head_accuracy("transfer_head.pt", n_per_class=15, seed=int(checks.rng().integers(2**31)))
    checks.true("test accuracy >= 70%", acc >= 0.70, "below 0.70")


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q4_accuracy_80_hidden():
    from cnnkit import checks, features

    # 40 crops per photo: the CI-mode solution head (mean 0.87) measured on 15 fell below 0.80 for some
    # draws (std 0.02); on 40 the std is 0.013
    acc = features.head_accuracy("transfer_head.pt", n_per_class=40, seed=int(checks.rng().integers(2**31)))
    checks.true("test accuracy >= 80%", acc >= 0.80, "below 0.80")


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Q5. Looking inside
#
# **Features in 2-D.** The lecture shows AlexNet's features in 2-D with t-SNE (DeCAF): images of one
# class land together. Below: the validation crops' 1280-d features projected on their two principal
# components (PCA), coloured by photo — and, as in Chatfield et al.'s table (4096 → 128 dimensions cost
# little), the linear probe's accuracy when the features are cut to fewer PCA dimensions.

# %% tags=["otter_ignore"]
Z_tr, Z_val = features.pca(F_tr, 2, F_val)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for c in range(num_classes):
    axes[0].scatter(*Z_val[torch.from_numpy(y_val == c)].T, s=10, label=class_names[c])
axes[0].set_title("validation features, first 2 principal components")
axes[0].legend(fontsize=6, ncol=2)
dims = [2, 4, 8, 16, 32, 64, 128]
accs = []
for d in dims:
    P_tr, P_val = features.pca(F_tr, d, F_val)
    accs.append(features.accuracy(features.train_linear(P_tr, y_tr, num_classes)(P_val), y_val))
axes[1].plot(dims, accs, "o-")
axes[1].set(xscale="log", xlabel="PCA dimensions kept", ylabel="val accuracy", title="linear probe vs feature dimension")
plt.show()
print(dict(zip(dims, [round(a, 3) for a in accs])), "| all 1280:", round(results["linear probe"][-1], 3))

# %% [markdown]
# **Saliency and occlusion.** Two ways to ask *which pixels matter* for a class score:
# - `saliency(model, x, target)`: the gradient of the target class's score with respect to the input
#   pixels, absolute value, maximum over the three colour channels (Simonyan et al., 2014). One backward
#   pass. Use `torch.enable_grad()` so it works even when called under `no_grad`.
# - `occlusion(model, x, target, patch=16, stride=8, fill=0.0)`: slide a square of value `fill` over the
#   image (0 is the mean colour after normalisation), and record how much the probability of the target
#   class drops at each position (Zeiler & Fergus, 2014). One forward pass per position (batched).

# %% [raw]
# # BEGIN QUESTION
# name: q5

# %% [raw]
# # BEGIN SOLUTION

# %%
def saliency(model, x, target: int):
    """Input-gradient saliency: |d score_target / d pixel|, max over colour channels (Simonyan 2014).

    Inputs:
    - model: a network in eval mode.
    - x: float tensor (3, H, W), preprocessed.
    - target: class index whose score is differentiated.

    Returns:
    - sal: float tensor (H, W), >= 0.
    """
    # BEGIN SOLUTION
    import torch

    x = x.detach().clone()[None].requires_grad_(True)
    with torch.enable_grad():
        model(x)[0, target].backward()
    return x.grad[0].abs().amax(0)
    # END SOLUTION


def occlusion(model, x, target: int, patch: int = 16, stride: int = 8, fill: float = 0.0):
    """Occlusion map: how much the target class's probability drops when a square patch is hidden.

    Inputs:
    - model: a network in eval mode.
    - x: float tensor (3, H, W), preprocessed (fill=0 is the dataset mean after normalisation).
    - target: class index.
    - patch: side of the grey square; stride: step between patch positions.

    Returns:
    - drop: float tensor (H', W') with H' = (H - patch) // stride + 1: p(target) - p(target | occluded).
    """
    # BEGIN SOLUTION
    import torch

    _, H, W = x.shape
    ys = range(0, H - patch + 1, stride)
    xs = range(0, W - patch + 1, stride)
    batch = []
    for i in ys:
        for j in xs:
            occ = x.clone()
            occ[:, i : i + patch, j : j + patch] = fill
            batch.append(occ)
    with torch.no_grad():
        base = model(x[None]).softmax(1)[0, target]
        probs = torch.cat([model(b).softmax(1)[:, target] for b in torch.stack(batch).split(64)])
    return (base - probs).view(len(ys), len(xs))
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
def test_q5_saliency_small_cnn(saliency):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    target = int(rng.integers(5))
    got = saliency(model, x, target)
    checks.equal("saliency shape", tuple(got.shape), (8, 8))
    checks.true("saliency >= 0", bool((torch.as_tensor(got) >= 0).all()), "saliency is a magnitude: no entry may be negative")

    def central_difference(c, i, j, eps=1e-6):  # d score / d x[c, i, j], numerically
        hi, lo = x.clone(), x.clone()
        hi[c, i, j] += eps
        lo[c, i, j] -= eps
        with torch.no_grad():
            return float(model(hi[None])[0, target] - model(lo[None])[0, target]) / (2 * eps)

    for i, j in [(0, 0), (3, 5), (7, 2), (4, 4)]:
        checks.close(
            f"saliency[{i}, {j}] vs central differences of the target score (|slope|, largest over channels)",
            got[i, j], lambda i=i, j=j: max(abs(central_difference(c, i, j)) for c in range(3)), rtol=1e-5, atol=1e-8,
        )


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q5_saliency_under_no_grad_hidden(saliency):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.Tanh(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(24, 3)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 10, 12)))
    with torch.no_grad():
        got = saliency(model, x, 2)

    def oracle():
        xx = x.clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(model(xx[None])[0, 2], xx)
        return g.abs().amax(0)

    checks.close("saliency", got, oracle, rtol=1e-10)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q5_occlusion_small_cnn(occlusion):
    import math

    import torch

    from cnnkit import checks

    # By hand: the target's score is the sum of channel 0 (the other class scores 0). Channel 0 is 1/4
    # on rows 0-3, columns 0-5 (score 6); a 4x4 patch at stride 2 hides `overlap` of those pixels.
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2, bias=False)).double().eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[0, : 8 * 8] = 1.0
    x = torch.zeros(3, 8, 8, dtype=torch.float64)
    x[0, :4, :6] = 0.25
    got = occlusion(model, x, 0, patch=4, stride=2)
    checks.equal("occlusion map shape", tuple(got.shape), (3, 3))
    overlap = [[16, 16, 8], [8, 8, 4], [0, 0, 0]]

    def sigmoid(t):
        return 1 / (1 + math.exp(-t))

    expected = [[sigmoid(6) - sigmoid(6 - n / 4) for n in row] for row in overlap]
    checks.close("occlusion map, hand-computed case (drop of the target's softmax probability)", got, expected, rtol=1e-9, atol=1e-12)
    # Softmax probabilities sum to 1 with and without the patch, so the drops of all classes sum to 0.
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 6)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    total = sum(torch.as_tensor(occlusion(model, x, t, patch=4, stride=2), dtype=torch.float64) for t in range(6))
    worst = float(total.abs().max())
    checks.true("drops over all classes sum to 0", worst < 1e-9, f"the drops of the 6 classes sum to {worst:.1e} somewhere, not 0")


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q5_occlusion_stride_fill_hidden(occlusion):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(3), torch.nn.Flatten(), torch.nn.Linear(36, 4)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 11, 9)))
    fill = float(rng.normal())
    got = occlusion(model, x, 3, patch=3, stride=3, fill=fill)

    def oracle():
        with torch.no_grad():
            base = model(x[None]).softmax(1)[0, 3]
            out = torch.zeros(3, 3, dtype=torch.float64)
            for i in range(3):
                for j in range(3):
                    occ = x.clone()
                    occ[:, 3 * i : 3 * i + 3, 3 * j : 3 * j + 3] = fill
                    out[i, j] = base - model(occ[None]).softmax(1)[0, 3]
        return out

    checks.close("occlusion", got, oracle, rtol=1e-9, atol=1e-12)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Which pixels made the pretrained network say what it said about the coffee photo?

# %% tags=["otter_ignore"]
coffee = preprocess(torch.from_numpy(features.load_photos(["coffee"])["coffee"]).permute(2, 0, 1))
pretrained.eval()
cls = int(pretrained(coffee[None]).argmax())
sal = saliency(pretrained, coffee, cls)
occ = occlusion(pretrained, coffee, cls, patch=48 if CI else 32, stride=32 if CI else 16)
shown = (coffee - coffee.amin()) / (coffee.amax() - coffee.amin())
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
axes[0].imshow(shown.permute(1, 2, 0))
axes[0].set_title(f"{categories[cls]}")
vis.overlay(shown, sal, ax=axes[1])
axes[1].set_title("saliency |d score / d pixel|")
vis.overlay(shown, torch.nn.functional.interpolate(occ[None, None], size=shown.shape[1:], mode="nearest")[0, 0], ax=axes[2])
axes[2].set_title("occlusion: drop of p(class)")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## What to take away
# - Pretrained features + a linear head beat a CNN trained from scratch at every label count here
#   (measured on a CPU: by 11 points at 5 labels per class, 11 at 20 and 13 at 100). Fine-tuning the top
#   blocks adds most where labels are few (5–20 per class) and nothing once the probe is near 96%.
# - Freezing means *no gradients* **and** *BatchNorm in eval mode*; build the optimizer **after**
#   deciding what trains, with smaller learning rates deeper down.
# - Use the weights' own preprocessing, always.
