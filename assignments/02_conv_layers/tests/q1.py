from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_conv_output_size_lecture(conv_output_size):
    import torch
    from cnnkit import checks
    for N, F, S, P in [(7, 3, 1, 0), (7, 3, 2, 0), (7, 3, 1, 1), (32, 5, 1, 2), (227, 11, 4, 0)]:
        conv = torch.nn.Conv2d(1, 1, F, stride=S, padding=P, device='meta')
        size = conv(torch.empty(1, 1, N, N, device='meta')).shape[-1]
        checks.equal(f'conv_output_size{(N, F, S, P)}', conv_output_size(N, F, S, P), size)
    try:
        conv_output_size(7, 3, 3, 0)
        raised = False
    except ValueError:
        raised = True
    checks.true('conv_output_size(7, 3, 3, 0) raises ValueError', raised, 'a 3x3 filter at stride 3 does not fit a 7x7 input: raise ValueError')

@test_case(points=1, hidden=False)
def test_conv_param_count_public(conv_param_count):
    import torch
    from cnnkit import checks
    for F, C, K, bias in [(5, 3, 10, True), (1, 64, 32, True), (11, 3, 96, False)]:
        conv = torch.nn.Conv2d(C, K, F, bias=bias, device='meta')
        count = sum((p.numel() for p in conv.parameters()))
        checks.equal(f'conv_param_count{(F, C, K, bias)}', conv_param_count(F, C, K, bias=bias), count)

@test_case(points=1, hidden=False)
def test_trace_alexnet_public(trace_shapes, alexnet_spec):
    import torch
    from torch import nn
    from cnnkit import checks
    rows = trace_shapes(alexnet_spec(), (3, 227, 227))
    checks.equal('number of rows (input + layers)', len(rows), len(alexnet_spec()) + 1)
    x = torch.empty(1, 3, 227, 227, device='meta')
    for spec, row in zip(alexnet_spec(), rows[1:]):
        if spec['kind'] == 'conv':
            layer = nn.Conv2d(x.shape[1], spec['filters'], spec['size'], spec['stride'], spec['pad'])
        elif spec['kind'] == 'pool':
            layer = nn.MaxPool2d(spec['size'], spec['stride'])
        elif spec['kind'] == 'fc':
            layer = nn.Sequential(nn.Flatten(), nn.Linear(x[0].numel(), spec['units']))
        else:
            layer = nn.Identity()
        layer = layer.to('meta')
        x = layer(x)
        shape = tuple(x.shape[1:]) if x.dim() == 4 else (x.shape[1], 1, 1)
        checks.equal(f"{spec['name']} output shape", tuple(row['shape']), shape)
        checks.equal(f"{spec['name']} activations", row['activations'], x[0].numel())
        checks.equal(f"{spec['name']} params", row['params'], sum((p.numel() for p in layer.parameters())))

