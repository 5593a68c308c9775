"""Hidden and artefact cases of 02_conv_layers: graded, never shown to students.

Never imported: `cnnkit build` turns each `@case(question, points=P, hidden=True)` function into
an otter test cell at the end of its question's tests (see cnnkit.grading.master.read_cases).
"""


@case("q1", points=2, hidden=True)
def test_conv_output_size_fresh(conv_output_size):
    from cnnkit import checks

    rng = checks.rng()
    cases = [(3, 7, 1, 1), (10, 3, 2, 0), (9, 9, 1, 0)]
    cases += [tuple(int(v) for v in rng.integers([4, 1, 1, 0], [64, 9, 5, 4])) for _ in range(14)]
    for i, (N, F, S, P) in enumerate(cases):
        try:
            got = conv_output_size(N, F, S, P)
        except ValueError:
            got = "ValueError"
        span = N - F + 2 * P
        expected = span // S + 1 if span >= 0 and span % S == 0 else "ValueError"
        checks.equal(f"case {i}", got, expected, msg="wrong output size or ValueError missing")


@case("q1", points=1, hidden=True)
def test_conv_param_count_fresh(conv_param_count):
    from cnnkit import checks

    rng = checks.rng()
    for i in range(8):
        F, C, K = (int(v) for v in rng.integers(1, [8, 70, 130]))
        bias = bool(i % 2)
        checks.equal(
            f"case {i}", conv_param_count(F, C, K, bias=bias), F * F * C * K + (K if bias else 0),
            msg="wrong parameter count",
        )


@case("q1", points=3, hidden=True)
def test_trace_vgg16_and_fresh_specs(trace_shapes, vgg16_spec):
    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric import arch as ref

    def table(rows):
        return np.array([[*r["shape"], r["activations"], r["params"]] for r in rows], dtype=np.int64)

    for bias in (True, False):
        checks.equal(
            f"VGG-16 table (bias={bias})",
            table(trace_shapes(vgg16_spec(), (3, 224, 224), bias=bias)),
            lambda bias=bias: table(ref.trace_shapes(ref.vgg16_spec(), (3, 224, 224), bias=bias)),
            msg="VGG-16 trace is wrong",
        )
    rng = checks.rng()
    H, W = int(rng.integers(20, 40)), int(rng.integers(20, 40))
    spec = [
        {"kind": "conv", "name": "A", "filters": int(rng.integers(2, 9)), "size": 3, "stride": 1, "pad": 1},
        {"kind": "pool", "name": "B", "size": 2, "stride": 2},
        {"kind": "norm", "name": "C"},
        {"kind": "conv", "name": "D", "filters": int(rng.integers(2, 9)), "size": 1, "stride": 1, "pad": 0},
        {"kind": "fc", "name": "E", "units": int(rng.integers(5, 20))},
        {"kind": "fc", "name": "F", "units": 3},
    ]
    checks.equal(
        "fresh spec table",
        table(trace_shapes(spec, (2, H - H % 2, W - W % 2))),
        lambda: table(ref.trace_shapes(spec, (2, H - H % 2, W - W % 2))),
        msg="trace of a fresh spec is wrong",
    )


@case("q2", points=2, hidden=True)
def test_correlate_convolve_fresh(correlate2d, convolve2d):
    from cnnkit import checks

    rng = checks.rng()
    image, kernel = rng.standard_normal((11, 8)), rng.standard_normal((2, 5))

    def torch_corr(k):  # the oracle: only checking evaluates it
        import torch
        import torch.nn.functional as F

        return F.conv2d(torch.tensor(image)[None, None], torch.tensor(k.copy())[None, None])[0, 0].numpy()

    checks.close("correlate2d", correlate2d(image, kernel), lambda: torch_corr(kernel), rtol=1e-9, atol=1e-10)
    checks.close(
        "convolve2d", convolve2d(image, kernel), lambda: torch_corr(kernel[::-1, ::-1]), rtol=1e-9, atol=1e-10
    )


@case("q2", points=2, hidden=True)
def test_gaussian_and_matrix_fresh(gaussian_kernel, conv_as_matrix):
    import numpy as np

    from cnnkit import checks
    from cnnkit.numeric import conv_layers as ref

    rng = checks.rng()
    sigma = float(rng.uniform(0.5, 3.0))
    checks.close(
        "gaussian_kernel(7, sigma)", gaussian_kernel(7, sigma), lambda: ref.gaussian_kernel(7, sigma),
        rtol=1e-9, atol=1e-12,
    )
    kernel = rng.standard_normal((2, 3))
    checks.close(
        "conv_as_matrix(2x3 kernel, (5, 6))", np.asarray(conv_as_matrix(kernel, (5, 6))),
        lambda: ref.conv_as_matrix(kernel, (5, 6)), rtol=1e-12, atol=0.0,
    )


@case("q3", points=3, hidden=True)
def test_conv_naive_strides_pads_nonsquare(conv_forward_naive, conv_backward_naive):
    from cnnkit import checks, oracles

    # (x shape, w shape, stride, pad)
    cases = [((3, 2, 7, 9), (4, 2, 3, 2), 2, 1), ((2, 3, 6, 5), (2, 3, 1, 3), 1, 2), ((2, 2, 10, 7), (3, 2, 3, 3), 3, 0)]
    oracles.conv_against_torch(conv_forward_naive, conv_backward_naive, cases, checks.rng())


@case("q3", points=3, hidden=True)
def test_max_pool_naive_overlap_nonsquare(max_pool_forward_naive, max_pool_backward_naive):
    from cnnkit import checks, oracles

    def max_pool2d(x, size, stride):  # the oracle: only checking evaluates it
        import torch.nn.functional as F

        return F.max_pool2d(x, size, stride)

    rng = checks.rng()
    for i, (xs, ph, pw, stride) in enumerate(
        [((2, 3, 9, 7), 3, 3, 2), ((2, 2, 7, 10), 2, 3, 1), ((1, 3, 9, 8), 2, 2, 2), ((2, 2, 10, 9), 3, 2, 3)]
    ):
        x = rng.standard_normal(xs)
        oracles.against_torch(
            lambda x: max_pool_forward_naive(x, {"pool_height": ph, "pool_width": pw, "stride": stride}),
            max_pool_backward_naive, lambda x: max_pool2d(x, (ph, pw), stride), (x,), rng,
            prefix=f"case {i} ", rtol=1e-12, atol=1e-12, msg="wrong",
            out_shape=oracles.max_pool_out_shape(xs, ph, pw, stride),
        )


@case("q4", points=3, hidden=True)
def test_conv_fast_strides_pads_nonsquare(conv_forward_fast, conv_backward_fast):
    from cnnkit import checks, oracles

    # (x shape, w shape, stride, pad)
    cases = [((3, 2, 9, 7), (4, 2, 2, 3), 2, 1), ((2, 3, 5, 6), (2, 3, 3, 1), 1, 2), ((2, 4, 11, 8), (3, 4, 3, 5), 2, 2), ((2, 2, 10, 7), (3, 2, 3, 3), 3, 0)]
    oracles.conv_against_torch(conv_forward_fast, conv_backward_fast, cases, checks.rng())


@case("q4", points=3, hidden=True)
def test_max_pool_fast_overlap_nonsquare(max_pool_forward_fast, max_pool_backward_fast):
    import numpy as np

    from cnnkit import checks, oracles

    def max_pool2d(x, size, stride):  # the oracle: only checking evaluates it
        import torch.nn.functional as F

        return F.max_pool2d(x, size, stride)

    rng = checks.rng()
    cases = [((2, 3, 9, 7), 3, 3, 2), ((2, 2, 7, 10), 2, 3, 1), ((1, 3, 9, 8), 2, 2, 2), ((2, 2, 10, 9), 3, 2, 3)]
    for i, (xs, ph, pw, stride) in enumerate(cases):
        x = rng.standard_normal(xs)
        if i == 2:  # ties, as after a ReLU: one window gradient must go to one element only
            x = np.maximum(np.round(x), 0.0)
        oracles.against_torch(
            lambda x: max_pool_forward_fast(x, {"pool_height": ph, "pool_width": pw, "stride": stride}),
            max_pool_backward_fast, lambda x: max_pool2d(x, (ph, pw), stride), (x,), rng,
            prefix=f"case {i} ", rtol=1e-12, atol=1e-12, msg="wrong",
            out_shape=oracles.max_pool_out_shape(xs, ph, pw, stride),
        )


@case("q4", points=2, hidden=True)
def test_fast_layers_are_vectorized(conv_forward_fast, conv_backward_fast, max_pool_forward_fast, max_pool_backward_fast):
    import numpy as np

    from cnnkit import checks
    from cnnkit.timing import compare

    rng = checks.rng()
    x, w, b = rng.standard_normal((16, 3, 24, 24)), rng.standard_normal((8, 3, 3, 3)), rng.standard_normal(8)
    conv_param = {"stride": 1, "pad": 1}
    dout = rng.standard_normal((16, 8, 24, 24))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    pdout = rng.standard_normal((16, 3, 12, 12))
    # The yardstick is numpy's own: the three matrix products an im2col conv layer of these sizes does
    # (forward, dw, dx), timed beside the layers in the same kernel (one BLAS thread there:
    # OMP_NUM_THREADS=1). Measured with one thread, no profiler (2026-12-08, 2-core VM): the reference
    # fast layers take 1.8x (conv) and 0.3x (pool) of it, the naive loops 990x and 78x, F.conv2d and
    # F.max_pool2d 1.4x and 0.37x. The bounds (100x, 30x) are at least as generous as the earlier
    # 50x of torch: 70x and 19x without a profiler, and under the probe's numpy-only profiler torch's
    # own calls slowed (max pool to 0.61x: 30x) while the products do not.
    cols, filters, douts = np.full((16 * 24 * 24, 3 * 3 * 3), 0.5), np.full((3 * 3 * 3, 8), 0.5), np.full((16 * 24 * 24, 8), 0.5)
    r = compare(
        {
            "matrix products": lambda: (cols @ filters, cols.T @ douts, douts @ filters.T),
            "your conv": lambda: conv_backward_fast(dout, conv_forward_fast(x, w, b, conv_param)[1]),
            "your pool": lambda: max_pool_backward_fast(pdout, max_pool_forward_fast(x, pool_param)[1]),
        },
        "matrix products",
        repeat=3,
    )
    checks.true("conv fwd+bwd within 100x of its matrix products", r["your conv"]["ratio"] <= 100, "conv layers are not vectorized")
    checks.true("pool fwd+bwd within 30x of the conv's matrix products", r["your pool"]["ratio"] <= 30, "pool layers are not vectorized")


@case("q5", points=3, hidden=True)
def test_convnet_fresh_dims(ThreeLayerConvNet):
    import numpy as np

    from cnnkit import checks

    def reference(params, X, y, pad, reg):
        """The torch oracle: scores, loss and gradients (run only when the expected values are)."""
        import torch
        import torch.nn.functional as F

        t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X), t["W1"], t["b1"], padding=pad)), 2, 2)
        scores = F.relu(h.flatten(1) @ t["W2"] + t["b2"]) @ t["W3"] + t["b3"]
        ref = F.cross_entropy(scores, torch.tensor(y)) + 0.5 * reg * sum((t[k] ** 2).sum() for k in ("W1", "W2", "W3"))
        ref.backward()
        return {"scores": scores.detach().numpy(), "loss": ref.item(), **{k: t[k].grad.numpy() for k in t}}

    rng = checks.rng()
    for i, (dim, fs, reg) in enumerate([((2, 10, 6), 5, 0.3), ((1, 7, 9), 1, 0.0)]):
        model = ThreeLayerConvNet(
            input_dim=dim, num_filters=3, filter_size=fs, hidden_dim=6, num_classes=4, weight_scale=0.2,
            reg=reg, dtype=np.float64,
        )
        shapes = {k: np.shape(v) for k, v in model.params.items()}
        checks.equal(f"case {i} W2 shape", shapes.get("W2"), (3 * (dim[1] // 2) * (dim[2] // 2), 6), msg="wrong")
        params = {k: rng.standard_normal(shapes[k]) * 0.3 for k in sorted(shapes)}
        model.params.update({k: v.copy() for k, v in params.items()})
        X, y = rng.standard_normal((5, *dim)), rng.integers(0, 4, 5)
        expected = {}

        def get(key, inputs=(params, X.copy(), y.copy(), (fs - 1) // 2, reg)):
            # inputs copied before the student's loss sees X; the oracle runs once, when first needed
            if not expected:
                expected.update(reference(*inputs))
            return expected[key]

        checks.close(f"case {i} scores", model.loss(X), lambda: get("scores"), rtol=1e-9, atol=1e-10, msg="wrong")
        loss, grads = model.loss(X, y)
        checks.close(f"case {i} loss", loss, lambda: get("loss"), rtol=1e-9, msg="wrong")
        for k in sorted(params):
            checks.close(f"case {i} grads[{k!r}]", grads[k], lambda k=k: get(k), rtol=1e-8, atol=1e-10, msg="wrong")


@case("q6", points=1)
def test_saved_params_load():
    import numpy as np

    from cnnkit import checks

    with np.load("convnet_params.npz", allow_pickle=False) as f:
        p = {k: f[k] for k in f.files}
    checks.equal("saved keys", sorted(p), ["W1", "W2", "W3", "b1", "b2", "b3"])
    nf, c, k1, k2 = p["W1"].shape
    checks.equal("W1 is (F, 1, k, k) with odd k", (c, k1 % 2, k1 == k2), (1, 1, True))
    checks.equal("W2 rows", p["W2"].shape[0], nf * 14 * 14)
    checks.equal("W3 columns", p["W3"].shape[1], 10)


# Held-out accuracy bands, set from measured runs of the reference (2026-12-05, 2-core CPU VM, one
# thread; bench/bench_stage02_motivation.py, results in bench/results/stage02_motivation_*.json):
# - the reference training cell in CI mode (10,000 images, 2 epochs; what the bundled samples carry)
#   scores 81.6-85.8% on this grader's 2,000-image draws over seeds 0-2 (seed 0, the samples': 84.1-85.1%);
#   the same ConvNet in the notebook's comparison (lr 4e-3) is at 71.6-74.2% validation after its
#   first 100 minibatches and 78.5-80.8% after 200;
# - at full size (55,000 images, 3 epochs, what students run) it reaches 90.8% validation, 89.4%
#   test, 88.7-89.9% on the grader's draws (seed 0).
# So 70 / 76 / 80: a ConvNet that learns at all clears 70, one that trained most of a CI-size run 76,
# and the top band stays 1.6 points under the worst CI-mode reference so the reference sample keeps
# full points. It is not raised to notebook 01's MLP bands (84) nor above the MLP's CI-size test
# accuracy (81.9-82.5%): the CI-mode reference does not reliably exceed that (81.6% at worst). Students
# training at full size clear all three with a wide margin.
@case("q6", points=2, hidden=True)
def test_heldout_accuracy_at_least_70():
    from cnnkit import checks, heldout

    acc = heldout.convnet_accuracy("convnet_params.npz", checks.rng())
    checks.at_least("held-out accuracy", acc, 0.7)


@case("q6", points=2, hidden=True)
def test_heldout_accuracy_at_least_76():
    from cnnkit import checks, heldout

    acc = heldout.convnet_accuracy("convnet_params.npz", checks.rng())
    checks.at_least("held-out accuracy", acc, 0.76)


@case("q6", points=2, hidden=True)
def test_heldout_accuracy_at_least_80():
    from cnnkit import checks, heldout

    acc = heldout.convnet_accuracy("convnet_params.npz", checks.rng())
    checks.at_least("held-out accuracy", acc, 0.8)


@case("q7", points=2, hidden=True)
def test_spatial_batchnorm_train_fresh(spatial_batchnorm_forward):
    from cnnkit import checks

    rng = checks.rng()
    for i in range(2):
        N, C, H, W = (int(v) for v in rng.integers([2, 2, 1, 2], [6, 6, 5, 6]))
        scale, shift = rng.uniform(0.5, 4.0, C), 3 * rng.standard_normal(C)
        x = rng.standard_normal((N, C, H, W)) * scale[:, None, None] + shift[:, None, None]
        gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
        rm0, rv0 = rng.standard_normal(C), rng.random(C) + 0.5
        momentum, eps = float(rng.uniform(0.5, 0.95)), float(rng.choice([1e-5, 1e-3]))
        bn_param = {"mode": "train", "momentum": momentum, "eps": eps, "running_mean": rm0.copy(), "running_var": rv0.copy()}
        out, _ = spatial_batchnorm_forward(x.copy(), gamma, beta, bn_param)

        def oracle(k, x=x, gamma=gamma, beta=beta, rm0=rm0, rv0=rv0, momentum=momentum, eps=eps):
            import torch
            import torch.nn.functional as F

            rm, rv = torch.tensor(rm0), torch.tensor(rv0)
            y = F.batch_norm(
                torch.tensor(x), rm, rv, torch.tensor(gamma), torch.tensor(beta), training=True,
                momentum=1 - momentum, eps=eps,
            )
            return {"out": y.numpy(), "mean": rm.numpy(), "var": rv.numpy()}[k]

        checks.close(f"case {i} out (train mode)", out, lambda: oracle("out"), rtol=1e-8, atol=1e-10, msg="wrong train-mode output")
        checks.close(f"case {i} running_mean", bn_param.get("running_mean"), lambda: oracle("mean"), rtol=1e-9, atol=1e-12, msg="wrong running mean")
        checks.close(f"case {i} running_var", bn_param.get("running_var"), lambda: oracle("var"), rtol=1e-9, atol=1e-12, msg="wrong running variance")


@case("q7", points=1, hidden=True)
def test_spatial_batchnorm_test_mode_fresh(spatial_batchnorm_forward):
    from cnnkit import checks

    rng = checks.rng()
    N, C, H, W = (int(v) for v in rng.integers([1, 2, 2, 2], [5, 6, 6, 6]))
    x = 2 * rng.standard_normal((N, C, H, W)) + 1
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    rm0, rv0 = rng.standard_normal(C), rng.random(C) + 0.5
    bn_param = {"mode": "test", "momentum": 0.7, "eps": 1e-5, "running_mean": rm0.copy(), "running_var": rv0.copy()}
    out, _ = spatial_batchnorm_forward(x.copy(), gamma, beta, bn_param)

    def oracle():
        import torch
        import torch.nn.functional as F

        return F.batch_norm(
            torch.tensor(x), torch.tensor(rm0), torch.tensor(rv0), torch.tensor(gamma), torch.tensor(beta),
            training=False, eps=1e-5,
        ).numpy()

    checks.close("out (test mode)", out, oracle, rtol=1e-9, atol=1e-10, msg="wrong test-mode output")
    checks.close("running_mean after test mode", bn_param.get("running_mean"), rm0, rtol=0, msg="test mode changed the running mean")
    checks.close("running_var after test mode", bn_param.get("running_var"), rv0, rtol=0, msg="test mode changed the running variance")


@case("q7", points=2, hidden=True)
def test_spatial_batchnorm_backward_fresh(spatial_batchnorm_forward, spatial_batchnorm_backward):
    from cnnkit import checks

    rng = checks.rng()
    N, C, H, W = (int(v) for v in rng.integers([2, 2, 2, 2], [5, 6, 6, 6]))
    x = 3 * rng.standard_normal((N, C, H, W)) + rng.standard_normal(C)[:, None, None]
    gamma, beta, dout = rng.standard_normal(C), rng.standard_normal(C), rng.standard_normal((N, C, H, W))
    _, cache = spatial_batchnorm_forward(x.copy(), gamma, beta, {"mode": "train", "eps": 1e-5})
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout.copy(), cache)

    def oracle(k):
        import torch
        import torch.nn.functional as F

        t = {"x": torch.tensor(x, requires_grad=True), "gamma": torch.tensor(gamma, requires_grad=True)}
        t["beta"] = torch.tensor(beta, requires_grad=True)
        y = F.batch_norm(t["x"], None, None, t["gamma"], t["beta"], training=True, eps=1e-5)
        y.backward(torch.tensor(dout))
        return t[k].grad.numpy()

    checks.close("dx", dx, lambda: oracle("x"), rtol=1e-7, atol=1e-10, msg="wrong dx")
    checks.close("dgamma", dgamma, lambda: oracle("gamma"), rtol=1e-8, atol=1e-10, msg="wrong dgamma")
    checks.close("dbeta", dbeta, lambda: oracle("beta"), rtol=1e-8, atol=1e-10, msg="wrong dbeta")


@case("q7", points=3, hidden=True)
def test_convnet_bn_fresh(ThreeLayerConvNetBN):
    import numpy as np

    from cnnkit import checks

    def oracle(params, batches, X_test, pad, reg):
        """torch float64: each training batch's loss and gradients, then test-mode scores."""
        import torch
        import torch.nn.functional as F

        F1 = params["W1"].shape[0]
        rm, rv = torch.zeros(F1, dtype=torch.float64), torch.ones(F1, dtype=torch.float64)

        def scores(t, X, training):
            a = F.conv2d(torch.tensor(X), t["W1"], padding=pad)
            n = F.batch_norm(a, rm, rv, t["gamma1"], t["beta1"], training=training, momentum=0.1, eps=1e-5)
            h = F.max_pool2d(F.relu(n), 2, 2)
            return F.relu(h.flatten(1) @ t["W2"] + t["b2"]) @ t["W3"] + t["b3"]

        out = {}
        for j, (X, y) in enumerate(batches):
            t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
            loss = F.cross_entropy(scores(t, X, True), torch.tensor(y)) + 0.5 * reg * sum((t[k] ** 2).sum() for k in ("W1", "W2", "W3"))
            loss.backward()
            out[f"loss {j}"] = loss.item()
            out.update({f"grads {j} {k}": t[k].grad.numpy() for k in t})
        with torch.no_grad():
            out["test scores"] = scores({k: torch.tensor(v) for k, v in params.items()}, X_test, False).numpy()
        return out

    rng = checks.rng()
    dim, fs, reg = (2, int(rng.choice([6, 8])), int(rng.choice([6, 10]))), int(rng.choice([1, 3])), float(rng.choice([0.0, 0.2]))
    model = ThreeLayerConvNetBN(input_dim=dim, num_filters=3, filter_size=fs, hidden_dim=6, num_classes=4, weight_scale=0.2, reg=reg, dtype=np.float64)
    keys = ["W1", "W2", "W3", "b2", "b3", "beta1", "gamma1"]
    checks.equal("parameter names", sorted(model.params), keys, msg="wrong parameters")
    params = {k: rng.standard_normal(np.shape(model.params[k])) * 0.4 for k in keys}
    params["gamma1"] = 1 + 0.3 * rng.standard_normal(3)
    model.params.update({k: v.copy() for k, v in params.items()})
    batches = [(3 * rng.standard_normal((5, *dim)) + 1, rng.integers(0, 4, 5)) for _ in range(2)]
    X_test = rng.standard_normal((4, *dim))
    expected = {}

    def get(key, inputs=(params, [(X.copy(), y.copy()) for X, y in batches], X_test.copy(), (fs - 1) // 2, reg)):
        if not expected:
            expected.update(oracle(*inputs))
        return expected[key]

    for j, (X, y) in enumerate(batches):  # two training steps' worth of forward/backward, no update
        loss, grads = model.loss(X.copy(), y.copy())
        checks.close(f"batch {j} loss (train mode)", loss, lambda j=j: get(f"loss {j}"), rtol=1e-9, msg="wrong")
        for k in keys:
            checks.close(f"batch {j} grads[{k!r}]", grads.get(k), lambda j=j, k=k: get(f"grads {j} {k}"), rtol=1e-7, atol=1e-10, msg="wrong")
    checks.close("test-mode scores after the two batches (running averages)", model.loss(X_test.copy()), lambda: get("test scores"), rtol=1e-8, atol=1e-10, msg="wrong")


@case("q7", points=2, hidden=True)
def test_spatial_groupnorm_fresh(spatial_groupnorm_forward, spatial_groupnorm_backward):
    from cnnkit import checks

    rng = checks.rng()
    G = int(rng.integers(2, 4))
    N, C, H, W = int(rng.integers(1, 4)), G * int(rng.integers(1, 4)), int(rng.integers(2, 5)), int(rng.integers(2, 5))
    x = 2 * rng.standard_normal((N, C, H, W)) + rng.standard_normal(C)[:, None, None]
    gamma, beta, dout = rng.standard_normal(C), rng.standard_normal(C), rng.standard_normal((N, C, H, W))
    out, cache = spatial_groupnorm_forward(x.copy(), gamma, beta, G, {"eps": 1e-5})
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout.copy(), cache)

    def oracle(k):
        import torch
        import torch.nn.functional as F

        t = {"x": torch.tensor(x, requires_grad=True), "gamma": torch.tensor(gamma, requires_grad=True)}
        t["beta"] = torch.tensor(beta, requires_grad=True)
        y = F.group_norm(t["x"], G, t["gamma"], t["beta"], eps=1e-5)
        y.backward(torch.tensor(dout))
        return y.detach().numpy() if k == "out" else t[k].grad.numpy()

    checks.close("out", out, lambda: oracle("out"), rtol=1e-8, atol=1e-10, msg="wrong output")
    checks.close("dx", dx, lambda: oracle("x"), rtol=1e-7, atol=1e-10, msg="wrong dx")
    checks.close("dgamma", dgamma, lambda: oracle("gamma"), rtol=1e-8, atol=1e-10, msg="wrong dgamma")
    checks.close("dbeta", dbeta, lambda: oracle("beta"), rtol=1e-8, atol=1e-10, msg="wrong dbeta")
