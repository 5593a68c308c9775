"""Plots for the notebooks: image and filter grids, training curves, heat-map overlays.

matplotlib only, imported inside the functions; nothing here picks a backend, so the same calls draw
inline in Jupyter and render headless (Agg) in CI. Every function draws into `ax` when given (else a
new figure) and returns what it drew into, so callers can save or restyle it.
Images may be numpy arrays or torch tensors, channels first (C, H, W) or last (H, W, C).
"""

from __future__ import annotations

import numpy as np


def _to_numpy(x):
    if hasattr(x, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _hwc(img):
    """One image as (H, W) or (H, W, 3): channels moved last, a single channel squeezed."""
    img = _to_numpy(img)
    # channels first wins when ambiguous (a 3x3x3 array): torch's layout is the common input
    if img.ndim == 3 and img.shape[0] in (1, 3):
        img = img.transpose(1, 2, 0)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    return img


def _unit(img):
    """Min-max scale to [0, 1]; a constant image becomes 0.5."""
    img = img.astype(np.float64)
    lo, hi = img.min(), img.max()
    return np.full_like(img, 0.5) if hi - lo < 1e-12 else (img - lo) / (hi - lo)


def grid_array(images, ncols=8, pad=1, normalize="each", pad_value=1.0):
    """Tile images into one array (the picture image_grid and filter_grid draw).

    Inputs:
    - images: (N, C, H, W), (N, H, W, C) or (N, H, W), C in {1, 3}; numpy or torch.
    - ncols: tiles per row.
    - pad: pixels between tiles.
    - normalize: "each" (min-max per image, so every tile spans [0, 1]), "all" (one min-max over the
      whole batch), or None (values used as they are: floats in [0, 1] or uint8).
    - pad_value: colour of the padding.

    Returns:
    - grid: (rows*(H+pad)-pad, ncols*(W+pad)-pad[, 3]) float array.
    """
    images = _to_numpy(images)
    if images.ndim == 4 and images.shape[1] in (1, 3):
        images = images.transpose(0, 2, 3, 1)
    elif not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 3))):
        raise ValueError(
            f"grid_array: images must be (N, C, H, W), (N, H, W, C) or (N, H, W), got {images.shape}"
        )
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if len(images) == 0:
        raise ValueError("grid_array: no images")
    imgs = list(images)
    if normalize == "each":
        imgs = [_unit(im) for im in imgs]
    elif normalize == "all":
        stack = _unit(np.stack(imgs))
        imgs = list(stack)
    elif normalize is None:
        imgs = [im / 255.0 if im.dtype == np.uint8 else im.astype(np.float64) for im in imgs]
    else:
        raise ValueError(f"normalize must be 'each', 'all' or None, not {normalize!r}")
    h, w = imgs[0].shape[:2]
    ncols = max(1, min(ncols, len(imgs)))
    nrows = -(-len(imgs) // ncols)
    shape = (nrows * (h + pad) - pad, ncols * (w + pad) - pad) + imgs[0].shape[2:]
    grid = np.full(shape, pad_value, dtype=np.float64)
    for i, im in enumerate(imgs):
        r, c = divmod(i, ncols)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = im
    return grid


def _new_ax(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def image_grid(images, labels=None, class_names=None, ncols=8, ax=None, normalize="each"):
    """Show a batch of images as a grid, each titled with its label.

    Inputs:
    - images: (N, C, H, W), (N, H, W, C) or (N, H, W), C in {1, 3}; numpy or torch.
    - labels: optional (N,) integer labels (or strings).
    - class_names: optional list mapping a label to its name.
    - ncols: images per row.
    - ax: a matplotlib Axes to draw into (default: a new figure).
    - normalize: as in grid_array.

    Returns:
    - ax: the Axes.
    """
    images = _to_numpy(images)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    h, w = (
        images.shape[2:4] if images.ndim == 4 and images.shape[1] in (1, 3) else images.shape[1:3]
    )
    pad = 1 if labels is None else max(1, h // 4)  # room above each tile for its label
    ax = _new_ax(ax, (1.3 * ncols, 1.5 * nrows))
    grid = grid_array(images, ncols=ncols, pad=pad, normalize=normalize)
    if labels is not None:  # one more band on top for the first row's labels
        band = np.ones((pad,) + grid.shape[1:])
        grid = np.concatenate([band, grid])
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1)
    ax.set_axis_off()
    if labels is not None:
        labels = _to_numpy(labels).tolist()
        for i, lab in enumerate(labels[:n]):
            name = class_names[lab] if class_names is not None else lab
            r, c = divmod(i, ncols)
            ax.text(
                c * (w + pad) + w / 2,
                r * (h + pad) + pad - 0.5,
                str(name),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    return ax


def filter_grid(weights, ax=None, ncols=8):
    """Show convolution filters, each min-max normalised on its own so small filters stay visible.

    Inputs:
    - weights: (K, C, H, W) filters (numpy or torch). C == 3 is drawn in colour, C == 1 in grey; any
      other C draws one grey tile per (filter, channel), a row per filter.
    - ax: a matplotlib Axes to draw into (default: a new figure).
    - ncols: filters per row (C in {1, 3}).

    Returns:
    - ax: the Axes; ax.images[0].get_array() is the tiled picture.
    """
    w = _to_numpy(weights)
    if w.ndim != 4:
        raise ValueError(f"filter_grid: weights must be (K, C, H, W), got shape {w.shape}")
    k, c = w.shape[:2]
    if c in (1, 3):
        tiles, ncols = w, min(ncols, k)
    else:
        # normalise per filter (over all its channels) before splitting channels into tiles
        scaled = np.stack([_unit(f) for f in w])
        tiles, ncols = scaled.reshape(k * c, *w.shape[2:]), c
    grid = grid_array(tiles, ncols=ncols, normalize="each" if c in (1, 3) else None)
    nrows = grid.shape[0] // (w.shape[2] + 1) + 1
    ax = _new_ax(ax, (0.6 * ncols + 1, 0.6 * nrows + 1))
    ax.imshow(
        grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest"
    )
    ax.set_axis_off()
    return ax


def plot_curves(curves, ax=None, xlabel="epoch", ylabel=None, title=None, logy=False):
    """Plot named series against 1, 2, 3, ... (loss curves, accuracies, timings).

    Inputs:
    - curves: dict name -> list of numbers (empty lists are skipped).
    - ax: a matplotlib Axes (default: a new figure).
    - xlabel, ylabel, title: labels.
    - logy: logarithmic y axis.

    Returns:
    - ax: the Axes.
    """
    ax = _new_ax(ax, (5, 3.5))
    for name, values in curves.items():
        values = [float(v) for v in values]
        if values:
            ax.plot(
                range(1, len(values) + 1),
                values,
                marker="o" if len(values) < 30 else None,
                label=name,
            )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if any(len(v) for v in curves.values()):
        ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_history(history, ax=None):
    """Loss (left) and accuracy (right) per epoch, train and validation.

    Inputs:
    - history: a cnnkit.training.History or a dict with lists train_loss, train_acc, val_loss,
      val_acc (missing keys are skipped).
    - ax: optional pair of Axes (loss, accuracy); default: a new figure with two panels.

    Returns:
    - fig: the Figure (fig.savefig("curves.png") saves both panels).
    """
    import matplotlib.pyplot as plt

    h = history if isinstance(history, dict) else vars(history)
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_loss, ax_acc = ax
    ax_loss.clear()
    ax_acc.clear()
    get = lambda key: list(h.get(key) or [])
    plot_curves({"train": get("train_loss"), "val": get("val_loss")}, ax=ax_loss, ylabel="loss")
    plot_curves({"train": get("train_acc"), "val": get("val_acc")}, ax=ax_acc, ylabel="accuracy")
    return ax_loss.figure


def overlay(image, heat, ax=None, alpha=0.5, cmap="jet"):
    """Draw a heat map (saliency, occlusion sensitivity, class activation) over an image.

    Inputs:
    - image: (C, H, W), (H, W, C) or (H, W); numpy or torch; min-max scaled for display.
    - heat: (h, w) map; stretched over the image when its size differs (e.g. a coarse occlusion map).
    - ax: a matplotlib Axes (default: a new figure).
    - alpha: opacity of the heat map.
    - cmap: colour map of the heat map.

    Returns:
    - ax: the Axes.
    """
    img = _unit(_hwc(image))
    heat = _to_numpy(heat).astype(np.float64)
    if heat.ndim != 2:
        raise ValueError(f"overlay: heat must be 2-D (h, w), got shape {heat.shape}")
    ax = _new_ax(ax, (4, 4))
    h, w = img.shape[:2]
    extent = (-0.5, w - 0.5, h - 0.5, -0.5)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, extent=extent)
    ax.imshow(heat, cmap=cmap, alpha=alpha, extent=extent, interpolation="bilinear")
    ax.set_axis_off()
    return ax
