from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_q1_sigmoid_circuit_lecture_values(sigmoid_circuit):
    import torch
    from cnnkit import checks
    inputs = {'w0': 2.0, 'x0': -1.0, 'w1': -3.0, 'x1': -2.0, 'w2': -3.0}

    def oracle():
        t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in inputs.items()}
        out = torch.sigmoid(t['w0'] * t['x0'] + t['w1'] * t['x1'] + t['w2'])
        out.backward()
        return (out.item(), {k: v.grad.item() for k, v in t.items()})
    L, grads = sigmoid_circuit(**inputs)
    checks.equal('gradient keys', sorted(grads), sorted(inputs))
    checks.close('L', L, lambda: oracle()[0], rtol=1e-06)
    for k in inputs:
        checks.close(f'dL/d{k}', grads[k], lambda k=k: oracle()[1][k], rtol=1e-06)

@test_case(points=1, hidden=False)
def test_q1_max_copy_circuit_public(max_copy_circuit):
    import torch
    from cnnkit import checks
    for x, y, z in [(3.0, -1.0, 2.0), (-2.0, 4.0, -0.5)]:
        t = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, y, z)]
        out = torch.maximum(t[0], t[1]) * t[2] + t[0]
        out.backward()
        f, grads = max_copy_circuit(x, y, z)
        checks.close(f'f at {(x, y, z)}', f, out.item(), rtol=1e-07, atol=1e-10)
        for k, tk in zip('xyz', t):
            checks.close(f'df/d{k} at {(x, y, z)}', grads[k], tk.grad.item(), rtol=1e-07, atol=1e-10)

