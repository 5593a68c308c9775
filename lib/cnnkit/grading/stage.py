"""The course's stages: the one list of them, their order, and what each declares in samples.yml.

A stage is a name (`01_backprop`), its place in the course (1-based) and the files under
`solutions/<stage>/`: the master (`<stage>.py`) and `samples.yml`, whose stage-level keys (`artifacts`, `grading_data`, `gradescope`) are read here once.
Adding a stage: one entry in `COURSE` below, then its folder under `solutions/`.
Tests build toy stages under a temp root: `Stage.named(name)` accepts any name (index 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnnkit.grading.paths import StageDirs, stage_dirs

# (name, title), in lecture order. A stage's work may come in several notebooks, each an entry of its
# own (stage 01: 01_backprop, then 01b_deep_nets, released once 01_backprop is due; stage 03:
# 03_pytorch_cnn, then 03b_cnn_experiments): each is built, released and graded on its own, and a
# later entry's gated library holds the earlier ones' code.
COURSE = (
    ("01_backprop", "Backpropagation: from gates to a trained two-layer net (numpy)"),
    ("01b_deep_nets", "Training deeper networks: initialization, dropout, normalization (numpy)"),
    ("02_conv_layers", "Convolution and pooling layers in numpy"),
    ("03_pytorch_cnn", "CNNs in PyTorch: modules and your own training loop"),
    (
        "03b_cnn_experiments",
        "A data pipeline, a CNN-against-MLP experiment and the challenge (GPU optional)",
    ),
    ("04_transfer_learning", "Transfer learning with a pretrained network"),
)
# Stages whose graded functions may use numpy and the standard library only: a case whose student
# code calls torch or scipy's convolutions earns nothing (cnnkit/numpy_only.py), and every
# test of the stage starts with `checks.numpy_only()` so that `grader.check` says so too (build).
NUMPY_ONLY = ("01_backprop", "01b_deep_nets", "02_conv_layers")


class StageError(ValueError):
    """An unknown stage, or a samples.yml whose stage keys are malformed."""


@dataclass(frozen=True)
class StageConfig:
    """The stage-level keys of samples.yml (the sample list itself is cnnkit.grading.samples' job).

    artifacts: files the notebook saves and a submission carries (graded by the artefact cases);
    grading_data: data the cases load, packed into the autograder zips (cnnkit.grading.offline);
    gradescope: the `gradescope:` mapping (cnnkit.grading.gradescope.settings); raw: the whole file.
    """

    artifacts: tuple[str, ...] = ()
    grading_data: tuple[str, ...] = ()
    gradescope: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One stage of the course.

    name: "01_backprop"; index: 1-based place in the course (0 for a stage outside it, such as a
    test's toy stage); title: a short title.
    """

    name: str
    index: int = 0
    title: str = ""

    @property
    def numpy_only(self) -> bool:
        """The graded functions may use numpy and the standard library only (`NUMPY_ONLY`)."""
        return self.name in NUMPY_ONLY

    @classmethod
    def named(cls, name: str) -> Stage:
        """The course stage of that name, else a stage outside the course (index 0)."""
        return next((s for s in STAGES if s.name == name), cls(name))

    def dirs(self, root: Path | None = None) -> StageDirs:
        """Every path of the stage under root (default: the checkout)."""
        return stage_dirs(self.name, root)

    def config(self, root: Path | None = None) -> StageConfig:
        """samples.yml's stage keys (empty when the file is missing).

        Inputs:
        - root: the checkout (default: the checkout that holds this library).

        Returns:
        - config: a StageConfig; raises StageError when a key has the wrong type.
        """
        return read_config(self.dirs(root).samples_yml)

    def artifacts(self, root: Path | None = None) -> list[str]:
        """Files the notebook saves and a submission carries (samples.yml `artifacts`)."""
        return list(self.config(root).artifacts)

    def earlier(self) -> tuple[Stage, ...]:
        """The course stages up to and including this one, in order."""
        if not self.index:
            raise StageError(f"{self.name} is not a stage of the course")
        return STAGES[: self.index]


STAGES: tuple[Stage, ...] = tuple(
    Stage(name, k, title) for k, (name, title) in enumerate(COURSE, start=1)
)
NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


def get(stage: int | str) -> Stage:
    """A course stage by number (1-based, int or digit string) or name.

    Inputs:
    - stage: its place in `COURSE` (1-based, int or digit string: 2 is 01b_deep_nets) or a name such as "02_conv_layers".

    Returns:
    - stage: the Stage; raises StageError for anything else.
    """
    if isinstance(stage, int) or (isinstance(stage, str) and stage.isdigit()):
        k = int(stage)
        if not 1 <= k <= len(STAGES):
            raise StageError(f"stage must be 1..{len(STAGES)}, not {k}")
        return STAGES[k - 1]
    found = next((s for s in STAGES if s.name == stage), None)
    if found is None:
        raise StageError(f"unknown stage {stage!r}; stages are {', '.join(NAMES)}")
    return found


def read_config(samples_yml: Path) -> StageConfig:
    """The stage keys of one samples.yml (a bare list of samples has none).

    Inputs:
    - samples_yml: solutions/<stage>/samples.yml (may be missing).

    Returns:
    - config: a StageConfig.
    """
    import yaml

    if not samples_yml.is_file():
        return StageConfig()
    data = yaml.safe_load(samples_yml.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        return StageConfig(raw={"samples": data})
    for key in ("artifacts", "grading_data"):
        if not isinstance(data.get(key) or [], list):
            raise StageError(f"{samples_yml}: `{key}` must be a list")
    gradescope = data.get("gradescope") or {}
    if not isinstance(gradescope, dict):
        raise StageError(f"{samples_yml}: `gradescope` must be a mapping")
    return StageConfig(
        artifacts=tuple(str(a) for a in data.get("artifacts") or []),
        grading_data=tuple(str(e) for e in data.get("grading_data") or []),
        gradescope=dict(gradescope),
        raw=data,
    )
