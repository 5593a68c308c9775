from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_q3_features_do_not_depend_on_the_batch(extract_features):
    import torch
    from torchvision.models import mobilenet_v2
    from cnnkit import checks
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2 ** 31)))
    model = mobilenet_v2(weights=None).train()
    X = torch.from_numpy(rng.random((5, 3, 32, 32), dtype='float32'))
    one_by_one = extract_features(model, X, lambda x: x, batch_size=1)
    all_at_once = extract_features(model, X, lambda x: x, batch_size=5)
    checks.equal('features shape', tuple(all_at_once.shape), (5, 1280))
    checks.close('features with batch_size=1 vs batch_size=5 (eval mode: no batch statistics)', one_by_one, all_at_once.detach(), rtol=0.0001, atol=1e-05)
    checks.true('no gradient history', not all_at_once.requires_grad, 'features are computed under torch.no_grad(): they carry no autograd graph')
    checks.true('the model is back in train mode', model.training, 'put the model back in the mode it had')

@test_case(points=1, hidden=False)
def test_q3_cache_runs_the_network_once(cached_features):
    import tempfile
    import torch
    from torchvision.models import mobilenet_v2
    from torchvision.transforms import v2
    from cnnkit import checks
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2 ** 31)))
    model = mobilenet_v2(weights=None)
    calls = []
    model.features.register_forward_hook(lambda *a: calls.append(1))
    X = torch.from_numpy(rng.random((3, 3, 32, 32), dtype='float32'))
    prep = v2.Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    with tempfile.TemporaryDirectory() as tmp:
        first = cached_features(model, 'tiny', X, prep, tmp)
        ran = len(calls)
        second = cached_features(model, 'tiny', X, prep, tmp)
    checks.true('the first call runs the network', ran > 0, 'nothing ran the model on a cold cache')
    checks.equal('forward passes of the second, identical call', len(calls) - ran, 0)
    checks.close('cached features', second, first, rtol=0, atol=0)

@test_case(points=1, hidden=False)
def test_q3_probe_separates_clusters(train_linear):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    centers = rng.normal(size=(4, 10)) * 4
    y = rng.integers(4, size=80)
    feats = torch.from_numpy((centers[y] + rng.normal(size=(80, 10)) * 0.3).astype('float32'))
    linear = train_linear(feats, torch.from_numpy(y), 4, epochs=200, lr=0.01, weight_decay=0.0001)
    checks.equal('weight shape', tuple(linear.weight.shape), (4, 10))
    with torch.no_grad():
        acc = float((linear(feats).argmax(1).numpy() == y).mean())
    checks.at_least('training accuracy on 4 well separated clusters', acc, 1.0)

