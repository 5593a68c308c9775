"""cnnkit.heldout: the held-out accuracy of each stage's saved artefact, on real test data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnkit import data, heldout, training
from cnnkit.models import build_cnn

# A model that always answers class C scores the share of class C in the draw: a known accuracy.
C = 3


def test_twolayer_accuracy_of_a_constant_net(tmp_path):
    if not data.available("fashion_mnist"):
        pytest.skip("Fashion-MNIST not available offline")
    h = 5
    b2 = np.zeros(10)
    b2[C] = 1.0
    path = tmp_path / "p.npz"
    np.savez(path, W1=np.zeros((784, h)), b1=np.zeros(h), W2=np.zeros((h, 10)), b2=b2)
    test = data.load("fashion_mnist", "test", n=500, seed=7)
    assert heldout.twolayer_accuracy(path, n=500, seed=7) == pytest.approx(np.mean(test.y == C))


def test_convnet_accuracy_of_a_constant_net(tmp_path):
    if not data.available("fashion_mnist"):
        pytest.skip("Fashion-MNIST not available offline")
    b3 = np.zeros(10, dtype=np.float32)
    b3[C] = 1.0
    path = tmp_path / "p.npz"
    np.savez(
        path,
        W1=np.zeros((2, 1, 3, 3), np.float32), b1=np.zeros(2, np.float32),
        W2=np.zeros((2 * 14 * 14, 4), np.float32), b2=np.zeros(4, np.float32),
        W3=np.zeros((4, 10), np.float32), b3=b3,
    )  # fmt: skip
    _, y, _ = data.load("fashion_mnist", "test")
    idx = np.random.default_rng(5).choice(len(y), 300, replace=False)
    got = heldout.convnet_accuracy(path, np.random.default_rng(5), n=300)
    assert got == pytest.approx(np.mean(y[idx] == C))


def test_checkpoint_accuracy_of_a_constant_cnn(tmp_path):
    config = {"channels": [4], "batchnorm": False, "image_size": 32, "num_classes": 10}
    model = build_cnn(**config)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[C] = 1.0
    path = training.save_checkpoint(tmp_path / "cnn.pt", model, config=config)
    _, y, _ = data.shapes.generate(200, seed=11)
    assert heldout.checkpoint_accuracy(path, n=200, seed=11) == pytest.approx(np.mean(y == C))
