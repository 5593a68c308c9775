"""`cnnkit grade`: Docker-free batch grading with verdicts outside the student's kernel.

For a stage, the grader reads `autograder/<stage>/autograder.zip` (otter's zip; its tests/*.py hold all
cases, hidden ones included) and the solution notebook `autograder/<stage>/solution/<stage>.ipynb`.

1. Reference: once per batch the solution runs in the sandbox with the full library and the probe in
   "reference" mode with a fresh grading seed. Preflight: it must pass every case, else grading stops.
2. Each submission (an .ipynb, a folder with one .ipynb and its artifact files, or an otter export
   zip) runs in its own temp dir and sandboxed kernel with the stage-gated library; the probe records
   plain values in "record" mode with the same seed, running each test sliced by
   `probe.record_source` (no expected values in the kernel). A notebook whose otter metadata names
   another assignment gets 0 with that reason. A case passes iff it raised nothing and every
   record matches the reference's (`cnnkit.checks.match`). Artifact cases (test functions without
   parameters) run in a separate grader process on a copy of the submitted files.
3. Results are cached in OUT/.cache by content hash (resume, idempotent reruns) and written as
   final_grades.csv (otter grade's format), results.json, report.md and feedback/<student>.md.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnnkit.grading import report as report_mod
from cnnkit.grading.gate import gated_copy
from cnnkit.grading.probe import (
    depends_on,
    load_environment,
    load_records,
    probe_cell,
    record_source,
    recording_path,
)
from cnnkit.grading.sandbox import Limits, execute

MAX_ZIP_BYTES = 512 * 1024**2


class GradingError(RuntimeError):
    """The batch cannot be graded (missing autograder, preflight failed)."""


class PreflightError(GradingError):
    """The reference solution does not score full marks in this grading environment."""


class SubmissionError(ValueError):
    """A submission that cannot be graded (its row gets 0 and this reason)."""


@dataclass
class Case:
    name: str
    question: str
    points: float
    hidden: bool
    params: list[str]
    source: str

    @property
    def artifact(self) -> bool:
        return not self.params


@dataclass
class Submission:
    name: str  # the gradebook's "file" column
    path: Path
    kind: str  # "ipynb", "folder", "zip", "invalid"


@dataclass
class Autograder:
    stage: str
    zip_path: Path
    zip_hash: str
    cases: list[Case]
    questions: list[str]
    solution: Path

    def possible(self) -> dict[str, float]:
        return {q: sum(c.points for c in self.cases if c.question == q) for q in self.questions}


@dataclass
class GradeResult:
    """Outcome of a batch: one row per submission plus the paths of the written files."""

    stage: str
    out: Path
    rows: list[dict] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    possible: dict[str, float] = field(default_factory=dict)
    graded_now: int = 0

    @property
    def csv(self) -> Path:
        return self.out / "final_grades.csv"

    @property
    def report(self) -> Path:
        return self.out / "report.md"

    def summary(self) -> str:
        """The gradebook as a text table (student x question, total) and where the report is."""
        return report_mod.summary_table(self)


# ------------------------------------------------------------------------------- autograder --


def _literal(node: ast.AST, default):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return default


def parse_test_file(text: str, filename: str = "<test>") -> tuple[str, list[Case]]:
    """Cases of one otter exception-format test file.

    Inputs:
    - text: the file (`name = "q1"`, `@test_case(points=.., hidden=..)` functions).
    - filename: for error messages.

    Returns:
    - (question, cases): the question name and its cases in file order.
    """
    tree = ast.parse(text, filename=filename)
    question = Path(filename).stem
    cases = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "name" for t in node.targets
        ):
            question = str(_literal(node.value, question))
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        deco = [
            d
            for d in node.decorator_list
            if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "test_case"
        ]
        if not deco:
            continue
        kw = {k.arg: _literal(k.value, None) for k in deco[0].keywords}
        node.decorator_list = []
        params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
        cases.append(
            Case(
                name=node.name,
                question=question,
                points=float(kw.get("points") or 0.0),
                hidden=bool(kw.get("hidden") or False),
                params=params,
                source=ast.unparse(node),
            )
        )
    return question, cases


def load_autograder(stage: str, root: Path) -> Autograder:
    """Read a stage's autograder zip and locate its solution notebook.

    Inputs:
    - stage: e.g. "01_backprop".
    - root: the kit's checkout (autograder/<stage>/autograder.zip, .../solution/<stage>.ipynb).

    Returns:
    - autograder: Autograder with every case (public and hidden), question order as in the zip.
    """
    base = Path(root) / "autograder" / stage
    zip_path = base / "autograder.zip"
    solution = base / "solution" / f"{stage}.ipynb"
    if not zip_path.exists():
        raise GradingError(f"{zip_path} not found: run `cnnkit build {stage}` first")
    if not solution.exists():
        raise GradingError(f"{solution} not found: run `cnnkit build {stage}` first")
    data = zip_path.read_bytes()
    cases, questions = [], []
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py"))
        for n in names:
            q, cs = parse_test_file(zf.read(n).decode("utf-8"), n)
            questions.append(q)
            cases.extend(cs)
    questions.sort(key=_natural)
    if not cases:
        raise GradingError(f"{zip_path} holds no test cases")
    return Autograder(
        stage, zip_path, hashlib.sha256(data).hexdigest(), cases, questions, solution.resolve()
    )


def _natural(text: str):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


# ------------------------------------------------------------------------------ submissions --


def collect_submissions(paths: list[Path]) -> list[Submission]:
    """Expand the command line into submissions (one gradebook row each).

    Inputs:
    - paths: .ipynb files, otter export zips, folders holding one notebook and its artifacts (one
      submission), or folders of any of these.

    Returns:
    - submissions: sorted by name; any other file becomes an "invalid" submission (a row with 0).
    """
    subs: list[Submission] = []

    def add(p: Path) -> None:
        if p.is_dir():
            nbs = sorted(x for x in p.iterdir() if x.suffix == ".ipynb" and x.is_file())
            if len(nbs) == 1:
                subs.append(Submission(p.name, p, "folder"))
                return
            for x in sorted(p.iterdir()):
                if x.name.startswith("."):
                    continue
                if x.is_dir() or x.suffix in (".ipynb", ".zip"):
                    add(x)
        elif p.suffix == ".ipynb":
            subs.append(Submission(p.name, p, "ipynb"))
        elif p.suffix == ".zip":
            subs.append(Submission(p.name, p, "zip"))
        else:
            subs.append(Submission(p.name, p, "invalid"))

    for p in paths:
        p = Path(p)
        if not p.exists():
            subs.append(Submission(p.name, p, "invalid"))
        else:
            add(p)
    # names are the gradebook key: make duplicates unique with their parent folder
    seen: dict[str, int] = {}
    for s in subs:
        seen[s.name] = seen.get(s.name, 0) + 1
    for s in subs:
        if seen[s.name] > 1:
            s.name = f"{s.path.parent.name}/{s.name}"
    return sorted(subs, key=lambda s: (s.name, str(s.path)))


def content_hash(sub: Submission) -> str:
    """sha256 over the submission's files (names and bytes)."""
    h = hashlib.sha256(sub.kind.encode())
    if sub.kind == "folder":
        for f in sorted(x for x in sub.path.iterdir() if x.is_file()):
            h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    elif sub.path.is_file():
        h.update(sub.path.read_bytes())
    return h.hexdigest()


def materialize(sub: Submission, dest: Path) -> str:
    """Write the submission's notebook and artifact files into `dest`; return the notebook's name.

    Inputs:
    - sub: the submission.
    - dest: an empty directory.

    Returns:
    - name: the notebook file name inside dest; raises SubmissionError for unusable submissions.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if sub.kind == "invalid":
        raise SubmissionError(f"not a notebook, folder or zip: {sub.path.name}")
    if sub.kind == "ipynb":
        shutil.copyfile(sub.path, dest / "submission.ipynb")
        return "submission.ipynb"
    if sub.kind == "folder":
        nbs = []
        for f in sorted(sub.path.iterdir()):
            if f.is_file() and not f.is_symlink() and not f.name.startswith("."):
                shutil.copyfile(f, dest / f.name)
                if f.suffix == ".ipynb":
                    nbs.append(f.name)
        return nbs[0]
    try:
        with zipfile.ZipFile(sub.path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
                raise SubmissionError("zip too large")
            nbs = []
            for i in infos:
                name = Path(i.filename).name
                parts = Path(i.filename).parts
                if not name or name.startswith(".") or "__MACOSX" in parts or ".." in parts:
                    continue
                if name.endswith(".ipynb"):
                    nbs.append(name)
                (dest / name).write_bytes(zf.read(i))
    except zipfile.BadZipFile as err:
        raise SubmissionError(f"not a valid zip file: {err}") from err
    if len(nbs) != 1:
        raise SubmissionError(f"the zip must hold exactly one notebook, found {len(nbs)}")
    return nbs[0]


# ---------------------------------------------------------------------------------- running --


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


def _spec(plan: Plan, mode: str, out: Path, cases: list[Case]) -> dict:
    tests = []
    always = recording_path(plan.pristine) if mode == "record" else []
    for c in cases:
        # a student's kernel gets the tests without their expected values (see record_source), and
        # which of the functions watched by the probe each one relies on (see run_probe)
        source = record_source(c.source, c.params) if mode == "record" else c.source
        test = {"name": c.name, "source": source, "params": c.params}
        if mode == "record" and plan.pristine:
            test["depends"] = depends_on(source, plan.pristine)
        tests.append(test)
    return {
        "mode": mode,
        "seed": plan.seed,
        "out": str(out),
        "tests": tests,
        "checks_source": plan.checks_source,
        "always": always,
        "pristine": {k: plan.pristine[k] for t in tests for k in [*always, *t.get("depends", [])]},
        "case_timeout": max(
            5, int(min(plan.limits.case_timeout or plan.limits.cell_timeout, plan.limits.timeout))
        ),
        "memory_bytes": plan.limits.memory_bytes,
    }


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
        t = max(limits.timeout, 600.0)
        limits = Limits(
            **{**asdict(limits), "hide": [], "timeout": t, "cell_timeout": t, "case_timeout": t}
        )
    outcome = execute(
        Path(nb_name),
        work,
        library,
        limits,
        probe_source=probe_cell(_spec(plan, mode, records, cases)),
        writable=[records],
    )
    env = load_environment(records) if mode == "reference" else {}
    return load_records(records), outcome, env


def run_artifact_cases(plan: Plan, files: Path, work: Path) -> dict:
    """Run the artifact cases (no parameters) in a separate grader process, cwd = a copy of files."""
    cases = [c for c in plan.ag.cases if c.artifact]
    if not cases:
        return {}
    cwd = work / "artifacts"
    shutil.copytree(files, cwd)
    records = work / "artifact-records"
    spec_path = work / "artifact-spec.json"
    spec_path.write_text(json.dumps(_spec(plan, "check", records, cases)))
    env = dict(os.environ, PYTHONPATH=str(plan.full), CNNKIT_GRADING="1", MPLBACKEND="Agg")
    env["OMP_NUM_THREADS"] = "1"
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            [sys.executable, "-m", "cnnkit.grading.probe", str(spec_path)],
            cwd=cwd,
            env=env,
            capture_output=True,
            timeout=plan.limits.timeout,
            start_new_session=True,
            check=False,
        )
    got = load_records(records)
    for c in cases:
        got.setdefault(c.name, {"error": "TimeoutError: the case did not finish", "records": []})
    return got


def judge(plan: Plan, got: dict, artifacts: dict) -> dict[str, dict]:
    """Per-case verdicts: {case: {question, points, earned, passed, hidden, message}}."""
    from cnnkit.checks import match

    verdicts = {}
    for c in plan.ag.cases:
        entry = (artifacts if c.artifact else got).get(c.name)
        message = ""
        if entry is None:
            passed, message = False, "not run (the notebook did not reach the grader's probe)"
        elif entry["error"]:
            passed, message = False, entry["error"].splitlines()[0][:300]
        elif c.artifact:
            passed = True
        else:
            ref = plan.reference[c.name]["records"]
            recs = entry["records"]
            problems = [match(r, g) for r, g in zip(ref, recs, strict=False)]
            problems = [p for p in problems if p]
            if len(recs) != len(ref):
                problems.append(f"{len(recs)} checks recorded, {len(ref)} expected")
            passed = not problems
            message = "; ".join(problems)[:300]
        verdicts[c.name] = {
            "question": c.question,
            "points": c.points,
            "earned": c.points if passed else 0.0,
            "passed": passed,
            "hidden": c.hidden,
            "message": "" if passed else message,
        }
    return verdicts


def grade_one(plan: Plan, sub: Submission) -> dict:
    """Grade one submission; always returns a row (never raises for the submission's faults)."""
    key = hashlib.sha256(
        f"{content_hash(sub)}|{plan.stage}|{plan.ag.zip_hash}".encode()
    ).hexdigest()
    cached = plan.cache / f"{key}.json"
    if cached.exists():
        row = json.loads(cached.read_text())
        row["name"] = sub.name
        return row
    work = Path(tempfile.mkdtemp(prefix="cnnkit-grade-", dir=plan.tmp))
    row = {"name": sub.name, "kind": sub.kind, "status": "Completed", "reason": "", "cases": {}}
    try:
        files = work / "files"
        try:
            nb_name = materialize(sub, files)
        except SubmissionError as err:
            raise _Row0(str(err)) from err
        try:
            import nbformat

            nb = nbformat.read(str(files / nb_name), as_version=4)
        except Exception as err:  # noqa: BLE001 - malformed JSON, wrong schema, binary junk
            raise _Row0(f"malformed notebook: {type(err).__name__}: {err}"[:300]) from err
        # otter refuses another assignment's notebook too; without the metadata it is graded on
        # its merits (its functions are simply missing)
        other = (nb.metadata.get("otter") or {}).get("assignment_name")
        if isinstance(other, str) and other and other != plan.stage:
            raise _Row0(
                f"wrong assignment: this notebook is {other[:60]!r}, not {plan.stage!r} "
                f"(submit your {plan.stage}.ipynb)"
            )
        lib = work / "lib"
        shutil.copytree(plan.gated, lib)
        got, outcome, _ = run_kernel_cases(plan, files, nb_name, "record", lib, work)
        if outcome.status in ("timeout", "crashed"):
            raise _Row0(outcome.reason)
        row["reason"] = outcome.reason
        row["isolation"] = outcome.isolation
        artifacts = run_artifact_cases(plan, files, work)
        row["cases"] = judge(plan, got, artifacts)
    except _Row0 as err:
        row.update(status="Failed", reason=str(err))
    except Exception as err:  # noqa: BLE001 - one broken submission must not stop the batch
        row.update(status="Failed", reason=f"grader error: {type(err).__name__}: {err}"[:300])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row["scores"] = _scores(plan.ag, row)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(row))
    os.replace(tmp, cached)
    return row


class _Row0(Exception):
    pass


def _scores(ag: Autograder, row: dict) -> dict[str, float]:
    scores = dict.fromkeys(ag.questions, 0.0)
    for v in row["cases"].values():
        scores[v["question"]] += v["earned"]
    return scores


def reference_run(plan: Plan, root: Path) -> dict:
    """Run the solution with the full library in "reference" mode; preflight its score.

    Returns:
    - records: {case: {"error", "records"}} of the kernel cases; raises PreflightError naming the
      cases that fail (the grading environment cannot score the solution).
    """
    work = Path(tempfile.mkdtemp(prefix="cnnkit-ref-", dir=plan.tmp))
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
        if arts and _has_artifacts(files, arts):
            art = run_artifact_cases(plan, files, work)
            for c in arts:
                if art[c.name]["error"]:
                    failing.append(f"{c.question}/{c.name}: {art[c.name]['error'].strip()}")
        if failing:
            raise PreflightError(
                f"preflight: the solution of {plan.stage} does not score full marks in this "
                "grading environment, so grading would be wrong for everyone. Failing cases:\n  "
                + "\n  ".join(failing)
            )
        return got
    finally:
        shutil.rmtree(work, ignore_errors=True)


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


def grade(
    stage: str,
    submissions: list[Path],
    out: Path,
    workers: int = 2,
    timeout: float = 600.0,
    root: Path | None = None,
    *,
    limits: Limits | None = None,
    progress: bool = True,
    seed: int | None = None,
    library: Path | None = None,
    shard: str | None = None,
) -> GradeResult:
    """Grade submissions of a stage without Docker (see the module docstring).

    Inputs:
    - stage: e.g. "01_backprop".
    - submissions: .ipynb files, folders, otter export zips (folders of them are expanded).
    - out: output directory (final_grades.csv, results.json, report.md, feedback/, .cache/).
    - workers: parallel submissions.
    - timeout: wall-clock seconds per submission.
    - root: the kit's checkout (default: cnnkit.grading.paths.repo_root()).
    - limits: full Limits (overrides timeout); progress: tqdm bar; seed: grading seed (default fresh).
    - library: the full cnnkit package directory (default: this cnnkit); tests pass a broken copy.
    - shard: "K/N" grades only the K-th of N deterministic slices of the class (see shard.py).

    Returns:
    - result: GradeResult with one row per submission; raises PreflightError before grading anyone
      when the solution does not score full marks.
    """
    if root is None:
        from cnnkit.grading.paths import repo_root

        root = repo_root()
    root, out = Path(root).resolve(), Path(out).resolve()
    ag = load_autograder(stage, root)
    if limits is None:
        limits = Limits(timeout=timeout, cell_timeout=min(300.0, timeout))
    pkg = Path(library).resolve() if library else Path(__file__).resolve().parents[1]
    out.mkdir(parents=True, exist_ok=True)
    cache = out / ".cache"
    cache.mkdir(exist_ok=True)
    from cnnkit.grading import shard as shard_mod

    everyone = collect_submissions([Path(s) for s in submissions])
    part = shard_mod.Shard.parse(shard) if shard else shard_mod.ALL
    subs = shard_mod.select(everyone, part)
    hide = [str(out)]
    for s in subs:
        hide.append(str(s.path.resolve().parent if s.kind != "folder" else s.path.resolve()))
    # the whole checkout (its .git holds the library's history, build dirs hold wheels), except the
    # folders that hold the grader's own interpreter (a venv inside the checkout)
    hide += [str(p) for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    hide += [str(p) for p in (root / "autograder", root / "solutions", root / "lib", pkg.parent)]
    tmp = Path(tempfile.mkdtemp(prefix="cnnkit-batch-"))
    keep = [tmp, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve()]
    hide = [p for p in set(limits.hide + hide) if not any(_within(k, Path(p)) for k in keep)]
    limits = Limits(**{**asdict(limits), "hide": sorted(hide)})
    try:
        gated = gated_copy(stage, tmp / "gated", library=pkg).parent
        plan = Plan(
            stage=stage,
            ag=ag,
            seed=seed if seed is not None else secrets.randbits(62),
            limits=limits,
            gated=gated,
            full=pkg.parent,
            checks_source=(pkg / "checks.py").read_text(encoding="utf-8"),
            reference={},
            cache=cache,
            tmp=tmp,
        )
        todo = [s for s in subs if not (cache / f"{_key(plan, s)}.json").exists()]
        if todo:
            plan.reference = reference_run(plan, root)
        rows = _run_all(plan, subs, workers, progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = GradeResult(stage, out, rows, ag.questions, ag.possible(), graded_now=len(todo))
    report_mod.write_outputs(result, ag)
    _write_batch_info(result, ag, plan.seed, part, everyone)
    from cnnkit.grading import post

    post.finish(out, stage, root, rows, subs)
    return result


def _write_batch_info(result: GradeResult, ag: Autograder, seed: int, part, everyone) -> None:
    """batch.json: what `cnnkit merge` checks before combining shards (see shard.py)."""
    from cnnkit.grading import shard as shard_mod

    names = [s.name for s in everyone]
    shard_mod.BatchInfo(
        stage=result.stage,
        autograder_sha256=ag.zip_hash,
        seed=seed,
        shard_index=part.index,
        shard_count=part.count,
        class_size=len(names),
        class_digest=shard_mod.class_digest(names),
        files=sorted(r["name"] for r in result.rows),
    ).write(result.out)


def _within(path: Path, parent: Path) -> bool:
    """True when `path` is `parent` or lies below it (resolved)."""
    try:
        Path(path).resolve().relative_to(Path(parent).resolve())
        return True
    except ValueError:
        return False


def _key(plan: Plan, sub: Submission) -> str:
    return hashlib.sha256(
        f"{content_hash(sub)}|{plan.stage}|{plan.ag.zip_hash}".encode()
    ).hexdigest()


def _run_all(plan: Plan, subs: list[Submission], workers: int, progress: bool) -> list[dict]:
    from tqdm.auto import tqdm

    rows: dict[int, dict] = {}
    bar = tqdm(total=len(subs), desc=f"grading {plan.stage}", unit="nb", disable=not progress)
    try:
        if workers <= 1 or len(subs) <= 1:
            for i, s in enumerate(subs):
                rows[i] = grade_one(plan, s)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(grade_one, plan, s): i for i, s in enumerate(subs)}
                for fut in as_completed(futures):
                    i = futures[fut]
                    try:
                        rows[i] = fut.result()
                    except Exception as err:  # noqa: BLE001 - a dead worker still yields a row
                        row = {"name": subs[i].name, "kind": subs[i].kind, "status": "Failed"}
                        row.update(reason=f"grader worker failed: {err}"[:300], cases={})
                        row["scores"] = _scores(plan.ag, row)
                        rows[i] = row
                    bar.update()
    finally:
        bar.close()
    return [rows[i] for i in sorted(rows)]
