"""Autograd meets notebook 01: the lecture's gates as torch.autograd.Function subclasses.

A Function's forward computes with plain tensors and stashes what backward needs on `ctx`; backward
receives the upstream gradient and returns one gradient per forward input (None for inputs that need
none), the same "local gradient times upstream gradient" rule as the numpy gates of notebook 01.
"""

from __future__ import annotations

import torch

# BEGIN EXERCISE 03_pytorch_cnn


class Multiply(torch.autograd.Function):
    """z = x * y (elementwise), the lecture's multiply gate: backward swaps the inputs."""

    @staticmethod
    def forward(ctx, x, y):
        """Multiply and stash both inputs.

        Inputs:
        - ctx: the autograd context.
        - x, y: tensors of the same (or broadcast-free) shape.

        Returns:
        - z: tensor shaped like x, x * y.
        """
        # BEGIN SOLUTION
        ctx.save_for_backward(x, y)
        return x * y
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_z):
        """Route the upstream gradient: dL/dx = y * dL/dz and dL/dy = x * dL/dz.

        Inputs:
        - ctx: the autograd context holding x and y.
        - grad_z: tensor shaped like z, the upstream gradient dL/dz.

        Returns:
        - grad_x, grad_y: tensors shaped like x and y.
        """
        # BEGIN SOLUTION
        x, y = ctx.saved_tensors
        return y * grad_z, x * grad_z
        # END SOLUTION


class Sigmoid(torch.autograd.Function):
    """z = 1 / (1 + exp(-x)); backward uses the saved output: dz/dx = z * (1 - z)."""

    @staticmethod
    def forward(ctx, x):
        """Apply the sigmoid and stash its output (not its input), as PyTorch's own sigmoid does.

        Inputs:
        - ctx: the autograd context.
        - x: tensor of any shape.

        Returns:
        - z: tensor shaped like x, values in [0, 1].
        """
        # BEGIN SOLUTION
        z = 1.0 / (1.0 + torch.exp(-x))
        ctx.save_for_backward(z)
        return z
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_z):
        """dL/dx = dL/dz * z * (1 - z), from the saved output z.

        Inputs:
        - ctx: the autograd context holding z.
        - grad_z: tensor shaped like z, the upstream gradient.

        Returns:
        - grad_x: tensor shaped like x.
        """
        # BEGIN SOLUTION
        (z,) = ctx.saved_tensors
        return grad_z * z * (1.0 - z)
        # END SOLUTION


def sigmoid_circuit_autograd(w0, x0, w1, x1, w2):
    """The lecture's circuit L = sigmoid(w0*x0 + w1*x1 + w2), its gradients computed by autograd.

    Built from the two Functions above, in float64.

    Inputs:
    - w0, x0, w1, x1, w2: Python floats.

    Returns:
    - L: Python float, the circuit's output.
    - grads: dict with keys 'w0', 'x0', 'w1', 'x1', 'w2' holding Python floats dL/d(name).
    """
    # BEGIN SOLUTION
    names = ["w0", "x0", "w1", "x1", "w2"]
    values = [w0, x0, w1, x1, w2]
    t = {
        n: torch.tensor(float(v), dtype=torch.float64, requires_grad=True)
        for n, v in zip(names, values, strict=True)
    }
    s = Multiply.apply(t["w0"], t["x0"]) + Multiply.apply(t["w1"], t["x1"]) + t["w2"]
    L = Sigmoid.apply(s)
    L.backward()
    return L.item(), {n: t[n].grad.item() for n in names}
    # END SOLUTION


# END EXERCISE
