"""Running a stage's cases on one notebook: through the sandbox, in the kernel and outside it.

- `probe_spec`: what the probe is told (contract.ProbeSpec): in a student's kernel each test sliced
  by `slicing.record_source` (no expected values), with the watched names it relies on (watch.py);
- `run_kernel_cases`: the notebook in a sandboxed kernel with the probe cell appended;
- `run_artifact_cases`: the artifact cases in a sandbox of their own, on the artifact files only;
- `reference_run`: the solution, once per batch, and the preflight (it must score full marks).

No verdict is decided here: the records go to judge.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from cnnkit.features import HELDOUT_CACHE_ENV, HELDOUT_KEEP_ENV
from cnnkit.grading.autograder import Autograder, Case
from cnnkit.grading.contract import CaseSpec, Limits, ProbeSpec
from cnnkit.grading.errors import PreflightError
from cnnkit.grading.kernel import probe_cell
from cnnkit.grading.records import load_environment, load_records
from cnnkit.grading.sandbox import execute, execute_checks
from cnnkit.grading.slicing import record_source
from cnnkit.grading.stage import Stage
from cnnkit.grading.watch import depends_on, recording_path

ARTIFACTS_CRASHED = "the artifact checks did not run"


@dataclass
class Plan:
    """Everything a worker needs (picklable)."""

    stage: str
    ag: Autograder
    seed: int
    limits: Limits
    gated: Path  # directory holding the gated cnnkit package
    full: Path  # directory holding the full cnnkit package (lib/)
    checks_source: str
    reference: dict
    cache: Path
    tmp: Path
    # the reference kernel's watched functions at probe start (see run_probe): a student's kernel
    # compares its own with them
    pristine: dict = field(default_factory=dict)
    # environment of the artifact checks (TORCH_HOME: the batch's read-only copy of the weights)
    data_env: dict = field(default_factory=dict)
    grader: str = ""  # grader_version(): the cnnkit version and a hash of the grading code
    # the batch's held-out features (features.HELDOUT_CACHE_ENV), filled by the reference run's
    # artifact cases; shown read-only to every submission's artifact cases, to nothing else
    heldout: str = ""
    # the preflight store (preflight_cache.store_dir), None where it is not used
    store: Path | None = None


def grader_version(package: Path) -> str:
    """cnnkit's version and a hash of the code that decides verdicts (every module of the package).

    Inputs:
    - package: the cnnkit package directory the grader runs.

    Returns:
    - version: e.g. "0.1.0+3f2a9c1d0b7e".
    """
    from cnnkit import __version__

    # every module: the gated library the kernel imports (numeric/, models, ...) decides verdicts too
    package = Path(package)
    h = hashlib.sha256()
    for f in sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts):
        h.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


def probe_spec(plan: Plan, mode: str, out: Path, cases: list[Case]) -> ProbeSpec:
    """What the probe is told for `cases` of one run.

    Inputs:
    - plan: the batch's Plan; mode: "reference", "record" or "check"; out: the records' directory.
    - cases: the cases to run, in order.

    Returns:
    - spec: a ProbeSpec; in "record" mode each test is sliced (no expected values) and names the
      watched functions it relies on.
    """
    tests = []
    always = recording_path(plan.pristine) if mode == "record" else []
    for c in cases:
        # a student's kernel gets the tests without their expected values (see record_source), and
        # which of the functions watched by the probe each one relies on (see watch.py)
        source = record_source(c.source, c.params) if mode == "record" else c.source
        # public cases draw the inputs `grader.check` draws (seeded by the test name alone), so their
        # verdicts and messages are the ones the student saw; hidden ones draw from the run's seed
        depends = depends_on(source, plan.pristine) if mode == "record" and plan.pristine else []
        seed = plan.seed if c.hidden else None
        tests.append(CaseSpec(c.name, source, list(c.params), seed, depends))
    return ProbeSpec(
        mode=mode,
        seed=plan.seed,
        out=str(out),
        tests=tests,
        checks_source=plan.checks_source,
        case_seconds=plan.limits.case_seconds,
        memory_bytes=plan.limits.memory_bytes,
        always=always,
        pristine={k: plan.pristine[k] for t in tests for k in [*always, *t.depends]},
        # the artifact cases ("check") run no student code
        numpy_only=mode != "check" and Stage.named(plan.stage).numpy_only,
    )


def run_kernel_cases(
    plan: Plan, files: Path, nb_name: str, mode: str, library: Path, work: Path
) -> tuple[dict, object, dict]:
    """Execute a notebook (files/nb_name) in the sandbox and probe its kernel cases.

    Returns:
    - records: {case: {"error", "records"}} (see load_records).
    - outcome: the sandbox's Outcome.
    - environment: the watched functions' digests (reference mode; {} otherwise).
    """
    sub = work / "sub"
    shutil.copytree(files, sub)
    records = work / "records"
    cases = [c for c in plan.ag.cases if not c.artifact]
    limits = plan.limits
    if mode == "reference":
        # the solution is trusted: no hiding, and a generous clock so a busy machine cannot fail it
        limits = limits.for_reference()
    outcome = execute(
        Path(nb_name),
        work,
        library,
        limits,
        probe_source=probe_cell(probe_spec(plan, mode, records, cases)),
        writable=[records],
    )
    env = load_environment(records) if mode == "reference" else {}
    return load_records(records), outcome, env


def run_artifact_cases(plan: Plan, files: Path, work: Path, fill: bool = False) -> dict:
    """Run the artifact cases (no parameters) in the sandbox, on the submission's artifact files.

    The checks run as the kernel does (sandbox.execute_checks: unprivileged uid, `python -I`, the
    same filesystem and limits), in a work dir of their own whose cwd holds only the stage's
    artifact names (`Autograder.artifacts`) copied from `files`: nothing else the submission holds
    (a `json.py`) is there to be imported or run. They read the batch's held-out features
    (`plan.heldout`) when the reference run left any.

    Inputs:
    - plan: the batch's Plan; files: the materialized submission; work: this submission's work dir.
    - fill: the reference run only: the cases write the held-out features they compute to
      `work/artifacts/heldout` (see _keep_heldout).

    Returns:
    - records: {case: {"error", "records"}}; a case without records gets a timeout error.
    """
    cases = [c for c in plan.ag.cases if c.artifact]
    if not cases:
        return {}
    box = work / "artifacts"
    cwd = box / "sub"
    cwd.mkdir(parents=True)
    for name in plan.ag.artifacts:
        f = files / name
        if f.is_file() and not f.is_symlink():
            shutil.copyfile(f, cwd / name)
    records = box / "records"
    spec = probe_spec(plan, "check", records, cases)
    env, limits, writable = dict(plan.data_env), plan.limits, [records]
    if fill:  # the trusted solution's run computes the held-out features and keeps them
        writable.append(box / "heldout")
        env.update({HELDOUT_CACHE_ENV: os.path.realpath(box / "heldout"), HELDOUT_KEEP_ENV: "1"})
    elif plan.heldout:
        env[HELDOUT_CACHE_ENV] = plan.heldout
        limits = replace(
            limits,
            read_only=[*limits.read_only, plan.heldout],
            hide=[h for h in limits.hide if h != plan.heldout],
        )
    outcome = execute_checks(spec, box, plan.full, limits, extra_env=env, writable=writable)
    got = load_records(records)
    missing = "TimeoutError: the case did not finish"
    if outcome.status == "crashed":
        missing = f"{ARTIFACTS_CRASHED}: {outcome.reason}"[:300]
    for c in cases:
        got.setdefault(c.name, {"error": missing, "records": []})
    return got


def reference_run(plan: Plan, root: Path) -> dict:
    """Run the solution with the full library in "reference" mode; preflight its score.

    Returns:
    - records: {case: {"error", "records"}} of the kernel cases; raises PreflightError naming the
      cases that fail (the grading environment cannot score the solution).
    """
    from cnnkit.grading import preflight_cache

    preflight_key = preflight_cache.key(plan, preflight_cache.data_sources())
    store = plan.store
    work = Path(tempfile.mkdtemp(prefix="cnnkit-ref-", dir=plan.tmp))
    kept = preflight_cache.load(store, preflight_key, work / "kept") if store else None
    if kept is not None:  # the same build, grader, limits, seed and environment passed before
        plan.pristine = kept.pristine
        _keep_heldout(plan, kept.heldout)
        shutil.rmtree(work, ignore_errors=True)  # read: no copy stays beside the kernels
        return kept.records
    try:
        files = work / "files"
        files.mkdir()
        sol_dir = plan.ag.solution.parent
        for f in sol_dir.iterdir():
            if f.is_file():
                shutil.copyfile(f, files / f.name)
        _reference_artifacts(sol_dir.parent / "samples", files)
        got, outcome, plan.pristine = run_kernel_cases(
            plan, files, plan.ag.solution.name, "reference", plan.full, work
        )
        failing = []
        if outcome.status != "ok":
            failing.append(f"(the solution notebook: {outcome.reason})")
        for c in plan.ag.cases:
            if c.artifact:
                continue
            entry = got.get(c.name)
            if entry is None:
                failing.append(f"{c.question}/{c.name}: not run")
            elif entry["error"]:
                failing.append(f"{c.question}/{c.name}: {entry['error'].strip()}")
        arts = [c for c in plan.ag.cases if c.artifact]
        heldout = work / "artifacts" / "heldout"
        if arts and _has_artifacts(files, arts):
            art = run_artifact_cases(plan, files, work, fill=True)
            for c in arts:
                if art[c.name]["error"]:
                    failing.append(f"{c.question}/{c.name}: {art[c.name]['error'].strip()}")
        if failing:
            raise PreflightError(
                f"preflight: the solution of {plan.stage} does not score full marks in this "
                "grading environment, so grading would be wrong for everyone. Failing cases:\n  "
                + "\n  ".join(failing)
            )
        if store:
            preflight_cache.store(store, preflight_key, work / "records", heldout)
        _keep_heldout(plan, heldout)
        return got
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _keep_heldout(plan: Plan, source: Path | None) -> None:
    """Copy the reference run's held-out features (plain .npz files) to the batch's read-only
    folder `plan.tmp/heldout` and point `plan.heldout` at it (left empty when there are none)."""
    files = sorted(
        f
        for f in (source.iterdir() if source is not None and source.is_dir() else [])
        if f.suffix == ".npz" and f.is_file() and not f.is_symlink()
    )
    if not files:
        return
    dest = Path(plan.tmp) / "heldout"
    dest.mkdir(exist_ok=True)
    for f in files:
        shutil.copyfile(f, dest / f.name)
        (dest / f.name).chmod(0o644)
    dest.chmod(0o755)
    plan.heldout = os.path.realpath(dest)  # the path the sandbox binds


def _reference_artifacts(samples: Path, files: Path) -> None:
    """Add the "solution" sample's trained files when the solution folder lacks them (older builds)."""
    manifest = samples / "manifest.json"
    if _has_artifacts(files, []) or not manifest.exists():
        return
    with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
        for entry in json.loads(manifest.read_text()):
            if entry.get("name") == "solution":
                src = (samples / entry["file"]).parent
                for name in entry.get("artifacts", []):
                    if (src / Path(name).name).is_file():
                        shutil.copyfile(src / Path(name).name, files / Path(name).name)


def _has_artifacts(files: Path, cases: list[Case]) -> bool:
    """True when the solution folder carries files besides its notebook (the reference artifacts)."""
    return any(f.suffix != ".ipynb" for f in files.iterdir())
