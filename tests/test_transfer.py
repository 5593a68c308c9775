"""cnnkit.transfer on torchvision's MobileNetV2 and ResNet-18 (random weights: structure is what counts)."""

import pytest
import torch
from torch import nn
from torchvision.models import mobilenet_v2, resnet18

from cnnkit import transfer


def _mobilenet():
    torch.manual_seed(0)
    return mobilenet_v2(weights=None, num_classes=1000)


def _resnet():
    torch.manual_seed(0)
    return resnet18(weights=None)


MODELS = {"mobilenet_v2": _mobilenet, "resnet18": _resnet}


def _randomise_bn_stats(model):
    # Fresh BN layers hold mean 0 / var 1; give them distinct statistics so a change is visible.
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if transfer.is_batchnorm(m):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


def _snapshot(model, names):
    return {
        k: v.detach().clone() for k, v in model.state_dict().items() if k.split(".")[0] in names
    }


def _one_step(model, optimizer, num_classes, size=64, batch=4):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(batch, 3, size, size, generator=g)
    y = torch.randint(num_classes, (batch,), generator=g)
    model.train()
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_frozen_backbone_is_bit_identical_after_a_step(arch):
    model = MODELS[arch]()
    _randomise_bn_stats(model)
    transfer.freeze_backbone(model)
    head = transfer.replace_head(model, 5)
    head_name = "classifier" if arch == "mobilenet_v2" else "fc"
    backbone_names = {k.split(".")[0] for k in model.state_dict()} - {head_name}
    before = _snapshot(model, backbone_names)
    head_before = head.weight.detach().clone()
    # Every parameter handed to the optimizer on purpose: frozen ones must still not move.
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.0)
    _one_step(model, opt, 5)
    after = _snapshot(model, backbone_names)
    assert before.keys() == after.keys() and len(before) > 10
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert not torch.equal(head_before, head.weight), "the new head did not learn"


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_bn_stays_in_eval_through_model_train(arch):
    model = MODELS[arch]()
    transfer.freeze_backbone(model)
    model.train()
    bns = [m for m in model.modules() if transfer.is_batchnorm(m)]
    assert bns and not any(m.training for m in bns)
    assert model.training
    model.eval()
    model.train(True)
    assert not any(m.training for m in bns)


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_count_trainable_is_the_head_size(arch):
    model = MODELS[arch]()
    assert transfer.count_trainable(model) == sum(p.numel() for p in model.parameters())
    transfer.freeze_backbone(model)
    linear = transfer.replace_head(model, 7)
    feat_dim = 1280 if arch == "mobilenet_v2" else 512
    assert transfer.count_trainable(model) == feat_dim * 7 + 7
    assert linear.in_features == feat_dim and linear.out_features == 7
    assert transfer.head_module(model)(torch.zeros(2, feat_dim)).shape == (2, 7)
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 7)


def test_replace_head_keeps_mobilenet_dropout():
    model = _mobilenet()
    transfer.replace_head(model, 3)
    kinds = [type(m) for m in model.classifier]
    assert kinds == [nn.Dropout, nn.Linear]


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_param_group_lr_ratios_are_exact(arch):
    model = MODELS[arch]()
    groups = transfer.param_groups(model, 0.3, top_blocks=2)
    assert [g["name"] for g in groups] == ["head", "top", "rest"]
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs["head"] == 0.3 and lrs["top"] == 0.3 / 10 and lrs["rest"] == 0.3 / 100
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    blocks = transfer.backbone_blocks(model)
    top_ids = {id(p) for b in blocks[-2:] for p in b.parameters()}
    assert {id(p) for p in groups[1]["params"]} == top_ids
    head_ids = {id(p) for p in transfer.head_module(model).parameters()}
    assert {id(p) for p in groups[0]["params"]} == head_ids
    # torch accepts the groups as they are, and keeps the ratios.
    opt = torch.optim.SGD(groups, lr=1.0)
    assert [g["lr"] for g in opt.param_groups] == [0.3, 0.03, 0.003]


def test_param_groups_lists_only_trainable_parameters():
    model = _mobilenet()
    transfer.freeze_backbone(model)
    transfer.unfreeze_top(model, 2)
    groups = transfer.param_groups(model, 1e-2, top_blocks=2)
    listed = {id(p) for g in groups for p in g["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert listed == trainable
    assert groups[2]["params"] == []


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_unfreeze_top(arch):
    model = MODELS[arch]()
    _randomise_bn_stats(model)
    transfer.freeze_backbone(model)
    transfer.replace_head(model, 4)
    blocks = transfer.backbone_blocks(model)
    head_size = transfer.count_trainable(model)
    transfer.unfreeze_top(model, 0)
    assert transfer.count_trainable(model) == head_size
    transfer.unfreeze_top(model, 2)
    top_size = sum(p.numel() for b in blocks[-2:] for p in b.parameters())
    assert transfer.count_trainable(model) == head_size + top_size
    assert all(not p.requires_grad for b in blocks[:-2] for p in b.parameters())
    model.train()
    top_bns = [m for b in blocks[-2:] for m in b.modules() if transfer.is_batchnorm(m)]
    low_bns = [m for b in blocks[:-2] for m in b.modules() if transfer.is_batchnorm(m)]
    assert top_bns and all(m.training for m in top_bns)
    assert not any(m.training for m in low_bns)
    # One step: the lower blocks do not move, the top blocks do (weights and BN statistics).
    low_before = [p.detach().clone() for b in blocks[:-2] for p in b.state_dict().values()]
    top_before = [p.detach().clone() for b in blocks[-2:] for p in b.state_dict().values()]
    opt = torch.optim.SGD(transfer.param_groups(model, 0.5), lr=0.5)
    _one_step(model, opt, 4)
    low_after = [p for b in blocks[:-2] for p in b.state_dict().values()]
    top_after = [p for b in blocks[-2:] for p in b.state_dict().values()]
    assert all(torch.equal(a, b) for a, b in zip(low_before, low_after, strict=True))
    assert sum(not torch.equal(a, b) for a, b in zip(top_before, top_after, strict=True)) > 0


def test_unsupported_model_raises():
    with pytest.raises(TypeError, match="head"):
        transfer.head_module(nn.Sequential(nn.Linear(2, 2)))
