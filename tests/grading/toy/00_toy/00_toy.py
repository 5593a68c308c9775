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
# name: 00_toy

# %% [markdown]
# # Toy stage: squares and a tiny affine layer
#
# The grader's tests build this stage with `cnnkit build` under a temp root (it is no stage of the
# course: `cnnkit.grading.stage.COURSE` does not list it) and grade submissions of it. It is authored
# as the real masters are: the lecture here, its hidden and artefact cases in `00_toy.cases.py`, its
# sample submissions in `samples.yml`. Hidden tests exist and are worth most of the points.

# %%
from cnnkit.colab import bootstrap

bootstrap("00_toy")

# %%
import numpy as np

import cnnkit

SEED = 0
cnnkit.seed_everything(SEED)

# %% [markdown]
# ## Q1. A square
# Implement `square_plus_one(x)`, which returns `x * x + 1` elementwise.

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %%
def square_plus_one(x):
    """Return x squared plus one.

    Inputs:
    - x: a number or array.

    Returns:
    - y: same shape as x.
    """
    # BEGIN SOLUTION
    squared_value_of_x = np.multiply(x, x)
    return squared_value_of_x + 1
    # END SOLUTION


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_square_plus_one_public(square_plus_one):
    from cnnkit import checks

    checks.close("f(3)", square_plus_one(3.0), 10.0)


# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Q2. An affine layer
# Implement `affine(x, w, b)` returning `x @ w + b`, each example of `x` flattened to a row first.

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %%
def affine(x, w, b):
    """Affine map.

    Inputs:
    - x: array of shape (N, D).
    - w: array of shape (D, M).
    - b: array of shape (M,).

    Returns:
    - out: array of shape (N, M).
    """
    # BEGIN SOLUTION
    out_matrix_product = x.reshape(x.shape[0], -1) @ w
    return out_matrix_product + b
    # END SOLUTION


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
""" # END TEST CONFIG
def test_affine_shape(affine):
    from cnnkit import checks

    rng = checks.rng()
    x, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    checks.equal("output shape", affine(x, w, b).shape, (2, 4))


# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Q3. The trained weights
# Training stands in here: the cell writes `toy_params.npz`, which you submit with the notebook (the
# grader evaluates the file you submit).

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [raw]
# # END QUESTION

# %% tags=["otter_ignore"]
np.savez("toy_params.npz", W=np.arange(6.0).reshape(2, 3), ci=np.array(cnnkit.ci_mode()))
print("saved toy_params.npz")
