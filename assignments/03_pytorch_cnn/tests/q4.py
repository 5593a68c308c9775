from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_q4_train_step(train_step):
    import math
    import torch
    from torch import nn
    from cnnkit import checks
    rng = checks.rng()
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    x = torch.tensor(rng.standard_normal((6, 3, 2, 2)))
    y = torch.tensor(rng.integers(0, 5, 6))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, n_correct, n = train_step(model, (x, y), opt, nn.CrossEntropyLoss())
    counts = [int((y == k).sum()) for k in range(5)]
    checks.close('loss', float(loss), math.log(5), rtol=1e-09)
    checks.equal('n_correct', int(n_correct), counts[0], msg='count the correct predictions of the scores the loss was computed from')
    checks.equal('n', int(n), 6)
    checks.close("bias after one SGD step (lr 0.1) on this batch's gradients", model[1].bias.detach(), [-0.1 * (1 / 5 - c / 6) for c in counts], rtol=1e-09, atol=1e-12)

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

