"""Activations, dropout, batch/layer/group norm: torch float64 oracles, numeric gradients, and mutants.

Each oracle check (`_*_problems`) takes an implementation and returns what it got wrong against torch
on fresh inputs, the way a hidden case would. The reference must pass every check, and each typical
student bug, written as a small mutant of the reference, must be caught: proof that hidden cases built
on these comparisons take points for those bugs.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnkit.numeric import deep_layers as dl
from cnnkit.numeric.gradcheck import eval_numerical_gradient_array, rel_error
from cnnkit.numeric.layers import sigmoid_backward, sigmoid_forward


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _close(a, b, tol=1e-10):
    return np.shape(a) == np.shape(b) and rel_error(a, b) < tol


def _numeric_grads(forward, inputs, dout):
    """Numeric gradients of sum(forward(*inputs) * dout) with respect to each input."""
    out = []
    for k in range(len(inputs)):

        def f(_, k=k):
            return forward(*inputs)

        out.append(eval_numerical_gradient_array(f, inputs[k], dout))
    return out


# ------------------------------------------------------------------------------------ activations --


def test_tanh_matches_torch_and_numeric_gradient():
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5))
    out, cache = dl.tanh_forward(x)
    tx = _t(x, grad=True)
    tout = torch.tanh(tx)
    tout.backward(_t(dout))
    assert _close(out, tout.detach().numpy(), 1e-14)
    dx = dl.tanh_backward(dout, cache)
    assert _close(dx, tx.grad.numpy(), 1e-12)
    (num,) = _numeric_grads(lambda x: dl.tanh_forward(x)[0], [x], dout)
    assert rel_error(num, dx) < 1e-8


@pytest.mark.parametrize("alpha", [0.01, 0.2])
def test_leaky_relu_matches_torch_and_numeric_gradient(alpha):
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    out, cache = dl.leaky_relu_forward(x, alpha)
    tx = _t(x, grad=True)
    tout = F.leaky_relu(tx, negative_slope=alpha)
    tout.backward(_t(dout))
    assert _close(out, tout.detach().numpy(), 1e-14)
    dx = dl.leaky_relu_backward(dout, cache)
    assert _close(dx, tx.grad.numpy(), 1e-14)
    (num,) = _numeric_grads(lambda x: dl.leaky_relu_forward(x, alpha)[0], [x], dout)
    assert rel_error(num, dx) < 1e-8


def test_sigmoid_saturates_tanh_less_so():
    """The sigmoid's local gradient is at most 1/4 and vanishes for big |x|; tanh's peaks at 1."""
    x = np.array([-20.0, -10.0, 0.0, 10.0, 20.0])
    local = sigmoid_backward(np.ones_like(x), sigmoid_forward(x)[1])
    assert local[2] == pytest.approx(0.25)
    assert local.max() == local[2] and local[[1, 3]].max() < 5e-5 and local[[0, 4]].max() < 3e-9
    assert dl.tanh_backward(np.ones(1), dl.tanh_forward(np.zeros(1))[1])[0] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------- dropout --


def _dropout_problems(forward, backward, p=0.3, seed=0):
    """What a dropout pair gets wrong against F.dropout's statistics (p is the keep probability)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((400, 500)) + 3.0
    problems = []
    out, cache = forward(x, {"mode": "train", "p": p, "seed": seed + 1})
    t_out = F.dropout(_t(x), p=1 - p, training=True).numpy()
    kept, t_kept = np.mean(out != 0), np.mean(t_out != 0)
    if abs(kept - t_kept) > 0.01:
        problems.append(f"kept fraction {kept:.3f}, torch {t_kept:.3f}")
    if not np.allclose(out[out != 0], x[out != 0] / p, rtol=1e-12):
        problems.append("kept units are not scaled by 1/p")
    # inverted dropout leaves the expected activation unchanged (sd of the mean here ~0.3%)
    if abs(out.mean() - t_out.mean()) > 0.03 * x.mean():
        problems.append(f"train mean {out.mean():.3f}, torch {t_out.mean():.3f}")
    dout = rng.standard_normal(x.shape)
    if not np.array_equal(backward(dout, cache), dout * (out != 0) / p):
        problems.append("train backward does not route dout through the kept units, scaled by 1/p")
    out_test, cache_test = forward(x, {"mode": "test", "p": p})
    if not np.array_equal(out_test, F.dropout(_t(x), p=1 - p, training=False).numpy()):
        problems.append("test mode is not the identity")
    if not np.array_equal(backward(dout, cache_test), dout):
        problems.append("test backward is not the identity")
    return problems


def _dropout_unscaled(x, dropout_param):
    out, (param, mask) = dl.dropout_forward(x, dropout_param)
    if param["mode"] == "train":
        out = out * param["p"]
    return out, (param, mask)


def _dropout_scaled_at_test(x, dropout_param):
    if dropout_param["mode"] == "test":  # the "vanilla" dropout rule applied to inverted dropout
        return x * dropout_param["p"], (dropout_param, None)
    return dl.dropout_forward(x, dropout_param)


def _dropout_drop_probability(x, dropout_param):  # p read as torch's drop probability
    return dl.dropout_forward(x, dict(dropout_param, p=1 - dropout_param["p"]))


def test_dropout_matches_torch_statistics():
    assert _dropout_problems(dl.dropout_forward, dl.dropout_backward) == []


@pytest.mark.parametrize(
    "mutant, expected",
    [
        (_dropout_unscaled, "train mean"),
        (_dropout_scaled_at_test, "test mode is not the identity"),
        (_dropout_drop_probability, "kept fraction"),
    ],
)
def test_dropout_mutants_are_caught(mutant, expected):
    problems = _dropout_problems(mutant, dl.dropout_backward)
    assert any(expected in p for p in problems), problems


def test_dropout_masks_are_seeded():
    x = np.ones((20, 30))
    a, _ = dl.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 3})
    b, _ = dl.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 3})
    c, _ = dl.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 4})
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    np.random.seed(7)  # without a seed the global RNG decides (cnnkit.seed_everything seeds it)
    d, _ = dl.dropout_forward(x, {"mode": "train", "p": 0.5})
    np.random.seed(7)
    e, _ = dl.dropout_forward(x, {"mode": "train", "p": 0.5})
    assert np.array_equal(d, e) and not np.array_equal(d, a)
    assert np.array_equal(dl.dropout_forward(x, {"mode": "train", "p": 1.0})[0], x)
    for bad in ({"mode": "train", "p": 0.0}, {"mode": "eval", "p": 0.5}):
        with pytest.raises(ValueError):
            dl.dropout_forward(x, bad)


def test_dropout_numeric_gradient_with_a_fixed_seed():
    rng = np.random.default_rng(5)
    x, dout = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    param = {"mode": "train", "p": 0.6, "seed": 11}
    _, cache = dl.dropout_forward(x, param)
    (num,) = _numeric_grads(lambda x: dl.dropout_forward(x, param)[0], [x], dout)
    assert rel_error(num, dl.dropout_backward(dout, cache)) < 1e-9


# ------------------------------------------------------------------------------------ batch norm --


def _bn_inputs(seed, N=64, D=7):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)) * rng.uniform(0.5, 4, D) + rng.uniform(-5, 5, D)
    gamma, beta = rng.uniform(0.5, 2, D), rng.standard_normal(D)
    running = {"running_mean": rng.standard_normal(D), "running_var": rng.uniform(0.5, 2, D)}
    return x, gamma, beta, running, rng


def _bn_forward_problems(forward, seed=0, momentum=0.9, eps=1e-5):
    """What a batchnorm forward gets wrong against F.batch_norm in training and eval mode."""
    x, gamma, beta, running, rng = _bn_inputs(seed)
    t_mean, t_var = _t(running["running_mean"]), _t(running["running_var"])
    param = {"mode": "train", "momentum": momentum, "eps": eps, **running}
    out, _ = forward(x, gamma, beta, param)
    t_out = F.batch_norm(
        _t(x), t_mean, t_var, _t(gamma), _t(beta), True, 1 - momentum, eps
    )  # updates t_mean, t_var in place
    problems = []
    if not _close(out, t_out.numpy()):
        problems.append("train output differs from F.batch_norm(training=True)")
    if not _close(param["running_mean"], t_mean.numpy()):
        problems.append("running mean after a train step differs")
    if not _close(param["running_var"], t_var.numpy()):
        problems.append("running var after a train step differs")
    x2 = rng.standard_normal(x.shape) * 2 + 1
    before = {k: np.array(param[k], copy=True) for k in ("running_mean", "running_var")}
    param["mode"] = "test"
    out2, _ = forward(x2, gamma, beta, param)
    t_out2 = F.batch_norm(_t(x2), t_mean, t_var, _t(gamma), _t(beta), False, 1 - momentum, eps)
    if not _close(out2, t_out2.numpy()):
        problems.append("test output differs from F.batch_norm(training=False)")
    if any(not np.array_equal(before[k], param[k]) for k in before):
        problems.append("test mode changed the running averages")
    return problems


def _bn_backward_problems(backward, seed=1, eps=1e-5):
    """What a batchnorm backward gets wrong against torch autograd through F.batch_norm."""
    x, gamma, beta, _, rng = _bn_inputs(seed, N=16)
    dout = rng.standard_normal(x.shape)
    _, cache = dl.batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
    tx, tg, tb = _t(x, True), _t(gamma, True), _t(beta, True)
    F.batch_norm(tx, None, None, tg, tb, True, 0.1, eps).backward(_t(dout))
    got = backward(dout, cache)
    names = ("dx", "dgamma", "dbeta")
    return [
        f"{n} differs from autograd"
        for n, g, want in zip(names, got, (tx.grad, tg.grad, tb.grad), strict=True)
        if not _close(g, want.numpy(), 1e-9)
    ]


def _bn_running_stats_in_training(x, gamma, beta, bn_param):
    out, cache = dl.batchnorm_forward(x, gamma, beta, dict(bn_param))  # updates a copy
    test = dict(bn_param, mode="test")
    out, _ = dl.batchnorm_forward(x, gamma, beta, test)  # normalizes with the running averages
    dl.batchnorm_forward(x, gamma, beta, bn_param)  # the real update, as the student did it
    return out, cache


def _bn_updates_at_test(x, gamma, beta, bn_param):
    out, cache = dl.batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param["mode"] == "test":
        m, mu = bn_param.get("momentum", 0.9), x.mean(axis=0)
        bn_param["running_mean"] = m * bn_param["running_mean"] + (1 - m) * mu
    return out, cache


def _bn_backward_no_stat_terms(dout, cache):
    dx, dgamma, dbeta = dl.batchnorm_backward(dout, cache)
    _, _, inv_std, _, gamma = cache
    return dout * gamma * inv_std, dgamma, dbeta  # as if mean and variance were constants


def test_batchnorm_forward_matches_torch_train_and_eval():
    for seed in range(3):
        assert _bn_forward_problems(dl.batchnorm_forward, seed=seed) == []
    assert _bn_forward_problems(dl.batchnorm_forward, momentum=0.5, eps=1e-3) == []


def test_batchnorm_defaults_and_input_errors():
    x, gamma, beta, _, _ = _bn_inputs(2, N=10, D=3)
    param = {"mode": "train"}
    out, _ = dl.batchnorm_forward(x, np.ones(3), np.zeros(3), param)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-5)  # eps = 1e-5 under the sqrt
    np.testing.assert_allclose(param["running_mean"], 0.1 * x.mean(axis=0))  # from zeros
    np.testing.assert_allclose(param["running_var"], 0.9 + 0.1 * x.var(axis=0, ddof=1))
    with pytest.raises(ValueError, match="at least 2"):
        dl.batchnorm_forward(x[:1], gamma, beta, {"mode": "train"})
    with pytest.raises(ValueError, match="mode"):
        dl.batchnorm_forward(x, gamma, beta, {"mode": "eval"})


@pytest.mark.parametrize("backward", [dl.batchnorm_backward, dl.batchnorm_backward_alt])
def test_batchnorm_backward_matches_autograd(backward):
    assert _bn_backward_problems(backward) == []


@pytest.mark.parametrize(
    "mutant, expected",
    [
        (_bn_running_stats_in_training, "train output differs"),
        (_bn_updates_at_test, "test mode changed the running averages"),
    ],
)
def test_batchnorm_forward_mutants_are_caught(mutant, expected):
    problems = _bn_forward_problems(mutant)
    assert any(expected in p for p in problems), problems


def test_batchnorm_backward_without_mean_and_variance_terms_is_caught():
    assert _bn_backward_problems(_bn_backward_no_stat_terms) == ["dx differs from autograd"]


def test_batchnorm_backward_numeric_gradients():
    x, gamma, beta, _, rng = _bn_inputs(3, N=5, D=4)
    dout = rng.standard_normal(x.shape)

    def fwd(x, gamma, beta):
        return dl.batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]

    _, cache = dl.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    nums = _numeric_grads(fwd, [x, gamma, beta], dout)
    for backward in (dl.batchnorm_backward, dl.batchnorm_backward_alt):
        for num, got in zip(nums, backward(dout, cache), strict=True):
            assert rel_error(num, got) < 1e-7


def test_batchnorm_graph_and_closed_form_agree():
    """The two backward passes give the same numbers on a realistic batch (speed: see the notebook)."""
    x, gamma, beta, _, rng = _bn_inputs(4, N=256, D=100)
    dout = rng.standard_normal(x.shape)
    _, cache = dl.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for a, b in zip(
        dl.batchnorm_backward(dout, cache), dl.batchnorm_backward_alt(dout, cache), strict=True
    ):
        assert rel_error(a, b) < 1e-9


# ------------------------------------------------------------------------------------ layer norm --


def _ln_problems(forward, backward, seed=0, eps=1e-5):
    rng = np.random.default_rng(seed)
    N, D = 6, 9
    x = rng.standard_normal((N, D)) * rng.uniform(0.5, 3, (N, 1)) + rng.uniform(-4, 4, (N, 1))
    gamma, beta, dout = rng.uniform(0.5, 2, D), rng.standard_normal(D), rng.standard_normal((N, D))
    out, cache = forward(x, gamma, beta, {"eps": eps})
    tx, tg, tb = _t(x, True), _t(gamma, True), _t(beta, True)
    t_out = F.layer_norm(tx, (D,), tg, tb, eps)
    t_out.backward(_t(dout))
    problems = [] if _close(out, t_out.detach().numpy()) else ["output differs from F.layer_norm"]
    got = backward(dout, cache)
    for name, g, want in zip(
        ("dx", "dgamma", "dbeta"), got, (tx.grad, tg.grad, tb.grad), strict=True
    ):
        if not _close(g, want.numpy(), 1e-9):
            problems.append(f"{name} differs from autograd")
    return problems


def test_layernorm_matches_torch():
    assert _ln_problems(dl.layernorm_forward, dl.layernorm_backward) == []


def test_layernorm_over_the_batch_axis_is_caught():
    def batch_axis(x, gamma, beta, ln_param):  # batch norm's axis kept by mistake
        return dl.batchnorm_forward(x, gamma, beta, {"mode": "train", **ln_param})

    problems = _ln_problems(batch_axis, dl.batchnorm_backward_alt)
    assert "output differs from F.layer_norm" in problems


def test_layernorm_numeric_gradients():
    rng = np.random.default_rng(2)
    x, gamma, beta = rng.standard_normal((4, 6)), rng.uniform(0.5, 2, 6), rng.standard_normal(6)
    dout = rng.standard_normal((4, 6))
    _, cache = dl.layernorm_forward(x, gamma, beta, {})
    nums = _numeric_grads(
        lambda x, g, b: dl.layernorm_forward(x, g, b, {})[0], [x, gamma, beta], dout
    )
    for num, got in zip(nums, dl.layernorm_backward(dout, cache), strict=True):
        assert rel_error(num, got) < 1e-7


# --------------------------------------------------------------------------- spatial batch norm --


def _spatial_bn_problems(forward, backward, seed=0, momentum=0.9, eps=1e-5):
    """What a spatial batchnorm pair gets wrong against nn.BatchNorm2d (train, eval, running stats,
    and autograd)."""
    rng = np.random.default_rng(seed)
    N, C, H, W = 4, 3, 5, 6
    x = rng.standard_normal((N, C, H, W)) * rng.uniform(0.5, 3, (1, C, 1, 1)) + rng.uniform(
        -3, 3, (1, C, 1, 1)
    )
    gamma, beta = rng.uniform(0.5, 2, C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    bn = nn.BatchNorm2d(C, eps=eps, momentum=1 - momentum).double()
    with torch.no_grad():
        bn.weight.copy_(_t(gamma))
        bn.bias.copy_(_t(beta))
        bn.running_mean.copy_(_t(rm))
        bn.running_var.copy_(_t(rv))
    param = {
        "mode": "train",
        "momentum": momentum,
        "eps": eps,
        "running_mean": rm,
        "running_var": rv,
    }
    out, cache = forward(x, gamma, beta, param)
    tx = _t(x, True)
    t_out = bn.train()(tx)
    dout = rng.standard_normal(x.shape)
    t_out.backward(_t(dout))
    problems = []
    if not _close(out, t_out.detach().numpy()):
        problems.append("train output differs from nn.BatchNorm2d")
    if not (
        _close(param["running_mean"], bn.running_mean.numpy())
        and _close(param["running_var"], bn.running_var.numpy())
    ):
        problems.append("running averages differ")
    got = backward(dout, cache)
    want = (tx.grad, bn.weight.grad, bn.bias.grad)
    for name, g, w in zip(("dx", "dgamma", "dbeta"), got, want, strict=True):
        if not _close(g, w.numpy(), 1e-9):
            problems.append(f"{name} differs from autograd")
    x2 = rng.standard_normal(x.shape)
    param["mode"] = "test"
    out2, _ = forward(x2, gamma, beta, param)
    with torch.no_grad():
        t_out2 = bn.eval()(_t(x2)).numpy()
    if not _close(out2, t_out2):
        problems.append("test output differs from nn.BatchNorm2d.eval()")
    return problems


def _spatial_bn_no_transpose(x, gamma, beta, bn_param):  # reshape(-1, C) mixes channels and pixels
    N, C, H, W = x.shape
    out, cache = dl.batchnorm_forward(x.reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, C, H, W), cache


def _spatial_bn_no_transpose_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = dl.batchnorm_backward_alt(dout.reshape(-1, C), cache)
    return dx.reshape(N, C, H, W), dgamma, dbeta


def _spatial_bn_per_position(x, gamma, beta, bn_param):  # statistics over N only, per (c, h, w)
    N, C, H, W = x.shape
    mu, var = x.mean(axis=0), x.var(axis=0)
    eps = bn_param.get("eps", 1e-5)
    _, cache = dl.spatial_batchnorm_forward(x, gamma, beta, bn_param)  # right running averages
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma[:, None, None] * x_hat + beta[:, None, None], cache


def test_spatial_batchnorm_matches_batchnorm2d():
    for seed in range(2):
        assert (
            _spatial_bn_problems(dl.spatial_batchnorm_forward, dl.spatial_batchnorm_backward, seed)
            == []
        )


@pytest.mark.parametrize(
    "forward, backward",
    [
        (_spatial_bn_no_transpose, _spatial_bn_no_transpose_backward),
        (_spatial_bn_per_position, dl.spatial_batchnorm_backward),
    ],
)
def test_spatial_batchnorm_over_the_wrong_axes_is_caught(forward, backward):
    problems = _spatial_bn_problems(forward, backward)
    assert "train output differs from nn.BatchNorm2d" in problems, problems


def test_spatial_batchnorm_numeric_gradients():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 3, 2))
    gamma, beta, dout = rng.uniform(0.5, 2, 3), rng.standard_normal(3), rng.standard_normal(x.shape)
    _, cache = dl.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})

    def fwd(x, gamma, beta):
        return dl.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]

    nums = _numeric_grads(fwd, [x, gamma, beta], dout)
    for num, got in zip(nums, dl.spatial_batchnorm_backward(dout, cache), strict=True):
        assert rel_error(num, got) < 1e-7


# ------------------------------------------------------------------------------------ group norm --


@pytest.mark.parametrize("G", [1, 2, 6])
def test_groupnorm_matches_torch_and_numeric_gradients(G):
    rng = np.random.default_rng(G)
    N, C, H, W = 2, 6, 3, 4
    x = rng.standard_normal((N, C, H, W)) * 2 + 1
    gamma, beta, dout = rng.uniform(0.5, 2, C), rng.standard_normal(C), rng.standard_normal(x.shape)
    out, cache = dl.spatial_groupnorm_forward(x, gamma, beta, G, {"eps": 1e-5})
    tx, tg, tb = _t(x, True), _t(gamma, True), _t(beta, True)
    t_out = F.group_norm(tx, G, tg, tb, 1e-5)
    t_out.backward(_t(dout))
    assert _close(out, t_out.detach().numpy())
    got = dl.spatial_groupnorm_backward(dout, cache)
    for g, want in zip(got, (tx.grad, tg.grad, tb.grad), strict=True):
        assert _close(g, want.numpy(), 1e-9)
    small = x[:1, :, :2, :2].copy()
    _, cache = dl.spatial_groupnorm_forward(small, gamma, beta, G, {})
    (num,) = _numeric_grads(
        lambda s: dl.spatial_groupnorm_forward(s, gamma, beta, G, {})[0],
        [small],
        dout[:1, :, :2, :2],
    )
    assert rel_error(num, dl.spatial_groupnorm_backward(dout[:1, :, :2, :2], cache)[0]) < 1e-7
    with pytest.raises(ValueError, match="divisible"):
        dl.spatial_groupnorm_forward(x, gamma, beta, 4, {})
