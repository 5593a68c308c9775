"""`cnnkit build` on the toy stage (tests/grading/toy/00_toy/, authored as a course stage; see
toystage.py): student/autograder outputs, determinism, leak refusal, drift."""

from __future__ import annotations

import ast
import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toystage import CASES, MASTER, STAGE, make_root  # noqa: E402

from cnnkit.grading import build as B
from cnnkit.grading import leaks, packaging
from cnnkit.grading.paths import repo_root, stage_dirs
from cnnkit.grading.stage import NAMES as STAGES

SECRET_LINES = (
    "squared_value_of_x = np.multiply(x, x)",
    "return squared_value_of_x + 1",
    "out_matrix_product = x.reshape(x.shape[0], -1) @ w",
)
HIDDEN = ("test_square_plus_one_secret_inputs", "test_affine_hidden_values", "test_params_artifact")
PUBLIC = ("test_square_plus_one_public", "test_affine_shape")


def tree_bytes(root: Path, *subdirs: str) -> dict[str, bytes]:
    out = {}
    for sub in subdirs:
        for p in sorted((root / sub).rglob("*")):
            if p.is_file():
                out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


@pytest.fixture
def toy_root(toy) -> Path:
    """The toy stage built once per run by conftest.py (read only)."""
    return toy


def test_student_notebook_has_no_solution_and_no_hidden_case(toy_root):
    dirs = stage_dirs(STAGE, toy_root)
    text = dirs.student_nb.read_text()
    for line in SECRET_LINES:
        assert line not in text
    for name in HIDDEN:
        assert name not in text
    nb = json.loads(text)
    sources = ["".join(c["source"]) for c in nb["cells"]]
    # signatures and docstrings stay, bodies become otter's `...`
    sq = next(s for s in sources if s.startswith("def square_plus_one"))
    assert '"""Return x squared plus one.' in sq and sq.rstrip().endswith("...")
    tests = {p.name: p.read_text() for p in dirs.public_tests.glob("*.py")}
    assert sorted(tests) == ["q1.py", "q2.py", "q3.py"]  # q3 has only its hidden artefact case
    for name in PUBLIC:
        assert any(f"def {name}(" in t for t in tests.values())
    for name in HIDDEN:
        assert not any(name in t for t in tests.values())
    assert leaks.scan(dirs.assignment, leaks.collect_secrets(toy_root)) == []


def test_student_notebook_layout(toy_root):
    nb = json.loads(stage_dirs(STAGE, toy_root).student_nb.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert set(nb["metadata"]) == {"kernelspec", "language_info", "otter"}
    code = [("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"]
    assert f'bootstrap("{STAGE}")' in code[0]
    assert "otter.Notebook(" in code[1]  # after the bootstrap, which installs otter on Colab
    assert all(c.get("outputs", []) == [] for c in nb["cells"])
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])
    export = next(s for s in code if "grader.export(" in s)
    assert "pdf=False" in export and "toy_params.npz" in export
    train = next(c for c in nb["cells"] if "np.savez" in "".join(c["source"]))
    assert train["metadata"]["tags"] == ["otter_ignore"]


def test_colab_variant(toy_root):
    dirs = stage_dirs(STAGE, toy_root)
    nb = json.loads(dirs.colab_nb.read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any("grader.export(" in s for s in code)
    boot = next(k for k, s in enumerate(code) if "bootstrap(" in s)
    init = next(k for k, s in enumerate(code) if "otter.Notebook(" in s)
    assert boot < init
    assert "pip" in code[boot] and "CNNKIT_INSTALL_SPEC" in code[boot]
    compile(code[boot], "bootstrap-cell", "exec")
    for line in SECRET_LINES:
        assert line not in json.dumps(nb)


def test_autograder_zip_holds_every_case_and_is_normalised(toy_root):
    dirs = stage_dirs(STAGE, toy_root)
    with zipfile.ZipFile(dirs.autograder_zip) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        tests = "".join(zf.read(f"tests/q{k}.py").decode() for k in (1, 2, 3))
        env = zf.read("environment.yml").decode()
        reqs = zf.read("requirements.txt").decode()
        wheel_name = next(n for n in names if n.endswith(".whl"))
        wheel = zf.read(wheel_name)
    for name in PUBLIC + HIDDEN:
        assert f"def {name}(" in tests
    assert "hidden=True" in tests
    assert "download.pytorch.org/whl/cpu" in env and "torch" in env
    assert f"/autograder/source/{wheel_name}" in env and f"/autograder/source/{wheel_name}" in reqs
    config = json.loads((dirs.autograder / "otter_config.json").read_text())
    assert config["assignment_name"] == STAGE and config["pdf"] is False
    sol = dirs.solution_nb.read_text()
    assert SECRET_LINES[0] in sol
    assert all(c.get("outputs", []) == [] for c in json.loads(sol)["cells"])
    # the wheel is a valid, importable-looking cnnkit distribution without the instructor tools
    import io

    with zipfile.ZipFile(io.BytesIO(wheel)) as wz:
        members = wz.namelist()
        assert "cnnkit/checks.py" in members and "cnnkit/colab.py" in members
        assert not any(m.startswith("cnnkit/grading/") for m in members)
        record = wz.read(next(m for m in members if m.endswith("RECORD"))).decode()
    assert all(m in record for m in members)


def test_rebuild_is_byte_identical(tmp_path):
    root = make_root(tmp_path / "repo")
    B.build([STAGE], root)
    before = tree_bytes(root, "assignments", "autograder", "solutions")
    B.build([STAGE], root)
    after = tree_bytes(root, "assignments", "autograder", "solutions")
    assert sorted(before) == sorted(after)
    changed = [k for k in before if before[k] != after[k]]
    assert changed == []
    # a fresh checkout elsewhere builds the same bytes (no absolute paths, times or random ids)
    other = make_root(tmp_path / "elsewhere")
    B.build([STAGE], other)
    assert tree_bytes(other, "assignments", "autograder") == tree_bytes(
        root, "assignments", "autograder"
    )


def _master_text() -> str:
    return MASTER.read_text(encoding="utf-8")


def _explicit_solution_block(text: str) -> str:
    """q1's exercise cell inside an explicit SOLUTION block (the otter format is a master too)."""
    cell = "# %%\ndef square_plus_one(x):"
    assert cell in text
    text = text.replace(cell, "# %% [raw]\n# # BEGIN SOLUTION\n\n" + cell, 1)
    end = "    # END SOLUTION\n\n\n# %%\n"
    assert end in text
    return text.replace(end, "    # END SOLUTION\n\n\n# %% [raw]\n# # END SOLUTION\n\n# %%\n", 1)


def test_solution_cell_without_inline_markers_fails_the_build(tmp_path):
    text = _explicit_solution_block(_master_text())
    body = "    # BEGIN SOLUTION\n    squared_value_of_x"
    assert body in text
    text = text.replace(body, "    squared_value_of_x", 1).replace(
        "    return squared_value_of_x + 1\n    # END SOLUTION\n",
        "    return squared_value_of_x + 1\n",
        1,
    )
    root = make_root(tmp_path / "repo", master=text)
    with pytest.raises(B.BuildError, match=r"00_toy\.py:\d+: solution cell has no inline"):
        B.build([STAGE], root)
    assert not (root / "assignments" / STAGE).exists()


def test_solution_outside_a_question_fails_with_the_master_line(tmp_path):
    text = _explicit_solution_block(_master_text())
    # q1's BEGIN QUESTION becomes a note and its END QUESTION goes: its SOLUTION block is outside
    text = text.replace("# # BEGIN QUESTION\n# name: q1\n", "# just a note\n", 1)
    text = text.replace("# %% [raw]\n# # END QUESTION\n", "", 1)
    root = make_root(tmp_path / "repo", master=text)
    with pytest.raises(B.BuildError, match=r"00_toy\.py:\d+: BEGIN SOLUTION outside a question"):
        B.build([STAGE], root)


def test_case_of_a_question_the_master_lacks_fails_with_its_line(tmp_path):
    cases = CASES.read_text(encoding="utf-8")
    assert '@case("q3", points=2, hidden=True)' in cases
    cases = cases.replace(
        '@case("q3", points=2, hidden=True)', '@case("q9", points=2, hidden=True)'
    )
    root = make_root(tmp_path / "repo", cases=cases)
    line = cases.splitlines().index("def test_params_artifact():") + 1
    with pytest.raises(
        B.BuildError, match=rf"00_toy\.cases\.py:{line}: case for question 'q9', which the master"
    ):
        B.build([STAGE], root)
    assert not (root / "assignments" / STAGE).exists()


def test_master_without_seed_call_fails(tmp_path):
    text = _master_text().replace("cnnkit.seed_everything(SEED)", "pass")
    root = make_root(tmp_path / "repo", master=text)
    with pytest.raises(B.BuildError, match="seed_everything"):
        B.build([STAGE], root)


def test_leak_refuses_build_and_writes_nothing(tmp_path):
    # A solution line pasted into a markdown hint: otter keeps markdown as it is, so only the
    # scanner stands between it and the students.
    text = _master_text().replace(
        '# %% tags=["otter_ignore"]',
        "# %% [markdown]\n# Hint: `squared_value_of_x = np.multiply(x, x)`\n#\n"
        '#     squared_value_of_x = np.multiply(x, x)\n\n# %% tags=["otter_ignore"]',
        1,
    )
    root = make_root(tmp_path / "repo", master=text)
    secrets = leaks.collect_secrets(root)
    assert "squared_value_of_x = np.multiply(x, x)" in secrets.lines
    with pytest.raises(leaks.LeakError, match=r"assignments/00_toy/00_toy\.ipynb"):
        B.build([STAGE], root)
    assert not (root / "assignments" / STAGE).exists()


def test_wheel_is_deterministic_and_complete(tmp_path):
    a = packaging.build_wheel(repo_root(), tmp_path / "a")
    b = packaging.build_wheel(repo_root(), tmp_path / "b")
    assert a.name == b.name == f"cnnkit-{packaging.library_version(repo_root())}-py3-none-any.whl"
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        meta = zf.read(
            f"cnnkit-{packaging.library_version(repo_root())}.dist-info/METADATA"
        ).decode()
    assert "Requires-Dist: numpy" in meta and 'extra == "extras"' in meta


def _library_root(tmp_path: Path, body: str) -> Path:
    root = make_root(tmp_path / "repo")
    (root / "lib" / "cnnkit" / "toy_exercise.py").write_text(
        f"import numpy as np\n\n\n# BEGIN EXERCISE {STAGE}\n" + body + "# END EXERCISE\n"
    )
    return root


AFFINE_LIB = '''def affine(x, w, b):
    """Affine map.

    Inputs:
    - x: array of shape (N, D).
    - w: array of shape (D, M).
    - b: array of shape (M,).

    Returns:
    - out: array of shape (N, M).
    """
    out_matrix_product = x.reshape(x.shape[0], -1) @ w  # comments never count
    return out_matrix_product + b
'''


def test_exercise_regions_become_secrets(tmp_path):
    root = _library_root(tmp_path, AFFINE_LIB)
    secrets = leaks.collect_secrets(root, stages=[])
    origins = {s.origin.split(":")[0] for s in secrets.lines.values()}
    assert "lib/cnnkit/toy_exercise.py" in origins
    assert "out_matrix_product = x.reshape(x.shape[0], -1) @ w # comments never count" in (
        secrets.lines
    )
    assert "def affine(x, w, b):" not in secrets.lines  # the stub keeps the signature
    assert "- x: array of shape (N, D)." not in secrets.lines  # ...and the docstring


def _committed_stages() -> list[str]:
    root = repo_root()
    return [s for s in STAGES if stage_dirs(s, root).master.is_file()]


@pytest.mark.slow
@pytest.mark.parametrize(
    "stage", _committed_stages() or [pytest.param(None, marks=pytest.mark.skip)]
)
def test_built_files_up_to_date(stage, tmp_path):
    """Rebuilding a committed master must reproduce assignments/ and autograder/ byte for byte."""
    root = repo_root()
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(root / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(
        root / "lib" / "cnnkit",
        copy / "lib" / "cnnkit",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    shutil.copytree(
        root / "solutions", copy / "solutions", ignore=shutil.ignore_patterns("*.ipynb")
    )
    B.build([stage], copy)
    committed = stage_dirs(stage, root)
    fresh = stage_dirs(stage, copy)
    if fresh.samples_yml.is_file() and committed.samples.is_dir():
        from cnnkit.grading.samples import generate

        generate(stage, copy, execute=False)  # notebooks and manifest; trained artifacts excluded

    def files(d) -> dict[str, bytes]:
        out = tree_bytes(d.root, f"assignments/{stage}", f"autograder/{stage}")
        out[d.master_nb.relative_to(d.root).as_posix()] = (
            d.master_nb.read_bytes() if d.master_nb.is_file() else b""
        )
        # trained artifacts (in samples/ and copied into solution/) come from training, not the build
        trained = ("/samples/", f"autograder/{stage}/solution/")
        out = {
            k: v
            for k, v in out.items()
            if not any(t in k for t in trained) or k.endswith((".ipynb", "manifest.json"))
        }
        # gradescope.zip carries them too (kit/autograder/<stage>/solution/): compare the rest
        gs = f"autograder/{stage}/gradescope.zip"
        if gs in out:
            with zipfile.ZipFile(io.BytesIO(out.pop(gs))) as zf:
                for n in zf.namelist():
                    if not any(t in n for t in trained) or n.endswith(".ipynb"):
                        out[f"{gs}:{n}"] = zf.read(n)
        return out

    want, have = files(fresh), files(committed)
    stale = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    assert not stale, (
        f"built files are stale; run `cnnkit build {stage}` and commit the result: {stale}"
        + _zip_hint(want, have, f"autograder/{stage}/autograder.zip")
    )


def _zip_hint(want: dict[str, bytes], have: dict[str, bytes], name: str) -> str:
    """Which members of a stale autograder.zip differ (the cnnkit wheel: lib/ changed)."""
    import io

    if name not in want or name not in have or want[name] == have[name]:
        return ""

    def members(data: bytes) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {n: zf.read(n) for n in zf.namelist()}

    a, b = members(want[name]), members(have[name])
    diff = sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))
    hint = (
        "; the library in lib/ changed since the last build"
        if any(n.endswith(".whl") for n in diff)
        else ""
    )
    return f"\n  differing members of {name}: {diff}{hint}"


def test_built_notebook_cells_parse(toy_root):
    """Every code cell otter left in the student notebook is valid Python (after `...` bodies)."""
    nb = json.loads(stage_dirs(STAGE, toy_root).student_nb.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            if not src.lstrip().startswith("%"):
                ast.parse(src)
