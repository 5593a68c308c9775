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
# - to write the pipeline yourself: batched feature extraction in eval mode without gradients, cached on
#   disk; a linear probe trained by your own loop (and compared with scikit-learn's); fine-tuning with
#   per-group learning rates and training-only augmentation;
# - when each strategy wins: training from scratch vs a linear probe vs fine-tuning at 5, 20 and 100
#   labels per class, measured on a real offline task over several seeds;
# - how to look inside: features in 2-D (PCA and t-SNE), a confusion matrix, saliency and occlusion
#   maps, adversarial examples (FGSM and a targeted attack) and class visualization.
#
# **Time.** About 4–5 hours of work. Everything runs on a laptop CPU; the comparisons of Q5 (three
# seeds, fine-tuning runs the whole network) are the slow part there: the whole notebook took 39
# minutes on a 2-core cloud VM that was busy with another job (Q5's two comparisons 18 and 20 of
# them); a GPU such as Colab's runs them faster (not measured here).
# No download is needed: the pretrained MobileNetV2 weights come with the course kit (`cnnkit doctor`
# says whether they are installed).
#
# **How to submit.** Run the whole notebook top to bottom (Q5 saves your best head as
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
from torchvision.transforms import v2

import cnnkit
from cnnkit import data as cnnkit_data
from cnnkit import features, vis
from cnnkit.features import Backbone
from cnnkit.training import save_checkpoint
from cnnkit.transfer import backbone_blocks, head_module, is_batchnorm, set_head, stay_in_eval

SEED = 0
cnnkit.seed_everything(SEED)
CI = cnnkit.ci_mode()  # True in automated runs: fewer crops, shorter training
device = cnnkit.get_device()  # Q5 runs on the CPU: the frozen features are computed once

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

# %%
# EXERCISE cnnkit.transfer.freeze_backbone, count_trainable, replace_head


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


# %% [raw]
# # END QUESTION

# %% [markdown]
# Check it on the real network: freeze, attach a head for the 12 classes of Q5, and take one optimizer
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
# ## Q3. Features and a linear probe you train yourself
#
# A frozen backbone computes the same features for an image every time, so compute them **once** and
# train the head on the stored vectors (the lecture's "last layer is a linear classifier").
#
# - `extract_features(model, X, preprocess, batch_size=64)`: put the model in **eval mode** (BatchNorm
#   then uses its running statistics and dropout is off — in train mode the features of an image would
#   depend on the other images of its batch), run `preprocess` and `Backbone(model)` (imported from
#   `cnnkit.features`: the network without its head, then global average pooling) batch by batch under
#   **`torch.no_grad()`** (no autograd graph: 1,280 features per image need no gradient, and a graph
#   kept for every batch fills the memory), put the model back in the mode it had, and return one
#   float32 CPU tensor (N, D).
# - `cached_features(model, model_name, X, preprocess, cache_dir)`: the same, stored on disk. The file
#   name must change whenever the result could change: with the model (`model_name`), the preprocessing
#   (hash `repr(preprocess)`: a torchvision transform lists its sizes, mean and std) and the images (hash
#   their bytes). A second identical call loads the file and runs no network.
# - `train_linear(feats, y, num_classes, epochs, lr, weight_decay)`: your own loop — a new
#   `nn.Linear(D, C)`, `torch.optim.Adam(..., lr=lr, weight_decay=weight_decay)`, and `epochs` full-batch
#   steps on the cross-entropy.

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %%
# EXERCISE cnnkit.features.extract_features, cached_features, train_linear


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_features_do_not_depend_on_the_batch(extract_features):
    import torch
    from torchvision.models import mobilenet_v2

    from cnnkit import checks

    # In eval mode an image's features do not depend on which images share its batch; in train mode
    # BatchNorm normalises with the batch's statistics and they do.
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = mobilenet_v2(weights=None).train()
    X = torch.from_numpy(rng.random((5, 3, 32, 32), dtype="float32"))
    one_by_one = extract_features(model, X, lambda x: x, batch_size=1)
    all_at_once = extract_features(model, X, lambda x: x, batch_size=5)
    checks.equal("features shape", tuple(all_at_once.shape), (5, 1280))
    checks.close("features with batch_size=1 vs batch_size=5 (eval mode: no batch statistics)", one_by_one, all_at_once.detach(), rtol=1e-4, atol=1e-5)
    checks.true("no gradient history", not all_at_once.requires_grad, "features are computed under torch.no_grad(): they carry no autograd graph")
    checks.true("the model is back in train mode", model.training, "put the model back in the mode it had")


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_cache_runs_the_network_once(cached_features):
    import tempfile

    import torch
    from torchvision.models import mobilenet_v2
    from torchvision.transforms import v2

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = mobilenet_v2(weights=None)
    calls = []
    model.features.register_forward_hook(lambda *a: calls.append(1))
    X = torch.from_numpy(rng.random((3, 3, 32, 32), dtype="float32"))
    # one transform object for both calls: its repr (the cache key's part) must be the same
    prep = v2.Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    with tempfile.TemporaryDirectory() as tmp:
        first = cached_features(model, "tiny", X, prep, tmp)
        ran = len(calls)
        second = cached_features(model, "tiny", X, prep, tmp)
    checks.true("the first call runs the network", ran > 0, "nothing ran the model on a cold cache")
    checks.equal("forward passes of the second, identical call", len(calls) - ran, 0)
    checks.close("cached features", second, first, rtol=0, atol=0)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_probe_separates_clusters(train_linear):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    centers = rng.normal(size=(4, 10)) * 4
    y = rng.integers(4, size=80)
    feats = torch.from_numpy((centers[y] + rng.normal(size=(80, 10)) * 0.3).astype("float32"))
    linear = train_linear(feats, torch.from_numpy(y), 4, epochs=200, lr=1e-2, weight_decay=1e-4)
    checks.equal("weight shape", tuple(linear.weight.shape), (4, 10))
    with torch.no_grad():
        acc = float((linear(feats).argmax(1).numpy() == y).mean())
    checks.at_least("training accuracy on 4 well separated clusters", acc, 1.0)


# %% [raw]
# # END QUESTION

# %% [markdown]
# **The target task.** Twelve real photos ship with scikit-image and scikit-learn (an astronaut, a cup
# of coffee, a cat, a rocket, the Hubble deep field, a retina, a stained tissue sample, a Chinese temple,
# a flower, and brick, grass and gravel textures). The task: *which photo does this crop come from?*
# Each crop is a random zoom of a part of the photo with random brightness and contrast. Every photo is
# cut into six vertical bands: **train** crops come from bands 0 and 3, **validation** crops from bands 1
# and 4, and the **test** crops the grader draws from bands 2 and 5 — so no test pixel is ever seen in
# training. It is a first look: telling photos apart is easier than telling categories apart.
#
# **Choosing the probe's learning rate and weight decay** on the validation split (never on the test
# crops), and the same probe by scikit-learn's `LogisticRegression` (L-BFGS, its `C` chosen the same
# way) on the same cached features.

# %% tags=["otter_ignore"]
SIZE = 112
LABELS = (5, 20) if CI else (5, 20, 100)
SEEDS = (0,) if CI else (0, 1, 2)
N_VAL = 15 if CI else 40
SCRATCH_STEPS = 60 if CI else 300
FT_STEPS = 20 if CI else 100
FT_BLOCKS = 3
CACHE = cnnkit_data.cache_dir() / "features04"
MODEL_NAME = "mobilenet_v2.IMAGENET1K_V1"

target_preprocess = weights.transforms(crop_size=SIZE, resize_size=SIZE)  # the weights' mean/std at SIZE
X_val, y_val, class_names = features.photo_task(N_VAL, "val", seed=SEED, size=SIZE)
num_classes = len(class_names)
model = mobilenet_v2(weights=weights)
freeze_backbone(model)
F_val = cached_features(model, MODEL_NAME, X_val, target_preprocess, CACHE)
print(f"{num_classes} classes, val {tuple(X_val.shape)} -> features {tuple(F_val.shape)}")
vis.image_grid(X_val[::N_VAL][:12], labels=y_val[::N_VAL][:12], class_names=class_names, ncols=6)
plt.show()

# %% tags=["otter_ignore"]
from sklearn.linear_model import LogisticRegression

X_tr, y_tr, _ = features.photo_task(max(LABELS), "train", seed=SEED, size=SIZE)
F_tr = cached_features(model, MODEL_NAME, X_tr, target_preprocess, CACHE)
grid = [(lr, wd) for lr in (1e-3, 1e-2) for wd in ((1e-4, 1e-2) if CI else (1e-4, 1e-3, 1e-2))]
val_acc = {}
for lr, wd in grid:
    cnnkit.seed_everything(SEED)
    probe = train_linear(F_tr, y_tr, num_classes, epochs=200, lr=lr, weight_decay=wd)
    with torch.no_grad():
        val_acc[lr, wd] = features.accuracy(probe(F_val), y_val)
    print(f"lr {lr:g}, weight decay {wd:g}: val accuracy {val_acc[lr, wd]:.3f}")
PROBE_LR, PROBE_WD = max(val_acc, key=val_acc.get)
sk_acc = {}
for C in (0.1, 1.0, 10.0):
    sk = LogisticRegression(C=C, max_iter=500).fit(F_tr.numpy(), y_tr)
    sk_acc[C] = float((sk.predict(F_val.numpy()) == y_val).mean())
best_C = max(sk_acc, key=sk_acc.get)
print(f"chosen on validation: lr {PROBE_LR:g}, weight decay {PROBE_WD:g} -> {val_acc[PROBE_LR, PROBE_WD]:.3f}; "
      f"scikit-learn LogisticRegression (C={best_C:g}) -> {sk_acc[best_C]:.3f}")

# %% [markdown]
# ## Q4. Fine-tuning
#
# With more data, the lecture says, *retrain more of the network*: unfreeze the top blocks too, with
# "~1/10th of the original learning rate in finetuning top layer, and ~1/100th on intermediate layers".
#
# **How the kit reads it.** "The original learning rate" is read as `base_lr`, the rate at which the
# **new head** learns (the rate you would pick to train that head alone), not the rate the network was
# trained with on ImageNet. The new head learns at `base_lr`, the top `top_blocks` backbone blocks at
# `base_lr / 10` and every other trainable block at `base_lr / 100`. Compared with the lecture's text
# this is shifted by one level: the lecture gives 1/10 to the *top layer* being fine-tuned and 1/100
# to the *intermediate layers*; the kit gives the full rate to the new layer (which starts from scratch
# and has no "original" rate), 1/10 to the top pretrained blocks and 1/100 below them.
#
# - `unfreeze_top(model, k)`: make the top `k` blocks of `backbone_blocks(model)` trainable again,
#   BatchNorm included (remove the frozen `train` method with `del bn.train` and set its mode to the
#   model's). BatchNorm layers of the blocks that stay frozen **stay in eval mode**.
# - `param_groups(model, base_lr, top_blocks=2)`: three groups `{"name", "params", "lr"}` named
#   `"head"`, `"top"`, `"rest"` in that order, each listing only **trainable** parameters.
# - `finetune_optimizer(model, base_lr, k, top_blocks=2, momentum=0.9)`: freeze, unfreeze the top `k`,
#   and **then** build `torch.optim.SGD` from the groups. Why the order matters: an optimizer keeps the
#   list of tensors it was given. Built before `unfreeze_top`, it never sees the unfrozen blocks — they
#   get gradients every step and never move, and nothing warns you.
# - `augmentations(size)`: two `torchvision.transforms.v2` transforms of one image: `train_tf`
#   (`RandomResizedCrop(size, scale=(0.5, 1.0))` then `RandomHorizontalFlip()`) and `test_tf`
#   (`Resize((size, size))` only). Augmentation makes new training views; at test time it would only
#   add noise to the answer, so evaluation uses `test_tf`, which is deterministic.
# - `train_steps(model, X, y, optimizer, steps, batch_size=32, augment=None, seed=0)`: your own loop —
#   `model.train()`, then each step a random minibatch (`torch.randint` with a generator seeded by
#   `seed`), `augment` applied to every image of it (if given), cross-entropy, backward, step; return
#   the list of losses and leave the model in eval mode.

# %% [raw]
# # BEGIN QUESTION
# name: q4

# %%
# EXERCISE cnnkit.transfer.unfreeze_top, param_groups, finetune_optimizer


# %%
# EXERCISE cnnkit.features.augmentations, train_steps


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q4_param_groups_mobilenet(param_groups):
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
def test_q4_unfreeze_top_mobilenet(freeze_backbone, unfreeze_top, count_trainable):
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
points: 1
hidden: false
""" # END TEST CONFIG
def test_q4_test_transform_is_deterministic(augmentations):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    size = int(rng.integers(12, 40))
    img = torch.from_numpy(rng.random((3, size, size), dtype="float32"))
    train_tf, test_tf = augmentations(size)
    checks.equal("train_tf(image) shape", tuple(train_tf(img).shape), (3, size, size))
    worst = max(float((test_tf(img) - img).abs().max()) for _ in range(5))
    checks.true("test_tf leaves a size x size image unchanged", worst < 1e-6, f"test_tf changed a {size}x{size} image by up to {worst:.3f}: no random augmentation at test time")


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q4_train_steps_learns(train_steps):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    X = torch.from_numpy(rng.normal(size=(64, 6)).astype("float32"))
    y = (X[:, 0] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(6, 2))
    losses = train_steps(model, X, y, torch.optim.SGD(model.parameters(), lr=0.5), 40, batch_size=16)
    checks.equal("number of losses", len(losses), 40)
    checks.true("the loss went down", sum(losses[-5:]) < sum(losses[:5]), f"mean loss of the first 5 steps {sum(losses[:5]) / 5:.3f}, of the last 5 {sum(losses[-5:]) / 5:.3f}")
    checks.true("the model is left in eval mode", not model.training, "train_steps ends with model.eval()")


# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Q5. Which strategy? Scratch vs linear probe vs fine-tuning
#
# Three strategies, at several label counts per class, each repeated over seeds (the seed draws the
# training crops):
# - **(a) scratch** — a small CNN (`features.scratch_cnn`, ~70k parameters) trained from random weights
#   with your `train_steps` and the training augmentation;
# - **(b) linear probe** — your cached frozen features (1280-d) and your `train_linear`, with the
#   learning rate and weight decay chosen above;
# - **(c) fine-tuning** — the probe's head, then the top 3 blocks trained too with your
#   `finetune_optimizer` and `train_steps`, augmented, the whole network run at every step.
#
# Then save the probe head with the most labels as `transfer_head.pt` (a state_dict and a JSON config,
# loadable with `torch.load(weights_only=True)`), which is graded on held-out crops.

# %% tags=["otter_ignore"]
def three_strategies(X_tr, y_tr, F_tr, X_val, y_val, F_val, n_classes, seed):
    """Validation accuracy of (a) scratch, (b) linear probe, (c) fine-tuning, all trained on the same
    labelled images X_tr (N, 3, SIZE, SIZE) in [0, 1] with their cached features F_tr; and the probe."""
    train_tf, _ = augmentations(SIZE)  # evaluation never augments
    acc = {}
    cnnkit.seed_everything(seed)
    net = features.scratch_cnn(n_classes)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=5e-4)
    train_steps(net, X_tr, y_tr, opt, SCRATCH_STEPS, augment=train_tf, seed=seed)
    acc["scratch"] = features.accuracy(features.predict(net, X_val), y_val)

    cnnkit.seed_everything(seed)
    probe = train_linear(F_tr, y_tr, n_classes, epochs=200, lr=PROBE_LR, weight_decay=PROBE_WD)
    with torch.no_grad():
        acc["linear probe"] = features.accuracy(probe(F_val), y_val)

    # fine-tuning starts from the probe's head (a random head would wreck the top blocks first)
    ft = mobilenet_v2(weights=weights)
    replace_head(ft, n_classes).load_state_dict(probe.state_dict())
    opt = finetune_optimizer(ft, base_lr=1e-2, k=FT_BLOCKS)
    train_steps(ft, target_preprocess(X_tr), y_tr, opt, FT_STEPS, augment=train_tf, seed=seed)
    acc["fine-tune"] = features.accuracy(features.predict(ft, target_preprocess(X_val)), y_val)
    return acc, probe


def plot_strategies(results, n_classes, title):
    """Mean ± std over seeds of each strategy against labels per class; the gaps, printed."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, accs in results.items():
        ax.errorbar(LABELS, accs.mean(0), yerr=accs.std(0), fmt="o-", capsize=3, label=name)
    ax.axhline(1 / n_classes, color="grey", ls=":", label="chance")
    ax.set(xscale="log", xticks=LABELS, xticklabels=LABELS, xlabel="labels per class", ylabel="val accuracy",
           ylim=(0, 1), title=f"{title}: mean ± std over {len(SEEDS)} seed(s)")
    ax.legend()
    plt.show()
    for j, n in enumerate(LABELS):
        gap = results["linear probe"][:, j] - results["scratch"][:, j]
        ft_gap = results["fine-tune"][:, j] - results["linear probe"][:, j]
        print(f"{title}, {n:3d} labels/class: pretrained (linear probe) - scratch = {100 * gap.mean():+.1f} points "
              f"(min {100 * gap.min():+.1f}, max {100 * gap.max():+.1f}); fine-tune - probe = {100 * ft_gap.mean():+.1f} points")


t0 = time.perf_counter()
X_val_t = torch.from_numpy(X_val)
results = {k: np.zeros((len(SEEDS), len(LABELS))) for k in ("scratch", "linear probe", "fine-tune")}
heads = {}
for s, seed in enumerate(SEEDS):
    Xs, ys, _ = features.photo_task(max(LABELS), "train", seed=seed, size=SIZE)
    Fs = cached_features(model, MODEL_NAME, Xs, target_preprocess, CACHE)
    Xs_t = torch.from_numpy(Xs)
    for j, n in enumerate(LABELS):
        idx = np.concatenate([np.flatnonzero(ys == c)[:n] for c in range(num_classes)])
        acc, heads[seed, n] = three_strategies(Xs_t[idx], ys[idx], Fs[idx], X_val_t, y_val, F_val, num_classes, seed)
        for k, v in acc.items():
            results[k][s, j] = v
        print(f"seed {seed}, {n:3d} labels/class: " + ", ".join(f"{k} {v[s, j]:.3f}" for k, v in results.items()), flush=True)
print(f"Q5 took {time.perf_counter() - t0:.0f} s")

# %% tags=["otter_ignore"]
plot_strategies(results, num_classes, "photo crops")

# %% [markdown]
# ### The same comparison on categories: Fashion-MNIST
#
# Telling which photo a crop comes from is *instance* recognition: every class is one object, and
# ImageNet's features separate objects easily. The lecture's recipe is about *categories*: new
# classes, many different-looking members each, few labels. Fashion-MNIST's 10 clothing classes are
# real images of real categories that ImageNet never labelled as such (grey 28x28 product photos),
# and they are on this machine. Below, the same three strategies through the same code: each image
# copied to 3 channels and resized to `SIZE` pixels, the labelled images drawn per class by the seed
# (`cnnkit.data.few_labels`: for one seed the 5-label set lies inside the 20-label set), every
# strategy measured on the same class-balanced validation images. The probe keeps the learning rate
# and weight decay chosen on the photo task (not tuned again for this task: keep that in mind when
# reading the gaps; the kit measured what that costs at full size: the best of the same six settings,
# picked on these validation images, was up to 3 points better at 5 labels per class and under one
# point at 20 and 100).

# %% tags=["otter_ignore"]
def fashion_images(X):
    """Fashion-MNIST images (N, 1, 28, 28) in [0, 1] -> (N, 3, SIZE, SIZE): grey to RGB, resized."""
    x = torch.from_numpy(X).expand(-1, 3, -1, -1)
    return nn.functional.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 1)


t0 = time.perf_counter()
fm_val = cnnkit_data.load("fashion_mnist", "val", n=300 if CI else 2000)
Xf_val = fashion_images(fm_val.X)
Ff_val = cached_features(model, MODEL_NAME, Xf_val, target_preprocess, CACHE)
fm_results = {k: np.zeros((len(SEEDS), len(LABELS))) for k in results}
for s, seed in enumerate(SEEDS):
    for j, n in enumerate(LABELS):
        few = cnnkit_data.few_labels("fashion_mnist", n, seed=seed)
        Xf = fashion_images(few.X)
        Ff = cached_features(model, MODEL_NAME, Xf, target_preprocess, CACHE)
        acc, _ = three_strategies(Xf, few.y, Ff, Xf_val, fm_val.y, Ff_val, len(fm_val.class_names), seed)
        for k, v in acc.items():
            fm_results[k][s, j] = v
        print(f"Fashion-MNIST, seed {seed}, {n:3d} labels/class: " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()), flush=True)
print(f"Fashion-MNIST took {time.perf_counter() - t0:.0f} s")
plot_strategies(fm_results, len(fm_val.class_names), "Fashion-MNIST")

# %% [raw]
# # BEGIN QUESTION
# name: w1
# points: 3
# manual: true

# %% [markdown]
# ### Written question 1 (3 points) — Why frozen BatchNorm layers stay in eval mode
# In Q5 the fine-tuned network trained its top 3 blocks on minibatches of 32 crops while the blocks
# below stayed frozen, their BatchNorm layers kept in eval mode even through `model.train()`. Explain
# what would go wrong if those frozen BatchNorm layers were left to follow `model.train()`, although
# their weights have `requires_grad = False` — both during training and afterwards at test time — and
# why it matters more with few labels per class.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** In train mode a BatchNorm layer normalises with the mean and variance of the
# current minibatch and overwrites its running statistics (a moving average) with them, whatever
# `requires_grad` says: so the "frozen" layers still change. During training the features fed to the
# trained blocks then depend on which crops share a batch and drift away from what ImageNet taught the
# layers above; at test time (eval mode) the network uses running statistics estimated from a few
# small batches of the new task instead of ImageNet's, so the trained top sees inputs distributed
# differently from those it was trained on. With few labels the batches are small and
# unrepresentative (5 crops per class), so the statistics are noisy and the mismatch is largest.
#
# **Rubric (3 points).**
# - 1 point: says that train-mode BatchNorm normalises with batch statistics and updates running mean/variance even with `requires_grad = False`.
# - 1 point: explains the consequence: features of the frozen part change during training and the test-time (running-statistics) network differs from the one the head/top blocks were trained with.
# - 1 point: links it to few labels: small, unrepresentative batches make the estimated statistics noisy (or refers to their own Q5 setting).

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
# ### Written question 2 (3 points) — Linear probe or fine-tuning at few labels?
# Using **your own numbers** from the Q5 plot and the printed gaps: at the smallest label count, how
# do scratch, linear probe and fine-tuning compare, and how large is the spread over seeds (or why can
# you not tell with one seed)? Does fine-tuning pay off over the probe at few labels, and what does it
# cost? When would you choose fine-tuning?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** (Numbers vary by run.) At 5 labels per class the pretrained features beat the
# scratch CNN by a wide margin (tens of points here): the scratch CNN must learn its features from 60
# crops. Fine-tuning starts from the probe's head and moves its top blocks slowly (1/10 and 1/100 of the
# head's rate), so it adds at most a few points over the probe and can lose some; the difference is of
# the order of the seed-to-seed spread, so one seed cannot tell them apart. Fine-tuning costs a full
# forward pass per step (the features cannot be cached) and risks overfitting the few labels; it is
# worth it with more labels per class or a target unlike ImageNet's photos.
#
# **Rubric (3 points).**
# - 1 point: quotes their own scratch / probe / fine-tune accuracies (or gaps) at the smallest label count.
# - 1 point: compares the fine-tune - probe difference with the spread over seeds (or notes that one seed cannot measure it).
# - 1 point: names a cost or risk of fine-tuning (compute per step, no feature cache, overfitting few labels) and when it pays (more labels, a target far from ImageNet).

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# Save the head with the most labels (the grader puts it on the frozen pretrained MobileNetV2 and
# measures it on crops from the test bands).

# %% tags=["otter_ignore"]
best_n = max(LABELS)
save_checkpoint(
    "transfer_head.pt",
    heads[SEEDS[0], best_n],
    config={"arch": "mobilenet_v2", "weights": "IMAGENET1K_V1", "image_size": SIZE, "classes": class_names},
    labels_per_class=best_n,
    val_acc=float(results["linear probe"][0, LABELS.index(best_n)]),
)
print("saved transfer_head.pt")

# %% [raw]
# # BEGIN QUESTION
# name: q5

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Q6. Looking inside
#
# **Features in 2-D.** The lecture shows AlexNet's features in 2-D with t-SNE (DeCAF): images of one
# class land together. Below: the validation crops' 1280-d features projected on their two principal
# components (PCA, linear) and embedded by t-SNE (scikit-learn, non-linear: it keeps neighbours close
# and says little about distances between clusters), coloured by photo; then, as in Chatfield et al.'s
# table (4096 → 128 dimensions cost little), the probe's accuracy on fewer PCA dimensions; and the
# confusion matrix of the transferred head on the validation crops.

# %% tags=["otter_ignore"]
from sklearn.manifold import TSNE

Z_pca = features.pca(F_val, 2)[0]
Z_tsne = TSNE(n_components=2, perplexity=min(30, len(F_val) // 4), init="pca", random_state=SEED).fit_transform(F_val.numpy())
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, Z, title in ((axes[0], Z_pca.numpy(), "PCA"), (axes[1], Z_tsne, "t-SNE")):
    for c in range(num_classes):
        ax.scatter(*Z[y_val == c].T, s=10, label=class_names[c])
    ax.set_title(f"validation features, {title}")
axes[0].legend(fontsize=6, ncol=2)
plt.show()

# %% tags=["otter_ignore"]
head = heads[SEEDS[0], best_n]
dims = [2, 4, 8, 16, 32, 64]
accs = []
for d in dims:
    P_tr, P_val = features.pca(F_tr, d, F_val)
    probe_d = train_linear(P_tr, y_tr, num_classes, epochs=200, lr=PROBE_LR, weight_decay=PROBE_WD)
    with torch.no_grad():
        accs.append(features.accuracy(probe_d(P_val), y_val))
with torch.no_grad():
    pred = head(F_val).argmax(1).numpy()
confusion = np.zeros((num_classes, num_classes), int)
np.add.at(confusion, (y_val, pred), 1)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
axes[0].plot(dims, accs, "o-")
axes[0].set(xscale="log", xlabel="PCA dimensions kept", ylabel="val accuracy", title="linear probe vs feature dimension")
axes[1].imshow(confusion, cmap="Blues")
axes[1].set(xticks=range(num_classes), yticks=range(num_classes), xlabel="predicted", ylabel="true", title="confusion matrix (val)")
axes[1].set_xticklabels(class_names, rotation=90, fontsize=7)
axes[1].set_yticklabels(class_names, fontsize=7)
plt.show()
print(dict(zip(dims, [round(a, 3) for a in accs])), "| all 1280:", round(float(results["linear probe"][0, -1]), 3))
worst = max(((i, j) for i in range(num_classes) for j in range(num_classes) if i != j), key=lambda ij: confusion[ij])
print(f"most frequent confusion: {class_names[worst[0]]} taken for {class_names[worst[1]]} ({confusion[worst]} of {N_VAL} crops)")

# %% [markdown]
# **Saliency and occlusion.** Two ways to ask *which pixels matter* for a class score:
# - `saliency(model, x, target)`: the gradient of the target class's score with respect to the input
#   pixels, absolute value, maximum over the three colour channels (Simonyan et al., 2014). One backward
#   pass. Use `torch.enable_grad()` so it works even when called under `no_grad`.
# - `occlusion(model, x, target, patch=16, stride=8, fill=0.0)`: slide a square of value `fill` over the
#   image (0 is the mean colour after normalisation), and record how much the probability of the target
#   class drops at each position (Zeiler & Fergus, 2014). One forward pass per position (batched).
#
# **Adversarial examples and class visualization.** The same input gradient, used to *change* the image:
# - `fgsm(model, x, label, eps)`: one step of size `eps` along the **sign** of the gradient of the
#   loss of the true label (the loss goes *up*), then clip to the valid pixel range [0, 1]
#   (Goodfellow et al., 2015). The model takes pixels in [0, 1] (its first layer normalises).
# - `targeted_attack(model, x, target, eps, step, steps)`: `steps` steps of size `step` along minus the
#   sign of the gradient of the loss of the **chosen** class (its loss goes *down*), each followed by a
#   projection back into the box |x_adv - x| ≤ eps and into [0, 1].
# - `class_visualization(model, target, shape, steps, lr, l2)`: start from zeros and climb the target's
#   raw score minus `l2 * sum(img ** 2)` by plain gradient ascent (Simonyan et al., 2014).
#
# All of them put the model in **eval mode** first: in train mode BatchNorm and dropout would change the
# function whose gradient you follow.

# %% [raw]
# # BEGIN QUESTION
# name: q6

# %%
# EXERCISE cnnkit.features.saliency, occlusion, fgsm, targeted_attack, class_visualization


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q6_saliency_small_cnn(saliency):
    import torch

    from cnnkit import checks

    # A known case: a linear model's target score has the same slope everywhere, its weights. Channel
    # 0 is (4 i + j) / 10 - 0.8, channel 1 is -0.3, channel 2 is (j - i) / 10; the saliency below was
    # computed once from them, and does not depend on x.
    i, j = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2, bias=False)).double().eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[1] = torch.stack([(4 * i + j) / 10 - 0.8, torch.full((4, 4), -0.3), (j - i) / 10]).flatten()
    want = [[0.8, 0.7, 0.6, 0.5], [0.4, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.3], [0.4, 0.5, 0.6, 0.7]]
    rng = checks.rng()
    for k in range(2):
        got = saliency(model, torch.from_numpy(rng.normal(size=(3, 4, 4))), 1)
        checks.equal("saliency shape", tuple(got.shape), (4, 4))
        checks.close(f"saliency of a linear model, input {k + 1} of 2", got, want, rtol=1e-6, atol=1e-9)
    # A small CNN: scaling its last layer by 2 scales every score's slope, so the saliency, by 2.
    torch.manual_seed(int(rng.integers(2**31)))
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    target = int(rng.integers(5))
    once = torch.as_tensor(saliency(cnn, x, target), dtype=torch.float64)
    checks.true("saliency >= 0", bool((once >= 0).all()), "saliency is a magnitude: no entry may be negative")
    with torch.no_grad():
        cnn[3].weight.mul_(2.0)
        cnn[3].bias.mul_(2.0)
    checks.close("saliency after doubling the last layer, over the saliency before", torch.as_tensor(saliency(cnn, x, target), dtype=torch.float64), 2 * once, rtol=1e-6, atol=1e-9)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q6_occlusion_small_cnn(occlusion):
    import torch

    from cnnkit import checks

    # A known case: the target's score is the sum of channel 0 (the other class scores 0); channel 0 is
    # 1/4 on rows 0-3, columns 0-5, and 4x4 patches at stride 2 hide parts of it.
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2, bias=False)).double().eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[0, : 8 * 8] = 1.0
    x = torch.zeros(3, 8, 8, dtype=torch.float64)
    x[0, :4, :6] = 0.25
    got = occlusion(model, x, 0, patch=4, stride=2)
    checks.equal("occlusion map shape", tuple(got.shape), (3, 3))
    # The drops in the target's probability, computed once by hand for this case.
    expected = [[0.11673029886548303, 0.11673029886548303, 0.015513586805456892], [0.015513586805456892, 0.015513586805456892, 0.0042202277676500755], [0.0, 0.0, 0.0]]
    checks.close("occlusion map of a known case (drop of the target's softmax probability)", got, expected, rtol=1e-9, atol=1e-12)
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
points: 1
hidden: false
""" # END TEST CONFIG
def test_q6_fgsm_on_a_linear_model(fgsm):
    import torch

    from cnnkit import checks

    # A linear model's loss gradient has a sign we know by hand: the loss of class 0 rises when the
    # pixels weighted up for class 1 grow and the ones weighted up for class 0 shrink.
    rng = checks.rng()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2, bias=False)).double()
    w = torch.from_numpy(rng.choice([-1.0, 1.0], size=12))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([w, -w]))
    x = torch.from_numpy(rng.uniform(0.3, 0.7, size=(1, 3, 2, 2)))
    eps = float(rng.uniform(0.01, 0.1))
    got = fgsm(model, x, torch.tensor([0]), eps)
    checks.close("fgsm(x) - x on a linear model (eps times minus the class-0 weights' sign)", (got - x).flatten(), -eps * w, rtol=1e-9, atol=1e-12)
    edge = torch.full((1, 3, 2, 2), 0.99, dtype=torch.float64)
    out = fgsm(model, edge, torch.tensor([1]), 0.5)
    checks.true("pixels stay in [0, 1]", bool((out >= 0).all() and (out <= 1).all()), f"fgsm returned pixels from {float(out.min()):.2f} to {float(out.max()):.2f}: clip to the valid range")


# %% [raw]
# # END QUESTION

# %% [markdown]
# Which pixels made the pretrained network say what it said about the coffee photo? Then: FGSM on the
# same photo, and an iterative targeted attack that flips the confident prediction to a class we choose,
# with the size of the perturbation it needed (in grey levels out of 255).

# %% tags=["otter_ignore"]
coffee = preprocess(torch.from_numpy(features.load_photos(["coffee"])["coffee"]).permute(2, 0, 1))
pretrained.eval()
with torch.no_grad():
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

# %% [raw]
# # BEGIN QUESTION
# name: w3
# points: 3
# manual: true

# %% [markdown]
# ### Written question 3 (3 points) — What a saliency map shows, and what it does not
# Look at the saliency and occlusion maps of the coffee photo above. What does the saliency map
# show, exactly (which quantity, at which image)? Name two things it does **not** tell you, and say
# how the occlusion map or the adversarial examples of this notebook illustrate one of them.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** The saliency map is |d score / d pixel| at this one image, the largest over
# colour channels: how much a tiny change of each pixel would change the class score, a local,
# first-order sensitivity. It does not say that the bright pixels are *why* the network chose the
# class (a large gradient is not a large contribution, and it says nothing about changes larger than
# infinitesimal ones: occlusion, which removes whole patches, can disagree with it); it does not show
# which feature or concept was used (texture or shape), and it is noisy and not class-discriminative
# on its own. The targeted attack shows how misleading local gradients are: changes of a few grey
# levels along them flip the class.
#
# **Rubric (3 points).**
# - 1 point: states the quantity: the magnitude of the gradient of the class score with respect to the input pixels, at this image (local, first order).
# - 1 point: names two limits (not a causal explanation / contribution; only infinitesimal changes; not which concept; noisy, not class-discriminative).
# - 1 point: links one limit to occlusion (large removals can disagree) or to the adversarial examples (tiny changes along the gradient flip the class).

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% tags=["otter_ignore"]
# the network on pixels in [0, 1]: normalisation becomes its first layer, so clipping to [0, 1] is the
# valid pixel range
on_pixels = nn.Sequential(v2.Normalize(mean=target_preprocess.mean, std=target_preprocess.std), pretrained).eval()
photo = torch.from_numpy(features.load_photos(["coffee"])["coffee"]).permute(2, 0, 1)
x0 = (torch.nn.functional.interpolate(photo[None].float() / 255, size=(SIZE * 2, SIZE * 2), mode="bilinear", antialias=True)).clamp(0, 1)


def top1(x):
    with torch.no_grad():
        p = on_pixels(x).softmax(1)[0]
    return categories[int(p.argmax())], float(p.max())


label0 = torch.tensor([int(on_pixels(x0).argmax())])
x_fgsm = fgsm(on_pixels, x0, label0, 2 / 255)
chosen = categories.index("goldfish")
x_adv = targeted_attack(on_pixels, x0, torch.tensor([chosen]), eps=4 / 255, step=1 / 255, steps=10 if CI else 30)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
for ax, img, title in ((axes[0], x0, "original"), (axes[1], x_fgsm, "FGSM, eps 2/255"), (axes[2], x_adv, "targeted attack")):
    name, p = top1(img)
    ax.imshow(img[0].permute(1, 2, 0))
    ax.set_title(f"{title}\n{name} {p:.2f}", fontsize=9)
delta = (x_adv - x0)[0]
axes[3].imshow((0.5 + delta * 255 / 8).clamp(0, 1).permute(1, 2, 0))
axes[3].set_title("perturbation, x32 (grey: 0)", fontsize=9)
for ax in axes:
    ax.set_axis_off()
plt.show()
print(f"original: {top1(x0)[0]} ({top1(x0)[1]:.2f}); FGSM: {top1(x_fgsm)[0]} ({top1(x_fgsm)[1]:.2f}); "
      f"targeted attack: {top1(x_adv)[0]} ({top1(x_adv)[1]:.2f})")
print(f"perturbation of the targeted attack: largest pixel change {255 * float(delta.abs().max()):.1f}/255, "
      f"L2 norm {float(delta.norm()):.3f} (the image's own L2 norm: {float(x0.norm()):.1f})")

# %% [markdown]
# **Class visualization.** An image that the transferred model finds very "coffee"-like and one that
# it finds "brick"-like: gradient ascent on the input of the whole network (frozen backbone + your
# head), from a grey start, with an L2 penalty.

# %% tags=["otter_ignore"]
transferred = mobilenet_v2(weights=weights)
set_head(transferred, nn.Sequential(nn.Dropout(0.2), heads[SEEDS[0], best_n]))
fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
for ax, name in zip(axes, ("coffee", "brick")):
    img = class_visualization(transferred, class_names.index(name), (3, SIZE, SIZE), steps=20 if CI else 100, lr=1.0, l2=1e-2)
    ax.imshow(((img - img.min()) / (img.max() - img.min())).permute(1, 2, 0))
    ax.set_title(f"class '{name}'")
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## What to take away
# The numbers behind each point are printed above (Q5 and Q6), computed in this run.
# - Pretrained features + a linear head against a CNN trained from scratch, and what fine-tuning the
#   top blocks adds: see the per-label-count gaps printed after the Q5 plots, for instances (photo
#   crops) and for categories (Fashion-MNIST); compare the two.
# - Freezing means *no gradients* **and** *BatchNorm in eval mode*; build the optimizer **after**
#   deciding what trains, with smaller learning rates deeper down.
# - Use the weights' own preprocessing, always; augment only for training.

# %% tags=["otter_ignore"]
for task, res in (("photo crops", results), ("Fashion-MNIST", fm_results)):
    for j, n in enumerate(LABELS):
        r = {k: v[:, j].mean() for k, v in res.items()}
        print(f"{task}, {n:3d} labels/class (mean of {len(SEEDS)} seed(s)): scratch {r['scratch']:.3f}, "
              f"probe {r['linear probe']:.3f}, fine-tune {r['fine-tune']:.3f}")
