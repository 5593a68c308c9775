"""`cnnkit demo` (make demo): the kit's main job on embedded defaults.

The instructor's loop, end to end: the doctor report, `cnnkit build` of every stage (masters -> student
notebooks, public tests, autograder zips), then `cnnkit grade` of each stage's bundled sample
submissions (solution, untouched, partial ones with realistic bugs, broken ones), printing a gradebook
(student x question) per stage and where the reports are. `cnnkit demo --train` adds a short real
training run (a small CNN on the offline shapes set, progress bar, saved loss/accuracy plot).
"""

from __future__ import annotations

import time
from pathlib import Path

# Sized for ~35 s on one free CPU core: 10k training images seen 5 times (the shapes need ~40k
# presentations before a CNN clearly wins; measured: 36 s of CPU time, 84.6% test accuracy), with a
# hard budget so a busy machine still finishes in time (with fewer epochs and a lower accuracy).
N_TRAIN, N_VAL, EPOCHS, TIME_LIMIT, BATCH, LR = 10_000, 2_000, 5, 45.0, 64, 3e-3


def small_cnn(in_channels=3, num_classes=10, width=16, image_size=32):
    """Three [conv3x3-BN-ReLU-maxpool] blocks (width, 2*width, 4*width filters), then one linear layer.

    Inputs:
    - in_channels, num_classes: data shape; width: filters of the first block.
    - image_size: H = W of the input (divisible by 8).

    Returns:
    - model: nn.Module mapping (N, in_channels, H, W) to scores (N, num_classes).
    """
    from torch import nn

    layers, c = [], in_channels
    for k in (1, 2, 4):
        layers += [nn.Conv2d(c, width * k, 3, padding=1, bias=False), nn.BatchNorm2d(width * k)]
        layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        c = width * k
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * (image_size // 8) ** 2, num_classes))


def run_demo(
    root: Path, out: Path, train: bool = False, stages: tuple[str, ...] | None = None
) -> int:
    """Doctor report, build every stage, grade the bundled samples; optionally a short training run.

    Inputs:
    - root: the kit's checkout (solutions/, autograder/<stage>/samples/).
    - out: folder for the outputs (created): grades/<stage>/ and, with train, demo_training.png.
    - train: also run the short training demo.
    - stages: which stages to build and grade (default: every stage of the course).

    Returns:
    - exit status: 0 on success, 1 when a stage could not be built or graded.
    """
    from cnnkit.doctor import report
    from cnnkit.grading.stage import NAMES

    stages = NAMES if stages is None else stages
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print(report())
    status = grade_samples(Path(root), out / "grades", stages)
    if train:
        status = max(status, train_demo(out))
    return status


def grade_samples(root: Path, out: Path, stages: tuple[str, ...]) -> int:
    """Build each stage and grade its bundled samples; print one gradebook per stage."""
    from cnnkit.grading.build import build
    from cnnkit.grading.grade import GradingError, grade

    print(f"\nBuilding {', '.join(stages)} (otter assign; deterministic, so git stays clean)")
    t0 = time.perf_counter()
    build(list(stages), root=root)
    print(f"built in {time.perf_counter() - t0:.0f} s")
    status = 0
    for stage in stages:
        samples = root / "autograder" / stage / "samples"
        subs = sorted(p for p in samples.iterdir() if p.is_dir()) if samples.is_dir() else []
        if not subs:
            print(f"\n{stage}: no bundled samples (run `cnnkit build --samples {stage}`)")
            status = 1
            continue
        print(f"\nGrading {len(subs)} sample submissions of {stage} (Docker-free, 2 workers)")
        try:
            result = grade(stage, subs, out=out / stage, workers=2, root=root)
        except GradingError as exc:
            print(f"{stage}: {exc}")
            status = 1
            continue
        print(result.summary())
    return status


def train_demo(out: Path) -> int:
    """Train a small CNN briefly on offline data with a progress bar; save its curves.

    Inputs:
    - out: folder for demo_training.png.

    Returns:
    - exit status: 0 on success, 1 when no offline data could be loaded.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from cnnkit import data, seed_everything
    from cnnkit.runtime import get_device
    from cnnkit.training import evaluate, fit

    print("\nShort training run: a small CNN on cnnkit's shapes set (generated offline)")
    seed_everything(0)
    device = get_device()
    t0 = time.perf_counter()
    try:
        # No augmentation: in a 4-epoch run on a CPU it costs more time than it gives accuracy.
        loaders = data.loaders(
            "shapes",
            batch_size=BATCH,
            augment=False,
            n_train=N_TRAIN,
            n_val=N_VAL,
            n_test=N_VAL,
            device=device,
        )
    except data.DatasetUnavailable as exc:
        print(f"cnnkit demo: no offline data: {exc}")
        return 1
    print(
        f"data: {N_TRAIN} train / {N_VAL} val images, 3x32x32, in {time.perf_counter() - t0:.1f} s"
    )
    model = small_cnn()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params:,} parameters; up to {EPOCHS} epochs or {TIME_LIMIT:g} s")
    history = fit(
        model,
        loaders["train"],
        loaders["val"],
        epochs=EPOCHS,
        time_limit=TIME_LIMIT,
        device=device,
        lr=LR,
        schedule="onecycle",
    )
    test_loss, test_acc = evaluate(model, loaders["test"])
    fig = history.plot()
    fig.suptitle(f"small CNN on shapes ({device.type}): best val acc {history.best_val_acc:.1%}")
    plot_path = (out / "demo_training.png").resolve()
    fig.savefig(plot_path, dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(
        f"\nfinal val accuracy {history.val_acc[-1]:.1%} (best {history.best_val_acc:.1%}, restored); "
        f"test accuracy {test_acc:.1%} (loss {test_loss:.3f}); "
        f"{len(history.train_loss)} epochs in {history.total_time:.1f} s on {device}"
        + (" (stopped by the time limit)" if history.stopped_early else "")
    )
    print(f"loss/accuracy plot: {plot_path}")
    return 0
