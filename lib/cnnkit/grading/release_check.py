"""What a student release must not hold, and the check of a written release (`check_release`).

`release.py` writes the release and then runs `check_release` over it (and over its zip): the leak
scanner with the release's secrets (the masters' solution lines and hidden cases, the library's
exercise lines of the current and later stages), plus what a line scanner cannot see: files identical
to a reference file (anything under autograder/ or solutions/ that is not also in assignments/),
array or checkpoint files not built into the assignments, and junk (caches, OS and editor files).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cnnkit.grading import leaks

# Names never shipped, wherever they sit (editor, OS and build junk).
JUNK_NAMES = {"__pycache__", "__MACOSX", ".ipynb_checkpoints", ".DS_Store", "Thumbs.db"}
JUNK_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".orig", ".rej", "~")
# Files that can hold numbers (parameters, expected values): only allowed byte-identical to a file of
# the built assignments.
ARRAY_SUFFIXES = (
    ".npy",
    ".npz",
    ".pt",
    ".pth",
    ".pkl",
    ".pickle",
    ".h5",
    ".hdf5",
    ".ckpt",
    ".joblib",
)


def is_junk(rel: Path) -> bool:
    """True for paths that never ship: caches, bytecode, OS/editor droppings, hidden files."""
    return any(
        part in JUNK_NAMES or part.endswith(JUNK_SUFFIXES) or part.startswith(".")
        for part in rel.parts
    )


def release_secrets(stage: str, root: Path) -> leaks.Secrets:
    """Secrets a release of `stage` must not contain.

    Masters of every stage give solution lines and hidden cases; the library gives the exercise lines
    of stages >= `stage`. Exercise code of earlier stages ships in the library on purpose, so master
    solution lines equal to it are not secrets of this release.

    Inputs:
    - stage: the current stage.
    - root: the checkout.

    Returns:
    - secrets: a leaks.Secrets.
    """
    region_stages = sorted({s for _, s, _, _ in leaks.library_regions(root)})
    later = [s for s in region_stages if s >= stage]
    secrets = leaks.collect_secrets(root, library_stages=later)
    released = set()
    for _path, s, node, lines in leaks.library_regions(root):
        if s < stage:
            released.update(
                leaks.normalise_line(ln) for ln in lines[node.lineno - 1 : node.end_lineno]
            )
    secrets.drop_public(released)
    return secrets


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reference_files(root: Path) -> dict[str, str]:
    """sha256 -> origin of every file under autograder/ and solutions/ students must never get
    (reference notebooks, sample submissions, trained parameters, zips), minus files that also ship
    in assignments/ (identical bytes there are public)."""
    public = {
        _sha256(p)
        for p in sorted((root / "assignments").rglob("*"))
        if p.is_file() and not is_junk(p.relative_to(root))
    }
    refs = {}
    for top in ("autograder", "solutions"):
        for p in sorted((root / top).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.stat().st_size > 0:
                digest = _sha256(p)
                if digest not in public:
                    refs.setdefault(digest, str(p.relative_to(root)))
    return refs


def file_findings(tree: Path, root: Path) -> list[leaks.Finding]:
    """Findings the line scanner cannot see: reference files by content and foreign array files.

    Inputs:
    - tree: the release folder.
    - root: the checkout.

    Returns:
    - findings: a file identical to one under autograder/ or solutions/; an array/pickle/checkpoint
      file not byte-identical to a file of the built assignments; junk (caches, __MACOSX, dotfiles).
    """
    refs = reference_files(root)
    public = {_sha256(p) for p in sorted((root / "assignments").rglob("*")) if p.is_file()}
    findings = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        rel = path.relative_to(tree)
        digest = _sha256(path)
        if digest in refs:
            findings.append(
                leaks.Finding(path, "whole file", "reference file", rel.name, refs[digest])
            )
        elif path.suffix.lower() in ARRAY_SUFFIXES and digest not in public:
            findings.append(
                leaks.Finding(path, "whole file", "array/checkpoint file", rel.name, "not built")
            )
        if is_junk(rel):
            findings.append(leaks.Finding(path, "path", "build junk", str(rel), "release rules"))
    return findings


def check_release(tree: Path, stage: str, root: Path) -> list[leaks.Finding]:
    """Every leak finding for a release of `stage` written to `tree` (empty: clean).

    Inputs:
    - tree: the release folder (zip members inside it are scanned too).
    - stage: the stage it was released for.
    - root: the checkout.

    Returns:
    - findings: list of leaks.Finding (line secrets, markers, hidden case names, reference files).
    """
    return leaks.scan(tree, release_secrets(stage, root)) + file_findings(tree, root)
