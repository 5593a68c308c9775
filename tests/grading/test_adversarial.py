"""Adversarial submissions on the real stages: only working code earns points under `cnnkit grade`.

For each stage one batch (module-scoped, `--workers 2`) grades every sample of
tests/grading/adversarial/attacks.py together; the tests then check each sample's row against its
expected score, that the batch left no process and no temp dir behind, and what the kernel-side
test sources look like (no expected values in them).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
from attacks import BUILDERS, SLEEP_MARK, make_samples  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import gradebooks  # noqa: E402

from cnnkit.grading.contract import Limits  # noqa: E402
from cnnkit.grading.grade import grade, load_autograder  # noqa: E402
from cnnkit.grading.slicing import record_source  # noqa: E402
from cnnkit.numpy_only import preimport  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STAGES = sorted(BUILDERS)
# 20 s cells end the `while True` samples quickly; a case gets more (stage 04's first head-accuracy
# case loads MobileNetV2 and extracts features: ~6 s idle, several times that while the other xdist
# worker grades its own batch)
LIMITS = Limits(timeout=420, cell_timeout=20, case_timeout=120)


def _built(stage: str) -> bool:
    ag = ROOT / "autograder" / stage
    return (ag / "autograder.zip").exists() and (ag / "samples" / "manifest.json").exists()


def _sleepers() -> list[int]:
    """Processes the fork-loop samples started (they exec `sleep SLEEP_MARK`)."""
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if SLEEP_MARK in (p / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(p.name))
            except OSError:
                continue
    return pids


_BATCHES: dict[str, tuple] = {}  # pytest may set a parametrized module fixture up twice


@pytest.fixture(scope="module", params=STAGES)
def batch(request, tmp_path_factory):
    stage = request.param
    if stage in _BATCHES:
        return _BATCHES[stage]
    if not _built(stage):
        pytest.skip(f"{stage} is not built (cnnkit build --samples {stage})")
    samples = make_samples(stage, ROOT, tmp_path_factory.mktemp(f"adv-{stage}"))
    out = tmp_path_factory.mktemp(f"adv-out-{stage}")
    gradetmp = tmp_path_factory.mktemp(f"adv-tmp-{stage}")
    old = tempfile.tempdir
    tempfile.tempdir = str(gradetmp)
    try:
        result = grade(
            stage,
            [p for p, _ in samples.values()],
            out,
            workers=2,
            root=ROOT,
            limits=LIMITS,
            progress=False,
            seed=gradebooks.SEED,
        )
    finally:
        tempfile.tempdir = old
    rows = {r["name"]: r for r in result.rows}
    _BATCHES[stage] = (stage, samples, result, rows, gradetmp)
    return _BATCHES[stage]


def test_every_adversarial_sample_gets_its_expected_score(batch):
    stage, samples, result, rows, _ = batch
    assert sorted(rows) == sorted(samples)  # the batch completed: one row each
    problems = []
    for name, (_, expect) in samples.items():
        row = rows[name]
        for q in result.questions:
            want = expect.get(q, expect["*"])
            got, full = row["scores"][q], result.possible[q]
            ok = {
                "full": got == full,
                "zero": got == 0,
                "less": got < full,
                None: True,
            }[want]
            if not ok:
                why = [
                    f"{c}: {v['message'][:200]!r}"
                    for c, v in row["cases"].items()
                    if v["question"] == q and not v["passed"]
                ]
                problems.append(
                    f"{name}: {q} = {got}/{full}, expected {want} ({row['reason']}) {why}"
                )
        for case in expect.get("failed", []):
            if row["cases"][case]["passed"]:
                problems.append(f"{name}: {case} passed but must fail")
        for case, text in expect.get("error", {}).items():
            if text not in row["cases"][case]["message"]:
                problems.append(f"{name}: {case} message {row['cases'][case]['message']!r}")
        if "reason" in expect and expect["reason"] not in row["reason"]:
            problems.append(f"{name}: reason {row['reason']!r} lacks {expect['reason']!r}")
    assert not problems, "\n".join(problems)


def test_scores_equal_the_golden_gradebook(batch):
    """Per-question scores exactly as recorded (tests/grading/golden/adversarial/, gradebooks.py)."""
    stage, _, result, _, _ = batch
    gradebooks.check("adversarial", stage, result.rows, result.seed)


def test_broken_samples_say_why(batch):
    _, _, _, rows, _ = batch
    assert rows["malformed.ipynb"]["status"] == "Failed"
    assert "wrong assignment" in rows["other-stage"]["reason"]
    for name in ("os-exit", "chaos"):
        if name in rows:
            assert "kernel died" in rows[name]["reason"]


def test_the_batch_leaves_nothing_behind(batch):
    *_, gradetmp = batch
    assert list(gradetmp.iterdir()) == []
    assert _sleepers() == []


# hidden cases whose oracle (torch autograd, a reference model, a lazily called `reference()` or
# `oracle()`) must not run in, or even reach, the student's kernel
ORACLE_FREE = {
    "01_backprop": [
        "test_q1_sigmoid_circuit_hidden",
        "test_q1_max_copy_circuit_hidden",
        "test_q3_affine_hidden",
        "test_q3_relu_hidden",
        "test_q3_sigmoid_hidden",
        "test_q3_svm_hidden",
        "test_q4_loss_grads_with_reg_hidden",
    ],
    "01b_deep_nets": [
        "test_q7_tanh_hidden",
        "test_q7_leaky_relu_hidden",
        "test_q10_batchnorm_backward_hidden",
        "test_q10_batchnorm_backward_alt_hidden",
        "test_q10_layernorm_hidden",
    ],
    "02_conv_layers": [
        "test_conv_naive_strides_pads_nonsquare",
        "test_max_pool_naive_overlap_nonsquare",
        "test_conv_fast_strides_pads_nonsquare",
        "test_max_pool_fast_overlap_nonsquare",
        "test_convnet_fresh_dims",
    ],
    "03_pytorch_cnn": [
        "test_q1_circuit_hidden",
        "test_q2_forward_hidden",
        "test_q2_module_and_sequential_hidden",
        "test_q4_train_step_hidden",
        "test_q4_predict_hidden",
        "test_q4_evaluate_hidden",
        "test_q4_train_hidden",
    ],
    "03b_cnn_experiments": [
        "test_q5_channel_stats_hidden",
    ],
    "04_transfer_learning": [
        "test_q1_preprocess_float_batch_hidden",
        "test_q1_top5_eval_mode_hidden",
        "test_q3_features_eval_mode_no_grad_hidden",
        "test_q6_saliency_under_no_grad_hidden",
        "test_q6_occlusion_stride_fill_hidden",
        "test_q6_fgsm_sign_clip_eval_hidden",
        "test_q6_targeted_attack_hidden",
        "test_q6_class_visualization_eval_mode_hidden",
    ],
}
# what an oracle looks like in those sources (`ref(x)`: the reference model's forward pass)
ORACLE_TEXT = (
    ".backward(",
    ".grad",
    "autograd.grad",
    "reference",
    "oracle",
    "ref(",
    "cross_entropy",
    "softmax",
    "transforms()",
)


# A recording kernel's cases (their record-mode sources and parameters, as JSON on stdin), run on the
# kit's reference layers in a fresh interpreter that imports only what a student's kernel has (checks,
# the layers): prints the torch modules imported before the first case and after the last.
_RECORD_ALL = """
import importlib, json, pkgutil, sys

import cnnkit.numeric as numeric
from cnnkit import checks

def torch_modules():
    return sorted(m for m in sys.modules if m.split(".")[0] == "torch")

cases = json.load(sys.stdin)
ref = {}
for info in pkgutil.iter_modules(numeric.__path__):
    mod = importlib.import_module(f"cnnkit.numeric.{info.name}")
    ref.update({k: v for k, v in vars(mod).items() if getattr(v, "__module__", None) == mod.__name__})
before, ran = torch_modules(), []
for name, source, params in cases:
    if not set(params) <= set(ref):
        continue
    ns = {}
    exec(compile(source, name, "exec"), ns)
    checks._begin(name, "record", seed=1)
    try:
        ns[name](**{p: ref[p] for p in params})
    finally:
        checks._end()
    ran.append(name)
print(json.dumps({"before": before, "after": torch_modules(), "ran": ran}))
"""


@pytest.mark.parametrize("stage", ["01_backprop", "01b_deep_nets", "02_conv_layers"])
def test_a_recording_kernel_of_a_numpy_stage_imports_no_torch(stage):
    """The numpy stages' cases hold their torch oracles in functions only checking evaluates, and a
    drawn upstream gradient takes a given shape: neither what a student's kernel imports for its
    cases before they run (the probe's preimport) nor running them in record mode imports torch
    (2.4 s to import in every submission's kernel)."""
    if not _built(stage):
        pytest.skip(f"{stage} is not built")
    ag = load_autograder(stage, ROOT)
    cases = [c for c in ag.cases if not c.artifact]
    assert "torch" in preimport([c.source for c in cases])  # the oracles, counted, do import it
    sources = [record_source(c.source, c.params) for c in cases]
    assert not [n for n in preimport(sources, eager_only=True) if n.split(".")[0] == "torch"]
    run = subprocess.run(
        [sys.executable, "-c", _RECORD_ALL],
        input=json.dumps([[c.name, src, c.params] for c, src in zip(cases, sources, strict=True)]),
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["before"] == [] and got["after"] == [], got
    # the cases whose parameters are all layers of cnnkit.numeric (every one of stage 02's)
    assert len(got["ran"]) >= {"01_backprop": 19, "01b_deep_nets": 19}.get(stage, len(cases))


@pytest.mark.parametrize("stage", STAGES)
def test_kernel_side_sources_hold_no_expected_values(stage):
    """The record-mode tests keep the student calls and the checks, not the oracles."""
    if not _built(stage):
        pytest.skip(f"{stage} is not built")
    ag = load_autograder(stage, ROOT)
    assert set(ORACLE_FREE[stage]) <= {c.name for c in ag.cases if c.hidden}
    for c in ag.cases:
        if c.artifact:
            continue
        src = record_source(c.source, c.params)
        compile(src, c.name, "exec")
        for p in c.params:
            assert p in src, (c.name, p)
        assert src.count("checks.") == c.source.count("checks."), c.name
        if c.name in ORACLE_FREE[stage]:
            # a case that hands its torch oracle to cnnkit.oracles keeps that call: the helper runs
            # no oracle while recording (tests/test_oracles.py), so only its name is left here
            rest = src.replace("oracles", "")
            assert not [t for t in ORACLE_TEXT if t in rest], (c.name, src)
            assert [t for t in ORACLE_TEXT if t in c.source], c.name  # it has an oracle to strip


def test_record_source_slices_only_what_feeds_expected():
    src = """
def test_x(f):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    x = rng.standard_normal(3)
    torch.manual_seed(0)
    w = torch.randn(3)
    t = torch.tensor(x, requires_grad=True)
    out = (t * 2).sum()
    out.backward()
    want = t.grad.numpy()
    got = f(x, w.numpy())
    checks.close("dx", got, want)
    checks.close("lazy", got, lambda: t.grad.numpy() * 1)
    checks.equal(name="shape", got=got.shape, expected=want.shape)
"""
    out = record_source(src, ["f"])
    assert "out.backward" not in out and "want" not in out and "requires_grad" not in out
    assert "torch.manual_seed(0)" in out and "w = torch.randn(3)" in out
    assert "checks.close('dx', got, None)" in out
    assert "expected=None" in out


def test_record_source_keeps_nested_defs_only_where_used():
    src = """
def test_x(f):
    import torch
    from cnnkit import checks
    rng = checks.rng()
    model = torch.nn.Linear(3, 2)
    ref = torch.nn.Linear(3, 2)
    scale = 2.0

    def run(x):
        return f(model, x * scale)

    class Wrap:
        def __init__(self, m):
            self.m = m

    def reference(x):
        return ref(x).detach().numpy() + f(model, x).sum()

    oracle = lambda x: reference(x) * 1
    x = torch.tensor(rng.standard_normal((4, 3)))
    got = run(x)
    wrapped = Wrap(model)
    checks.close("out", got, lambda: oracle(x))
    checks.equal("kept", f(wrapped.m, x).shape, lambda: reference(x).shape)
"""
    out = record_source(src, ["f"])
    compile(out, "test_x", "exec")
    # used by kept statements: stay, with what they read
    assert "def run(x)" in out and "scale = 2.0" in out and "class Wrap" in out
    # used only by the stripped expected values: gone, although they call the student's f
    assert "def reference" not in out and "oracle" not in out and "ref = " not in out
