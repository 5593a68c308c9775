"""Hidden and artefact cases of 03_pytorch_cnn: graded, never shown to students.

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
def test_q2_count_params_hidden(count_params):
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


@case("q4", points=4, hidden=True)
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


@case("q4", points=3, hidden=True)
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


@case("q4", points=2, hidden=True)
def test_q4_checkpoint_hidden(save_model, load_model, build_cnn):
    import os
    import tempfile

    import torch

    from cnnkit import checks, training

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    cfg = {"channels": [int(v) for v in rng.integers(2, 6, size=2)], "fc": [int(rng.integers(3, 9))], "dropout": 0.5, "image_size": 8}
    model = build_cnn(**cfg)
    model.train()
    with torch.no_grad():
        model(torch.tensor(rng.standard_normal((8, 3, 8, 8)), dtype=torch.float32))
    model.eval()
    x = torch.tensor(rng.standard_normal((4, 3, 8, 8)), dtype=torch.float32)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ckpt.pt")
        save_model(path, model, cfg)
        fresh, meta = training.load_checkpoint(path, builder=build_cnn)
        again = load_model(path)
    # Booleans, not outputs: this question is about saving and loading, whatever build_cnn builds.
    with torch.no_grad():
        want = model(x)
        same_fresh = torch.allclose(fresh(x), want, rtol=1e-5, atol=1e-6)
        same_again = torch.allclose(again(x), want, rtol=1e-5, atol=1e-6)
    checks.true("stored config is the one given", meta["config"] == cfg, "wrong config stored")
    checks.true("fresh build_cnn(**config) reproduces the model", same_fresh, "fresh model differs")
    checks.true("load_model reproduces the model", same_again, "load_model differs")
    checks.equal("load_model returns eval mode", again.training, False)


@case("q5", points=1)
def test_q5_checkpoint_file():
    import inspect

    import torch

    import cnnkit.models
    from cnnkit import checks

    blob = torch.load("cnn_checkpoint.pt", map_location="cpu", weights_only=True)
    checks.true("a dict with a state_dict", isinstance(blob, dict) and "state_dict" in blob, "cnn_checkpoint.pt has no state_dict (save it with save_model)")
    config = blob.get("config")
    checks.true("a build_cnn config", isinstance(config, dict), "cnn_checkpoint.pt has no config dict")
    try:
        inspect.signature(cnnkit.models.build_cnn).bind(**config)
        ok = True
    except TypeError:
        ok = False
    checks.true("config keys are build_cnn arguments", ok, "the saved config has keys build_cnn does not take")


@case("q5", points=2, hidden=True)
def test_q5_heldout_accuracy_at_least_50():
    from cnnkit import checks, heldout

    acc = heldout.checkpoint_accuracy("cnn_checkpoint.pt", n=2000, seed=int(checks.rng().integers(2**31)))
    checks.at_least("held-out accuracy", acc, 0.5)


@case("q5", points=2, hidden=True)
def test_q5_heldout_accuracy_at_least_70():
    from cnnkit import checks, heldout

    acc = heldout.checkpoint_accuracy("cnn_checkpoint.pt", n=2000, seed=int(checks.rng().integers(2**31)))
    checks.at_least("held-out accuracy", acc, 0.7)


@case("q5", points=2, hidden=True)
def test_q5_heldout_accuracy_at_least_85():
    from cnnkit import checks, heldout

    acc = heldout.checkpoint_accuracy("cnn_checkpoint.pt", n=2000, seed=int(checks.rng().integers(2**31)))
    checks.at_least("held-out accuracy", acc, 0.85)


@case("q5", points=2, hidden=True)
def test_q5_heldout_accuracy_at_least_90():
    from cnnkit import checks, heldout

    acc = heldout.checkpoint_accuracy("cnn_checkpoint.pt", n=2000, seed=int(checks.rng().integers(2**31)))
    checks.at_least("held-out accuracy", acc, 0.9)