"""Held-out accuracy of each stage's saved artefact: the computation the artefact cases share.

Each function loads a submitted file the way a grader must (`allow_pickle=False`, `weights_only=True`),
draws fresh held-out examples from the seed or generator the case passes (a case draws it with
`cnnkit.checks.rng()`, so the student's run and the grader's agree), and returns an accuracy in [0, 1];
the case then checks its band with `cnnkit.checks.at_least`. Stage 04's is `features.head_accuracy`.
"""

from __future__ import annotations

import numpy as np


def twolayer_accuracy(path, n: int, seed: int) -> float:
    """Accuracy of a saved two-layer net (twolayer_params.npz, notebook 01) on Fashion-MNIST test images.

    Inputs:
    - path: the .npz with W1 (784, H), b1 (H,), W2 (H, 10), b2 (10,).
    - n: test images drawn; seed: their draw.

    Returns:
    - acc: float in [0, 1] (the forward pass in float64).
    """
    from cnnkit import data

    with np.load(path, allow_pickle=False) as f:
        p = {k: np.asarray(f[k], dtype=np.float64) for k in ("W1", "b1", "W2", "b2")}
    test = data.load("fashion_mnist", "test", n=n, seed=seed)
    scores = np.maximum(0, test.X.reshape(len(test.y), -1) @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    return float(np.mean(np.argmax(scores, axis=1) == test.y))


def convnet_accuracy(path, rng: np.random.Generator, n: int = 2000) -> float:
    """Accuracy of a saved three-layer ConvNet (convnet_params.npz, notebook 02) on Fashion-MNIST test
    images: conv (same padding) - ReLU - 2x2 max pool - affine - ReLU - affine, run by torch.

    Inputs:
    - path: the .npz with W1 (F, 1, k, k), b1, W2, b2, W3, b3.
    - rng: draws the n test images (without replacement).

    Returns:
    - acc: float in [0, 1].
    """
    import torch
    import torch.nn.functional as F

    from cnnkit import data

    with np.load(path, allow_pickle=False) as f:
        p = {k: torch.tensor(np.asarray(f[k], dtype=np.float32)) for k in f.files}
    X, y, _ = data.load("fashion_mnist", "test")
    idx = rng.choice(len(X), n, replace=False)
    pad = (p["W1"].shape[2] - 1) // 2
    with torch.no_grad():
        h = F.max_pool2d(
            F.relu(F.conv2d(torch.tensor(X[idx]), p["W1"], p["b1"], padding=pad)), 2, 2
        )
        scores = F.relu(h.flatten(1) @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    return float((scores.argmax(1).numpy() == y[idx]).mean())


def checkpoint_accuracy(path, n: int, seed: int, batch_size: int = 500) -> float:
    """Accuracy of a saved CNN checkpoint (cnn_checkpoint.pt, notebook 03) on fresh `shapes` images.

    Inputs:
    - path: a cnnkit checkpoint of `cnnkit.models.build_cnn` (its config rebuilds the model).
    - n: images generated; seed: their draw; batch_size: images per forward pass.

    Returns:
    - acc: float in [0, 1].
    """
    import torch

    from cnnkit import data, training
    from cnnkit.models import build_cnn

    model, _ = training.load_checkpoint(path, builder=build_cnn)
    X, y, _ = data.shapes.generate(n, seed=seed)
    with torch.no_grad():
        pred = torch.cat(
            [
                model(torch.tensor(X[i : i + batch_size])).argmax(1)
                for i in range(0, len(X), batch_size)
            ]
        )
    return float((pred.numpy() == y).mean())
