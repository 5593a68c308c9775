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
    checks.true('loss detached from the graph', not loss.requires_grad, 'the returned loss still holds its graph')
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
        path = os.path.join(d, 'model.pt2')
        save_model(path, model, x)
        again = load_model(path)
        with torch.no_grad():
            scores = again(x)
            one = again(x[:1])
    checks.equal('scores of the loaded program', tuple(scores.shape), (5, 10))
    checks.true('the loaded program predicts the same labels', torch.equal(scores.argmax(1), labels), 'the loaded program predicts differently from the model in eval mode')
    checks.equal('scores for a batch of one image', tuple(one.shape), (1, 10), msg='declare the batch dimension dynamic when you export')

@test_case(points=1, hidden=False)
def test_q4_train_small_run(train):
    import torch
    from torch import nn
    from cnnkit import checks
    torch.manual_seed(0)
    x = torch.randn(32, 1, 2, 2)
    y = (x.flatten(1).sum(1) > 0).long()
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)]
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    history = train(model, {'train': batches, 'val': batches}, epochs=2, lr=0.1, device='cpu')
    checks.equal('epochs recorded', [len(history.train_loss), len(history.val_acc), len(history.lr)], [2, 2, 2])
    checks.true('losses are Python floats', all((type(v) is float for v in history.train_loss + history.val_loss)), 'history holds tensors, not floats')
    checks.true('lr annealed after the last batch', history.lr[-1] < 0.001, 'the learning rate at the end is still high: is the scheduler stepped after every batch?')
    checks.true('a best epoch', history.best_epoch in (0, 1), 'history.best_epoch is not set')

