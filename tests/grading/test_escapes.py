"""Submissions that try to leave the sandbox, on stage 01 (tests/grading/adversarial/escapes.py).

Two batches, graded one after the other: the first with one worker (shadowing modules in a folder
and in a zip, a writer/reader pair, a sparse file), the second with two (the pair again, and a
snooper looking for the host's /tmp, /dev/shm, /proc, a sibling submission, the first batch's
output and the grader's preflight store). Each sample must get the score its honest work earns, and nothing it created may remain on
the host: no file with the run's token in /tmp, /dev/shm or the output folders, no process with the
run's mark. The token and mark are unique per run, so graders running beside these tests (pytest -n 2,
other checkouts) neither disturb nor are disturbed by the checks.
"""

import csv
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
from escapes import (  # noqa: E402
    NOTHING_SEEN,
    STAGE,
    host_plants,
    pair_samples,
    shadow_samples,
    snoop_sample,
    sparse_sample,
)

sys.path.insert(0, str(Path(__file__).parent))
import gradebooks  # noqa: E402

from cnnkit.grading import preflight_cache  # noqa: E402
from cnnkit.grading.contract import Limits  # noqa: E402
from cnnkit.grading.grade import grade, load_autograder  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOKEN = f"cnnkit-escape-{os.getpid()}-{secrets.token_hex(4)}"
MARK = f"{4000 + secrets.randbelow(1000)}.{os.getpid()}{secrets.randbelow(10**6)}"  # a `sleep` arg
WAIT = 40  # seconds the reader waits for the writer's stash (the writer runs beside it, 2 workers)
LIMITS = Limits(timeout=420, cell_timeout=90, case_timeout=120)
SIGMOID_CASES = ["test_q1_sigmoid_circuit_hidden", "test_q1_sigmoid_circuit_lecture_values"]


def _built() -> bool:
    ag = ROOT / "autograder" / STAGE
    return (ag / "autograder.zip").exists() and (ag / "samples" / "manifest.json").exists()


def _marked() -> list[int]:
    """Processes whose command line holds the run's mark (the samples' daemons)."""
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if MARK.encode() in (p / "cmdline").read_bytes():
                    pids.append(int(p.name))
            except OSError:
                continue
    return pids


def _left(*dirs: Path) -> list[Path]:
    """Files named with the run's token that a sample (not the test's plants) created."""
    found = []
    for d in (Path("/tmp"), Path("/dev/shm"), *dirs):
        found += [p for p in d.glob(f"{TOKEN}*") if "-plant" not in p.name]
    return found


@pytest.fixture(scope="module")
def host():
    """Solution copies planted on the host, and a process whose argv names one."""
    if not _built():
        pytest.skip(f"{STAGE} is not built (cnnkit build --samples {STAGE})")
    plants = host_plants(ROOT, TOKEN)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(3600)", str(plants["argv"])]
    )
    yield plants
    proc.kill()
    proc.wait()
    import shutil

    shutil.rmtree(plants["tmp"], ignore_errors=True)
    plants["shm"].unlink(missing_ok=True)


def _grade(subs, out, workers, gradetmp):
    old = tempfile.tempdir
    tempfile.tempdir = str(gradetmp)
    try:
        return grade(
            STAGE,
            subs,
            out,
            workers=workers,
            root=ROOT,
            limits=LIMITS,
            progress=False,
            seed=gradebooks.SEED,
        )
    finally:
        tempfile.tempdir = old


@pytest.fixture(scope="module")
def first(host, tmp_path_factory):
    """One worker: shadowing modules (folder, zip), the writer/reader pair, a sparse file."""
    src = tmp_path_factory.mktemp("escape-1")
    out = tmp_path_factory.mktemp("escape-out-1")
    subs = shadow_samples(ROOT, src, TOKEN, MARK, out)
    subs |= pair_samples(ROOT, src, TOKEN, WAIT)
    subs["sparse"] = sparse_sample(ROOT, src)
    gradetmp = tmp_path_factory.mktemp("escape-tmp-1")
    result = _grade(list(subs.values()), out, 1, gradetmp)
    return result, {r["name"]: r for r in result.rows}, out, gradetmp


@pytest.fixture(scope="module")
def second(host, first, tmp_path_factory):
    """Two workers: the pair side by side, and a snooper looking for everything it must not see."""
    src = tmp_path_factory.mktemp("escape-2")
    out = tmp_path_factory.mktemp("escape-out-2")
    subs = pair_samples(ROOT, src, TOKEN, WAIT)
    subs["snoop"] = snoop_sample(
        ROOT,
        src,
        TOKEN,
        host_tmp=str(host["tmp"]),
        host_shm=str(host["shm"]),
        sibling=str(subs["pair-a-writer"]),
        previous=str(first[2]),
        grader_pid=os.getpid(),
        store=str(preflight_cache.store_dir()),  # holds the first batch's preflight by now
    )
    gradetmp = tmp_path_factory.mktemp("escape-tmp-2")
    result = _grade(list(subs.values()), out, 2, gradetmp)
    return result, {r["name"]: r for r in result.rows}, out, gradetmp


def _artifact_questions() -> set[str]:
    """The questions made only of artifact cases (q6 of stage 01: the trained parameters file)."""
    ag = load_autograder(STAGE, ROOT)
    return {q for q in ag.questions if all(c.artifact for c in ag.cases if c.question == q)}


def test_shadowing_modules_earn_at_most_the_artifact_points(first):
    result, rows, out, _ = first
    artifact = _artifact_questions()
    assert artifact
    earned = sum(result.possible[q] for q in artifact)
    for name in ("shadow-folder", "shadow-zip.zip"):
        row = rows[name]
        assert row["status"] == "Completed", row["reason"]
        # the artifact is the solution's: its cases still pass, on the artifact file alone
        assert sum(row["scores"][q] for q in artifact) == earned, row["cases"]
        others = {q: s for q, s in row["scores"].items() if q not in artifact}
        assert set(others.values()) == {0.0}, others
        assert sum(row["scores"].values()) < sum(result.possible.values())
    # the gradebook says so too (written after every sandbox is gone, by the grader only)
    with open(out / "final_grades.csv") as f:
        book = {r["file"]: r for r in csv.DictReader(f)}
    for name in ("shadow-folder", "shadow-zip.zip"):
        assert float(book[name]["total_points_earned"]) == earned


def test_a_writer_cannot_hand_its_work_to_a_later_or_parallel_reader(first, second):
    for result, rows, _, _ in (first, second):
        writer, reader = rows["pair-a-writer"], rows["pair-b-reader"]
        assert sum(writer["scores"].values()) == sum(result.possible.values()), writer["reason"]
        assert sum(reader["scores"].values()) == 0, reader["cases"]


def test_a_snooper_sees_nothing_of_the_host(second):
    result, rows, _, _ = second
    # something to see there. Here (root, bwrap) the private /tmp and the store's 0700 hide it as
    # well; the deny-list entry matters for a non-root grader on the unshare fallback, and
    # test_preflight_cache.py checks that every sandbox's limits cover it
    assert any(preflight_cache.store_dir().iterdir())
    row = rows["snoop"]
    for case in SIGMOID_CASES:
        assert not row["cases"][case]["passed"]
        assert NOTHING_SEEN in row["cases"][case]["message"], row["cases"][case]
    # the rest of its honest work keeps its points
    for q in result.questions:
        if q != "q1":
            assert row["scores"][q] == result.possible[q], (q, row["cases"])


def test_scores_equal_the_golden_gradebook(first, second):
    """Both batches' per-question scores exactly as recorded (tests/grading/golden/escapes-*/)."""
    for kind, (result, *_) in (("escapes-1", first), ("escapes-2", second)):
        gradebooks.check(kind, STAGE, result.rows, result.seed)


def test_a_large_sparse_file_is_refused_without_reading_it(first):
    _, rows, _, _ = first
    row = rows["sparse"]
    assert row["status"] == "Failed" and "too large" in row["reason"], row
    assert sum(row["scores"].values()) == 0


def test_nothing_a_submission_started_or_wrote_remains(first, second):
    for _, _, out, gradetmp in (first, second):
        assert list(gradetmp.iterdir()) == []
        assert _left(out) == []
    deadline = time.monotonic() + 10  # a PID namespace is reaped asynchronously
    while _marked() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _marked() == []
