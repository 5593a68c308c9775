from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = None

@test_case(points=1, hidden=False)
def test_q6_exported_model_file():
    import numpy as np
    import torch
    from cnnkit import checks, data, heldout
    program = heldout.load_program('cnn_model.pt2')
    X, _, _ = data.shapes.generate(3, seed=int(checks.rng().integers(2 ** 31)))
    with torch.no_grad():
        scores = program(torch.tensor(X))
    checks.equal('scores of 3 images', tuple(scores.shape), (3, 10))
    checks.true('finite scores', bool(np.isfinite(scores.numpy()).all()), "the program's scores have NaN or inf")

