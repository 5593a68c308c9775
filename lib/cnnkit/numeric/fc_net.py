"""Fully connected networks built from the layers of `cnnkit.numeric.layers`.

A model is anything with a `params` dict (name -> array) and `loss(X, y=None)`, which returns the class
scores when `y is None` and `(loss, grads)` otherwise, grads holding one array per entry of `params`.
`cnnkit.numeric.solver.Solver` trains every such model.
"""

from __future__ import annotations

import numpy as np

from cnnkit.numeric.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)

# BEGIN EXERCISE 01_backprop


class TwoLayerNet:
    """A two-layer fully connected network: affine - relu - affine - softmax.

    Inputs have D = input_dim numbers each, the hidden layer H = hidden_dim units, and there are
    C = num_classes classes. The loss is the mean softmax loss plus 0.5 * reg * (||W1||^2 + ||W2||^2);
    biases are not regularized.

    Parameters in self.params:
    - W1: array of shape (D, H), first-layer weights.
    - b1: array of shape (H,), first-layer biases.
    - W2: array of shape (H, C), second-layer weights.
    - b2: array of shape (C,), second-layer biases.
    """

    def __init__(
        self,
        input_dim=3 * 32 * 32,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
    ):
        """Initialize the weights from N(0, weight_scale^2) (numpy's global RNG) and the biases to 0.

        Inputs:
        - input_dim: int D, the size of one input (after flattening).
        - hidden_dim: int H, the number of hidden units.
        - num_classes: int C, the number of classes.
        - weight_scale: float, the standard deviation of the initial weights.
        - reg: float, the L2 regularization strength.
        """
        # BEGIN SOLUTION
        self.reg = reg
        self.params = {
            "W1": weight_scale * np.random.randn(input_dim, hidden_dim),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b2": np.zeros(num_classes),
        }
        # END SOLUTION

    def loss(self, X, y=None):
        """Class scores for a minibatch, or its loss and the gradients of every parameter.

        Inputs:
        - X: array of shape (N, d_1, ..., d_k) with d_1 * ... * d_k = D, the inputs.
        - y: int array of shape (N,), labels, 0 <= y[i] < C; or None.

        Returns:
        If y is None:
        - scores: array of shape (N, C), scores[i, c] is the score of class c for X[i].
        Else a tuple of:
        - loss: float, the mean softmax loss plus the regularization.
        - grads: dict with the same keys as self.params, each gradient shaped like its parameter.
        """
        # BEGIN SOLUTION
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        a1, fc1_cache = affine_forward(X, W1, b1)
        h1, relu_cache = relu_forward(a1)
        scores, fc2_cache = affine_forward(h1, W2, b2)
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

        grads = {}
        dh1, grads["W2"], grads["b2"] = affine_backward(dscores, fc2_cache)
        da1 = relu_backward(dh1, relu_cache)
        _, grads["W1"], grads["b1"] = affine_backward(da1, fc1_cache)
        grads["W2"] = grads["W2"] + self.reg * W2
        grads["W1"] = grads["W1"] + self.reg * W1
        return loss, grads
        # END SOLUTION


# END EXERCISE
