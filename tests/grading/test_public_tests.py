"""Public tests never hold the reference algorithm of what they check (public_tests, build hook)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toystage import MASTER, STAGE, make_root  # noqa: E402

from cnnkit.grading import build as B  # noqa: E402
from cnnkit.grading import public_tests  # noqa: E402
from cnnkit.grading.paths import repo_root, stage_dirs  # noqa: E402
from cnnkit.grading.stage import NAMES as STAGES  # noqa: E402

TOY_PUBLIC = """    rng = checks.rng()
    x, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    checks.equal("output shape", affine(x, w, b).shape, (2, 4))
"""
# The toy q2 solution is `out_matrix_product = x.reshape(x.shape[0], -1) @ w; return ... + b`.
COPIED = """    rng = checks.rng()
    a, m, c = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    expected = a.reshape(a.shape[0], -1) @ m + c
    checks.close("affine", affine(a, m, c), expected)
"""


def _toy_text() -> str:
    return MASTER.read_text(encoding="utf-8")


def test_toy_master_passes_as_it_is(tmp_path):
    root = make_root(tmp_path / "repo")
    assert public_tests.reproductions(stage_dirs(STAGE, root).master) == []


def test_public_test_copying_its_solution_fails_the_build(tmp_path):
    text = _toy_text()
    assert TOY_PUBLIC in text
    root = make_root(tmp_path / "repo", master=text.replace(TOY_PUBLIC, COPIED, 1))
    found = public_tests.reproductions(stage_dirs(STAGE, root).master)
    assert [(f.question, f.test) for f in found] == [("q2", "test_affine_shape")]
    # the lines named are the copy in the test and the solution line it copies
    master_lines = stage_dirs(STAGE, root).master.read_text().splitlines()
    t0, t1 = found[0].test_lines
    s0, s1 = found[0].solution_lines
    assert "a.reshape(a.shape[0], -1) @ m" in master_lines[t0 - 1] and t0 == t1
    assert "x.reshape(x.shape[0], -1) @ w" in master_lines[s0 - 1]
    with pytest.raises(
        B.BuildError, match=r"00_toy\.py:\d+-\d+: public test test_affine_shape of q2"
    ):
        B.build([STAGE], root)
    assert not (root / "assignments" / STAGE).exists()


def test_a_copy_piece_by_piece_is_caught_by_coverage(tmp_path):
    # Each run alone is light, but together they cover the whole (short) solution.
    copied = """    import numpy as np

    a = np.ones((2, 3))
    flat = a.reshape(a.shape[0], -1)
    product = flat @ np.ones((3, 4))
    checks.close("affine", affine(a, np.ones((3, 4)), np.ones(4)), product + np.ones(4))
"""
    root = make_root(tmp_path / "repo", master=_toy_text().replace(TOY_PUBLIC, copied, 1))
    sol = public_tests.tokens(public_tests.questions(stage_dirs(STAGE, root).master)[1].solution)
    assert sum(t.weight for t in sol) == 6  # reshape . shape - @ return +
    found = public_tests.reproductions(stage_dirs(STAGE, root).master)
    assert [f.test for f in found] == ["test_affine_shape"], [str(f) for f in found]


@pytest.mark.parametrize("stage", STAGES)
def test_real_masters_have_no_reproducing_public_test(stage):
    master = stage_dirs(stage, repo_root()).master
    assert any(q.tests for q in public_tests.questions(master))  # the check sees the public tests
    assert public_tests.problems(master) == []


def test_names_and_numbers_are_normalised_but_attributes_are_not():
    toks = public_tests.tokens([(7, "g = np.exp(-r ** 2 / 2.0)  # gaussian"), (9, "out.amax(0)")])
    assert [t.text for t in toks] == [
        "V", "=", "V", ".", "exp", "(", "-", "V", "**", "N", "/", "N", ")",
        "V", ".", "amax", "(", "N", ")",
    ]  # fmt: skip
    assert [t.line for t in toks][:2] == [7, 7] and toks[-1].line == 9
    assert sum(t.weight for t in toks) == 5  # exp - ** / amax, and nothing else
