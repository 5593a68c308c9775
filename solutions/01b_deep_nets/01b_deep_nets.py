# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 01b_deep_nets

# %% [markdown]
# # Notebook 01b — Training deeper networks
#
# Notebook 01 trained a two-layer net, which learns with almost any sensible setting. Stack ten layers
# and it often does not learn at all. This notebook, the second of stage 01, builds in numpy and with the
# same layer contract as notebook 01's Q3 the tools that make deep nets trainable. Its questions go on
# from notebook 01's numbering (Q7–Q11, written questions 3 and 4).
#
# **What you will learn**
# - tanh and leaky ReLU, and the sigmoid's problems measured on numbers you compute (Q7);
# - weight initialization: what a small constant scale, Xavier/Glorot and Kaiming/He do to the
#   activations of a 10-layer net, and where Kaiming's factor 2 ("Xavier/2") comes from (Q8);
# - inverted dropout: train and test behaviour, seeded masks (Q9);
# - batch normalization, forward (batch statistics, running averages) and backward (through the full
#   graph, then in closed form), and layer normalization (Q10);
# - a fully connected net of any depth built from all of them, checked with the sanity ladder, and
#   what batch normalization does to the weight scales and learning rates a deep net tolerates (Q11).
#
# **Before you start.** Notebook 01 is behind you: its layers (`affine_forward`, `relu_forward`,
# `sigmoid_forward`, `softmax_loss`, ...) and update rules (`sgd_momentum`, `adam`) are imported from
# the course library below, where they are now filled in.
#
# **Time.** About 4–6 hours (batch normalization's backward pass is its longest step). Everything is
# numpy: a laptop CPU is all you need (a GPU does not help here). The whole notebook ran in 84 s on a
# 2-core cloud VM with one thread and nothing else running (the batch-normalization experiment 77 s);
# on the same VM busy with several other jobs that experiment took about 6 minutes.
#
# **How to submit.** Run the whole notebook top to bottom, then submit this `.ipynb` notebook (on
# Colab: *File → Download → Download .ipynb*). Do not rename the functions or classes you are asked to
# write: the grader calls them by name.
#
# **How you are graded.** `grader.check("qN")` runs the *public* tests of question N. **Hidden tests
# exist and are worth most of the points**: they call your functions on fresh inputs and check the same
# properties more thoroughly (other shapes, train and test mode, several steps, ...). Passing the public
# tests does not mean full marks — test your code yourself, for example with the numeric gradient checks
# below. The *written questions* are answered in a few sentences in the answer cell below each one
# (double-click it to edit); a TA grades them by hand, so refer to your own numbers and plots.

# %%
from cnnkit.colab import bootstrap

bootstrap("01b_deep_nets")

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import cnnkit
from cnnkit import data
from cnnkit.numeric.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
)
from cnnkit.numeric.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
)
from cnnkit.numeric.optim import adam, sgd_momentum
from cnnkit.numeric.solver import Solver

SEED = 0
cnnkit.seed_everything(SEED)
CI = cnnkit.ci_mode()  # True in automated runs: smaller data, shorter training
np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## Q7. Activations: tanh and leaky ReLU
#
# The lecture lists the sigmoid's three problems: saturated neurons "kill" the gradients, its outputs
# are not zero-centred, and `exp()` is a bit expensive. Two alternatives:
#
# - **tanh**: $\tanh(x) \in (-1, 1)$, zero-centred, but it still saturates. Like the sigmoid of notebook 01's Q3 its
#   local gradient $1 - \tanh^2(x)$ needs only the **output**: cache the output and compute the backward
#   pass from it.
# - **leaky ReLU**: $x$ where $x > 0$ and $\alpha x$ elsewhere (the lecture draws $\max(0.1x, x)$; the
#   default here is torch's $\alpha = 0.01$). Negative inputs keep a small slope, so a unit never stops
#   passing gradient completely.
#
# Write each function in its own cell, with the same contract as notebook 01's Q3.

# %% [raw]
# # BEGIN QUESTION
# name: q7

# %%
# EXERCISE cnnkit.numeric.deep_layers.tanh_forward


# %%
# EXERCISE cnnkit.numeric.deep_layers.tanh_backward


# %%
# EXERCISE cnnkit.numeric.deep_layers.leaky_relu_forward


# %%
# EXERCISE cnnkit.numeric.deep_layers.leaky_relu_backward


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q7_activations_public(tanh_forward, tanh_backward, leaky_relu_forward, leaky_relu_backward):
    import math

    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array

    def grad_error(a, b):  # relative error of the whole array: tiny entries do not dominate
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return float("inf")
        return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))

    # By hand: tanh(x) = (e^2x - 1) / (e^2x + 1), so tanh(log 2) = 3/5 and tanh(-log 3) = -4/5.
    out, _ = tanh_forward(np.array([[0.0, math.log(2), -math.log(3)]]))
    checks.close("tanh out", out, np.array([[0.0, 0.6, -0.8]]), rtol=1e-7, atol=1e-10)
    out, _ = leaky_relu_forward(np.array([[-2.0, -0.5, 0.5, 3.0]]), 0.1)
    checks.close("leaky relu out (alpha 0.1)", out, np.array([[-0.2, -0.05, 0.5, 3.0]]), rtol=1e-7, atol=1e-10)
    rng = checks.rng()
    x = rng.standard_normal((4, 5)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink of the leaky relu
    dout = rng.standard_normal((4, 5))
    pairs = [
        ("tanh", lambda v: tanh_forward(v), tanh_backward),
        ("leaky relu", lambda v: leaky_relu_forward(v, 0.2), leaky_relu_backward),
    ]
    for name, fwd, bwd in pairs:
        _, cache = fwd(x)
        dx = bwd(dout, cache)
        checks.equal(f"{name} dx shape", np.shape(dx), x.shape)
        err = grad_error(dx, eval_numerical_gradient_array(lambda v, fwd=fwd: fwd(v)[0], x, dout))
        checks.true(f"{name} dx matches numeric", err < 1e-7, f"{name} dx: relative error {err:.1e} vs the numeric gradient")


# %% [raw]
# # END QUESTION

# %% [markdown]
# ### The sigmoid's problems, in numbers
# Notebook 01's `sigmoid_forward`/`sigmoid_backward` (its Q3, imported above) and your tanh, on numbers you compute. First the
# local gradients: how large can they be, and how much is left for large inputs? Then **saturation**:
# the share of units whose local gradient is below 1% when their input has a standard deviation of 5
# (large weights give such inputs). Then the best case for a stack of 10 sigmoid layers: the product of
# ten local gradients, each at its maximum. Last, **non-zero-centred outputs**: a layer whose inputs are
# all positive (sigmoid outputs) gets a weight gradient $dW = x^T\,d\text{out}$ whose every column has
# one sign for a single example, so all the weights into one unit must move up together or down
# together (the zig-zag path of the lecture).

# %%
grid = np.linspace(-10, 10, 2001)
sig, sig_cache = sigmoid_forward(grid)
sig_local = sigmoid_backward(np.ones_like(grid), sig_cache)
tanh_out, tanh_cache = tanh_forward(grid)
tanh_local = tanh_backward(np.ones_like(grid), tanh_cache)
for name, local in [("sigmoid", sig_local), ("tanh", tanh_local)]:
    at = {v: local[np.argmin(np.abs(grid - v))] for v in (0, 2, 5, 10)}
    print(f"{name:>7} local gradient: max {local.max():.4f} at x = {grid[local.argmax()]:+.1f};"
          + "".join(f"  x={v}: {g:.2e}" for v, g in at.items()))
rng = np.random.default_rng(SEED)
pre = 5 * rng.standard_normal(100_000)
sat_sig = np.mean(sigmoid_backward(np.ones_like(pre), sigmoid_forward(pre)[1]) < 0.01)
sat_tanh = np.mean(tanh_backward(np.ones_like(pre), tanh_forward(pre)[1]) < 0.01)
print(f"inputs with std 5: local gradient < 1% for {sat_sig:.0%} of sigmoid units, {sat_tanh:.0%} of tanh units")
print(f"10 sigmoid layers, each at its best local gradient: the gradient is scaled by at most {sig_local.max() ** 10:.1e}")

x_one = rng.standard_normal((1, 50))
dout_one = rng.standard_normal((1, 20))
for name, fwd in [("sigmoid", sigmoid_forward), ("tanh", tanh_forward)]:
    h_one, _ = fwd(x_one)
    _, cache_one = affine_forward(h_one, rng.standard_normal((50, 20)), np.zeros(20))
    _, dW_one, _ = affine_backward(dout_one, cache_one)
    one_sign = np.mean(np.all(dW_one > 0, axis=0) | np.all(dW_one < 0, axis=0))
    print(f"{name:>7} inputs: share positive {np.mean(h_one > 0):.0%}; columns of dW with a single sign: {one_sign:.0%}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
lrelu_out, lrelu_cache = leaky_relu_forward(grid, 0.1)
curves_act = {"sigmoid": (sig, sig_local), "tanh": (tanh_out, tanh_local),
              "leaky ReLU (0.1)": (lrelu_out, leaky_relu_backward(np.ones_like(grid), lrelu_cache))}
for name, (out, local) in curves_act.items():
    axes[0].plot(grid, out, label=name)
    axes[1].plot(grid, local, label=name)
axes[0].set_ylim(-2, 2)
axes[0].set_title("activation")
axes[1].set_title("local gradient")
for ax in axes:
    ax.set_xlabel("x")
    ax.legend()
plt.tight_layout()

# %% [markdown]
# ## Q8. Weight initialization
#
# Every weight matrix $W$ of shape $(D_{in}, D_{out})$ starts from a zero-mean normal distribution; the
# scheme sets its standard deviation:
#
# - **small**: a constant, `weight_scale` (what notebook 01's `TwoLayerNet` used);
# - **Xavier/Glorot** (Glorot & Bengio, 2010): $\sqrt{2 / (D_{in} + D_{out})}$, which for a square layer
#   is $1/\sqrt{D_{in}}$: a unit sums $D_{in}$ terms, so weights of variance $1/D_{in}$ keep the variance
#   of a linear layer's output equal to its input's;
# - **Kaiming/He** (He et al., 2015): $\text{gain}/\sqrt{D_{in}}$, where the gain belongs to the
#   activation after the layer — $\sqrt 2$ for ReLU, $\sqrt{2/(1+\alpha^2)}$ for a leaky ReLU of slope
#   $\alpha$, $5/3$ for tanh, $1$ for a linear layer (the values of `torch.nn.init.calculate_gain`).
#
# The lecture's ResNet recipe says only **"Xavier/2 initialization from He et al."** — no formula. It
# means Xavier's $1/\sqrt{D_{in}}$ with the fan-in **halved**: $1/\sqrt{D_{in}/2} = \sqrt{2/D_{in}}$,
# i.e. Kaiming with ReLU's gain $\sqrt2$. The variance doubles; the standard deviation is *not* halved.
# The reason is below, computed: a ReLU zeroes half of a zero-mean input, and the weights must make up
# for it. Draw the weights with the generator you are given (`rng.standard_normal`).

# %% [raw]
# # BEGIN QUESTION
# name: q8

# %%
# EXERCISE cnnkit.numeric.weight_init.init_gain


# %%
# EXERCISE cnnkit.numeric.weight_init.init_weights


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q8_init_public(init_gain, init_weights):
    import numpy as np

    from cnnkit import checks

    rng = checks.rng()
    W = init_weights(300, 200, "small", rng, weight_scale=0.05)
    checks.equal("shape of init_weights(300, 200, ...)", np.shape(W), (300, 200))
    checks.close("std of 'small' with weight_scale 0.05", float(np.std(W)), 0.05, rtol=0.05)
    # The lecture's form for a square layer: std 1 / sqrt(D_in).
    W = init_weights(400, 400, "xavier", rng)
    checks.close("std of 'xavier' for a 400 x 400 layer", float(np.std(W)), 1 / 20, rtol=0.05)
    # What Kaiming is for: the mean square of the activations survives a ReLU layer.
    x = rng.standard_normal((1000, 400))
    W = init_weights(400, 400, "kaiming", rng, "relu")
    h = np.maximum(x @ W, 0)
    checks.close("mean square of ReLU(x W) over that of x, Kaiming", float(np.mean(h**2) / np.mean(x**2)), 1.0, rtol=0.1)
    checks.close("init_gain('linear')", init_gain("linear"), 1.0, rtol=1e-7)


# %% [raw]
# # END QUESTION

# %% [markdown]
# ### A 10-layer net at initialization
# Push 1000 standard-normal inputs (500 in CI mode) through 10 layers of width 500 (no biases, no training) and look at
# every layer's activations, for three schemes and two activations. The standard deviation per layer
# is the plot to read (log scale); the histograms show the whole distribution of a few layers.

# %% tags=["otter_ignore"]
def deep_activations(X, scheme, nonlinearity, weight_scale=1e-2, depth=10, width=500, seed=SEED):
    """The activations of each layer of a `depth`-layer stack of affine + activation layers."""
    rng = np.random.default_rng(seed)
    forward = {"relu": relu_forward, "tanh": tanh_forward}[nonlinearity]
    h, layers = X, []
    for _ in range(depth):
        W = init_weights(h.shape[1], width, scheme, rng, nonlinearity, weight_scale)
        h, _ = forward(h @ W)
        layers.append(h)
    return layers


def layer_summary(layers):
    """Each layer's std, and every 10th activation (for the histograms: the same shape, less memory)."""
    return [h.std() for h in layers], [h.ravel()[::10].copy() for h in layers]


X_deep = np.random.default_rng(SEED).standard_normal((500 if CI else 1000, 500))
runs = {(s, nl): layer_summary(deep_activations(X_deep, s, nl)) for nl in ("relu", "tanh") for s in ("small", "xavier", "kaiming")}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for ax, nl in zip(axes, ("relu", "tanh")):
    for s in ("small", "xavier", "kaiming"):
        ax.semilogy(range(1, 11), runs[s, nl][0], "o-", label=s + (" (std 0.01)" if s == "small" else ""))
    ax.set_xlabel("layer")
    ax.set_ylabel("std of the activations")
    ax.set_title(f"10 layers of {nl}")
    ax.legend()
plt.tight_layout()
for (s, nl), (stds, _) in runs.items():
    print(f"{nl:>4} {s:>8}: std per layer " + " ".join(f"{v:.1e}" for v in stds))

# %% tags=["otter_ignore"]
fig, axes = plt.subplots(len(runs), 4, figsize=(12, 1.6 * len(runs)), sharey="row")
for row, ((s, nl), (stds, samples)) in zip(axes, runs.items()):
    for ax, k in zip(row, (0, 3, 6, 9)):
        ax.hist(samples[k], bins=50)
        ax.set_yticks([])
        ax.set_title(f"{nl}, {s}: layer {k + 1} (std {stds[k]:.1e})", fontsize=8)
plt.tight_layout()

# %% [markdown]
# **Why the factor 2 ("Xavier/2").** A ReLU keeps the positive half of a zero-mean, symmetric input, so
# its output's mean square is half the input's variance. With Xavier's weights (variance $1/D_{in}$) the
# pre-activations keep the variance of the previous layer's outputs, the ReLU halves it, and the
# standard deviation shrinks by $1/\sqrt2$ per layer; Kaiming's variance $2/D_{in}$ doubles it back.
# Misreading "Xavier/2" as *half of Xavier's standard deviation* shrinks it by $1/(2\sqrt2)$ per layer
# instead. Computed:

# %% tags=["otter_ignore"]
z = np.random.default_rng(SEED).standard_normal(200_000)
print(f"mean of relu(z)^2 for z ~ N(0, 1): {np.mean(relu_forward(z)[0] ** 2):.4f}   (Var(z) / 2 = {z.var() / 2:.4f})")
half_std, _ = layer_summary(deep_activations(X_deep, "small", "relu", weight_scale=0.5 / np.sqrt(500)))
for name, stds in [("xavier", runs["xavier", "relu"][0]), ("kaiming", runs["kaiming", "relu"][0]),
                   ("half of xavier's std", half_std)]:
    ratio = (stds[-1] / stds[0]) ** (1 / 9)
    print(f"ReLU, {name:>20}: std shrinks by {ratio:.3f} per layer; layer 10 / layer 1 = {stds[-1] / stds[0]:.1e}")
print(f"1 / sqrt(2) = {1 / np.sqrt(2):.3f}, 1 / (2 sqrt(2)) = {1 / (2 * np.sqrt(2)):.3f}")

# %% [raw]
# # BEGIN QUESTION
# name: w3
# points: 3
# manual: true

# %% [markdown]
# ### Written question 3 (3 points) — Initialization: the collapse and the fix
# Look at your two plots of the standard deviation per layer and at the histograms. (a) With the small
# constant scale 0.01, what happens to the activations from layer 1 to layer 10, for ReLU and for tanh?
# Quote your numbers and explain, from the variance of one layer's output, why it happens. (b) What
# does this mean for the gradients of the first layers' weights (recall $dW = x^T\,d\text{out}$ from
# notebook 01's Q3)? (c) Which scheme keeps the statistics roughly constant for ReLU, and what goes wrong with Xavier
# there? Use the printed per-layer factors to explain what the lecture's "Xavier/2" fixes.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** (a) With std 0.01 and $D_{in} = 500$ each layer multiplies the variance by about
# $500 \cdot 10^{-4} = 0.05$ (times a further 1/2 for ReLU), so the std falls by a roughly constant
# factor per layer: to about 1e-8 (ReLU) and 1e-7 (tanh) at layer 10 in the printed table; the
# histograms collapse to a spike at 0. (b) $dW = x^T\,d\text{out}$ is proportional to the layer's input
# activations and the backward pass multiplies by the same small weights, so the gradients vanish too
# and the deep net does not learn. (c) Kaiming keeps the ReLU std near its first-layer value (about
# 0.8 at every layer). Xavier keeps the variance of a *linear* layer, but ReLU halves the mean square,
# so the std shrinks by about $1/\sqrt2 \approx 0.71$ per layer (printed factor), to a few percent of
# its start after 10 layers; "Xavier/2" halves the fan-in, i.e. doubles the variance to $2/D_{in}$,
# which exactly undoes the ReLU's halving (factor about 1.0 per layer).
#
# **Rubric (3 points).**
# - 1 point: the collapse with the small scale, with the student's numbers and the per-layer variance
#   factor ($D_{in}\sigma^2$, times 1/2 for ReLU) as the reason.
# - 1 point: vanishing activations imply vanishing weight gradients ($dW = x^T\,d\text{out}$), so the
#   early layers do not learn.
# - 1 point: Kaiming is stable for ReLU; Xavier shrinks by about $1/\sqrt2$ per layer because ReLU halves
#   the mean square; "Xavier/2" = variance $2/D_{in}$ (not half the std) compensates.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Q9. Inverted dropout
#
# Dropout (the lecture: it "forces the network to have a redundant representation"; AlexNet used it with
# 0.5) zeroes each unit of a layer at random during training. In **inverted dropout** each unit is
# **kept** with probability $p$ and the kept units are divided by $p$: the expected activation is
# unchanged, so at test time the layer is the identity and nothing has to be rescaled.
#
# - `dropout_param['p']` is the probability of **keeping** a unit (torch's `F.dropout` takes the
#   probability of *dropping* one: `F.dropout(x, 1 - p)`).
# - Train mode: build a `mask` shaped like `x` that is $1/p$ for the kept units and $0$ for the
#   others, and return `x * mask`. Draw the uniform numbers from `np.random.default_rng(seed)` when
#   `dropout_param` has a `'seed'` (the same mask on every call: needed for gradient checks), else from
#   numpy's global generator (`np.random.random`).
# - Test mode: `out` is `x` and `mask` is `None`.
# - Backward: the gradient flows through the kept units, scaled like them; in test mode it passes
#   unchanged.
#
# The first and last lines (checking `p`, building the cache) are given.

# %% [raw]
# # BEGIN QUESTION
# name: q9

# %%
# EXERCISE cnnkit.numeric.deep_layers.dropout_forward


# %%
# EXERCISE cnnkit.numeric.deep_layers.dropout_backward


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q9_dropout_public(dropout_forward, dropout_backward):
    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array

    rng = checks.rng()
    x = rng.standard_normal((200, 300)) + 2.0
    out, _ = dropout_forward(x, {"mode": "test", "p": 0.6})
    checks.close("test mode output", out, x, rtol=1e-12, atol=0)
    out, _ = dropout_forward(x, {"mode": "train", "p": 0.6, "seed": 1})
    checks.close("share of units kept with p = 0.6", float(np.mean(out != 0)), 0.6, rtol=0.03)
    checks.close("mean activation in train mode / mean input", float(out.mean() / x.mean()), 1.0, rtol=0.03)
    again, _ = dropout_forward(x, {"mode": "train", "p": 0.6, "seed": 1})
    same = np.shape(out) == np.shape(again) and not np.any(np.asarray(out) != np.asarray(again))
    checks.true("the same seed gives the same output", same, "a 'seed' in dropout_param must fix the mask")
    # A fixed seed fixes the mask, so the numeric gradient is well defined.
    xs, dout = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    param = {"mode": "train", "p": 0.7, "seed": 3}
    _, cache = dropout_forward(xs, param)
    dx = dropout_backward(dout, cache)
    num = eval_numerical_gradient_array(lambda v: dropout_forward(v, param)[0], xs, dout)
    err = float(np.linalg.norm(np.asarray(dx) - num) / max(1e-12, np.linalg.norm(dx) + np.linalg.norm(num))) if np.shape(dx) == num.shape else float("inf")
    checks.true("dx matches numeric", err < 1e-8, f"dx: relative error {err:.1e} vs the numeric gradient")


# %% [raw]
# # END QUESTION

# %% [markdown]
# **Train and test, computed.** One input row, many seeded masks: the average over masks of the train
# output should approach the input (what the test output is). Without the $1/p$ ("vanilla" dropout)
# the average would be $p$ times the input, and the network would see activations of a different size
# at test time unless it rescaled them there.

# %%
x_row = np.random.default_rng(SEED).uniform(0.5, 2.0, size=(1, 8))
p_keep = 0.5
masks_out = np.concatenate([dropout_forward(x_row, {"mode": "train", "p": p_keep, "seed": s})[0] for s in range(4000)])
test_out, _ = dropout_forward(x_row, {"mode": "test", "p": p_keep})
print("input               ", x_row.ravel().round(3))
print("test output         ", test_out.ravel().round(3))
print("mean of 4000 masks  ", masks_out.mean(axis=0).round(3))
print(f"largest relative gap between the train average and the input: {np.max(np.abs(masks_out.mean(axis=0) / x_row - 1)):.3f}")
print(f"share of units kept: {np.mean(masks_out != 0):.3f} (p = {p_keep})")

# %% [markdown]
# ## Q10. Batch normalization
#
# Batch normalization (the ResNet recipe: "Batch Normalization after every CONV layer") normalizes each
# feature $j$ of an $(N, D)$ minibatch with the batch's own statistics, then lets the net scale and
# shift it back with learned $\gamma_j, \beta_j$:
#
# $$\mu_j = \frac1N\sum_i x_{ij},\quad \sigma_j^2 = \frac1N\sum_i (x_{ij} - \mu_j)^2,\quad
# \hat x_{ij} = \frac{x_{ij} - \mu_j}{\sqrt{\sigma_j^2 + \epsilon}},\quad y_{ij} = \gamma_j \hat x_{ij} + \beta_j .$$
#
# At test time a single image has no batch, so the layer keeps **running averages** in `bn_param`,
# updated at every training step: $\text{running} \leftarrow m\cdot\text{running} + (1 - m)\cdot$ batch
# statistic, with `momentum` $m = 0.9$ and, for the variance, the unbiased $\frac{N}{N-1}\sigma_j^2$ (as
# torch's `BatchNorm` does). **Test mode** normalizes with the running averages and updates nothing.
# The lines that read `bn_param` and store the running averages back are given.
#
# Two backward passes, each in its own function:
#
# 1. `batchnorm_backward`: walk back through the computational graph node by node: stage the forward
#    pass as small steps ($\mu$, $x - \mu$, $\sigma^2$, $\sqrt{\sigma^2 + \epsilon}$, its inverse,
#    $\hat x$, $y$), cache them, and apply the gate rules of notebook 01's Q1 in reverse. Each $x_{ij}$ reaches the output
#    directly and through $\mu_j$ and $\sigma^2_j$: the three paths add up.
# 2. `batchnorm_backward_alt`: work the sums out on paper first. The result fits on one line:
#    $dx = \frac{\gamma}{N\sqrt{\sigma^2+\epsilon}}\left(N\,dy - \sum_i dy_i - \hat x \sum_i dy_i\,\hat x_i\right)$.
#
# Then **layer normalization**: each *example* normalized over its own $D$ features (the same
# formulas with the axes swapped), no running averages, train and test alike. Its backward pass is the
# closed form with the roles of the axes swapped (mind that $\gamma$ now multiplies along the
# normalized axis).

# %% [raw]
# # BEGIN QUESTION
# name: q10

# %%
# EXERCISE cnnkit.numeric.deep_layers.batchnorm_forward


# %%
# EXERCISE cnnkit.numeric.deep_layers.batchnorm_backward


# %%
# EXERCISE cnnkit.numeric.deep_layers.batchnorm_backward_alt


# %%
# EXERCISE cnnkit.numeric.deep_layers.layernorm_forward


# %%
# EXERCISE cnnkit.numeric.deep_layers.layernorm_backward


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q10_batchnorm_forward_public(batchnorm_forward):
    import numpy as np

    from cnnkit import checks

    rng = checks.rng()
    x = rng.standard_normal((200, 3)) * np.array([4.0, 0.5, 2.0]) + np.array([-3.0, 1.0, 10.0])
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, param)
    checks.close("train mode: per-feature mean of the output", out.mean(axis=0), beta, rtol=1e-6, atol=1e-6)
    checks.close("train mode: per-feature std of the output", out.std(axis=0), gamma, rtol=1e-4)
    for key in ("running_mean", "running_var"):
        checks.equal(f"bn_param['{key}'] shape after a train step", np.shape(param.get(key)), (3,))
    # Test mode by hand: running mean [1, -2], running variance 4 and 1/4 (minus eps), so the input
    # [[3, -1]] normalizes to [[1, 2]]; gamma [2, 1] and beta [0, 1] give [[2, 3]].
    eps = 1e-5
    param = {"mode": "test", "eps": eps, "running_mean": np.array([1.0, -2.0]), "running_var": np.array([4.0, 0.25]) - eps}
    out, _ = batchnorm_forward(np.array([[3.0, -1.0]]), np.array([2.0, 1.0]), np.array([0.0, 1.0]), param)
    checks.close("test mode output of the hand example", out, np.array([[2.0, 3.0]]), rtol=1e-7, atol=1e-10)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q10_batchnorm_backward_public(batchnorm_forward, batchnorm_backward, batchnorm_backward_alt):
    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array

    def grad_error(a, b):  # relative error of the whole array: tiny entries do not dominate
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return float("inf")
        return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))

    rng = checks.rng()
    x = rng.standard_normal((6, 4)) * 3 + 1
    gamma, beta, dout = rng.uniform(0.5, 2, 4), rng.standard_normal(4), rng.standard_normal((6, 4))

    def fwd(x_, g_, b_):
        return batchnorm_forward(x_, g_, b_, {"mode": "train"})[0]

    numeric = {
        "dx": eval_numerical_gradient_array(lambda v: fwd(v, gamma, beta), x, dout),
        "dgamma": eval_numerical_gradient_array(lambda v: fwd(x, v, beta), gamma, dout),
        "dbeta": eval_numerical_gradient_array(lambda v: fwd(x, gamma, v), beta, dout),
    }
    for name, backward in [("batchnorm_backward", batchnorm_backward), ("batchnorm_backward_alt", batchnorm_backward_alt)]:
        _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
        for key, got in zip(("dx", "dgamma", "dbeta"), backward(dout, cache)):
            err = grad_error(got, numeric[key])
            checks.true(f"{name}: {key} matches numeric", err < 1e-6, f"{name} {key}: relative error {err:.1e} vs the numeric gradient")


# %%
""" # BEGIN TEST CONFIG
points: 0.5
hidden: false
""" # END TEST CONFIG
def test_q10_layernorm_public(layernorm_forward, layernorm_backward):
    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array

    rng = checks.rng()
    x = rng.standard_normal((3, 50)) * np.array([[1.0], [5.0], [0.2]]) + np.array([[2.0], [-4.0], [0.0]])
    out, _ = layernorm_forward(x, np.ones(50), np.zeros(50), {})
    checks.close("per-example mean of the output", out.mean(axis=1), np.zeros(3), rtol=0, atol=1e-6)
    checks.close("per-example std of the output", out.std(axis=1), np.ones(3), rtol=1e-3)
    xs, gamma, beta = rng.standard_normal((4, 6)), rng.uniform(0.5, 2, 6), rng.standard_normal(6)
    dout = rng.standard_normal((4, 6))
    _, cache = layernorm_forward(xs, gamma, beta, {})
    dx = layernorm_backward(dout, cache)[0]
    num = eval_numerical_gradient_array(lambda v: layernorm_forward(v, gamma, beta, {})[0], xs, dout)
    err = float(np.linalg.norm(np.asarray(dx) - num) / max(1e-12, np.linalg.norm(dx) + np.linalg.norm(num))) if np.shape(dx) == num.shape else float("inf")
    checks.true("layernorm dx matches numeric", err < 1e-6, f"dx: relative error {err:.1e} vs the numeric gradient")


# %% [raw]
# # END QUESTION

# %% [markdown]
# **The two backward passes compared.** Both must give the same numbers; the closed form makes fewer
# passes over the data. The cell times each one on a batch of 256 examples with 512 features (your
# numbers depend on your machine).

# %%
import time

rng = np.random.default_rng(SEED)
x_bn = rng.standard_normal((256, 512)) * 2 + 1
gamma_bn, beta_bn = rng.uniform(0.5, 2, 512), rng.standard_normal(512)
dout_bn = rng.standard_normal((256, 512))
_, cache_bn = batchnorm_forward(x_bn, gamma_bn, beta_bn, {"mode": "train"})
grads_graph = batchnorm_backward(dout_bn, cache_bn)
grads_alt = batchnorm_backward_alt(dout_bn, cache_bn)
for name, a, b in zip(("dx", "dgamma", "dbeta"), grads_graph, grads_alt):
    print(f"{name}: relative difference between the two backward passes {rel_error(a, b):.1e}")
seconds = {}
for backward in (batchnorm_backward, batchnorm_backward_alt):
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(20):
            backward(dout_bn, cache_bn)
        best = min(best, (time.perf_counter() - start) / 20)
    seconds[backward.__name__] = best
    print(f"{backward.__name__:>22}: {best * 1e3:.2f} ms per call (best of 5 x 20)")
print(f"closed form speed-up: {seconds['batchnorm_backward'] / seconds['batchnorm_backward_alt']:.1f}x")

# %% [markdown]
# ## Q11. A fully connected net of any depth
#
# `FullyConnectedNet(hidden_dims, ...)` stacks $L - 1$ hidden layers and a last affine layer:
# $\{\text{affine} - [\text{batch/layer norm}] - \text{ReLU} - [\text{dropout}]\} \times (L-1) -
# \text{affine} - \text{softmax}$, built from your own layers. Its parameters are named by layer,
# $i = 1..L$: `W{i}`, `b{i}`, and for the hidden layers with normalization `gamma{i}` (ones) and
# `beta{i}` (zeros). Initialize every `W{i}` with your `init_weights(..., rng, ...)` and the given `rng`
# (Kaiming with the ReLU's gain for the hidden layers, `'linear'` for the last one), biases with zeros.
# `loss(X)` without labels runs in **test mode** (dropout off, batch norm with its running averages);
# `loss(X, y)` in **train mode**. L2 regularization covers every `W{i}`, not the biases, gammas or betas.
#
# Given: the bookkeeping (`self.num_layers`, `self.dropout_param` with the seed, one `bn_param` per
# hidden layer in `self.bn_params`, the modes). You write the parameters and the forward and backward
# passes (cache what each layer returns, then walk the layers backwards). Use `batchnorm_backward_alt`.
# `Solver` trains it like notebook 01's `TwoLayerNet`.

# %% [raw]
# # BEGIN QUESTION
# name: q11

# %%
# EXERCISE cnnkit.numeric.fc_net.FullyConnectedNet


# %%
""" # BEGIN TEST CONFIG
points: 0.5
hidden: false
""" # END TEST CONFIG
def test_q11_params_public(FullyConnectedNet):
    import numpy as np

    from cnnkit import checks

    net = FullyConnectedNet([6, 5], input_dim=12, num_classes=4, normalization="batchnorm", dtype=np.float64, seed=0)
    shapes = {k: tuple(np.shape(v)) for k, v in net.params.items()}
    want = {"W1": (12, 6), "b1": (6,), "gamma1": (6,), "beta1": (6,), "W2": (6, 5), "b2": (5,),
            "gamma2": (5,), "beta2": (5,), "W3": (5, 4), "b3": (4,)}
    checks.equal("parameter names", sorted(shapes), sorted(want))
    for k, shape in want.items():
        checks.equal(f"{k} shape", shapes.get(k), shape)
    net = FullyConnectedNet([200, 100], input_dim=300, num_classes=10, init="small", weight_scale=0.03, seed=0)
    checks.close("std of W2 ('small', weight_scale 0.03)", float(np.std(net.params["W2"])), 0.03, rtol=0.05)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q11_loss_and_numeric_gradients_public(FullyConnectedNet):
    import math

    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient

    rng = checks.rng()
    X = rng.standard_normal((40, 20))
    y = np.arange(40) % 10
    net = FullyConnectedNet([30, 30, 30], input_dim=20, num_classes=10, weight_scale=1e-3, dtype=np.float64, seed=1)
    loss, _ = net.loss(X, y)
    checks.close("initial loss of a net with tiny weights", loss, math.log(10), rtol=1e-3)
    # Batch norm, dropout with a fixed seed (a fixed mask) and regularization, in float64.
    net = FullyConnectedNet([7, 6], input_dim=8, num_classes=4, dropout_keep_ratio=0.75, normalization="batchnorm",
                            reg=0.1, init="kaiming", dtype=np.float64, seed=2)
    Xs, ys = rng.standard_normal((6, 8)), rng.integers(4, size=6)
    _, grads = net.loss(Xs, ys)
    for k in sorted(net.params):
        num = eval_numerical_gradient(lambda _: net.loss(Xs, ys)[0], net.params[k])
        got = np.asarray(grads.get(k), dtype=np.float64)
        if got.shape != num.shape:
            checks.true(f"d{k} shape", False, f"grads['{k}'] has shape {got.shape}, the parameter {num.shape}")
        err = float(np.max(np.abs(got - num)))  # absolute: a hidden bias before batch norm has gradient 0
        checks.true(f"d{k} matches numeric", err < 1e-6, f"grads['{k}']: largest difference {err:.1e} from the numeric gradient")


# %% [raw]
# # END QUESTION

# %% [markdown]
# ### The sanity ladder, for a deep net
# The same three rungs as for notebook 01's two-layer net: the initial loss of a 5-layer net with small weights,
# a float64 gradient check with batch normalization, dropout (its seed fixes the mask) and
# regularization on, then overfitting 50 images. A hidden bias right before batch norm gets a zero
# gradient (the mean subtraction cancels it), so the check prints absolute differences for those.

# %% tags=["otter_ignore"]
small = data.load("fashion_mnist", "train", n=50)  # the 50 images of notebook 01's sanity ladder
deep = FullyConnectedNet([100] * 4, input_dim=28 * 28, num_classes=10, weight_scale=1e-3, seed=SEED)
loss, _ = deep.loss(small.X, small.y)
print(f"deep initial loss {loss:.4f}   (log 10 = {math.log(10):.4f})")

# %%
rng = np.random.default_rng(SEED)
X_tiny, y_tiny = rng.standard_normal((6, 10)), rng.integers(4, size=6)
for norm in (None, "batchnorm", "layernorm"):
    tiny = FullyConnectedNet([8, 7], input_dim=10, num_classes=4, dropout_keep_ratio=0.7, normalization=norm,
                             reg=0.2, init="kaiming", dtype=np.float64, seed=SEED)
    _, grads = tiny.loss(X_tiny, y_tiny)
    errors = []
    for name in sorted(tiny.params):
        num = eval_numerical_gradient(lambda _: tiny.loss(X_tiny, y_tiny)[0], tiny.params[name])
        if np.abs(num).max() < 1e-9:
            errors.append(f"{name} |diff| {np.abs(grads[name] - num).max():.0e}")
        else:
            errors.append(f"{name} {rel_error(grads[name], num):.0e}")
    print(f"{norm}: " + ", ".join(errors))

# %% tags=["otter_ignore"]
deep = FullyConnectedNet([100] * 4, input_dim=28 * 28, num_classes=10, init="kaiming", seed=SEED)
overfit_deep = Solver(
    deep,
    {"X_train": small.X, "y_train": small.y, "X_val": small.X, "y_val": small.y},
    update_rule=adam,
    optim_config={"learning_rate": 1e-3},
    batch_size=25,
    num_epochs=30,
    progress=False,
    seed=SEED,
)
overfit_deep.train()
print(f"deep net, training accuracy on 50 examples after {len(overfit_deep.loss_history)} steps:", overfit_deep.train_acc_history[-1])

# %% [markdown]
# ### Batch normalization against bad weight scales and large learning rates
# A net of six hidden layers of 100 units on a subset of Fashion-MNIST, trained with and without batch
# normalization: first with the 'small' initialization at weight scales from $10^{-4}$ to $1$ (Adam,
# learning rate $10^{-3}$), then with Kaiming's initialization at learning rates from $10^{-3}$ to $3$
# (SGD with momentum): 28 short runs, 1–6 minutes on one CPU core (much less in CI mode). The plots
# show the best validation accuracy of each run and its training loss over the last steps; a red cross
# marks a run whose loss became infinite or nan (it diverged).

# %% tags=["otter_ignore"]
bn_train = data.load("fashion_mnist", "train", n=1000 if CI else 5000)
bn_val = data.load("fashion_mnist", "val", n=500 if CI else 1000)
bn_data = {"X_train": bn_train.X, "y_train": bn_train.y, "X_val": bn_val.X, "y_val": bn_val.y}


def train_deep(normalization, rule, lr, **net_kw):
    """Train a [100] * 6 net on bn_data: (best validation accuracy, mean loss of the last 5 steps or
    nan, whether the loss became nan or inf)."""
    net = FullyConnectedNet([100] * 6, input_dim=28 * 28, num_classes=10, normalization=normalization, seed=SEED, **net_kw)
    s = Solver(net, bn_data, update_rule=rule, optim_config={"learning_rate": lr}, batch_size=50,
               num_epochs=4 if CI else 10, progress=False, seed=SEED)
    diverged = False
    with np.errstate(all="ignore"):  # a diverging run overflows; that is what we measure
        try:
            s.train()
        except FloatingPointError:  # the Solver stops at a nan or inf loss
            diverged = True
    return s.best_val_acc, float("nan") if diverged else float(np.mean(s.loss_history[-5:])), diverged


scales = np.logspace(-4, 0, 5 if CI else 9)
by_scale = {norm: [train_deep(norm, adam, 1e-3, init="small", weight_scale=ws) for ws in scales]
            for norm in (None, "batchnorm")}
rates = [1e-3, 1e-2, 1e-1, 1.0, 3.0]
by_rate = {norm: [train_deep(norm, sgd_momentum, lr, init="kaiming") for lr in rates] for norm in (None, "batchnorm")}

fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
for norm, label in ((None, "no batch norm"), ("batchnorm", "batch norm")):
    axes[0].semilogx(scales, [r[0] for r in by_scale[norm]], "o-", label=label)
    axes[1].loglog(scales, [r[1] for r in by_scale[norm]], "o-", label=label)
    axes[2].semilogx(rates, [r[0] for r in by_rate[norm]], "o-", label=label)
    gone = [lr for lr, r in zip(rates, by_rate[norm]) if r[2]]
    axes[2].plot(gone, [0.0] * len(gone), "x", color="red", markersize=10, label="diverged" if gone and norm is None else None)
axes[0].set(xlabel="weight scale ('small' init)", ylabel="best validation accuracy", title="accuracy vs weight scale")
axes[1].set(xlabel="weight scale ('small' init)", ylabel="training loss (last 5 steps)", title="loss vs weight scale")
axes[2].set(xlabel="learning rate (SGD + momentum)", ylabel="best validation accuracy", title="accuracy vs learning rate")
for ax in axes:
    ax.legend()
plt.tight_layout()
for norm in (None, "batchnorm"):
    print(f"{str(norm):>9} by weight scale: " + ", ".join(f"{ws:.0e}: {a:.2f} (loss {l:.3g})" for ws, (a, l, _) in zip(scales, by_scale[norm])))
    print(f"{str(norm):>9} by learning rate: " + ", ".join(f"{lr:g}: " + ("diverged" if gone else f"{a:.2f} (loss {l:.2f})") for lr, (a, l, gone) in zip(rates, by_rate[norm])))

# %% [raw]
# # BEGIN QUESTION
# name: w4
# points: 3
# manual: true

# %% [markdown]
# ### Written question 4 (3 points) — What batch normalization buys
# From your three plots and the printed numbers: (a) over which range of weight scales does the net
# without batch normalization learn, and what happens below and above that range? How does the net with
# batch normalization compare, and why does the scale of the weights matter so little to it (look at
# what the layer computes)? (b) Which learning rates does each net tolerate, and why does batch
# normalization allow larger ones? (c) Batch norm computes its statistics from the minibatch: name one
# price of that (at test time or for small batches).

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** (a) Without batch norm the net learns only for weight scales from about $10^{-2}$ to
# $1$, best near $10^{-1}$: at $10^{-3}$ and below the loss stays at $\log 10 \approx 2.30$ and the
# accuracy at chance (10%) — activations and gradients vanish through six layers — and at scale 1 the
# scores explode (a training loss of order $10^4$–$10^5$) and the accuracy drops. With batch norm every
# scale from $10^{-4}$ to about $0.3$ learns (at full size all to about the same accuracy); only scale 1
# loses some, because the last affine layer is not normalized. The reason: batch norm divides each
# pre-activation by its batch standard deviation, so scaling $W$ by a constant does not change the
# layer's output ($\mathrm{BN}(aWx) = \mathrm{BN}(Wx)$) and every hidden layer's input stays at unit
# scale. (b) Without batch norm learning rates up to about $10^{-2}$ work, $0.1$ already stalls or
# degrades and $1$ and $3$ diverge (nan loss); with batch norm $0.1$ still trains well and $1$ does not
# diverge (it still learns, if worse), only $3$ fails. Normalization keeps the pre-activations at unit
# scale whatever a large step did to the weights, and since the output does not depend on the scale of
# $W$, growing weights shrink the effective step instead of blowing up. (c) Train and test compute
# different things: running averages must be kept and used at test time (a classic bug source, and they
# lag behind after few steps); small or unrepresentative batches give noisy statistics (layer or group
# norm avoid this); the examples of a batch are no longer processed independently.
#
# **Rubric (3 points).**
# - 1 point: the no-BN net's working range of scales read from the plot, with vanishing (loss stuck at
#   log 10) below and exploding above; BN works across the range.
# - 1 point: why: BN's output does not depend on the scale of $W$ (normalization by the batch
#   statistics), so activations stay at unit scale; and BN tolerates larger learning rates than no-BN,
#   with the student's numbers.
# - 1 point: a valid cost of batch statistics (train/test discrepancy and running averages, small-batch
#   noise, dependence between examples).

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
