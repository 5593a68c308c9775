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
# - four update rules (SGD, momentum, RMSProp, Adam) and how they compare;
# - part 2, deeper nets: tanh and leaky ReLU, weight initialization (Xavier, Kaiming), inverted dropout,
#   batch and layer normalization, and a fully connected net of any depth built from them.
#
# **Time.** About 4–5 hours for part 1 (Q1–Q6) and 4–6 hours for part 2 (Q7–Q11; batch normalization's
# backward pass is its longest step). Everything is numpy: a laptop CPU is all you need (a GPU does not
# help here). The whole notebook ran in 100 s on a 2-core cloud VM with one thread and one other job
# beside it (the training cell of Q6 21 s, the batch-normalization experiment of part 2 67 s); on the
# same VM busy with several other jobs that experiment took about 6 minutes.
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

# %% [markdown]
# # Part 2 — Training deeper networks
#
# A two-layer net trains with almost any sensible setting. Stack ten layers and it often does not learn
# at all. Part 2 builds, in numpy and with the same layer contract as Q3, the tools that make deep nets
# trainable: other activations (Q7), weight initialization (Q8), inverted dropout (Q9) and batch
# normalization (Q10); then a `FullyConnectedNet` of any depth that uses all of them (Q11), checked
# with the same sanity ladder as the two-layer net, and two experiments: what initialization does to a
# 10-layer net's activations, and what batch normalization does to the weight scale and the learning
# rate a deep net tolerates. Written questions 3 and 4 ask you to explain your own plots.

# %% [markdown]
# ## Q7. Activations: tanh and leaky ReLU
#
# The lecture lists the sigmoid's three problems: saturated neurons "kill" the gradients, its outputs
# are not zero-centred, and `exp()` is a bit expensive. Two alternatives:
#
# - **tanh**: $\tanh(x) \in (-1, 1)$, zero-centred, but it still saturates. Like the sigmoid in Q3 its
#   local gradient $1 - \tanh^2(x)$ needs only the **output**: cache the output and compute the backward
#   pass from it.
# - **leaky ReLU**: $x$ where $x > 0$ and $\alpha x$ elsewhere (the lecture draws $\max(0.1x, x)$; the
#   default here is torch's $\alpha = 0.01$). Negative inputs keep a small slope, so a unit never stops
#   passing gradient completely.
#
# Write each function in its own cell, with the same contract as Q3.

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
# Your `sigmoid_forward`/`sigmoid_backward` from Q3 and your tanh, on numbers you compute. First the
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
# - **small**: a constant, `weight_scale` (what `TwoLayerNet` used);
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
# Q3)? (c) Which scheme keeps the statistics roughly constant for ReLU, and what goes wrong with Xavier
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
#    $\hat x$, $y$), cache them, and apply Q1's gate rules in reverse. Each $x_{ij}$ reaches the output
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
# `Solver` trains it like `TwoLayerNet`.

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
# The same three rungs as for the two-layer net: the initial loss of a 5-layer net with small weights,
# a float64 gradient check with batch normalization, dropout (its seed fixes the mask) and
# regularization on, then overfitting 50 images. A hidden bias right before batch norm gets a zero
# gradient (the mean subtraction cancels it), so the check prints absolute differences for those.

# %% tags=["otter_ignore"]
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
