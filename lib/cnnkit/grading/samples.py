"""Sample submissions per stage, generated from `solutions/<stage>/samples.yml`.

The YAML is a mapping:

    artifacts: [twolayer_params.npz]   # files the notebook saves and a submission carries
    samples:
      - name: solution                 # the reference: must score full marks
        base: solution
      - name: untouched                # the student notebook as released: must score 0
        base: student
      - name: partial-db-axis          # a realistic bug
        base: solution
        replace:                       # top-level def/class name -> its new source
          affine_backward: |
            def affine_backward(dout, cache):
                ...
        loses: [q3]                    # questions that must lose points; the others keep full points
      - name: broken-raises
        base: solution
        append: "raise RuntimeError('student left a debugging raise')"
        after: affine_backward         # optional: new cell right after the cell defining this name
        loses: [q3, q4]
      - name: malformed
        raw: "{ this is not json"      # the file's whole text

(a bare list of samples is read as `samples:` with no artifacts). `replace` swaps only the named
definition inside the cell that holds it, so other definitions in that cell stay intact.
`artifacts: false` on a sample leaves the trained files out of it.

Output: autograder/<stage>/samples/<name>/<stage>.ipynb (+ the artifacts for solution-based samples)
and samples/manifest.json: [{name, file, base, expect: full|zero|partial|error, loses, artifacts}].
Artifacts come from executing the solution notebook once with nbclient in CI mode (CNNKIT_CI=1,
otter_ignore cells included since they train and save) in a temp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import nbformat

from cnnkit.grading.master import BuildError, definitions
from cnnkit.grading.notebooks import notebook_bytes, read_notebook
from cnnkit.grading.paths import StageDirs, stage_dirs
from cnnkit.grading.stage import StageError, read_config


def load_spec(path: Path) -> dict:
    """samples.yml as {"artifacts": [...], "samples": [...]} (validated).

    Inputs:
    - path: solutions/<stage>/samples.yml.

    Returns:
    - spec: dict with lists "artifacts" (str) and "samples" (dicts with at least "name").
    """
    try:
        config = read_config(path)
    except StageError as e:
        raise BuildError(str(e)) from e
    spec = {
        "artifacts": list(config.artifacts),
        "samples": list(config.raw.get("samples") or []),
    }
    names = set()
    for s in spec["samples"]:
        if not isinstance(s, dict) or "name" not in s:
            raise BuildError(f"{path}: every sample needs a name: {s!r}")
        if s["name"] in names:
            raise BuildError(f"{path}: sample {s['name']!r} listed twice")
        names.add(s["name"])
        if "raw" not in s and s.get("base") not in ("solution", "student"):
            raise BuildError(f"{path}: sample {s['name']!r}: base must be solution or student")
    return spec


def _find_cell(nb, name: str) -> int:
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and name in definitions(cell.source):
            return k
    raise BuildError(f"no code cell defines {name!r}")


def _replace_definition(nb, name: str, new_source: str) -> None:
    k = _find_cell(nb, name)
    node = definitions(nb.cells[k].source)[name]
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    lines = nb.cells[k].source.splitlines()
    new_lines = new_source.rstrip("\n").splitlines()
    nb.cells[k].source = "\n".join(lines[: start - 1] + new_lines + lines[node.end_lineno :])


def expectation(sample: dict) -> str:
    """What grading must give: "error" (raw), "zero" (student), "partial" (solution-based with
    `loses`) or "full"."""
    if "raw" in sample:
        return "error"
    if sample["base"] == "student":
        return "zero"
    return "partial" if sample.get("loses") else "full"


def sample_notebook(dirs: StageDirs, sample: dict) -> str:
    """The text of one sample's notebook file.

    Inputs:
    - dirs: the stage's paths (reads the built solution and student notebooks).
    - sample: one entry of samples.yml.

    Returns:
    - text: the file's content (a normalised notebook, or the raw text).
    """
    if "raw" in sample:
        return sample["raw"]
    source = dirs.solution_nb if sample["base"] == "solution" else dirs.student_nb
    if not source.is_file():
        raise BuildError(f"{source} is missing: run `cnnkit build {dirs.stage}` first")
    nb = read_notebook(source)
    try:
        for name, new in (sample.get("replace") or {}).items():
            _replace_definition(nb, name, new)
        if sample.get("append"):
            cell = nbformat.v4.new_code_cell(sample["append"])
            where = _find_cell(nb, sample["after"]) + 1 if sample.get("after") else len(nb.cells)
            nb.cells.insert(where, cell)
    except BuildError as e:
        raise BuildError(f"sample {sample['name']!r} of {dirs.stage}: {e}") from e
    return notebook_bytes(nb, dirs.stage).decode()


def run_solution(dirs: StageDirs, artifacts: list[str], workdir: Path, timeout: int = 900) -> dict:
    """Execute the solution notebook in CI mode (otter_ignore cells included) and collect artifacts.

    Inputs:
    - dirs: the stage's paths.
    - artifacts: file names the notebook must write.
    - workdir: an empty folder to run in (public tests are copied there for grader.check).
    - timeout: per-cell timeout in seconds.

    Returns:
    - found: {artifact name: Path in workdir}; raises BuildError if one is missing.
    """
    from nbclient import NotebookClient

    nb = read_notebook(dirs.solution_nb)
    # otter's init cell reads the notebook by name from the working directory
    shutil.copy2(dirs.solution_nb, workdir / f"{dirs.stage}.ipynb")
    if dirs.public_tests.is_dir():
        shutil.copytree(dirs.public_tests, workdir / "tests", dirs_exist_ok=True)
    env_keys = {"CNNKIT_CI": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env_keys}
    os.environ.update(env_keys)
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": workdir}}
        ).execute()
    except Exception as e:
        raise BuildError(
            f"executing the {dirs.stage} solution for sample artifacts failed: {e}"
        ) from e
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    found = {}
    for name in artifacts:
        path = workdir / name
        if not path.is_file():
            raise BuildError(f"the {dirs.stage} solution ran but did not write {name}")
        found[name] = path
    return found


def generate(stage: str, root: Path, execute: bool = True) -> Path:
    """Write autograder/<stage>/samples/ from samples.yml.

    Inputs:
    - stage: the stage name (its build must exist).
    - root: the checkout.
    - execute: run the solution to produce artifacts and copy them in (the whole samples/ folder is
      rewritten); False rewrites only the notebooks and manifest, leaving artifacts in place.

    Returns:
    - path: the samples folder.
    """
    dirs = stage_dirs(stage, root)
    if not dirs.samples_yml.is_file():
        raise BuildError(f"{dirs.samples_yml} does not exist")
    spec = load_spec(dirs.samples_yml)
    texts = {s["name"]: sample_notebook(dirs, s) for s in spec["samples"]}
    manifest = []
    for s in spec["samples"]:
        with_artifacts = bool(spec["artifacts"]) and s.get("base") == "solution"
        with_artifacts = with_artifacts and s.get("artifacts", True) is not False
        manifest.append(
            {
                "name": s["name"],
                "file": f"{s['name']}/{stage}.ipynb",
                "base": s.get("base", "raw"),
                "expect": expectation(s),
                "loses": list(s.get("loses") or []),
                "artifacts": list(spec["artifacts"]) if with_artifacts else [],
            }
        )
    out = dirs.samples
    with tempfile.TemporaryDirectory(prefix=f"cnnkit-samples-{stage}-") as tmp:
        found = {}
        if execute and spec["artifacts"]:
            found = run_solution(dirs, spec["artifacts"], Path(tmp))
        if execute and out.exists():
            shutil.rmtree(out)
        keep = {m["name"] for m in manifest}
        if out.exists():
            for child in out.iterdir():
                if child.is_dir() and child.name not in keep:
                    shutil.rmtree(child)
        for entry in manifest:
            folder = out / entry["name"]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{stage}.ipynb").write_text(texts[entry["name"]], encoding="utf-8")
            for name in entry["artifacts"]:
                if name in found:
                    shutil.copy2(found[name], folder / name)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out


__all__ = ["expectation", "generate", "load_spec", "run_solution", "sample_notebook"]
