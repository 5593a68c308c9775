"""cnnkit.heldout: the held-out accuracy of each stage's saved artefact, on real test data."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from cnnkit import data, heldout

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


def _export(model, path, size=32):
    model.eval()
    x = torch.zeros(2, 3, size, size)
    program = torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, path)
    return path


class _Constant(torch.nn.Module):
    """A network of the student's own: a conv and a bias that always names class C."""

    def __init__(self, k=10):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 3)
        self.bias = torch.nn.Parameter(torch.zeros(k))
        with torch.no_grad():
            self.bias[C] = 1.0

    def forward(self, x):
        return 0.0 * self.conv(x).flatten(1)[:, :1] + self.bias


def test_program_accuracy_of_a_class_the_grader_never_sees(tmp_path):
    path = _export(_Constant(), tmp_path / "cnn_model.pt2")
    _, y, _ = data.shapes.generate(200, seed=11)
    assert heldout.program_accuracy(path, n=200, seed=11, batch_size=64) == pytest.approx(
        np.mean(y == C)
    )


def test_program_refusals_say_why(tmp_path):
    model = _Constant()
    pickled = tmp_path / "pickled.pt2"
    torch.save(model, pickled)
    with pytest.raises(ValueError, match="does not load with torch.export.load"):
        heldout.load_program(pickled)
    state = tmp_path / "state.pt2"
    torch.save(model.state_dict(), state)
    with pytest.raises(ValueError, match="not torch.save"):
        heldout.load_program(state)
    path = _export(_Constant(), tmp_path / "cnn_model.pt2")
    big = tmp_path / "big.pt2"
    big.write_bytes(path.read_bytes() + b"\0" * heldout.MAX_PROGRAM_BYTES)
    with pytest.raises(ValueError, match="the limit is 50 MiB"):
        heldout.load_program(big)
    seven = _export(_Constant(k=7), tmp_path / "seven.pt2")
    with pytest.raises(ValueError, match=r"not \(batch, 10\)"):
        heldout.program_accuracy(seven, n=20, seed=1)
    with pytest.raises(TimeoutError, match="more than 0 s"):
        heldout.program_accuracy(path, n=20, seed=1, batch_size=10, time_limit=0.0)


def test_program_runs_once_per_file_and_draw(tmp_path, monkeypatch):
    loads = []
    real = heldout.load_program
    monkeypatch.setattr(heldout, "load_program", lambda p: loads.append(p) or real(p))
    path = _export(_Constant(), tmp_path / "cnn_model.pt2")
    first = heldout.program_accuracy(path, n=50, seed=3)
    # the thresholds' cases of one draw: the program is not loaded or run again
    assert heldout.program_accuracy(path, n=50, seed=3) == first and len(loads) == 1
    heldout.program_accuracy(path, n=50, seed=4)  # another draw runs
    assert len(loads) == 2
    # a failure is told to every case that asks, without running again
    seven = _export(_Constant(k=7), tmp_path / "seven.pt2")
    for _ in range(2):
        with pytest.raises(ValueError, match=r"not \(batch, 10\)"):
            heldout.program_accuracy(seven, n=20, seed=3)
    assert len(loads) == 3
    # a replaced file is a new program (a later mtime, whatever the filesystem's clock resolution)
    st = path.stat()
    _export(_Constant(k=7), path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(ValueError, match=r"not \(batch, 10\)"):
        heldout.program_accuracy(path, n=50, seed=3)


def test_a_timeout_is_not_kept(tmp_path, monkeypatch):
    runs = []
    real = heldout._program_accuracy

    def slow(*args):
        runs.append(args)
        raise TimeoutError("the case ran past 5 s")  # the case's alarm, mid-run

    path = _export(_Constant(), tmp_path / "cnn_model.pt2")
    monkeypatch.setattr(heldout, "_program_accuracy", slow)
    for _ in range(2):
        with pytest.raises(TimeoutError):
            heldout.program_accuracy(path, n=50, seed=8)
    assert len(runs) == 2  # each case gets a clock of its own
    monkeypatch.setattr(heldout, "_program_accuracy", real)
    assert heldout.program_accuracy(path, n=50, seed=8) == pytest.approx(
        np.mean(data.shapes.generate(50, seed=8)[1] == C)
    )
