"""The offline data an autograder zip carries, so that grading never downloads.

Gradescope builds its grading image once from the zip (`setup.sh`) and then starts a container per
submission: a case that downloads at grading time fetches in every container, and a mirror outage
zeroes it for everyone. So both zips of a stage (otter's `autograder.zip`, `gradescope.zip`) carry,
under `offline/`, the data their cases use, declared in `solutions/<stage>/samples.yml`:

    grading_data:
      - fashion_mnist/test                  # the Fashion-MNIST test images (held-out accuracy)
      - weights/mobilenet_v2.IMAGENET1K_V1  # torchvision's MobileNetV2 file (the transfer head)

The pack is laid out as the data registry's cache (`CNNKIT_DATA`, see cnnkit.data) and torch's hub
dir (`TORCH_HOME`, where torchvision looks before downloading), so the usual loading code finds it
first; `environment()` gives those variables plus CNNKIT_OFFLINE=1 (a download is an error, never a
silent fetch). Every file is verified when packed (Fashion-MNIST by the sha256 of its images, stored
uncompressed so the zips are byte-identical whatever gzip made the source; weights by the kit's
sha256) and listed in `offline/SHA256SUMS`, which the zips' setup checks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PACK_DIR = "offline"
SUMS = "SHA256SUMS"
DATASET_PARTS = {"fashion_mnist": ("train", "test")}


class OfflineDataError(RuntimeError):
    """A declared grading dataset is unknown, missing on the build machine or fails verification."""


def _fashion_mnist(part: str) -> dict[str, bytes]:
    """The part's two IDX files, uncompressed (byte-identical whichever gzip the source used)."""
    import gzip

    from cnnkit.data import fashion_mnist

    found = fashion_mnist.locate(part)
    if found is None:
        raise OfflineDataError(
            f"fashion_mnist/{part} is not on this machine. Get it with: {fashion_mnist.how_to_get()}"
        )
    out = {}
    for name in fashion_mnist.FILES[part]:
        path = fashion_mnist.file_in(found[0], name)
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        raw = name.removesuffix(".gz")
        if hashlib.sha256(data).hexdigest() != fashion_mnist.CONTENT_SHA256[raw]:
            raise OfflineDataError(f"{path} is not Fashion-MNIST's {raw}: corrupt copy")
        out[f"{fashion_mnist.NAME}/{raw}"] = data
    return out


def _weights(name: str) -> dict[str, bytes]:
    from cnnkit import pretrained

    if name not in pretrained.KNOWN or not pretrained.KNOWN[name][2]:
        raise OfflineDataError(f"weights/{name}: not weights the kit can verify offline")
    row = next(r for r in pretrained.status() if r["name"] == name)
    path = Path(row["file"])
    if not path.is_file():
        raise OfflineDataError(f"weights/{name}: {path} is missing. Get it: {row['how_to_get']}")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != pretrained.KNOWN[name][2]:
        raise OfflineDataError(f"{path} fails the kit's sha256: corrupt copy")
    return {f"torch/hub/checkpoints/{path.name}": data}


def pack_members(entries: list[str]) -> dict[str, bytes]:
    """The verified files of a pack and its SHA256SUMS, keyed by path inside `offline/`.

    Inputs:
    - entries: samples.yml `grading_data` entries (cnnkit.grading.stage.StageConfig).

    Returns:
    - members: {} when nothing is declared; else the files plus "SHA256SUMS" (sha256sum's format).
    """
    files: dict[str, bytes] = {}
    for entry in entries:
        kind, _, what = entry.partition("/")
        if kind == "weights":
            files.update(_weights(what))
        elif what in DATASET_PARTS.get(kind, ()):
            files.update(_fashion_mnist(what))
        else:
            raise OfflineDataError(
                f"unknown grading_data entry {entry!r}: use fashion_mnist/<train|test> or "
                "weights/<model>.<enum member>"
            )
    if not files:
        return {}
    sums = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in sorted(files))
    return {**files, SUMS: sums.encode()}


def verify(pack: Path) -> list[str]:
    """Check a pack against its SHA256SUMS (what `sha256sum -c` does, for the Python side).

    Inputs:
    - pack: the offline/ folder.

    Returns:
    - problems: one line per missing or altered file; [] when the pack is intact (or absent).
    """
    sums = pack / SUMS
    if not sums.is_file():
        return []
    problems = []
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        path = pack / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: sha256 differs from SHA256SUMS")
    return problems


def environment(pack: str | Path) -> dict[str, str]:
    """Variables under which the registry and torchvision find the pack first and never download.

    Inputs:
    - pack: the offline/ folder (a path, or a shell expression for a script).

    Returns:
    - env: CNNKIT_DATA, TORCH_HOME and CNNKIT_OFFLINE.
    """
    return {
        "CNNKIT_DATA": str(pack),
        "TORCH_HOME": f"{pack}/torch",
        "CNNKIT_OFFLINE": "1",
    }


def shell_exports(pack: str) -> str:
    """`export ...` lines of environment(pack) for a shell script."""
    return "".join(f'export {k}="{v}"\n' for k, v in environment(pack).items())
