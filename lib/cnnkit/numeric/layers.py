"""Fully connected layers, activations and losses in numpy, with the CS231n layer contract.

Every layer has `out, cache = <layer>_forward(...)` and `<layer>_backward(dout, cache)`, which returns
the gradients of the loss with respect to each input, shaped like that input. The functions inside the
exercise region are what students write in notebook 01_backprop; later notebooks (the deep nets of
01b_deep_nets, the ConvNet of 02_conv_layers) build on them.
"""

from __future__ import annotations

import numpy as np

# BEGIN EXERCISE 01_backprop


def affine_forward(x, w, b):
    """Forward pass of a fully connected (affine) layer: out = x.reshape(N, D) @ w + b.

    Each example x[i] of shape (d_1, ..., d_k) is flattened to a vector of D = d_1 * ... * d_k numbers.

    Inputs:
    - x: array of shape (N, d_1, ..., d_k), a minibatch of N examples.
    - w: array of shape (D, M), the weights.
    - b: array of shape (M,), the biases.

    Returns a tuple of:
    - out: array of shape (N, M).
    - cache: (x, w, b), for the backward pass.
    """
    # BEGIN SOLUTION
    out = x.reshape(x.shape[0], -1) @ w + b
    cache = (x, w, b)
    return out, cache
    # END SOLUTION


def affine_backward(dout, cache):
    """Backward pass of a fully connected (affine) layer.

    With X = x.reshape(N, D): dX = dout @ w.T, dw = X.T @ dout, db = dout summed over the batch.

    Inputs:
    - dout: array of shape (N, M), upstream gradient dL/dout.
    - cache: (x, w, b) from affine_forward; x of shape (N, d_1, ..., d_k), w (D, M), b (M,).

    Returns a tuple of:
    - dx: array of shape (N, d_1, ..., d_k), dL/dx.
    - dw: array of shape (D, M), dL/dw.
    - db: array of shape (M,), dL/db.
    """
    # BEGIN SOLUTION
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
    # END SOLUTION


def relu_forward(x):
    """Forward pass of the rectified linear unit: out = max(0, x), elementwise.

    Inputs:
    - x: array of any shape.

    Returns a tuple of:
    - out: array shaped like x.
    - cache: x, for the backward pass.
    """
    # BEGIN SOLUTION
    out = np.maximum(0, x)
    cache = x
    return out, cache
    # END SOLUTION


def relu_backward(dout, cache):
    """Backward pass of the ReLU: the upstream gradient passes where the input was positive.

    Inputs:
    - dout: array of any shape, upstream gradient dL/dout.
    - cache: x from relu_forward, shaped like dout.

    Returns:
    - dx: array shaped like dout, dL/dx.
    """
    # BEGIN SOLUTION
    x = cache
    dx = dout * (x > 0)
    return dx
    # END SOLUTION


def sigmoid_forward(x):
    """Forward pass of the logistic sigmoid: out = 1 / (1 + exp(-x)), elementwise.

    Computed without overflow: exp is only ever taken of a non-positive number.

    Inputs:
    - x: array of any shape.

    Returns a tuple of:
    - out: array shaped like x, values in (0, 1).
    - cache: out, for the backward pass (the local gradient needs only the output).
    """
    # BEGIN SOLUTION
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    cache = out
    return out, cache
    # END SOLUTION


def sigmoid_backward(dout, cache):
    """Backward pass of the sigmoid, from its cached output z: dx = dout * (1 - z) * z.

    Inputs:
    - dout: array of any shape, upstream gradient dL/dout.
    - cache: out from sigmoid_forward, shaped like dout.

    Returns:
    - dx: array shaped like dout, dL/dx.
    """
    # BEGIN SOLUTION
    z = cache
    dx = dout * (1 - z) * z
    return dx
    # END SOLUTION


def softmax_loss(scores, y):
    """Softmax (cross-entropy) loss and its gradient, averaged over the minibatch.

    L = (1/N) sum_i -log(exp(s[i, y[i]]) / sum_j exp(s[i, j])); the row maximum is subtracted before
    exponentiating, which leaves the loss unchanged and keeps exp from overflowing.

    Inputs:
    - scores: array of shape (N, C), class scores; scores[i, c] is the score of class c for example i.
    - y: int array of shape (N,), labels, 0 <= y[i] < C.

    Returns a tuple of:
    - loss: float, the mean loss.
    - dscores: array of shape (N, C), dL/dscores.
    """
    # BEGIN SOLUTION
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    dscores /= n
    return float(loss), dscores
    # END SOLUTION


def svm_loss(scores, y):
    """Multiclass SVM (hinge) loss with margin 1 and its gradient, averaged over the minibatch.

    L = (1/N) sum_i sum_{j != y[i]} max(0, s[i, j] - s[i, y[i]] + 1).

    Inputs:
    - scores: array of shape (N, C), class scores.
    - y: int array of shape (N,), labels, 0 <= y[i] < C.

    Returns a tuple of:
    - loss: float, the mean loss.
    - dscores: array of shape (N, C), dL/dscores.
    """
    # BEGIN SOLUTION
    n = scores.shape[0]
    correct = scores[np.arange(n), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(n), y] = 0
    loss = margins.sum() / n
    positive = (margins > 0).astype(scores.dtype)
    positive[np.arange(n), y] = -positive.sum(axis=1)
    dscores = positive / n
    return float(loss), dscores
    # END SOLUTION


# END EXERCISE


def affine_relu_forward(x, w, b):
    """An affine layer followed by a ReLU.

    Inputs:
    - x: array of shape (N, d_1, ..., d_k).
    - w: array of shape (D, M).
    - b: array of shape (M,).

    Returns a tuple of:
    - out: array of shape (N, M), the ReLU's output.
    - cache: (affine cache, relu cache), for the backward pass.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of affine_relu_forward.

    Inputs:
    - dout: array of shape (N, M), upstream gradient.
    - cache: (affine cache, relu cache) from affine_relu_forward.

    Returns a tuple of:
    - dx: array of shape (N, d_1, ..., d_k).
    - dw: array of shape (D, M).
    - db: array of shape (M,).
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)
