from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_conv_output_size_lecture(conv_output_size):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks
    for (N, F, S, P), size in {(7, 3, 1, 0): 5, (7, 3, 2, 0): 3, (7, 3, 1, 1): 7, (32, 5, 1, 2): 32, (227, 11, 4, 0): 55}.items():
        checks.equal(f'conv_output_size{(N, F, S, P)}', conv_output_size(N, F, S, P), size)
    try:
        conv_output_size(7, 3, 3, 0)
        raised = False
    except ValueError:
        raised = True
    checks.true('conv_output_size(7, 3, 3, 0) raises ValueError', raised, 'a 3x3 filter at stride 3 does not fit a 7x7 input: raise ValueError')

@test_case(points=1, hidden=False)
def test_conv_param_count_public(conv_param_count):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks
    for (F, C, K, bias), count in {(5, 3, 10, True): 760, (1, 64, 32, True): 2080, (11, 3, 96, False): 34848}.items():
        checks.equal(f'conv_param_count{(F, C, K, bias)}', conv_param_count(F, C, K, bias=bias), count)

@test_case(points=1, hidden=False)
def test_trace_alexnet_public(trace_shapes, alexnet_spec):
    from cnnkit import checks
    checks.numpy_only()
    from cnnkit import checks
    table = [('CONV1', (96, 55, 55), 290400, 34944), ('POOL1', (96, 27, 27), 69984, 0), ('NORM1', (96, 27, 27), 69984, 0), ('CONV2', (256, 27, 27), 186624, 614656), ('POOL2', (256, 13, 13), 43264, 0), ('NORM2', (256, 13, 13), 43264, 0), ('CONV3', (384, 13, 13), 64896, 885120), ('CONV4', (384, 13, 13), 64896, 1327488), ('CONV5', (256, 13, 13), 43264, 884992), ('POOL3', (256, 6, 6), 9216, 0), ('FC6', (4096, 1, 1), 4096, 37752832), ('FC7', (4096, 1, 1), 4096, 16781312), ('FC8', (1000, 1, 1), 1000, 4097000)]
    rows = trace_shapes(alexnet_spec(), (3, 227, 227))
    checks.equal('number of rows (input + layers)', len(rows), len(table) + 1)
    for (name, shape, activations, params), row in zip(table, rows[1:]):
        checks.equal(f'{name} output shape', tuple(row['shape']), shape)
        checks.equal(f'{name} activations', row['activations'], activations)
        checks.equal(f'{name} params', row['params'], params)

