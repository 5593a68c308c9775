from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_q2_value_lecture_circuit(Value):
    import torch
    from cnnkit import checks
    inputs = {'w0': 2.0, 'x0': -1.0, 'w1': -3.0, 'x1': -2.0, 'w2': -3.0}
    v = {k: Value(x) for k, x in inputs.items()}
    out = (v['w0'] * v['x0'] + v['w1'] * v['x1'] + v['w2']).sigmoid()
    out.backward()
    t = {k: torch.tensor(x, dtype=torch.float64, requires_grad=True) for k, x in inputs.items()}
    t_out = torch.sigmoid(t['w0'] * t['x0'] + t['w1'] * t['x1'] + t['w2'])
    t_out.backward()
    checks.close('L', out.data, t_out.item(), rtol=1e-07, atol=1e-10)
    for k in inputs:
        checks.close(f'dL/d{k}', v[k].grad, t[k].grad.item(), rtol=1e-07, atol=1e-10)

@test_case(points=1, hidden=False)
def test_q2_value_reused_node_and_backward_twice(Value):
    import torch
    from cnnkit import checks
    a = Value(3.0)
    b = a + a
    c = b + b
    c.backward()
    ta = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    tb = ta + ta
    (tb + tb).backward()
    checks.close('dc/da (a is used twice, twice)', a.grad, ta.grad.item(), rtol=1e-07, atol=1e-10)
    c.backward()
    checks.close('dc/da after a second c.backward()', a.grad, ta.grad.item(), rtol=1e-07, atol=1e-10, msg="calling backward() twice must not double-count: reset the graph's gradients first")

