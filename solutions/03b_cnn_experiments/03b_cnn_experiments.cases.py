"""Hidden and artefact cases of 03b_cnn_experiments: graded, never shown to students.

Never imported: `cnnkit build` turns each `@case(question, points=P, hidden=True)` function into
an otter test cell at the end of its question's tests (see cnnkit.grading.master.read_cases).
"""


@case("q5", points=1, hidden=True)
def test_q5_dataset_hidden(ImageDataset):
    import numpy as np
    import torch

    from cnnkit import checks

    rng = checks.rng()
    n, c = int(rng.integers(3, 9)), int(rng.integers(1, 4))
    h, w = int(rng.integers(2, 6)), int(rng.integers(6, 9))  # never square: a (H, W, C) layout shows
    x = rng.standard_normal((n, c, h, w))  # float64, as a student's own array might be
    y = rng.integers(0, 10, n).astype(np.int32)
    calls = []

    def transform(image):
        calls.append((str(image.dtype), str(tuple(image.shape))))
        return image * 2.0

    ds = ImageDataset(x, y)
    checks.equal("len", len(ds), n)
    items = [ds[i] for i in range(n)]
    checks.equal("image types", [type(im).__name__ for im, _ in items], ["Tensor"] * n)
    checks.equal("image dtypes and shapes", [f"{im.dtype} {tuple(im.shape)}" for im, _ in items], [f"torch.float32 {(c, h, w)}"] * n)
    labels = [torch.as_tensor(lab) for _, lab in items]
    checks.equal("label dtypes and shapes", [f"{lab.dtype} {tuple(lab.shape)}" for lab in labels], ["torch.int64 ()"] * n)
    checks.close("images", torch.stack([im for im, _ in items]), x, rtol=1e-6, atol=1e-6)
    checks.equal("labels", [int(lab) for lab in labels], y.tolist())
    with_t = ImageDataset(x, y, transform=transform)
    k = int(rng.integers(0, n))
    checks.close("transformed item", with_t[k][0], 2.0 * x[k], rtol=1e-6, atol=1e-6)
    checks.equal("transform called once per item with a float32 (C, H, W) tensor", calls, [("torch.float32", str((c, h, w)))])
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=n)))
    checks.equal("collated batch", [f"{xb.dtype} {tuple(xb.shape)}", f"{yb.dtype} {tuple(yb.shape)}"], [f"torch.float32 {(n, c, h, w)}", f"torch.int64 {(n,)}"])


@case("q5", points=1, hidden=True)
def test_q5_channel_stats_hidden(channel_stats, normalize):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    c = int(rng.integers(1, 5))
    scale = rng.uniform(0.1, 3.0, c).reshape(1, c, 1, 1)
    shift = rng.uniform(-2.0, 2.0, c).reshape(1, c, 1, 1)
    x = (rng.standard_normal((int(rng.integers(5, 30)), c, 5, 3)) * scale + shift).astype("float32")
    mean, std = channel_stats(x)
    checks.equal("dtype and device", [str(mean.dtype), str(std.dtype), mean.device.type], ["torch.float32", "torch.float32", "cpu"])

    def reference(which):
        t = torch.tensor(x, dtype=torch.float64)
        return t.mean(dim=(0, 2, 3)).float() if which == "mean" else t.std(dim=(0, 2, 3), unbiased=False).float()

    checks.close("mean per channel", mean, lambda: reference("mean"), rtol=1e-5, atol=1e-6)
    checks.close("population std per channel", std, lambda: reference("std"), rtol=1e-5, atol=1e-6)
    m = torch.tensor(rng.uniform(-1, 1, c), dtype=torch.float32)
    s = torch.tensor(rng.uniform(0.5, 2, c), dtype=torch.float32)
    batch = torch.tensor(x[:4])
    checks.close("normalize a batch", normalize(batch, m, s), lambda: (batch - m.view(1, -1, 1, 1)) / s.view(1, -1, 1, 1), rtol=1e-5, atol=1e-6)
    checks.close("normalize one image", normalize(batch[0], m, s), lambda: (batch[0] - m.view(-1, 1, 1)) / s.view(-1, 1, 1), rtol=1e-5, atol=1e-6)


@case("q5", points=2, hidden=True)
def test_q5_random_crop_hidden(random_crop):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    c, h, w, p = int(rng.integers(1, 4)), int(rng.integers(3, 7)), int(rng.integers(3, 7)), int(rng.integers(1, 3))
    image = torch.tensor(rng.uniform(0.5, 1.5, (c, h, w)), dtype=torch.float32)  # no zeros: a zero is padding

    def windows():
        import torch.nn.functional as F

        padded = F.pad(image, (p, p, p, p))
        return {tuple(padded[:, t : t + h, s : s + w].flatten().tolist()) for t in range(2 * p + 1) for s in range(2 * p + 1)}

    before = image.clone()
    g = torch.Generator().manual_seed(int(rng.integers(2**31)))
    batch = random_crop(image.expand(400, c, h, w).clone(), p, g)
    checks.equal("batch shape", tuple(batch.shape), (400, c, h, w))
    got = [tuple(o.flatten().tolist()) for o in batch]
    possible = windows()
    checks.equal("crops that are not a window of the zero-padded image", sum(o not in possible for o in got), 0)
    checks.equal("distinct crops of 400 (every shift of the zero-padded image)", len(set(got)), (2 * p + 1) ** 2)
    one = random_crop(image, p, g)
    checks.equal("one image keeps its shape", tuple(one.shape), (c, h, w))
    checks.true("one image cropped to a window", tuple(one.flatten().tolist()) in possible, "the crop of one image is not a window of the zero-padded image")
    checks.close("input unchanged", image, before, atol=0.0)
    seed = int(rng.integers(2**31))
    a = random_crop(image.expand(8, c, h, w).clone(), p, torch.Generator().manual_seed(seed))
    b = random_crop(image.expand(8, c, h, w).clone(), p, torch.Generator().manual_seed(seed))
    checks.true("reproducible with a seeded generator", float((a - b).abs().max()) == 0, "the same seed gave different crops")


@case("q5", points=1, hidden=True)
def test_q5_random_flip_hidden(random_flip):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    n, c, h, w = 400, int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 6))
    x = torch.tensor(rng.standard_normal((n, c, h, w)), dtype=torch.float32)
    before = x.clone()
    out = random_flip(x, torch.Generator().manual_seed(int(rng.integers(2**31))))
    checks.equal("shape", tuple(out.shape), (n, c, h, w))
    same = [float((o - xi).abs().max()) == 0 for o, xi in zip(out, x)]
    mirrored = [float((o - xi.flip(-1)).abs().max()) == 0 for o, xi in zip(out, x)]
    checks.equal("images neither unchanged nor mirrored", sum(not (a or b) for a, b in zip(same, mirrored)), 0)
    share = sum(mirrored) / n
    checks.true("about half of the images mirrored", 0.4 <= share <= 0.6, f"{share:.0%} of the images were mirrored, not about half")
    checks.close("input unchanged", x, before, atol=0.0)
    one = random_flip(x[0], None)
    checks.true("one image: itself or its mirror", tuple(one.shape) == (c, h, w) and min(float((one - x[0]).abs().max()), float((one - x[0].flip(-1)).abs().max())) == 0, "one image is neither itself nor its mirror")


@case("q5", points=2, hidden=True)
def test_q5_make_loaders_hidden(make_loaders):
    import torch

    from cnnkit import checks

    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2**31)))
    c, size, p, bs = int(rng.integers(1, 4)), int(rng.integers(5, 8)), int(rng.integers(1, 3)), int(rng.integers(4, 9))
    n = {"train": int(rng.integers(30, 50)), "val": int(rng.integers(9, 20)), "test": int(rng.integers(9, 20))}
    # The splits differ in distribution: statistics of val or test (or of all) are not the training ones.
    offset = {"train": 0.0, "val": 1.0, "test": -1.5}
    splits = {
        k: (
            (rng.uniform(0.2, 1.0, (m, c, size, size)) + offset[k]).astype("float32"),
            rng.permutation(m).astype("int64"),  # labels name the images: each label once
        )
        for k, m in n.items()
    }
    xt = torch.tensor(splits["train"][0], dtype=torch.float64)
    mean, std = xt.mean(dim=(0, 2, 3)).view(-1, 1, 1), xt.std(dim=(0, 2, 3), unbiased=False).view(-1, 1, 1)

    def standardised(k):  # the split in label order, normalised with the training statistics
        x, y = splits[k]
        return (torch.tensor(x[y.argsort()], dtype=torch.float64) - mean) / std

    def drain(loader):
        xs, ys = zip(*[(xb.detach().double(), yb) for xb, yb in loader])
        return torch.cat(xs), torch.cat(ys)

    loaders = make_loaders(splits, batch_size=bs, augment=True, padding=p, device="cpu", seed=int(rng.integers(1000)))
    checks.equal("DataLoaders", [type(loaders[k]).__name__ for k in ("train", "val", "test")], ["DataLoader"] * 3)
    checks.equal("batch size, workers and pin_memory on the CPU", [[loaders[k].batch_size, loaders[k].num_workers, int(loaders[k].pin_memory)] for k in ("train", "val", "test")], [[bs, 0, 0]] * 3)
    for k in ("val", "test"):
        x1, y1 = drain(loaders[k])
        x2, _ = drain(loaders[k])
        checks.equal(f"{k} labels in their order (no shuffling)", y1.tolist(), splits[k][1].tolist())
        checks.true(f"{k}: two passes give the same images (no augmentation)", float((x1 - x2).abs().max()) == 0, f"the {k} images change from one pass to the next: augmentation on {k}?")
        order = y1.argsort()
        checks.close(f"{k} images, normalised with the training statistics, unaugmented", x1[order], lambda k=k: standardised(k), rtol=1e-4, atol=1e-4)
    xa, ya = drain(loaders["train"])
    _, yb2 = drain(loaders["train"])
    checks.equal("train labels: each image once per epoch", sorted(ya.tolist()), list(range(n["train"])))
    checks.true("train shuffled (a new order every epoch)", ya.tolist() != list(range(n["train"])) and ya.tolist() != yb2.tolist(), "the training batches come in a fixed order")
    # Undo the normalisation, then every training image must be a shifted window of its own
    # zero-padded image, mirrored or not.
    raw = (xa[ya.argsort()] * std + mean).float()
    images = torch.tensor(splits["train"][0][splits["train"][1].argsort()])
    padded = torch.nn.functional.pad(images, (p, p, p, p))
    errors, moved = [], 0
    for i in range(n["train"]):
        cands = [padded[i, :, t : t + size, s : s + size] for t in range(2 * p + 1) for s in range(2 * p + 1)]
        cands += [v.flip(-1) for v in cands]
        errors.append(min(float((raw[i] - v).abs().max()) for v in cands))
        moved += float((raw[i] - images[i]).abs().max()) > 1e-4
    checks.true("training images are crops of the zero-padded image, flipped or not", max(errors) < 1e-4, f"a training image is {max(errors):.2g} away from every crop and flip of its zero-padded image")
    checks.true("training images augmented", moved >= n["train"] // 2, f"only {moved} of {n['train']} training images were augmented")
    plain = make_loaders(splits, batch_size=bs, augment=False, standardize=False, device="cpu")
    xp, yp = drain(plain["train"])
    checks.close("without augment and standardize: the training images as they are", xp[yp.argsort()].float(), lambda: images, rtol=0.0, atol=1e-6)
    gpu = make_loaders(splits, batch_size=bs, augment=False, device=torch.device("cuda"), num_workers=0)
    checks.equal("pin_memory for a CUDA device", [bool(gpu[k].pin_memory) for k in ("train", "val", "test")], [True] * 3)


@case("q6", points=1)
def test_q6_exported_model_file():
    import numpy as np
    import torch

    from cnnkit import checks, data, heldout

    # What the grader does first: load the program within the limits, run it on a few raw images.
    program = heldout.load_program("cnn_model.pt2")
    X, _, _ = data.shapes.generate(3, seed=int(checks.rng().integers(2**31)))
    with torch.no_grad():
        scores = program(torch.tensor(X))
    checks.equal("scores of 3 images", tuple(scores.shape), (3, 10))
    checks.true("finite scores", bool(np.isfinite(scores.numpy()).all()), "the program's scores have NaN or inf")


@case("q6", points=2, hidden=True)
def test_q6_heldout_accuracy_at_least_50():
    from cnnkit import checks, heldout

    acc = heldout.program_accuracy("cnn_model.pt2", n=2000, seed=int(checks.shared_rng("q6 held-out images").integers(2**31)))
    checks.at_least("held-out accuracy", acc, 0.5)


@case("q6", points=2, hidden=True)
def test_q6_heldout_accuracy_at_least_70():
    from cnnkit import checks, heldout

    acc = heldout.program_accuracy("cnn_model.pt2", n=2000, seed=int(checks.shared_rng("q6 held-out images").integers(2**31)))
    checks.at_least("held-out accuracy", acc, 0.7)


@case("q6", points=2, hidden=True)
def test_q6_heldout_accuracy_at_least_85():
    from cnnkit import checks, heldout

    acc = heldout.program_accuracy("cnn_model.pt2", n=2000, seed=int(checks.shared_rng("q6 held-out images").integers(2**31)))
    checks.at_least("held-out accuracy", acc, 0.85)


@case("q6", points=2, hidden=True)
def test_q6_heldout_accuracy_at_least_90():
    from cnnkit import checks, heldout

    acc = heldout.program_accuracy("cnn_model.pt2", n=2000, seed=int(checks.shared_rng("q6 held-out images").integers(2**31)))
    checks.at_least("held-out accuracy", acc, 0.9)
