"""The leak scanner: planted solution lines and hidden cases are found wherever they hide."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toystage import SOURCE, STAGE  # noqa: E402

from cnnkit.grading import leaks, master  # noqa: E402
from cnnkit.grading.paths import repo_root  # noqa: E402

SOLUTION_LINE = "squared_value_of_x = np.multiply(x, x)"
HIDDEN_NAME = "test_affine_hidden_values"


@pytest.fixture(scope="module")
def secrets(tmp_path_factory) -> leaks.Secrets:
    root = tmp_path_factory.mktemp("leakroot")
    shutil.copytree(SOURCE, root / "solutions" / STAGE)
    (root / "lib" / "cnnkit").mkdir(parents=True)  # no library regions: masters only
    return leaks.collect_secrets(root)


def _clean_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy\nImplement `square_plus_one`."),
        nbformat.v4.new_code_cell(
            'def square_plus_one(x):\n    """Return x squared plus one."""\n    ...'
        ),
    ]
    return nb


def _tree(tmp_path: Path, nb) -> Path:
    tree = tmp_path / "assignments" / STAGE
    (tree / "tests").mkdir(parents=True)
    nbformat.write(nb, str(tree / f"{STAGE}.ipynb"))
    (tree / "tests" / "q1.py").write_text(
        "from otter.test_files import test_case\n\n@test_case(points=1, hidden=False)\n"
        "def test_square_plus_one_public(square_plus_one):\n    assert square_plus_one(3.0) == 10.0\n"
    )
    return tree


def test_secrets_hold_solution_lines_and_hidden_cases_but_not_public_code(secrets):
    assert secrets.lines[SOLUTION_LINE].kind == "solution line"
    assert secrets.lines[SOLUTION_LINE].origin.startswith(f"solutions/{STAGE}/{STAGE}.py:")
    assert HIDDEN_NAME in secrets.names
    assert "test_square_plus_one_public" not in secrets.names
    # the hidden case's own code is secret, lines shared with public cases are not
    hidden_line = secrets.lines["x = checks.rng().standard_normal((4, 5))"]
    assert hidden_line.origin.startswith(f"solutions/{STAGE}/{STAGE}.cases.py:")  # the sibling file
    assert "from cnnkit import checks" not in secrets.lines
    assert "def square_plus_one(x):" not in secrets.lines  # the signature is public


def test_clean_tree_has_no_findings(tmp_path, secrets):
    assert leaks.scan(_tree(tmp_path, _clean_notebook()), secrets) == []


def test_solution_line_in_a_cell_is_found(tmp_path, secrets):
    nb = _clean_notebook()
    nb.cells[1].source = nb.cells[1].source.replace("    ...", f"    {SOLUTION_LINE}\n    ...")
    found = leaks.scan(_tree(tmp_path, nb), secrets)
    assert [(f.kind, f.where, f.path.name) for f in found] == [
        ("solution line", "cells[1].source line 3", f"{STAGE}.ipynb")
    ]
    assert f"{STAGE}.py:" in str(found[0])


def test_solution_line_pasted_as_a_comment_is_found(tmp_path, secrets):
    tree = _tree(tmp_path, _clean_notebook())
    (tree / "hints.py").write_text(f"# hint:\n#    {SOLUTION_LINE}\n")
    found = leaks.scan(tree, secrets)
    assert [(f.kind, f.path.name, f.where) for f in found] == [
        ("solution line", "hints.py", "line 2")
    ]


def test_solution_line_in_metadata_is_found(tmp_path, secrets):
    nb = _clean_notebook()
    nb.metadata["widgets"] = {"state": {"note": f"cached: {SOLUTION_LINE}"}}
    found = leaks.scan(_tree(tmp_path, nb), secrets)
    assert [(f.kind, f.where) for f in found] == [
        ("solution line", "metadata.widgets.state.note line 1")
    ]


def test_solution_line_in_a_traceback_output_is_found(tmp_path, secrets):
    nb = _clean_notebook()
    nb.cells[1].outputs = [
        nbformat.v4.new_output(
            "error",
            ename="ValueError",
            evalue="boom",
            traceback=[f"\x1b[32m---> 12\x1b[39m     {SOLUTION_LINE}  # colored by IPython"],
        )
    ]
    found = leaks.scan(_tree(tmp_path, nb), secrets)
    assert len(found) == 1 and found[0].where.startswith("cells[1].outputs[0].traceback")


def test_hidden_case_in_a_test_file_is_found(tmp_path, secrets):
    tree = _tree(tmp_path, _clean_notebook())
    leaked = (
        "\n@test_case(points=3, hidden=True)\ndef test_affine_hidden_values(affine):\n"
        "    x, w, b = (rng.standard_normal((5, 2, 3)), rng.standard_normal((6, 7)), "
        "rng.standard_normal(7))\n"
    )
    with open(tree / "tests" / "q1.py", "a") as f:
        f.write(leaked)
    found = leaks.scan(tree, secrets)
    kinds = {(f.kind, f.path.name) for f in found}
    assert ("hidden case name", "q1.py") in kinds
    assert ("hidden test case", "q1.py") in kinds  # the hidden=True flag itself
    assert ("hidden case", "q1.py") in kinds  # its body, as otter formats it


@pytest.mark.parametrize(
    "text,kind",
    [
        ("    # BEGIN SOLUTION", "solution marker"),
        ("# HIDDEN", "hidden-test marker"),
        ("hidden: true", "hidden-test config"),
        ("# BEGIN EXERCISE 01_backprop", "exercise marker"),
    ],
)
def test_markers_are_found(tmp_path, secrets, text, kind):
    nb = _clean_notebook()
    nb.cells.append(nbformat.v4.new_raw_cell(text))
    found = leaks.scan(_tree(tmp_path, nb), secrets)
    assert [f.kind for f in found] == [kind]


def test_secret_inside_a_zip_is_found(tmp_path, secrets):
    tree = tmp_path / "release"
    tree.mkdir()
    with zipfile.ZipFile(tree / "bundle.zip", "w") as zf:
        zf.writestr("notes/answer.py", f"def f(x):\n    {SOLUTION_LINE}\n")
    found = leaks.scan(tree, secrets)
    assert [(f.kind, f.where) for f in found] == [("solution line", "notes/answer.py! line 2")]


def test_markdown_never_makes_a_solution_line_public(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(SOURCE, root / "solutions" / STAGE)
    (root / "lib" / "cnnkit").mkdir(parents=True)
    master = root / "solutions" / STAGE / f"{STAGE}.py"
    master.write_text(master.read_text() + f"\n# %% [markdown]\n#     {SOLUTION_LINE}\n")
    assert SOLUTION_LINE in leaks.collect_secrets(root).lines


def test_missing_inline_markers_are_reported_with_the_line(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "# %% [raw]\n# # BEGIN QUESTION\n# name: q1\n\n# %% [raw]\n# # BEGIN SOLUTION\n\n"
        "# %%\ndef f(x):\n    return x + 1\n\n# %% [raw]\n# # END SOLUTION\n\n"
        "# %% [raw]\n# # END QUESTION\n"
    )
    problems = master.missing_inline_markers(master.read(path))
    assert len(problems) == 1 and problems[0].startswith(f"{path}:9: solution cell has no inline")
    # such a cell ships whole, so every line of it is a secret
    secrets = leaks.Secrets()
    leaks._master_secrets(path, tmp_path, secrets, set())
    assert "return x + 1" in secrets.lines


def test_repo_assignments_hold_no_secret():
    root = repo_root()
    tree = root / "assignments"
    if not any(tree.rglob("*.ipynb")):
        pytest.skip("nothing built yet (run `cnnkit build`)")
    findings = leaks.scan(tree, leaks.collect_secrets(root))
    assert findings == [], "\n".join(map(str, findings[:30]))


def test_notebook_json_is_searched_not_just_text(tmp_path, secrets):
    """A secret split across a notebook's source list is still found (lines are joined first)."""
    nb = json.loads(nbformat.writes(_clean_notebook()))
    nb["cells"][1]["source"] = [
        "def square_plus_one(x):\n",
        "    squared_value_of_x ",
        "= np.multiply(x, x)\n",
    ]
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "nb.ipynb").write_text(json.dumps(nb))
    assert [f.kind for f in leaks.scan(tree, secrets)] == ["solution line"]


def test_library_code_outside_regions_is_not_secret(tmp_path):
    lib = tmp_path / "lib" / "cnnkit"
    lib.mkdir(parents=True)
    (lib / "mod.py").write_text(
        "def helper(cache):\n    x_shape, weights = cache\n    return weights\n\n\n"
        "# BEGIN EXERCISE 01_backprop\n"
        'def layer(cache):\n    """Doc line that stays."""\n    x_shape, weights = cache\n'
        "    return weights.sum(axis=0) * 2\n"
        "# END EXERCISE\n"
    )
    secrets = leaks.collect_secrets(tmp_path)
    assert "return weights.sum(axis=0) * 2" in secrets.lines
    assert secrets.lines["return weights.sum(axis=0) * 2"].origin == "lib/cnnkit/mod.py:10"
    assert "x_shape, weights = cache" not in secrets.lines  # ships in helper() anyway
    assert '"""Doc line that stays."""' not in secrets.lines
    only_02 = leaks.collect_secrets(tmp_path, library_stages=["02_conv_layers"])
    assert "return weights.sum(axis=0) * 2" not in only_02.lines
