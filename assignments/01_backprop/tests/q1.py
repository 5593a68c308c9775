from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_q1_sigmoid_circuit_lecture_values(sigmoid_circuit):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks
    inputs = {'w0': 2.0, 'x0': -1.0, 'w1': -3.0, 'x1': -2.0, 'w2': -3.0}
    lecture = {'L': 0.7310585786300049, 'w0': -0.19661193324148185, 'x0': 0.3932238664829637, 'w1': -0.3932238664829637, 'x1': -0.5898357997244456, 'w2': 0.19661193324148185}
    L, grads = sigmoid_circuit(**inputs)
    checks.equal('gradient keys', sorted(grads), sorted(inputs))
    checks.close('L', L, lecture['L'], rtol=1e-06)
    for k in inputs:
        checks.close(f'dL/d{k}', grads[k], lecture[k], rtol=1e-06)

@test_case(points=1, hidden=False)
def test_q1_max_copy_circuit_public(max_copy_circuit):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks
    cases = {(3.0, -1.0, 2.0): (9.0, {'x': 3.0, 'y': 0.0, 'z': 3.0}), (-2.0, 4.0, -0.5): (-4.0, {'x': 1.0, 'y': -0.5, 'z': 4.0})}
    for (x, y, z), (f_hand, grads_hand) in cases.items():
        f, grads = max_copy_circuit(x, y, z)
        checks.close(f'f at {(x, y, z)}', f, f_hand, rtol=1e-07, atol=1e-10)
        for k in 'xyz':
            checks.close(f'df/d{k} at {(x, y, z)}', grads[k], grads_hand[k], rtol=1e-07, atol=1e-10)

