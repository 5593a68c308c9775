from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_q5_first_step_with_defaults(sgd, sgd_momentum, rmsprop, adam):
    import numpy as np
    import torch
    from cnnkit import checks
    rng = checks.rng()
    w = rng.standard_normal((3, 4))
    dw = rng.standard_normal((3, 4))
    oracles = {'sgd': (sgd, lambda p: torch.optim.SGD(p, lr=0.01)), 'sgd_momentum': (sgd_momentum, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)), 'rmsprop': (rmsprop, lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-08)), 'adam': (adam, lambda p: torch.optim.Adam(p, lr=0.001, betas=(0.9, 0.999), eps=1e-08))}
    for name, (rule, make) in oracles.items():
        p = torch.tensor(w, requires_grad=True)
        opt = make([p])
        p.grad = torch.tensor(dw)
        opt.step()
        next_w, _ = rule(w.copy(), dw.copy(), None)
        checks.close(f'{name}: w after one step from config=None', next_w, p.detach().numpy(), rtol=1e-07, atol=1e-10)

@test_case(points=1, hidden=False)
def test_q5_momentum_three_steps(sgd_momentum):
    import numpy as np
    import torch
    from cnnkit import checks
    rng = checks.rng()
    w = rng.standard_normal(5)
    p = torch.tensor(w, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    config = {'learning_rate': 0.1, 'momentum': 0.9}
    for step in range(3):
        dw = rng.standard_normal(5)
        w, config = sgd_momentum(w, dw, config)
        p.grad = torch.tensor(dw)
        opt.step()
        checks.close(f'w after step {step + 1}', w, p.detach().numpy(), rtol=1e-07, atol=1e-10)

