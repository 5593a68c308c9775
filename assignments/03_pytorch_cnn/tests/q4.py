from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_q4_train_step(train_step):
    import copy
    import torch
    import torch.nn.functional as F
    from torch import nn
    from cnnkit import checks
    rng = checks.rng()
    torch.manual_seed(int(rng.integers(2 ** 31)))
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5)).double()
    ref = copy.deepcopy(model)
    x = torch.tensor(rng.standard_normal((6, 3, 2, 2)))
    y = torch.tensor(rng.integers(0, 5, 6))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, n_correct, n = train_step(model, (x, y), opt, nn.CrossEntropyLoss())
    scores = ref(x)
    checks.close('loss', float(loss), F.cross_entropy(scores, y).item(), rtol=1e-09)
    checks.equal('n_correct', int(n_correct), int((scores.argmax(1) == y).sum()))
    checks.equal('n', int(n), 6)
    changed = any((not torch.equal(a, b) for a, b in zip(model.parameters(), ref.parameters())))
    checks.true('parameters were updated', changed, 'the optimizer did not change the parameters')

@test_case(points=1, hidden=False)
def test_q4_predict_and_checkpoint(predict, save_model, load_model, build_cnn):
    import os
    import tempfile
    import torch
    from cnnkit import checks
    torch.manual_seed(0)
    cfg = {'channels': [4], 'fc': [], 'image_size': 8}
    model = build_cnn(**cfg)
    x = torch.rand(5, 3, 8, 8)
    labels = predict(model, x)
    checks.equal('predict shape', tuple(labels.shape), (5,))
    checks.equal('model is in eval mode after predict', model.training, False)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'ckpt.pt')
        save_model(path, model, cfg)
        blob = torch.load(path, weights_only=True)
        checks.true('checkpoint holds a config dict', isinstance(blob.get('config'), dict), 'no config dict in the checkpoint')
        again = load_model(path)
    checks.true('reloaded model predicts the same', torch.equal(predict(again, x), labels), 'the reloaded model predicts differently')

