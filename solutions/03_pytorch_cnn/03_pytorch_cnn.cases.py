"""Hidden cases of 03_pytorch_cnn: graded, never shown to students.

Never imported: `cnnkit build` turns each `@case(question, points=P, hidden=True)` function into
an otter test cell at the end of its question's tests (see cnnkit.grading.master.read_cases).
"""


@case("q1", points=3, hidden=True)
def test_q1_functions_hidden(Multiply, Sigmoid):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    shape = tuple(int(v) for v in rng.integers(1, 5, size=3))
    x = torch.tensor(rng.standard_normal(shape) * 3, requires_grad=True)
    y = torch.tensor(rng.standard_normal(shape), requires_grad=True)
    up = torch.tensor(rng.standard_normal(shape))
    z = Multiply.apply(x, y)
    gx, gy = torch.autograd.grad(z, (x, y), up)
    checks.close("multiply out", z.detach(), lambda: (x * y).detach(), rtol=1e-12)
    checks.close("multiply dx", gx, lambda: y.detach() * up, rtol=1e-12)
    checks.close("multiply dy", gy, lambda: x.detach() * up, rtol=1e-12)
    s = Sigmoid.apply(x)
    saved = s.grad_fn.saved_tensors  # read before backward frees them
    (gs,) = torch.autograd.grad(s, (x,), up)
    ref = torch.sigmoid(x.detach())
    checks.close("sigmoid out", s.detach(), ref, rtol=1e-12)
    checks.close("sigmoid dx", gs, lambda: up * ref * (1 - ref), rtol=1e-10)
    checks.equal("sigmoid saves one tensor", len(saved), 1)
    checks.close("sigmoid saves its output", saved[0].detach(), ref, rtol=1e-12)


@case("q1", points=2, hidden=True)
def test_q1_circuit_hidden(sigmoid_circuit_autograd):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    names = ["w0", "x0", "w1", "x1", "w2"]
    for trial in range(3):
        vals = dict(zip(names, (rng.standard_normal(5) * 2).tolist()))
        t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in vals.items()}
        out = torch.sigmoid(t["w0"] * t["x0"] + t["w1"] * t["x1"] + t["w2"])
        out.backward()
        L, grads = sigmoid_circuit_autograd(**vals)
        checks.close(f"L {trial}", L, out.item(), rtol=1e-10)
        for k in names:
            checks.close(f"d{k} {trial}", grads[k], t[k].grad.item(), rtol=1e-9, atol=1e-15)


@case("q2", points=3, hidden=True)
def test_q2_forward_hidden(convnet_forward):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    for trial in range(2):
        n, c, k, ncls = (int(v) for v in rng.integers(1, 5, size=4))
        size = 2 * int(rng.integers(1, 4))
        params = {
            "conv_w": torch.tensor(rng.standard_normal((k, c, 3, 3))),
            "conv_b": torch.tensor(rng.standard_normal(k)),
            "fc_w": torch.tensor(rng.standard_normal((ncls, k * (size // 2) ** 2))),
            "fc_b": torch.tensor(rng.standard_normal(ncls)),
        }
        x = torch.tensor(rng.standard_normal((n, c, size, size)))

        def oracle(x=x, p=params):
            import torch.nn.functional as F

            h = F.max_pool2d(F.relu(F.conv2d(x, p["conv_w"], p["conv_b"], padding=1)), 2)
            return h.flatten(1) @ p["fc_w"].T + p["fc_b"]

        scores = convnet_forward(x, params)
        checks.equal(f"scores shape {trial}", tuple(scores.shape), (n, ncls))
        checks.close(f"scores {trial}", scores.detach(), oracle, rtol=1e-10, atol=1e-12)


@case("q2", points=2, hidden=True)
def test_q2_params_and_sgd_step_hidden(convnet_params, sgd_step):
    import math

    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    cin, ch, ncls = (int(v) for v in rng.integers(1, 6, size=3))
    size = 2 * int(rng.integers(1, 5))
    params = convnet_params(cin, ch, ncls, size)
    shapes = {"conv_w": (ch, cin, 3, 3), "conv_b": (ch,), "fc_w": (ncls, ch * (size // 2) ** 2), "fc_b": (ncls,)}
    checks.equal("keys", sorted(params), sorted(shapes))
    checks.equal("shapes", [str(tuple(params[k].shape)) for k in shapes], [str(v) for v in shapes.values()])
    checks.true("float32 leaves that require grad", all(v.is_leaf and v.requires_grad and v.dtype == torch.float32 for v in params.values()), "some parameter is not a float32 leaf that requires grad")
    checks.close("biases", torch.cat([params["conv_b"], params["fc_b"]]).detach(), torch.zeros(ch + ncls), atol=0.0)
    big = convnet_params(16, 32, 10, 32)
    checks.close("conv weight std (Kaiming)", float(big["conv_w"].std()), math.sqrt(2 / (16 * 9)), rtol=0.08)
    checks.close("fc weight std (Kaiming)", float(big["fc_w"].std()), math.sqrt(2 / (32 * 16 * 16)), rtol=0.03)
    # Two steps on the losses sum((p - step)**2): the second step must use only the second gradient.
    lr = float(rng.uniform(0.05, 0.3))
    p = {k: torch.tensor(rng.standard_normal(shape), requires_grad=True) for k, shape in shapes.items()}

    def backward(params, step):
        sum(((v - step) ** 2).sum() for v in params.values()).backward()
        return params

    for step in range(2):
        before = {k: v.detach().clone() for k, v in p.items()}
        out = sgd_step(backward(p, step), lr)
        for k, v in p.items():
            checks.close(f"{k} after step {step + 1}", v.detach(), lambda b=before[k], s=step: b - lr * 2 * (b - s), rtol=1e-12, atol=1e-12)
    checks.equal("sgd_step returns None", out, None)
    checks.true("leaves that still require grad", all(v.is_leaf and v.requires_grad for v in p.values()), "the update replaced the leaves or dropped requires_grad")
    checks.true("gradients cleared", all(v.grad is None or not v.grad.any() for v in p.values()), "the gradients are still there after the step")


@case("q2", points=3, hidden=True)
def test_q2_module_and_sequential_hidden(ConvNet, convnet_sequential):
    import torch
    from torch import nn

    from cnnkit import checks

    rng = checks.rng()
    cin, ch, ncls = (int(v) for v in rng.integers(1, 6, size=3))
    size = 2 * int(rng.integers(1, 5))
    weights = [
        rng.standard_normal((ch, cin, 3, 3)), rng.standard_normal(ch),
        rng.standard_normal((ncls, ch * (size // 2) ** 2)), rng.standard_normal(ncls),
    ]
    weights = [torch.tensor(w, dtype=torch.float32) for w in weights]
    x = torch.tensor(rng.standard_normal((3, cin, size, size)), dtype=torch.float32)

    def layout(model):
        return [f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items()]

    def scores(model, names):
        model.load_state_dict(dict(zip(names, weights)))
        with torch.no_grad():
            return model(x)

    def oracle():
        import torch.nn.functional as F

        h = F.max_pool2d(F.relu(F.conv2d(x, weights[0], weights[1], padding=1)), 2)
        return F.linear(h.flatten(1), weights[2], weights[3])

    shapes = [tuple(w.shape) for w in weights]
    module_names = ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    seq_names = ["0.weight", "0.bias", "4.weight", "4.bias"]
    module = ConvNet(cin, ch, ncls, size)
    seq = convnet_sequential(cin, ch, ncls, size)
    checks.true("ConvNet subclasses nn.Module with its own forward", isinstance(module, nn.Module) and type(module).forward is not nn.Module.forward, "ConvNet is not an nn.Module with a forward")
    checks.true("convnet_sequential returns an nn.Sequential", isinstance(seq, nn.Sequential), "not an nn.Sequential")
    checks.equal("ConvNet parameters", layout(module), [f"{k}:{s}" for k, s in zip(module_names, shapes)])
    checks.equal("Sequential parameters", layout(seq), [f"{k}:{s}" for k, s in zip(seq_names, shapes)])
    checks.close("ConvNet scores", scores(module, module_names), oracle, rtol=1e-5, atol=1e-5)
    checks.close("Sequential scores", scores(seq, seq_names), oracle, rtol=1e-5, atol=1e-5)


@case("q3", points=1, hidden=True)
def test_q3_count_params_hidden(count_params):
    import torch
    from torch import nn

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    for trial in range(3):
        g = int(rng.choice([1, 2, 4]))
        c = g * int(rng.integers(1, 4))
        k = g * int(rng.integers(1, 4))
        f = int(rng.choice([1, 3, 5]))
        bias = bool(rng.integers(2))
        conv = nn.Conv2d(c, k, f, groups=g, dilation=int(rng.integers(1, 3)), bias=bias)
        checks.equal(f"conv {trial}", count_params(conv), f * f * (c // g) * k + (k if bias else 0))
    d_in, d_h = int(rng.integers(3, 20)), int(rng.integers(3, 20))
    model = nn.Sequential(nn.Linear(d_in, d_h), nn.BatchNorm1d(d_h), nn.ReLU(), nn.Linear(d_h, 3))
    total = d_in * d_h + d_h + 2 * d_h + d_h * 3 + 3
    checks.equal("mlp with batchnorm", count_params(model), total)
    for p in model[0].parameters():
        p.requires_grad_(False)
    checks.equal("all parameters", count_params(model), total)
    checks.equal("trainable only", count_params(model, trainable_only=True), total - d_in * d_h - d_h)


@case("q3", points=4, hidden=True)
def test_q3_build_cnn_hidden(build_cnn):
    import torch
    from torch import nn

    from cnnkit import checks

    def reference(cfg):
        from cnnkit.models import build_cnn as ref_build_cnn  # the library's, only where it is complete

        return ref_build_cnn(**cfg)

    def modules(model):
        return [type(m).__name__ for m in model.modules()][1:]

    def keys(model):
        return [f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items()]

    rng = checks.rng()
    for trial in range(3):
        m_blocks = int(rng.integers(1, 4))
        cfg = {
            "in_channels": int(rng.integers(1, 4)),
            "num_classes": int(rng.integers(2, 7)),
            "channels": [int(v) for v in rng.integers(2, 9, size=m_blocks)],
            "convs_per_block": int(rng.integers(1, 3)),
            "fc": [int(v) for v in rng.integers(3, 12, size=int(rng.integers(0, 3)))],
            # the first trial always has BatchNorm (and FC dropout): a bias kept before BN must show
            "batchnorm": trial == 0 or bool(rng.integers(2)),
            "dropout": 0.3 if trial == 0 else float(rng.choice([0.0, 0.3])),
            "image_size": 8 * int(rng.integers(1, 3)),
            "global_pool": bool(rng.integers(2)),
        }
        torch.manual_seed(int(rng.integers(2**31)))
        model = build_cnn(**cfg).eval()
        x = torch.tensor(rng.standard_normal((2, cfg["in_channels"], cfg["image_size"], cfg["image_size"])), dtype=torch.float32)
        checks.equal(f"output shape {trial}", tuple(model(x).shape), (2, cfg["num_classes"]))
        checks.equal(f"module sequence {trial}", modules(model), lambda cfg=cfg: modules(reference(cfg)))
        checks.equal(f"state_dict keys and shapes {trial}", keys(model), lambda cfg=cfg: keys(reference(cfg)))
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        checks.equal(f"conv geometry {trial}", sorted({(m.kernel_size, m.stride, m.padding) for m in convs}), [((3, 3), (1, 1), (1, 1))])
    try:
        build_cnn(channels=(4, 4, 4), image_size=12)
        raised = False
    except ValueError:
        raised = True
    checks.true("ValueError for an image size not divisible by 2**M", raised, "no ValueError")


@case("q3", points=2, hidden=True)
def test_q3_build_mlp_hidden(build_mlp):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    hidden = [int(v) for v in rng.integers(3, 30, size=int(rng.integers(0, 3)))]
    cin, size, ncls = int(rng.integers(1, 4)), int(rng.integers(4, 12)), int(rng.integers(2, 8))
    model = build_mlp(in_channels=cin, num_classes=ncls, hidden=hidden, dropout=0.5, image_size=size).eval()
    x = torch.tensor(rng.standard_normal((3, cin, size, size)), dtype=torch.float32)
    checks.equal("output shape", tuple(model(x).shape), (3, ncls))
    dims = [cin * size * size, *hidden, ncls]
    expected = sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))
    checks.equal("parameters", sum(p.numel() for p in model.parameters()), expected)

    def reference():
        from cnnkit.models import build_mlp as ref_build_mlp

        ref = ref_build_mlp(in_channels=cin, num_classes=ncls, hidden=hidden, dropout=0.5, image_size=size)
        return [type(m).__name__ for m in ref.modules()][1:]

    checks.equal("module sequence", [type(m).__name__ for m in model.modules()][1:], reference)


@case("q4", points=3, hidden=True)
def test_q4_train_step_hidden(train_step):
    import copy

    import torch
    import torch.nn.functional as F
    from torch import nn

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    k = int(rng.integers(3, 7))
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, k)).double()
    ref = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    losses = []
    batches = []
    for step in range(3):
        x = torch.tensor(rng.standard_normal((7, 3, 2, 2)) * 2)
        y = torch.tensor(rng.integers(0, k, 7))
        batches.append((x, y))
        loss, n_correct, n = train_step(model, (x, y), opt, nn.CrossEntropyLoss())
        losses.append(float(loss))
    checks.true("loss detached", not loss.requires_grad, "the returned loss still holds its graph")

    def reference():
        params = list(ref.parameters())
        out = []
        for x, y in batches:
            loss = F.cross_entropy(ref(x), y)
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p -= 0.3 * g
            out.append(loss.item())
        return out, [p.detach().clone() for p in params]

    expected = {}

    def get(i):
        if not expected:
            expected["losses"], expected["params"] = reference()
        return expected["params"][i] if i >= 0 else expected["losses"]

    checks.close("losses of three steps", losses, lambda: get(-1), rtol=1e-9)
    for i, p in enumerate(model.parameters()):
        checks.close(f"parameter {i} after three steps", p.detach(), lambda i=i: get(i), rtol=1e-9, atol=1e-12)


@case("q4", points=2, hidden=True)
def test_q4_predict_hidden(predict):
    import copy

    import torch
    from torch import nn

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Flatten(), nn.Dropout(0.5), nn.Linear(6 * 16, 5))
    model.train()
    with torch.no_grad():
        for _ in range(3):  # running statistics away from their initial values
            model(torch.tensor(rng.standard_normal((16, 3, 4, 4)) + 1.0, dtype=torch.float32))
    ref = copy.deepcopy(model).eval()
    x = torch.tensor(rng.standard_normal((64, 3, 4, 4)), dtype=torch.float32)
    model.train()
    labels = predict(model, x)
    checks.equal("labels", labels.cpu().tolist(), lambda: ref(x).argmax(1).tolist())
    # The model on the 'meta' device (shapes only, no data): predict must move x there itself.
    meta_model = copy.deepcopy(ref).to("meta")
    out = predict(meta_model, x)
    checks.equal("labels on the model's device", out.device.type, "meta")
    checks.equal("labels shape", tuple(out.shape), (64,))


@case("q4", points=1, hidden=True)
def test_q4_checkpoint_hidden(save_model, load_model):
    import copy
    import os
    import tempfile

    import torch
    from torch import nn

    from cnnkit import checks

    # Not a build_cnn model: save_model must export any module, with a skip connection and Dropout.
    class Residual(nn.Module):
        def __init__(self, c, k):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU())
            self.body = nn.Conv2d(c, c, 3, padding=1)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(c, k))

        def forward(self, x):
            h = self.stem(x)
            return self.head(h + torch.relu(self.body(h)))

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    k, size = int(rng.integers(3, 8)), int(rng.choice([6, 8, 10]))
    model = Residual(int(rng.integers(3, 7)), k)
    with torch.no_grad():
        model(torch.tensor(rng.standard_normal((8, 3, size, size)), dtype=torch.float32))  # running stats
    x = torch.tensor(rng.standard_normal((5, 3, size, size)), dtype=torch.float32)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.pt2")
        save_model(path, model, x[:3])  # the model is in train mode, as in the middle of a loop
        checks.true("the model is left in train mode", model.training, "save_model switched the model it was given to eval mode: export a copy")
        again = load_model(path)
        # Booleans, not outputs: the question is about what the program computes, not the values.
        with torch.no_grad():
            want = copy.deepcopy(model).eval()(x)
            same = torch.allclose(again(x), want, rtol=1e-5, atol=1e-6)
            try:
                one = tuple(again(x[:1]).shape) == (1, k)
            except Exception:
                one = False
    checks.true(
        "the program computes the model in eval mode", same,
        "the loaded program differs from the model in eval mode (exported in train mode? Dropout and batch statistics are then part of the graph)",
    )
    checks.true("the program takes a batch of one", one, "the batch dimension is fixed: declare it dynamic with torch.export.Dim")


@case("q4", points=2, hidden=True)
def test_q4_evaluate_hidden(evaluate):
    import copy

    import torch
    from torch import nn

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    k = int(rng.integers(3, 6))
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Dropout(0.5), nn.Linear(4 * 16, k))
    with torch.no_grad():
        for _ in range(3):  # running statistics away from their initial values
            model(torch.tensor(rng.standard_normal((16, 3, 4, 4)) + 1.0, dtype=torch.float32))
    ref = copy.deepcopy(model).eval()
    sizes = [int(v) for v in rng.integers(2, 12, size=3)]
    batches = [(torch.tensor(rng.standard_normal((b, 3, 4, 4)), dtype=torch.float32), torch.tensor(rng.integers(0, k, b))) for b in sizes]
    smooth = float(rng.uniform(0.05, 0.3))

    def reference(loss_fn):
        x = torch.cat([b[0] for b in batches])
        y = torch.cat([b[1] for b in batches])
        with torch.no_grad():
            s = ref(x)
        return [float(loss_fn(s, y)), float((s.argmax(1) == y).double().mean())]

    model.train()
    loss, acc = evaluate(model, batches)
    checks.true("Python floats", type(loss) is float and type(acc) is float, "evaluate returns tensors, not floats")
    checks.close("mean loss per example and accuracy", [loss, acc], lambda: reference(nn.CrossEntropyLoss()), rtol=1e-5)
    model.train()
    got = list(evaluate(model, batches, nn.CrossEntropyLoss(label_smoothing=smooth)))
    checks.close("with the loss_fn given", got, lambda: reference(nn.CrossEntropyLoss(label_smoothing=smooth)), rtol=1e-5)


@case("q4", points=4, hidden=True)
def test_q4_train_hidden(train):
    import copy

    import torch
    from torch import nn

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    k, epochs = int(rng.integers(2, 5)), 3
    lr, wd = float(rng.uniform(0.01, 0.05)), float(rng.uniform(1e-3, 1e-2))
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, k))
    start = copy.deepcopy(model)

    def batch(n):
        return torch.tensor(rng.standard_normal((n, 2, 4, 4)), dtype=torch.float32), torch.tensor(rng.integers(0, k, n))

    loaders = {"train": [batch(8) for _ in range(int(rng.integers(3, 6)))], "val": [batch(10), batch(6)]}

    def reference():
        net = copy.deepcopy(start)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=wd)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(loaders["train"]))
        out = {"train_loss": [], "lr": [], "val": [], "best": None}
        best = -1.0
        for epoch in range(epochs):
            net.train()
            total = 0.0
            for x, y in loaders["train"]:
                last_lr = opt.param_groups[0]["lr"]
                loss = nn.functional.cross_entropy(net(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(y)
            out["train_loss"].append(total / sum(len(y) for _, y in loaders["train"]))
            out["lr"].append(last_lr)
            net.eval()
            with torch.no_grad():
                x = torch.cat([b[0] for b in loaders["val"]])
                y = torch.cat([b[1] for b in loaders["val"]])
                s = net(x)
                out["val"] += [float(nn.functional.cross_entropy(s, y)), float((s.argmax(1) == y).double().mean())]
            if out["val"][-1] > best:
                best, out["best"] = out["val"][-1], epoch
                out["weights"] = torch.cat([p.detach().flatten().clone() for p in net.parameters()])
        return out

    expected = {}

    def get(key):
        if not expected:
            expected.update(reference())
        return expected[key]

    history = train(model, loaders, epochs=epochs, lr=lr, weight_decay=wd, device="cpu")
    checks.true("history holds Python floats", all(type(v) is float for v in history.train_loss + history.val_loss + history.val_acc), "history holds tensors, not floats")
    checks.close("train_loss per epoch", history.train_loss, lambda: get("train_loss"), rtol=1e-5)
    checks.close("lr of the last batch of each epoch", history.lr, lambda: get("lr"), rtol=1e-6, atol=1e-12)
    checks.close("val_loss and val_acc per epoch", [v for pair in zip(history.val_loss, history.val_acc) for v in pair], lambda: get("val"), rtol=1e-5)
    checks.equal("best_epoch", history.best_epoch, lambda: get("best"))
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    checks.close("weights after train (the best epoch's)", weights, lambda: get("weights"), rtol=1e-4, atol=1e-6)


@case("q4", points=2, hidden=True)
def test_q4_train_budget_hidden(train):
    import torch
    from torch import nn

    from cnnkit import checks

    class Counting:
        """A loader that counts the batches drawn from it."""

        def __init__(self, batches):
            self.batches, self.drawn = batches, 0

        def __len__(self):
            return len(self.batches)

        def __iter__(self):
            for b in self.batches:
                self.drawn += 1
                yield b

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    n_batches, epochs = int(rng.integers(4, 9)), int(rng.integers(2, 4))

    def run(time_limit):
        batches = [(torch.tensor(rng.standard_normal((4, 1, 2, 2)), dtype=torch.float32), torch.tensor(rng.integers(0, 2, 4))) for _ in range(n_batches)]
        loader = Counting(batches)
        history = train(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), {"train": loader, "val": batches[:1]}, epochs=epochs, lr=0.01, time_limit=time_limit, device="cpu")
        return loader.drawn, bool(history.stopped_early)

    drawn, stopped = run(0.0)
    checks.true("a spent budget stops training before the next batch", drawn <= 1, "batches were still trained after the time budget was spent")
    checks.equal("stopped_early with a spent budget", stopped, True)
    checks.equal("batches drawn within a generous budget", list(run(1e6)), [epochs * n_batches, False])
