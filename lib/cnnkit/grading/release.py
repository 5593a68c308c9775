"""`cnnkit release --stage K --out DIR`: the student repository for "stage K is the current stage".

The release holds exactly:

    README.md                       for students, from release_templates/student-README.md
    environment.yml                 the conda environment (the kit's own, installs `-e .`)
    pyproject.toml                  the kit's dependencies without the instructor extra
    lib/cnnkit/                     the stage-gated library (cnnkit.grading left out)
    assignments/<stage>/            for every stage <= K: student notebook, Colab variant, public tests

The library comes from `gate.gated_copy(stage K)`: exercises of stages >= K raise NotImplementedError
naming their notebook, exercises of earlier stages (past their deadline) ship in the clear; exercise
markers are removed. Nothing else is copied: no solutions/, autograder/, hidden tests, samples,
reference outputs, caches or archive junk.

Colab: the release's git URL and tag are baked into the released `cnnkit/colab.py` (INSTALL_SPEC),
into every Colab notebook's install cell and into the README's "Open in Colab" links. They come from
the `repo_url`/`ref` arguments or env CNNKIT_RELEASE_REPO / CNNKIT_RELEASE_REF (a GitHub https URL
gives Colab links; other hosts get install instructions only). Publish the folder as that repository
and tag it with `ref`.

Archive: `archive=True` (or env CNNKIT_RELEASE_ZIP=1) also writes DIR.zip next to DIR, entries sorted
under DIR's name with fixed timestamps and permissions, so two releases of the same tree are
byte-identical.

Last step, always (release_check.py): the leak scanner runs over the whole output (notebook sources,
outputs and metadata, zip members included) with the masters' solution lines and hidden cases, the
library exercise lines of stages >= K and every reference/binary file of the autograder as secrets;
any finding removes the output and raises ReleaseError.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import string
import sys
import tempfile
from pathlib import Path

from cnnkit.grading import helper_leaks, leaks, master
from cnnkit.grading.gate import BEGIN_RE, END_RE, gated_copy
from cnnkit.grading.packaging import read_pyproject, write_zip
from cnnkit.grading.paths import stage_dirs
from cnnkit.grading.release_check import check_release, is_junk, release_secrets
from cnnkit.grading.stage import Stage, StageError
from cnnkit.grading.stage import get as get_stage

TEMPLATES = Path(__file__).resolve().parent / "release_templates"
DEFAULT_REPO = "https://github.com/cnnkit/cnnkit-course"
DEFAULT_REF = "main"
# The top of a README released without a repository (no --repo-url, no CNNKIT_RELEASE_REPO)
PLACEHOLDER_NOTE = (
    "\n> **Placeholder links.** This copy was released without a repository address, so the git, "
    "Colab and install links below point at `{repo}`, which is not your course's repository. Use "
    "the folder you were given (the pip route below, inside it) and ask your course staff for the "
    "repository before using Colab: the Colab notebooks install cnnkit from it.\n"
)


class ReleaseError(RuntimeError):
    """The release cannot be written safely (stage not built, leaks found, output in the way)."""


def stage_name(stage: int | str) -> str:
    """The stage name for `cnnkit release --stage K` (1-based) or a name given as is.

    Inputs:
    - stage: its place in the course (1-based, as `cnnkit.grading.stage.get`) or a stage name such as
      "02_conv_layers".

    Returns:
    - name: e.g. "02_conv_layers".
    """
    try:
        return get_stage(stage).name
    except StageError as e:
        raise ReleaseError(str(e)) from e


def _upto(stage: str) -> list[str]:
    """The course's stage names up to and including `stage`."""
    return [s.name for s in get_stage(stage).earlier()]


# --------------------------------------------------------------------------------------------------
# Colab / install settings


def release_settings(repo_url: str | None = None, ref: str | None = None) -> dict:
    """Where students install the release from, and the Colab link base if it is on GitHub.

    Inputs:
    - repo_url: the release repository's URL (default env CNNKIT_RELEASE_REPO, else DEFAULT_REPO).
    - ref: the git tag or branch students install (default env CNNKIT_RELEASE_REF, else "main").

    Returns:
    - settings: dict with repo (URL without .git or trailing /), ref, install_spec (a pip requirement
      `cnnkit @ git+URL@ref`), clone_url, colab_base (URL prefix of "Open in Colab" links, or None),
      placeholder (True when no repository was given: the links point at DEFAULT_REPO).
    """
    placeholder = not (repo_url or os.environ.get("CNNKIT_RELEASE_REPO"))
    repo = (repo_url or os.environ.get("CNNKIT_RELEASE_REPO") or DEFAULT_REPO).strip()
    ref = (ref or os.environ.get("CNNKIT_RELEASE_REF") or DEFAULT_REF).strip()
    repo = repo.removeprefix("git+").rstrip("/").removesuffix(".git")
    if not re.match(r"^(https?|ssh|git|file)://", repo):
        raise ReleaseError(f"release repository must be a URL (https://...), not {repo!r}")
    if not re.match(r"^[\w.\-/]+$", ref):
        raise ReleaseError(f"release ref {ref!r} is not a plain git tag or branch name")
    m = re.match(r"^https://github\.com/([\w.\-]+)/([\w.\-]+)$", repo)
    colab = f"https://colab.research.google.com/github/{m[1]}/{m[2]}/blob/{ref}" if m else None
    return {
        "repo": repo,
        "ref": ref,
        "install_spec": f"cnnkit @ git+{repo}@{ref}",
        "clone_url": f"{repo}.git" if repo.startswith("https://") else repo,
        "colab_base": colab,
        "placeholder": placeholder,
    }


def _set_install_spec(text: str, spec: str) -> str:
    """Replace the default INSTALL_SPEC (module assignment or string literal) by the release's."""
    from cnnkit import colab

    text = re.sub(
        r"^INSTALL_SPEC\s*=\s*.*$", f"INSTALL_SPEC = {spec!r}", text, count=1, flags=re.MULTILINE
    )
    return text.replace(repr(colab.INSTALL_SPEC), repr(spec))


# --------------------------------------------------------------------------------------------------
# Files


def _release_notebook(src: Path, dest: Path, spec: str) -> None:
    """Copy a built notebook without outputs/execution counts and with the release's install spec."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        src_text = cell.get("source", "")
        if isinstance(src_text, list):
            src_text = "".join(src_text)
        cell["source"] = _set_install_spec(src_text, spec)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")


def _copy_assignment(stage: str, root: Path, dest: Path, spec: str) -> list[Path]:
    src = stage_dirs(stage, root).assignment
    if not (src / f"{stage}.ipynb").is_file():
        raise ReleaseError(
            f"{src} has no built student notebook: run `cnnkit build {stage}` before releasing"
        )
    written = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if not path.is_file() or is_junk(rel):
            continue
        out = dest / rel
        if path.suffix == ".ipynb":
            _release_notebook(path, out, spec)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
        written.append(out)
    return written


def _strip_exercise_markers(package: Path) -> None:
    """Remove `# BEGIN EXERCISE` / `# END EXERCISE` lines and the inline `# BEGIN SOLUTION` /
    `# END SOLUTION` lines of the exercises a master names (the library holds them once, markers
    included): students get plain code or plain stubs."""

    def marker(line: str) -> bool:
        bare = line.rstrip("\n")
        return bool(
            BEGIN_RE.match(bare.strip())
            or END_RE.match(bare.strip())
            or master.INLINE_BEGIN.match(bare)
            or master.INLINE_END.match(bare)
        )

    for py in sorted(package.rglob("*.py")):
        text = py.read_text(encoding="utf-8")
        if "EXERCISE" not in text:
            continue
        lines = text.splitlines(keepends=True)
        kept = [ln for ln in lines if not marker(ln)]
        if len(kept) != len(lines):
            py.write_text("".join(kept), encoding="utf-8")


def _library(stage: str, dest: Path, spec: str) -> Path:
    package = gated_copy(stage, dest)
    for path in sorted(package.rglob("*"), reverse=True):
        if is_junk(path.relative_to(package)):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    _strip_exercise_markers(package)
    colab_py = package / "colab.py"
    if colab_py.is_file():
        colab_py.write_text(_set_install_spec(colab_py.read_text("utf-8"), spec), "utf-8")
    return package


def _toml_list(items: list[str], indent: str = "    ") -> str:
    return "[\n" + "".join(f"{indent}{json.dumps(x)},\n" for x in items) + "]"


def student_pyproject(root: Path) -> str:
    """The student repository's pyproject.toml: the kit's dependencies, no instructor extra, no tools.

    Inputs:
    - root: the checkout (its pyproject.toml is the source of names, dependencies and extras).

    Returns:
    - text: TOML that installs the gated lib/cnnkit (`pip install -e .`) with the `cnnkit` command.
    """
    project = read_pyproject(root)["project"]
    extras = {
        k: v for k, v in project.get("optional-dependencies", {}).items() if k != "instructor"
    }
    lines = [
        "# Student repository of the cnnkit course (written by `cnnkit release`).",
        "[build-system]",
        'requires = ["setuptools>=64"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f"name = {json.dumps(project['name'])}",
        'dynamic = ["version"]',
        f"description = {json.dumps(project.get('description', ''))}",
        'readme = "README.md"',
        f"requires-python = {json.dumps(project.get('requires-python', '>=3.10'))}",
        f"dependencies = {_toml_list(project['dependencies'])}",
    ]
    if extras:
        lines += ["", "[project.optional-dependencies]"]
        lines += [f"{k} = {_toml_list(v)}" for k, v in sorted(extras.items())]
    lines += [
        "",
        "[project.scripts]",
        'cnnkit = "cnnkit.cli:main"',
        "",
        "[tool.setuptools.dynamic]",
        'version = { attr = "cnnkit.__version__" }',
        "",
        "[tool.setuptools.packages.find]",
        'where = ["lib"]',
        "",
        "[tool.setuptools.package-data]",
        'cnnkit = ["**/*.json", "**/*.md", "**/*.txt"]',
    ]
    return "\n".join(lines) + "\n"


def student_environment(root: Path) -> str:
    """environment.yml for students: the kit's own, refused if it names instructor tooling."""
    text = (root / "environment.yml").read_text(encoding="utf-8")
    if re.search(r"\bnbgrader\b|\bjupytext\b", text):
        raise ReleaseError("environment.yml names instructor tooling (nbgrader/jupytext)")
    return text


def _artifact_note(stage: str, root: Path) -> str:
    """Files the notebook saves and students submit with it (samples.yml `artifacts`)."""
    files = Stage.named(stage).artifacts(root)
    return " + " + ", ".join(f"`{f}`" for f in files) if files else ""


def student_readme(stage: str, root: Path, settings: dict) -> str:
    """README.md of the release from release_templates/student-README.md.

    Inputs:
    - stage: the current stage (notebooks of stages <= it are listed).
    - root: the checkout.
    - settings: from release_settings().

    Returns:
    - text: Markdown with install steps, one row per notebook (Colab link where possible), how to
      submit (notebook + artifact files) and the hidden-tests note.
    """
    rows = []
    for s in _upto(stage):
        nb = f"assignments/{s}/{s}.ipynb"
        colab = (
            f"[Open in Colab]({settings['colab_base']}/assignments/{s}/{s}-colab.ipynb)"
            if settings["colab_base"]
            else f"upload `assignments/{s}/{s}-colab.ipynb`"
        )
        current = " **(current)**" if s == stage else ""
        submit = f"`{s}.ipynb`{_artifact_note(s, root)}"
        rows.append(
            f"| {s}{current} | {Stage.named(s).title or s} | [`{nb}`]({nb}) | {colab} | {submit} |"
        )
    template = string.Template((TEMPLATES / "student-README.md").read_text(encoding="utf-8"))
    return template.substitute(
        placeholder_note=PLACEHOLDER_NOTE.format(repo=settings["repo"])
        if settings.get("placeholder")
        else "",
        stage=stage,
        notebooks="\n".join(rows),
        repo=settings["repo"],
        clone_url=settings["clone_url"],
        ref=settings["ref"],
        install_spec=settings["install_spec"],
    )


# --------------------------------------------------------------------------------------------------
# The command


def expected_manifest(stage: str, root: Path) -> list[str]:
    """The relative paths a release of `stage` must hold, computed from the release rules.

    Inputs:
    - stage: the current stage.
    - root: the checkout.

    Returns:
    - paths: sorted POSIX paths: README.md, environment.yml, pyproject.toml, every non-junk file of
      assignments/<s>/ for s <= stage, every non-junk file of lib/cnnkit outside grading/.
    """
    paths = ["README.md", "environment.yml", "pyproject.toml"]
    for s in _upto(stage):
        src = root / "assignments" / s
        paths += [
            f"assignments/{s}/{p.relative_to(src).as_posix()}"
            for p in src.rglob("*")
            if p.is_file() and not is_junk(p.relative_to(src))
        ]
    lib = root / "lib" / "cnnkit"
    for p in lib.rglob("*"):
        rel = p.relative_to(lib)
        if p.is_file() and not is_junk(rel) and rel.parts[0] != "grading":
            paths.append(f"lib/cnnkit/{rel.as_posix()}")
    return sorted(paths)


def _looks_like_release(out: Path) -> bool:
    return (out / "lib" / "cnnkit" / "__init__.py").is_file() and (out / "README.md").is_file()


def _zip(tree: Path, dest: Path) -> Path:
    members = {
        f"{tree.name}/{p.relative_to(tree).as_posix()}": p.read_bytes()
        for p in sorted(tree.rglob("*"))
        if p.is_file()
    }
    write_zip(dest, members)
    return dest


def release(
    stage: int | str,
    out: Path,
    root: Path,
    *,
    repo_url: str | None = None,
    ref: str | None = None,
    archive: bool | None = None,
) -> Path:
    """Write the student repository for stage `stage` into `out` (see the module docstring).

    Inputs:
    - stage: its place in the course (as `cnnkit release --stage K`) or a stage name.
    - out: the folder to write; an existing non-empty folder is replaced only if it is a release.
    - root: the kit's checkout (solutions/, assignments/, lib/).
    - repo_url, ref: where students install the release from (see release_settings()).
    - archive: also write `out`.zip (default: env CNNKIT_RELEASE_ZIP=1).

    Returns:
    - out: the release folder (absolute).

    Raises ReleaseError when a stage <= K is not built, `out` is in the way, or leaks are found (the
    message lists them; nothing is left at `out` then).
    """
    name = stage_name(stage)
    root = Path(root).resolve()
    out = Path(out).resolve()
    if archive is None:
        archive = os.environ.get("CNNKIT_RELEASE_ZIP", "") not in ("", "0")
    if out == root or root.is_relative_to(out) or out.is_relative_to(root / "lib"):
        raise ReleaseError(f"refusing to release into {out}: it overlaps the kit's checkout")
    if helpers := helper_leaks.findings(root):  # the gate stubs only regions: see helper_leaks
        raise ReleaseError(f"release of {name} refused:\n  " + "\n  ".join(map(str, helpers)))
    if out.exists() and any(out.iterdir()) and not _looks_like_release(out):
        raise ReleaseError(f"{out} exists and is not an earlier release: choose an empty folder")
    settings = release_settings(repo_url, ref)
    if settings["placeholder"]:
        print(
            f"cnnkit release: WARNING no --repo-url (or CNNKIT_RELEASE_REPO): the README's git and "
            f"Colab links and the Colab install cells point at the placeholder {settings['repo']}; "
            "the README says so at the top",
            file=sys.stderr,
        )
    spec = settings["install_spec"]
    out.parent.mkdir(parents=True, exist_ok=True)
    stage_tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        tree = stage_tmp / out.name
        tree.mkdir()
        for s in _upto(name):
            _copy_assignment(s, root, tree / "assignments" / s, spec)
        _library(name, tree / "lib", spec)
        (tree / "README.md").write_text(student_readme(name, root, settings), encoding="utf-8")
        (tree / "environment.yml").write_text(student_environment(root), encoding="utf-8")
        (tree / "pyproject.toml").write_text(student_pyproject(root), encoding="utf-8")
        findings = check_release(tree, name, root)
        if findings:
            shown = "\n  ".join(str(f) for f in findings[:50])
            more = f"\n  ... and {len(findings) - 50} more" if len(findings) > 50 else ""
            raise ReleaseError(
                f"release of {name} refused: {len(findings)} leak(s):\n  {shown}{more}"
            )
        if out.exists():
            shutil.rmtree(out)
        tree.rename(out)
    finally:
        shutil.rmtree(stage_tmp, ignore_errors=True)
    if archive:
        zpath = _zip(out, out.with_name(out.name + ".zip"))
        findings = leaks.scan(zpath, release_secrets(name, root))
        if findings:
            zpath.unlink()
            raise ReleaseError(f"{zpath}: {len(findings)} leak(s) in the archive: {findings[0]}")
    return out
