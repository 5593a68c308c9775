"""Held-out accuracy of each stage's saved artefact: the computation the artefact cases share.

Each function loads a submitted file the way a grader must (`allow_pickle=False`, `weights_only=True`,
or `torch.export.load` for a whole network, which needs no class of the student's),
draws fresh held-out examples from the seed or generator the case passes (a case draws it with
`cnnkit.checks.rng()`, or `checks.shared_rng` where several cases grade one draw, so the student's run
and the grader's agree), and returns an accuracy in [0, 1];
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


# The grader's limits on a stage-03 program, stated to students in the notebook's question 6.
MAX_PROGRAM_BYTES = 50 * 2**20
EVAL_SECONDS = 60.0


def load_program(path):
    """Load an exported model (cnn_model.pt2, notebook 03b: `torch.export.save`'s graph and weights)
    as a module on the CPU, within the grader's limits. Only ever called inside the sandbox.

    Inputs:
    - path: the .pt2 file.

    Returns:
    - program: nn.Module running the saved graph (its mode fixed at export).

    Raises ValueError, with the reason, for a file over MAX_PROGRAM_BYTES or one that
    torch.export.load refuses (a pickled module, a state_dict, a broken file).
    """
    import os

    import torch

    size = os.path.getsize(path)
    if size > MAX_PROGRAM_BYTES:
        raise ValueError(
            f"{path} is {size / 2**20:.1f} MiB; the limit is {MAX_PROGRAM_BYTES // 2**20} MiB"
        )
    try:
        return torch.export.load(path).module()
    except Exception as e:  # any refusal is the submission's fault: say which, don't crash the case
        raise ValueError(
            f"{path} does not load with torch.export.load ({type(e).__name__}); "
            "save it with save_model (torch.export.save), not torch.save"
        ) from None


def program_accuracy(
    path, n: int, seed: int, batch_size: int = 500, time_limit: float = EVAL_SECONDS
) -> float:
    """Accuracy of an exported model (cnn_model.pt2, notebook 03b) on fresh `shapes` images, fed as
    raw [0, 1] pixels.

    Inputs:
    - path: the .pt2 file (see load_program for its limits).
    - n: images generated; seed: their draw; batch_size: images per forward pass.
    - time_limit: seconds the n images may take, on the grader's CPU.

    Returns:
    - acc: float in [0, 1].

    Raises ValueError for scores that are not (batch, 10), TimeoutError past time_limit. A second
    call with the same file and arguments in one process returns the first one's result, or raises
    its error again (a TimeoutError excepted: that call runs again).
    """
    import os

    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns, n, seed, batch_size, time_limit)
    if key not in _PROGRAM_RUNS:
        try:
            _PROGRAM_RUNS[key] = _program_accuracy(path, n, seed, batch_size, time_limit)
        except Exception as err:
            # a clock's verdict (the case's alarm, or the program's time_limit) depends on the
            # machine's load: each case tries again with a clock of its own, as rows with a timeout
            # are never kept (cnnkit.grading.batch)
            if not isinstance(err, TimeoutError):
                _PROGRAM_RUNS[key] = err.with_traceback(None)
            raise
    kept = _PROGRAM_RUNS[key]
    if isinstance(kept, Exception):
        raise kept
    return kept


# One process grades one file at several thresholds on the same draw (`checks.shared_rng`): the
# program runs once per (file, draw), and a failure (not a timeout) is told to every case.
_PROGRAM_RUNS: dict[tuple, float | Exception] = {}


def _program_accuracy(path, n: int, seed: int, batch_size: int, time_limit: float) -> float:
    import time

    import torch

    from cnnkit import data

    program = load_program(path)
    X, y, _ = data.shapes.generate(n, seed=seed)
    t0, pred = time.perf_counter(), []
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            scores = program(torch.tensor(X[i : i + batch_size]))
            if tuple(scores.shape) != (len(X[i : i + batch_size]), 10):
                raise ValueError(
                    f"the program returns scores of shape {tuple(scores.shape)}, not (batch, 10)"
                )
            pred.append(scores.argmax(1))
            if time.perf_counter() - t0 > time_limit:
                raise TimeoutError(
                    f"{n} images take more than {time_limit:.0f} s on the grader's CPU"
                )
    return float((torch.cat(pred).numpy() == y).mean())
