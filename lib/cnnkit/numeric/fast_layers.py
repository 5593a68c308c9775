"""Vectorized conv and max-pool layers in pure numpy (notebook 02, question 4).

Same signatures, caches and results as conv_layers.py's naive loops (a cache from one works with the
other's backward), no compiled extension:
- conv: im2col through a strided window view (`sliding_window_view`, no data copied until the
  reshape) and one matrix multiply; the backward pass scatters the column gradients back with
  HH*WW strided adds (col2im), so overlapping windows add up.
- max pool: the same window view for tiling and overlapping windows, copied with the window offset
  first so the max is a few elementwise maxima; the backward pass routes each window's gradient to
  its first max and scatters all of them with one np.bincount, which adds where windows overlap.
  Both go through the batch a few images (about 4 MiB) at a time, so their copies stay in cache.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# BEGIN EXERCISE 02_conv_layers


def conv_forward_fast(x, w, b, conv_param):
    """Vectorized forward pass of a conv layer (cross-correlation): im2col and one matrix multiply.

    Inputs:
    - x: input of shape (N, C, H, W).
    - w: filters of shape (F, C, HH, WW).
    - b: biases of shape (F,).
    - conv_param: dict with 'stride' (int, both axes) and 'pad' (int, zeros added on every side).

    Returns:
    - out: output of shape (N, F, H_out, W_out) with
      H_out = 1 + (H + 2 * pad - HH) // stride, W_out = 1 + (W + 2 * pad - WW) // stride.
    - cache: (x, w, b, conv_param), as conv_forward_naive.
    """
    # BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # (N, C, H_out, W_out, HH, WW): a view, every window of every image, nothing copied yet.
    windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    # im2col: one row per (c, u, v) (the order of w.reshape(F, -1)), one column per output pixel;
    # this order keeps the copy's inner loop on runs of neighbouring pixels.
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * HH * WW, N * H_out * W_out)
    out = w.reshape(F, -1) @ cols
    out += b.reshape(F, 1)  # in place: no second output-sized array
    # (F, N, H_out, W_out) in memory, returned as an (N, F, H_out, W_out) view: no copy either.
    out = out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)
    cache = (x, w, b, conv_param)
    return out, cache
    # END SOLUTION


def conv_backward_fast(dout, cache):
    """Vectorized backward pass of a conv layer: two matrix multiplies and col2im by strided adds.

    Inputs:
    - dout: upstream gradient of shape (N, F, H_out, W_out).
    - cache: (x, w, b, conv_param) from conv_forward_fast (or conv_forward_naive).

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
    windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * HH * WW, N * H_out * W_out)
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, N * H_out * W_out)
    db = dout_rows.sum(axis=1)
    # The matrix product sums over every output pixel of every image: the batch sum of dw.
    dw = (dout_rows @ cols.T).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ dout_rows).reshape(C, HH, WW, N, H_out, W_out)
    # col2im: kernel entry (u, v) touched input pixels (u + stride*i, v + stride*j); overlaps add.
    dxp = np.zeros(xp.shape, dtype=dcols.dtype)
    dxp_cn = dxp.transpose(1, 0, 2, 3)  # a (C, N, Hp, Wp) view, the layout of dcols[:, u, v]
    for u in range(HH):
        for v in range(WW):
            rows = slice(u, u + stride * H_out, stride)
            columns = slice(v, v + stride * W_out, stride)
            dxp_cn[:, :, rows, columns] += dcols[:, u, v]
    dx = dxp[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, db
    # END SOLUTION


def max_pool_forward_fast(x, pool_param):
    """Vectorized forward pass of a max-pooling layer: im2col and a max over the window offsets.

    Inputs:
    - x: input of shape (N, C, H, W).
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride' (no padding).

    Returns:
    - out: output of shape (N, C, H_out, W_out) with
      H_out = 1 + (H - pool_height) // stride, W_out = 1 + (W - pool_width) // stride.
    - cache: (x, pool_param), as max_pool_forward_naive.
    """
    # BEGIN SOLUTION
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    # (N, C, H_out, W_out, ph, pw): a view, every window of every image (tiling or overlapping).
    windows = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
    # A few images at a time (about 4 MiB of input): the copy below then stays in the CPU cache and
    # numpy reuses its memory; one copy of a whole large batch is several times slower.
    step = max(1, 2**22 // max(1, x[:1].nbytes))
    for i in range(0, N, step):
        # im2col with the window offset first: cols[k] is offset k (row-major) of every window. The
        # max over that leading axis is ph*pw - 1 elementwise maxima of whole arrays; numpy's
        # reduction over two tiny trailing axes (windows.max(axis=(4, 5))) is about ten times slower.
        cols = (
            windows[i : i + step].transpose(4, 5, 0, 1, 2, 3).reshape(ph * pw, -1, C, H_out, W_out)
        )
        out[i : i + step] = cols.max(axis=0)
    cache = (x, pool_param)
    return out, cache
    # END SOLUTION


def max_pool_backward_fast(dout, cache):
    """Vectorized backward pass of a max-pooling layer: find each window's max, then one scatter.

    Each window's upstream gradient goes to the window's first max (row-major, as torch and the naive
    version); where windows overlap, the gradients of every window an input is the max of add up.

    Inputs:
    - dout: upstream gradient of shape (N, C, H_out, W_out).
    - cache: (x, pool_param) from max_pool_forward_fast (or max_pool_forward_naive).

    Returns:
    - dx: gradient with respect to x, shape (N, C, H, W).
    """
    # BEGIN SOLUTION
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    _, _, H_out, W_out = dout.shape
    windows = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    # Index, in one image flattened, of each window's top-left input.
    top_left = (
        np.arange(C).reshape(C, 1, 1) * (H * W)
        + np.arange(H_out).reshape(H_out, 1) * (stride * W)
        + np.arange(W_out) * stride
    )
    dx = np.empty(x.shape, dtype=np.result_type(x, dout))
    step = max(1, 2**22 // max(1, x[:1].nbytes))  # images at a time, as in the forward pass
    for i in range(0, N, step):
        cols = (
            windows[i : i + step].transpose(4, 5, 0, 1, 2, 3).reshape(ph * pw, -1, C, H_out, W_out)
        )
        out = cols.max(axis=0)
        n = out.shape[0]
        # target: each window's top-left input as a flat index into this chunk of x ...
        target = np.arange(n).reshape(n, 1, 1, 1) * (C * H * W) + top_left
        # ... moved to the first offset (row-major, as torch) holding the window's max.
        routed = np.zeros(out.shape, dtype=bool)
        for u in range(ph):
            for v in range(pw):
                first = (cols[u * pw + v] == out) & ~routed
                routed |= first
                target += first * (u * W + v)
        # One scatter: bincount sums the gradients of all windows routed to the same input, as
        # overlapping windows need (np.add.at does the same, many times slower).
        grads = np.bincount(
            target.ravel(), weights=dout[i : i + n].ravel(), minlength=n * C * H * W
        )
        dx[i : i + n] = grads.reshape(n, C, H, W)
    return dx
    # END SOLUTION


# END EXERCISE
