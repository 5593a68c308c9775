"""What the cache key, the record reader and the post-processing guard against (no kernel runs)."""

import json
import shutil
from pathlib import Path

import cnnkit
from cnnkit.grading import post
from cnnkit.grading.autograder import _folder_digest
from cnnkit.grading.batch import _cacheable
from cnnkit.grading.intake import Submission
from cnnkit.grading.runs import grader_version

PKG = Path(cnnkit.__file__).resolve().parent


def test_grader_version_covers_the_library_the_kernel_imports(tmp_path):
    copy = tmp_path / "cnnkit"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = grader_version(copy)
    assert before == grader_version(copy)  # deterministic
    layer = copy / "numeric" / "fast_layers.py"
    layer.write_text(layer.read_text() + "\n# a changed reference layer\n")
    assert grader_version(copy) != before


def test_reference_folder_digest_changes_with_the_solution_artifact(tmp_path):
    (tmp_path / "01_backprop.ipynb").write_text("{}")
    (tmp_path / "twolayer_params.npz").write_bytes(b"a" * 10)
    before = _folder_digest(tmp_path)
    (tmp_path / "twolayer_params.npz").write_bytes(b"b" * 10)
    assert _folder_digest(tmp_path) != before


def _row(message: str, status: str = "Completed") -> dict:
    return {"status": status, "cases": {"t": {"message": message}}}


def test_crashed_or_timed_out_cases_are_never_cached():
    assert _cacheable(_row(""))
    assert _cacheable(_row("AssertionError: db: relative error 0.3"))
    assert not _cacheable(_row("TimeoutError: the case did not finish"))
    assert not _cacheable(_row("the artifact checks did not run: killed by signal 9"))


def test_one_odd_notebook_does_not_stop_the_class_report(tmp_path):
    root = Path(__file__).resolve().parents[2]
    stage = "01_backprop"
    good = tmp_path / "good.ipynb"
    shutil.copy(root / "autograder" / stage / "solution" / f"{stage}.ipynb", good)
    odd = tmp_path / "odd.ipynb"
    odd.write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [{"cell_type": "code", "metadata": [1], "source": [1], "outputs": []}],
            }
        )
    )
    subs = [Submission("good.ipynb", good, "ipynb"), Submission("odd.ipynb", odd, "ipynb")]
    data = post.submission_code(stage, root, subs)
    assert "good.ipynb" in data["code"] and data["code"]["good.ipynb"]
    assert "odd.ipynb" in data["unreadable"]


def test_records_naming_one_array_many_times_stop_at_the_total_budget(tmp_path):
    import numpy as np

    from cnnkit.grading.records import load_records

    np.save(tmp_path / "a.npy", np.zeros(128 * 1024))  # 1 MiB
    rec = {"name": "x", "kind": "close", "rtol": 0.0, "atol": 0.0, "npy": "a.npy"}
    (tmp_path / "records.json").write_text(
        json.dumps(
            {
                "small": {"error": None, "records": [rec] * 2},
                "greedy": {"error": None, "records": [rec] * 50},
            }
        )
    )
    got = load_records(tmp_path, max_total=4 * 1024**2)
    assert got["small"]["error"] is None and len(got["small"]["records"]) == 2
    assert "too large" in got["greedy"]["error"]
