import random
import subprocess
import sys

import numpy as np
import torch

import cnnkit


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    cnnkit.seed_everything(123)
    first = draw()
    cnnkit.seed_everything(123)
    assert draw() == first
    cnnkit.seed_everything(124)
    assert draw() != first


def test_get_device_falls_back_to_cpu_with_reason(capsys):
    device = cnnkit.get_device()
    expected = "cuda" if torch.cuda.is_available() else device.type
    assert device.type == expected
    assert "using device" in capsys.readouterr().out


def test_get_device_unavailable_preference_says_why(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device = cnnkit.get_device("cuda")
    assert device.type == "cpu"
    assert "not available" in capsys.readouterr().out


def test_mode_flags_read_environment(monkeypatch):
    monkeypatch.setenv("CNNKIT_GRADING", "1")
    monkeypatch.setenv("CNNKIT_CI", "0")
    assert cnnkit.grading_mode() and not cnnkit.ci_mode()


def test_import_cnnkit_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, cnnkit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_seed_everything_leaves_torch_unimported_where_nothing_imported_it():
    """A numpy-only notebook (stages 01-02) does not pay torch's import when it seeds."""
    code = (
        "import random, sys\n"
        "import numpy as np\n"
        "import cnnkit\n"
        "cnnkit.seed_everything(5)\n"
        "first = random.random(), np.random.rand()\n"
        "cnnkit.seed_everything(5)\n"
        "assert (random.random(), np.random.rand()) == first\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
