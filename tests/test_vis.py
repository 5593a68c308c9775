"""Plot helpers render headless (Agg) to PNG without errors; filter_grid normalises per filter."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cnnkit import vis  # noqa: E402


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    plt.close(fig)
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def test_image_grid_layouts_and_labels():
    rng = np.random.default_rng(0)
    cases = [
        rng.random((10, 3, 8, 8)),  # NCHW float
        (rng.random((5, 8, 8, 3)) * 255).astype(np.uint8),  # NHWC uint8
        torch.rand(4, 1, 8, 8),  # torch, one channel
        rng.standard_normal((3, 8, 8)),  # NHW, values outside [0, 1]
    ]
    for images in cases:
        n = len(images)
        rows, cols = -(-n // 4), min(4, n)
        ax = vis.image_grid(images, ncols=4)
        assert np.asarray(ax.images[0].get_array()).shape[:2] == (rows * 9 - 1, cols * 9 - 1)
        assert len(ax.texts) == 0
        _png(ax.figure)
        labels = np.arange(n) % 2
        ax = vis.image_grid(images, labels=labels, class_names=["a", "b"], ncols=4)
        shown = np.asarray(ax.images[0].get_array())
        pad = 8 // 4  # label room: a quarter of the tile height, also above the first row
        assert shown.shape[:2] == (rows * (8 + pad), cols * (8 + pad) - pad)
        assert [t.get_text() for t in ax.texts] == [["a", "b"][i % 2] for i in range(n)]
        assert len(_png(ax.figure)) > 500


def test_grid_array_normalisation_modes():
    imgs = np.stack([np.full((2, 2), 3.0), np.array([[0.0, 1.0], [2.0, 4.0]])])
    each = vis.grid_array(imgs, ncols=2, pad=0, normalize="each")
    np.testing.assert_allclose(each[:, :2], 0.5)  # a constant image becomes mid grey
    np.testing.assert_allclose(each[:, 2:], [[0, 0.25], [0.5, 1]])
    allnorm = vis.grid_array(imgs, ncols=2, pad=0, normalize="all")
    np.testing.assert_allclose(allnorm[:, :2], 0.75)
    with pytest.raises(ValueError):
        vis.grid_array(imgs, normalize="bogus")


def test_filter_grid_normalises_each_filter():
    rng = np.random.default_rng(1)
    w = (
        rng.standard_normal((6, 3, 5, 5))
        * np.array([1e-4, 1e-2, 1, 10, 100, 1e3])[:, None, None, None]
    )
    ax = vis.filter_grid(torch.from_numpy(w), ncols=3)
    grid = np.asarray(ax.images[0].get_array())
    assert grid.shape == (2 * 6 - 1, 3 * 6 - 1, 3)
    for k in range(6):
        r, c = divmod(k, 3)
        tile = grid[r * 6 : r * 6 + 5, c * 6 : c * 6 + 5]
        # every filter spans the full range, however small its weights
        assert tile.min() == pytest.approx(0.0) and tile.max() == pytest.approx(1.0)
        expected = w[k].transpose(1, 2, 0)
        expected = (expected - expected.min()) / (expected.max() - expected.min())
        np.testing.assert_allclose(tile, expected, atol=1e-12)
    _png(ax.figure)


def test_filter_grid_many_channels_one_row_per_filter():
    w = np.random.default_rng(2).standard_normal((4, 5, 3, 3))
    w[1] *= 1e-3
    ax = vis.filter_grid(w)
    grid = np.asarray(ax.images[0].get_array())
    assert grid.shape == (4 * 4 - 1, 5 * 4 - 1)
    row = grid[4:7]  # filter 1, all its channels: normalised over the filter, not per channel
    tiles = [row[:, j * 4 : j * 4 + 3] for j in range(5)]
    assert min(t.min() for t in tiles) == pytest.approx(0.0)
    assert max(t.max() for t in tiles) == pytest.approx(1.0)
    _png(ax.figure)
    with pytest.raises(ValueError):
        vis.filter_grid(np.zeros((3, 3, 3)))


def test_plot_history_and_curves():
    hist = {
        "train_loss": [2.0, 1.0, 0.5],
        "val_loss": [2.1, 1.2, 0.9],
        "train_acc": [0.3, 0.6, 0.8],
        "val_acc": [0.3, 0.5, 0.7],
    }
    fig = vis.plot_history(hist)
    ax_loss, ax_acc = fig.axes
    assert [len(line.get_xdata()) for line in ax_loss.lines] == [3, 3]
    np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), hist["val_acc"])
    _png(fig)
    # redrawing into the same axes replaces the curves (what live plotting does)
    fig2 = vis.plot_history({"train_loss": [1.0], "train_acc": [0.5]}, ax=(ax_loss, ax_acc))
    assert fig2 is fig and len(ax_loss.lines) == 1
    ax = vis.plot_curves(
        {"naive": [1, 2, 3], "fast": [0.1, 0.2, 0.3], "empty": []}, logy=True, ylabel="s", title="t"
    )
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    _png(ax.figure)


def test_overlay_stretches_coarse_heat_map():
    img = torch.rand(3, 32, 32)
    heat = np.random.default_rng(3).random((4, 4))
    fig, ax = plt.subplots()
    out = vis.overlay(img, heat, ax=ax, alpha=0.4)
    assert out is ax and len(ax.images) == 2
    assert ax.images[1].get_extent() == ax.images[0].get_extent()
    assert ax.images[1].get_alpha() == 0.4
    _png(fig)
    with pytest.raises(ValueError):
        vis.overlay(img, np.zeros(5))
