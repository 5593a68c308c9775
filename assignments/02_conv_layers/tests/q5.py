from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_convnet_initial_loss_and_shapes(ThreeLayerConvNet):
    import math
    import numpy as np
    from cnnkit import checks
    rng = checks.rng()
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(1, 12, 12), num_filters=4, filter_size=3, hidden_dim=10)
    X = rng.random((20, 1, 12, 12)).astype(np.float32)
    y = np.arange(20) % 10
    checks.equal('scores shape', np.shape(model.loss(X)), (20, 10))
    loss, grads = model.loss(X, y)
    checks.close('initial loss (small weights, 10 classes)', loss, math.log(10), rtol=0.0, atol=0.02)
    checks.equal('gradient keys', sorted(grads), ['W1', 'W2', 'W3', 'b1', 'b2', 'b3'])

@test_case(points=1, hidden=False)
def test_convnet_vs_torch_public(ThreeLayerConvNet):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from cnnkit import checks
    rng = checks.rng()
    np.random.seed(1)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=7, num_classes=5, weight_scale=0.3, reg=0.1, dtype=np.float64)
    for k in ('b1', 'b2', 'b3'):
        model.params[k] = rng.standard_normal(model.params[k].shape)
    X, y = (rng.standard_normal((6, 3, 8, 8)), rng.integers(0, 5, 6))
    t = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X), t['W1'], t['b1'], padding=1)), 2, 2)
    scores = F.relu(h.flatten(1) @ t['W2'] + t['b2']) @ t['W3'] + t['b3']
    ref = F.cross_entropy(scores, torch.tensor(y)) + 0.05 * sum(((t[k] ** 2).sum() for k in ('W1', 'W2', 'W3')))
    ref.backward()
    loss, grads = model.loss(X, y)
    checks.close('loss', loss, ref.item(), rtol=1e-09)
    for k in sorted(t):
        checks.close(f'grads[{k!r}]', grads[k], t[k].grad.numpy(), rtol=1e-08, atol=1e-10)

