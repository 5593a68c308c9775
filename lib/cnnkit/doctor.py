"""`cnnkit doctor`: one screen that says whether this machine is ready for the course, and what to fix."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _section(title: str) -> str:
    return f"\n{title}\n{'-' * len(title)}"


def report() -> str:
    """A readable report of versions, device, switches, datasets and weights.

    Returns:
    - text: lines for the terminal; every missing dataset or weight file comes with how to get it.
    """
    import cnnkit
    from cnnkit import data
    from cnnkit.runtime import ci_mode, grading_mode

    lines = ["cnnkit doctor"]
    lines.append(_section("Versions"))
    lines.append(
        f"cnnkit        {cnnkit.__version__}  (imported from {os.path.dirname(cnnkit.__file__)})"
    )
    lines.append(f"python        {platform.python_version()}  ({sys.executable})")
    for label, dist in [
        ("numpy", "numpy"),
        ("torch", "torch"),
        ("torchvision", "torchvision"),
        ("otter-grader", "otter-grader"),
        ("scikit-learn", "scikit-learn"),
        ("scikit-image", "scikit-image"),
    ]:
        lines.append(f"{label:<13} {_version(dist)}")

    lines.append(_section("Device"))
    try:
        import torch

        device = cnnkit.get_device(verbose=False)
        if device.type == "cuda":
            why = f"CUDA GPU: {torch.cuda.get_device_name(device)}"
        elif device.type == "mps":
            why = "Apple GPU (MPS)"
        else:
            why = "no GPU found (torch.cuda.is_available() is False)"
        if os.environ.get("CNNKIT_DEVICE"):
            why += f"; CNNKIT_DEVICE={os.environ['CNNKIT_DEVICE']}"
        lines.append(f"device        {device}: {why}")
        lines.append(
            f"torch threads {torch.get_num_threads()}  (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"
        )
    except ImportError as exc:
        lines.append(f"device        unknown: torch does not import ({exc})")

    lines.append(_section("Modes"))
    lines.append(
        f"CI mode       {'on' if ci_mode() else 'off'}  (CNNKIT_CI: small data, short budgets)"
    )
    lines.append(
        f"grading mode  {'on' if grading_mode() else 'off'}  (CNNKIT_GRADING: heavy cells skip)"
    )
    lines.append(f"data cache    {data.cache_dir()}  (CNNKIT_DATA)")
    lines.append(f"downloads     {'on' if data.downloads_enabled() else 'off (CNNKIT_OFFLINE)'}")
    if not data.system_files_enabled():
        lines.append("system files  off (CNNKIT_NO_SYSTEM_DATA)")

    lines.append(_section("Datasets (offline now?)"))
    for row in data.list_datasets():
        mark = "yes" if row["available"] else "no "
        lines.append(f"{row['name']:<14} {mark}  {row['source']}")
        if not row["available"]:
            lines.append(f"{'':<18} how to get it: {row['how_to_get']}")

    lines.append(_section("Pretrained weights (in torch's cache?)"))
    try:
        from cnnkit import pretrained

        for row in pretrained.status():
            mark = "yes" if row["available"] else "no "
            kind = "offline-capable" if row["offline_capable"] else "online only"
            lines.append(f"{row['name']:<28} {mark}  {kind}  {row['file']}")
            if not row["available"]:
                lines.append(f"{'':<32} how to get it: {row['how_to_get']}")
    except ImportError as exc:
        lines.append(f"unknown: torchvision does not import ({exc})")
    return "\n".join(lines)
