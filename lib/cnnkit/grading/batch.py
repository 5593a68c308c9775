"""The batch: every submission through the pool, each row cached, an interrupted batch resumed.

Rows that graded are cached in OUT/.cache under a key of everything that decides them (`cache_key`:
the submission's content, the grader's version and code, the stage's build, the limits and the seed):
an interrupted batch resumes, a rerun is idempotent, and anything that changes a verdict regrades.
Failures (timeouts, crashes, grader errors) are never cached; a broken submission gets a row with 0
points and the reason, and the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from cnnkit.grading import preflight_cache
from cnnkit.grading import shard as shard_mod
from cnnkit.grading.autograder import Autograder
from cnnkit.grading.contract import Limits
from cnnkit.grading.errors import GradingError, SubmissionError
from cnnkit.grading.gate import gated_copy
from cnnkit.grading.intake import Submission, content_hash, materialize
from cnnkit.grading.judge import judge, scores
from cnnkit.grading.runs import (
    ARTIFACTS_CRASHED,
    Plan,
    grader_version,
    reference_run,
    run_artifact_cases,
    run_kernel_cases,
)
from cnnkit.grading.sandbox import always_shown, sandbox_prefix


def cache_key(plan: Plan, sub: Submission) -> str:
    """The cache key of a submission's row: everything that decides its verdicts.

    Inputs:
    - plan: the batch's Plan (stage, autograder, grader version, limits, seed).
    - sub: the submission (its content, not its path).

    Returns:
    - key: a sha256 hex digest.
    """
    text = json.dumps(
        [
            content_hash(sub),
            plan.stage,
            plan.ag.zip_hash,
            plan.ag.reference_hash,
            plan.grader,
            plan.limits.verdict_fields(),
            plan.seed,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def grade_one(plan: Plan, sub: Submission, force: bool = False) -> dict:
    """Grade one submission; always returns a row (never raises for the submission's faults).

    Inputs:
    - plan: the batch's Plan.
    - sub: the submission.
    - force: regrade even when a cached row exists.

    Returns:
    - row: {name, kind, status, reason, failure, cases, scores, ...}; cached under cache_key(plan, sub)
      when it graded (no case timed out) or failed on its files alone (see _cacheable).
    """
    cached = plan.cache / f"{cache_key(plan, sub)}.json"
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
        row["cases"] = judge(plan.ag.cases, plan.reference, got, artifacts)
    except _Row0 as err:
        row.update(status="Failed", reason=str(err), failure=err.failure)
    except Exception as err:  # noqa: BLE001 - one broken submission must not stop the batch
        text = f"grader error: {type(err).__name__}: {err}"[:300]
        row.update(status="Failed", reason=text, failure="grader error")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row["scores"] = scores(plan.ag, row)
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


def _cacheable(row: dict) -> bool:
    """A row is a result worth keeping when it graded and no case ran out of time, or when it
    failed on its files alone; timeouts, crashes and grader errors are never kept."""
    timed_out = any(
        str(v.get("message", "")).startswith(("TimeoutError", ARTIFACTS_CRASHED))
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


@dataclass
class Forced:
    everyone: bool
    names: set[str]

    def __call__(self, sub: Submission) -> bool:
        return self.everyone or sub.name in self.names


def parse_force(force: bool | list[str], subs: list[Submission]) -> Forced:
    """Which submissions `force` names; an unknown name is an error (a typo must not regrade no one)."""
    if force is True or force is False:
        return Forced(bool(force), set())
    names = set(force)
    unknown = sorted(names - {s.name for s in subs})
    if unknown:
        raise GradingError(
            f"--force names no submission of this batch: {', '.join(unknown)} "
            f"(the batch has: {', '.join(s.name for s in subs)[:300]})"
        )
    return Forced(False, names)


def grade_batch(
    stage, ag, subs, everyone, out, cache, root, pkg, limits, seed, forced, workers, progress
) -> tuple[list[dict], int]:
    """Run the preflight (when anything is to be graded) and every submission; (rows, graded now).

    `everyone` is the whole class on the command line: a shard's kernels must not see the others."""
    # the preflight store holds reference values: covered in every sandbox, and not used at all
    # where no namespace covers it
    store = preflight_cache.store_dir() if sandbox_prefix(limits, [])[2] else None
    hide = [str(out), *([str(store)] if store else [])]
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
        visible = [*shown, *always_shown(), str(pkg.parent), str(tmp)]
        if store and any(_within(store, Path(p)) for p in visible if os.path.exists(p)):
            raise GradingError(
                f"the preflight store {store} lies inside what the sandbox shows; set "
                f"{preflight_cache.STORE_ENV} to a folder outside {', '.join(visible)}"
            )
        # the held-out features the reference run leaves (runs.run_artifact_cases): covered in every
        # kernel, shown to the artifact cases only
        hide.append(os.path.realpath(tmp / "heldout"))
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
            store=store,
        )
        todo = [s for s in subs if forced(s) or not (cache / f"{cache_key(plan, s)}.json").exists()]
        if todo:
            plan.reference = reference_run(plan, root)
        rows = _run_all(plan, subs, workers, progress, forced)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows, len(todo)


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


def write_batch_info(result, ag: Autograder, seed: int, part, everyone) -> None:
    """batch.json: what `cnnkit merge` checks before combining shards (see shard.py)."""
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
    plan: Plan, subs: list[Submission], workers: int, progress: bool, forced: Forced
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
                        row["scores"] = scores(plan.ag, row)
                        rows[i] = row
                    bar.update()
    finally:
        bar.close()
    return [rows[i] for i in sorted(rows)]
