from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_q2_sgd_step_by_hand(sgd_step):
    import torch
    from cnnkit import checks
    p = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([0.5, -1.0], dtype=torch.float64)
    out = sgd_step({'p': p}, 0.1)
    checks.equal('return value', out, None)
    checks.close('p after one step', p.detach(), [0.95, 2.1], rtol=1e-12)
    checks.true('p is still a leaf that requires grad', p.is_leaf and p.requires_grad, 'p lost requires_grad or is no longer a leaf')
    checks.true('gradient cleared', p.grad is None or not p.grad.any(), 'p.grad still holds the old gradient')

@test_case(points=1, hidden=False)
def test_q2_three_levels_agree(convnet_params, convnet_forward, ConvNet, convnet_sequential):
    import torch
    from cnnkit import checks
    torch.manual_seed(0)
    params = convnet_params(in_channels=2, channels=3, num_classes=4, image_size=6)
    names = ['conv_w', 'conv_b', 'fc_w', 'fc_b']
    checks.equal('parameter names', sorted(params), sorted(names))
    checks.equal('parameter shapes', [str(tuple(params[k].shape)) for k in names], ['(3, 2, 3, 3)', '(3,)', '(4, 27)', '(4,)'])
    checks.true('leaf tensors that require grad', all((v.is_leaf and v.requires_grad for v in params.values())), 'some parameter is not a leaf that requires grad')
    x = torch.rand(5, 2, 6, 6)
    module, seq = (ConvNet(2, 3, 4, 6), convnet_sequential(2, 3, 4, 6))
    with torch.no_grad():
        for conv, fc in ((module.conv, module.fc), (seq[0], seq[4])):
            conv.weight.copy_(params['conv_w'])
            conv.bias.copy_(params['conv_b'])
            fc.weight.copy_(params['fc_w'])
            fc.bias.copy_(params['fc_b'])
        s1 = convnet_forward(x, params)
        checks.equal('scores shape', tuple(s1.shape), (5, 4))
        checks.close('nn.Module vs bare tensors', module(x), s1, rtol=1e-05, atol=1e-06)
        checks.close('nn.Sequential vs bare tensors', seq(x), s1, rtol=1e-05, atol=1e-06)

