"""Notebook 04 (transfer learning): the master's solution runs top to bottom in CI mode, offline, saves
transfer_head.pt, and passes its own test cases; its solution cells hold the library's code."""

import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from execute import execute, text  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MASTER = ROOT / "solutions" / "04_transfer_learning" / "04_transfer_learning.py"


def _weights_seeded():
    import torch

    return (Path(torch.hub.get_dir()) / "checkpoints" / "mobilenet_v2-b0353104.pth").is_file()


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    if not _weights_seeded():
        pytest.skip("offline MobileNetV2 weights not seeded (cnnkit weights seed ...)")
    work = tmp_path_factory.mktemp("nb04")
    t0 = time.perf_counter()
    nb = execute(MASTER, work, timeout=600)  # artifact cases read transfer_head.pt from the cwd
    return nb, work, time.perf_counter() - t0


@pytest.mark.slow
def test_solution_runs_offline_in_ci_mode_and_saves_the_head(executed):
    import torch

    nb, work, seconds = executed
    ckpt = torch.load(work / "transfer_head.pt", map_location="cpu", weights_only=True)
    assert tuple(ckpt["state_dict"]["weight"].shape) == (12, 1280)
    assert ckpt["config"]["arch"] == "mobilenet_v2" and ckpt["config"]["weights"] == "IMAGENET1K_V1"
    # the gaps the README quotes are printed for every label count of both tasks
    gaps = re.findall(
        r"(photo crops|Fashion-MNIST), +(\d+) labels/class: pretrained \(linear probe\) - scratch"
        r" = ([+-][\d.]+) points",
        text(nb),
    )
    assert [(task, n) for task, n, _ in gaps] == [
        (task, n) for task in ("photo crops", "Fashion-MNIST") for n in ("5", "20")
    ], text(nb)[-2000:]
    # the category-level task is learnt: the probe on ImageNet features beats chance (10%) clearly
    probe = re.findall(
        r"Fashion-MNIST, seed 0, +\d+ labels/class: .*linear probe ([\d.]+)", text(nb)
    )
    assert len(probe) == 2 and min(map(float, probe)) > 0.4, probe
    print(f"notebook 04 in CI mode: {seconds:.0f} s, probe - scratch gaps: {gaps}")


@pytest.mark.slow
def test_solution_passes_its_own_cases(executed):
    nb, _, _ = executed
    line = [s for s in text(nb).splitlines() if s.startswith("RAN ")][-1]
    ran, failed = re.match(r"RAN (\d+) FAILED (.*)", line).groups()
    assert failed == "{}", failed
    assert int(ran) >= 20
