"""`cnnkit doctor`: versions, device, switches, datasets and weights with how to get them."""

import os
from importlib import metadata

import cnnkit
from cnnkit import doctor


def test_report_names_versions_device_datasets_and_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNKIT_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("CNNKIT_GRADING", "1")
    text = doctor.report()
    assert f"cnnkit        {cnnkit.__version__}" in text
    assert os.path.dirname(cnnkit.__file__) in text
    for dist in ("numpy", "torch", "torchvision", "otter-grader"):
        assert metadata.version(dist) in text, dist
    device = cnnkit.get_device(verbose=False)
    assert f"device        {device}:" in text
    assert "grading mode  on" in text and "CI mode" in text
    assert str(tmp_path / "cache") in text
    for name in ("fashion_mnist", "cifar10", "shapes", "digits", "photos"):
        assert name in text
    # Nothing offline in the empty cache: each missing thing says how to get it.
    assert "apt-get install dataset-fashion-mnist" in text
    assert "cnnkit weights seed" in text
    assert "mobilenet_v2.IMAGENET1K_V1" in text and "resnet18.IMAGENET1K_V1" in text
