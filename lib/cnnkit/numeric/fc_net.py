"""Fully connected networks built from the layers of `cnnkit.numeric.layers`.

TwoLayerNet is the two-layer net of notebook 01; FullyConnectedNet (notebook 01b) stacks any number of
hidden layers with optional batch/layer normalization and dropout (`cnnkit.numeric.deep_layers`) and
initializes them by a scheme of `cnnkit.numeric.weight_init`.

A model is anything with a `params` dict (name -> array) and `loss(X, y=None)`, which returns the class
scores when `y is None` and `(loss, grads)` otherwise, grads holding one array per entry of `params`.
`cnnkit.numeric.solver.Solver` trains every such model.
"""

from __future__ import annotations

import numpy as np

from cnnkit.numeric.deep_layers import (
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
)
from cnnkit.numeric.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)
from cnnkit.numeric.weight_init import init_weights

NORMALIZATIONS = (None, "batchnorm", "layernorm")

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

# BEGIN EXERCISE 01b_deep_nets


class FullyConnectedNet:
    """A fully connected network of any depth:
    {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax.

    Inputs have D = input_dim numbers each, hidden layer i has H_i = hidden_dims[i - 1] units, and there
    are C = num_classes classes. The loss is the mean softmax loss plus 0.5 * reg * sum_i ||W_i||^2;
    biases, gammas and betas are not regularized. loss(X) (no labels) runs in test mode: dropout is the
    identity and batch norm uses its running averages; loss(X, y) runs in train mode.

    Parameters in self.params (i = 1..L; the last layer has no normalization):
    - Wi: array of shape (H_{i-1}, H_i) with H_0 = D and H_L = C.
    - bi: array of shape (H_i,).
    - gammai, betai: arrays of shape (H_i,) for i < L, when normalization is not None.
    Other state: self.bn_params (one dict per hidden layer, holding batch norm's running averages, or
    layer norm's eps) and self.dropout_param.
    """

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout_keep_ratio=1.0,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        init="small",
        dtype=np.float32,
        seed=None,
    ):
        """Initialize the weights by `init`, biases and betas to 0, gammas to 1.

        Inputs:
        - hidden_dims: list of ints, the width of each hidden layer (empty: a linear classifier).
        - input_dim: int D, the size of one input (after flattening).
        - num_classes: int C.
        - dropout_keep_ratio: float in (0, 1], the probability of keeping a unit; 1 means no dropout.
        - normalization: None, 'batchnorm' or 'layernorm', after every hidden affine layer.
        - reg: float, the L2 regularization strength.
        - weight_scale: float, the std of the weights when init is 'small'.
        - init: 'small', 'xavier' or 'kaiming' (cnnkit.numeric.weight_init.init_weights; Kaiming with
          the ReLU's gain for hidden layers, gain 1 for the last, linear one).
        - dtype: the dtype of every parameter and of the computation (np.float64 for gradient checks).
        - seed: None, or an int that seeds the weights AND fixes the dropout mask (the same mask on every
          call: for gradient checks, not for training); None draws both from numpy's global RNG.
        """
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(
                f"normalization must be None, 'batchnorm' or 'layernorm', got {normalization!r}"
            )
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio must be in (0, 1], got {dropout_keep_ratio}")
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        rng = np.random.default_rng(seed) if seed is not None else np.random
        self.params = {}
        # BEGIN SOLUTION
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            last = i == self.num_layers
            W = init_weights(
                dims[i - 1], dims[i], init, rng, "linear" if last else "relu", weight_scale
            )
            self.params[f"W{i}"] = W
            self.params[f"b{i}"] = np.zeros(dims[i])
            if normalization is not None and not last:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
        # END SOLUTION
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
        if seed is not None:
            self.dropout_param["seed"] = seed
        self.bn_params = [{"mode": "train"} for _ in hidden_dims] if normalization else []

    def loss(self, X, y=None):
        """Class scores for a minibatch (test mode), or its loss and every parameter's gradient (train).

        Inputs:
        - X: array of shape (N, d_1, ..., d_k) with d_1 * ... * d_k = D, the inputs.
        - y: int array of shape (N,), labels, 0 <= y[i] < C; or None.

        Returns:
        If y is None:
        - scores: array of shape (N, C), computed in test mode.
        Else a tuple of:
        - loss: float, the mean softmax loss plus the regularization.
        - grads: dict with the same keys as self.params, each gradient shaped like its parameter.
        """
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode

        # BEGIN SOLUTION
        h, caches = X, []
        for i in range(1, self.num_layers):
            h, fc_cache = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            norm_cache = drop_cache = None
            if self.normalization == "batchnorm":
                h, norm_cache = batchnorm_forward(
                    h, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1]
                )
            elif self.normalization == "layernorm":
                h, norm_cache = layernorm_forward(
                    h, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1]
                )
            h, relu_cache = relu_forward(h)
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
            caches.append((fc_cache, norm_cache, relu_cache, drop_cache))
        L = self.num_layers
        scores, last_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            fc_cache, norm_cache, relu_cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dh = dropout_backward(dh, drop_cache)
            dh = relu_backward(dh, relu_cache)
            if self.normalization == "batchnorm":
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dh, norm_cache)
            elif self.normalization == "layernorm":
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dh, norm_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dh, fc_cache)
        for i in range(1, L + 1):
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * float(np.sum(W * W))
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * W
        return loss, grads
        # END SOLUTION


# END EXERCISE
