"""Transfer learning with torchvision networks: freeze a backbone, attach a new head, fine-tune the top.

Works for networks shaped like torchvision's MobileNetV2 (`features` blocks + `classifier` head) and like
its ResNets (`conv1`/`bn1` stem, `layer1`..`layer4` blocks + `fc` head). The exercises of notebook
04_transfer_learning are marked below; `head_module`, `set_head` and `backbone_blocks` are the shared
plumbing they use.
"""

from __future__ import annotations

import types

from torch import nn

__all__ = [
    "backbone_blocks",
    "count_trainable",
    "finetune_optimizer",
    "freeze_backbone",
    "head_module",
    "is_batchnorm",
    "param_groups",
    "replace_head",
    "set_head",
    "stay_in_eval",
    "unfreeze_top",
]


def head_module(model: nn.Module) -> nn.Module:
    """The classification head of a torchvision network: `classifier` (MobileNet) or `fc` (ResNet).

    Inputs:
    - model: a torchvision classification network.

    Returns:
    - head: the head module (the same object the model calls, not a copy).
    """
    for name in ("classifier", "fc", "head"):
        if isinstance(getattr(model, name, None), nn.Module):
            return getattr(model, name)
    raise TypeError(f"{type(model).__name__} has no 'classifier' or 'fc' head")


def set_head(model: nn.Module, head: nn.Module) -> nn.Module:
    """Attach `head` as the model's classification head (the attribute `head_module` finds).

    Inputs:
    - model: a torchvision classification network.
    - head: the new head module.

    Returns:
    - model: the same model, now calling `head` last.
    """
    for name in ("classifier", "fc", "head"):
        if isinstance(getattr(model, name, None), nn.Module):
            setattr(model, name, head)
            return model
    raise TypeError(f"{type(model).__name__} has no 'classifier' or 'fc' head")


def backbone_blocks(model: nn.Module) -> list[nn.Module]:
    """The backbone as an ordered list of blocks, input side first.

    MobileNetV2: the 19 entries of `model.features`. ResNet: the stem (`conv1` + `bn1`) as one block,
    then `layer1` .. `layer4`.

    Inputs:
    - model: a torchvision MobileNet-like or ResNet-like network.

    Returns:
    - blocks: list of modules (shared with the model, not copies).
    """
    if isinstance(getattr(model, "features", None), nn.Sequential):
        return list(model.features)
    if hasattr(model, "layer4"):
        stem = nn.ModuleList([model.conv1, model.bn1])
        return [stem, model.layer1, model.layer2, model.layer3, model.layer4]
    raise TypeError(f"{type(model).__name__}: expected `features` or `layer1..layer4` blocks")


def is_batchnorm(module: nn.Module) -> bool:
    """True for BatchNorm1d/2d/3d (and SyncBatchNorm): the layers that keep running statistics."""
    return isinstance(module, nn.modules.batchnorm._BatchNorm)


def stay_in_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    """A `train` method that ignores `mode`: bind it to a layer to keep that layer in eval mode.

    `model.train()` calls `.train(mode)` on every child, so a frozen BatchNorm given this method
    (`bn.train = types.MethodType(stay_in_eval, bn)`) keeps normalising with its stored running
    statistics and never updates them. `del bn.train` restores the normal method.

    Inputs:
    - self: the layer; mode: ignored.

    Returns:
    - self, with self.training False.
    """
    self.training = False
    return self


# BEGIN EXERCISE 04_transfer_learning
def freeze_backbone(model: nn.Module) -> nn.Module:
    """Freeze everything but the classification head: a fixed feature extractor.

    Every parameter outside the head gets requires_grad=False, and every BatchNorm layer outside the
    head is put in eval mode and kept there, even through later `model.train()` calls, so its running
    mean and variance never change.

    Inputs:
    - model: a torchvision network (MobileNetV2-like or ResNet-like).

    Returns:
    - model: the same model, frozen in place.
    """
    # BEGIN SOLUTION
    head = head_module(model)
    head_params = {id(p) for p in head.parameters()}
    for p in model.parameters():
        p.requires_grad = id(p) in head_params
    head_modules = {id(m) for m in head.modules()}
    for m in model.modules():
        if is_batchnorm(m) and id(m) not in head_modules:
            m.train = types.MethodType(stay_in_eval, m)
            m.eval()
    return model
    # END SOLUTION


def count_trainable(model: nn.Module) -> int:
    """Number of scalar parameters that an optimizer would update (requires_grad=True).

    Inputs:
    - model: any nn.Module.

    Returns:
    - n: int.
    """
    # BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
    # END SOLUTION


def replace_head(model: nn.Module, num_classes: int) -> nn.Linear:
    """Attach a new, trainable linear head with `num_classes` outputs in place of the old head.

    For MobileNetV2 the dropout in front of the old linear layer is kept (classifier = Dropout, Linear).

    Inputs:
    - model: a torchvision network.
    - num_classes: number of classes of the target task.

    Returns:
    - linear: the new nn.Linear (in_features = the backbone's feature dimension), already attached.
    """
    # BEGIN SOLUTION
    head = head_module(model)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError("the head holds no nn.Linear to replace")
    old = linears[-1]
    linear = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    if isinstance(head, nn.Sequential):
        new_head = nn.Sequential(*[m for m in head if not isinstance(m, nn.Linear)], linear)
    else:
        new_head = linear
    set_head(model, new_head)
    return linear
    # END SOLUTION


def unfreeze_top(model: nn.Module, k: int) -> nn.Module:
    """Make the top `k` backbone blocks trainable again (fine-tuning), BatchNorm included.

    Blocks below stay frozen. The head is not touched.

    Inputs:
    - model: a network, usually frozen with freeze_backbone first.
    - k: number of blocks, counted from the top (0 unfreezes nothing).

    Returns:
    - model: the same model.
    """
    # BEGIN SOLUTION
    blocks = backbone_blocks(model)
    for block in blocks[len(blocks) - k :] if k > 0 else []:
        for p in block.parameters():
            p.requires_grad = True
        for m in block.modules():
            if is_batchnorm(m) and "train" in vars(m):
                del m.train
                m.train(model.training)
    return model
    # END SOLUTION


def param_groups(model: nn.Module, base_lr: float, top_blocks: int = 2) -> list[dict]:
    """Optimizer parameter groups with the lecture's learning-rate ratios 1 : 1/10 : 1/100.

    The new head learns at base_lr, the top `top_blocks` backbone blocks at base_lr / 10 and the rest of
    the backbone at base_lr / 100. Only trainable parameters (requires_grad=True) are listed, so build
    the optimizer after freezing / unfreezing; a group may be empty.

    Inputs:
    - model: a torchvision network.
    - base_lr: learning rate of the head.
    - top_blocks: how many backbone blocks, from the top, form the "top" group.

    Returns:
    - groups: list of 3 dicts with keys 'name' ('head', 'top', 'rest'), 'params' (list of tensors)
      and 'lr', for torch.optim optimizers.
    """
    # BEGIN SOLUTION
    blocks = backbone_blocks(model)
    split = max(len(blocks) - top_blocks, 0)
    top = {id(p) for b in blocks[split:] for p in b.parameters()}
    head = {id(p) for p in head_module(model).parameters()}
    groups = {"head": [], "top": [], "rest": []}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        name = "head" if id(p) in head else "top" if id(p) in top else "rest"
        groups[name].append(p)
    lrs = {"head": base_lr, "top": base_lr / 10, "rest": base_lr / 100}
    return [{"name": n, "params": groups[n], "lr": lrs[n]} for n in ("head", "top", "rest")]
    # END SOLUTION


def finetune_optimizer(model: nn.Module, base_lr: float, k: int, top_blocks: int = 2, momentum=0.9):
    """Set a model up for fine-tuning its top `k` blocks and build the matching SGD optimizer.

    Order matters: freeze, unfreeze the top k blocks, and only then build the optimizer from
    param_groups, so it holds exactly the trainable parameters with the 1 : 1/10 : 1/100 rates.
    (An optimizer built earlier would miss the parameters unfrozen later, which then never move, or
    hold frozen ones, which would then sit in the wrong learning-rate groups.)

    Inputs:
    - model: a torchvision network whose head is already the new head.
    - base_lr: learning rate of the head.
    - k: number of top backbone blocks to fine-tune.
    - top_blocks: blocks in the base_lr / 10 group (the rest of the k get base_lr / 100).
    - momentum: SGD momentum.

    Returns:
    - optimizer: torch.optim.SGD over the trainable parameters, groups named 'head', 'top', 'rest'.
    """
    # BEGIN SOLUTION
    import torch

    freeze_backbone(model)
    unfreeze_top(model, k)
    return torch.optim.SGD(param_groups(model, base_lr, top_blocks), lr=base_lr, momentum=momentum)
    # END SOLUTION


# END EXERCISE
