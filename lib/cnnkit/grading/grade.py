"""`cnnkit grade`: Docker-free batch grading with verdicts outside the student's kernel.

For a stage, the grader reads `autograder/<stage>/autograder.zip` (otter's zip; its tests/*.py hold all
cases, hidden ones included) and the solution notebook `autograder/<stage>/solution/<stage>.ipynb`.

1. Reference (runs.reference_run): once per batch the solution runs in the sandbox with the full
   library and the probe in "reference" mode with the batch's grading seed. Preflight: it must pass
   every case, else grading stops. A passing run is kept in the grader's preflight store and reused,
   by any batch, while nothing that decides it changed (preflight_cache.py).
2. Each submission (intake.py: an .ipynb, a student's folder with its notebook and artifact files, or
   an otter export zip) runs in its own temp dir and sandboxed kernel (sandbox/) with the stage-gated
   library; the probe (kernel/runtime.py) records plain values in "record" mode with the same seed,
   running each test sliced by `slicing.record_source` (no expected values in the kernel). A notebook
   whose otter metadata names another assignment gets 0 with that reason. judge.py decides the
   verdicts: a case passes iff it raised nothing and every record matches the reference's. Artifact
   cases (test functions without parameters) run in a sandbox of their own, like the kernel's
   (`sandbox.execute_checks`), on copies of the stage's artifact files only.
3. batch.py runs the pool and caches each row that graded in OUT/.cache under a key of everything
   that decides it: an interrupted batch resumes, a rerun is idempotent, and anything that changes a
   verdict regrades. The outputs, final_grades.csv (otter grade's format), results.json, report.md
   and feedback/<student>.md (report.py), are written atomically into a locked output folder
   (outdir.py) that remembers its stage and seed.

The limits (`--timeout` and what derives from it) are contract.Limits; the values that cross process
boundaries are the other dataclasses of contract.py. README, "How grading fits together", has the
picture.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cnnkit.grading import report as report_mod
from cnnkit.grading import shard as shard_mod
from cnnkit.grading.autograder import Autograder, Case, load_autograder
from cnnkit.grading.batch import grade_batch, parse_force, write_batch_info
from cnnkit.grading.contract import DEFAULT_TIMEOUT, Limits
from cnnkit.grading.errors import GradingError, PreflightError, SubmissionError
from cnnkit.grading.intake import Submission, collect, describe
from cnnkit.grading.outdir import OutputFolder, State
from cnnkit.grading.report import GradeResult

# the entry points other code imports from here
__all__ = [
    "Autograder",
    "Case",
    "GradeResult",
    "GradingError",
    "PreflightError",
    "Submission",
    "SubmissionError",
    "collect_submissions",
    "grade",
    "load_autograder",
    "plan_text",
]


def collect_submissions(paths: list[Path], stage: str = "") -> list[Submission]:
    """The submissions of a command line (see intake.collect; skipped paths are left out)."""
    return collect(stage, [Path(p) for p in paths]).submissions


def grade(
    stage: str,
    submissions: list[Path],
    out: Path,
    workers: int = 2,
    timeout: float | None = None,
    root: Path | None = None,
    *,
    limits: Limits | None = None,
    progress: bool = True,
    seed: int | None = None,
    library: Path | None = None,
    force: bool | list[str] = False,
    append: bool = False,
    shard: str | None = None,
    manual: Path | None = None,
    pdf: bool = False,
) -> GradeResult:
    """Grade submissions of a stage without Docker (see the module docstring).

    Inputs:
    - stage: e.g. "01_backprop".
    - submissions: notebooks, student folders, class folders, otter export zips (intake.py).
    - out: output directory (final_grades.csv, results.json, report.md, feedback/, .cache/), locked
      while grading; refused when it holds another stage's results.
    - workers: parallel submissions (at least 1).
    - timeout: wall-clock seconds per submission (None: contract.DEFAULT_TIMEOUT; the other limits
      derive from it, see contract.Limits).
    - root: the kit's checkout (default: cnnkit.grading.paths.repo_root()).
    - limits: full Limits (overrides timeout); progress: tqdm bar.
    - seed: grading seed (default: the one `out` was graded with, else a fresh one).
    - library: the full cnnkit package directory (default: this cnnkit); tests pass a broken copy.
    - force: regrade every submission (True) or the named ones, cached rows notwithstanding.
    - append: keep the rows of `out`'s gradebook that are not in this batch (default: replace it).
    - shard: "K/N" grades only the K-th of N deterministic slices of the class (see shard.py).
    - manual: the TA's scores of the written questions (OUT/written/scores.csv filled in, see
      written.py); without it the scores merged before count while the answers are unchanged.
    - pdf: also print each submission's written answers to OUT/written/pdf/ (Chromium).

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
    if manual is not None:
        from cnnkit.grading.written import read_scores

        read_scores(manual)  # a bad scores file is refused before anyone is graded
    forced = parse_force(force, subs)
    if limits is None:
        limits = Limits.for_timeout(DEFAULT_TIMEOUT if timeout is None else timeout)
    pkg = Path(library).resolve() if library else Path(__file__).resolve().parents[1]
    from cnnkit.grading import post

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
        rows, graded_now = grade_batch(
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
        from cnnkit.grading import written

        questions = written.load_questions(root, stage)
        if questions:
            entries = written.collect(subs, questions, post.starter_notebook(stage, root))
            result.manual = written.update(
                out, stage, questions, entries, manual, kept=[r["name"] for r in kept]
            )
            if pdf:
                try:
                    written.pdfs(out, stage, questions, entries)
                except FileNotFoundError as err:
                    result.manual.errors.append(f"PDFs not written: {err}")
        elif manual is not None:
            raise GradingError(f"--manual: {stage} has no written questions")
        report_mod.write_outputs(result, ag)
        write_batch_info(result, ag, seed, part, everyone)
        post.finish(out, stage, root, result.rows, subs)
        folder.save(State(stage, seed, result.rows))
    return result


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
