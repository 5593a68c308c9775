"""Hidden cases of 01b_deep_nets: graded, never shown to students.

Never imported: `cnnkit build` turns each `@case(question, points=P, hidden=True)` function into
an otter test cell at the end of its question's tests (see cnnkit.grading.master.read_cases).

The torch oracles are functions that only checking evaluates (`checks.close` takes a callable): a
student's kernel only records (the grader compares the records with the reference run's), so it never
imports torch, 2-4 s of every submission. An oracle reads copies of its inputs taken where the torch
tensors used to be built (before or after the student's calls, as before), so in-place changes by the
student's code reach it as they did.
"""


@case("q7", points=1, hidden=True)
def test_q7_tanh_hidden(tanh_forward, tanh_backward):
    import numpy as np

    from cnnkit import checks

    def torch_tanh(x, dout, from_output=False):  # the oracle: only checking evaluates it
        import torch

        tx = (torch.atanh(torch.tensor(x)) if from_output else torch.tensor(x)).requires_grad_(True)
        tout = torch.tanh(tx)
        tout.backward(torch.tensor(dout))
        return tout.detach().numpy(), tx.grad.numpy()

    rng = checks.rng()
    x = rng.standard_normal((5, 4, 3)) * 3  # large inputs too: saturated units
    dout = rng.standard_normal((5, 4, 3))
    out, cache = tanh_forward(x)
    dx = tanh_backward(dout, cache)
    ins = (x.copy(), dout.copy())
    checks.close("out", out, lambda: torch_tanh(*ins)[0], rtol=1e-7, atol=1e-10)
    checks.close("dx", dx, lambda: torch_tanh(*ins)[1], rtol=1e-7, atol=1e-10)
    # The contract: the cache is the forward output z, and the backward pass uses only z.
    z = rng.uniform(-0.95, 0.95, size=7)
    d = rng.standard_normal(7)
    zd = (z.copy(), d.copy())
    checks.close("dx from a cached output", tanh_backward(d, z), lambda: torch_tanh(*zd, from_output=True)[1], rtol=1e-7, atol=1e-10)


@case("q7", points=1, hidden=True)
def test_q7_leaky_relu_hidden(leaky_relu_forward, leaky_relu_backward):
    import numpy as np

    from cnnkit import checks

    def torch_leaky(x, dout, alpha):  # the oracle: only checking evaluates it
        import torch
        import torch.nn.functional as F

        tx = torch.tensor(x, requires_grad=True)
        tout = F.leaky_relu(tx, alpha)
        tout.backward(torch.tensor(dout))
        return tout.detach().numpy(), tx.grad.numpy()

    rng = checks.rng()
    x = rng.standard_normal((6, 7))
    dout = rng.standard_normal((6, 7))  # mixed signs: the slope must follow x, not dout
    for alpha in (None, float(rng.uniform(0.05, 0.3))):
        out, cache = leaky_relu_forward(x) if alpha is None else leaky_relu_forward(x, alpha)
        dx = leaky_relu_backward(dout, cache)
        ins = (x.copy(), dout.copy(), 0.01 if alpha is None else alpha)
        name = "default alpha" if alpha is None else f"alpha {alpha:.3f}"
        checks.close(f"out ({name})", out, lambda: torch_leaky(*ins)[0], rtol=1e-7, atol=1e-10)
        checks.close(f"dx ({name})", dx, lambda: torch_leaky(*ins)[1], rtol=1e-7, atol=1e-10)


@case("q8", points=0.5, hidden=True)
def test_q8_init_gain_hidden(init_gain):
    from cnnkit import checks

    def gain(*args):  # the oracle: only checking evaluates it
        from torch import nn

        return nn.init.calculate_gain(*args)

    alpha = float(checks.rng().uniform(0.05, 0.5))
    for nl in ("relu", "tanh", "linear"):
        checks.close(f"init_gain('{nl}')", init_gain(nl), lambda: gain(nl), rtol=1e-7)
    checks.close(f"init_gain('leaky_relu', {alpha:.3f})", init_gain("leaky_relu", alpha),
                 lambda: gain("leaky_relu", alpha), rtol=1e-7)


@case("q8", points=2, hidden=True)
def test_q8_init_weights_hidden(init_weights):
    import numpy as np

    from cnnkit import checks

    # Sample moments against torch.nn.init on non-square layers (fan-in and fan-out differ by 2.3x,
    # the std by 1.5x): about 200k weights, so the sample std is within 0.5% of the true one.
    rng = checks.rng()
    torch_seed = int(rng.integers(2**31))
    layers = ((300, 700), (700, 300))
    schemes = (("xavier", "relu"), ("kaiming", "relu"), ("kaiming", "tanh"), ("kaiming", "linear"))

    def torch_stds():  # the oracle: torch.nn.init's sample stds, in the checks' order; only checking draws them
        import torch
        from torch import nn

        torch.manual_seed(torch_seed)
        for fan_in, fan_out in layers:
            t = torch.empty(fan_out, fan_in, dtype=torch.float64)  # torch's layout: (out, in)
            for scheme, nl in schemes:
                if scheme == "xavier":
                    nn.init.xavier_normal_(t)
                else:
                    nn.init.kaiming_normal_(t, mode="fan_in", nonlinearity=nl)
                yield float(t.std())

    stds = torch_stds()  # a generator: nothing of it runs until a check asks
    for fan_in, fan_out in layers:
        for scheme, nl in schemes:
            # a recording kernel's tolerance is never used (the grader judges with the reference run's)
            want = 0.0 if checks.mode() == "record" else next(stds)
            W = init_weights(fan_in, fan_out, scheme, np.random.default_rng(int(rng.integers(2**31))), nl)
            checks.equal(f"{scheme}/{nl} shape ({fan_in}, {fan_out})", np.shape(W), (fan_in, fan_out))
            checks.close(f"{scheme}/{nl} std ({fan_in} in, {fan_out} out)", float(np.std(W)), want, rtol=0.02)
            checks.close(f"{scheme}/{nl} mean ({fan_in} in, {fan_out} out)", float(np.mean(W)), 0.0, rtol=0, atol=0.01 * want)
    ws = float(rng.uniform(0.01, 0.1))
    W = init_weights(500, 400, "small", np.random.default_rng(0), weight_scale=ws)
    checks.close("small std", float(np.std(W)), ws, rtol=0.02)
    seed = int(rng.integers(2**31))
    a = init_weights(20, 30, "kaiming", np.random.default_rng(seed), "relu")
    b = init_weights(20, 30, "kaiming", np.random.default_rng(seed), "relu")
    checks.true("the weights come from the rng given", a.shape == b.shape and not np.any(a != b), "two generators with the same seed must give the same weights: draw from rng")


@case("q9", points=2, hidden=True)
def test_q9_dropout_hidden(dropout_forward, dropout_backward):
    import numpy as np

    from cnnkit import checks

    def same(a, b):  # exact equality, elementwise
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and not np.any(a != b)

    def near(a, b, rtol, atol):  # elementwise |a - b| <= atol + rtol |b|
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))

    def torch_dropout(x, train):  # the oracle: F.dropout (seeded in train mode); only checking evaluates it
        import torch
        import torch.nn.functional as F

        if train:
            torch.manual_seed(seed)
        return F.dropout(torch.tensor(x), p=1 - p, training=train).numpy()

    rng = checks.rng()
    p = float(rng.uniform(0.2, 0.45))  # far from 1/2: keep and drop probabilities cannot be confused
    x = rng.standard_normal((400, 500)) + 3.0
    seed = int(rng.integers(2**31))
    out, cache = dropout_forward(x, {"mode": "train", "p": p, "seed": seed})
    x_train = x.copy()
    kept = out != 0
    checks.close("share of units kept (vs F.dropout)", float(kept.mean()), lambda: float(np.mean(torch_dropout(x_train, True) != 0)), rtol=0.03)
    # the mask itself is yours (any draw will do): what is compared is how the kept units are scaled
    checks.true("kept units are scaled like F.dropout's", near(out[kept], x[kept] / p, 1e-7, 1e-10),
                "in train mode a kept unit must come out as x / p (inverted dropout), like F.dropout(x, 1 - p)")
    checks.close("mean activation (vs F.dropout)", float(out.mean()), lambda: float(torch_dropout(x_train, True).mean()), rtol=0.04)
    dout = rng.standard_normal(x.shape)
    dx = np.asarray(dropout_backward(dout, cache))
    checks.true("train backward", near(dx, dout * kept / p, 1e-7, 1e-10),
                "in train mode dx must pass dout through the units the forward pass kept, scaled like them")
    out_test, cache_test = dropout_forward(x, {"mode": "test", "p": p})
    x_test = x.copy()
    checks.close("test mode (vs F.dropout(training=False))", out_test,
                 lambda: torch_dropout(x_test, False), rtol=0, atol=0)
    checks.close("test backward", dropout_backward(dout, cache_test), dout, rtol=0, atol=0)
    # seeds: the same seed the same mask, another seed another; no seed: numpy's global generator
    small = np.ones((30, 40))
    a = dropout_forward(small, {"mode": "train", "p": p, "seed": seed})[0]
    b = dropout_forward(small, {"mode": "train", "p": p, "seed": seed})[0]
    c = dropout_forward(small, {"mode": "train", "p": p, "seed": seed + 1})[0]
    checks.true("same seed, same mask", same(a, b), "a 'seed' in dropout_param must fix the mask")
    checks.true("other seed, other mask", not same(a, c), "different seeds must give different masks")
    np.random.seed(seed % 2**32)
    d = dropout_forward(small, {"mode": "train", "p": p})[0]
    e = dropout_forward(small, {"mode": "train", "p": p})[0]
    np.random.seed(seed % 2**32)
    f = dropout_forward(small, {"mode": "train", "p": p})[0]
    checks.true("without a seed: numpy's global generator", same(d, f) and not same(d, e),
                "without 'seed' the mask must come from numpy's global generator (np.random), fresh on every call")


@case("q10", points=2, hidden=True)
def test_q10_batchnorm_forward_hidden(batchnorm_forward):
    import numpy as np

    from cnnkit import checks

    running = {}  # torch's running averages: made by the first check that needs them

    def torch_bn(x, gamma, beta, train):  # the oracle: only checking evaluates it (train mode updates `running`)
        import torch
        import torch.nn.functional as F

        if not running:
            running.update(mean=torch.tensor(rm.copy()), var=torch.tensor(rv.copy()))
        return F.batch_norm(torch.tensor(x), running["mean"], running["var"], torch.tensor(gamma), torch.tensor(beta), train, 1 - momentum, eps).numpy()

    rng = checks.rng()
    n, d = int(rng.integers(20, 60)), int(rng.integers(3, 9))
    momentum, eps = float(rng.uniform(0.5, 0.95)), float(rng.choice([1e-5, 1e-3]))
    gamma, beta = rng.uniform(0.5, 2, d), rng.standard_normal(d)
    rm, rv = rng.standard_normal(d), rng.uniform(0.5, 2, d)
    param = {"mode": "train", "momentum": momentum, "eps": eps, "running_mean": rm.copy(), "running_var": rv.copy()}
    for step in range(3):  # train steps on batches far from the running averages
        x = rng.standard_normal((n, d)) * rng.uniform(0.5, 4, d) + rng.uniform(-5, 5, d)
        out, _ = batchnorm_forward(x, gamma, beta, param)
        ins = (x.copy(), gamma.copy(), beta.copy())
        checks.close(f"train output, step {step + 1} (vs F.batch_norm(training=True))", out, lambda: torch_bn(*ins, True), rtol=1e-7, atol=1e-10)
        checks.close(f"running mean after step {step + 1}", param["running_mean"], lambda: running["mean"].numpy(), rtol=1e-7, atol=1e-10)
        checks.close(f"running var after step {step + 1}", param["running_var"], lambda: running["var"].numpy(), rtol=1e-7, atol=1e-10)
    param["mode"] = "test"
    before = (np.array(param["running_mean"], copy=True), np.array(param["running_var"], copy=True))
    x = rng.standard_normal((int(rng.integers(1, 5)), d)) * 3 + 1  # a test batch may be one example
    out, _ = batchnorm_forward(x, gamma, beta, param)
    ins = (x.copy(), gamma.copy(), beta.copy())
    checks.close("test output (vs F.batch_norm(training=False))", out, lambda: torch_bn(*ins, False), rtol=1e-7, atol=1e-10)
    checks.close("running mean unchanged in test mode", param["running_mean"], before[0], rtol=0, atol=0)
    checks.close("running var unchanged in test mode", param["running_var"], before[1], rtol=0, atol=0)


@case("q10", points=2, hidden=True)
def test_q10_batchnorm_backward_hidden(batchnorm_forward, batchnorm_backward):
    import numpy as np

    from cnnkit import checks

    def torch_grads(x, gamma, beta, dout):  # the oracle: only checking evaluates it
        import torch
        import torch.nn.functional as F

        t = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
        F.batch_norm(t[0], None, None, t[1], t[2], True, 0.1, 1e-5).backward(torch.tensor(dout))
        return [v.grad.numpy() for v in t]

    rng = checks.rng()
    n, d = int(rng.integers(4, 30)), int(rng.integers(3, 9))
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 4, d) + rng.uniform(-5, 5, d)
    gamma, beta, dout = rng.uniform(0.5, 2, d), rng.standard_normal(d), rng.standard_normal((n, d))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    ins = (x.copy(), gamma.copy(), beta.copy(), dout.copy())
    checks.close("dx (vs autograd)", dx, lambda: torch_grads(*ins)[0], rtol=1e-6, atol=1e-9)
    checks.close("dgamma (vs autograd)", dgamma, lambda: torch_grads(*ins)[1], rtol=1e-6, atol=1e-9)
    checks.close("dbeta (vs autograd)", dbeta, lambda: torch_grads(*ins)[2], rtol=1e-6, atol=1e-9)


@case("q10", points=1.5, hidden=True)
def test_q10_batchnorm_backward_alt_hidden(batchnorm_forward, batchnorm_backward_alt):
    import numpy as np

    from cnnkit import checks

    def torch_grads(x, gamma, beta, dout):  # the oracle: only checking evaluates it
        import torch
        import torch.nn.functional as F

        t = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
        F.batch_norm(t[0], None, None, t[1], t[2], True, 0.1, 1e-5).backward(torch.tensor(dout))
        return [v.grad.numpy() for v in t]

    rng = checks.rng()
    n, d = int(rng.integers(4, 30)), int(rng.integers(3, 9))
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 4, d) + rng.uniform(-5, 5, d)
    gamma, beta, dout = rng.uniform(0.5, 2, d), rng.standard_normal(d), rng.standard_normal((n, d))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    ins = (x.copy(), gamma.copy(), beta.copy(), dout.copy())
    checks.close("dx (vs autograd)", dx, lambda: torch_grads(*ins)[0], rtol=1e-6, atol=1e-9)
    checks.close("dgamma (vs autograd)", dgamma, lambda: torch_grads(*ins)[1], rtol=1e-6, atol=1e-9)
    checks.close("dbeta (vs autograd)", dbeta, lambda: torch_grads(*ins)[2], rtol=1e-6, atol=1e-9)


@case("q10", points=1.5, hidden=True)
def test_q10_layernorm_hidden(layernorm_forward, layernorm_backward):
    import numpy as np

    from cnnkit import checks

    def torch_ln(x, gamma, beta, dout):  # the oracle: out, dx, dgamma, dbeta; only checking evaluates it
        import torch
        import torch.nn.functional as F

        t = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
        t_out = F.layer_norm(t[0], (d,), t[1], t[2], eps)
        t_out.backward(torch.tensor(dout))
        return [t_out.detach().numpy()] + [v.grad.numpy() for v in t]

    rng = checks.rng()
    n, d = int(rng.integers(3, 8)), int(rng.integers(5, 12))
    eps = float(rng.choice([1e-5, 1e-3]))
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, (n, 1)) + rng.uniform(-4, 4, (n, 1))
    gamma, beta, dout = rng.uniform(0.5, 2, d), rng.standard_normal(d), rng.standard_normal((n, d))
    out, cache = layernorm_forward(x, gamma, beta, {"eps": eps})
    ins = (x.copy(), gamma.copy(), beta.copy(), dout.copy())  # before the backward call, as torch's were
    checks.close("out (vs F.layer_norm)", out, lambda: torch_ln(*ins)[0], rtol=1e-7, atol=1e-10)
    for i, (name, got) in enumerate(zip(("dx", "dgamma", "dbeta"), layernorm_backward(dout, cache)), 1):
        checks.close(f"{name} (vs autograd)", got, lambda: torch_ln(*ins)[i], rtol=1e-6, atol=1e-9)


@case("q11", points=1.5, hidden=True)
def test_q11_loss_grads_hidden(FullyConnectedNet):
    import numpy as np

    from cnnkit import checks

    def torch_net(params, X_train, X_test, y, norm):  # the oracle: only checking evaluates it
        """The same net in torch float64: train-mode loss and gradients, then test-mode scores."""
        import torch
        import torch.nn.functional as F

        t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        L = len(dims) + 1
        t_mean = [torch.zeros(h, dtype=torch.float64) for h in dims]
        t_var = [torch.ones(h, dtype=torch.float64) for h in dims]

        def forward(X, train):
            h = torch.tensor(X).reshape(n, -1)
            for i in range(1, L):
                h = h @ t[f"W{i}"] + t[f"b{i}"]
                if norm == "batchnorm":
                    h = F.batch_norm(h, t_mean[i - 1], t_var[i - 1], t[f"gamma{i}"], t[f"beta{i}"], train, 0.1, 1e-5)
                elif norm == "layernorm":
                    h = F.layer_norm(h, (h.shape[1],), t[f"gamma{i}"], t[f"beta{i}"], 1e-5)
                h = torch.relu(h)
            return h @ t[f"W{L}"] + t[f"b{L}"]

        t_loss = F.cross_entropy(forward(X_train, True), torch.tensor(y)) + 0.5 * reg * sum((t[f"W{i}"] ** 2).sum() for i in range(1, L + 1))
        t_loss.backward()
        with torch.no_grad():
            t_scores = forward(X_test, False).numpy()
        return t_loss.item(), {k: v.grad.numpy() for k, v in t.items()}, t_scores

    # Loss and gradients against the same net in torch float64 (train mode), without normalization
    # and with batch or layer norm; then test-mode scores after those train steps.
    rng = checks.rng()
    n, d, c = int(rng.integers(6, 12)), 12, int(rng.integers(3, 6))
    dims = [int(v) for v in rng.integers(4, 9, size=3)]
    X = rng.standard_normal((n, 3, 4))
    y = rng.integers(c, size=n)
    reg = float(rng.uniform(0.05, 0.5))
    for norm in (None, "batchnorm", "layernorm"):
        net = FullyConnectedNet(dims, input_dim=d, num_classes=c, normalization=norm, reg=reg, init="kaiming",
                                dtype=np.float64, seed=int(rng.integers(2**31)))
        params = {k: rng.standard_normal(np.shape(v)) * (0.5 if k[0] in "Wb" else 1) for k, v in net.params.items()}
        for k in params:
            if k.startswith("gamma"):
                params[k] = rng.uniform(0.5, 2, params[k].shape)
        net.params = {k: v.copy() for k, v in params.items()}
        train_in = ({k: v.copy() for k, v in params.items()}, X.copy(), y.copy())  # before the student's loss, as torch's were
        loss, grads = net.loss(X, y)
        test_in = X.copy()  # torch's test-mode input was built after the student's loss call
        want = {}  # torch's (loss, grads, scores): computed by the first check that needs them

        def oracle():
            if not want:
                want["v"] = torch_net(train_in[0], train_in[1], test_in, train_in[2], norm)
            return want["v"]

        name = norm or "no normalization"
        checks.close(f"loss ({name})", loss, lambda: oracle()[0], rtol=1e-7, atol=1e-10)
        for k in sorted(params):
            checks.close(f"d{k} ({name})", grads.get(k), lambda: oracle()[1][k], rtol=1e-6, atol=1e-9)
        checks.close(f"test-mode scores after a train step ({name})", net.loss(X), lambda: oracle()[2], rtol=1e-7, atol=1e-10)


@case("q11", points=1, hidden=True)
def test_q11_dropout_and_init_hidden(FullyConnectedNet):
    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient

    rng = checks.rng()
    X, y = rng.standard_normal((7, 9)), rng.integers(5, size=7)
    seed = int(rng.integers(2**31))
    net = FullyConnectedNet([8, 6], input_dim=9, num_classes=5, dropout_keep_ratio=0.6, reg=0.05, init="kaiming",
                            dtype=np.float64, seed=seed)
    net.params = {k: rng.standard_normal(np.shape(v)) for k, v in net.params.items()}
    scores = net.loss(X)
    plain = FullyConnectedNet([8, 6], input_dim=9, num_classes=5, init="kaiming", dtype=np.float64, seed=seed)
    plain.params = {k: v.copy() for k, v in net.params.items()}
    checks.close("test-mode scores: dropout is off", scores, plain.loss(X), rtol=1e-7, atol=1e-10)
    loss_drop, grads = net.loss(X, y)
    checks.true("train mode applies dropout", abs(loss_drop - plain.loss(X, y)[0]) > 1e-6, "loss(X, y) must drop units (train mode) when dropout_keep_ratio < 1")
    for k in sorted(net.params):  # the mask is yours (seeded): compare with your own numeric gradient
        num = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[k])
        got = np.asarray(grads.get(k), dtype=np.float64)
        ok = got.shape == num.shape and bool(np.all(np.abs(got - num) <= 1e-8 + 1e-5 * np.abs(num)))
        checks.true(f"d{k} with dropout (vs numeric)", ok, f"grads['{k}'] with dropout differs from the numeric gradient")
    # Kaiming for the hidden layers (ReLU's gain), gain 1 for the last one
    big = FullyConnectedNet([400, 300], input_dim=700, num_classes=200, init="kaiming", seed=seed)
    for k, fan_in, gain in (("W1", 700, 2**0.5), ("W2", 400, 2**0.5), ("W3", 300, 1.0)):
        checks.close(f"std of {k} (Kaiming)", float(np.std(big.params[k])), gain / fan_in**0.5, rtol=0.03)
