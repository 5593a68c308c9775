from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_q3_affine_lecture_matmul(affine_forward, affine_backward):
    import numpy as np
    import torch
    from cnnkit import checks
    x = np.array([[2, 1, -3], [-3, 4, 2]], dtype=np.float64)
    w = np.array([[3, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]], dtype=np.float64)
    dy = np.array([[2, 3, -3, 9], [-8, 1, 4, 6]], dtype=np.float64)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ty = tx @ tw
    ty.backward(torch.tensor(dy))
    out, cache = affine_forward(x, w, np.zeros(4))
    dx, dw, db = affine_backward(dy, cache)
    checks.close('Y = X @ W', out, ty.detach().numpy(), rtol=1e-07, atol=1e-10)
    checks.close('dX', dx, tx.grad.numpy(), rtol=1e-07, atol=1e-10)
    checks.close('dW', dw, tw.grad.numpy(), rtol=1e-07, atol=1e-10)

@test_case(points=1, hidden=False)
def test_q3_affine_numeric_gradients(affine_forward, affine_backward):
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array

    def grad_error(a, b):
        a, b = (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        if a.shape != b.shape:
            return float('inf')
        return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))
    rng = checks.rng()
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    checks.equal('out shape', np.shape(out), (4, 5))
    checks.equal('dx shape', np.shape(dx), x.shape)
    checks.equal('dw shape', np.shape(dw), w.shape)
    checks.equal('db shape', np.shape(db), b.shape)
    numeric = {'dx': eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout), 'dw': eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout), 'db': eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout)}
    for name, got in [('dx', dx), ('dw', dw), ('db', db)]:
        err = grad_error(got, numeric[name])
        checks.true(f'{name} matches numeric', err < 1e-07, f'{name}: relative error {err:.1e} vs the numeric gradient')

@test_case(points=1, hidden=False)
def test_q3_relu_sigmoid_numeric_gradients(relu_forward, relu_backward, sigmoid_forward, sigmoid_backward):
    import numpy as np
    import torch
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array

    def grad_error(a, b):
        a, b = (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        if a.shape != b.shape:
            return float('inf')
        return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))
    rng = checks.rng()
    x = rng.standard_normal((3, 5))
    x[np.abs(x) < 0.001] = 0.5
    dout = rng.standard_normal((3, 5))
    for name, fwd, bwd, tfn in [('relu', relu_forward, relu_backward, torch.relu), ('sigmoid', sigmoid_forward, sigmoid_backward, torch.sigmoid)]:
        out, cache = fwd(x)
        dx = bwd(dout, cache)
        checks.close(f'{name} out', out, tfn(torch.tensor(x)).numpy(), rtol=1e-07, atol=1e-10)
        checks.equal(f'{name} dx shape', np.shape(dx), x.shape)
        dx_num = eval_numerical_gradient_array(lambda v, fwd=fwd: fwd(v)[0], x, dout)
        err = grad_error(dx, dx_num)
        checks.true(f'{name} dx matches numeric', err < 1e-07, f'{name} dx: relative error {err:.1e} vs the numeric gradient')

@test_case(points=1, hidden=False)
def test_q3_losses_public(softmax_loss, svm_loss):
    import math
    import numpy as np
    import torch
    import torch.nn.functional as F
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient

    def grad_error(a, b):
        a, b = (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        if a.shape != b.shape:
            return float('inf')
        return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))
    rng = checks.rng()
    scores = rng.standard_normal((5, 4))
    y = rng.integers(4, size=5)
    loss0, _ = softmax_loss(np.zeros((7, 10)), np.arange(7) % 10)
    checks.close('softmax loss of all-zero scores (10 classes)', loss0, math.log(10), rtol=1e-07, atol=1e-10)
    loss, dscores = softmax_loss(scores, y)
    checks.close('softmax loss', loss, F.cross_entropy(torch.tensor(scores), torch.tensor(y)).item(), rtol=1e-07, atol=1e-10)
    num = eval_numerical_gradient(lambda s: softmax_loss(s, y)[0], scores)
    err = grad_error(dscores, num)
    checks.true('softmax dscores matches numeric', err < 1e-07, f'softmax dscores: relative error {err:.1e} vs the numeric gradient')
    loss, dscores = svm_loss(scores, y)
    t_loss = F.multi_margin_loss(torch.tensor(scores), torch.tensor(y)) * scores.shape[1]
    checks.close('svm loss', loss, t_loss.item(), rtol=1e-07, atol=1e-10)
    num = eval_numerical_gradient(lambda s: svm_loss(s, y)[0], scores)
    err = grad_error(dscores, num)
    checks.true('svm dscores matches numeric', err < 1e-07, f'svm dscores: relative error {err:.1e} vs the numeric gradient')

@test_case(points=0.5, hidden=False)
def test_q3_jacobian_memory_lecture(jacobian_memory_bytes):
    from cnnkit import checks
    checks.equal('jacobian_memory_bytes(64, 4096, 4096)', jacobian_memory_bytes(64, 4096, 4096), 256 * 2 ** 30, msg='the lecture says 256 GiB (float32)')

