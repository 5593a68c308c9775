"""`cnnkit release`: the student repository holds exactly what students may see for stage K."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from cnnkit.grading import leaks, master
from cnnkit.grading.paths import repo_root, stage_dirs
from cnnkit.grading.release import (
    ReleaseError,
    check_release,
    expected_manifest,
    release,
    release_settings,
)
from cnnkit.grading.stage import NAMES as STAGES

ROOT = repo_root()
BUILT = [s for s in STAGES if stage_dirs(s, ROOT).student_nb.is_file()]
REPO = "https://github.com/example-univ/cnn-course"
if not BUILT:
    pytest.skip("no stage is built (run `cnnkit build`)", allow_module_level=True)


def _listing(tree: Path) -> list[str]:
    return sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())


@pytest.fixture(scope="module", params=BUILT)
def released(request, tmp_path_factory) -> tuple[str, Path]:
    stage = request.param
    out = tmp_path_factory.mktemp("release") / f"course-{stage}"
    release(STAGES.index(stage) + 1, out, ROOT, repo_url=REPO, ref=stage)
    return stage, out


@pytest.fixture(scope="module")
def first_release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release1") / "course"
    release(1, out, ROOT, repo_url=REPO, ref="v1", archive=True)
    return out


def _exercises(stage_filter) -> list[tuple[str, str, str]]:
    """(module, qualified name, stage) of every def/class in the library's exercise regions."""
    lib = ROOT / "lib" / "cnnkit"
    out = []
    for path, stage, node, _ in leaks.library_regions(ROOT):
        if not stage_filter(stage):
            continue
        module = ".".join(("cnnkit", *path.relative_to(lib).with_suffix("").parts))
        out.append((module, node.name, stage))
    return out


# ------------------------------------------------------------------------------------ contents --


def test_listing_matches_the_manifest(released):
    stage, out = released
    got = _listing(out)
    assert got == expected_manifest(stage, ROOT)
    # The same rules spelled out: top level, notebooks per stage, library without grading.
    assert sorted({p.split("/")[0] for p in got}) == [
        "README.md",
        "assignments",
        "environment.yml",
        "lib",
        "pyproject.toml",
    ]
    k = STAGES.index(stage)
    for s in STAGES[: k + 1]:
        assert f"assignments/{s}/{s}.ipynb" in got
        assert f"assignments/{s}/{s}-colab.ipynb" in got
        public = sorted(p.name for p in stage_dirs(s, ROOT).public_tests.glob("*.py"))
        assert public and [p for p in got if p.startswith(f"assignments/{s}/tests/")] == [
            f"assignments/{s}/tests/{name}" for name in public
        ]
    assert not [p for p in got if p.split("/")[1:2] and p.split("/")[1] in STAGES[k + 1 :]]
    lib_src = sorted(
        "lib/cnnkit/" + p.relative_to(ROOT / "lib" / "cnnkit").as_posix()
        for p in (ROOT / "lib" / "cnnkit").rglob("*.py")
        if "grading" not in p.parts and "__pycache__" not in p.parts
    )
    assert [p for p in got if p.startswith("lib/")] == lib_src
    bad = {"solutions", "autograder", "samples", "__pycache__", "__MACOSX", ".ipynb_checkpoints"}
    assert not [p for p in got if bad & set(p.split("/")) or p.endswith((".pyc", ".zip"))]


def test_release_is_clean_and_notebooks_have_no_outputs(released):
    stage, out = released
    assert check_release(out, stage, ROOT) == []
    for nb_path in out.glob("assignments/*/*.ipynb"):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            assert not cell.get("outputs"), nb_path


def test_student_pyproject_installs_the_gated_lib_without_instructor_tools(released):
    import tomllib

    _, out = released
    project = tomllib.loads((out / "pyproject.toml").read_text())
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["dependencies"] == ours["project"]["dependencies"]
    assert "instructor" not in project["project"].get("optional-dependencies", {})
    assert "nbgrader" not in (out / "pyproject.toml").read_text()
    assert "nbgrader" not in (out / "environment.yml").read_text()
    assert project["tool"]["setuptools"]["packages"]["find"]["where"] == ["lib"]


def test_colab_settings_reach_notebooks_library_and_readme(released):
    stage, out = released
    settings = release_settings(REPO, stage)
    spec = settings["install_spec"]
    assert spec == f"cnnkit @ git+{REPO}@{stage}"
    assert f"INSTALL_SPEC = {spec!r}" in (out / "lib" / "cnnkit" / "colab.py").read_text()
    readme = (out / "README.md").read_text()
    for s in STAGES[: STAGES.index(stage) + 1]:
        colab_nb = (out / "assignments" / s / f"{s}-colab.ipynb").read_text()
        assert json.dumps(spec)[1:-1] in colab_nb or repr(spec) in colab_nb
        link = f"{settings['colab_base']}/assignments/{s}/{s}-colab.ipynb"
        assert link.startswith("https://colab.research.google.com/github/example-univ/cnn-course/")
        assert link in readme
    for text in (
        "Hidden tests exist",
        "How to submit",
        "Download .ipynb",
        'pip install -e ".[extras]"',
    ):
        assert text in readme
    assert "$" not in readme.replace("$ ", "")  # every template field was filled
    assert "Placeholder links" not in readme


def test_non_github_repo_gets_no_colab_links():
    settings = release_settings("https://gitlab.example.org/course/cnn", "v2")
    assert settings["colab_base"] is None
    assert settings["install_spec"] == "cnnkit @ git+https://gitlab.example.org/course/cnn@v2"
    with pytest.raises(ReleaseError):
        release_settings("not a url", "v1")


# ------------------------------------------------------------------------- gated library -------


_PROBE = r"""
import importlib, inspect, json, sys
results = []
for module, name, stage in json.loads(sys.argv[1]):
    obj = getattr(importlib.import_module(module), name)
    if inspect.isclass(obj):
        members = [(f"{name}.{m}", f) for m, f in vars(obj).items() if inspect.isfunction(f)]
    else:
        members = [(name, obj)]
    for label, fn in members:
        args = [None] * len([p for p in inspect.signature(fn).parameters.values()
                             if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
        try:
            fn(*args)
            results.append([label, stage, "returned", ""])
        except NotImplementedError as e:
            results.append([label, stage, "NotImplementedError", str(e)])
        except Exception as e:
            results.append([label, stage, type(e).__name__, str(e)])
print(json.dumps([results, importlib.import_module("cnnkit").__file__]))
"""


def _run_in_release(out: Path, code: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(out / "lib"), CNNKIT_ROOT="")
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=out,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_stubs_of_current_and_later_stages_raise_naming_the_notebook(released):
    stage, out = released
    later = _exercises(lambda s: s >= stage)
    assert later, "the library has no exercise region of this or a later stage"
    results, location = json.loads(_run_in_release(out, _PROBE, json.dumps(later)))
    assert Path(location).resolve().is_relative_to(out.resolve())
    assert results
    for label, s, outcome, message in results:
        assert outcome == "NotImplementedError", (label, outcome, message)
        assert message == f"{label} is implemented by you in notebook {s}"


def test_earlier_stage_exercises_work(released):
    stage, out = released
    earlier = _exercises(lambda s: s < stage)
    if not earlier:
        pytest.skip("stage 1 has no earlier exercises")
    code = (
        "import json, numpy as np\n"
        "from cnnkit.numeric import layers\n"
        "rng = np.random.default_rng(0)\n"
        "x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)\n"
        "out, _ = layers.affine_forward(x, w, b)\n"
        "print(json.dumps(out.tolist()))\n"
    )
    got = np.array(json.loads(_run_in_release(out, code)))
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    np.testing.assert_allclose(got, x.reshape(4, 6) @ w + b, rtol=1e-12)
    # nothing of an earlier stage is a stub any more
    results, _ = json.loads(_run_in_release(out, _PROBE, json.dumps(earlier)))
    assert not [r for r in results if r[2] == "NotImplementedError"], results


def test_released_library_has_no_exercise_markers_or_grading(released):
    _, out = released
    lib = out / "lib" / "cnnkit"
    assert not (lib / "grading").exists()
    for py in lib.rglob("*.py"):
        text = py.read_text()
        assert "BEGIN EXERCISE" not in text and "END EXERCISE" not in text, py


# -------------------------------------------------------------------------------- archive -------


def test_archive_is_deterministic_and_matches_the_folder(first_release, tmp_path):
    zpath = first_release.with_name(first_release.name + ".zip")
    again = tmp_path / "course"
    release(1, again, ROOT, repo_url=REPO, ref="v1", archive=True)
    assert zpath.read_bytes() == again.with_name("course.zip").read_bytes()
    with zipfile.ZipFile(zpath) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert [n.removeprefix("course/") for n in names] == _listing(first_release)


def test_existing_folder_that_is_not_a_release_is_refused(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(ReleaseError, match="not an earlier release"):
        release(1, out, ROOT)
    assert (out / "thesis.tex").read_text() == "precious"
    with pytest.raises(ReleaseError, match="overlaps"):
        release(1, ROOT, ROOT)


# ---------------------------------------------------------------------------- planted leaks -----


def _solution_line(stage: str) -> str:
    """A line of the master's first inline solution region (the master is the ground truth)."""
    for cell in master.read(stage_dirs(stage, ROOT).master).cells:
        if cell.cell_type == "code" and cell.block == "solution":
            for k in master.inline_solution_lines(cell.lines):
                line = cell.lines[k].strip()
                if len(line) > 20 and not line.startswith("#"):
                    return line
    raise AssertionError("no solution line found")


def _hidden_case(stage: str) -> str:
    for cell in master.read(stage_dirs(stage, ROOT).master).cells:
        if cell.hidden:
            return cell.source
    raise AssertionError("no hidden case found")


@pytest.fixture()
def planted(first_release, tmp_path) -> Path:
    tree = tmp_path / "course"
    shutil.copytree(first_release, tree)
    assert check_release(tree, "01_backprop", ROOT) == []
    return tree


def _kinds(tree: Path) -> set[str]:
    return {f.kind for f in check_release(tree, "01_backprop", ROOT)}


def test_scanner_catches_a_solution_line_in_a_notebook(planted):
    nb_path = planted / "assignments" / "01_backprop" / "01_backprop.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"Hint:\n\n    {_solution_line('01_backprop')}"))
    nbformat.write(nb, str(nb_path))
    assert "solution line" in _kinds(planted) or "exercise line" in _kinds(planted)


def test_scanner_catches_a_solution_line_in_outputs_and_metadata(planted):
    line = _solution_line("01_backprop")
    nb_path = planted / "assignments" / "01_backprop" / "01_backprop-colab.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f">>> {line}\n")]
    nbformat.write(nb, str(nb_path))
    findings = check_release(planted, "01_backprop", ROOT)
    assert any("outputs" in f.where for f in findings), findings

    nb = nbformat.read(str(nb_path), as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = []
    nb.metadata["scratch"] = {"note": line}
    nbformat.write(nb, str(nb_path))
    findings = check_release(planted, "01_backprop", ROOT)
    assert any("metadata" in f.where for f in findings), findings


def test_scanner_catches_a_hidden_case_in_a_test_file(planted):
    q1 = planted / "assignments" / "01_backprop" / "tests" / "q1.py"
    q1.write_text(q1.read_text() + "\n\n" + _hidden_case("01_backprop") + "\n")
    kinds = _kinds(planted)
    assert {"hidden case", "hidden case name"} & kinds, kinds


def test_scanner_catches_reference_array_files(planted):
    sample = ROOT / "autograder" / "01_backprop" / "samples" / "solution" / "twolayer_params.npz"
    data = planted / "assignments" / "01_backprop" / "data"
    data.mkdir()
    if sample.is_file():
        shutil.copyfile(sample, data / "weights.npz")
        assert "reference file" in _kinds(planted)
        (data / "weights.npz").unlink()
    # expected values computed with the reference library, saved as a data file
    from cnnkit.numeric import layers

    x = np.linspace(-1, 1, 24).reshape(4, 6)
    np.save(data / "expected.npy", layers.relu_forward(x)[0])
    assert "array/checkpoint file" in _kinds(planted)


def test_scanner_catches_build_junk(planted):
    junk = planted / "lib" / "cnnkit" / "__pycache__"
    junk.mkdir()
    (junk / "layers.cpython-311.pyc").write_bytes(b"\0")
    (planted / "__MACOSX").mkdir()
    (planted / "__MACOSX" / "._README.md").write_bytes(b"\0")
    assert "build junk" in _kinds(planted)


def test_release_refuses_and_writes_nothing_when_assignments_leak(tmp_path):
    root = tmp_path / "kit"
    for part in ("lib", "solutions"):
        shutil.copytree(
            ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb")
        )
    for name in ("pyproject.toml", "environment.yml"):
        shutil.copyfile(ROOT / name, root / name)
    shutil.copytree(ROOT / "assignments" / "01_backprop", root / "assignments" / "01_backprop")
    q1 = root / "assignments" / "01_backprop" / "tests" / "q1.py"
    q1.write_text(q1.read_text() + f"\n{_solution_line('01_backprop')}\n")
    out = tmp_path / "out"
    with pytest.raises(ReleaseError, match="leak"):
        release(1, out, root)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out-")]


def test_release_needs_built_assignments(tmp_path):
    root = tmp_path / "kit"
    shutil.copytree(ROOT / "lib", root / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copyfile(ROOT / "environment.yml", root / "environment.yml")
    with pytest.raises(ReleaseError, match="cnnkit build 01_backprop"):
        release(1, tmp_path / "out", root)


# ------------------------------------------------------------------ fresh venv + notebook -------

# Runs inside the fresh venv: executes a notebook with its own kernel (the venv's python) and prints
# the error outputs plus where the kernel imported cnnkit from.
_EXECUTE = r"""
import json, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient
path = Path(sys.argv[1])
nb = nbformat.read(str(path), as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(
    "import sys as _s, cnnkit as _c; print('WHERE', _s.executable, _c.__file__)"))
NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": str(path.parent)}}).execute()
errors = [{"cell": k, "ename": o["ename"], "evalue": o["evalue"][:300]}
          for k, c in enumerate(nb.cells) for o in c.get("outputs", [])
          if o.get("output_type") == "error"]
where = "".join(o.get("text", "") for o in nb.cells[-1].outputs).split()
print(json.dumps({"errors": errors, "where": where[1:]}))
"""
# Errors that mean the release is broken rather than the answers missing.
BROKEN = {
    "ModuleNotFoundError",
    "ImportError",
    "SyntaxError",
    "IndentationError",
    "DeadKernelError",
}


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A venv that sees the dev stack (torch, otter, nbclient) but not the dev checkout's cnnkit.

    `python -m venv --system-site-packages` alone does not see the dev venv's packages (the dev venv is
    itself a venv), so a .pth file adds its site-packages; .pth files there (the dev editable cnnkit)
    are not processed, so only the release's cnnkit is importable. No pip inside: the dev venv's pip
    and setuptools are used, nothing is downloaded.
    """
    import sysconfig

    venv = tmp_path_factory.mktemp("venv") / "student"
    base = Path(getattr(sys, "_base_executable", sys.executable))
    subprocess.run(
        [str(base), "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        check=True,
        timeout=300,
    )
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "_cnnkit_dev_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py


def _execute(py: Path, notebook: Path) -> dict:
    env = dict(os.environ, CNNKIT_CI="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1", CNNKIT_ROOT="")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(py), "-c", _EXECUTE, str(notebook)],
        capture_output=True,
        text=True,
        env=env,
        cwd=notebook.parent,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_release_installs_in_a_fresh_venv_and_the_current_notebook_runs(
    released, fresh_venv, tmp_path
):
    stage, out = released
    if stage != BUILT[0]:
        # 1-4 min per stage on 2 cores; the later stages' gating is covered by the stub tests above
        # and their notebooks run against the gated library in every `cnnkit grade` of their samples
        pytest.skip("notebook execution in a fresh venv runs for the first built stage only")
    work = tmp_path / "student"
    shutil.copytree(out, work)
    pip = [str(fresh_venv), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    proc = subprocess.run(
        [*pip, "--no-index", "-e", str(work)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    nb_dir = work / "assignments" / stage
    untouched = _execute(fresh_venv, nb_dir / f"{stage}.ipynb")
    exe, location = untouched["where"]
    assert Path(exe).parent == fresh_venv.parent
    assert Path(location).resolve().is_relative_to(work.resolve())
    # The untouched notebook fails where answers are missing, never because the release is broken.
    assert untouched["errors"], "an untouched notebook cannot run clean: its answers are `...`"
    assert not [e for e in untouched["errors"] if e["ename"] in BROKEN], untouched["errors"]

    # The same notebook with the answers filled in (the bundled solution sample) runs clean against
    # the released, gated library: nothing a finished notebook needs is a stub.
    sample = stage_dirs(stage, ROOT).samples / "solution" / f"{stage}.ipynb"
    if not sample.is_file():
        pytest.skip(f"no bundled solution sample for {stage} (cnnkit build --samples)")
    shutil.copyfile(sample, nb_dir / "solved.ipynb")
    solved = _execute(fresh_venv, nb_dir / "solved.ipynb")
    assert solved["errors"] == []


# ------------------------------------------------------------------ the student's install -------

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CUDA_PREFIXES = ("nvidia-", "cuda-", "triton")
LOCAL_INDEXES = [Path("/opt/pypi/simple"), Path("/opt/pypi-more/simple")]


def test_release_without_repo_url_says_its_links_are_placeholders(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CNNKIT_RELEASE_REPO", raising=False)
    out = release(1, tmp_path / "course", ROOT)
    readme = (out / "README.md").read_text()
    first = readme.split("\n## ", 1)[0]
    assert "Placeholder links" in first and release_settings()["repo"] in first
    assert "placeholder" in capsys.readouterr().err


def test_readme_names_the_extras_and_the_cpu_route(first_release):
    readme = (first_release / "README.md").read_text()
    assert f"pip install torch torchvision --index-url {CPU_INDEX}" in readme
    assert 'pip install -e ".[extras]"' in readme
    assert "scikit-image" in readme and "notebook 02" in readme
    # the kit's own bounds stay open (Colab keeps its torch)
    pyproject = (first_release / "pyproject.toml").read_text()
    assert '"torch>=2.3"' in pyproject and "+cpu" not in pyproject


def _resolve(requirements: list[str], find_links: Path | None, report: Path):
    """pip's resolver (dry run, nothing installed) over this disk's package files only (--isolated:
    no pip configuration or PIP_* variables add sources)."""
    cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed"]
    cmd += ["--quiet", "--report", str(report), "--index-url", LOCAL_INDEXES[0].as_uri()]
    for extra in LOCAL_INDEXES[1:]:
        cmd += ["--extra-index-url", extra.as_uri()]
    if find_links:
        cmd += ["--find-links", str(find_links)]
    return subprocess.run(cmd + requirements, capture_output=True, text=True, timeout=600)


def _reached(requirements: list[str]) -> set[str]:
    """Names of the installed distributions these requirements pull in, transitively (metadata)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        extras = sorted(req.extras)
        key = name + str(extras)
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            for x in [""] + extras:
                todo.append((Requirement(line), x))
    return {k.split("[")[0] for k in seen}


def test_cpu_torch_route_pulls_no_cuda_package(first_release, tmp_path):
    """The README's route, resolved by pip against local files: PyTorch's CPU index stands in as a
    folder holding the CPU torch wheel this machine has. With that torch (step 1), the release's
    torch requirements resolve without a CUDA package, and no other dependency of the kit reaches
    torch or CUDA; without step 1, the same requirements need CUDA packages."""
    import tomllib
    from packaging.requirements import Requirement

    cpu_wheels = sorted(Path("/opt/wheels").glob("torch-*+cpu-*.whl"))
    if not cpu_wheels or not all(p.is_dir() for p in LOCAL_INDEXES):
        pytest.skip("needs this machine's local package files (a CPU torch wheel, /opt/pypi)")
    project = tomllib.loads((first_release / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["extras"]
    torch_reqs = [d for d in deps if Requirement(d).name in ("torch", "torchvision")]
    assert sorted(Requirement(d).name for d in torch_reqs) == ["torch", "torchvision"]
    others = _reached([d for d in deps if d not in torch_reqs])
    assert "otter-grader" in others and "scikit-image" in others
    assert not [n for n in others if n in ("torch", "torchvision") or n.startswith(CUDA_PREFIXES)]

    wheel = cpu_wheels[-1]
    cpu_index = tmp_path / "whl-cpu"
    cpu_index.mkdir()
    (cpu_index / wheel.name).symlink_to(wheel)
    pin = "torch==" + wheel.name.split("-")[1]
    proc = _resolve([pin, *torch_reqs], cpu_index, tmp_path / "cpu.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    install = json.loads((tmp_path / "cpu.json").read_text())["install"]
    names = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in install}
    assert names["torch"].endswith("+cpu") and "torchvision" in names
    assert not [n for n in names if n.startswith(CUDA_PREFIXES)]

    plain = _resolve(torch_reqs, None, tmp_path / "plain.json")
    if plain.returncode == 0:  # every CUDA package on disk: the report lists them
        install = json.loads((tmp_path / "plain.json").read_text())["install"]
        assert [i for i in install if i["metadata"]["name"].lower().startswith(CUDA_PREFIXES)]
    else:  # or pip stops at the first CUDA package this disk lacks
        assert any(f"requirement {p}" in plain.stderr for p in CUDA_PREFIXES), plain.stderr[-2000:]


def test_student_cli_lists_only_what_works(first_release, fresh_venv):
    env = dict(os.environ, PYTHONPATH=str(first_release / "lib"), CNNKIT_ROOT="")
    cli = [str(fresh_venv), "-m", "cnnkit.cli"]
    usage = subprocess.run(cli + ["--help"], capture_output=True, text=True, env=env, timeout=120)
    assert usage.returncode == 0, usage.stderr
    listed = usage.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert listed == ["doctor", "data", "weights"]
    for command in ("data list", "weights status --quiet", "doctor"):
        proc = subprocess.run(cli + command.split(), capture_output=True, text=True, env=env)
        assert "Traceback" not in proc.stderr, (command, proc.stderr[-2000:])
    from cnnkit.cli import build_parser

    instructor = build_parser()._subparsers._group_actions[0].choices  # this checkout: all of them
    assert {"build", "grade", "release", "export-nbgrader", "demo"} <= set(instructor)
    for command in sorted(set(instructor) - set(listed)):
        proc = subprocess.run(cli + [command], capture_output=True, text=True, env=env)
        assert proc.returncode == 2 and "invalid choice" in proc.stderr
        assert "ModuleNotFoundError" not in proc.stderr


def test_cli_release_takes_a_notebook_name_or_its_place(tmp_path, capsys):
    """`cnnkit release --stage` names the notebook (or its place in COURSE) and says which it wrote;
    stage 01's second notebook brings the first along, and nothing later."""
    from cnnkit.cli import main

    if "01b_deep_nets" not in BUILT:
        pytest.skip("01b_deep_nets is not built")
    out = tmp_path / "by-name"
    assert main(["release", "--stage", "01b_deep_nets", "--out", str(out)]) == 0
    assert "released 01b_deep_nets" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "assignments").iterdir()) == [
        "01_backprop",
        "01b_deep_nets",
    ]
    bad = tmp_path / "bad"
    assert main(["release", "--stage", str(len(STAGES) + 1), "--out", str(bad)]) != 0
    assert f"stage must be 1..{len(STAGES)}" in capsys.readouterr().err
    assert not bad.exists()
