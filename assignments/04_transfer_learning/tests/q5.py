from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_q5_head_file_and_accuracy_60():
    import torch
    from cnnkit import checks, features
    ckpt = torch.load('transfer_head.pt', map_location='cpu', weights_only=True)
    w = ckpt['state_dict'].get('weight')
    checks.true('head shape', w is not None and tuple(w.shape) == (12, 1280), 'transfer_head.pt must hold the state_dict of an nn.Linear(1280, 12) and its config')
    acc = features.head_accuracy('transfer_head.pt', n_per_class=15, seed=int(checks.rng().integers(2 ** 31)))
    checks.at_least('test accuracy', acc, 0.6)

