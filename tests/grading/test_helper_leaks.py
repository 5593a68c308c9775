"""Library helpers outside exercise regions hold no stage's solution; default_step is gated."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toystage import STAGE, make_root  # noqa: E402

from cnnkit.grading import build as B  # noqa: E402
from cnnkit.grading import gate, helper_leaks, leaks  # noqa: E402
from cnnkit.grading.paths import repo_root  # noqa: E402


def test_real_library_helpers_hold_no_solution():
    assert [str(f) for f in helper_leaks.findings(repo_root())] == []


def test_default_step_is_gated_with_notebook_03():
    """training.default_step is notebook 03's train_step: notebooks 01-03 get a stub, 03b and 04 the
    code."""
    source = (repo_root() / "lib" / "cnnkit" / "training.py").read_text(encoding="utf-8")
    for stage in ("01_backprop", "01b_deep_nets", "02_conv_layers", "03_pytorch_cnn"):
        gated = gate.gate_source(source, stage)
        ns: dict = {}
        exec(compile(gated, "training.py", "exec"), ns)
        with pytest.raises(NotImplementedError, match="default_step .* notebook 03_pytorch_cnn"):
            ns["default_step"](None, (None, None), None, None)
        assert "(scores.detach().argmax(dim=1) == y).sum()" not in gated
    for stage in ("03b_cnn_experiments", "04_transfer_learning"):
        assert "(scores.detach().argmax(dim=1) == y).sum()" in gate.gate_source(source, stage)
    # and the region's lines are secrets again: no public library line vouches for them
    secrets = leaks.collect_secrets(repo_root())
    assert "n_correct = (scores.detach().argmax(dim=1) == y).sum()" in secrets.lines


def test_notebook_03s_loops_are_stubbed_until_03b():
    """cnnkit.loops holds notebook 03's question 4 (its exercise cell names it): notebooks 01-03 get
    stubs, 03b (which trains with them) and 04 the code."""
    source = (repo_root() / "lib" / "cnnkit" / "loops.py").read_text(encoding="utf-8")
    names = ("train_step", "predict", "evaluate", "save_model", "load_model", "train")
    for stage in ("01_backprop", "02_conv_layers", "03_pytorch_cnn"):
        ns: dict = {}
        exec(compile(gate.gate_source(source, stage), "loops.py", "exec"), ns)
        for name in names:
            assert "NotImplementedError" in ns[name].__code__.co_names, (stage, name)
        assert "lr_scheduler.OneCycleLR(" not in gate.gate_source(source, stage)
    for stage in ("03b_cnn_experiments", "04_transfer_learning"):
        ns = {}
        exec(compile(gate.gate_source(source, stage), "loops.py", "exec"), ns)
        assert all("NotImplementedError" not in ns[n].__code__.co_names for n in names), stage


def test_fit_is_gated_with_notebook_03():
    """training.fit is the reference of notebook 03's own loop: stages 01-03 get a stub, 04 the code;
    History, LivePlot and evaluate stay in everybody's library."""
    source = (repo_root() / "lib" / "cnnkit" / "training.py").read_text(encoding="utf-8")
    for stage in ("01_backprop", "03_pytorch_cnn"):
        ns: dict = {}
        exec(compile(gate.gate_source(source, stage), "training.py", "exec"), ns)
        with pytest.raises(NotImplementedError, match="fit is implemented by you in notebook 03"):
            ns["fit"](None, [])
        assert {"History", "LivePlot", "evaluate", "save_checkpoint"} <= set(ns)
        assert "NotImplementedError" not in ns["evaluate"].__code__.co_names
    ns = {}
    exec(compile(gate.gate_source(source, "04_transfer_learning"), "training.py", "exec"), ns)
    assert "NotImplementedError" not in ns["fit"].__code__.co_names


def test_helper_repeating_a_solution_outside_a_region_fails_the_build(tmp_path):
    root = make_root(tmp_path / "repo")
    helper = root / "lib" / "cnnkit" / "toy_helper.py"
    helper.write_text(
        "def apply_layer(x, w, b):\n"
        '    """A helper that happens to be the toy q2 solution."""\n'
        "    out_matrix_product = x.reshape(x.shape[0], -1) @ w\n"
        "    return out_matrix_product + b\n",
        encoding="utf-8",
    )
    found = helper_leaks.findings(root)
    assert [(f.path, f.name, f.stage, f.exercise) for f in found] == [
        ("lib/cnnkit/toy_helper.py", "apply_layer", STAGE, "affine")
    ]
    with pytest.raises(leaks.LeakError, match=r"toy_helper\.py:1: apply_layer repeats 2 of the 2"):
        B.build([STAGE], root)
    # inside an exercise region of its stage the same helper is gated, not a leak
    text = helper.read_text()
    helper.write_text(f"# BEGIN EXERCISE {STAGE}\n{text}# END EXERCISE\n", encoding="utf-8")
    assert helper_leaks.findings(root) == []
    assert [f.name for f in helper_leaks.findings(root, gated=True)] == ["apply_layer"]


def test_shared_idioms_are_not_a_leak(tmp_path):
    root = make_root(tmp_path / "repo")
    (root / "lib" / "cnnkit" / "toy_helper.py").write_text(
        "def shape_of(x, w):\n    out_matrix_product = x.reshape(x.shape[0], -1) @ w\n"
        "    return out_matrix_product.shape\n",
        encoding="utf-8",
    )  # one line of a two-line solution
    assert helper_leaks.findings(root) == []


def test_release_refuses_a_library_whose_helper_repeats_a_solution(tmp_path):
    from cnnkit.grading.release import ReleaseError, release

    root = make_root(tmp_path / "repo")
    (root / "lib" / "cnnkit" / "toy_helper.py").write_text(
        "def apply_layer(x, w, b):\n"
        "    out_matrix_product = x.reshape(x.shape[0], -1) @ w\n"
        "    return out_matrix_product + b\n",
        encoding="utf-8",
    )
    with pytest.raises(ReleaseError, match=r"refused:\n  lib/cnnkit/toy_helper\.py:1: apply_layer"):
        release(1, tmp_path / "out", root)
    assert not (tmp_path / "out").exists()
