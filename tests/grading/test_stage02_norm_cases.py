"""Stage 02's question 7 (spatial batch and group normalization, the ConvNet with batch norm): its
hidden cases, run in check mode on the library's reference and on typical student bugs, must pass
the one and fail the others.

The cases are read from the master (`solutions/02_conv_layers/02_conv_layers.cases.py`) as the build
reads them, and called as `grader.check` would call them (check mode: the torch float64 oracles run).
"""

from pathlib import Path

import numpy as np
import pytest

from cnnkit import checks
from cnnkit.grading import master
from cnnkit.numeric import cnn
from cnnkit.numeric import deep_layers as dl

ROOT = Path(__file__).resolve().parents[2]
MASTER = ROOT / "solutions" / "02_conv_layers" / "02_conv_layers.py"


def _cases() -> dict:
    """{case name: the test function} of question 7 (hidden and public)."""
    out = {}
    for case in master.read(MASTER).question("q7").cases:
        ns: dict = {}
        exec(compile(case.cell.source, case.name, "exec"), ns)
        out[case.name] = (ns[case.name], case.params)
    return out


CASES = _cases()
REFERENCE = {
    "spatial_batchnorm_forward": dl.spatial_batchnorm_forward,
    "spatial_batchnorm_backward": dl.spatial_batchnorm_backward,
    "spatial_groupnorm_forward": dl.spatial_groupnorm_forward,
    "spatial_groupnorm_backward": dl.spatial_groupnorm_backward,
    "ThreeLayerConvNetBN": cnn.ThreeLayerConvNetBN,
}


def _run(name: str, **impl) -> str | None:
    """The case's failure message with these implementations (the reference for the rest), or None."""
    fn, params = CASES[name]
    names = {**REFERENCE, **impl}
    checks._end()
    try:
        fn(**{p: names[p] for p in params})
    except checks.CheckFailed as err:
        return str(err)
    return None


# ------------------------------------------------------------------------------------- mutants --


def _no_transpose(x, gamma, beta, bn_param):  # reshape(-1, C) mixes channels and positions
    N, C, H, W = x.shape
    out, cache = dl.batchnorm_forward(x.reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, C, H, W), cache


def _per_example_axes(x, gamma, beta, bn_param):  # statistics over (H, W) of each example
    eps = bn_param.get("eps", 1e-5)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    out = gamma[:, None, None] * (x - mu) / np.sqrt(var + eps) + beta[:, None, None]
    return out, None


def _running_stats_in_train(x, gamma, beta, bn_param):  # normalizes with the running averages
    dl.spatial_batchnorm_forward(x, gamma, beta, bn_param)  # updates them
    return dl.spatial_batchnorm_forward(x, gamma, beta, dict(bn_param, mode="test"))


def _updates_at_test(x, gamma, beta, bn_param):  # test mode moves the running averages too
    if bn_param["mode"] == "test":
        out, _ = dl.spatial_batchnorm_forward(x, gamma, beta, bn_param)
        m = bn_param.get("momentum", 0.9)
        bn_param["running_mean"] = m * bn_param["running_mean"] + (1 - m) * x.mean(axis=(0, 2, 3))
        return out, None
    return dl.spatial_batchnorm_forward(x, gamma, beta, bn_param)


def _backward_no_stat_terms(dout, cache):  # as if the batch mean and variance were constants
    _, dgamma, dbeta = dl.spatial_batchnorm_backward(dout, cache)
    _, _, inv_std, _, gamma = cache
    return dout * (gamma * inv_std)[None, :, None, None], dgamma, dbeta


def _groupnorm_per_channel(x, gamma, beta, G, gn_param):  # instance norm: G ignored
    return dl.spatial_groupnorm_forward(x, gamma, beta, x.shape[1], gn_param)


class _AlwaysTrain(dict):
    def __setitem__(self, key, value):  # a mode switch that never reaches the layer
        super().__setitem__(key, "train" if key == "mode" else value)


class _BatchStatsAtTest(cnn.ThreeLayerConvNetBN):  # scores normalized by the test batch itself
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bn_param = _AlwaysTrain(self.bn_param)


def test_the_reference_passes_every_case():
    assert {n: _run(n) for n in CASES} == dict.fromkeys(CASES)


@pytest.mark.parametrize(
    "case, impl, says",
    [
        (
            "test_spatial_batchnorm_train_fresh",
            {"spatial_batchnorm_forward": _no_transpose},
            "train-mode output",
        ),
        (
            "test_spatial_batchnorm_train_fresh",
            {"spatial_batchnorm_forward": _per_example_axes},
            "train-mode output",
        ),
        (
            "test_spatial_batchnorm_train_fresh",
            {"spatial_batchnorm_forward": _running_stats_in_train},
            "train-mode output",
        ),
        (
            "test_spatial_batchnorm_test_mode_fresh",
            {"spatial_batchnorm_forward": _updates_at_test},
            "changed the running mean",
        ),
        (
            "test_spatial_batchnorm_backward_fresh",
            {"spatial_batchnorm_backward": _backward_no_stat_terms},
            "wrong dx",
        ),
        (
            "test_spatial_groupnorm_fresh",
            {"spatial_groupnorm_forward": _groupnorm_per_channel},
            "wrong output",
        ),
        (
            "test_convnet_bn_fresh",
            {"ThreeLayerConvNetBN": _BatchStatsAtTest},
            "test-mode scores",
        ),
        # the public checks tell the size of the error on the same bugs
        (
            "test_spatial_batchnorm_forward_statistics",
            {"spatial_batchnorm_forward": _no_transpose},
            "per-channel",
        ),
        (
            "test_spatial_batchnorm_forward_statistics",
            {"spatial_batchnorm_forward": _running_stats_in_train},
            "per-channel",
        ),
        (
            "test_convnet_bn_ladder_and_modes",
            {"ThreeLayerConvNetBN": _BatchStatsAtTest},
            "running averages",
        ),
        (
            "test_spatial_batchnorm_backward_numeric",
            {"spatial_batchnorm_backward": _backward_no_stat_terms},
            "dx",
        ),
    ],
)
def test_typical_bugs_lose_the_case(case, impl, says):
    message = _run(case, **impl)
    assert message is not None and says in message, message
