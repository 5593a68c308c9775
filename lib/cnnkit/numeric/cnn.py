"""A three-layer ConvNet in numpy (notebook 02, question 5) and the same with spatial batch
normalization (question 7), trainable by cnnkit.numeric.solver.Solver.

They follow the Solver's model protocol (`params`, `loss(X, y=None)`) and are built from the
vectorized conv/pool layers of fast_layers.py, the affine/ReLU/softmax layers of notebook 01
(layers.py) and the spatial batch norm of deep_layers.py.
"""

from __future__ import annotations

import numpy as np

from cnnkit.numeric.deep_layers import spatial_batchnorm_backward, spatial_batchnorm_forward
from cnnkit.numeric.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cnnkit.numeric.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)

# BEGIN EXERCISE 02_conv_layers


class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax, on NCHW minibatches.

    The conv layer keeps the spatial size (stride 1, pad (filter_size - 1) // 2, odd filter_size);
    the pool halves it (2x2 windows, stride 2). Parameters live in self.params:
    - W1: (num_filters, C, filter_size, filter_size), b1: (num_filters,)
    - W2: (num_filters * (H // 2) * (W // 2), hidden_dim), b2: (hidden_dim,)
    - W3: (hidden_dim, num_classes), b3: (num_classes,)
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        """Initialize the network: weights ~ N(0, weight_scale^2) from numpy's global RNG, biases 0.

        Inputs:
        - input_dim: (C, H, W) of one input image.
        - num_filters: number of conv filters.
        - filter_size: odd width and height of the conv filters.
        - hidden_dim: units of the hidden affine layer.
        - num_classes: number of class scores.
        - weight_scale: standard deviation of the initial weights.
        - reg: L2 regularization strength (loss adds 0.5 * reg * sum of squared weights).
        - dtype: numpy float type of the parameters (float64 for gradient checks).
        """
        # BEGIN SOLUTION
        C, H, W = input_dim
        self.reg = reg
        self.dtype = dtype
        pooled = num_filters * (H // 2) * (W // 2)
        self.params = {
            "W1": weight_scale * np.random.randn(num_filters, C, filter_size, filter_size),
            "b1": np.zeros(num_filters),
            "W2": weight_scale * np.random.randn(pooled, hidden_dim),
            "b2": np.zeros(hidden_dim),
            "W3": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b3": np.zeros(num_classes),
        }
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        # END SOLUTION

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients.

        Inputs:
        - X: array of shape (N, C, H, W), a minibatch.
        - y: None, or int array of shape (N,) with labels 0 <= y[i] < num_classes.

        Returns:
        - scores: array of shape (N, num_classes), when y is None.
        - (loss, grads), when y is given: loss a float (softmax loss + L2 regularization), grads a dict
          with the keys of self.params and arrays shaped like them.
        """
        # BEGIN SOLUTION
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        conv_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        a1, conv_cache = conv_forward_fast(X, W1, b1, conv_param)
        r1, relu1_cache = relu_forward(a1)
        p1, pool_cache = max_pool_forward_fast(r1, pool_param)
        a2, fc2_cache = affine_forward(p1, W2, b2)
        r2, relu2_cache = relu_forward(a2)
        scores, fc3_cache = affine_forward(r2, W3, b3)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))
        dr2, dW3, db3 = affine_backward(dscores, fc3_cache)
        da2 = relu_backward(dr2, relu2_cache)
        dp1, dW2, db2 = affine_backward(da2, fc2_cache)
        dr1 = max_pool_backward_fast(dp1, pool_cache)
        da1 = relu_backward(dr1, relu1_cache)
        _, dW1, db1 = conv_backward_fast(da1, conv_cache)
        grads = {
            "W1": dW1 + self.reg * W1,
            "b1": db1,
            "W2": dW2 + self.reg * W2,
            "b2": db2,
            "W3": dW3 + self.reg * W3,
            "b3": db3,
        }
        return loss, grads
        # END SOLUTION


class ThreeLayerConvNetBN(ThreeLayerConvNet):
    """conv - spatial batch norm - relu - 2x2 max pool - affine - relu - affine - softmax.

    Question 5's network with question 7's spatial batch normalization between the conv layer and its
    ReLU. The normalization subtracts each channel's mean, so the conv bias would do nothing: W1 has
    no bias; the conv layer is run with zeros in its place. Parameters in self.params:
    - W1: (num_filters, C, filter_size, filter_size); gamma1, beta1: (num_filters,), ones and zeros
    - W2, b2, W3, b3: as in ThreeLayerConvNet.
    self.bn_param: the batch norm's dict ({"mode": "train"} at first; its running averages are added
    by the first training call, with spatial_batchnorm_forward's default momentum and eps).
    L2 regularization on W1, W2, W3 only (not on gamma1, beta1 or the biases).
    """

    def __init__(self, *args, **kwargs):
        """The arguments of ThreeLayerConvNet; weights from numpy's global RNG in the same order."""
        # BEGIN SOLUTION
        super().__init__(*args, **kwargs)
        W1 = self.params["W1"]
        del self.params["b1"]
        self.params["gamma1"] = np.ones(W1.shape[0], dtype=W1.dtype)
        self.params["beta1"] = np.zeros(W1.shape[0], dtype=W1.dtype)
        self.bn_param = {"mode": "train"}
        # END SOLUTION

    def loss(self, X, y=None):
        """Class scores (batch norm in test mode: the running averages), or the loss and its gradients
        (train mode: the minibatch's statistics, which also update the running averages).

        Inputs:
        - X: array of shape (N, C, H, W), a minibatch.
        - y: None, or int array of shape (N,) with labels 0 <= y[i] < num_classes.

        Returns:
        - scores: array of shape (N, num_classes), when y is None.
        - (loss, grads), when y is given: loss a float (softmax loss + L2 regularization), grads a dict
          with the keys of self.params and arrays shaped like them.
        """
        # BEGIN SOLUTION
        W1, gamma1, beta1 = self.params["W1"], self.params["gamma1"], self.params["beta1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        conv_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        self.bn_param["mode"] = "test" if y is None else "train"

        a1, conv_cache = conv_forward_fast(X, W1, np.zeros(W1.shape[0], dtype=W1.dtype), conv_param)
        n1, bn_cache = spatial_batchnorm_forward(a1, gamma1, beta1, self.bn_param)
        r1, relu1_cache = relu_forward(n1)
        p1, pool_cache = max_pool_forward_fast(r1, pool_param)
        a2, fc2_cache = affine_forward(p1, W2, b2)
        r2, relu2_cache = relu_forward(a2)
        scores, fc3_cache = affine_forward(r2, W3, b3)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))
        dr2, dW3, db3 = affine_backward(dscores, fc3_cache)
        da2 = relu_backward(dr2, relu2_cache)
        dp1, dW2, db2 = affine_backward(da2, fc2_cache)
        dr1 = max_pool_backward_fast(dp1, pool_cache)
        dn1 = relu_backward(dr1, relu1_cache)
        da1, dgamma1, dbeta1 = spatial_batchnorm_backward(dn1, bn_cache)
        _, dW1, _ = conv_backward_fast(da1, conv_cache)
        grads = {
            "W1": dW1 + self.reg * W1,
            "gamma1": dgamma1,
            "beta1": dbeta1,
            "W2": dW2 + self.reg * W2,
            "b2": db2,
            "W3": dW3 + self.reg * W3,
            "b3": db3,
        }
        return loss, grads
        # END SOLUTION


# END EXERCISE
