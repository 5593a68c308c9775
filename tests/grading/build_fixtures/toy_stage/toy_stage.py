# %% [markdown]
# # Toy stage: squares and a tiny affine layer
#
# A fixture master for the build tests. Hidden tests exist and are worth most of the points.

# %% [raw]
# # ASSIGNMENT CONFIG
# name: toy_stage

# %%
from cnnkit.colab import bootstrap

bootstrap("toy_stage")

# %%
import numpy as np

import cnnkit

SEED = 0
cnnkit.seed_everything(SEED)

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# **Question 1.** Implement `square_plus_one(x)`, which returns `x * x + 1` elementwise.

# %% [raw]
# # BEGIN SOLUTION


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


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
"""  # END TEST CONFIG


def test_square_plus_one_public(square_plus_one):
    from cnnkit import checks

    checks.close("f(3)", square_plus_one(3.0), 10.0)


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
"""  # END TEST CONFIG


def test_square_plus_one_secret_inputs(square_plus_one):
    from cnnkit import checks

    x = checks.rng().standard_normal((4, 5))
    checks.close("f(x) on random input", square_plus_one(x), lambda: x**2 + 1.0)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# **Question 2.** Implement `affine(x, w, b)` returning `x @ w + b`.

# %% [raw]
# # BEGIN SOLUTION


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


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: false
"""  # END TEST CONFIG


def test_affine_shape(affine):
    from cnnkit import checks

    rng = checks.rng()
    x, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    checks.equal("output shape", affine(x, w, b).shape, (2, 4))


# %%
""" # BEGIN TEST CONFIG
points: 3
hidden: true
"""  # END TEST CONFIG


def test_affine_hidden_values(affine):
    from cnnkit import checks

    rng = checks.rng()
    x, w, b = rng.standard_normal((5, 2, 3)), rng.standard_normal((6, 7)), rng.standard_normal(7)
    checks.close("affine values", affine(x, w, b), lambda: x.reshape(5, 6) @ w + b)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% tags=["otter_ignore"]
# Training stands in here: it writes the artifact that the submission carries.
params = {"W": np.arange(6.0).reshape(2, 3) * (2 if cnnkit.ci_mode() else 1)}
np.savez("toy_params.npz", **params)
print("saved toy_params.npz")
