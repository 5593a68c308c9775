"""What a submission brings is bounded before the grader reads it: size, number of files, hashing."""

import tracemalloc
import zipfile
from pathlib import Path

import nbformat
import pytest

from cnnkit.grading.autograder import artifact_names
from cnnkit.grading.errors import SubmissionError
from cnnkit.grading.intake import (
    MAX_SUBMISSION_BYTES,
    MAX_SUBMISSION_FILES,
    Submission,
    content_hash,
    materialize,
)

ROOT = Path(__file__).resolve().parents[2]


def _folder(path: Path) -> Path:
    path.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), path / "n.ipynb")
    return path


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        f.truncate(size)  # no block written


def _peak(fn) -> int:
    """Peak Python allocation (bytes) while fn runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_hashing_reads_in_chunks(tmp_path):
    folder = _folder(tmp_path / "s")
    _sparse(folder / "big.bin", 300 * 1024**2)  # under the limit: hashed, copied
    sub = Submission("s", folder, "folder", "n.ipynb")
    first = content_hash(sub)
    assert _peak(lambda: content_hash(sub)) < 8 * 1024**2
    assert content_hash(sub) == first
    with open(folder / "big.bin", "r+b") as f:  # one byte changes the key
        f.seek(123 * 1024**2)
        f.write(b"x")
    assert content_hash(sub) != first


def test_an_oversized_sparse_folder_is_refused_unread(tmp_path):
    folder = _folder(tmp_path / "s")
    _sparse(folder / "big.bin", 2 * 1024**3)
    assert (folder / "big.bin").stat().st_size > MAX_SUBMISSION_BYTES
    sub = Submission("s", folder, "folder", "n.ipynb")
    assert _peak(lambda: content_hash(sub)) < 1024**2
    dest = tmp_path / "dest"
    with pytest.raises(SubmissionError, match="too large"):
        materialize(sub, dest)
    assert not (dest / "big.bin").exists()


def test_too_many_files_are_refused_in_folders_and_zips(tmp_path):
    folder = _folder(tmp_path / "s")
    for i in range(MAX_SUBMISSION_FILES + 1):
        (folder / f"f{i}.txt").write_text("x")
    with pytest.raises(SubmissionError, match="more than"):
        materialize(Submission("s", folder, "folder", "n.ipynb"), tmp_path / "d1")
    zpath = tmp_path / "s.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f.name)
    with pytest.raises(SubmissionError, match="more than"):
        materialize(Submission("s.zip", zpath, "zip"), tmp_path / "d2")


def test_a_zip_that_unpacks_past_the_limit_is_refused(tmp_path):
    zpath = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("n.ipynb", nbformat.writes(nbformat.v4.new_notebook()))
        with zf.open("zeros.bin", "w", force_zip64=True) as f:
            chunk = bytes(1024**2)
            for _ in range(MAX_SUBMISSION_BYTES // len(chunk) + 1):
                f.write(chunk)
    assert zpath.stat().st_size < 4 * 1024**2
    with pytest.raises(SubmissionError, match="too large"):
        materialize(Submission("bomb.zip", zpath, "zip"), tmp_path / "d")


@pytest.mark.parametrize(
    "stage, names",
    [
        ("01_backprop", ["twolayer_params.npz"]),
        ("03b_cnn_experiments", ["cnn_model.pt2"]),
        ("04_transfer_learning", ["transfer_head.pt"]),
    ],
)
def test_artifact_names_come_from_the_built_stage(stage, names):
    base = ROOT / "autograder" / stage
    if not (base / "solution").is_dir():
        pytest.skip(f"{stage} is not built")
    assert artifact_names(base) == names


def test_the_class_report_does_not_read_an_oversized_notebook(tmp_path):
    from cnnkit.grading.exercises import read_notebook_json

    folder = tmp_path / "s"
    folder.mkdir()
    _sparse(folder / "n.ipynb", 2 * 1024**3)
    for path in (folder, folder / "n.ipynb"):
        with pytest.raises(ValueError, match="too large"):
            read_notebook_json(path)  # refused by its size, before any read
