"""Hidden and artefact cases of 04_transfer_learning: graded, never shown to students.

Never imported: `cnnkit build` turns each `@case(question, points=P, hidden=True)` function into
an otter test cell at the end of its question's tests (see cnnkit.grading.master.read_cases).
"""


@case("q1", points=1, hidden=True)
def test_q1_preprocess_float_batch_hidden(preprocess):
    import numpy as np
    import torch
    from torchvision.models import MobileNet_V2_Weights

    from cnnkit import checks

    rng = checks.rng()
    h, w = (int(v) for v in rng.integers(230, 330, size=2))
    img = torch.from_numpy(rng.random((2, 3, h, w), dtype=np.float32))
    ref = MobileNet_V2_Weights.IMAGENET1K_V1.transforms()
    checks.close("preprocess", preprocess(img).double(), lambda: ref(img).double(), atol=1e-5)


@case("q1", points=2, hidden=True)
def test_q1_top5_eval_mode_hidden(top5):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(20, 30)).double()
    model.train()
    batch = torch.from_numpy(rng.normal(size=(4, 5, 2, 2)) * 3)
    names = [f"n{i}" for i in range(30)]
    got = top5(model, batch, names)

    def oracle():
        model.eval()
        with torch.no_grad():
            return torch.softmax(model(batch), 1).topk(5, 1)

    checks.equal("names", [[n for n, _ in r] for r in got], lambda: [[names[i] for i in row] for row in oracle()[1].tolist()])
    checks.close("probabilities", [[p for _, p in r] for r in got], lambda: oracle()[0].numpy(), rtol=1e-6)


@case("q2", points=3, hidden=True)
def test_q2_backbone_bit_identical_hidden(freeze_backbone, replace_head):
    import numpy as np
    import torch
    from torchvision.models import mobilenet_v2

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = mobilenet_v2(weights=None)
    freeze_backbone(model)
    linear = replace_head(model, 6)
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    head_before = linear.weight.detach().clone()
    model.train()
    x = torch.from_numpy(rng.normal(size=(4, 3, 40, 40)).astype(np.float32))
    y = torch.from_numpy(rng.integers(6, size=4))
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    after = model.features.state_dict()
    params = [k for k in before if "running" not in k and "num_batches" not in k]
    checks.close("max change of a backbone weight", max(float((before[k] - after[k]).abs().max()) for k in params), 0.0, atol=0.0)
    checks.true("the head learned", float((head_before - linear.weight).abs().max()) > 0, "short")


@case("q2", points=3, hidden=True)
def test_q2_bn_running_stats_unchanged_hidden(freeze_backbone, replace_head):
    import numpy as np
    import torch
    from torchvision.models import resnet18

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = resnet18(weights=None)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    freeze_backbone(model)
    replace_head(model, 4)
    model.eval()
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(rng.normal(size=(3, 3, 48, 48)).astype(np.float32)))
    after = model.state_dict()
    checks.close("max change of a BatchNorm statistic", max(float((stats[k].double() - after[k].double()).abs().max()) for k in stats), 0.0, atol=0.0)


@case("q2", points=2, hidden=True)
def test_q2_resnet_head_hidden(freeze_backbone, replace_head, count_trainable):
    import torch
    from torchvision.models import resnet18

    from cnnkit import checks

    rng = checks.rng()
    num_classes = int(rng.integers(2, 40))
    torch.manual_seed(int(rng.integers(2**31)))
    model = resnet18(weights=None)
    freeze_backbone(model)
    linear = replace_head(model, num_classes)
    checks.equal("trainable", count_trainable(model), 512 * num_classes + num_classes)
    checks.true("attached", model.fc is linear, "short")
    checks.equal("shape", tuple(model(torch.zeros(1, 3, 32, 32)).shape), (1, num_classes))


@case("q3", points=3, hidden=True)
def test_q3_features_eval_mode_no_grad_hidden(extract_features):
    import numpy as np
    import torch
    from torchvision.models import resnet18

    from cnnkit import checks
    from cnnkit.features import Backbone

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = resnet18(weights=None)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    model.train()
    X = rng.random((int(rng.integers(5, 9)), 3, 36, 28), dtype=np.float32)
    scale = float(rng.uniform(0.5, 2.0))
    got = extract_features(model, X, lambda x: (x - 0.5) * scale, batch_size=3)
    checks.true("no autograd graph", not torch.as_tensor(got).requires_grad, "the features carry an autograd graph: extract them under torch.no_grad()")

    def oracle():
        model.eval()
        with torch.no_grad():
            return Backbone(model)((torch.from_numpy(X) - 0.5) * scale)

    checks.close("features of a ResNet-18 handed over in train mode (eval-mode features expected)", torch.as_tensor(got).detach(), oracle, rtol=1e-4, atol=1e-5)


@case("q3", points=2, hidden=True)
def test_q3_cache_keyed_by_model_preprocess_images_hidden(cached_features):
    import tempfile

    import numpy as np
    import torch
    from torchvision.models import mobilenet_v2
    from torchvision.transforms import v2

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = mobilenet_v2(weights=None).eval()
    calls = []
    model.features.register_forward_hook(lambda *a: calls.append(1))
    X = rng.random((2, 3, 32, 32), dtype=np.float32)
    other_X = X.copy()
    other_X[1, 0, 0, 0] += 0.25
    mean = [float(v) for v in rng.uniform(0.3, 0.6, size=3)]
    pre_a, pre_b = v2.Normalize(mean, [0.2, 0.2, 0.2]), v2.Normalize(mean, [0.3, 0.3, 0.3])

    def runs(*args):  # did this call run the network?
        before = len(calls)
        cached_features(*args)
        return len(calls) > before

    with tempfile.TemporaryDirectory() as tmp:
        got = [runs(model, "net-a", X, pre_a, tmp), runs(model, "net-a", X, pre_a, tmp), runs(model, "net-b", X, pre_a, tmp),
               runs(model, "net-a", X, pre_b, tmp), runs(model, "net-a", other_X, pre_a, tmp), runs(model, "net-a", X, pre_a, tmp)]
    checks.equal("network run? (cold, repeat, other model name, other preprocessing, other images, repeat)", got, [True, False, True, True, True, False])


@case("q3", points=2, hidden=True)
def test_q3_probe_fresh_clusters_and_weight_decay_hidden(train_linear):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    C, D, N = int(rng.integers(3, 7)), int(rng.integers(8, 30)), 90
    y = rng.integers(C, size=N)
    feats = torch.from_numpy((rng.normal(size=(C, D))[y] * 3 + rng.normal(size=(N, D)) * 0.5).astype("float32"))
    linear = train_linear(feats, torch.from_numpy(y), C, epochs=150, lr=1e-2, weight_decay=1e-5)
    strong = train_linear(feats, torch.from_numpy(y), C, epochs=150, lr=1e-2, weight_decay=1.0)
    checks.true("an nn.Linear(D, C)", isinstance(linear, torch.nn.Linear) and tuple(linear.weight.shape) == (C, D), "train_linear returns the trained nn.Linear(D, C)")
    with torch.no_grad():
        acc = float((linear(feats).argmax(1).numpy() == y).mean())
    checks.at_least("training accuracy on separated clusters", acc, 0.95)
    ratio = float(strong.weight.detach().norm() / linear.weight.detach().norm())
    checks.true("weight decay shrinks the weights", ratio < 0.8, f"weight_decay=1 left the weights {ratio:.2f} times the size they have with 1e-5: pass weight_decay to the optimizer")


@case("q4", points=3, hidden=True)
def test_q4_param_groups_resnet_hidden(param_groups, freeze_backbone, unfreeze_top):
    import torch
    from torchvision.models import resnet18

    from cnnkit import checks

    rng = checks.rng()
    base_lr = float(rng.uniform(1e-3, 1e-1))
    model = resnet18(weights=None)
    model.fc = torch.nn.Linear(512, 5)
    freeze_backbone(model)
    unfreeze_top(model, 3)
    groups = param_groups(model, base_lr, top_blocks=1)
    checks.close("lrs", [g["lr"] for g in groups], [base_lr, base_lr / 10, base_lr / 100], rtol=1e-12)
    checks.equal("sizes", [sum(p.numel() for p in g["params"]) for g in groups], lambda: [sum(p.numel() for p in m.parameters()) for m in (model.fc, model.layer4, torch.nn.ModuleList([model.layer2, model.layer3]))])
    checks.true("only trainable", all(p.requires_grad for g in groups for p in g["params"]), "short")


@case("q4", points=2, hidden=True)
def test_q4_unfreeze_resnet_bn_hidden(freeze_backbone, unfreeze_top):
    import torch
    from torchvision.models import resnet18

    from cnnkit import checks

    rng = checks.rng()
    k = int(rng.integers(1, 3))
    model = resnet18(weights=None)
    freeze_backbone(model)
    unfreeze_top(model, k)
    model.train()
    blocks = [torch.nn.ModuleList([model.conv1, model.bn1]), model.layer1, model.layer2, model.layer3, model.layer4]
    modes = [[m.training for m in b.modules() if isinstance(m, torch.nn.BatchNorm2d)] for b in blocks]
    checks.equal("BatchNorm train flags per block", [all(m) if i >= 5 - k else any(m) for i, m in enumerate(modes)], [i >= 5 - k for i in range(5)])
    checks.equal("trainable tensors per block", [sum(p.requires_grad for p in b.parameters()) for b in blocks], lambda: [len(list(b.parameters())) if i >= 5 - k else 0 for i, b in enumerate(blocks)])


@case("q4", points=3, hidden=True)
def test_q4_optimizer_built_after_freezing_hidden(finetune_optimizer):
    import torch
    from torchvision.models import mobilenet_v2

    from cnnkit import checks

    rng = checks.rng()
    k = int(rng.integers(3, 6))
    base_lr = float(rng.uniform(0.01, 0.5))
    model = mobilenet_v2(weights=None)
    model.classifier[-1] = torch.nn.Linear(1280, 7)
    opt = finetune_optimizer(model, base_lr, k)
    in_opt = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    checks.equal("optimizer holds exactly the trainable parameters", sorted(in_opt) == sorted(trainable), True)
    checks.equal("trainable tensors", len(trainable), lambda: len(list(model.classifier.parameters())) + len(list(model.features[-k:].parameters())))
    lr_of = lambda m: sorted({in_opt.get(id(p), -1.0) for p in m.parameters()})
    checks.close("learning rate of head, top 2, lower unfrozen blocks", [lr_of(model.classifier), lr_of(model.features[-2:]), lr_of(model.features[-k:-2])], [[base_lr], [base_lr / 10], [base_lr / 100]], rtol=1e-12)

@case("q4", points=2, hidden=True)
def test_q4_augment_train_only_hidden(augmentations):
    import torch
    from torchvision.transforms import v2

    from cnnkit import checks

    rng = checks.rng()
    size = int(rng.integers(16, 48))
    big = torch.from_numpy(rng.random((3, size + 20, size + 9), dtype="float32"))
    train_tf, test_tf = augmentations(size)
    views = [train_tf(big) for _ in range(8)]
    checks.equal("train_tf output shape", tuple(views[0].shape), (3, size, size))
    checks.true("train_tf draws new views", any(float((views[0] - v).abs().max()) > 0 for v in views[1:]), "train_tf returned the same image 8 times: RandomResizedCrop + RandomHorizontalFlip")
    checks.close("test_tf(image) (a plain resize, the same every call)", torch.stack([test_tf(big) for _ in range(3)]), lambda: torch.stack([v2.Resize((size, size), antialias=True)(big)] * 3), rtol=1e-5, atol=1e-5)


@case("q4", points=3, hidden=True)
def test_q4_train_steps_mode_augment_steps_hidden(train_steps):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    N, steps, batch = int(rng.integers(20, 40)), int(rng.integers(5, 12)), int(rng.integers(4, 9))
    X = torch.from_numpy(rng.normal(size=(N, 2, 3, 3)).astype("float32"))
    y = torch.from_numpy(rng.integers(3, size=N))
    modes, seen = [], []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(18, 3))

        def forward(self, x):
            modes.append(self.training)
            return self.net(x)

    def augment(img):  # marks every augmented example: a constant channel shift
        seen.append(tuple(img.shape))
        return img + 100.0

    model = Recorder().eval()  # handed over in eval mode: train_steps must switch it to train mode
    counted = []
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    opt.register_step_post_hook(lambda *a: counted.append(1))
    losses = train_steps(model, X, y, opt, steps, batch_size=batch, augment=augment)
    checks.equal("optimizer steps, losses", (len(counted), len(losses)), (steps, steps))
    checks.equal("forward passes in train mode / all training forward passes", (sum(modes), len(modes)), (steps, steps))
    checks.equal("model in train mode after train_steps", model.training, False)
    checks.equal("augment calls (one per example)", len(seen), steps * batch)
    checks.equal("shapes augment receives (one example each)", sorted(set(seen)), [(2, 3, 3)])


@case("q5", points=1)
def test_q5_head_file_and_accuracy_60():
    import torch

    from cnnkit import checks, features

    ckpt = torch.load("transfer_head.pt", map_location="cpu", weights_only=True)
    w = ckpt["state_dict"].get("weight")
    checks.true("head shape", w is not None and tuple(w.shape) == (12, 1280), "transfer_head.pt must hold the state_dict of an nn.Linear(1280, 12) and its config")
    acc = features.head_accuracy("transfer_head.pt", n_per_class=15, seed=int(checks.rng().integers(2**31)))
    checks.at_least("test accuracy", acc, 0.60)


@case("q5", points=2, hidden=True)
def test_q5_accuracy_70_hidden():
    from cnnkit import checks, features

    acc = features.head_accuracy("transfer_head.pt", n_per_class=15, seed=int(checks.rng().integers(2**31)))
    checks.at_least("test accuracy", acc, 0.70)


@case("q5", points=2, hidden=True)
def test_q5_accuracy_80_hidden():
    from cnnkit import checks, features

    # 40 crops per photo: the CI-mode solution head (mean 0.87) measured on 15 fell below 0.80 for some
    # draws (std 0.02); on 40 the std is 0.013
    acc = features.head_accuracy("transfer_head.pt", n_per_class=40, seed=int(checks.rng().integers(2**31)))
    checks.at_least("test accuracy", acc, 0.80)


@case("q6", points=2, hidden=True)
def test_q6_saliency_under_no_grad_hidden(saliency):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.Tanh(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(24, 3)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 10, 12)))
    with torch.no_grad():
        got = saliency(model, x, 2)

    def oracle():
        xx = x.clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(model(xx[None])[0, 2], xx)
        return g.abs().amax(0)

    checks.close("saliency", got, oracle, rtol=1e-10)


@case("q6", points=2, hidden=True)
def test_q6_occlusion_stride_fill_hidden(occlusion):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(3), torch.nn.Flatten(), torch.nn.Linear(36, 4)).double().eval()
    x = torch.from_numpy(rng.normal(size=(3, 11, 9)))
    fill = float(rng.normal())
    got = occlusion(model, x, 3, patch=3, stride=3, fill=fill)

    def oracle():
        with torch.no_grad():
            base = model(x[None]).softmax(1)[0, 3]
            out = torch.zeros(3, 3, dtype=torch.float64)
            for i in range(3):
                for j in range(3):
                    occ = x.clone()
                    occ[:, 3 * i : 3 * i + 3, 3 * j : 3 * j + 3] = fill
                    out[i, j] = base - model(occ[None]).softmax(1)[0, 3]
        return out

    checks.close("occlusion", got, oracle, rtol=1e-9, atol=1e-12)


@case("q6", points=2, hidden=True)
def test_q6_fgsm_sign_clip_eval_hidden(fgsm):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(4 * 36, 5)).double()
    model[1].running_var.uniform_(0.5, 2.0)
    model.train()
    # pixels at and near the ends of [0, 1]: a step of eps leaves the range unless it is clipped
    x = torch.from_numpy(rng.choice([0.0, 0.02, 0.5, 0.98, 1.0], size=(3, 3, 6, 6)))
    label = torch.from_numpy(rng.integers(5, size=3))
    eps = float(rng.uniform(0.05, 0.2))
    got = fgsm(model, x, label, eps)

    def oracle():
        model.eval()
        xx = x.clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(torch.nn.functional.cross_entropy(model(xx), label), xx)
        return (x + eps * g.sign()).clamp(0, 1)

    checks.close("fgsm (model in eval mode, + eps * sign of the loss gradient, clipped to [0, 1])", got, oracle, rtol=0, atol=1e-12)


@case("q6", points=2, hidden=True)
def test_q6_targeted_attack_hidden(targeted_attack):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(3 * 16, 4)).double().eval()
    x = torch.from_numpy(rng.uniform(0, 1, size=(2, 3, 6, 6)))
    target = torch.from_numpy(rng.integers(4, size=2))
    eps, step, steps = float(rng.uniform(0.03, 0.1)), float(rng.uniform(0.01, 0.03)), int(rng.integers(3, 8))
    got = targeted_attack(model, x, target, eps, step, steps)

    def oracle():
        adv = x.clone()
        for _ in range(steps):
            adv.requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(torch.nn.functional.cross_entropy(model(adv), target), adv)
            adv = torch.min(torch.max(adv.detach() - step * g.sign(), x - eps), x + eps).clamp(0, 1)
        return adv

    checks.close(f"targeted attack after {steps} steps (minus the sign of the target's loss gradient, projected on the eps-box and [0, 1])", got, oracle, rtol=0, atol=1e-12)


@case("q6", points=2, hidden=True)
def test_q6_class_visualization_eval_mode_hidden(class_visualization):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Dropout(0.3), torch.nn.Linear(4 * 25, 6)).double()
    model[1].running_mean.normal_(0, 0.5)
    model.train()
    target, steps, lr, l2 = int(rng.integers(6)), int(rng.integers(3, 7)), float(rng.uniform(0.1, 1.0)), float(rng.uniform(0.01, 0.1))
    got = class_visualization(model, target, (3, 7, 7), steps=steps, lr=lr, l2=l2)

    def oracle():
        model.eval()
        img = torch.zeros(3, 7, 7, dtype=torch.float64)
        for _ in range(steps):
            img.requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(model(img[None])[0, target] - l2 * (img**2).sum(), img)
            img = (img + lr * g).detach()
        return img

    checks.close("class visualization (model in eval mode, gradient ascent with the L2 penalty)", got, oracle, rtol=1e-9, atol=1e-12)
