"""Notebook IO of the build: read, write, normalise (byte-stable, no outputs) and serialise.

Used by the build (masters -> student notebooks), the sample submissions and the nbgrader export.
Submissions are read elsewhere (cnnkit.grading.exercises, cnnkit.grading.intake), with size guards.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CELL_METADATA_KEYS = ("deletable", "editable", "jupyter", "otter", "tags")


def normalise(nb, stage: str) -> nbformat.NotebookNode:
    """Make a notebook byte-stable: fixed metadata, no outputs, ids derived from cell content.

    Inputs:
    - nb: a notebook node (modified in place and returned).
    - stage: salt for the cell ids.

    Returns:
    - nb: the same node, nbformat 4.5.
    """
    nb.nbformat, nb.nbformat_minor = 4, 5
    meta = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    if "otter" in nb.metadata:
        meta["otter"] = nb.metadata["otter"]
    nb.metadata = nbformat.from_dict(meta)
    seen: dict[str, int] = {}
    for cell in nb.cells:
        if isinstance(cell.source, list):
            cell.source = "".join(cell.source)
        cell.metadata = nbformat.from_dict(
            {k: cell.metadata[k] for k in CELL_METADATA_KEYS if k in cell.metadata}
        )
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        if cell.cell_type != "markdown":
            cell.pop("attachments", None)
        digest = hashlib.sha1(f"{stage}\0{cell.cell_type}\0{cell.source}".encode()).hexdigest()[:8]
        n = seen.get(digest, 0)
        seen[digest] = n + 1
        cell.id = digest if n == 0 else f"{digest}-{n}"
    return nb


def notebook_bytes(nb, stage: str) -> bytes:
    """A normalised, validated notebook as the bytes written to disk."""
    nb = normalise(nb, stage)
    nbformat.validate(nb)
    return (nbformat.writes(nb) + "\n").encode()


def write_notebook(nb, path: Path) -> None:
    """Write a notebook as nbformat does (sorted keys, indent 1) with a final newline."""
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A notebook file of the build (trusted: the kit's own files) as nbformat 4."""
    return nbformat.read(str(path), as_version=4)
