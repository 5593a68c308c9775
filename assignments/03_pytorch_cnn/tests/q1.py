from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_q1_circuit_lecture_values(sigmoid_circuit_autograd):
    from cnnkit import checks
    L, grads = sigmoid_circuit_autograd(2.0, -1.0, -3.0, -2.0, -3.0)
    lecture = {'w0': -0.19661193324148185, 'x0': 0.3932238664829637, 'w1': -0.3932238664829637, 'x1': -0.5898357997244456, 'w2': 0.19661193324148185}
    checks.close('L', L, 0.7310585786300049, rtol=1e-09)
    checks.equal('gradient names', sorted(grads), ['w0', 'w1', 'w2', 'x0', 'x1'])
    for name, want in lecture.items():
        checks.close(f'd{name}', grads[name], want, rtol=1e-09)

@test_case(points=1, hidden=False)
def test_q1_gradcheck(Multiply, Sigmoid):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    x = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    ok_mul = torch.autograd.gradcheck(Multiply.apply, (x, y), raise_exception=False)
    ok_sig = torch.autograd.gradcheck(Sigmoid.apply, (x,), raise_exception=False)
    checks.true('Multiply passes gradcheck', ok_mul, "Multiply's backward disagrees with gradcheck")
    checks.true('Sigmoid passes gradcheck', ok_sig, "Sigmoid's backward disagrees with gradcheck")

