"""`cnnkit grade --shard K/N` and `cnnkit merge` on the toy stage (conftest.py's `toy`, built by
`cnnkit build`): three shards merged equal one run.

The single run and the three shards are graded once per module (the same seed); the refusal tests
edit copies of the shard outputs.
"""

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from toystage import STAGE, samples  # noqa: E402

from cnnkit.grading import preflight_cache  # noqa: E402
from cnnkit.grading import runs as runs_mod  # noqa: E402
from cnnkit.grading.contract import Limits  # noqa: E402
from cnnkit.grading.grade import Submission, grade  # noqa: E402
from cnnkit.grading.shard import BATCH, Shard, ShardError, merge, select  # noqa: E402

LIMITS = Limits(timeout=120, cell_timeout=15)
NAMES = ["solution", "untouched", "partial-affine-no-bias", "broken-raises", "malformed"]
SEED = 20261001


def _subs(names):
    return [Submission(n, Path("/x") / n, "ipynb") for n in names]


def test_shards_partition_the_class_whatever_the_order():
    names = [f"student{i:03d}.ipynb" for i in range(50)]
    parts = [[s.name for s in select(_subs(names), Shard(k, 4))] for k in range(1, 5)]
    shuffled = names[7:] + names[:7]
    again = [[s.name for s in select(_subs(shuffled[::-1]), Shard(k, 4))] for k in range(1, 5)]
    assert parts == again
    assert sorted(n for p in parts for n in p) == sorted(names)
    assert {len(p) for p in parts} == {12, 13}


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_bad_shard_specs(spec):
    with pytest.raises(ShardError):
        Shard.parse(spec)


def test_cli_refuses_a_shard_without_a_seed_and_unmergeable_folders(tmp_path, capsys):
    from cnnkit.cli import main

    assert main(["grade", "01_backprop", str(tmp_path), "--shard", "1/2"]) == 2
    assert "--shard needs --seed" in capsys.readouterr().err
    (tmp_path / "a").mkdir()
    assert main(["merge", str(tmp_path / "a"), "-o", str(tmp_path / "m")]) == 1
    assert "holds no batch.json" in capsys.readouterr().err


@pytest.fixture(scope="module")
def graded(toy, tmp_path_factory):
    built = samples(toy)
    subs = [built[n] for n in NAMES]
    base = tmp_path_factory.mktemp("runs")
    kw = dict(workers=1, root=toy, limits=LIMITS, progress=False, seed=SEED)
    preflights = []
    real = runs_mod.run_kernel_cases

    def counting(plan, files, nb_name, mode, *args, **kw):
        if mode == "reference":
            preflights.append(plan.seed)
        return real(plan, files, nb_name, mode, *args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(preflight_cache.STORE_ENV, str(base / "store"))  # this module's machine
        mp.setattr(runs_mod, "run_kernel_cases", counting)
        grade(STAGE, subs, base / "single", **kw)
        shards = []
        for k in (1, 2, 3):
            # each shard sees the command line in another order
            order = subs[k:] + subs[:k]
            grade(STAGE, order, base / f"shard{k}", shard=f"{k}/3", **kw)
            shards.append(base / f"shard{k}")
    return toy, base / "single", shards, subs, preflights


def test_shards_on_one_machine_share_one_preflight(graded):
    *_, preflights = graded
    assert preflights == [SEED]


def test_three_shards_merged_equal_one_run(graded, tmp_path):
    toy, single, shards, subs, _ = graded
    sizes = [len(json.loads((s / BATCH).read_text())["files"]) for s in shards]
    assert sorted(sizes) == [1, 2, 2]
    merged = tmp_path / "merged"
    result = merge(list(reversed(shards)), merged, root=toy)
    assert len(result.rows) == len(NAMES)
    for f in ("final_grades.csv", "results.json", "report.md", "hidden_messages.json"):
        assert (merged / f).read_bytes() == (single / f).read_bytes(), f
    feedback = sorted(p.name for p in (single / "feedback").iterdir())
    assert sorted(p.name for p in (merged / "feedback").iterdir()) == feedback
    assert (merged / "report.html").exists()
    # the merged folder carries the shards' cache: a rerun there grades nothing again
    again = grade(
        STAGE, subs, merged, workers=1, root=toy, limits=LIMITS, progress=False, seed=SEED
    )
    assert again.graded_now == 0
    assert (merged / "final_grades.csv").read_bytes() == (single / "final_grades.csv").read_bytes()


def _copy(shards, tmp_path):
    out = []
    for s in shards:
        shutil.copytree(s, tmp_path / s.name)
        out.append(tmp_path / s.name)
    return out


def _edit(shard, **changes):
    info = json.loads((shard / BATCH).read_text())
    info.update(changes)
    (shard / BATCH).write_text(json.dumps(info))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"seed": 1}, "different seeds"),
        ({"autograder_sha256": "0" * 64}, "different autograder builds"),
        ({"class_digest": "f" * 64}, "different classes"),
        ({"shard_index": 1}, "exactly once"),
    ],
)
def test_merge_refuses_shards_that_do_not_fit(graded, tmp_path, change, message):
    toy, _, shards, *_ = graded
    copies = _copy(shards, tmp_path)
    _edit(copies[1], **change)
    with pytest.raises(ShardError, match=message):
        merge(copies, tmp_path / "merged", root=toy)


def test_merge_refuses_a_missing_shard_and_a_rebuilt_autograder(graded, tmp_path):
    toy, _, shards, *_ = graded
    with pytest.raises(ShardError, match="exactly once"):
        merge(shards[:2], tmp_path / "m1", root=toy)
    copies = _copy(shards, tmp_path)
    for c in copies:
        _edit(c, autograder_sha256="0" * 64)
    with pytest.raises(ShardError, match="another build"):
        merge(copies, tmp_path / "m2", root=toy)
