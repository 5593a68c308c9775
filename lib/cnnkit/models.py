"""PyTorch models for notebook 03: the lecture's CNN pattern, an MLP baseline, parameter counting.

The builders take only JSON-able arguments (ints, floats, bools, lists/tuples of ints) so that
`cnnkit.training.save_checkpoint(path, model, config=kwargs)` stores everything a grader needs to rebuild
the model with `build_cnn(**config)` and load the weights with `torch.load(weights_only=True)`.
Module names inside the returned `nn.Sequential` depend only on the arguments, so a state_dict saved by a
notebook loads into a fresh model built from the same config.
"""

from __future__ import annotations

from torch import nn

# BEGIN EXERCISE 03_pytorch_cnn


def count_params(model, trainable_only=False):
    """Count the scalar parameters of a model (weights and biases; BatchNorm buffers are not parameters).

    Inputs:
    - model: a torch.nn.Module.
    - trainable_only: count only parameters with requires_grad=True.

    Returns:
    - n: a Python int, the number of scalars.
    """
    # BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
    # END SOLUTION


def build_cnn(
    in_channels=3,
    num_classes=10,
    channels=(32, 64, 128),
    convs_per_block=1,
    fc=(),
    batchnorm=True,
    dropout=0.0,
    image_size=32,
    global_pool=False,
):
    """Build [(CONV-RELU)*N-POOL]*M-(FC-RELU)*K-FC, the lecture's pattern, as one nn.Sequential.

    Every conv is 3x3 with stride 1 and padding 1 (keeps H and W); each block ends in a 2x2 max pool
    with stride 2 (halves H and W). With batchnorm=True a BatchNorm2d follows every conv (the ResNet
    recipe) and the conv has no bias (BatchNorm's shift replaces it). With dropout > 0 a Dropout(dropout)
    comes before every Linear layer, the classifier included (AlexNet drops out before its first two FC
    layers only, not before the last one). The last layer outputs class scores (logits):
    no softmax, cross_entropy applies log-softmax itself.

    Inputs:
    - in_channels: C of the input images.
    - num_classes: number of class scores.
    - channels: conv filters per block, one entry per block (M = len(channels)).
    - convs_per_block: N, the number of CONV-RELU layers before each pool.
    - fc: hidden FC widths (K = len(fc)).
    - batchnorm: BatchNorm2d after every conv.
    - dropout: drop probability before every Linear layer; 0 means no Dropout modules.
    - image_size: H = W of the input; must be divisible by 2**M.
    - global_pool: average each channel's last feature map to one number before the FC layers
      (AdaptiveAvgPool2d(1), as ResNet does): the FC input no longer depends on where in the image
      a feature fired, and the first FC layer has C_last instead of C_last * H * W inputs.

    Returns:
    - model: nn.Sequential mapping x of shape (B, in_channels, image_size, image_size) to scores of
      shape (B, num_classes).
    """
    # BEGIN SOLUTION
    if image_size % 2 ** len(channels) != 0:
        raise ValueError(
            f"image_size {image_size} is not divisible by 2**{len(channels)} (one pool per block)"
        )
    layers = []
    c, size = in_channels, image_size
    for k in channels:
        for _ in range(convs_per_block):
            layers.append(nn.Conv2d(c, k, kernel_size=3, stride=1, padding=1, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(k))
            layers.append(nn.ReLU(inplace=True))
            c = k
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        size //= 2
    if global_pool:
        layers.append(nn.AdaptiveAvgPool2d(1))
        size = 1
    # The head is the MLP baseline on the c x size x size feature maps: Flatten, (FC-RELU)*K-FC.
    layers += build_mlp(c, num_classes, fc, dropout, size)
    return nn.Sequential(*layers)
    # END SOLUTION


def build_mlp(in_channels=3, num_classes=10, hidden=(512, 256), dropout=0.0, image_size=32):
    """Build the fully connected baseline: flatten the image, then (FC-RELU)*K-FC.

    Inputs:
    - in_channels: C of the input images.
    - num_classes: number of class scores.
    - hidden: hidden layer widths.
    - dropout: drop probability before every Linear layer; 0 means no Dropout modules.
    - image_size: H = W of the input.

    Returns:
    - model: nn.Sequential mapping x of shape (B, in_channels, image_size, image_size) to scores of
      shape (B, num_classes).
    """
    # BEGIN SOLUTION
    layers = [nn.Flatten()]
    d = in_channels * image_size * image_size
    for h in list(hidden) + [num_classes]:
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(d, h))
        layers.append(nn.ReLU(inplace=True))
        d = h
    layers.pop()  # no ReLU after the class scores
    return nn.Sequential(*layers)
    # END SOLUTION


# END EXERCISE
