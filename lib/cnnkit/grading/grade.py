"""`cnnkit grade`: Docker-free batch grading with verdicts outside the student's kernel.

For a stage, the grader reads `autograder/<stage>/autograder.zip` (otter's zip; its tests/*.py hold all
cases, hidden ones included) and the solution notebook `autograder/<stage>/solution/<stage>.ipynb`.

1. Reference: once per batch the solution runs in the sandbox with the full library and the probe in
   "reference" mode with a fresh grading seed. Preflight: it must pass every case, else grading stops.
   A passing run is kept in OUT/.cache and reused while nothing that decides it changed
   (preflight_cache.py).
2. Each submission (an .ipynb, a student's folder with its notebook and artifact files, or an otter
   export zip; see intake.py for how the command line is resolved) runs in its own temp dir and sandboxed kernel with the stage-gated library; the probe records
   plain values in "record" mode with the same seed, running each test sliced by
   `probe.record_source` (no expected values in the kernel). A notebook whose otter metadata names
   another assignment gets 0 with that reason. A case passes iff it raised nothing and every
   record matches the reference's (`cnnkit.checks.match`). Artifact cases (test functions without
   parameters) run in a sandbox of their own, like the kernel's (`sandbox.execute_checks`), on copies
   of the stage's artifact files only (`Autograder.artifacts`).
3. Rows that graded are cached in OUT/.cache under a key of everything that decides them (the
   submission's content, the grader's version and code, the stage's build, the limits and the seed):
   an interrupted batch resumes, a rerun is idempotent, and anything that changes a verdict regrades.
   Failures (timeouts, crashes, grader errors) are never cached. The outputs, final_grades.csv
   (otter grade's format), results.json, report.md and feedback/<student>.md, are written atomically
   into a locked output folder (outdir.py) that remembers its stage and seed.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnnkit.grading import report as report_mod
from cnnkit.grading.gate import gated_copy
from cnnkit.grading.intake import Submission, collect, describe
from cnnkit.grading.outdir import OutputFolder, State
from cnnkit.grading.probe import (
    depends_on,
    load_environment,
    load_records,
    probe_cell,
    record_source,
    recording_path,
)
from cnnkit.grading.sandbox import Limits, execute, execute_checks

# Everything a submission brings is bounded before it is read: its bytes (a zip's, unpacked; a folder's,
# by size, so a sparse file counts what it claims) and its number of files.
MAX_ZIP_BYTES = 512 * 1024**2
MAX_SUBMISSION_BYTES = MAX_ZIP_BYTES
MAX_SUBMISSION_FILES = 256
_CHUNK = 1 << 20
# the per-cell limit is a share of the wall clock, so one slow cell is interrupted and the rest of the
# notebook and the cases still have time; capped for long wall clocks
CELL_SHARE = 0.25
MAX_CELL_SECONDS = 300.0


def default_limits(timeout: float) -> Limits:
    """Limits for a wall clock of `timeout` seconds per submission (see CELL_SHARE)."""
    return Limits(timeout=timeout, cell_timeout=min(MAX_CELL_SECONDS, timeout * CELL_SHARE))


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
class Autograder:
    stage: str
    zip_path: Path
    zip_hash: str
    cases: list[Case]
    questions: list[str]
    solution: Path
    # the files the notebook saves and a submission carries (the solution folder's besides its
    # notebook): the only ones the artifact cases get to see
    artifacts: list[str] = field(default_factory=list)
    # the solution folder's files (notebook and trained artefacts): the reference run's inputs
    reference_hash: str = ""

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
    kept: int = 0  # rows of earlier runs kept by --append
    seed: int | None = None
    skipped: list = field(default_factory=list)  # intake.Skipped: nobody's submission

    @property
    def failed(self) -> list[dict]:
        """The rows that could not be graded (0 points and a reason)."""
        return [r for r in self.rows if r["status"] != "Completed"]

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
        stage,
        zip_path,
        hashlib.sha256(data).hexdigest(),
        cases,
        questions,
        solution.resolve(),
        artifact_names(base),
        _folder_digest(solution.parent),
    )


def _folder_digest(folder: Path) -> str:
    """sha256 over a folder's files (names and bytes, read in chunks), not recursing."""
    h = hashlib.sha256()
    for f in sorted(x for x in Path(folder).iterdir() if x.is_file()):
        h.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def artifact_names(base: Path) -> list[str]:
    """The artifact file names of a built stage: the solution folder's files besides the notebook,
    and the "solution" sample's artifacts (older builds keep them only there).

    Inputs:
    - base: autograder/<stage>.

    Returns:
    - names: sorted file names (no folders).
    """
    names = {f.name for f in (base / "solution").iterdir() if f.is_file() and f.suffix != ".ipynb"}
    with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
        for entry in json.loads((base / "samples" / "manifest.json").read_text()):
            if entry.get("name") == "solution":
                names |= {Path(str(a)).name for a in entry.get("artifacts", [])}
    return sorted(n for n in names if n and not n.startswith("."))


def _natural(text: str):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


# ------------------------------------------------------------------------------ submissions --


def collect_submissions(paths: list[Path], stage: str = "") -> list[Submission]:
    """The submissions of a command line (see intake.collect; skipped paths are left out)."""
    return collect(stage, [Path(p) for p in paths]).submissions


def _graded_files(sub: Submission) -> list[Path]:
    """A folder submission's files that go to the grader: its chosen notebook and the artifacts.

    Refused (SubmissionError) past MAX_SUBMISSION_FILES or MAX_SUBMISSION_BYTES, counted by size
    before anything is read: a sparse file counts what it claims.
    """
    files = [
        f
        for f in sorted(sub.path.iterdir())
        if f.is_file()
        and not f.is_symlink()
        and not f.name.startswith(".")
        and (f.suffix != ".ipynb" or f.name == sub.notebook)
    ]
    if len(files) > MAX_SUBMISSION_FILES:
        raise SubmissionError(f"folder holds more than {MAX_SUBMISSION_FILES} files")
    if sum(f.stat().st_size for f in files) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"folder too large (over {MAX_SUBMISSION_BYTES // 1024**2} MiB)")
    return files


def _file_digest(path: Path) -> bytes:
    """sha256 of a file, read in chunks (a large file costs no memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.digest()


def content_hash(sub: Submission) -> str:
    """sha256 over the submission's files (names and bytes), read in chunks.

    A submission past the limits (size, number of files) is not read at all: its key covers its
    names and sizes (it gets a 0 row saying why, cached like any row).
    """
    h = hashlib.sha256(sub.kind.encode())
    if sub.kind == "folder":
        h.update(sub.notebook.encode() + b"\0")
        try:
            files = _graded_files(sub)
        except SubmissionError:
            for f in sorted(sub.path.iterdir()):
                with contextlib.suppress(OSError):
                    h.update(f"{f.name}\0{f.lstat().st_size}\0".encode())
            return h.hexdigest()
        for f in files:
            h.update(f.name.encode() + b"\0" + _file_digest(f))
    elif sub.path.is_file():
        if sub.path.stat().st_size > MAX_SUBMISSION_BYTES:
            h.update(f"{sub.path.name}\0{sub.path.stat().st_size}".encode())
        else:
            h.update(_file_digest(sub.path))
    return h.hexdigest()


def _copy_limited(src, dest: Path, budget: int) -> int:
    """Copy a readable stream into dest, refusing more than `budget` bytes; return bytes written."""
    n = 0
    with open(dest, "wb") as out:
        while chunk := src.read(_CHUNK):
            n += len(chunk)
            if n > budget:
                raise SubmissionError(
                    f"submission too large (over {MAX_SUBMISSION_BYTES // 1024**2} MiB)"
                )
            out.write(chunk)
    return n


def materialize(sub: Submission, dest: Path) -> str:
    """Write the submission's notebook and artifact files into `dest`; return the notebook's name.

    Inputs:
    - sub: the submission.
    - dest: an empty directory.

    Returns:
    - name: the notebook file name inside dest; raises SubmissionError for unusable submissions
      (not a notebook, folder or zip; past MAX_SUBMISSION_BYTES or MAX_SUBMISSION_FILES).
    """
    dest.mkdir(parents=True, exist_ok=True)
    budget = MAX_SUBMISSION_BYTES
    if sub.kind == "invalid":
        raise SubmissionError(sub.reason or f"not a notebook, folder or zip: {sub.path.name}")
    if sub.kind == "ipynb":
        with open(sub.path, "rb") as f:
            _copy_limited(f, dest / "submission.ipynb", budget)
        return "submission.ipynb"
    if sub.kind == "folder":
        for f in _graded_files(sub):
            with open(f, "rb") as src:
                budget -= _copy_limited(src, dest / f.name, budget)
        return sub.notebook
    try:
        with zipfile.ZipFile(sub.path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
                raise SubmissionError("zip too large")
            if len(infos) > MAX_SUBMISSION_FILES:
                raise SubmissionError(f"the zip holds more than {MAX_SUBMISSION_FILES} files")
            nbs = []
            for i in infos:
                name = Path(i.filename).name
                parts = Path(i.filename).parts
                if not name or name.startswith(".") or "__MACOSX" in parts or ".." in parts:
                    continue
                if name.endswith(".ipynb"):
                    nbs.append(name)
                with zf.open(i) as src:  # the sizes a zip declares are checked as it unpacks
                    budget -= _copy_limited(src, dest / name, budget)
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
    # environment of the artifact checks (TORCH_HOME: the batch's read-only copy of the weights)
    data_env: dict = field(default_factory=dict)
    grader: str = ""  # grader_version(): the cnnkit version and a hash of the grading code

    def key(self, sub: Submission) -> str:
        """The cache key of a submission's row: everything that decides its verdicts."""
        limits = asdict(self.limits)
        # temp and submission paths: they differ per run, verdicts do not
        limits.pop("hide")
        limits.pop("read_only")
        text = json.dumps(
            [
                content_hash(sub),
                self.stage,
                self.ag.zip_hash,
                self.ag.reference_hash,
                self.grader,
                limits,
                self.seed,
            ],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()


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


def _spec(plan: Plan, mode: str, out: Path, cases: list[Case]) -> dict:
    tests = []
    always = recording_path(plan.pristine) if mode == "record" else []
    for c in cases:
        # a student's kernel gets the tests without their expected values (see record_source), and
        # which of the functions watched by the probe each one relies on (see run_probe)
        source = record_source(c.source, c.params) if mode == "record" else c.source
        # public cases draw the inputs `grader.check` draws (seeded by the test name alone), so their
        # verdicts and messages are the ones the student saw; hidden ones draw from the run's seed
        test = {"name": c.name, "source": source, "params": c.params}
        test["seed"] = plan.seed if c.hidden else None
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
    """Run the artifact cases (no parameters) in the sandbox, on the submission's artifact files.

    The checks run as the kernel does (sandbox.execute_checks: unprivileged uid, `python -I`, the
    same filesystem and limits), in a work dir of their own whose cwd holds only the stage's
    artifact names (`Autograder.artifacts`) copied from `files`: nothing else the submission holds
    (a `json.py`) is there to be imported or run.

    Inputs:
    - plan: the batch's Plan; files: the materialized submission; work: this submission's work dir.

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
    spec = _spec(plan, "check", records, cases)
    outcome = execute_checks(
        spec, box, plan.full, plan.limits, extra_env=plan.data_env, writable=[records]
    )
    got = load_records(records)
    missing = "TimeoutError: the case did not finish"
    if outcome.status == "crashed":
        missing = f"{_ARTIFACTS_CRASHED}: {outcome.reason}"[:300]
    for c in cases:
        got.setdefault(c.name, {"error": missing, "records": []})
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


def grade_one(plan: Plan, sub: Submission, force: bool = False) -> dict:
    """Grade one submission; always returns a row (never raises for the submission's faults).

    Inputs:
    - plan: the batch's Plan.
    - sub: the submission.
    - force: regrade even when a cached row exists.

    Returns:
    - row: {name, kind, status, reason, failure, cases, scores, ...}; cached under plan.key(sub)
      when it graded (no case timed out) or failed on its files alone (see _cacheable).
    """
    cached = plan.cache / f"{plan.key(sub)}.json"
    if cached.exists() and not force:
        row = json.loads(cached.read_text())
        row.update(_about(sub))
        return row
    work = Path(tempfile.mkdtemp(prefix="cnnkit-grade-", dir=plan.tmp))
    row = {"name": sub.name, "kind": sub.kind, "status": "Completed", "reason": "", "cases": {}}
    row["failure"] = ""
    try:
        files = work / "files"
        try:
            nb_name = materialize(sub, files)
        except SubmissionError as err:
            raise _Row0(str(err), "unusable submission") from err
        try:
            import nbformat

            nb = nbformat.read(str(files / nb_name), as_version=4)
        except Exception as err:  # noqa: BLE001 - malformed JSON, wrong schema, binary junk
            text = f"malformed notebook: {type(err).__name__}: {err}"[:300]
            raise _Row0(text, "malformed notebook") from err
        # otter refuses another assignment's notebook too; without the metadata it is graded on
        # its merits (its functions are simply missing)
        other = (nb.metadata.get("otter") or {}).get("assignment_name")
        if isinstance(other, str) and other and other != plan.stage:
            raise _Row0(
                f"wrong assignment: this notebook is {other[:60]!r}, not {plan.stage!r} "
                f"(submit your {plan.stage}.ipynb)",
                "wrong assignment",
            )
        lib = work / "lib"
        shutil.copytree(plan.gated, lib)
        got, outcome, _ = run_kernel_cases(plan, files, nb_name, "record", lib, work)
        if outcome.status == "timeout":
            raise _Row0(outcome.reason, "timed out")
        if outcome.status == "crashed":
            raise _Row0(outcome.reason, "sandbox run failed")
        row["reason"] = outcome.reason
        row["isolation"] = outcome.isolation
        artifacts = run_artifact_cases(plan, files, work)
        row["cases"] = judge(plan, got, artifacts)
    except _Row0 as err:
        row.update(status="Failed", reason=str(err), failure=err.failure)
    except Exception as err:  # noqa: BLE001 - one broken submission must not stop the batch
        text = f"grader error: {type(err).__name__}: {err}"[:300]
        row.update(status="Failed", reason=text, failure="grader error")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row["scores"] = _scores(plan.ag, row)
    if _cacheable(row):
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(row))
        os.replace(tmp, cached)
    else:
        cached.unlink(missing_ok=True)  # a forced regrade that failed leaves no older verdict
    row.update(_about(sub))
    return row


def _about(sub: Submission) -> dict:
    """What a row says about this run's intake (not cached: the same files may sit elsewhere)."""
    return {
        "name": sub.name,
        "path": str(sub.path),
        "notebook": sub.notebook,
        "ignored": sub.ignored,
    }


# failures that are verdicts on the submission's files alone (no kernel ran): the same every time
_VERDICTS = ("unusable submission", "malformed notebook", "wrong assignment")


_ARTIFACTS_CRASHED = "the artifact checks did not run"


def _cacheable(row: dict) -> bool:
    """A row is a result worth keeping when it graded and no case ran out of time, or when it
    failed on its files alone; timeouts, crashes and grader errors are never kept."""
    timed_out = any(
        str(v.get("message", "")).startswith(("TimeoutError", _ARTIFACTS_CRASHED))
        for v in row["cases"].values()
    )
    if row["status"] != "Completed":
        return row.get("failure") in _VERDICTS
    return not timed_out


class _Row0(Exception):
    """A row that gets 0 points; `failure` is its reason's kind (the summary counts them)."""

    def __init__(self, reason: str, failure: str):
        super().__init__(reason)
        self.failure = failure


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
    from cnnkit.grading import preflight_cache

    preflight_key = preflight_cache.key(plan, preflight_cache.data_sources())
    kept = preflight_cache.load(plan.cache, preflight_key)
    if kept is not None:  # the same build, grader, limits, seed and environment passed before
        plan.pristine = kept.pristine
        return kept.records
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
        preflight_cache.store(plan.cache, preflight_key, work / "records")
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
    force: bool | list[str] = False,
    append: bool = False,
    shard: str | None = None,
) -> GradeResult:
    """Grade submissions of a stage without Docker (see the module docstring).

    Inputs:
    - stage: e.g. "01_backprop".
    - submissions: notebooks, student folders, class folders, otter export zips (intake.py).
    - out: output directory (final_grades.csv, results.json, report.md, feedback/, .cache/), locked
      while grading; refused when it holds another stage's results.
    - workers: parallel submissions (at least 1).
    - timeout: wall-clock seconds per submission (each cell gets default_limits' share of it).
    - root: the kit's checkout (default: cnnkit.grading.paths.repo_root()).
    - limits: full Limits (overrides timeout); progress: tqdm bar.
    - seed: grading seed (default: the one `out` was graded with, else a fresh one).
    - library: the full cnnkit package directory (default: this cnnkit); tests pass a broken copy.
    - force: regrade every submission (True) or the named ones, cached rows notwithstanding.
    - append: keep the rows of `out`'s gradebook that are not in this batch (default: replace it).
    - shard: "K/N" grades only the K-th of N deterministic slices of the class (see shard.py).

    Returns:
    - result: GradeResult with one row per submission (plus kept rows with append); raises
      IntakeError for a missing path, OutputFolderError for a busy or foreign `out`, GradingError
      for bad arguments, PreflightError before grading anyone when the solution does not score
      full marks.
    """
    if workers < 1:
        raise GradingError(f"--workers must be at least 1, not {workers}")
    if root is None:
        from cnnkit.grading.paths import repo_root

        root = repo_root()
    root, out = Path(root).resolve(), Path(out).resolve()
    ag = load_autograder(stage, root)
    intake = collect(stage, [Path(s) for s in submissions])
    subs = intake.submissions
    if not subs:
        skipped = "; ".join(f"{s.path.name} ({s.reason})" for s in intake.skipped)[:300]
        raise GradingError(f"nothing to grade (skipped: {skipped or 'nothing given'})")
    forced = _forced(force, subs)
    if limits is None:
        limits = default_limits(timeout)
    pkg = Path(library).resolve() if library else Path(__file__).resolve().parents[1]
    from cnnkit.grading import post
    from cnnkit.grading import shard as shard_mod

    part = shard_mod.Shard.parse(shard) if shard else shard_mod.ALL
    if append and part != shard_mod.ALL:
        raise GradingError("--append and --shard do not mix: merge the shards, then append")
    everyone, subs = subs, shard_mod.select(subs, part)
    with OutputFolder.open(out, stage) as folder:
        old = folder.state
        if append and old is not None and None not in (seed, old.seed) and seed != old.seed:
            raise GradingError(
                f"{out} was graded with --seed {old.seed}: appending rows judged with --seed "
                f"{seed} would mix inputs (drop --seed, or grade into another -o)"
            )
        if seed is None:
            seed = old.seed if old and old.seed is not None else secrets.randbits(62)
        names = {s.name for s in subs}
        kept = [r for r in (old.rows if old and append else []) if r["name"] not in names]
        # recorded before grading: an interrupted run resumes with the same seed (and an --append
        # after it keeps only rows judged with that seed)
        folder.save(State(stage, seed, old.rows if old and old.seed == seed else []))
        cache = out / ".cache"
        cache.mkdir(exist_ok=True)
        rows, graded_now = _grade_batch(
            stage,
            ag,
            subs,
            everyone,
            out,
            cache,
            root,
            pkg,
            limits,
            seed,
            forced,
            workers,
            progress,
        )
        result = GradeResult(
            stage,
            out,
            sorted(kept + rows, key=lambda r: r["name"]),
            ag.questions,
            ag.possible(),
            graded_now=graded_now,
            kept=len(kept),
            seed=seed,
            skipped=intake.skipped,
        )
        report_mod.write_outputs(result, ag)
        _write_batch_info(result, ag, seed, part, everyone)
        post.finish(out, stage, root, result.rows, subs)
        folder.save(State(stage, seed, result.rows))
    return result


@dataclass
class _Forced:
    everyone: bool
    names: set[str]

    def __call__(self, sub: Submission) -> bool:
        return self.everyone or sub.name in self.names


def _forced(force: bool | list[str], subs: list[Submission]) -> _Forced:
    """Which submissions `force` names; an unknown name is an error (a typo must not regrade no one)."""
    if force is True or force is False:
        return _Forced(bool(force), set())
    names = set(force)
    unknown = sorted(names - {s.name for s in subs})
    if unknown:
        raise GradingError(
            f"--force names no submission of this batch: {', '.join(unknown)} "
            f"(the batch has: {', '.join(s.name for s in subs)[:300]})"
        )
    return _Forced(False, names)


def _grade_batch(
    stage, ag, subs, everyone, out, cache, root, pkg, limits, seed, forced, workers, progress
) -> tuple[list[dict], int]:
    """Run the preflight (when anything is to be graded) and every submission; (rows, graded now).

    `everyone` is the whole class on the command line: a shard's kernels must not see the others."""
    hide = [str(out)]
    for s in everyone:
        hide.append(str(s.path.resolve().parent if s.kind != "folder" else s.path.resolve()))
    # the whole checkout (its .git holds the library's history, build dirs hold wheels), except the
    # folders that hold the grader's own interpreter (a venv inside the checkout)
    hide += [str(p) for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    hide += [str(p) for p in (root / "autograder", root / "solutions", root / "lib", pkg.parent)]
    tmp = Path(tempfile.mkdtemp(prefix="cnnkit-batch-"))
    keep = [tmp, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve()]
    hide = [p for p in set(limits.hide + hide) if not any(_within(k, Path(p)) for k in keep)]
    try:
        # the sandbox shows only what it binds (bwrap), so the data the cases read comes in too
        data_paths, data_env = _sandbox_data(tmp)
        shown = sorted({*limits.read_only, *data_paths})
        limits = Limits(**{**asdict(limits), "hide": sorted(hide), "read_only": shown})
        gated = gated_copy(stage, tmp / "gated", library=pkg).parent
        plan = Plan(
            stage=stage,
            ag=ag,
            seed=seed,
            limits=limits,
            gated=gated,
            full=pkg.parent,
            checks_source=(pkg / "checks.py").read_text(encoding="utf-8"),
            reference={},
            cache=cache,
            tmp=tmp,
            data_env=data_env,
            grader=grader_version(pkg),
        )
        todo = [s for s in subs if forced(s) or not (cache / f"{plan.key(s)}.json").exists()]
        if todo:
            plan.reference = reference_run(plan, root)
        rows = _run_all(plan, subs, workers, progress, forced)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows, len(todo)


def plan_text(stage: str, submissions: list[Path], root: Path | None = None) -> str:
    """What `grade` would do, without doing it (`cnnkit grade --dry-run`).

    Inputs:
    - stage, submissions, root: as for `grade`.

    Returns:
    - text: intake.describe's plan (who, which notebook, which artifacts, what is skipped and why).
    """
    if root is None:
        from cnnkit.grading.paths import repo_root

        root = repo_root()
    ag = load_autograder(stage, Path(root).resolve())
    return describe(stage, collect(stage, [Path(s) for s in submissions]), ag.artifacts)


def _sandbox_data(tmp: Path) -> tuple[list[str], dict]:
    """Data the artifact cases read, made visible read-only in the sandbox.

    - torch's pretrained weight files of the kit's models (TORCH_HOME, else ~/.cache/torch):
      copied into the batch dir readable by the sandbox's uid (torch writes them 0600);
    - the kit's dataset cache (CNNKIT_DATA, else ~/.cache/cnnkit), where it exists.
    (/usr/share/datasets comes with /usr.)

    Inputs:
    - tmp: the batch's temp dir.

    Returns:
    - (paths, env): the paths to bind read-only and the environment pointing the cases at them.
    """
    from cnnkit.data._common import cache_dir
    from cnnkit.pretrained import KNOWN

    paths, env = [], {}
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    torch_home = Path(os.environ.get("TORCH_HOME") or Path(cache) / "torch").expanduser()
    models = tuple(f"{model}-" for model, *_ in KNOWN.values())
    found = torch_home / "hub" / "checkpoints"
    weights = sorted(
        f for f in (found.iterdir() if found.is_dir() else []) if f.name.startswith(models)
    )
    if weights:
        dest = tmp / "torch" / "hub" / "checkpoints"
        dest.mkdir(parents=True)
        for f in weights:
            shutil.copyfile(f, dest / f.name)
            (dest / f.name).chmod(0o644)
        for d in (tmp / "torch", tmp / "torch" / "hub", dest):
            d.chmod(0o755)
        paths.append(str(tmp / "torch"))
        env["TORCH_HOME"] = str(tmp / "torch")
    data = cache_dir().resolve()
    if data.is_dir():
        paths.append(str(data))
        env["CNNKIT_DATA"] = str(data)
    return paths, env


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


def _run_all(
    plan: Plan, subs: list[Submission], workers: int, progress: bool, forced: _Forced
) -> list[dict]:
    from tqdm.auto import tqdm

    rows: dict[int, dict] = {}
    bar = tqdm(total=len(subs), desc=f"grading {plan.stage}", unit="nb", disable=not progress)
    try:
        if workers <= 1 or len(subs) <= 1:
            for i, s in enumerate(subs):
                rows[i] = grade_one(plan, s, forced(s))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {
                    pool.submit(grade_one, plan, s, forced(s)): i for i, s in enumerate(subs)
                }
                for fut in as_completed(futures):
                    i = futures[fut]
                    try:
                        rows[i] = fut.result()
                    except Exception as err:  # noqa: BLE001 - a dead worker still yields a row
                        row = {"name": subs[i].name, "kind": subs[i].kind, "status": "Failed"}
                        row.update(reason=f"grader worker failed: {err}"[:300], cases={})
                        row.update(failure="grader worker died", **_about(subs[i]))
                        row["scores"] = _scores(plan.ag, row)
                        rows[i] = row
                    bar.update()
    finally:
        bar.close()
    return [rows[i] for i in sorted(rows)]
