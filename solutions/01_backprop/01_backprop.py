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
# name: 01_backprop

# %% [markdown]
# # Notebook 01 — Backpropagation: from gates to a trained two-layer net
#
# **What you will learn**
# - how a gradient flows backwards through a circuit: the *add* gate distributes, the *multiply* gate
#   swaps, the *max* gate routes and a *copy* (a value used twice) adds;
# - how a tiny autograd engine (`Value`) does the same bookkeeping for you, in topological order;
# - vectorized backward passes of whole layers (`dX = dY·Wᵀ`, `dW = Xᵀ·dY`) and why nobody ever builds
#   the Jacobian;
# - how to build, check and train a two-layer network in numpy: initial loss ≈ log 10, a float64
#   gradient check, overfitting 50 examples, then real training on Fashion-MNIST;
# - four update rules (SGD, momentum, RMSProp, Adam) and how they compare.
#
# Stage 01 has two notebooks: this one, then notebook 01b (deeper nets: tanh and leaky ReLU, weight
# initialization, inverted dropout, batch and layer normalization, and a fully connected net of any
# depth built from them), released once this one is due. Notebook 01b's questions continue this
# numbering (Q7–Q11, written questions 3–4).
#
# **Time.** About 4–5 hours (Q1–Q6 and written questions 1–2). Everything is numpy: a laptop CPU is all
# you need (a GPU does not help here). The whole notebook ran in 27 s on a 2-core cloud VM with one
# thread and nothing else running (the training cell of Q6 19 s).
#
# **How to submit.** Run the whole notebook top to bottom (the training cell saves
# `twolayer_params.npz`), then submit **two files**: this `.ipynb` notebook (on Colab: *File → Download
# → Download .ipynb*) and `twolayer_params.npz` (on Colab: the folder icon on the left, right-click →
# Download). Do not rename the functions or classes you are asked to write: the grader calls them by name.
#
# **How you are graded.** `grader.check("qN")` runs the *public* tests of question N. **Hidden tests
# exist and are worth most of the points**: they call your functions on fresh inputs and check the same
# properties more thoroughly (other shapes, large values, several steps, regularization, ...). Passing the
# public tests does not mean full marks — test your code yourself, for example with the numeric gradient
# checks below. Your saved parameters are graded by their accuracy on held-out test images. The
# *written questions* are answered in a few sentences in the answer cell below each one (double-click it
# to edit); a TA grades them by hand, so refer to your own numbers and plots.

# %%
from cnnkit.colab import bootstrap

bootstrap("01_backprop")

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import cnnkit
from cnnkit import data, vis
from cnnkit.numeric.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
)
from cnnkit.numeric.solver import Solver

SEED = 0
cnnkit.seed_everything(SEED)
CI = cnnkit.ci_mode()  # True in automated runs: smaller data, shorter training
np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## Q1. Backprop on a scalar circuit
#
# The lecture's circuit computes $L = \sigma(w_0 x_0 + w_1 x_1 + w_2)$ with the sigmoid
# $\sigma(s) = 1 / (1 + e^{-s})$. Stage it exactly as in the lecture: a **forward pass** that names every
# intermediate value ($s_0 = w_0 x_0$, $s_1 = w_1 x_1$, $s_2 = s_0 + s_1$, $s_3 = s_2 + w_2$,
# $L = \sigma(s_3)$), then a **backward pass** that computes `grad_<name>` for each of them in reverse order,
# starting from `grad_L = 1.0`:
#
# - a *multiply* gate swaps its inputs: for $s = a b$, $\partial L/\partial a = b \cdot \partial L/\partial s$;
# - an *add* gate passes the upstream gradient to both inputs unchanged;
# - the *sigmoid* gate's local gradient is $(1 - \sigma)\,\sigma$, computed from its **output** $L$.
#
# At $(w_0, x_0, w_1, x_1, w_2) = (2, -1, -3, -2, -3)$ the lecture shows $L \approx 0.73$ and a gradient
# of about $[0.39, -0.59]$ for $(x_0, x_1)$.

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %%
def sigmoid_circuit(w0, x0, w1, x1, w2):
    """L = sigmoid(w0 * x0 + w1 * x1 + w2) and its gradient, staged as in the lecture.

    Inputs:
    - w0, x0, w1, x1, w2: floats, the circuit's inputs.

    Returns a tuple of:
    - L: float, the circuit's output.
    - grads: dict with keys 'w0', 'x0', 'w1', 'x1', 'w2'; grads[k] is dL/dk, a float.
    """
    # BEGIN SOLUTION
    # forward pass
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = 1.0 / (1.0 + math.exp(-s3))
    # backward pass
    grad_L = 1.0
    grad_s3 = grad_L * (1 - L) * L
    grad_w2 = grad_s3
    grad_s2 = grad_s3
    grad_s0 = grad_s2
    grad_s1 = grad_s2
    grad_w1 = grad_s1 * x1
    grad_x1 = grad_s1 * w1
    grad_w0 = grad_s0 * x0
    grad_x0 = grad_s0 * w0
    # END SOLUTION
    return L, {"w0": grad_w0, "x0": grad_x0, "w1": grad_w1, "x1": grad_x1, "w2": grad_w2}


# %% [markdown]
# Two more gates. The **max** gate $m = \max(a, b)$ *routes*: the whole upstream gradient goes to the
# larger input and the other gets 0. A **copy** happens when one value feeds two gates: its gradient is
# the **sum** of the gradients flowing back along both paths. Write the circuit
# $f = \max(x, y) \cdot z + x$ ($x$ is used twice) in the same staged style. When $x = y$, route the
# gradient to $x$.

# %%
def max_copy_circuit(x, y, z):
    """f = max(x, y) * z + x and its gradient: a max gate, a multiply gate, an add gate, a copy of x.

    Inputs:
    - x, y, z: floats, the circuit's inputs (ties x == y route the max gate's gradient to x).

    Returns a tuple of:
    - f: float, the circuit's output.
    - grads: dict with keys 'x', 'y', 'z'; grads[k] is df/dk, a float.
    """
    # BEGIN SOLUTION
    # forward pass
    m = max(x, y)
    p = m * z
    f = p + x
    # backward pass
    grad_f = 1.0
    grad_p = grad_f
    grad_x_from_add = grad_f
    grad_m = grad_p * z
    grad_z = grad_p * m
    grad_x_from_max = grad_m if x >= y else 0.0
    grad_y = grad_m if y > x else 0.0
    grad_x = grad_x_from_add + grad_x_from_max
    # END SOLUTION
    return f, {"x": grad_x, "y": grad_y, "z": grad_z}


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q1_sigmoid_circuit_lecture_values(sigmoid_circuit):
    from cnnkit import checks

    # The lecture's circuit and the numbers on its slide, to double precision: known values, not a
    # derivation (a public check never shows how the answer is computed).
    inputs = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    lecture = {"L": 0.7310585786300049, "w0": -0.19661193324148185, "x0": 0.3932238664829637,
               "w1": -0.3932238664829637, "x1": -0.5898357997244456, "w2": 0.19661193324148185}
    L, grads = sigmoid_circuit(**inputs)
    checks.equal("gradient keys", sorted(grads), sorted(inputs))
    checks.close("L", L, lecture["L"], rtol=1e-6)
    for k in inputs:
        checks.close(f"dL/d{k}", grads[k], lecture[k], rtol=1e-6)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q1_max_copy_circuit_public(max_copy_circuit):
    from cnnkit import checks

    # f = max(x, y) * z + x by hand: the max routes the gradient to the larger input, x is used twice.
    cases = {
        (3.0, -1.0, 2.0): (9.0, {"x": 3.0, "y": 0.0, "z": 3.0}),
        (-2.0, 4.0, -0.5): (-4.0, {"x": 1.0, "y": -0.5, "z": 4.0}),
    }
    for (x, y, z), (f_hand, grads_hand) in cases.items():
        f, grads = max_copy_circuit(x, y, z)
        checks.close(f"f at {(x, y, z)}", f, f_hand, rtol=1e-7, atol=1e-10)
        for k in "xyz":
            checks.close(f"df/d{k} at {(x, y, z)}", grads[k], grads_hand[k], rtol=1e-7, atol=1e-10)


# %% [raw]
# # END QUESTION

# %% [markdown]
# Let's look at the lecture circuit: the forward value of every node (green, above) and, for the inputs,
# the gradient your backward pass found (red, below). Gradients of the inputs with large magnitude are
# the ones a small change would move $L$ the most.

# %%
def show_circuit(w0, x0, w1, x1, w2):
    """Draw the lecture circuit with forward values and the input gradients of sigmoid_circuit."""
    L, grads = sigmoid_circuit(w0, x0, w1, x1, w2)
    inputs = {"w0": w0, "x0": x0, "w1": w1, "x1": x1, "w2": w2}
    s0, s1 = w0 * x0, w1 * x1
    nodes = {  # name: (x, y, value)
        "w0": (0, 4, w0), "x0": (0, 3, x0), "w1": (0, 2, w1), "x1": (0, 1, x1), "w2": (0, 0, w2),
        "*0": (1, 3.5, s0), "*1": (1, 1.5, s1), "+a": (2, 2.5, s0 + s1),
        "+b": (3, 1.5, s0 + s1 + w2), "σ": (4, 1.5, L),
    }
    edges = [("w0", "*0"), ("x0", "*0"), ("w1", "*1"), ("x1", "*1"), ("*0", "+a"), ("*1", "+a"),
             ("+a", "+b"), ("w2", "+b"), ("+b", "σ")]
    fig, ax = plt.subplots(figsize=(8, 4))
    for a, b in edges:
        ax.annotate("", xy=nodes[b][:2], xytext=nodes[a][:2],
                    arrowprops=dict(arrowstyle="->", color="0.6"))
    for name, (x, y, v) in nodes.items():
        ax.text(x, y, name, ha="center", va="center", fontsize=11,
                bbox=dict(boxstyle="circle", fc="white", ec="0.3"))
        ax.text(x, y + 0.3, f"{v:.3f}", color="green", ha="center")
        if name in inputs:
            ax.text(x, y - 0.35, f"{grads[name]:.3f}", color="red", ha="center")
    ax.set_xlim(-0.5, 4.5)
    ax.set_ylim(-0.7, 4.7)
    ax.set_axis_off()
    ax.set_title("forward values (green) and dL/d input (red)")
    return fig


show_circuit(2.0, -1.0, -3.0, -2.0, -3.0);

# %% [markdown]
# ## Q2. A tiny autograd engine
#
# Writing the backward pass by hand does not scale. An autograd engine records, for every value, which
# values it was computed from and how; `backward()` then visits the graph in **reverse topological order**
# (every node after all the nodes that use it) and lets each node add its contribution to its inputs'
# gradients.
#
# Complete `Value`: `+`, `*`, `**` (with a plain number as exponent), `relu()`, `sigmoid()` and
# `backward()`. Each operation returns a new `Value` whose `_backward` closure **adds** (`+=`) the local
# gradient times `out.grad` into its inputs' `.grad` — a value used twice (like `a` in `a + a`) must
# receive both contributions. `backward()` sets every gradient in the graph to 0 first, so calling it
# twice gives the same result, then seeds `self.grad = 1.0`. The other operators (`-`, `/`, numbers on
# the left) are given: they are built from yours.

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %%
class Value:
    """A scalar that remembers how it was computed, so that backward() can fill in gradients.

    Attributes:
    - data: float, the value.
    - grad: float, dL/d(this value) after L.backward() was called on an output L (0.0 before).
    """

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)  # the Values this one was computed from
        self._op = _op  # the operation that produced it, for printing
        self._backward = lambda: None  # adds this node's gradient contribution to its inputs

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    def __add__(self, other):
        """self + other (other: a Value or a number)."""
        other = other if isinstance(other, Value) else Value(other)
        # BEGIN SOLUTION
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def __mul__(self, other):
        """self * other (other: a Value or a number)."""
        other = other if isinstance(other, Value) else Value(other)
        # BEGIN SOLUTION
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def __pow__(self, p):
        """self ** p for a number p (int or float)."""
        assert isinstance(p, (int, float)), "only numbers are supported as exponents"
        # BEGIN SOLUTION
        out = Value(self.data**p, (self,), f"**{p}")

        def _backward():
            self.grad += p * self.data ** (p - 1) * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def relu(self):
        """max(0, self)."""
        # BEGIN SOLUTION
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def sigmoid(self):
        """1 / (1 + exp(-self))."""
        # BEGIN SOLUTION
        out = Value(1.0 / (1.0 + math.exp(-self.data)), (self,), "sigmoid")

        def _backward():
            self.grad += (1 - out.data) * out.data * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def backward(self):
        """Fill in .grad of every Value this one depends on (dself/dv), in reverse topological order."""
        # BEGIN SOLUTION
        order, seen = [], set()

        def visit(v):
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    visit(child)
                order.append(v)

        visit(self)
        for v in order:
            v.grad = 0.0
        self.grad = 1.0
        for v in reversed(order):
            v._backward()
        # END SOLUTION

    # Given: the remaining operators, built from the ones above.
    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q2_value_lecture_circuit(Value):
    from cnnkit import checks

    # The lecture's circuit again (q1's known values), now built from Value nodes.
    inputs = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    lecture = {"L": 0.7310585786300049, "w0": -0.19661193324148185, "x0": 0.3932238664829637,
               "w1": -0.3932238664829637, "x1": -0.5898357997244456, "w2": 0.19661193324148185}
    v = {k: Value(x) for k, x in inputs.items()}
    out = (v["w0"] * v["x0"] + v["w1"] * v["x1"] + v["w2"]).sigmoid()
    out.backward()
    checks.close("L", out.data, lecture["L"], rtol=1e-7, atol=1e-10)
    for k in inputs:
        checks.close(f"dL/d{k}", v[k].grad, lecture[k], rtol=1e-7, atol=1e-10)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q2_value_reused_node_and_backward_twice(Value):
    from cnnkit import checks

    a = Value(3.0)
    b = a + a
    c = b + b  # c = 4 a, so dc/da = 4
    c.backward()
    checks.close("dc/da (a is used twice, twice)", a.grad, 4.0, rtol=1e-7, atol=1e-10)
    c.backward()
    checks.close(
        "dc/da after a second c.backward()",
        a.grad,
        4.0,
        rtol=1e-7, atol=1e-10,
        msg="calling backward() twice must not double-count: reset the graph's gradients first",
    )


# %% [raw]
# # END QUESTION

# %% [markdown]
# Your engine against the hand-staged circuit of Q1: both must give the same numbers.

# %%
w0, x0, w1, x1, w2 = (Value(v) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
L = (w0 * x0 + w1 * x1 + w2).sigmoid()
L.backward()
print("Value engine:   L =", round(L.data, 6), " dL/dx0 =", round(x0.grad, 6), " dL/dx1 =", round(x1.grad, 6))
L_hand, g_hand = sigmoid_circuit(2.0, -1.0, -3.0, -2.0, -3.0)
print("hand-staged:    L =", round(L_hand, 6), " dL/dx0 =", round(g_hand["x0"], 6), " dL/dx1 =", round(g_hand["x1"], 6))

# %% [markdown]
# ## Q3. Vectorized gradients of whole layers
#
# Real networks work on arrays. Each layer is a pair of functions with one contract:
# `out, cache = layer_forward(inputs...)` keeps what the backward pass needs in `cache`, and
# `layer_backward(dout, cache)` returns the gradient of the loss with respect to every input, **shaped
# exactly like that input**. For the affine layer $Y = X W + b$ (with $X$ of shape $(N, D)$ and $W$ of
# shape $(D, M)$): $\partial L/\partial X = (\partial L/\partial Y)\,W^T$,
# $\partial L/\partial W = X^T (\partial L/\partial Y)$, and $\partial L/\partial b$ sums the upstream
# gradient over the batch — "the only way to make the shapes match up".
#
# Write each function in its own cell. The inputs of `affine_forward` may have any number of
# dimensions after the batch dimension, e.g. images of shape `(N, 1, 28, 28)`: flatten each example to a
# row of `D` numbers. `softmax_loss` must not overflow for large scores (subtract each row's maximum
# first: it does not change the softmax) and, like `svm_loss`, returns the **mean** loss over the batch.

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %%
# EXERCISE cnnkit.numeric.layers.affine_forward


# %%
# EXERCISE cnnkit.numeric.layers.affine_backward


# %%
# EXERCISE cnnkit.numeric.layers.relu_forward


# %%
# EXERCISE cnnkit.numeric.layers.relu_backward


# %%
# EXERCISE cnnkit.numeric.layers.sigmoid_forward


# %%
# EXERCISE cnnkit.numeric.layers.sigmoid_backward


# %%
# EXERCISE cnnkit.numeric.layers.softmax_loss


# %%
# EXERCISE cnnkit.numeric.layers.svm_loss


# %% [markdown]
# **Why not the Jacobian?** For $Y = XW$ the Jacobian $\partial Y/\partial X$ has one entry per pair
# (entry of $X$, entry of $Y$): $(N D) \times (N M)$ numbers. Write `jacobian_memory_bytes` and look at
# the lecture's example, a batch of $N = 64$ with $D = M = 4096$ in float32.

# %%
def jacobian_memory_bytes(N, D, M, itemsize=4):
    """Bytes needed to store the Jacobian dY/dX of Y = X @ W explicitly.

    Inputs:
    - N, D, M: ints; X has shape (N, D), W (D, M) and Y (N, M).
    - itemsize: int, bytes per entry (4 for float32, 8 for float64).

    Returns:
    - nbytes: int, the size of the (N * D) x (N * M) Jacobian in bytes.
    """
    # BEGIN SOLUTION
    return N * D * N * M * itemsize
    # END SOLUTION


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_affine_lecture_matmul(affine_forward, affine_backward):
    import numpy as np

    from cnnkit import checks

    # The lecture's matrix-multiply example: X (2x3), W (3x4), upstream gradient dL/dY (2x4), and the
    # products it works out on the slides.
    x = np.array([[2, 1, -3], [-3, 4, 2]], dtype=np.float64)
    w = np.array([[3, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]], dtype=np.float64)
    dy = np.array([[2, 3, -3, 9], [-8, 1, 4, 6]], dtype=np.float64)
    lecture = {
        "Y = X @ W": [[-1, -1, 2, 6], [5, 2, 11, 7]],
        "dX": [[0, 16, -9], [-24, 9, -30]],
        "dW": [[28, 3, -18, 0], [-30, 7, 13, 33], [-22, -7, 17, -15]],
    }
    out, cache = affine_forward(x, w, np.zeros(4))
    dx, dw, db = affine_backward(dy, cache)
    for name, got in [("Y = X @ W", out), ("dX", dx), ("dW", dw)]:
        checks.close(name, got, np.array(lecture[name], dtype=np.float64), rtol=1e-7, atol=1e-10)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_affine_numeric_gradients(affine_forward, affine_backward):
    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array
    from cnnkit.oracles import grad_error

    rng = checks.rng()
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    checks.equal("out shape", np.shape(out), (4, 5))
    checks.equal("dx shape", np.shape(dx), x.shape)
    checks.equal("dw shape", np.shape(dw), w.shape)
    checks.equal("db shape", np.shape(db), b.shape)
    numeric = {
        "dx": eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout),
        "dw": eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout),
        "db": eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout),
    }
    for name, got in [("dx", dx), ("dw", dw), ("db", db)]:
        err = grad_error(got, numeric[name])
        checks.true(f"{name} matches numeric", err < 1e-7, f"{name}: relative error {err:.1e} vs the numeric gradient")


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_relu_sigmoid_numeric_gradients(relu_forward, relu_backward, sigmoid_forward, sigmoid_backward):
    import math

    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array
    from cnnkit.oracles import grad_error

    # Values by hand: relu keeps positives; sigmoid(0) = 1/2, sigmoid(+-log 3) = 3/4 and 1/4.
    hand = {
        "relu": (relu_forward, [[-2.0, -0.5, 0.5, 3.0]], [[0.0, 0.0, 0.5, 3.0]]),
        "sigmoid": (sigmoid_forward, [[0.0, math.log(3), -math.log(3), 0.0]], [[0.5, 0.75, 0.25, 0.5]]),
    }
    for name, (fwd, x_hand, out_hand) in hand.items():
        out, _ = fwd(np.array(x_hand))
        checks.close(f"{name} out", out, np.array(out_hand), rtol=1e-7, atol=1e-10)
    rng = checks.rng()
    x = rng.standard_normal((3, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink of relu
    dout = rng.standard_normal((3, 5))
    for name, fwd, bwd in [("relu", relu_forward, relu_backward), ("sigmoid", sigmoid_forward, sigmoid_backward)]:
        out, cache = fwd(x)
        dx = bwd(dout, cache)
        checks.equal(f"{name} dx shape", np.shape(dx), x.shape)
        dx_num = eval_numerical_gradient_array(lambda v, fwd=fwd: fwd(v)[0], x, dout)
        err = grad_error(dx, dx_num)
        checks.true(f"{name} dx matches numeric", err < 1e-7, f"{name} dx: relative error {err:.1e} vs the numeric gradient")


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q3_losses_public(softmax_loss, svm_loss):
    import math

    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient
    from cnnkit.oracles import grad_error

    loss0, _ = softmax_loss(np.zeros((7, 10)), np.arange(7) % 10)
    checks.close("softmax loss of all-zero scores (10 classes)", loss0, math.log(10), rtol=1e-7, atol=1e-10)
    # Scores log(c): a small case whose loss is known exactly (fixed here as a number).
    loss, _ = softmax_loss(np.log([[1.0, 2.0, 5.0], [4.0, 4.0, 2.0]]), np.array([2, 0]))
    checks.close("softmax loss of scores log([[1, 2, 5], [4, 4, 2]]), y = [2, 0]", loss, 0.6931471805599454, rtol=1e-7, atol=1e-10)
    # The lecture's three images: hinge losses 2.9, 0 and 12.9.
    lecture = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    loss, _ = svm_loss(lecture, np.array([0, 1, 2]))
    checks.close("svm loss of the lecture's example", loss, 5.266666666666667, rtol=1e-7, atol=1e-10)
    rng = checks.rng()
    scores = rng.standard_normal((5, 4))
    y = rng.integers(4, size=5)
    for name, fn in [("softmax", softmax_loss), ("svm", svm_loss)]:
        _, dscores = fn(scores, y)
        num = eval_numerical_gradient(lambda s, fn=fn: fn(s, y)[0], scores)
        err = grad_error(dscores, num)
        checks.true(f"{name} dscores matches numeric", err < 1e-7, f"{name} dscores: relative error {err:.1e} vs the numeric gradient")


# %%
""" # BEGIN TEST CONFIG
points: 0.5
hidden: false
""" # END TEST CONFIG
def test_q3_jacobian_memory_lecture(jacobian_memory_bytes):
    from cnnkit import checks

    checks.equal("jacobian_memory_bytes(64, 4096, 4096)", jacobian_memory_bytes(64, 4096, 4096), 256 * 2**30, msg="the lecture says 256 GiB (float32)")


# %% [raw]
# # END QUESTION

# %% [markdown]
# The lecture's matrix-multiply example with your layer: the upstream gradient $\partial L/\partial Y$ and
# the gradients of $X$ and $W$, each shaped like the variable it belongs to.

# %%
X_lec = np.array([[2, 1, -3], [-3, 4, 2]], dtype=np.float64)
W_lec = np.array([[3, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]], dtype=np.float64)
dY_lec = np.array([[2, 3, -3, 9], [-8, 1, 4, 6]], dtype=np.float64)
Y_lec, cache_lec = affine_forward(X_lec, W_lec, np.zeros(4))
dX_lec, dW_lec, _ = affine_backward(dY_lec, cache_lec)
print("Y = X W =\n", Y_lec)
print("dL/dX =\n", dX_lec)
print("dL/dW =\n", dW_lec)
nbytes = jacobian_memory_bytes(64, 4096, 4096)
print(f"one explicit Jacobian for N=64, D=M=4096 in float32: {nbytes:,} bytes = {nbytes / 2**30:.0f} GiB")

# %% [markdown]
# A numeric gradient check of your layers in float64, the way you should test any backward pass:
# relative errors around 1e-8 or below mean the analytic gradient is right.

# %%
rng = np.random.default_rng(SEED)
x = rng.standard_normal((4, 3, 2))
w = rng.standard_normal((6, 5))
b = rng.standard_normal(5)
dout = rng.standard_normal((4, 5))
_, cache = affine_forward(x, w, b)
dx, dw, db = affine_backward(dout, cache)
print("affine dx:", rel_error(dx, eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout)))
print("affine dw:", rel_error(dw, eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout)))
print("affine db:", rel_error(db, eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout)))
scores = rng.standard_normal((6, 10))
labels = rng.integers(10, size=6)
for fn in (softmax_loss, svm_loss):
    loss, dscores = fn(scores, labels)
    num = eval_numerical_gradient(lambda s: fn(s, labels)[0], scores)
    print(f"{fn.__name__}: loss {loss:.4f}, dscores rel error {rel_error(dscores, num):.2e}")

# %% [raw]
# # BEGIN QUESTION
# name: w1
# points: 3
# manual: true

# %% [markdown]
# ### Written question 1 (3 points) — reading a gradient check
# The cell above prints one relative error per gradient of your layers. In two to four sentences: what
# does such a number tell you about your backward pass, why does the check run in float64 rather than
# float32, and roughly what value would tell you that your backward pass has a bug? Refer to the
# numbers you got.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** `rel_error` is the largest entry of $|a - n| / (|a| + |n|)$ between the analytic
# gradient $a$ and the centered-difference estimate $n$: it says to how many digits they agree,
# independent of the gradient's scale. The centered difference with $h = 10^{-5}$ has a truncation
# error of order $h^2 pprox 10^{-10}$ and a rounding error of order $arepsilon / h$; in float64
# ($arepsilon pprox 10^{-16}$) that is about $10^{-11}$, so a correct backward pass shows errors of
# about $10^{-8}$ or smaller. In float32 ($arepsilon pprox 10^{-7}$) the rounding error alone is
# about $10^{-2}$, as large as the error of a real bug, so the check could not tell them apart. A
# bug (a missing transpose, a forgotten term, a wrong factor) gives errors of about $10^{-3}$ up to 1;
# anything above about $10^{-6}$ on these smooth test inputs deserves a look (a kink of ReLU or of the
# SVM hinge hit by a probe can give an isolated larger value).
#
# **Rubric (3 points).**
# - 1 point: the relative error measures agreement of analytic and numeric gradient in digits,
#   independent of scale (and the student's numbers, around 1e-8 or below, mean the gradient is right).
# - 1 point: float64 because the finite difference's rounding error (about eps / h) must stay far below
#   the error a bug causes; in float32 it would be about 1e-2.
# - 1 point: a bug shows as errors of about 1e-3 to 1 (accept any threshold between 1e-6 and 1e-3 with
#   a reason; kinks as a possible cause of isolated larger values are a bonus, not required).

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Q4. A two-layer network
#
# Combine your layers into `TwoLayerNet`: affine → ReLU → affine → softmax loss, with L2 regularization
# $\tfrac12\,\mathrm{reg}\,(\lVert W_1\rVert^2 + \lVert W_2\rVert^2)$ added to the loss **and** to the
# gradients of $W_1$ and $W_2$. Initialize the weights from $\mathcal N(0, \text{weight\_scale}^2)$ with
# `np.random.randn` and the biases with zeros. `loss(X)` returns the scores; `loss(X, y)` returns
# `(loss, grads)` with one gradient per entry of `self.params`. Stage it as the lecture does: forward
# (`h1`, `scores`, `loss`), then backward (`dscores`, then `dh1, dW2, db2`, then `dW1, db1`).

# %% [raw]
# # BEGIN QUESTION
# name: q4

# %%
# EXERCISE cnnkit.numeric.fc_net.TwoLayerNet


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q4_params_and_init(TwoLayerNet):
    import numpy as np

    from cnnkit import checks

    net = TwoLayerNet(input_dim=300, hidden_dim=50, num_classes=7, weight_scale=2e-2, reg=0.0)
    shapes = {k: tuple(np.shape(v)) for k, v in net.params.items()}
    checks.equal("parameter names", sorted(shapes), ["W1", "W2", "b1", "b2"])
    checks.equal("W1 shape", shapes["W1"], (300, 50))
    checks.equal("b1 shape", shapes["b1"], (50,))
    checks.equal("W2 shape", shapes["W2"], (50, 7))
    checks.equal("b2 shape", shapes["b2"], (7,))
    checks.true("biases start at zero", not np.any(net.params["b1"]) and not np.any(net.params["b2"]), "b1 and b2 must start at 0")
    checks.close("std of W1", float(np.std(net.params["W1"])), 2e-2, rtol=0.1)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q4_loss_and_numeric_gradients(TwoLayerNet):
    import math

    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient
    from cnnkit.oracles import grad_error

    # By hand: the hidden layer is relu([1, -2]) = [1, 0] and relu([0, 0]) = [0, 0], so the scores are
    # [log 3, log 2] and [0, log 2]: probabilities [3/5, 2/5] and [1/3, 2/3].
    net = TwoLayerNet(input_dim=2, hidden_dim=2, num_classes=2, weight_scale=1.0, reg=0.0)
    net.params = {"W1": np.eye(2), "b1": np.array([0.0, -1.0]),
                  "W2": np.array([[math.log(3), 0.0], [5.0, 0.0]]), "b2": np.array([0.0, math.log(2)])}
    loss, _ = net.loss(np.array([[1.0, -1.0], [0.0, 1.0]]), np.array([1, 0]))
    checks.close("loss of the hand-computed net", loss, (math.log(5 / 2) + math.log(3)) / 2, rtol=1e-7, atol=1e-10)
    rng = checks.rng()
    net = TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, weight_scale=1.0, reg=0.0)
    net.params = {"W1": rng.standard_normal((6, 5)), "b1": rng.standard_normal(5),
                  "W2": rng.standard_normal((5, 3)), "b2": rng.standard_normal(3)}
    X = rng.standard_normal((4, 6))
    y = rng.integers(3, size=4)
    loss, grads = net.loss(X, y)
    for k in ["W1", "b1", "W2", "b2"]:
        num = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[k])
        err = grad_error(grads[k], num)
        checks.true(f"d{k} matches numeric", err < 1e-6, f"grads['{k}']: relative error {err:.1e} vs the numeric gradient")


# %% [raw]
# # END QUESTION

# %% [markdown]
# ### The sanity ladder
# Before training anything for real, climb three rungs; each catches a different class of bugs.
#
# 1. **Initial loss.** With tiny weights every class gets the same score, so the softmax loss must be
#    close to $\log C = \log 10 \approx 2.303$.
# 2. **Gradient check** on a tiny model in float64, with regularization switched on.
# 3. **Overfit 50 examples**: a model that cannot reach 100% training accuracy on 50 images has a bug.

# %% tags=["otter_ignore"]
small = data.load("fashion_mnist", "train", n=50)
net = TwoLayerNet(input_dim=28 * 28, hidden_dim=100, num_classes=10, weight_scale=1e-4)
loss, _ = net.loss(small.X, small.y)
print(f"initial loss {loss:.4f}   (log 10 = {math.log(10):.4f})")

# %%
rng = np.random.default_rng(SEED)
tiny = TwoLayerNet(input_dim=8, hidden_dim=6, num_classes=4, weight_scale=1.0, reg=0.5)
X_tiny, y_tiny = rng.standard_normal((5, 8)), rng.integers(4, size=5)
_, grads = tiny.loss(X_tiny, y_tiny)
for name in sorted(tiny.params):
    num = eval_numerical_gradient(lambda _: tiny.loss(X_tiny, y_tiny)[0], tiny.params[name])
    print(f"{name}: relative error {rel_error(grads[name], num):.2e}")

# %% tags=["otter_ignore"]
def gradient_step(w, dw, config):
    """Plain gradient descent, enough for this check (Q5 adds better update rules)."""
    return w - config["learning_rate"] * dw, config


net = TwoLayerNet(input_dim=28 * 28, hidden_dim=100, num_classes=10, weight_scale=5e-2)
overfit = Solver(
    net,
    {"X_train": small.X, "y_train": small.y, "X_val": small.X, "y_val": small.y},
    update_rule=gradient_step,
    optim_config={"learning_rate": 0.3},
    batch_size=25,
    num_epochs=60,
    progress=False,
    seed=SEED,
)
overfit.train()
print(f"training accuracy on 50 examples after {len(overfit.loss_history)} steps:", overfit.train_acc_history[-1])
vis.plot_curves({"loss": overfit.loss_history}, xlabel="iteration", title="overfitting 50 examples");

# %% [markdown]
# ## Q5. Update rules
#
# The trainer (`Solver`) calls an update rule once per parameter and step:
# `next_w, config = rule(w, dw, config)`. The rule keeps its hyperparameters and its state in `config`
# (fill in defaults with `config.setdefault`) and returns the new weights without changing `w` in place.
#
# - `sgd`: $w \leftarrow w - \eta\,dw$ (default $\eta = 10^{-2}$).
# - `sgd_momentum`: a velocity $v \leftarrow \mu v - \eta\,dw$, then $w \leftarrow w + v$ (state
#   `velocity`, default zeros; $\mu = 0.9$).
# - `rmsprop`: a running average $c \leftarrow \rho c + (1 - \rho)\,dw^2$ (state `cache`;
#   `decay_rate` $\rho = 0.99$), then $w \leftarrow w - \eta\,dw / (\sqrt c + \epsilon)$ ($\epsilon = 10^{-8}$).
# - `adam`: first and second moments `m` and `v` with `beta1` $= 0.9$, `beta2` $= 0.999$, a step
#   counter `t` that is **incremented before use**, **bias correction** $\hat m = m / (1 - \beta_1^t)$,
#   $\hat v = v / (1 - \beta_2^t)$, then $w \leftarrow w - \eta\,\hat m / (\sqrt{\hat v} + \epsilon)$
#   (default $\eta = 10^{-3}$).

# %% [raw]
# # BEGIN QUESTION
# name: q5

# %%
# EXERCISE cnnkit.numeric.optim.sgd


# %%
# EXERCISE cnnkit.numeric.optim.sgd_momentum


# %%
# EXERCISE cnnkit.numeric.optim.rmsprop


# %%
# EXERCISE cnnkit.numeric.optim.adam


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q5_first_step_with_defaults(sgd, sgd_momentum, rmsprop, adam):
    import numpy as np

    from cnnkit import checks

    # One known case: w and dw fixed, w after one step of each rule from config=None (the default
    # hyperparameters), computed once and written here as numbers.
    w = np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.25]])
    dw = np.array([[1.0, -2.0, 0.5], [-0.75, 1.25, 2.0]])
    after = {
        "sgd": (sgd, [[0.49, -0.98, 1.995], [0.0075, 1.4875, -0.27]]),
        "sgd_momentum": (sgd_momentum, [[0.49, -0.98, 1.995], [0.0075, 1.4875, -0.27]]),
        "rmsprop": (rmsprop, [[0.4000000099999991, -0.9000000049999998, 1.900000019999996], [0.0999999866666684, 1.4000000079999995, -0.34999999500000023]]),
        "adam": (adam, [[0.49900000001, -0.999000000005, 1.99900000002], [0.0009999999866666669, 1.499000000008, -0.250999999995]]),
    }
    for name, (rule, want) in after.items():
        next_w, _ = rule(w.copy(), dw.copy(), None)
        checks.close(f"{name}: w after one step from config=None", next_w, np.array(want), rtol=1e-7, atol=1e-10)


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_q5_momentum_three_steps(sgd_momentum):
    import numpy as np

    from cnnkit import checks

    # Gradients c_t * g with c = 1, -1, 2, lr 0.1, momentum 0.9, by hand: v = -0.1, then
    # 0.9 * -0.1 + 0.1 = 0.01, then 0.9 * 0.01 - 0.2 = -0.191 (times g); w moves by the running sum.
    rng = checks.rng()
    w0 = rng.standard_normal(5)
    g = rng.standard_normal(5)
    w, config = w0.copy(), {"learning_rate": 0.1, "momentum": 0.9}
    for step, (c, moved) in enumerate([(1.0, -0.1), (-1.0, -0.09), (2.0, -0.281)]):
        w, config = sgd_momentum(w, c * g, config)
        checks.close(f"w after step {step + 1}", w, w0 + moved * g, rtol=1e-7, atol=1e-10)


# %% [raw]
# # END QUESTION

# %% [markdown]
# ### Adam's first step
# Your `adam` on one gradient from a fresh state, next to the same step computed by hand without the
# bias correction (the moments `m = (1 - beta1) dw` and `v = (1 - beta2) dw**2` used as they are).

# %%
dw_demo = np.array([0.5, -2.0, 1e-3])
w_demo = np.zeros(3)
next_w_demo, _ = adam(w_demo.copy(), dw_demo.copy(), {"learning_rate": 1e-3})
m_raw, v_raw = (1 - 0.9) * dw_demo, (1 - 0.999) * dw_demo**2
step_raw = 1e-3 * m_raw / (np.sqrt(v_raw) + 1e-8)
print("gradient:                        ", dw_demo)
print("first step, your adam:           ", next_w_demo - w_demo)
print("first step, no bias correction:  ", -step_raw)
print("ratio (no correction / corrected):", np.abs(step_raw) / np.maximum(np.abs(next_w_demo - w_demo), 1e-30))

# %% [raw]
# # BEGIN QUESTION
# name: w2
# points: 3
# manual: true

# %% [markdown]
# ### Written question 2 (3 points) — why Adam corrects its bias
# Using the numbers the cell above printed: how large is Adam's first step with and without the bias
# correction, and why? What would go wrong in the first steps of training without the correction, and
# why does the correction stop mattering after a few thousand steps?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# **Model answer.** Both moments start at 0, so after step 1 they are $m = (1-\beta_1)\,dw = 0.1\,dw$
# and $v = (1-\beta_2)\,dw^2 = 0.001\,dw^2$: estimates biased towards 0, $v$ much more than $m$.
# Corrected, $\hat m = dw$ and $\hat v = dw^2$, so the first step is $\eta\,dw/|dw| \approx \eta$ in
# every coordinate (1e-3 here, whatever the gradient's size). Uncorrected, it is
# $\eta \cdot 0.1 / \sqrt{0.001} \approx 3.16\,\eta$: about three times too large, in every coordinate,
# because the tiny $v$ in the denominator shrinks more than $m$ does. Without the correction the first
# steps are too large (up to about $3\eta$, the more so the larger $\beta_2$), which can throw a freshly
# initialised network off before the moment estimates have averaged anything. The bias factors
# $1-\beta_1^t$ and $1-\beta_2^t$ tend to 1 ($0.999^t$ is about $e^{-t/1000}$), so after a few thousand
# steps corrected and uncorrected updates agree.
#
# **Rubric (3 points).**
# - 1 point: the numbers: corrected step about the learning rate (1e-3) in each coordinate,
#   uncorrected about 3.16 times that (from the student's printout).
# - 1 point: why: the moments start at zero and are biased towards 0 at small t, v (beta2 = 0.999)
#   far more than m (beta1 = 0.9), so dividing by the root of the uncorrected v makes the step too large.
# - 1 point: consequence and fading: too large (or erratic) first steps; the factors 1 - beta^t go to 1,
#   so the correction no longer matters after roughly 1 / (1 - beta2) = 1000 steps or a few thousand.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### Comparing the update rules
# The same small network and data, four rules, the loss after every step. Momentum, RMSProp and Adam
# should all beat plain SGD at the same number of steps; try other learning rates.

# %% tags=["otter_ignore"]
subset = data.load("fashion_mnist", "train", n=1000 if CI else 5000)
subset_val = data.load("fashion_mnist", "val", n=500 if CI else 1000)
curves = {}
for rule, lr in [(sgd, 5e-2), (sgd_momentum, 5e-2), (rmsprop, 1e-3), (adam, 1e-3)]:
    cnnkit.seed_everything(SEED)
    model = TwoLayerNet(input_dim=28 * 28, hidden_dim=100, num_classes=10, weight_scale=1e-2)
    s = Solver(
        model,
        {"X_train": subset.X, "y_train": subset.y, "X_val": subset_val.X, "y_val": subset_val.y},
        update_rule=rule,
        optim_config={"learning_rate": lr},
        batch_size=100,
        num_epochs=3 if CI else 5,
        progress=False,
        seed=SEED,
    )
    s.train()
    curves[f"{rule.__name__} (lr {lr:g})"] = s.loss_history
    print(f"{rule.__name__:>13}: final loss {s.loss_history[-1]:.3f}, best val acc {s.best_val_acc:.3f}")
ax = vis.plot_curves(curves, xlabel="iteration", ylabel="training loss", title="update rules compared")

# %% [markdown]
# ## Q6. Train on Fashion-MNIST
#
# Now the real thing: 55,000 training images of clothing (28×28 grayscale, 10 classes), 5,000 for
# validation. The cell below trains your `TwoLayerNet` with your `adam` through the library's `Solver`
# (progress bar, learning-rate decay, a time budget) and saves the best parameters to
# `twolayer_params.npz` — **submit that file with the notebook**. The grader evaluates it on test images
# you never trained on: bands at 70%, 80% and 84% accuracy. The reference settings below reach about 89%
# validation accuracy (88% on the test images) in 10 epochs, about 25 seconds of one CPU core, and pass
# 85% after two epochs; tune them if you like (hidden size, learning rate, regularization, epochs).
# Inputs are the raw pixels in [0, 1], flattened to 784 numbers: keep it that way, the grader feeds the
# test images like that.

# %% tags=["otter_ignore"]
train = data.load("fashion_mnist", "train")
val = data.load("fashion_mnist", "val")
print("train", train.X.shape, "val", val.X.shape, "classes", train.class_names)
cnnkit.seed_everything(SEED)
model = TwoLayerNet(input_dim=28 * 28, hidden_dim=200, num_classes=10, weight_scale=5e-2, reg=1e-4)
solver = Solver(
    model,
    {"X_train": train.X, "y_train": train.y, "X_val": val.X, "y_val": val.y},
    update_rule=adam,
    optim_config={"learning_rate": 2e-3},
    lr_decay=0.9,
    batch_size=200,
    num_epochs=4 if CI else 10,
    time_limit=None if CI else 60,  # CI machines vary in speed: there the epochs bound the run
    seed=SEED,
    verbose=True,
)
solver.train()
print(f"best validation accuracy: {solver.best_val_acc:.4f}")
np.savez(
    "twolayer_params.npz",
    hidden_dim=np.array(model.params["W1"].shape[1]),
    **{k: np.asarray(v, dtype=np.float64) for k, v in model.params.items()},
)

# %% [raw]
# # BEGIN QUESTION
# name: q6

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### Looking at the result
# The loss of every minibatch, the accuracies after every epoch, and the first layer's weights: each
# column of $W_1$ is a 28×28 template the hidden unit matches against the image.

# %% tags=["otter_ignore"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
vis.plot_curves({"minibatch loss": solver.loss_history}, ax=axes[0], xlabel="iteration", ylabel="loss")
vis.plot_curves(
    {"train": solver.train_acc_history, "val": solver.val_acc_history}, ax=axes[1], ylabel="accuracy"
)
plt.tight_layout()
W1_images = model.params["W1"].T.reshape(-1, 1, 28, 28)[:40]
ax = vis.filter_grid(W1_images, ncols=10)
ax.set_title("first-layer weights as 28x28 images (40 of them)");

# %% [markdown]
# ### Optional: CIFAR-10
# If CIFAR-10 is available (it downloads once when you are online; see `cnnkit data list`), the same
# network trains on 32×32 color images (3,072 inputs). Expect far lower accuracy than on Fashion-MNIST:
# that gap is what convolutional networks (notebook 02) close.

# %% tags=["otter_ignore"]
if not CI and data.available("cifar10"):
    c_train = data.load("cifar10", "train", n=10000)
    c_val = data.load("cifar10", "val", n=1000)
    c_model = TwoLayerNet(input_dim=3 * 32 * 32, hidden_dim=200, num_classes=10, weight_scale=1e-2, reg=1e-3)
    c_solver = Solver(
        c_model,
        {"X_train": c_train.X, "y_train": c_train.y, "X_val": c_val.X, "y_val": c_val.y},
        update_rule=adam,
        optim_config={"learning_rate": 1e-3},
        batch_size=200,
        num_epochs=5,
        time_limit=60,
        seed=SEED,
    )
    c_solver.train()
    print(f"CIFAR-10 best validation accuracy: {c_solver.best_val_acc:.3f}")
else:
    print("CIFAR-10 skipped (CI mode or not available offline)")
