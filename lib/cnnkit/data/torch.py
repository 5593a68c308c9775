"""Torch side of the registry: Datasets, DataLoaders and a GPU-resident augmenting loader.

Two ways to feed a model:
- `DataLoader` over an in-memory `ArrayDataset` with torchvision's standard augmentations
  (RandomCrop with zero padding + RandomHorizontalFlip), `pin_memory` on CUDA;
- `DeviceLoader`: the whole split lives on the device and each batch is augmented there with tensor ops
  (random translation of a zero-padded image = the same random crop, random horizontal flips). This is how
  airbench feeds a GPU: no CPU worker processes (Colab has two CPU cores), no host-to-device copies.
`loaders()` picks the second by default on CUDA.
"""

from __future__ import annotations

import math
import os
import sys

import torch
import torch.nn.functional as F

from cnnkit.data import load

# Per dataset: (crop padding, horizontal flip). Digits are not flipped: a mirrored 2 or 7 is not a digit.
AUGMENT = {
    "cifar10": (4, True),
    "shapes": (4, True),
    "fashion_mnist": (2, True),
    "digits": (1, False),
}


def standard_transform(size: int, pad: int, flip: bool):
    """torchvision's standard training augmentation for small images (None when there is nothing to do)."""
    from torchvision import transforms

    steps = []
    if pad:
        steps.append(transforms.RandomCrop(size, padding=pad))
    if flip:
        steps.append(transforms.RandomHorizontalFlip())
    return transforms.Compose(steps) if steps else None


# BEGIN EXERCISE 03b_cnn_experiments
# Notebook 03b's students write a Dataset, crop/flip augmentation as tensor ops and portable DataLoader
# settings themselves (their own design): notebooks 01 to 03b get these stubbed, stage 04 the code.


class ArrayDataset(torch.utils.data.Dataset):
    """Images and labels held in memory as tensors, with an optional per-image transform.

    Inputs:
    - X: float32 (N, C, H, W) array or tensor.
    - y: int (N,) array or tensor.
    - transform: callable on one (C, H, W) tensor, or None.
    - class_names: optional list of names.
    """

    def __init__(self, X, y, transform=None, class_names=None):
        self.X = torch.as_tensor(X)
        self.y = torch.as_tensor(y, dtype=torch.int64)
        self.transform = transform
        self.class_names = list(class_names) if class_names is not None else None

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        x = self.X[i]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.y[i]


def augment_batch(x, pad: int = 4, flip: bool = True, generator=None, return_params: bool = False):
    """Random crop (zero padding + random translation) and random horizontal flip of a whole batch.

    Runs on whatever device x is on; equivalent per image to RandomCrop(H, padding=pad) followed by
    RandomHorizontalFlip(p=0.5).

    Inputs:
    - x: (B, C, H, W) tensor.
    - pad: padding in pixels; each image is shifted by dy, dx in [-pad, pad].
    - flip: flip each image left-right with probability 1/2.
    - generator: optional torch.Generator on x's device.
    - return_params: also return the per-image parameters.

    Returns:
    - out: (B, C, H, W) augmented batch (a new tensor).
    - params (only with return_params): dict with 'top', 'left' (int64 (B,), crop offsets into the padded
      image, in [0, 2*pad]) and 'flipped' (bool (B,)).
    """
    B, C, H, W = x.shape
    dev = x.device
    top = torch.zeros(B, dtype=torch.int64, device=dev)
    left = torch.zeros(B, dtype=torch.int64, device=dev)
    out = x
    if pad:
        xp = F.pad(x, (pad, pad, pad, pad))
        top = torch.randint(0, 2 * pad + 1, (B,), device=dev, generator=generator)
        left = torch.randint(0, 2 * pad + 1, (B,), device=dev, generator=generator)
        rows = top[:, None] + torch.arange(H, device=dev)  # (B, H)
        cols = left[:, None] + torch.arange(W, device=dev)  # (B, W)
        b = torch.arange(B, device=dev)[:, None, None, None]
        c = torch.arange(C, device=dev)[None, :, None, None]
        out = xp[b, c, rows[:, None, :, None], cols[:, None, None, :]]
    flipped = torch.zeros(B, dtype=torch.bool, device=dev)
    if flip:
        flipped = torch.rand(B, device=dev, generator=generator) < 0.5
        out = torch.where(flipped[:, None, None, None], out.flip(-1), out)
    if out is x:
        out = x.clone()
    if return_params:
        return out, {"top": top, "left": left, "flipped": flipped}
    return out


def default_num_workers(device) -> int:
    """DataLoader workers: 0 except on Linux feeding a CUDA GPU.

    Windows and macOS start workers by spawning fresh interpreters that re-import the notebook's
    __main__: a Dataset or transform defined in a notebook then fails to pickle, and every epoch pays
    seconds of start-up. The data here is already in memory and the transforms are cheap, so loading in
    the main process (0) is the safe choice there, and on a CPU-only machine workers would only take cores
    from the training itself. On Linux with a GPU a few forked workers keep the GPU fed.
    """
    if sys.platform in ("win32", "darwin") or torch.device(device).type != "cuda":
        return 0
    return max(1, min(4, (os.cpu_count() or 2) - 1))


# END EXERCISE


class DeviceLoader:
    """A DataLoader look-alike whose data stays on the device; augmentation runs there per batch.

    Inputs:
    - X: float32 (N, C, H, W) array or tensor; y: int (N,).
    - batch_size: images per batch.
    - shuffle: new order every epoch.
    - pad, flip: augmentation (see augment_batch); pad=0 and flip=False for none.
    - device: where the data lives (default: X's device).
    - seed: seed of the order and the augmentation.
    - drop_last: drop the last incomplete batch.
    - class_names: optional list of names.

    Iterating yields (xb float32 (B, C, H, W), yb int64 (B,)) on the device.
    """

    def __init__(
        self,
        X,
        y,
        batch_size: int = 128,
        shuffle: bool = False,
        pad: int = 0,
        flip: bool = False,
        device=None,
        seed: int = 0,
        drop_last: bool = False,
        class_names=None,
    ):
        X, y = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.int64)
        self.device = torch.device(device) if device is not None else X.device
        self.X = X.to(self.device)
        self.y = y.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.pad, self.flip = pad, flip
        self.drop_last = drop_last
        self.class_names = list(class_names) if class_names is not None else None
        self.dataset = ArrayDataset(self.X, self.y, None, class_names)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.y)
        if self.shuffle:
            order = torch.randperm(n, device=self.device, generator=self.generator)
        else:
            order = torch.arange(n, device=self.device)
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            xb = self.X[idx]
            if self.pad or self.flip:
                xb = augment_batch(xb, self.pad, self.flip, generator=self.generator)
            yield xb, self.y[idx]


def loaders(
    name: str,
    batch_size: int = 128,
    augment: bool = True,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    device=None,
    num_workers: int | None = None,
    on_device: bool | None = None,
    seed: int = 0,
) -> dict:
    """Train/val/test loaders for a registered dataset.

    Inputs:
    - name: dataset name (see cnnkit.data.list_datasets()).
    - batch_size: batch size of every loader.
    - augment: random crop (zero padding) + horizontal flip on train (per dataset, see AUGMENT);
      val and test are never augmented.
    - n_train, n_val, n_test: optional subset sizes (deterministic, class-balanced).
    - device: the device the model trains on (default cnnkit.get_device(verbose=False)).
    - num_workers: DataLoader workers (default: default_num_workers(device)).
    - on_device: keep the data on the device and augment there (DeviceLoader); default True on CUDA.
    - seed: seed of subsets, shuffling and augmentation.

    Returns:
    - dict 'train', 'val', 'test' -> DataLoader or DeviceLoader yielding (x float32 (B, C, H, W),
      y int64 (B,)); every loader has `.dataset.class_names`.
    """
    if device is None:
        from cnnkit.runtime import get_device

        device = get_device(verbose=False)
    device = torch.device(device)
    if on_device is None:
        on_device = device.type == "cuda"
    pad, flip = AUGMENT.get(name, (0, False)) if augment else (0, False)
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    out = {}
    for split, n in sizes.items():
        X, y, class_names = load(name, split=split, n=n, seed=seed)
        train = split == "train"
        if on_device:
            out[split] = DeviceLoader(
                X,
                y,
                batch_size,
                shuffle=train,
                pad=pad if train else 0,
                flip=flip if train else False,
                device=device,
                seed=seed,
                class_names=class_names,
            )
            continue
        workers = default_num_workers(device) if num_workers is None else num_workers
        transform = standard_transform(X.shape[-1], pad, flip) if train else None
        g = torch.Generator()
        g.manual_seed(seed)
        out[split] = torch.utils.data.DataLoader(
            ArrayDataset(X, y, transform, class_names),
            batch_size=batch_size,
            shuffle=train,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
            generator=g,
        )
    return out
