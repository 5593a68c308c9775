"""The one list of stages (cnnkit.grading.stage) and samples.yml's stage keys."""

from __future__ import annotations

import pytest

from cnnkit.grading import stage as S
from cnnkit.grading.paths import repo_root


def test_stages_are_numbered_in_course_order_and_found_by_number_or_name():
    assert [s.index for s in S.STAGES] == list(range(1, len(S.STAGES) + 1))
    assert tuple(s.name for s in S.STAGES) == S.NAMES
    assert list(S.NAMES) == sorted(S.NAMES)  # the folders list in lecture order
    # a stage's notebooks share its number: stage 01 is 01_backprop, then 01b_deep_nets
    assert [s.name[:2] for s in S.STAGES] == ["01", "01", "02", "03", "03", "04"]
    assert S.get(2) is S.get("2") is S.get(S.NAMES[1])
    assert [s.name for s in S.get(3).earlier()] == list(S.NAMES[:3])


@pytest.mark.parametrize("bad", [0, "9", "05_gans"])
def test_unknown_stage_is_refused(bad):
    with pytest.raises(S.StageError):
        S.get(bad)


def test_a_stage_outside_the_course_has_index_0_and_no_earlier_stages():
    toy = S.Stage.named("00_toy")
    assert toy.index == 0 and S.Stage.named(S.NAMES[0]).index == 1
    with pytest.raises(S.StageError):
        toy.earlier()


def test_config_reads_the_stage_keys_of_samples_yml(tmp_path):
    assert S.read_config(tmp_path / "missing.yml") == S.StageConfig()
    yml = tmp_path / "samples.yml"
    yml.write_text(
        "artifacts: [a.npz]\ngrading_data: [fashion_mnist/test]\n"
        "gradescope: {hidden_visibility: hidden}\nsamples: []\n"
    )
    cfg = S.read_config(yml)
    assert cfg.artifacts == ("a.npz",) and cfg.grading_data == ("fashion_mnist/test",)
    assert cfg.gradescope == {"hidden_visibility": "hidden"}
    yml.write_text("- name: solution\n  base: solution\n")  # a bare list: samples only
    assert S.read_config(yml).artifacts == ()
    yml.write_text("artifacts: a.npz\n")
    with pytest.raises(S.StageError, match="artifacts"):
        S.read_config(yml)


def test_course_stages_declare_their_artifacts():
    root = repo_root()
    assert S.get(1).artifacts(root) == ["twolayer_params.npz"]
    assert S.get("03b_cnn_experiments").artifacts(root) == ["cnn_model.pt2"]
    # these are graded on their cells alone; every other notebook saves what it trained
    assert [s.name for s in S.STAGES if not s.artifacts(root)] == [
        "01b_deep_nets",
        "03_pytorch_cnn",
    ]
