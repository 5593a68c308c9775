"""Conv and max-pool layers written with explicit loops, plus 2-D filters (notebook 02, questions 2-3).

Layout NCHW; the conv layer computes a cross-correlation (the kernel is not flipped), as torch's
F.conv2d does. Layer contract (CS231n): `out, cache = f_forward(...)`, `grads = f_backward(dout, cache)`,
with conv_param = {'stride', 'pad'} and pool_param = {'pool_height', 'pool_width', 'stride'}.
When (H + 2*pad - HH) is not a multiple of the stride the output size is floored, like torch: the
last rows/columns that no window reaches are ignored (and get zero gradient).
The vectorized versions with the same signatures and caches live in fast_layers.py.
"""

from __future__ import annotations

import numpy as np

# BEGIN EXERCISE 02_conv_layers


def correlate2d(image, kernel):
    """Valid 2-D cross-correlation of one channel: out[i, j] = sum_uv kernel[u, v] * image[i+u, j+v].

    Inputs:
    - image: array of shape (H, W).
    - kernel: array of shape (KH, KW), KH <= H and KW <= W.

    Returns:
    - out: array of shape (H - KH + 1, W - KW + 1).
    """
    # BEGIN SOLUTION
    H, W = image.shape
    KH, KW = kernel.shape
    H_out, W_out = H - KH + 1, W - KW + 1
    out = np.zeros((H_out, W_out), dtype=np.result_type(image, kernel, np.float64))
    # One shifted copy of the image per kernel entry: KH*KW array adds instead of H*W small sums.
    for u in range(KH):
        for v in range(KW):
            out += kernel[u, v] * image[u : u + H_out, v : v + W_out]
    return out
    # END SOLUTION


def convolve2d(image, kernel):
    """Valid 2-D convolution (the signal-processing one): the kernel flipped, then cross-correlated.

    out[i, j] = sum_uv kernel[u, v] * image[i + KH-1-u, j + KW-1-v].

    Inputs:
    - image: array of shape (H, W).
    - kernel: array of shape (KH, KW).

    Returns:
    - out: array of shape (H - KH + 1, W - KW + 1).
    """
    # BEGIN SOLUTION
    return correlate2d(image, kernel[::-1, ::-1])
    # END SOLUTION


def gaussian_kernel(size, sigma):
    """A normalized 2-D Gaussian blur kernel centred in a size x size grid.

    Inputs:
    - size: odd int, the kernel width and height.
    - sigma: standard deviation in pixels.

    Returns:
    - kernel: array of shape (size, size), entries exp(-(u^2 + v^2) / (2 sigma^2)) scaled to sum 1,
      where u, v are offsets from the centre.
    """
    # BEGIN SOLUTION
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()
    # END SOLUTION


def conv_as_matrix(kernel, input_shape):
    """The matrix M of a valid cross-correlation: M @ image.ravel() == correlate2d(image, kernel).ravel().

    Inputs:
    - kernel: array of shape (KH, KW).
    - input_shape: (H, W) of the image.

    Returns:
    - M: array of shape ((H-KH+1) * (W-KW+1), H * W); row r = i * W_out + j holds the kernel placed
      at the window of output pixel (i, j) and zeros elsewhere (a 4x16 matrix for 3x3 on 4x4).
    """
    # BEGIN SOLUTION
    H, W = input_shape
    KH, KW = kernel.shape
    H_out, W_out = H - KH + 1, W - KW + 1
    M = np.zeros((H_out * W_out, H * W), dtype=np.result_type(kernel, np.float64))
    for i in range(H_out):
        for j in range(W_out):
            placed = np.zeros((H, W), dtype=M.dtype)
            placed[i : i + KH, j : j + KW] = kernel
            M[i * W_out + j] = placed.ravel()
    return M
    # END SOLUTION


def conv_forward_naive(x, w, b, conv_param):
    """Forward pass of a conv layer (cross-correlation), with explicit loops.

    Inputs:
    - x: input of shape (N, C, H, W).
    - w: filters of shape (F, C, HH, WW).
    - b: biases of shape (F,).
    - conv_param: dict with 'stride' (int, both axes) and 'pad' (int, zeros added on every side).

    Returns:
    - out: output of shape (N, F, H_out, W_out) with
      H_out = 1 + (H + 2 * pad - HH) // stride, W_out = 1 + (W + 2 * pad - WW) // stride.
    - cache: (x, w, b, conv_param).
    """
    # BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w, b))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = xp[n, :, hs : hs + HH, ws : ws + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache
    # END SOLUTION


def conv_backward_naive(dout, cache):
    """Backward pass of a conv layer, with explicit loops.

    Inputs:
    - dout: upstream gradient of shape (N, F, H_out, W_out).
    - cache: (x, w, b, conv_param) from conv_forward_naive.

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W).
    - dw: gradient with respect to w, shape (F, C, HH, WW).
    - db: gradient with respect to b, shape (F,).
    """
    # BEGIN SOLUTION
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp, dtype=np.result_type(xp, w, dout))
    dw = np.zeros_like(w, dtype=np.result_type(x, w, dout))
    # Each output pixel used b[f] once, so db sums dout over batch and space.
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    g = dout[n, f, i, j]
                    dxp[n, :, hs : hs + HH, ws : ws + WW] += g * w[f]
                    dw[f] += g * xp[n, :, hs : hs + HH, ws : ws + WW]
    dx = dxp[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, db
    # END SOLUTION


def max_pool_forward_naive(x, pool_param):
    """Forward pass of a max-pooling layer, with explicit loops.

    Inputs:
    - x: input of shape (N, C, H, W).
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride' (no padding).

    Returns:
    - out: output of shape (N, C, H_out, W_out) with
      H_out = 1 + (H - pool_height) // stride, W_out = 1 + (W - pool_width) // stride.
    - cache: (x, pool_param).
    """
    # BEGIN SOLUTION
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    out[n, c, i, j] = np.max(x[n, c, hs : hs + ph, ws : ws + pw])
    cache = (x, pool_param)
    return out, cache
    # END SOLUTION


def max_pool_backward_naive(dout, cache):
    """Backward pass of a max-pooling layer, with explicit loops.

    Each window's upstream gradient goes to the window's max (the first one in row-major order on a
    tie, as torch does); where windows overlap, an input that is the max of several gets their sum.

    Inputs:
    - dout: upstream gradient of shape (N, C, H_out, W_out).
    - cache: (x, pool_param) from max_pool_forward_naive.

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W).
    """
    # BEGIN SOLUTION
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x, dtype=np.result_type(x, dout))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = x[n, c, hs : hs + ph, ws : ws + pw]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, hs + u, ws + v] += dout[n, c, i, j]
    return dx
    # END SOLUTION


# END EXERCISE
