from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_q5_dataset_and_stats(ImageDataset, channel_stats, normalize):
    import numpy as np
    import torch
    from cnnkit import checks
    x = np.zeros((6, 2, 2, 2))
    x[:, 0] = 2.0
    x[:, 1, :, 0] = 4.0
    mean, std = channel_stats(x)
    checks.equal('stats shapes and dtypes', [str(tuple(mean.shape)), str(tuple(std.shape)), str(mean.dtype), str(std.dtype)], ['(2,)', '(2,)', 'torch.float32', 'torch.float32'])
    checks.close('mean', mean, [2.0, 2.0], rtol=1e-06)
    checks.close('population std', std, [0.0, 2.0], rtol=1e-06, atol=1e-06)
    rng = checks.rng()
    z = rng.standard_normal((5, 3, 4, 2)) * [[[[3.0]], [[0.5]], [[1.0]]]] + [[[[1.0]], [[-2.0]], [[0.0]]]]
    m, s = channel_stats(z)
    out = normalize(torch.tensor(z, dtype=torch.float32), m, s)
    checks.close('channel means after normalize', out.double().mean(dim=(0, 2, 3)), [0.0, 0.0, 0.0], atol=1e-05)
    checks.close('channel stds after normalize', out.double().std(dim=(0, 2, 3), unbiased=False), [1.0, 1.0, 1.0], rtol=0.0001)
    checks.equal('one image keeps its shape', tuple(normalize(out[0], m, s).shape), (3, 4, 2))
    labels = np.array([3, 1, 4, 1, 5], dtype=np.int32)
    ds = ImageDataset(z, labels)
    image, label = ds[2]
    checks.equal('len', len(ds), 5)
    checks.equal('image type, dtype and shape', [type(image).__name__, str(getattr(image, 'dtype', None)), str(tuple(image.shape))], ['Tensor', 'torch.float32', '(3, 4, 2)'])
    checks.equal('label dtype and shape', [str(torch.as_tensor(label).dtype), str(tuple(torch.as_tensor(label).shape))], ['torch.int64', '()'])
    checks.close('image values', image, z[2], rtol=1e-06, atol=1e-06)
    checks.equal('label value', int(label), 4)
    shifted = ImageDataset(z, labels, transform=lambda t: t + 10.0)
    checks.close('transform applied to the item', shifted[2][0], z[2] + 10.0, rtol=1e-06, atol=1e-05)

@test_case(points=1, hidden=False)
def test_q5_augmentation_like_torchvision(random_crop, random_flip):
    import torch
    from torchvision.transforms import v2
    from cnnkit import checks
    image = torch.arange(1.0, 1.0 + 2 * 3 * 4).view(2, 3, 4)
    torch.manual_seed(0)
    crop_tv = v2.RandomCrop((3, 4), padding=1)
    possible = {tuple(crop_tv(image).flatten().tolist()) for _ in range(400)}
    flip_tv = v2.RandomHorizontalFlip()
    mirrors = {tuple(flip_tv(image).flatten().tolist()) for _ in range(100)}
    g = torch.Generator().manual_seed(0)
    singles = [random_crop(image, 1, g) for _ in range(200)]
    checks.equal('crop keeps the shape of one image', tuple(singles[0].shape), (2, 3, 4))
    seen = {tuple(o.flatten().tolist()) for o in singles}
    checks.equal("crops torchvision's RandomCrop(padding=1) cannot produce", len(seen - possible), 0)
    checks.equal("of torchvision's 9 possible crops, never produced", len(possible - seen), 0)
    batch = random_crop(image.expand(64, 2, 3, 4).clone(), 1, g)
    checks.equal('crop keeps the shape of a batch', tuple(batch.shape), (64, 2, 3, 4))
    rows = {tuple(o.flatten().tolist()) for o in batch}
    checks.equal('batch crops torchvision cannot produce', len(rows - possible), 0)
    checks.true('each image of a batch cropped at its own offset', len(rows) > 1, 'every image of the batch got the same crop')
    again = [random_crop(image, 1, torch.Generator().manual_seed(7)) for _ in range(2)]
    checks.true('the same seed gives the same crop', float((again[0] - again[1]).abs().max()) == 0, 'two generators with the same seed gave different crops: draw every random number from `generator`')
    flipped = random_flip(image.expand(400, 2, 3, 4).clone(), torch.Generator().manual_seed(1))
    checks.equal('flip keeps the shape', tuple(flipped.shape), (400, 2, 3, 4))
    outs = [tuple(o.flatten().tolist()) for o in flipped]
    checks.equal('flips that are neither the image nor its mirror', sum((o not in mirrors for o in outs)), 0)
    share = sum((o != tuple(image.flatten().tolist()) for o in outs)) / len(outs)
    checks.true('roughly half of the images flipped', 0.4 <= share <= 0.6, f'{share:.0%} of the images were flipped, not about half')
    checks.equal('flip of one image keeps its shape', tuple(random_flip(image, g).shape), (2, 3, 4))

@test_case(points=1, hidden=False)
def test_q5_loaders_properties(make_loaders):
    import numpy as np
    import torch
    from cnnkit import checks
    rng = checks.rng()
    signs = np.stack([rng.permutation(np.repeat([-1.0, 1.0], 54)).reshape(12, 3, 3) for _ in range(2)], axis=1)
    spread = np.array([0.25, 0.125]).reshape(1, 2, 1, 1)
    x = (np.array([0.5, 0.375]).reshape(1, 2, 1, 1) + spread * signs).astype('float32')
    y = np.arange(12)
    splits = {'train': (x, y), 'val': (x + 1, y), 'test': (x + 1, y)}

    def drain(loader):
        batches = list(loader)
        return (torch.cat([b[0] for b in batches]).double(), torch.cat([b[1] for b in batches]))
    loaders = make_loaders(splits, batch_size=5, augment=False, device='cpu')
    xb, yb = next(iter(loaders['val']))
    checks.equal('val batch dtypes and shapes', [str(xb.dtype), str(tuple(xb.shape)), str(yb.dtype), str(tuple(yb.shape))], ['torch.float32', '(5, 2, 3, 3)', 'torch.int64', '(5,)'])
    checks.equal('batch size, workers and pin_memory on the CPU', [[loaders[k].batch_size, loaders[k].num_workers, bool(loaders[k].pin_memory)] for k in ('train', 'val', 'test')], [[5, 0, False]] * 3)
    xt, yt = drain(loaders['train'])
    checks.equal('train: each image once per epoch', sorted(yt.tolist()), list(range(12)))
    orders = [yt.tolist()] + [drain(loaders['train'])[1].tolist() for _ in range(3)]
    checks.true('train shuffled', len({tuple(o) for o in orders}) > 1, 'four epochs came in the same order: shuffle the training split')
    checks.close('train channel means', xt.mean(dim=(0, 2, 3)), [0.0, 0.0], atol=1e-05)
    checks.close('train channel stds', xt.std(dim=(0, 2, 3), unbiased=False), [1.0, 1.0], rtol=0.0001)
    for k in ('val', 'test'):
        xv, yv = drain(loaders[k])
        checks.equal(f'{k} keeps its order', yv.tolist(), list(range(12)))
        checks.close(f'{k} channel means (training statistics: 1 / training std)', xv.mean(dim=(0, 2, 3)), [4.0, 8.0], rtol=0.0001)
        checks.close(f'{k} channel stds', xv.std(dim=(0, 2, 3), unbiased=False), [1.0, 1.0], rtol=0.0001)
    aug = make_loaders(splits, batch_size=5, augment=True, padding=1, device='cpu')
    views = [drain(aug['train']) for _ in range(2)]
    a, b = (v[0][v[1].argsort()] for v in views)
    checks.true('augment: training images change from one epoch to the next', float((a - b).abs().max()) > 0.001, 'two epochs gave identical training images: augment each training image as it is loaded')
    va, vb = (drain(aug['val'])[0], drain(aug['val'])[0])
    checks.true('augment: validation images stay as they are', float((va - vb).abs().max()) == 0, 'the validation images change from one pass to the next: augment the training split only')

