"""Hidden and artefact cases of 01_backprop: graded, never shown to students.

Never imported: `cnnkit build` turns each `@case(question, points=P, hidden=True)` function into
an otter test cell at the end of its question's tests (see cnnkit.grading.master.read_cases).
"""


@case("q1", points=2, hidden=True)
def test_q1_sigmoid_circuit_hidden(sigmoid_circuit):
    import torch

    from cnnkit import checks, oracles

    rng = checks.rng()
    names = ["w0", "x0", "w1", "x1", "w2"]
    for trial in range(4):
        vals = dict(zip(names, (rng.standard_normal(5) * 1.5).tolist()))
        oracles.circuit_against_torch(
            lambda v: sigmoid_circuit(**v), lambda w0, x0, w1, x1, w2: torch.sigmoid(w0 * x0 + w1 * x1 + w2),
            vals, out="L", suffix=f" {trial}",
        )


@case("q1", points=2, hidden=True)
def test_q1_max_copy_circuit_hidden(max_copy_circuit):
    import torch

    from cnnkit import checks, oracles

    rng = checks.rng()
    for trial in range(6):
        vals = dict(zip("xyz", (rng.standard_normal(3) * 2).tolist()))
        oracles.circuit_against_torch(
            lambda v: max_copy_circuit(v["x"], v["y"], v["z"]), lambda x, y, z: torch.maximum(x, y) * z + x,
            vals, out="f", suffix=f" {trial}",
        )


@case("q2", points=2, hidden=True)
def test_q2_value_expression_hidden(Value):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    for trial in range(3):
        nums = rng.standard_normal(3) * 1.2
        c0 = float(rng.uniform(0.5, 2.0))

        def expr(a, b, c, relu, sig):
            d = a * b + c**2
            e = relu(d * a) + sig(b) * d
            return e * e + 2.0 * a - c * c0 + (a + 1.5) ** 3

        v = [Value(x) for x in nums]
        out = expr(*v, lambda x: x.relu(), lambda x: x.sigmoid())
        out.backward()
        t = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in nums]
        t_out = expr(*t, torch.relu, torch.sigmoid)
        t_out.backward()
        checks.close(f"out {trial}", out.data, t_out.item(), rtol=1e-7, atol=1e-10)
        for name, vi, ti in zip("abc", v, t):
            checks.close(f"d{name} {trial}", vi.grad, ti.grad.item(), rtol=1e-7, atol=1e-10)


@case("q2", points=1.5, hidden=True)
def test_q2_value_relu_pow_hidden(Value):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    neg = -float(rng.uniform(0.5, 3.0))
    pos = float(rng.uniform(0.5, 3.0))
    for name, x in [("negative", neg), ("positive", pos)]:
        v = Value(x)
        out = v.relu() * 3.0
        out.backward()
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        (torch.relu(t) * 3.0).backward()
        checks.close(f"relu {name}", out.data, 3.0 * max(x, 0.0), rtol=1e-7, atol=1e-10)
        checks.close(f"relu grad {name}", v.grad, t.grad.item(), rtol=1e-7, atol=1e-10)
    for p in (3, -1, 0.5, 2.5):
        v = Value(pos)
        out = v**p
        out.backward()
        t = torch.tensor(pos, dtype=torch.float64, requires_grad=True)
        (t**p).backward()
        checks.close(f"pow {p}", out.data, pos**p, rtol=1e-7, atol=1e-10)
        checks.close(f"pow {p} grad", v.grad, t.grad.item(), rtol=1e-7, atol=1e-10)


@case("q2", points=1.5, hidden=True)
def test_q2_value_shared_subgraph_backward_twice_hidden(Value):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    nums = rng.standard_normal(2)

    def expr(a, b):
        s = a * b + a  # a feeds two gates
        u = s * s  # s feeds one gate twice
        return u + s * b + a

    for calls in (1, 2, 3):
        v = [Value(x) for x in nums]
        out = expr(*v)
        for _ in range(calls):
            out.backward()
        t = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in nums]
        expr(*t).backward()
        for name, vi, ti in zip("ab", v, t):
            checks.close(f"d{name} after {calls} calls", vi.grad, ti.grad.item(), rtol=1e-7, atol=1e-10)


@case("q3", points=2, hidden=True)
def test_q3_affine_hidden(affine_forward, affine_backward):
    import numpy as np
    import torch

    from cnnkit import checks

    rng = checks.rng()
    n, shape, m = int(rng.integers(3, 7)), (2, 3, 2), int(rng.integers(2, 5))
    x = rng.standard_normal((n, *shape))
    w = rng.standard_normal((12, m))
    b = rng.standard_normal(m)
    dout = rng.standard_normal((n, m))
    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = tx.reshape(n, -1) @ tw + tb
    tout.backward(torch.tensor(dout))
    checks.close("out", out, tout.detach().numpy(), rtol=1e-7, atol=1e-10)
    checks.close("dx", dx, tx.grad.numpy(), rtol=1e-7, atol=1e-10)
    checks.close("dw", dw, tw.grad.numpy(), rtol=1e-7, atol=1e-10)
    checks.close("db", db, tb.grad.numpy(), rtol=1e-7, atol=1e-10)


@case("q3", points=1.5, hidden=True)
def test_q3_relu_hidden(relu_forward, relu_backward):
    import numpy as np
    import torch

    from cnnkit import checks, oracles

    rng = checks.rng()
    x = rng.standard_normal((4, 3, 5))
    dout = rng.standard_normal((4, 3, 5))  # mixed signs: the routing must follow x, not dout
    oracles.against_torch(relu_forward, relu_backward, torch.relu, (x,), dout, rtol=1e-7, atol=1e-10)
    xs = np.array([1.0, -2.0, 3.0, -1.0])
    ds = np.array([4.0, -1.0, 5.0, 9.0])
    tx = torch.tensor(xs, requires_grad=True)
    torch.relu(tx).backward(torch.tensor(ds))
    checks.close("classic example", relu_backward(ds, relu_forward(xs)[1]), tx.grad.numpy(), rtol=1e-7, atol=1e-10)


@case("q3", points=1.5, hidden=True)
def test_q3_sigmoid_hidden(sigmoid_forward, sigmoid_backward):
    import numpy as np
    import torch

    from cnnkit import checks, oracles

    rng = checks.rng()
    x = rng.standard_normal((5, 6)) * 4
    dout = rng.standard_normal((5, 6))
    oracles.against_torch(sigmoid_forward, sigmoid_backward, torch.sigmoid, (x,), dout, rtol=1e-7, atol=1e-10)
    # The contract: the cache is the forward output z, and the backward pass uses only z.
    z = rng.uniform(0.05, 0.95, size=7)
    d = rng.standard_normal(7)
    tx = torch.logit(torch.tensor(z)).requires_grad_(True)
    torch.sigmoid(tx).backward(torch.tensor(d))
    checks.close("dx from a cached output", sigmoid_backward(d, z), tx.grad.numpy(), rtol=1e-7, atol=1e-10)


@case("q3", points=2, hidden=True)
def test_q3_softmax_hidden(softmax_loss):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    for name, scale, shift in [("normal", 2.0, 0.0), ("large logits", 300.0, 1000.0)]:
        n, c = int(rng.integers(4, 9)), int(rng.integers(3, 8))
        scores = rng.standard_normal((n, c)) * scale + shift
        y = rng.integers(c, size=n)
        ts = torch.tensor(scores, requires_grad=True)
        t_loss = F.cross_entropy(ts, torch.tensor(y))
        t_loss.backward()
        loss, dscores = softmax_loss(scores, y)
        checks.close(f"loss ({name})", loss, t_loss.item(), rtol=1e-7, atol=1e-10)
        checks.close(f"dscores ({name})", dscores, ts.grad.numpy(), rtol=1e-7, atol=1e-10)


@case("q3", points=1, hidden=True)
def test_q3_svm_hidden(svm_loss):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    n, c = int(rng.integers(5, 10)), int(rng.integers(3, 7))
    scores = rng.standard_normal((n, c))
    y = rng.integers(c, size=n)
    ts = torch.tensor(scores, requires_grad=True)
    t_loss = F.multi_margin_loss(ts, torch.tensor(y)) * c
    t_loss.backward()
    loss, dscores = svm_loss(scores, y)
    checks.close("loss", loss, t_loss.item(), rtol=1e-7, atol=1e-10)
    checks.close("dscores", dscores, ts.grad.numpy(), rtol=1e-7, atol=1e-10)


@case("q3", points=0.5, hidden=True)
def test_q3_jacobian_memory_hidden(jacobian_memory_bytes):
    from cnnkit import checks

    rng = checks.rng()
    n, d, m = (int(v) for v in rng.integers(2, 5000, size=3))
    checks.equal("float64", jacobian_memory_bytes(n, d, m, itemsize=8), (n * d) * (n * m) * 8)
    checks.equal("float32", jacobian_memory_bytes(n, d, m), (n * d) * (n * m) * 4)


@case("q4", points=2.5, hidden=True)
def test_q4_loss_grads_with_reg_hidden(TwoLayerNet):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    n, d, h, c = int(rng.integers(4, 9)), 2 * 3 * 2, int(rng.integers(4, 9)), int(rng.integers(3, 6))
    reg = float(rng.uniform(0.2, 1.5))
    net = TwoLayerNet(input_dim=d, hidden_dim=h, num_classes=c, weight_scale=1.0, reg=reg)
    params = {"W1": rng.standard_normal((d, h)), "b1": rng.standard_normal(h),
              "W2": rng.standard_normal((h, c)), "b2": rng.standard_normal(c)}
    net.params = {k: v.copy() for k, v in params.items()}
    X = rng.standard_normal((n, 2, 3, 2))
    y = rng.integers(c, size=n)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    scores = torch.relu(torch.tensor(X).reshape(n, -1) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    t_loss = F.cross_entropy(scores, torch.tensor(y)) + 0.5 * reg * ((t["W1"] ** 2).sum() + (t["W2"] ** 2).sum())
    t_loss.backward()
    loss, grads = net.loss(X, y)
    checks.close("loss", loss, t_loss.item(), rtol=1e-7, atol=1e-10)
    for k in ["W1", "b1", "W2", "b2"]:
        checks.close(f"d{k}", grads[k], t[k].grad.numpy(), rtol=1e-7, atol=1e-10)


@case("q4", points=1.5, hidden=True)
def test_q4_scores_hidden(TwoLayerNet):
    import numpy as np
    import torch

    from cnnkit import checks

    rng = checks.rng()
    n, h, c = int(rng.integers(3, 8)), int(rng.integers(3, 9)), int(rng.integers(2, 6))
    net = TwoLayerNet(input_dim=10, hidden_dim=h, num_classes=c, weight_scale=1.0, reg=0.3)
    params = {"W1": rng.standard_normal((10, h)), "b1": rng.standard_normal(h),
              "W2": rng.standard_normal((h, c)), "b2": rng.standard_normal(c)}
    net.params = {k: v.copy() for k, v in params.items()}
    X = rng.standard_normal((n, 10))
    t = {k: torch.tensor(v) for k, v in params.items()}
    scores = torch.relu(torch.tensor(X) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    checks.close("scores", net.loss(X), scores.numpy(), rtol=1e-7, atol=1e-10)


@case("q5", points=1.5, hidden=True)
def test_q5_momentum_hidden(sgd_momentum):
    import numpy as np
    import torch

    from cnnkit import checks

    rng = checks.rng()
    lr, mu = float(rng.uniform(0.01, 0.2)), float(rng.uniform(0.5, 0.95))
    w = rng.standard_normal((4, 3))
    p = torch.tensor(w, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=mu)
    config = {"learning_rate": lr, "momentum": mu}
    for step in range(6):
        dw = rng.standard_normal((4, 3))
        w, config = sgd_momentum(w, dw, config)
        p.grad = torch.tensor(dw)
        opt.step()
    checks.close("w after 6 steps", w, p.detach().numpy(), rtol=1e-7, atol=1e-10)
    checks.close("velocity", config["velocity"], -lr * opt.state[p]["momentum_buffer"].numpy(), rtol=1e-7, atol=1e-10)


@case("q5", points=1.5, hidden=True)
def test_q5_rmsprop_hidden(rmsprop):
    import numpy as np
    import torch

    from cnnkit import checks

    rng = checks.rng()
    lr, rho = float(rng.uniform(1e-3, 1e-1)), float(rng.uniform(0.8, 0.99))
    w = rng.standard_normal(7)
    p = torch.tensor(w, requires_grad=True)
    opt = torch.optim.RMSprop([p], lr=lr, alpha=rho, eps=1e-8)
    config = {"learning_rate": lr, "decay_rate": rho}
    for step in range(5):
        dw = rng.standard_normal(7) * 3
        w, config = rmsprop(w, dw, config)
        p.grad = torch.tensor(dw)
        opt.step()
    checks.close("w after 5 steps", w, p.detach().numpy(), rtol=1e-7, atol=1e-10)
    checks.close("cache", config["cache"], opt.state[p]["square_avg"].numpy(), rtol=1e-7, atol=1e-10)


@case("q5", points=2, hidden=True)
def test_q5_adam_hidden(adam):
    import numpy as np
    import torch

    from cnnkit import checks

    rng = checks.rng()
    lr = float(rng.uniform(1e-3, 1e-1))
    b1, b2 = float(rng.uniform(0.8, 0.95)), float(rng.uniform(0.95, 0.999))
    w = rng.standard_normal((3, 5))
    p = torch.tensor(w, requires_grad=True)
    opt = torch.optim.Adam([p], lr=lr, betas=(b1, b2), eps=1e-8)
    config = {"learning_rate": lr, "beta1": b1, "beta2": b2}
    for step in range(5):
        dw = rng.standard_normal((3, 5))
        w, config = adam(w, dw, config)
        p.grad = torch.tensor(dw)
        opt.step()
        checks.close(f"w after step {step + 1}", w, p.detach().numpy(), rtol=1e-7, atol=1e-10)
    checks.equal("t after 5 steps", int(config["t"]), 5)


@case("q5", points=1, hidden=True)
def test_q5_defaults_hidden(sgd, sgd_momentum, rmsprop, adam):
    import numpy as np

    from cnnkit import checks

    w, dw = np.ones(2), np.ones(2)
    _, c = sgd(w, dw)
    checks.close("sgd learning_rate", c["learning_rate"], 1e-2, rtol=0)
    _, c = sgd_momentum(w, dw)
    checks.close("momentum learning_rate", c["learning_rate"], 1e-2, rtol=0)
    checks.close("momentum", c["momentum"], 0.9, rtol=0)
    _, c = rmsprop(w, dw)
    checks.close("rmsprop decay_rate", c["decay_rate"], 0.99, rtol=0)
    checks.close("rmsprop epsilon", c["epsilon"], 1e-8, rtol=0)
    _, c = adam(w, dw)
    for key, value in [("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8)]:
        checks.close(f"adam {key}", c[key], value, rtol=0)
    # state passed in is used: a config from an earlier step continues the count
    _, c = adam(w, dw, c)
    checks.equal("adam t after two calls", int(c["t"]), 2)


@case("q6", points=1)
def test_q6_params_file_and_accuracy_70():
    import numpy as np

    from cnnkit import checks, heldout

    with np.load("twolayer_params.npz", allow_pickle=False) as f:
        p = {k: np.asarray(f[k], dtype=np.float64) for k in ("W1", "b1", "W2", "b2", "hidden_dim")}
    h = int(p["hidden_dim"])
    ok = p["W1"].shape == (784, h) and p["b1"].shape == (h,) and p["W2"].shape == (h, 10) and p["b2"].shape == (10,)
    checks.true("parameter shapes", ok, "twolayer_params.npz needs W1 (784, H), b1 (H,), W2 (H, 10), b2 (10,) and hidden_dim = H")
    seed = int(checks.rng().integers(2**31))
    checks.at_least("test accuracy", heldout.twolayer_accuracy("twolayer_params.npz", n=2000, seed=seed), 0.70)


@case("q6", points=2, hidden=True)
def test_q6_accuracy_80_hidden():
    from cnnkit import checks, heldout

    seed = int(checks.rng().integers(2**31))
    acc = heldout.twolayer_accuracy("twolayer_params.npz", n=5000, seed=seed)
    checks.at_least("test accuracy", acc, 0.8)


@case("q6", points=2, hidden=True)
def test_q6_accuracy_84_hidden():
    from cnnkit import checks, heldout

    seed = int(checks.rng().integers(2**31))
    acc = heldout.twolayer_accuracy("twolayer_params.npz", n=5000, seed=seed)
    checks.at_least("test accuracy", acc, 0.84)

@case("q7", points=1, hidden=True)
def test_q7_tanh_hidden(tanh_forward, tanh_backward):
    import numpy as np
    import torch

    from cnnkit import checks

    rng = checks.rng()
    x = rng.standard_normal((5, 4, 3)) * 3  # large inputs too: saturated units
    dout = rng.standard_normal((5, 4, 3))
    out, cache = tanh_forward(x)
    dx = tanh_backward(dout, cache)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.tanh(tx)
    tout.backward(torch.tensor(dout))
    checks.close("out", out, tout.detach().numpy(), rtol=1e-7, atol=1e-10)
    checks.close("dx", dx, tx.grad.numpy(), rtol=1e-7, atol=1e-10)
    # The contract: the cache is the forward output z, and the backward pass uses only z.
    z = rng.uniform(-0.95, 0.95, size=7)
    d = rng.standard_normal(7)
    tx = torch.atanh(torch.tensor(z)).requires_grad_(True)
    torch.tanh(tx).backward(torch.tensor(d))
    checks.close("dx from a cached output", tanh_backward(d, z), tx.grad.numpy(), rtol=1e-7, atol=1e-10)


@case("q7", points=1, hidden=True)
def test_q7_leaky_relu_hidden(leaky_relu_forward, leaky_relu_backward):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    x = rng.standard_normal((6, 7))
    dout = rng.standard_normal((6, 7))  # mixed signs: the slope must follow x, not dout
    for alpha in (None, float(rng.uniform(0.05, 0.3))):
        out, cache = leaky_relu_forward(x) if alpha is None else leaky_relu_forward(x, alpha)
        dx = leaky_relu_backward(dout, cache)
        tx = torch.tensor(x, requires_grad=True)
        tout = F.leaky_relu(tx, 0.01 if alpha is None else alpha)
        tout.backward(torch.tensor(dout))
        name = "default alpha" if alpha is None else f"alpha {alpha:.3f}"
        checks.close(f"out ({name})", out, tout.detach().numpy(), rtol=1e-7, atol=1e-10)
        checks.close(f"dx ({name})", dx, tx.grad.numpy(), rtol=1e-7, atol=1e-10)


@case("q8", points=0.5, hidden=True)
def test_q8_init_gain_hidden(init_gain):
    from torch import nn

    from cnnkit import checks

    alpha = float(checks.rng().uniform(0.05, 0.5))
    for nl in ("relu", "tanh", "linear"):
        checks.close(f"init_gain('{nl}')", init_gain(nl), nn.init.calculate_gain(nl), rtol=1e-7)
    checks.close(f"init_gain('leaky_relu', {alpha:.3f})", init_gain("leaky_relu", alpha),
                 nn.init.calculate_gain("leaky_relu", alpha), rtol=1e-7)


@case("q8", points=2, hidden=True)
def test_q8_init_weights_hidden(init_weights):
    import numpy as np
    import torch
    from torch import nn

    from cnnkit import checks

    # Sample moments against torch.nn.init on non-square layers (fan-in and fan-out differ by 2.3x,
    # the std by 1.5x): about 200k weights, so the sample std is within 0.5% of the true one.
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    for fan_in, fan_out in ((300, 700), (700, 300)):
        t = torch.empty(fan_out, fan_in, dtype=torch.float64)  # torch's layout: (out, in)
        cases = {
            ("xavier", "relu"): lambda t: nn.init.xavier_normal_(t),
            ("kaiming", "relu"): lambda t: nn.init.kaiming_normal_(t, mode="fan_in", nonlinearity="relu"),
            ("kaiming", "tanh"): lambda t: nn.init.kaiming_normal_(t, mode="fan_in", nonlinearity="tanh"),
            ("kaiming", "linear"): lambda t: nn.init.kaiming_normal_(t, mode="fan_in", nonlinearity="linear"),
        }
        for (scheme, nl), draw in cases.items():
            want = float(draw(t).std())
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
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    def same(a, b):  # exact equality, elementwise
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and not np.any(a != b)

    def near(a, b, rtol, atol):  # elementwise |a - b| <= atol + rtol |b|
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))

    rng = checks.rng()
    p = float(rng.uniform(0.2, 0.45))  # far from 1/2: keep and drop probabilities cannot be confused
    x = rng.standard_normal((400, 500)) + 3.0
    seed = int(rng.integers(2**31))
    out, cache = dropout_forward(x, {"mode": "train", "p": p, "seed": seed})
    torch.manual_seed(seed)
    t_out = F.dropout(torch.tensor(x), p=1 - p, training=True).numpy()
    kept = out != 0
    checks.close("share of units kept (vs F.dropout)", float(kept.mean()), float(np.mean(t_out != 0)), rtol=0.03)
    # the mask itself is yours (any draw will do): what is compared is how the kept units are scaled
    checks.true("kept units are scaled like F.dropout's", near(out[kept], x[kept] / p, 1e-7, 1e-10),
                "in train mode a kept unit must come out as x / p (inverted dropout), like F.dropout(x, 1 - p)")
    checks.close("mean activation (vs F.dropout)", float(out.mean()), float(t_out.mean()), rtol=0.04)
    dout = rng.standard_normal(x.shape)
    dx = np.asarray(dropout_backward(dout, cache))
    checks.true("train backward", near(dx, dout * kept / p, 1e-7, 1e-10),
                "in train mode dx must pass dout through the units the forward pass kept, scaled like them")
    out_test, cache_test = dropout_forward(x, {"mode": "test", "p": p})
    checks.close("test mode (vs F.dropout(training=False))", out_test,
                 F.dropout(torch.tensor(x), p=1 - p, training=False).numpy(), rtol=0, atol=0)
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
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    n, d = int(rng.integers(20, 60)), int(rng.integers(3, 9))
    momentum, eps = float(rng.uniform(0.5, 0.95)), float(rng.choice([1e-5, 1e-3]))
    gamma, beta = rng.uniform(0.5, 2, d), rng.standard_normal(d)
    rm, rv = rng.standard_normal(d), rng.uniform(0.5, 2, d)
    t_mean, t_var = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    param = {"mode": "train", "momentum": momentum, "eps": eps, "running_mean": rm.copy(), "running_var": rv.copy()}
    for step in range(3):  # train steps on batches far from the running averages
        x = rng.standard_normal((n, d)) * rng.uniform(0.5, 4, d) + rng.uniform(-5, 5, d)
        out, _ = batchnorm_forward(x, gamma, beta, param)
        t_out = F.batch_norm(torch.tensor(x), t_mean, t_var, torch.tensor(gamma), torch.tensor(beta), True, 1 - momentum, eps)
        checks.close(f"train output, step {step + 1} (vs F.batch_norm(training=True))", out, t_out.numpy(), rtol=1e-7, atol=1e-10)
        checks.close(f"running mean after step {step + 1}", param["running_mean"], t_mean.numpy(), rtol=1e-7, atol=1e-10)
        checks.close(f"running var after step {step + 1}", param["running_var"], t_var.numpy(), rtol=1e-7, atol=1e-10)
    param["mode"] = "test"
    before = (np.array(param["running_mean"], copy=True), np.array(param["running_var"], copy=True))
    x = rng.standard_normal((int(rng.integers(1, 5)), d)) * 3 + 1  # a test batch may be one example
    out, _ = batchnorm_forward(x, gamma, beta, param)
    t_out = F.batch_norm(torch.tensor(x), t_mean, t_var, torch.tensor(gamma), torch.tensor(beta), False, 1 - momentum, eps)
    checks.close("test output (vs F.batch_norm(training=False))", out, t_out.numpy(), rtol=1e-7, atol=1e-10)
    checks.close("running mean unchanged in test mode", param["running_mean"], before[0], rtol=0, atol=0)
    checks.close("running var unchanged in test mode", param["running_var"], before[1], rtol=0, atol=0)


@case("q10", points=2, hidden=True)
def test_q10_batchnorm_backward_hidden(batchnorm_forward, batchnorm_backward):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    n, d = int(rng.integers(4, 30)), int(rng.integers(3, 9))
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 4, d) + rng.uniform(-5, 5, d)
    gamma, beta, dout = rng.uniform(0.5, 2, d), rng.standard_normal(d), rng.standard_normal((n, d))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    t = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    F.batch_norm(t[0], None, None, t[1], t[2], True, 0.1, 1e-5).backward(torch.tensor(dout))
    checks.close("dx (vs autograd)", dx, t[0].grad.numpy(), rtol=1e-6, atol=1e-9)
    checks.close("dgamma (vs autograd)", dgamma, t[1].grad.numpy(), rtol=1e-6, atol=1e-9)
    checks.close("dbeta (vs autograd)", dbeta, t[2].grad.numpy(), rtol=1e-6, atol=1e-9)


@case("q10", points=1.5, hidden=True)
def test_q10_batchnorm_backward_alt_hidden(batchnorm_forward, batchnorm_backward_alt):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    n, d = int(rng.integers(4, 30)), int(rng.integers(3, 9))
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 4, d) + rng.uniform(-5, 5, d)
    gamma, beta, dout = rng.uniform(0.5, 2, d), rng.standard_normal(d), rng.standard_normal((n, d))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    t = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    F.batch_norm(t[0], None, None, t[1], t[2], True, 0.1, 1e-5).backward(torch.tensor(dout))
    checks.close("dx (vs autograd)", dx, t[0].grad.numpy(), rtol=1e-6, atol=1e-9)
    checks.close("dgamma (vs autograd)", dgamma, t[1].grad.numpy(), rtol=1e-6, atol=1e-9)
    checks.close("dbeta (vs autograd)", dbeta, t[2].grad.numpy(), rtol=1e-6, atol=1e-9)


@case("q10", points=1.5, hidden=True)
def test_q10_layernorm_hidden(layernorm_forward, layernorm_backward):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

    rng = checks.rng()
    n, d = int(rng.integers(3, 8)), int(rng.integers(5, 12))
    eps = float(rng.choice([1e-5, 1e-3]))
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, (n, 1)) + rng.uniform(-4, 4, (n, 1))
    gamma, beta, dout = rng.uniform(0.5, 2, d), rng.standard_normal(d), rng.standard_normal((n, d))
    out, cache = layernorm_forward(x, gamma, beta, {"eps": eps})
    t = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    t_out = F.layer_norm(t[0], (d,), t[1], t[2], eps)
    t_out.backward(torch.tensor(dout))
    checks.close("out (vs F.layer_norm)", out, t_out.detach().numpy(), rtol=1e-7, atol=1e-10)
    for name, got, want in zip(("dx", "dgamma", "dbeta"), layernorm_backward(dout, cache), t):
        checks.close(f"{name} (vs autograd)", got, want.grad.numpy(), rtol=1e-6, atol=1e-9)


@case("q11", points=1.5, hidden=True)
def test_q11_loss_grads_hidden(FullyConnectedNet):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnkit import checks

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
        t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        L = len(dims) + 1
        t_mean = [torch.zeros(h, dtype=torch.float64) for h in dims]
        t_var = [torch.ones(h, dtype=torch.float64) for h in dims]

        def forward(train):
            h = torch.tensor(X).reshape(n, -1)
            for i in range(1, L):
                h = h @ t[f"W{i}"] + t[f"b{i}"]
                if norm == "batchnorm":
                    h = F.batch_norm(h, t_mean[i - 1], t_var[i - 1], t[f"gamma{i}"], t[f"beta{i}"], train, 0.1, 1e-5)
                elif norm == "layernorm":
                    h = F.layer_norm(h, (h.shape[1],), t[f"gamma{i}"], t[f"beta{i}"], 1e-5)
                h = torch.relu(h)
            return h @ t[f"W{L}"] + t[f"b{L}"]

        t_loss = F.cross_entropy(forward(True), torch.tensor(y)) + 0.5 * reg * sum((t[f"W{i}"] ** 2).sum() for i in range(1, L + 1))
        t_loss.backward()
        loss, grads = net.loss(X, y)
        name = norm or "no normalization"
        checks.close(f"loss ({name})", loss, t_loss.item(), rtol=1e-7, atol=1e-10)
        for k in sorted(params):
            checks.close(f"d{k} ({name})", grads.get(k), t[k].grad.numpy(), rtol=1e-6, atol=1e-9)
        with torch.no_grad():
            t_scores = forward(False).numpy()
        checks.close(f"test-mode scores after a train step ({name})", net.loss(X), t_scores, rtol=1e-7, atol=1e-10)


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
