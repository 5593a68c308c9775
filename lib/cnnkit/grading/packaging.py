"""Packaging the library: deterministic zips and the pure-python cnnkit wheel the autograder zips carry.

Both are byte-identical for the same sources (sorted names, fixed timestamps and permissions, no
compression), so rebuilding unchanged masters leaves git clean. `build.py` packs the stage zips with
them, `release.py` the student release, `gradescope.py` its zip.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import stat
import zipfile
from pathlib import Path

from cnnkit.grading.master import BuildError

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
WHEEL_EXCLUDE = ("grading",)
PACKAGE_DATA = ("*.py", "*.json", "*.md", "*.txt")


def _zipinfo(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    mode = 0o755 if name.rsplit("/", 1)[-1] in ("run_autograder", "setup.sh") else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.create_system = 3  # unix, whatever machine builds it
    # Stored, not deflated: deflate output can differ between zlib versions, these files are small.
    info.compress_type = zipfile.ZIP_STORED
    return info


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    """A zip with sorted names, fixed timestamps (1980-01-01), fixed permissions, no compression."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(members):
            zf.writestr(_zipinfo(name), members[name])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def library_version(root: Path) -> str:
    text = (root / "lib" / "cnnkit" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if not m:
        raise BuildError("lib/cnnkit/__init__.py has no __version__")
    return m.group(1)


def read_pyproject(root: Path) -> dict:
    """The checkout's pyproject.toml, parsed (tomllib; tomli on Python 3.10)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def _metadata(root: Path, version: str) -> str:
    project = read_pyproject(root)["project"]
    lines = [
        "Metadata-Version: 2.1",
        "Name: cnnkit",
        f"Version: {version}",
        f"Summary: {project.get('description', '')}",
        f"Requires-Python: {project.get('requires-python', '>=3.10')}",
    ]
    lines += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    for extra, deps in sorted(project.get("optional-dependencies", {}).items()):
        lines.append(f"Provides-Extra: {extra}")
        for d in deps:  # a requirement's own marker joins the extra's
            req, _, marker = d.partition(";")
            marker = f"({marker.strip()}) and " if marker.strip() else ""
            lines.append(f'Requires-Dist: {req.strip()}; {marker}extra == "{extra}"')
    return "\n".join(lines) + "\n"


def library_files(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The package files of lib/cnnkit ("cnnkit/..." -> bytes), without caches and `exclude`'s
    subpackages."""
    lib = root / "lib"
    members: dict[str, bytes] = {}
    for pattern in PACKAGE_DATA:
        for path in (lib / "cnnkit").rglob(pattern):
            rel = path.relative_to(lib)
            if "__pycache__" in rel.parts or rel.parts[1] in exclude:
                continue
            members[rel.as_posix()] = path.read_bytes()
    return members


def build_wheel(root: Path, out_dir: Path) -> Path:
    """A pure-python wheel of lib/cnnkit (without cnnkit.grading), byte-identical for the same sources.

    Inputs:
    - root: the checkout.
    - out_dir: where to write it.

    Returns:
    - path: out_dir / "cnnkit-<version>-py3-none-any.whl".
    """
    version = library_version(root)
    members = library_files(root, exclude=WHEEL_EXCLUDE)
    info = f"cnnkit-{version}.dist-info"
    members[f"{info}/METADATA"] = _metadata(root, version).encode()
    members[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: cnnkit-build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    members[f"{info}/entry_points.txt"] = b"[console_scripts]\ncnnkit = cnnkit.cli:main\n"
    members[f"{info}/top_level.txt"] = b"cnnkit\n"
    record = []
    for name in sorted(members):
        digest = base64.urlsafe_b64encode(hashlib.sha256(members[name]).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(members[name])}")
    record.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = out_dir / f"cnnkit-{version}-py3-none-any.whl"
    write_zip(path, members)
    return path
