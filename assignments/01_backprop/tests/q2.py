from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_q2_value_lecture_circuit(Value):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks
    inputs = {'w0': 2.0, 'x0': -1.0, 'w1': -3.0, 'x1': -2.0, 'w2': -3.0}
    lecture = {'L': 0.7310585786300049, 'w0': -0.19661193324148185, 'x0': 0.3932238664829637, 'w1': -0.3932238664829637, 'x1': -0.5898357997244456, 'w2': 0.19661193324148185}
    v = {k: Value(x) for k, x in inputs.items()}
    out = (v['w0'] * v['x0'] + v['w1'] * v['x1'] + v['w2']).sigmoid()
    out.backward()
    checks.close('L', out.data, lecture['L'], rtol=1e-07, atol=1e-10)
    for k in inputs:
        checks.close(f'dL/d{k}', v[k].grad, lecture[k], rtol=1e-07, atol=1e-10)

@test_case(points=1, hidden=False)
def test_q2_value_reused_node_and_backward_twice(Value):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks
    a = Value(3.0)
    b = a + a
    c = b + b
    c.backward()
    checks.close('dc/da (a is used twice, twice)', a.grad, 4.0, rtol=1e-07, atol=1e-10)
    c.backward()
    checks.close('dc/da after a second c.backward()', a.grad, 4.0, rtol=1e-07, atol=1e-10, msg="calling backward() twice must not double-count: reset the graph's gradients first")

