from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_q3_affine_lecture_matmul(affine_forward, affine_backward):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    x = np.array([[2, 1, -3], [-3, 4, 2]], dtype=np.float64)
    w = np.array([[3, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]], dtype=np.float64)
    dy = np.array([[2, 3, -3, 9], [-8, 1, 4, 6]], dtype=np.float64)
    lecture = {'Y = X @ W': [[-1, -1, 2, 6], [5, 2, 11, 7]], 'dX': [[0, 16, -9], [-24, 9, -30]], 'dW': [[28, 3, -18, 0], [-30, 7, 13, 33], [-22, -7, 17, -15]]}
    out, cache = affine_forward(x, w, np.zeros(4))
    dx, dw, db = affine_backward(dy, cache)
    for name, got in [('Y = X @ W', out), ('dX', dx), ('dW', dw)]:
        checks.close(name, got, np.array(lecture[name], dtype=np.float64), rtol=1e-07, atol=1e-10)

@test_case(points=1, hidden=False)
def test_q3_affine_numeric_gradients(affine_forward, affine_backward):
    from cnnkit import checks
    checks.numpy_only()
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array
    from cnnkit.oracles import grad_error
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
    from cnnkit import checks
    checks.numpy_only()
    import math
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient_array
    from cnnkit.oracles import grad_error
    hand = {'relu': (relu_forward, [[-2.0, -0.5, 0.5, 3.0]], [[0.0, 0.0, 0.5, 3.0]]), 'sigmoid': (sigmoid_forward, [[0.0, math.log(3), -math.log(3), 0.0]], [[0.5, 0.75, 0.25, 0.5]])}
    for name, (fwd, x_hand, out_hand) in hand.items():
        out, _ = fwd(np.array(x_hand))
        checks.close(f'{name} out', out, np.array(out_hand), rtol=1e-07, atol=1e-10)
    rng = checks.rng()
    x = rng.standard_normal((3, 5))
    x[np.abs(x) < 0.001] = 0.5
    dout = rng.standard_normal((3, 5))
    for name, fwd, bwd in [('relu', relu_forward, relu_backward), ('sigmoid', sigmoid_forward, sigmoid_backward)]:
        out, cache = fwd(x)
        dx = bwd(dout, cache)
        checks.equal(f'{name} dx shape', np.shape(dx), x.shape)
        dx_num = eval_numerical_gradient_array(lambda v, fwd=fwd: fwd(v)[0], x, dout)
        err = grad_error(dx, dx_num)
        checks.true(f'{name} dx matches numeric', err < 1e-07, f'{name} dx: relative error {err:.1e} vs the numeric gradient')

@test_case(points=1, hidden=False)
def test_q3_losses_public(softmax_loss, svm_loss):
    from cnnkit import checks
    checks.numpy_only()
    import math
    import numpy as np
    from cnnkit import checks
    from cnnkit.numeric.gradcheck import eval_numerical_gradient
    from cnnkit.oracles import grad_error
    loss0, _ = softmax_loss(np.zeros((7, 10)), np.arange(7) % 10)
    checks.close('softmax loss of all-zero scores (10 classes)', loss0, math.log(10), rtol=1e-07, atol=1e-10)
    loss, _ = softmax_loss(np.log([[1.0, 2.0, 5.0], [4.0, 4.0, 2.0]]), np.array([2, 0]))
    checks.close('softmax loss of scores log([[1, 2, 5], [4, 4, 2]]), y = [2, 0]', loss, 0.6931471805599454, rtol=1e-07, atol=1e-10)
    lecture = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    loss, _ = svm_loss(lecture, np.array([0, 1, 2]))
    checks.close("svm loss of the lecture's example", loss, 5.266666666666667, rtol=1e-07, atol=1e-10)
    rng = checks.rng()
    scores = rng.standard_normal((5, 4))
    y = rng.integers(4, size=5)
    for name, fn in [('softmax', softmax_loss), ('svm', svm_loss)]:
        _, dscores = fn(scores, y)
        num = eval_numerical_gradient(lambda s, fn=fn: fn(s, y)[0], scores)
        err = grad_error(dscores, num)
        checks.true(f'{name} dscores matches numeric', err < 1e-07, f'{name} dscores: relative error {err:.1e} vs the numeric gradient')

@test_case(points=0.5, hidden=False)
def test_q3_jacobian_memory_lecture(jacobian_memory_bytes):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks
    checks.equal('jacobian_memory_bytes(64, 4096, 4096)', jacobian_memory_bytes(64, 4096, 4096), 256 * 2 ** 30, msg='the lecture says 256 GiB (float32)')

