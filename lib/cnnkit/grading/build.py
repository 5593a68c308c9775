"""`cnnkit build`: masters -> student notebooks, public tests, autograder zips (and sample submissions).

For each stage the master `solutions/<stage>/<stage>.py` (jupytext percent) is converted to a notebook,
the common ASSIGNMENT CONFIG below is merged into the master's own (small) one, and `otter assign` runs
in a temp dir, twice: once for the normal build and once for the Colab variant (`runs_on: colab`, no
export cell). The results are normalised (cell ids derived from content, fixed metadata, no outputs,
zip entries sorted with fixed timestamps and permissions) so that rebuilding unchanged masters leaves
git clean, scanned for leaks, and only then moved into place:

    solutions/<stage>/<stage>.ipynb         the master as a notebook (for `otter assign` by hand)
    assignments/<stage>/<stage>.ipynb       student notebook
    assignments/<stage>/<stage>-colab.ipynb the same for Colab (tests fetched by the bootstrap cell)
    assignments/<stage>/tests/*.py          public test cases only
    autograder/<stage>/autograder.zip       for `otter grade` / Gradescope / `otter run` (all cases)
    autograder/<stage>/gradescope.zip       for Gradescope, grading with `cnnkit grade` (out-of-kernel
                                            verdicts; see cnnkit.grading.gradescope)
    autograder/<stage>/otter_config.json
    autograder/<stage>/solution/<stage>.ipynb
    autograder/<stage>/written.json         the written questions (prompt, points, model answer and
                                            rubric) for `cnnkit grade`'s packets; only for a stage
                                            that has some (instructors' output, never released)

Docker/Gradescope: the zip's environment installs otter-grader, a CPU build of torch (PyTorch's CPU
index is added with --extra-index-url) and cnnkit itself from a wheel built here from lib/ and carried
in the zip as files/cnnkit-<version>-py3-none-any.whl (the zip is unpacked to /autograder/source).
The wheel leaves out cnnkit.grading (instructor tooling the grading image never needs). Instructors run:
`otter grade -a autograder/<stage>/autograder.zip -p SUBMISSIONS_DIR -o OUT`.

Offline data: both zips carry, under offline/, the verified data the stage's cases load (samples.yml
`grading_data`, see cnnkit.grading.offline); otter's setup.sh checks it and its run_autograder points
the data registry and torch at it with downloads off, so grading never downloads.

Seeds: otter's `generate: seed` only seeds numpy and random, so it is not used; every master seeds
itself with `cnnkit.seed_everything(SEED)` (the build refuses a master without that call).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import nbformat
import yaml

from cnnkit.grading import gradescope, helper_leaks, leaks, master, offline, public_tests
from cnnkit.grading.master import BuildError
from cnnkit.grading.notebooks import normalise, notebook_bytes, read_notebook, write_notebook
from cnnkit.grading.packaging import build_wheel, library_files, read_pyproject, write_zip
from cnnkit.grading.paths import StageDirs, stage_dirs
from cnnkit.grading.stage import StageConfig, read_config

AUTOGRADER_SOURCE = "/autograder/source"
EXPORT_INSTRUCTIONS = (
    "Submit the `.ipynb` file itself (File > Download on Colab or JupyterLab){artifacts}. "
    "On a local Jupyter the cell below also writes a zip that holds {holds}; on Colab it does not "
    "work, so download {files} by hand."
)


# --------------------------------------------------------------------------------------------------
# Config


def _deep_merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def common_config(stage: str, artifacts: list[str]) -> dict:
    """The ASSIGNMENT CONFIG every master shares (the master's own config is merged over it).

    Inputs:
    - stage: the stage name (otter's assignment name and the notebook's file name).
    - artifacts: files the notebook saves and the student submits with it (samples.yml `artifacts`).

    Returns:
    - config: a dict for otter assign.
    """
    names = ", ".join(f"`{a}`" for a in artifacts)
    export = {
        "pdf": False,
        # True would re-run the whole notebook (training included) inside export.
        "run_tests": False,
        "instructions": EXPORT_INSTRUCTIONS.format(
            artifacts=f" together with {names}, which your training cell saves" if names else "",
            holds="both" if names else "it",
            files="the files" if names else "the notebook",
        ),
    }
    if artifacts:
        export["files"] = list(artifacts)
    return {
        "name": stage,
        "tests": {"files": True, "ok_format": False},
        "strip_solutions_from_all_cells": True,
        # otter would execute the whole solution (training included); `cnnkit grade` preflights it.
        "run_tests": False,
        "init_cell": True,
        "check_all_cell": True,
        "export_cell": export,
        "generate": {"pdf": False, "show_hidden": False},
        "python_version": "3.11",
    }


# Keys the builder owns: a master cannot turn these off.
ENFORCED = {
    "tests": {"files": True, "ok_format": False},
    "strip_solutions_from_all_cells": True,
}


def merged_config(stage: str, master_cfg: dict, artifacts: list[str]) -> dict:
    """Common config, then the master's, then the enforced keys."""
    cfg = _deep_merge(common_config(stage, artifacts), master_cfg or {})
    cfg = _deep_merge(cfg, ENFORCED)
    cfg["name"] = stage
    return cfg


def grading_requirements(wheel_name: str, root: Path, extra: list[str] | None = None) -> list[str]:
    """pip lines for the grading image: CPU torch (with pyproject.toml's bounds) and cnnkit from the
    wheel the zip carries."""
    deps = read_pyproject(root)["project"]["dependencies"]
    torch = [
        d for d in deps if re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0] in ("torch", "torchvision")
    ]
    return [
        f"--extra-index-url {gradescope.CPU_TORCH_INDEX}",
        *torch,
        f"{AUTOGRADER_SOURCE}/files/{wheel_name}[extras]",
        *(extra or []),
    ]


# --------------------------------------------------------------------------------------------------
# Notebooks


def _config_cell_index(nb) -> int | None:
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "raw" and cell.source.lstrip().startswith("# ASSIGNMENT CONFIG"):
            return k
    return None


def master_notebook(m: master.Master, artifacts: list[str]) -> nbformat.NotebookNode:
    """The master as a notebook with the merged ASSIGNMENT CONFIG (no outputs, normalised).

    Inputs:
    - m: the parsed master.
    - artifacts: files the notebook saves for grading.

    Returns:
    - nb: a notebook node.
    """
    nb = m.notebook()
    idx = _config_cell_index(nb)
    cfg = merged_config(m.stage, m.config, artifacts)
    cell = nbformat.v4.new_raw_cell("# ASSIGNMENT CONFIG\n" + _dump_yaml(cfg))
    if idx is None:
        nb.cells.insert(0, cell)
    else:
        nb.cells[idx] = cell
    return normalise(nb, m.stage)


def _dump_yaml(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=True, default_flow_style=False, width=100).rstrip()


def set_config(nb, **changes) -> nbformat.NotebookNode:
    """A copy of a built master with top-level ASSIGNMENT CONFIG keys replaced."""
    nb = copy.deepcopy(nb)
    idx = _config_cell_index(nb)
    cfg = yaml.safe_load(nb.cells[idx].source.split("\n", 1)[1])
    cfg.update(changes)
    nb.cells[idx].source = "# ASSIGNMENT CONFIG\n" + _dump_yaml(cfg)
    return nb


def _move_init_after_bootstrap(nb) -> None:
    """Put otter's init cell after the bootstrap cell: on Colab otter is installed by the bootstrap."""
    init = next(
        (
            k
            for k, c in enumerate(nb.cells)
            if c.cell_type == "code" and "otter.Notebook(" in c.source
        ),
        None,
    )
    boot = next(
        (k for k, c in enumerate(nb.cells) if c.cell_type == "code" and "bootstrap(" in c.source),
        None,
    )
    if init is None or boot is None or init > boot:
        return
    cell = nb.cells.pop(init)
    nb.cells.insert(boot, cell)  # boot shifted left by one: insert right after it


def _colab_bootstrap(nb, stage: str) -> None:
    """On Colab cnnkit is not installed yet: its bootstrap cell installs it before importing it."""
    from cnnkit.colab import colab_cell

    for cell in nb.cells:
        if cell.cell_type == "code" and "bootstrap(" in cell.source:
            cell.source = colab_cell(stage)
            return


# --------------------------------------------------------------------------------------------------
# otter assign


def _otter_assign(master: Path, result: Path) -> None:
    from otter.assign import main as assign

    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            assign(str(master), str(result), no_pdfs=True, no_run_tests=True)
    except Exception as e:
        raise BuildError(f"otter assign failed on {master.name}: {e}\n{log.getvalue()}") from e


def _check_master(dirs: StageDirs) -> master.Master:
    if not dirs.master.is_file():
        raise BuildError(f"no master for stage {dirs.stage}: {dirs.master} does not exist")
    m = master.read(dirs.master, dirs.stage)
    problems = m.problems()
    problems += public_tests.problems(dirs.master)  # no public test reproduces its solution
    if problems:
        raise BuildError("master not buildable:\n  " + "\n  ".join(problems))
    return m


def _stage_outputs(
    dirs: StageDirs, m: master.Master, config: StageConfig, work: Path
) -> tuple[dict[str, bytes], dict[str, bytes], nbformat.NotebookNode]:
    """Run otter assign twice for one stage.

    Returns (assignment files, autograder files) keyed by relative path, and the master notebook.
    """
    master_nb = master_notebook(m, list(config.artifacts))
    src = work / "src"
    shutil.copytree(dirs.solution_dir, src, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    wheel = build_wheel(dirs.root, src)
    idx = _config_cell_index(master_nb)
    cfg = yaml.safe_load(master_nb.cells[idx].source.split("\n", 1)[1])
    nb = set_config(
        master_nb,
        requirements=grading_requirements(wheel.name, dirs.root, cfg.get("requirements")),
        autograder_files=[*cfg.get("autograder_files", []), wheel.name],
    )
    master_path = src / f"{dirs.stage}.ipynb"
    nbformat.write(nb, str(master_path))
    _otter_assign(master_path, work / "dist")

    colab_src = work / "colab"
    shutil.copytree(dirs.solution_dir, colab_src, ignore=shutil.ignore_patterns("*.ipynb"))
    colab = set_config(master_nb, runs_on="colab", export_cell=False, generate=False)
    colab_path = colab_src / f"{dirs.stage}.ipynb"
    nbformat.write(colab, str(colab_path))
    _otter_assign(colab_path, work / "dist-colab")

    student, ag = work / "dist" / "student", work / "dist" / "autograder"
    assignment: dict[str, bytes] = {}
    for path in sorted(student.rglob("*")):
        if path.is_file() and path.name != f"{dirs.stage}.ipynb":
            assignment[path.relative_to(student).as_posix()] = path.read_bytes()
    for name, source in (
        (f"{dirs.stage}.ipynb", student / f"{dirs.stage}.ipynb"),
        (f"{dirs.stage}-colab.ipynb", work / "dist-colab" / "student" / f"{dirs.stage}.ipynb"),
    ):
        snb = read_notebook(source)
        _move_init_after_bootstrap(snb)
        if name.endswith("-colab.ipynb"):
            _colab_bootstrap(snb, dirs.stage)
        assignment[name] = notebook_bytes(snb, dirs.stage)

    autograder: dict[str, bytes] = {}
    zips = sorted(ag.glob("*.zip"))
    if len(zips) != 1:
        raise BuildError(f"otter assign wrote {len(zips)} autograder zips for {dirs.stage}")
    with zipfile.ZipFile(zips[0]) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    members["requirements.txt"] = (
        "\n".join(grading_requirements(wheel.name, dirs.root, cfg.get("requirements"))) + "\n"
    ).encode()
    _add_offline_data(members, dirs, config)
    buf = work / "autograder.zip"
    write_zip(buf, members)
    autograder["autograder.zip"] = buf.read_bytes()
    autograder["otter_config.json"] = (
        json.dumps(json.loads((ag / "otter_config.json").read_text()), indent=2, sort_keys=True)
        + "\n"
    ).encode()
    if m.written:
        from cnnkit.grading import written

        autograder[written.QUESTIONS_FILE] = written.questions_json(m).encode()
    sol = read_notebook(ag / f"{dirs.stage}.ipynb")
    _move_init_after_bootstrap(sol)
    autograder[f"solution/{dirs.stage}.ipynb"] = notebook_bytes(sol, dirs.stage)
    return assignment, autograder, master_nb


def _add_offline_data(members: dict[str, bytes], dirs: StageDirs, config: StageConfig) -> None:
    """Put the stage's verified offline pack into otter's zip: setup.sh checks it, run_autograder
    points the data registry and torch at it and turns downloads off (grading never downloads)."""
    try:
        pack = offline.pack_members(list(config.grading_data))
    except offline.OfflineDataError as err:
        raise BuildError(f"{dirs.stage}: grading data for the autograder zips: {err}") from err
    for name, data in pack.items():
        members[f"{offline.PACK_DIR}/{name}"] = data
    src = f"{AUTOGRADER_SOURCE}/{offline.PACK_DIR}"
    shebang, _, rest = members["run_autograder"].decode().partition("\n")
    exports = "# cnnkit: the data the cases load comes from the zip; nothing is downloaded\n"
    exports += offline.shell_exports(src)
    members["run_autograder"] = f"{shebang}\n{exports}{rest}".encode()
    if pack:
        members["setup.sh"] += (
            "\n# cnnkit: the offline data the cases load, checked once when the image is built\n"
            f"(cd {src} && sha256sum -c --quiet {offline.SUMS})\n"
        ).encode()


def write_gradescope_zip(dirs: StageDirs) -> Path:
    """Write autograder/<stage>/gradescope.zip from the built otter zip, the solution folder (its
    notebook and artefacts: the preflight) and the full library (cnnkit.grading included).

    Inputs:
    - dirs: the stage's paths (reads autograder/<stage>/ and lib/, samples.yml's `gradescope:`).

    Returns:
    - path: the zip written (deterministic, like every zip of the build).
    """
    with zipfile.ZipFile(dirs.autograder_zip) as zf:
        otter_zip = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    solution = {
        p.name: p.read_bytes() for p in sorted(dirs.solution_nb.parent.iterdir()) if p.is_file()
    }
    try:
        config = gradescope.settings(read_config(dirs.samples_yml).gradescope)
    except ValueError as err:
        raise BuildError(f"{dirs.samples_yml}: {err}") from err
    pyproject = read_pyproject(dirs.root)
    members = gradescope.zip_members(
        dirs.stage, otter_zip, solution, library_files(dirs.root), pyproject, config
    )
    path = dirs.autograder / "gradescope.zip"
    write_zip(path, members)
    return path


def _replace_tree(dest: Path, files: dict[str, bytes], keep: tuple[str, ...] = ()) -> None:
    if dest.exists():
        for child in dest.iterdir():
            if child.name in keep:
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    for rel, data in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def build_stage(stage: str, root: Path, secrets: leaks.Secrets | None = None) -> None:
    """Build one stage into assignments/<stage>/ and autograder/<stage>/ (samples/ kept).

    Inputs:
    - stage: the stage name (its master must exist).
    - root: the checkout.
    - secrets: leak-scan secrets (default: collected from every master and the library).

    Raises BuildError (bad master, otter failure) or leaks.LeakError (nothing written then).
    """
    dirs = stage_dirs(stage, root)
    m = _check_master(dirs)
    config = read_config(dirs.samples_yml)
    with tempfile.TemporaryDirectory(prefix=f"cnnkit-build-{stage}-") as tmp:
        work = Path(tmp)
        assignment, autograder, master_nb = _stage_outputs(dirs, m, config, work)
        staged = work / "staged" / stage
        _replace_tree(staged, assignment)
        if secrets is None:
            secrets = leaks.collect_secrets(root)
        findings = leaks.scan(staged, secrets)
        if findings:
            lines = [
                str(f).replace(str(staged), str(dirs.assignment.relative_to(root)))
                for f in findings[:50]
            ]
            raise leaks.LeakError(
                f"build of {stage} refused: {len(findings)} leak(s) would reach assignments/ "
                "(nothing was written):\n  " + "\n  ".join(lines)
            )
        write_notebook(master_nb, dirs.master_nb)
        _replace_tree(dirs.assignment, assignment)
        _replace_tree(dirs.autograder, autograder, keep=("samples",))
        copy_solution_artifacts(dirs.autograder)
        write_gradescope_zip(dirs)


def copy_solution_artifacts(ag_dir: Path) -> list[str]:
    """Copy the trained files of the "solution" sample next to the solution notebook.

    `cnnkit grade`'s preflight then runs the artifact cases on them too (without them it skips them).

    Inputs:
    - ag_dir: autograder/<stage>/ (reads samples/manifest.json and samples/solution/).

    Returns:
    - names: the files copied into ag_dir/solution/ (none when the samples are not built).
    """
    manifest = ag_dir / "samples" / "manifest.json"
    if not manifest.exists():
        return []
    copied = []
    for entry in json.loads(manifest.read_text()):
        if entry.get("name") != "solution":
            continue
        src = (ag_dir / "samples" / entry["file"]).parent
        for name in entry.get("artifacts", []):
            if (src / name).is_file():
                shutil.copyfile(src / name, ag_dir / "solution" / Path(name).name)
                copied.append(Path(name).name)
    return copied


def build(stages: list[str], root: Path, samples: bool = False) -> None:
    """Build stages (see the module docstring), then leak-scan all of assignments/.

    Inputs:
    - stages: stage names; those without solutions/<stage>/<stage>.py are skipped with a note
      (an error if none of them has one).
    - root: the checkout.
    - samples: also generate autograder/<stage>/samples/ (executes the solution in CI mode).

    Raises BuildError or leaks.LeakError with the offending file and line.
    """
    root = Path(root)
    missing = [s for s in stages if not stage_dirs(s, root).master.is_file()]
    if missing and len(missing) == len(stages):
        raise BuildError(
            "no master for " + ", ".join(missing) + " (expected solutions/<stage>/<stage>.py)"
        )
    for stage in missing:
        print(f"cnnkit build: skipping {stage}: solutions/{stage}/{stage}.py does not exist yet")
    stages = [s for s in stages if s not in missing]
    helper_leaks.check(root)  # no library helper outside the regions holds a solution
    secrets = leaks.collect_secrets(root)
    for stage in stages:
        print(f"cnnkit build: {stage}", flush=True)
        build_stage(stage, root, secrets)
        if samples:
            from cnnkit.grading.samples import generate

            generate(stage, root, execute=True)
            copy_solution_artifacts(stage_dirs(stage, root).autograder)
            write_gradescope_zip(stage_dirs(stage, root))  # with the new solution artefacts
    leaks.check_tree(root / "assignments", secrets)
