"""Hidden and artefact cases of 01_backprop: graded, never shown to students.

Never imported: `cnnkit build` turns each `@case(question, points=P, hidden=True)` function into
an otter test cell at the end of its question's tests (see cnnkit.grading.master.read_cases).

The torch oracles are functions that only checking evaluates (`checks.close` takes a callable): a
student's kernel only records (the grader compares the records with the reference run's), so it never
imports torch, 2-4 s of every submission. An oracle reads copies of its inputs taken before the
student's code could change them in place.
"""


@case("q1", points=2, hidden=True)
def test_q1_sigmoid_circuit_hidden(sigmoid_circuit):
    from cnnkit import checks, oracles

    def circuit(w0, x0, w1, x1, w2):  # the oracle's expression: only checking evaluates it
        import torch

        return torch.sigmoid(w0 * x0 + w1 * x1 + w2)

    rng = checks.rng()
    names = ["w0", "x0", "w1", "x1", "w2"]
    for trial in range(4):
        vals = dict(zip(names, (rng.standard_normal(5) * 1.5).tolist()))
        oracles.circuit_against_torch(
            lambda v: sigmoid_circuit(**v), circuit, vals, out="L", suffix=f" {trial}",
        )


@case("q1", points=2, hidden=True)
def test_q1_max_copy_circuit_hidden(max_copy_circuit):
    from cnnkit import checks, oracles

    def circuit(x, y, z):  # the oracle's expression: only checking evaluates it
        import torch

        return torch.maximum(x, y) * z + x

    rng = checks.rng()
    for trial in range(6):
        vals = dict(zip("xyz", (rng.standard_normal(3) * 2).tolist()))
        oracles.circuit_against_torch(
            lambda v: max_copy_circuit(v["x"], v["y"], v["z"]), circuit, vals, out="f", suffix=f" {trial}",
        )


@case("q2", points=2, hidden=True)
def test_q2_value_expression_hidden(Value):
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

        def oracle(k):  # torch autograd in float64: [out, da, db, dc]; only checking evaluates it
            import torch

            t = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in nums]
            t_out = expr(*t, torch.relu, torch.sigmoid)
            t_out.backward()
            return [t_out.item(), *(ti.grad.item() for ti in t)][k]

        checks.close(f"out {trial}", out.data, lambda: oracle(0), rtol=1e-7, atol=1e-10)
        for k, (name, vi) in enumerate(zip("abc", v), start=1):
            checks.close(f"d{name} {trial}", vi.grad, lambda k=k: oracle(k), rtol=1e-7, atol=1e-10)


@case("q2", points=1.5, hidden=True)
def test_q2_value_relu_pow_hidden(Value):
    from cnnkit import checks

    def grad(f, x):  # d f(x) / dx by torch autograd in float64; only checking evaluates it
        import torch

        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        f(torch, t).backward()
        return t.grad.item()

    rng = checks.rng()
    neg = -float(rng.uniform(0.5, 3.0))
    pos = float(rng.uniform(0.5, 3.0))
    for name, x in [("negative", neg), ("positive", pos)]:
        v = Value(x)
        out = v.relu() * 3.0
        out.backward()
        checks.close(f"relu {name}", out.data, 3.0 * max(x, 0.0), rtol=1e-7, atol=1e-10)
        checks.close(
            f"relu grad {name}", v.grad, lambda x=x: grad(lambda torch, t: torch.relu(t) * 3.0, x),
            rtol=1e-7, atol=1e-10,
        )
    for p in (3, -1, 0.5, 2.5):
        v = Value(pos)
        out = v**p
        out.backward()
        checks.close(f"pow {p}", out.data, pos**p, rtol=1e-7, atol=1e-10)
        checks.close(f"pow {p} grad", v.grad, lambda p=p: grad(lambda torch, t: t**p, pos), rtol=1e-7, atol=1e-10)


@case("q2", points=1.5, hidden=True)
def test_q2_value_shared_subgraph_backward_twice_hidden(Value):
    from cnnkit import checks

    rng = checks.rng()
    nums = rng.standard_normal(2)

    def expr(a, b):
        s = a * b + a  # a feeds two gates
        u = s * s  # s feeds one gate twice
        return u + s * b + a

    def oracle(k):  # torch autograd in float64, one backward pass; only checking evaluates it
        import torch

        t = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in nums]
        expr(*t).backward()
        return t[k].grad.item()

    for calls in (1, 2, 3):
        v = [Value(x) for x in nums]
        out = expr(*v)
        for _ in range(calls):
            out.backward()
        for k, (name, vi) in enumerate(zip("ab", v)):
            checks.close(f"d{name} after {calls} calls", vi.grad, lambda k=k: oracle(k), rtol=1e-7, atol=1e-10)


@case("q3", points=2, hidden=True)
def test_q3_affine_hidden(affine_forward, affine_backward):
    from cnnkit import checks

    rng = checks.rng()
    n, shape, m = int(rng.integers(3, 7)), (2, 3, 2), int(rng.integers(2, 5))
    x = rng.standard_normal((n, *shape))
    w = rng.standard_normal((12, m))
    b = rng.standard_normal(m)
    dout = rng.standard_normal((n, m))
    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)

    def oracle(k):  # torch autograd in float64: [out, dx, dw, db]; only checking evaluates it
        import torch

        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tout = tx.reshape(n, -1) @ tw + tb
        tout.backward(torch.tensor(dout))
        return [tout.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()][k]

    for k, (name, got) in enumerate(zip(("out", "dx", "dw", "db"), (out, dx, dw, db))):
        checks.close(name, got, lambda k=k: oracle(k), rtol=1e-7, atol=1e-10)


@case("q3", points=1.5, hidden=True)
def test_q3_relu_hidden(relu_forward, relu_backward):
    import numpy as np

    from cnnkit import checks, oracles

    def relu(t):  # the oracle's layer: only checking evaluates it
        import torch

        return torch.relu(t)

    rng = checks.rng()
    x = rng.standard_normal((4, 3, 5))
    dout = rng.standard_normal((4, 3, 5))  # mixed signs: the routing must follow x, not dout
    oracles.against_torch(relu_forward, relu_backward, relu, (x,), dout, rtol=1e-7, atol=1e-10)
    xs = np.array([1.0, -2.0, 3.0, -1.0])
    ds = np.array([4.0, -1.0, 5.0, 9.0])
    xs0, ds0 = xs.copy(), ds.copy()

    def oracle():
        import torch

        tx = torch.tensor(xs0, requires_grad=True)
        torch.relu(tx).backward(torch.tensor(ds0))
        return tx.grad.numpy()

    checks.close("classic example", relu_backward(ds, relu_forward(xs)[1]), oracle, rtol=1e-7, atol=1e-10)


@case("q3", points=1.5, hidden=True)
def test_q3_sigmoid_hidden(sigmoid_forward, sigmoid_backward):
    from cnnkit import checks, oracles

    def sigmoid(t):  # the oracle's layer: only checking evaluates it
        import torch

        return torch.sigmoid(t)

    rng = checks.rng()
    x = rng.standard_normal((5, 6)) * 4
    dout = rng.standard_normal((5, 6))
    oracles.against_torch(sigmoid_forward, sigmoid_backward, sigmoid, (x,), dout, rtol=1e-7, atol=1e-10)
    # The contract: the cache is the forward output z, and the backward pass uses only z.
    z = rng.uniform(0.05, 0.95, size=7)
    d = rng.standard_normal(7)
    z0, d0 = z.copy(), d.copy()

    def oracle():
        import torch

        tx = torch.logit(torch.tensor(z0)).requires_grad_(True)
        torch.sigmoid(tx).backward(torch.tensor(d0))
        return tx.grad.numpy()

    checks.close("dx from a cached output", sigmoid_backward(d, z), oracle, rtol=1e-7, atol=1e-10)


@case("q3", points=2, hidden=True)
def test_q3_softmax_hidden(softmax_loss):
    from cnnkit import checks

    def oracle(scores, y, k):  # torch's cross-entropy in float64: [loss, dscores]; only checking evaluates it
        import torch
        import torch.nn.functional as F

        ts = torch.tensor(scores, requires_grad=True)
        t_loss = F.cross_entropy(ts, torch.tensor(y))
        t_loss.backward()
        return [t_loss.item(), ts.grad.numpy()][k]

    rng = checks.rng()
    for name, scale, shift in [("normal", 2.0, 0.0), ("large logits", 300.0, 1000.0)]:
        n, c = int(rng.integers(4, 9)), int(rng.integers(3, 8))
        scores = rng.standard_normal((n, c)) * scale + shift
        y = rng.integers(c, size=n)
        s0, y0 = scores.copy(), y.copy()
        loss, dscores = softmax_loss(scores, y)
        checks.close(f"loss ({name})", loss, lambda: oracle(s0, y0, 0), rtol=1e-7, atol=1e-10)
        checks.close(f"dscores ({name})", dscores, lambda: oracle(s0, y0, 1), rtol=1e-7, atol=1e-10)


@case("q3", points=1, hidden=True)
def test_q3_svm_hidden(svm_loss):
    from cnnkit import checks

    rng = checks.rng()
    n, c = int(rng.integers(5, 10)), int(rng.integers(3, 7))
    scores = rng.standard_normal((n, c))
    y = rng.integers(c, size=n)
    s0, y0 = scores.copy(), y.copy()

    def oracle(k):  # torch's multi-class hinge loss in float64: [loss, dscores]; only checking evaluates it
        import torch
        import torch.nn.functional as F

        ts = torch.tensor(s0, requires_grad=True)
        t_loss = F.multi_margin_loss(ts, torch.tensor(y0)) * c
        t_loss.backward()
        return [t_loss.item(), ts.grad.numpy()][k]

    loss, dscores = svm_loss(scores, y)
    checks.close("loss", loss, lambda: oracle(0), rtol=1e-7, atol=1e-10)
    checks.close("dscores", dscores, lambda: oracle(1), rtol=1e-7, atol=1e-10)


@case("q3", points=0.5, hidden=True)
def test_q3_jacobian_memory_hidden(jacobian_memory_bytes):
    from cnnkit import checks

    rng = checks.rng()
    n, d, m = (int(v) for v in rng.integers(2, 5000, size=3))
    checks.equal("float64", jacobian_memory_bytes(n, d, m, itemsize=8), (n * d) * (n * m) * 8)
    checks.equal("float32", jacobian_memory_bytes(n, d, m), (n * d) * (n * m) * 4)


@case("q4", points=2.5, hidden=True)
def test_q4_loss_grads_with_reg_hidden(TwoLayerNet):
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
    X0, y0 = X.copy(), y.copy()

    def oracle(k):  # torch autograd in float64: the loss, or a parameter's gradient; only checking evaluates it
        import torch
        import torch.nn.functional as F

        t = {name: torch.tensor(v, requires_grad=True) for name, v in params.items()}
        scores = torch.relu(torch.tensor(X0).reshape(n, -1) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
        t_loss = F.cross_entropy(scores, torch.tensor(y0)) + 0.5 * reg * ((t["W1"] ** 2).sum() + (t["W2"] ** 2).sum())
        t_loss.backward()
        return t_loss.item() if k == "loss" else t[k].grad.numpy()

    loss, grads = net.loss(X, y)
    checks.close("loss", loss, lambda: oracle("loss"), rtol=1e-7, atol=1e-10)
    for k in ["W1", "b1", "W2", "b2"]:
        checks.close(f"d{k}", grads[k], lambda k=k: oracle(k), rtol=1e-7, atol=1e-10)


@case("q4", points=1.5, hidden=True)
def test_q4_scores_hidden(TwoLayerNet):
    from cnnkit import checks

    rng = checks.rng()
    n, h, c = int(rng.integers(3, 8)), int(rng.integers(3, 9)), int(rng.integers(2, 6))
    net = TwoLayerNet(input_dim=10, hidden_dim=h, num_classes=c, weight_scale=1.0, reg=0.3)
    params = {"W1": rng.standard_normal((10, h)), "b1": rng.standard_normal(h),
              "W2": rng.standard_normal((h, c)), "b2": rng.standard_normal(c)}
    net.params = {k: v.copy() for k, v in params.items()}
    X = rng.standard_normal((n, 10))
    X0 = X.copy()

    def oracle():  # the scores in torch, float64; only checking evaluates it
        import torch

        t = {k: torch.tensor(v) for k, v in params.items()}
        return (torch.relu(torch.tensor(X0) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]).numpy()

    checks.close("scores", net.loss(X), oracle, rtol=1e-7, atol=1e-10)


@case("q5", points=1.5, hidden=True)
def test_q5_momentum_hidden(sgd_momentum):
    from cnnkit import checks

    rng = checks.rng()
    lr, mu = float(rng.uniform(0.01, 0.2)), float(rng.uniform(0.5, 0.95))
    w = rng.standard_normal((4, 3))
    w0, dws = w.copy(), []
    config = {"learning_rate": lr, "momentum": mu}
    for step in range(6):
        dw = rng.standard_normal((4, 3))
        w, config = sgd_momentum(w, dw, config)
        dws.append(dw.copy())

    def oracle():  # torch.optim.SGD on the same steps; only checking evaluates it
        import torch

        p = torch.tensor(w0, requires_grad=True)
        opt = torch.optim.SGD([p], lr=lr, momentum=mu)
        for g in dws:
            p.grad = torch.tensor(g)
            opt.step()
        return p.detach().numpy(), -lr * opt.state[p]["momentum_buffer"].numpy()

    checks.close("w after 6 steps", w, lambda: oracle()[0], rtol=1e-7, atol=1e-10)
    checks.close("velocity", config["velocity"], lambda: oracle()[1], rtol=1e-7, atol=1e-10)


@case("q5", points=1.5, hidden=True)
def test_q5_rmsprop_hidden(rmsprop):
    from cnnkit import checks

    rng = checks.rng()
    lr, rho = float(rng.uniform(1e-3, 1e-1)), float(rng.uniform(0.8, 0.99))
    w = rng.standard_normal(7)
    w0, dws = w.copy(), []
    config = {"learning_rate": lr, "decay_rate": rho}
    for step in range(5):
        dw = rng.standard_normal(7) * 3
        w, config = rmsprop(w, dw, config)
        dws.append(dw.copy())

    def oracle():  # torch.optim.RMSprop on the same steps; only checking evaluates it
        import torch

        p = torch.tensor(w0, requires_grad=True)
        opt = torch.optim.RMSprop([p], lr=lr, alpha=rho, eps=1e-8)
        for g in dws:
            p.grad = torch.tensor(g)
            opt.step()
        return p.detach().numpy(), opt.state[p]["square_avg"].numpy()

    checks.close("w after 5 steps", w, lambda: oracle()[0], rtol=1e-7, atol=1e-10)
    checks.close("cache", config["cache"], lambda: oracle()[1], rtol=1e-7, atol=1e-10)


@case("q5", points=2, hidden=True)
def test_q5_adam_hidden(adam):
    from cnnkit import checks

    rng = checks.rng()
    lr = float(rng.uniform(1e-3, 1e-1))
    b1, b2 = float(rng.uniform(0.8, 0.95)), float(rng.uniform(0.95, 0.999))
    w = rng.standard_normal((3, 5))
    w0, dws = w.copy(), []

    def oracle(steps):  # torch.optim.Adam on the first `steps` steps; only checking evaluates it
        import torch

        p = torch.tensor(w0, requires_grad=True)
        opt = torch.optim.Adam([p], lr=lr, betas=(b1, b2), eps=1e-8)
        for g in dws[:steps]:
            p.grad = torch.tensor(g)
            opt.step()
        return p.detach().numpy()

    config = {"learning_rate": lr, "beta1": b1, "beta2": b2}
    for step in range(5):
        dw = rng.standard_normal((3, 5))
        w, config = adam(w, dw, config)
        dws.append(dw.copy())
        checks.close(f"w after step {step + 1}", w, lambda n=step + 1: oracle(n), rtol=1e-7, atol=1e-10)
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
