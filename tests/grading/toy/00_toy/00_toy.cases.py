"""Hidden and artefact cases of the toy stage 00_toy (see 00_toy.py): graded, never shown to students.

Never imported: `cnnkit build` turns each `@case(question, points=P, hidden=True)` function into an
otter test cell at the end of its question's tests (see cnnkit.grading.master.read_cases).
"""


@case("q1", points=2, hidden=True)
def test_square_plus_one_secret_inputs(square_plus_one):
    from cnnkit import checks

    x = checks.rng().standard_normal((4, 5))
    checks.close("f(x) on random input", square_plus_one(x), lambda: x**2 + 1.0, msg="wrong")


@case("q2", points=3, hidden=True)
def test_affine_hidden_values(affine):
    from cnnkit import checks

    rng = checks.rng()
    x, w, b = rng.standard_normal((5, 2, 3)), rng.standard_normal((6, 7)), rng.standard_normal(7)
    checks.close("affine values", affine(x, w, b), lambda: x.reshape(5, 6) @ w + b, msg="wrong")


@case("q3", points=2, hidden=True)
def test_params_artifact():
    import numpy as np

    from cnnkit import checks

    with np.load("toy_params.npz", allow_pickle=False) as f:
        w = f["W"]
    x = checks.rng().normal(size=3)
    checks.close("W @ x", w @ x, lambda: np.arange(6.0).reshape(2, 3) @ x, msg="wrong")
