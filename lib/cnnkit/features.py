"""Transfer-learning helpers for notebook 04: the offline target task, feature extraction with a frozen
backbone, linear probes, fine-tuning, and the "looking inside" tools (PCA, saliency, occlusion,
adversarial examples, class visualization). The pipeline and the tools in exercise regions are
what students write in the notebook.

The target task ("which photo does this crop come from?") is built from real photos that ship with
scikit-image and scikit-learn, so it works offline. Each photo is cut into vertical bands; the train,
val and test crops come from disjoint, interleaved bands, so no pixel of a test crop was ever seen in
training, and every split covers the whole photo. Each crop is a random zoom with random brightness and
contrast. Measured (CI size, 12 classes): a linear probe on frozen ImageNet MobileNetV2 features beats a
small CNN trained from scratch by about 20 points at 5 and 20 labels per class; on digits or
Fashion-MNIST ImageNet features do not beat raw pixels, which is why the task uses real photos.
"""

from __future__ import annotations

import numpy as np

# Photos of the target task: name -> (loader module, function). All RGB or grey, all real images.
PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "retina",
    "immunohistochemistry",
    "china",
    "flower",
    "brick",
    "grass",
    "gravel",
)
SPLIT_BANDS = {"train": (0, 3), "val": (1, 4), "test": (2, 5)}
N_BANDS = 6
# Crops with less contrast than this (uniform sky, black borders) say nothing about their photo.
_MIN_STD = 0.04


def load_photos(names=PHOTOS) -> dict:
    """Read the target task's photos through the dataset registry (offline: they ship in wheels).

    Inputs:
    - names: photo names (see PHOTOS).

    Returns:
    - photos: dict name -> uint8 array of shape (H, W, 3).
    """
    from cnnkit import data

    return data.photos(names)


def _resize(crop: np.ndarray, size: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255.0
    t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return t[0].clamp_(0, 1).numpy()


def photo_crops(
    photo: np.ndarray,
    n: int,
    split: str,
    rng: np.random.Generator,
    size: int = 112,
    zoom: tuple = (0.3, 1.0),
    jitter: float = 0.4,
):
    """Random square crops of one photo, taken only from the bands that belong to `split`.

    Inputs:
    - photo: uint8 array (H, W, 3).
    - n: number of crops.
    - split: 'train', 'val' or 'test'.
    - rng: numpy Generator.
    - size: side of the returned crops (each crop is resized to size x size).
    - zoom: range of the crop side as a fraction of the band width (a random zoom per crop).
    - jitter: brightness and contrast are scaled by factors drawn from [1 - jitter, 1 + jitter].

    Returns:
    - X: float32 array (n, 3, size, size) in [0, 1].
    """
    H, W = photo.shape[:2]
    band = W // N_BANDS
    band_side = min(band, H)
    out = np.empty((n, 3, size, size), np.float32)
    k = tries = 0
    while k < n:
        side = int(band_side * rng.uniform(*zoom))
        b = SPLIT_BANDS[split][rng.integers(len(SPLIT_BANDS[split]))]
        x0 = b * band + rng.integers(band - side + 1)
        y0 = rng.integers(H - side + 1)
        crop = photo[y0 : y0 + side, x0 : x0 + side]
        tries += 1
        if crop.std() / 255.0 < _MIN_STD and tries < 50 * n:
            continue
        img = _resize(crop, size)
        mean = img.mean()
        contrast, bright = rng.uniform(1 - jitter, 1 + jitter, size=2)
        out[k] = np.clip((img - mean) * contrast + mean * bright, 0, 1)
        k += 1
    return out


def photo_task(
    n_per_class: int,
    split: str,
    seed: int = 0,
    size: int = 112,
    names=PHOTOS,
    gray: bool = False,
    **crop_kw,
):
    """The offline target task: classify which photo a crop comes from (len(names) classes).

    Inputs:
    - n_per_class: crops per photo.
    - split: 'train', 'val' or 'test' (disjoint bands of every photo).
    - seed: seed of the crop positions; a grader draws held-out crops with its own seed.
    - size: crop side in pixels.
    - names: photo names, one class each.
    - gray: convert every crop to grey (kept as 3 equal channels), so a photo's colour alone cannot
      name it and a model has to recognise texture and shape.

    Returns:
    - X: float32 (N, 3, size, size) in [0, 1], N = n_per_class * len(names), class-balanced.
    - y: int64 (N,).
    - class_names: list of the photo names.
    """
    if split not in SPLIT_BANDS:
        raise ValueError(f"split must be one of {sorted(SPLIT_BANDS)}, got {split!r}")
    photos = load_photos(names)
    # One stream per (seed, split): changing n_per_class of one split never moves the other splits.
    rng = np.random.default_rng([seed, list(SPLIT_BANDS).index(split)])
    X = np.concatenate(
        [photo_crops(photos[n], n_per_class, split, rng, size, **crop_kw) for n in names]
    )
    if gray:
        lum = np.tensordot(np.array([0.299, 0.587, 0.114], np.float32), X, axes=([0], [1]))
        X = np.repeat(lum[:, None], 3, axis=1).astype(np.float32)
    y = np.repeat(np.arange(len(names)), n_per_class).astype(np.int64)
    return X, y, list(names)


# ----------------------------------------------------------------------------------------------------
# Frozen features


class Backbone:
    """Callable view of a torchvision network without its head: images -> pooled feature vectors.

    MobileNetV2: `features` then global average pooling (1280-d). ResNet: everything before `fc`
    (512-d for ResNet-18). Shares the model's modules (no copy).

    Inputs (call):
    - x: float tensor (N, 3, H, W), already preprocessed.

    Returns (call):
    - feats: float tensor (N, D).
    """

    def __init__(self, model):
        self.model = model

    def __call__(self, x):
        import torch.nn.functional as F

        m = self.model
        if hasattr(m, "features"):
            return F.adaptive_avg_pool2d(m.features(x), 1).flatten(1)
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
        return m.avgpool(x).flatten(1)


def accuracy(logits, y) -> float:
    """Fraction of rows whose argmax equals the label.

    Inputs:
    - logits: tensor or array (N, C).
    - y: int tensor or array (N,).

    Returns:
    - acc: float in [0, 1].
    """
    import torch

    pred = torch.as_tensor(logits).argmax(1)
    return float((pred == torch.as_tensor(y).long()).float().mean())


def pca(train_feats, dim: int, *others):
    """Project features on the top `dim` principal directions of `train_feats` (centred on its mean).

    Inputs:
    - train_feats: float tensor (N, D) that defines the mean and directions.
    - dim: number of components (<= min(N, D)).
    - others: more (M, D) tensors projected with the same mean and directions.

    Returns:
    - projections: a tuple of (N, dim), (M, dim), ... tensors.
    """
    import torch

    mean = train_feats.mean(0, keepdim=True)
    # Full SVD of the centred data: deterministic, unlike randomised low-rank PCA.
    _, _, vh = torch.linalg.svd(train_feats - mean, full_matrices=False)
    basis = vh[:dim].T
    return tuple((f - mean) @ basis for f in (train_feats, *others))


# ----------------------------------------------------------------------------------------------------
# The transfer pipeline students write (question 3: features and a probe; question 4: fine-tuning)


# BEGIN EXERCISE 04_transfer_learning
def extract_features(model, X, preprocess, batch_size: int = 64):
    """Pooled backbone features of a batch of images: eval mode, no gradients, in batches.

    The model is put in eval mode (BatchNorm uses its running statistics, dropout is off) and put back
    in the mode it had; no autograd graph is built; the images go through `preprocess` and
    `Backbone(model)` `batch_size` at a time.

    Inputs:
    - model: a torchvision network (its head is ignored).
    - X: float array or tensor (N, 3, H, W) in [0, 1].
    - preprocess: the weights' transform (e.g. `weights.transforms()`), applied per batch.
    - batch_size: images per forward pass.

    Returns:
    - feats: float32 tensor (N, D) on the CPU, with requires_grad False.
    """
    # BEGIN SOLUTION
    import torch

    was_training = model.training
    model.eval()
    body = Backbone(model)
    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            x = torch.as_tensor(X[i : i + batch_size]).float()
            out.append(body(preprocess(x)).float().cpu())
    model.train(was_training)
    return torch.cat(out)
    # END SOLUTION


def cached_features(model, model_name: str, X, preprocess, cache_dir, batch_size: int = 64):
    """`extract_features` with an on-disk cache keyed by the model, the preprocessing and the images.

    The cache file's name holds `model_name`, a hash of `repr(preprocess)` (a torchvision transform's
    repr lists its sizes, mean and std) and a hash of the image bytes: the same call a second time
    loads the file instead of running the network; another model, another preprocessing or other
    images never reuse it.

    Inputs:
    - model, X, preprocess, batch_size: as for extract_features.
    - model_name: a name of the model and its weights (e.g. 'mobilenet_v2.IMAGENET1K_V1').
    - cache_dir: folder of the cache files (created if missing).

    Returns:
    - feats: float32 tensor (N, D), as extract_features returns.
    """
    # BEGIN SOLUTION
    import hashlib
    from pathlib import Path

    import torch

    images = np.ascontiguousarray(torch.as_tensor(X).float().numpy())
    digest = hashlib.sha256(repr(preprocess).encode() + images.tobytes()).hexdigest()[:20]
    path = Path(cache_dir) / f"{model_name}-{digest}.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    feats = extract_features(model, X, preprocess, batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(feats, path)
    return feats
    # END SOLUTION


def train_linear(
    feats, y, num_classes: int, epochs: int = 300, lr: float = 1e-2, weight_decay=1e-3
):
    """A linear probe: softmax regression on fixed features, trained full batch with Adam.

    Inputs:
    - feats: float tensor (N, D) of features (no gradient flows into them).
    - y: int array or tensor (N,).
    - num_classes: C.
    - epochs: full-batch steps.
    - lr, weight_decay: Adam's settings (weight_decay: the L2 penalty Adam adds to the gradient).

    Returns:
    - linear: the trained nn.Linear(D, C).
    """
    # BEGIN SOLUTION
    import torch
    import torch.nn.functional as F

    linear = torch.nn.Linear(feats.shape[1], num_classes)
    opt = torch.optim.Adam(linear.parameters(), lr=lr, weight_decay=weight_decay)
    y = torch.as_tensor(y).long()
    for _ in range(epochs):
        opt.zero_grad()
        F.cross_entropy(linear(feats), y).backward()
        opt.step()
    return linear
    # END SOLUTION


def augmentations(size: int, scale=(0.5, 1.0)):
    """The fine-tuning transforms: random for training, deterministic for evaluation.

    Both work on one image tensor (3, H, W) through `torchvision.transforms.v2`.

    Inputs:
    - size: side of the output images.
    - scale: area range of RandomResizedCrop.

    Returns:
    - train_tf: RandomResizedCrop(size, scale) then RandomHorizontalFlip: a new view every call.
    - test_tf: Resize((size, size)) only: the same image every call (an image already size x size
      comes back unchanged).
    """
    # BEGIN SOLUTION
    from torchvision.transforms import v2

    train_tf = v2.Compose(
        [v2.RandomResizedCrop(size, scale=scale, antialias=True), v2.RandomHorizontalFlip()]
    )
    test_tf = v2.Resize((size, size), antialias=True)
    return train_tf, test_tf
    # END SOLUTION


def train_steps(
    model, X, y, optimizer, steps: int, batch_size: int = 32, augment=None, seed: int = 0
):
    """Minibatch training for a fixed number of steps: your own loop.

    The model is in train mode while it trains (a frozen BatchNorm keeps itself in eval mode) and in
    eval mode when this returns. Each step draws a random minibatch, passes every image of it through
    `augment` (training only: evaluation never sees it), and takes one optimizer step on the mean
    cross-entropy.

    Inputs:
    - model: nn.Module mapping (B, ...) inputs to (B, C) scores.
    - X: float tensor (N, ...); y: int tensor or array (N,).
    - optimizer: a torch optimizer over the parameters to train.
    - steps: number of updates.
    - batch_size: examples per step (at most N).
    - augment: None, or a function of one example (e.g. train_tf of `augmentations`).
    - seed: seed of the minibatch draws.

    Returns:
    - losses: list of `steps` floats, the loss of every step.
    """
    # BEGIN SOLUTION
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(y).long()
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(X), (min(batch_size, len(X)),), generator=gen)
        xb = X[idx]
        if augment is not None:
            xb = torch.stack([augment(x) for x in xb])
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), y[idx])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses
    # END SOLUTION


# END EXERCISE


# ----------------------------------------------------------------------------------------------------
# Looking inside


# BEGIN EXERCISE 04_transfer_learning
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


def fgsm(model, x, label, eps: float):
    """Fast gradient sign method (Goodfellow et al., 2015): one step that increases the loss.

    x_adv = clip(x + eps * sign(d loss / d x), 0, 1), the loss being the cross-entropy of the true
    labels, the model in eval mode. Pixels live in [0, 1] (put the normalisation inside the model).

    Inputs:
    - model: a network taking (N, 3, H, W) images in [0, 1].
    - x: float tensor (N, 3, H, W) in [0, 1].
    - label: int tensor (N,) of the true classes.
    - eps: the step, the largest change of any pixel.

    Returns:
    - x_adv: float tensor like x, in [0, 1], without gradient history.
    """
    # BEGIN SOLUTION
    import torch
    import torch.nn.functional as F

    model.eval()
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x), label), x)
    return (x + eps * grad.sign()).clamp(0, 1).detach()
    # END SOLUTION


def targeted_attack(model, x, target, eps: float, step: float, steps: int):
    """An iterative targeted attack: small signed-gradient steps that make the model say `target`.

    Each of `steps` steps moves x_adv by `step * sign(gradient)` so as to *decrease* the cross-entropy
    of the target class, then projects it back into the box |x_adv - x| <= eps (every pixel) and into
    [0, 1]. Model in eval mode; no early stop.

    Inputs:
    - model: a network taking (N, 3, H, W) images in [0, 1].
    - x: float tensor (N, 3, H, W) in [0, 1].
    - target: int tensor (N,) of the classes wanted.
    - eps: the largest change of any pixel; step: the change of one step; steps: number of steps.

    Returns:
    - x_adv: float tensor like x, in [0, 1] and within eps of x, without gradient history.
    """
    # BEGIN SOLUTION
    import torch
    import torch.nn.functional as F

    model.eval()
    x = x.detach()
    x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), target), x_adv)
        x_adv = x_adv.detach() - step * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    return x_adv
    # END SOLUTION


def class_visualization(
    model, target: int, shape, steps: int = 100, lr: float = 1.0, l2: float = 1e-3
):
    """An image the model finds very `target`-like: gradient ascent on the input (Simonyan et al.).

    Start from zeros; each step adds lr * the gradient of score_target(img) - l2 * sum(img ** 2)
    (plain gradient ascent; the L2 penalty keeps the image from growing without bound). The model is
    in eval mode (BatchNorm with its running statistics, no dropout).

    Inputs:
    - model: a network taking (1, *shape) inputs.
    - target: the class whose raw score is maximised.
    - shape: shape of one image, e.g. (3, 112, 112).
    - steps, lr, l2: number of steps, step size, weight of the L2 penalty.

    Returns:
    - img: float tensor of `shape` (the dtype of the model's parameters), without gradient history.
    """
    # BEGIN SOLUTION
    import torch

    model.eval()
    dtype = next(model.parameters()).dtype
    img = torch.zeros(shape, dtype=dtype)
    for _ in range(steps):
        img.requires_grad_(True)
        with torch.enable_grad():
            objective = model(img[None])[0, target] - l2 * (img**2).sum()
            (grad,) = torch.autograd.grad(objective, img)
        img = (img + lr * grad).detach()
    return img
    # END SOLUTION


# END EXERCISE


# ----------------------------------------------------------------------------------------------------
# The three strategies of question 4


def scratch_cnn(num_classes: int):
    """A small CNN trained from scratch: the baseline that knows nothing about ImageNet.

    AvgPool(2) (112 -> 56 px), then 4 x [conv3x3-BN-ReLU-maxpool] with 16/32/64/64 channels, global
    average pooling and a linear layer (~70k parameters).

    Inputs:
    - num_classes: C.

    Returns:
    - net: nn.Module mapping (N, 3, H, W) to (N, C) scores.
    """
    from torch import nn

    def block(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )

    return nn.Sequential(
        nn.AvgPool2d(2),
        block(3, 16),
        block(16, 32),
        block(32, 64),
        block(64, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, num_classes),
    )


def predict(model, X, batch_size: int = 128):
    """Scores of a model in eval mode, batched, without gradients.

    Inputs:
    - model: nn.Module; X: float tensor (N, ...).

    Returns:
    - scores: float tensor (N, C).
    """
    import torch

    model.eval()
    with torch.no_grad():
        return torch.cat([model(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])


# A folder of the grader's held-out features (`cnnkit grade` names it for the artifact cases only).
# The backbone's features of the held-out crops do not depend on the head being graded, so a batch
# computes them once, in its reference run (HELDOUT_KEEP_ENV=1: it writes them), and every
# submission's artifact cases read them.
HELDOUT_CACHE_ENV = "CNNKIT_HELDOUT_CACHE"
HELDOUT_KEEP_ENV = "CNNKIT_HELDOUT_KEEP"


def heldout_features(n_per_class: int, seed: int, size: int, batch_size: int = 64):
    """Frozen MobileNetV2 (IMAGENET1K_V1) features of freshly drawn test crops of the photo task.

    With CNNKIT_HELDOUT_CACHE set, a file of that folder holding the same draw is read instead of
    running the backbone (one that does not read back as such is not used); with CNNKIT_HELDOUT_KEEP=1
    too, a computed draw is written there.

    Inputs:
    - n_per_class: test crops per photo; seed: seed of the crop positions; size: crop side.
    - batch_size: images per forward pass.

    Returns:
    - feats: float32 (N, 1280), N = n_per_class * len(PHOTOS).
    - y: int64 (N,).
    """
    import contextlib
    import os
    import tempfile
    import zipfile

    folder = os.environ.get(HELDOUT_CACHE_ENV, "")
    name = f"mobilenet_v2-IMAGENET1K_V1-test-{n_per_class}-{seed}-{size}-{batch_size}.npz"
    path = os.path.join(folder, name)
    n = n_per_class * len(PHOTOS)
    if folder and os.path.isfile(path):
        unreadable = (OSError, ValueError, KeyError, zipfile.BadZipFile)
        with contextlib.suppress(*unreadable), np.load(path, allow_pickle=False) as f:
            feats, y = f["feats"], f["y"]
            if feats.shape == (n, 1280) and feats.dtype == np.float32 and y.shape == (n,):
                return feats, y
    import torch
    from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

    weights = MobileNet_V2_Weights.IMAGENET1K_V1
    backbone = Backbone(mobilenet_v2(weights=weights).eval())
    X, y, _ = photo_task(n_per_class, "test", seed=seed, size=size)
    preprocess = weights.transforms(crop_size=size, resize_size=size)
    # the grader's own forward pass (students write extract_features; the gated library stubs it)
    with torch.inference_mode():
        feats = torch.cat(
            [
                backbone(preprocess(torch.from_numpy(X[i : i + batch_size])))
                for i in range(0, len(X), batch_size)
            ]
        ).numpy()
    if folder and os.environ.get(HELDOUT_KEEP_ENV) == "1":
        with contextlib.suppress(OSError):  # kept for the others' sake only
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            with os.fdopen(fd, "wb") as f:
                np.savez(f, feats=feats, y=y)
            os.replace(tmp, path)
    return feats, y


def head_accuracy(path, n_per_class: int = 20, seed: int = 0, batch_size: int = 64) -> float:
    """Accuracy of a saved head (transfer_head.pt) on freshly drawn test crops of the photo task.

    The file is a cnnkit checkpoint (`training.save_checkpoint`) of an nn.Linear head whose config
    names the backbone ('mobilenet_v2', weights 'IMAGENET1K_V1') and the crop size; it is loaded with
    torch.load(weights_only=True) and put on the frozen pretrained backbone's features of the crops
    (`heldout_features`), on the CPU.

    Inputs:
    - path: the checkpoint file.
    - n_per_class: test crops per photo.
    - seed: seed of the crop positions (a grader's own).
    - batch_size: images per forward pass.

    Returns:
    - acc: float in [0, 1].
    """
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = ckpt["config"]
    if cfg.get("arch") != "mobilenet_v2" or cfg.get("weights") != "IMAGENET1K_V1":
        raise ValueError(f"{path}: expected a mobilenet_v2 / IMAGENET1K_V1 head, got {cfg}")
    sd = ckpt["state_dict"]
    head = torch.nn.Linear(sd["weight"].shape[1], sd["weight"].shape[0])
    head.load_state_dict(sd)
    feats, y = heldout_features(n_per_class, seed, int(cfg["image_size"]), batch_size)
    feats = torch.from_numpy(feats)
    with torch.inference_mode():
        scores = [head(feats[i : i + batch_size]) for i in range(0, len(feats), batch_size)]
    return accuracy(torch.cat(scores), y)
