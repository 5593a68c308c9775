"""Cluster-scale grading: `cnnkit grade --shard K/N` and `cnnkit merge`.

A shard is a deterministic slice of the class: the submissions sorted by their gradebook name, every
N-th one starting at the K-th (so the slice does not depend on the order of the command line, and N
shards differ by at most one submission in size). Each shard writes batch.json (stage, autograder
hash, seed, shard, and a digest of the whole class's names); `merge` refuses shards of different
stages, builds, seeds or classes, and missing or repeated shards, then writes the outputs a single
run writes (the same rows, so final_grades.csv is identical byte for byte when the seed is the same).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from cnnkit.grading.errors import GradingError

BATCH = "batch.json"


class ShardError(GradingError):
    """A bad --shard spec, or shard outputs that cannot be merged."""


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """ "K/N" with 1 <= K <= N."""
        try:
            k, n = (int(x) for x in spec.split("/"))
        except ValueError as err:
            raise ShardError(f"--shard takes K/N (e.g. 2/8), not {spec!r}") from err
        if not 1 <= k <= n:
            raise ShardError(f"--shard {spec}: K must be between 1 and N")
        return cls(k, n)


ALL = Shard(1, 1)


def select(subs: list, shard: Shard) -> list:
    """The shard's submissions: sorted by name, every N-th from the K-th."""
    ordered = sorted(subs, key=lambda s: (s.name, str(s.path)))
    return ordered[shard.index - 1 :: shard.count]


@dataclass
class BatchInfo:
    stage: str
    autograder_sha256: str
    seed: int
    shard_index: int
    shard_count: int
    class_size: int  # submissions in the whole class (all shards)
    class_digest: str  # sha256 of the whole class's sorted names
    files: list[str]  # this shard's submissions

    def write(self, out: Path) -> None:
        (Path(out) / BATCH).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def read(cls, out: Path) -> BatchInfo:
        path = Path(out) / BATCH
        if not path.exists():
            raise ShardError(f"{out} holds no {BATCH}: not an output of this `cnnkit grade`")
        return cls(**json.loads(path.read_text()))


def class_digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()


def check_mergeable(infos: list[BatchInfo], outs: list[Path]) -> None:
    """Raise ShardError unless the shards are one class's complete, disjoint slices of one build."""
    for field, what in (
        ("stage", "stages"),
        ("autograder_sha256", "autograder builds"),
        ("seed", "seeds (grade every shard with the same --seed)"),
        ("shard_count", "shard counts"),
        ("class_digest", "classes (the shards saw different submissions)"),
    ):
        values = {getattr(i, field) for i in infos}
        if len(values) > 1:
            raise ShardError(f"cannot merge shards of different {what}: {sorted(map(str, values))}")
    n = infos[0].shard_count
    indices = sorted(i.shard_index for i in infos)
    if indices != list(range(1, n + 1)):
        raise ShardError(
            f"need each of the {n} shards exactly once, got {indices} from {[str(o) for o in outs]}"
        )
    files = [f for i in infos for f in i.files]
    if len(files) != len(set(files)) or len(files) != infos[0].class_size:
        raise ShardError(
            f"the shards hold {len(files)} submissions, the class {infos[0].class_size}"
        )


def rows_from_results(results: dict, hidden_messages: dict) -> list[dict]:
    """grade()'s rows back from results.json (hidden messages from hidden_messages.json)."""
    rows = []
    for s in results["submissions"]:
        row = {
            "name": s["file"],
            "status": s["status"],
            "reason": s["reason"],
            "cases": {},
            "scores": {q: v["score"] for q, v in s["questions"].items()},
            "failure": s.get("failure", ""),
            "notebook": s.get("notebook", ""),
            "ignored": s.get("ignored", []),
        }
        if s.get("sandbox"):
            row["isolation"] = s["sandbox"]
        if s["status"] == "Completed":
            hidden = hidden_messages.get(s["file"], {})
            for q, v in s["questions"].items():
                for name, c in v["cases"].items():
                    msg = hidden.get(name, "") if c["hidden"] else c["message"]
                    row["cases"][name] = {
                        "question": q,
                        "points": c["points"],
                        "earned": c["earned"],
                        "passed": c["passed"],
                        "hidden": c["hidden"],
                        "message": msg,
                    }
        rows.append(row)
    return rows


def merge(outs: list[Path], dest: Path, root: Path | None = None):
    """Combine shard outputs into one batch output, as a single run would have written it.

    Inputs:
    - outs: the shards' output folders (each written by `cnnkit grade --shard K/N`).
    - dest: the merged output folder (final_grades.csv, results.json, report.md, feedback/, ...).
    - root: the kit's checkout (its autograder must be the build the shards graded with).

    Returns:
    - result: a GradeResult over the whole class; raises ShardError when the shards do not fit.
    """
    from cnnkit.grading import analytics, post
    from cnnkit.grading import report as report_mod
    from cnnkit.grading.autograder import load_autograder
    from cnnkit.grading.report import GradeResult

    if root is None:
        from cnnkit.grading.paths import repo_root

        root = repo_root()
    outs = [Path(o).resolve() for o in outs]
    dest = Path(dest).resolve()
    if dest in outs:
        raise ShardError("merge into a new folder, not into one of the shards")
    infos = [BatchInfo.read(o) for o in outs]
    check_mergeable(infos, outs)
    first = infos[0]
    ag = load_autograder(first.stage, root)
    if ag.zip_hash != first.autograder_sha256:
        raise ShardError(
            f"the shards were graded with another build of {first.stage}'s autograder than the "
            f"one in {root}: merge with the checkout that graded them"
        )
    rows, hidden, code, unreadable = [], {}, {}, {}
    exercise_names: list[str] = []
    for o in outs:
        results, msgs = analytics.load_results(o)
        seed = results.get("seed")
        if seed is not None and seed != first.seed:
            raise ShardError(f"{o}: results.json's seed {seed} differs from batch.json's")
        rows += rows_from_results(results, msgs)
        hidden.update(msgs)
        ex = json.loads((o / post.EXERCISES).read_text())
        exercise_names = ex["exercises"] or exercise_names
        code.update(ex["code"])
        unreadable.update(ex["unreadable"])
    dest.mkdir(parents=True, exist_ok=True)
    (dest / ".cache").mkdir(exist_ok=True)
    for o in outs:  # a rerun on the merged folder then grades nothing again
        for f in (o / ".cache").glob("*.json"):
            shutil.copyfile(f, dest / ".cache" / f.name)
    rows.sort(key=lambda r: r["name"])
    result = GradeResult(first.stage, dest, rows, ag.questions, ag.possible(), graded_now=0)
    if hasattr(result, "seed"):  # results.json records the seed the shards were graded with
        result.seed = first.seed
    report_mod.write_outputs(result, ag)
    merged = BatchInfo(**{**asdict(first), "shard_index": 1, "shard_count": 1})
    merged.files = sorted(r["name"] for r in rows)
    merged.write(dest)
    post.write_json(dest / analytics.HIDDEN_MESSAGES, hidden)
    post.write_json(
        dest / post.EXERCISES,
        {"exercises": exercise_names, "code": code, "unreadable": unreadable},
    )
    post.derive(dest, first.stage, root)
    return result
