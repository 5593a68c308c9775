"""Submission intake and the output folder, on stage 01's real sample files (no kernel runs here).

What `cnnkit grade` will grade is decided before anything runs: these tests build messy class folders
from the bundled samples and check the plan, the refusals and the file names.
"""

import json
import shutil
import unicodedata
from pathlib import Path

import pytest

from cnnkit.cli import main
from cnnkit.grading.grade import plan_text
from cnnkit.grading.intake import (
    IntakeError,
    _graded_files,
    choose_notebook,
    collect,
    content_hash,
    materialize,
)
from cnnkit.grading.outdir import OutputFolder, OutputFolderError, State, file_names

ROOT = Path(__file__).resolve().parents[2]
STAGE = "01_backprop"
SAMPLES = ROOT / "autograder" / STAGE / "samples"
NB = f"{STAGE}.ipynb"
ART = "twolayer_params.npz"


def _student(dest: Path, sample: str = "solution", artifact: bool = True) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(SAMPLES / sample / NB, dest / NB)
    if artifact:
        shutil.copy(SAMPLES / "solution" / ART, dest / ART)
    return dest


def test_a_folder_is_one_student_and_copies_and_checkpoints_are_listed(tmp_path):
    alice = _student(tmp_path / "alice")
    shutil.copy(SAMPLES / "untouched" / NB, alice / f"{STAGE}-Copy1.ipynb")
    (alice / ".ipynb_checkpoints").mkdir()
    shutil.copy(alice / NB, alice / ".ipynb_checkpoints" / f"{STAGE}-checkpoint.ipynb")
    intake = collect(STAGE, [alice])
    (sub,) = intake.submissions
    assert (sub.name, sub.kind, sub.notebook) == ("alice", "folder", NB)
    assert f"{STAGE}-Copy1.ipynb (a copy)" in sub.ignored
    assert ".ipynb_checkpoints/ (Jupyter checkpoints)" in sub.ignored
    assert sub.files == [ART]
    # the copy is not graded: not copied into the sandbox, not part of the cache key
    files = tmp_path / "materialized"
    assert materialize(sub, files) == NB
    assert sorted(p.name for p in files.iterdir()) == [NB, ART]
    before = content_hash(sub)
    (alice / f"{STAGE}-Copy1.ipynb").write_text("{}")
    assert content_hash(sub) == before
    (alice / ART).write_bytes(b"other")
    assert content_hash(sub) != before
    assert [f.name for f in _graded_files(sub)] == [NB, ART]


@pytest.mark.parametrize(
    ("names", "chosen"),
    [
        ([f"{STAGE}-Copy1.ipynb", NB], NB),
        (["backprop_alice.ipynb", "backprop_alice (1).ipynb"], "backprop_alice.ipynb"),
        ([f"{STAGE}-Copy2.ipynb"], f"{STAGE}-Copy2.ipynb"),  # the only one, even a copy
        (["a.ipynb", "b.ipynb"], None),
    ],
)
def test_choose_notebook_rule(names, chosen):
    got, ignored = choose_notebook(STAGE, names)
    assert got == chosen
    assert len(ignored) == (len(names) - 1 if chosen else 0)


def _class_folder(tmp_path: Path, n: int = 9) -> Path:
    subs = tmp_path / "subs"
    for i in range(n):
        _student(subs / f"student{i}", artifact=i % 2 == 0)
    return subs


def test_a_class_folder_is_one_row_per_student_even_with_a_stray_notebook(tmp_path):
    subs = _class_folder(tmp_path)
    shutil.copy(SAMPLES / "solution" / NB, subs / NB)  # a stray top-level notebook
    (subs / "__MACOSX" / "student0").mkdir(parents=True)
    (subs / "__MACOSX" / "student0" / f"._{NB}").write_bytes(b"\0\5\26\7")
    (subs / ".DS_Store").write_bytes(b"\0")
    (subs / "notes.txt").write_text("late: student3")
    (subs / "rubric.pdf").write_bytes(b"%PDF-1.4")
    intake = collect(STAGE, [subs])
    assert [s.name for s in intake.submissions] == [f"student{i}" for i in range(9)]
    assert {s.kind for s in intake.submissions} == {"folder"}
    skipped = {p.path.name: p.reason for p in intake.skipped}
    assert skipped == {
        "__MACOSX": "macOS archive metadata",
        ".DS_Store": "hidden file",
        NB: "a loose file beside the student folders: put it in its student's folder",
        "notes.txt": "not a notebook, folder or zip",
        "rubric.pdf": "not a notebook, folder or zip",
    }


def test_nested_lms_folders_unicode_names_and_a_student_without_a_notebook(tmp_path):
    subs = tmp_path / "subs"
    _student(subs / "carol" / "submission_2026-11-30")  # an LMS download's extra level
    _student(subs / unicodedata.normalize("NFD", "müller"))  # written by macOS
    _student(subs / "mäller")
    (subs / "dave").mkdir(parents=True)
    (subs / "dave" / "report.pdf").write_bytes(b"%PDF-1.4")
    intake = collect(STAGE, [subs])
    by = {s.name: s for s in intake.submissions}
    assert sorted(by) == ["carol", "dave", "mäller", "müller"]
    assert by["carol"].path == subs / "carol" / "submission_2026-11-30"
    assert by["carol"].kind == "folder" and by["carol"].notebook == NB
    assert by["dave"].kind == "invalid"
    assert by["dave"].reason == "no notebook found in the folder (it holds: report.pdf)"
    # grading it gives a 0 row with that reason (materialize refuses it)
    with pytest.raises(ValueError, match="no notebook found"):
        materialize(by["dave"], tmp_path / "m")


def test_bare_notebooks_zips_and_missing_paths(tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(SAMPLES / "solution" / NB, bare / "alice_01.ipynb")
    shutil.copy(SAMPLES / "untouched" / NB, bare / "bob_01.ipynb")
    (bare / "notes.txt").write_text("x")
    intake = collect(STAGE, [bare])
    assert [(s.name, s.kind) for s in intake.submissions] == [
        ("alice_01.ipynb", "ipynb"),
        ("bob_01.ipynb", "ipynb"),
    ]
    assert [s.path.name for s in intake.skipped] == ["notes.txt"]
    with pytest.raises(IntakeError, match="nope"):
        collect(STAGE, [bare, tmp_path / "nope"])


def test_dry_run_prints_the_plan_and_grades_nothing(tmp_path, capsys):
    subs = _class_folder(tmp_path, 3)
    shutil.copy(SAMPLES / "untouched" / NB, subs / "student1" / f"{STAGE}-Copy1.ipynb")
    (subs / "notes.txt").write_text("x")
    out = tmp_path / "grades"
    assert main(["grade", STAGE, str(subs), "-o", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert text == plan_text(STAGE, [subs], root=ROOT) + "\n"
    lines = text.splitlines()
    assert lines[0] == f"cnnkit grade {STAGE}: 3 submission(s), 1 skipped"
    s0 = next(ln for ln in lines if ln.strip().startswith("student0 "))
    assert f"{subs / 'student0' / NB}  artifacts: {ART}" in s0
    s1 = next(ln for ln in lines if ln.strip().startswith("student1 "))
    assert f"MISSING: {ART}" in s1
    assert f"ignored: {STAGE}-Copy1.ipynb (a copy)" in text
    assert f"{subs / 'notes.txt'}  (not a notebook, folder or zip)" in text
    assert not out.exists()


def test_cli_refuses_a_missing_path_and_zero_workers(tmp_path, capsys):
    out = tmp_path / "grades"
    subs = _class_folder(tmp_path, 2)
    assert main(["grade", STAGE, str(subs), str(tmp_path / "typo"), "-o", str(out)]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert not out.exists()
    (tmp_path / "notes.txt").write_text("x")
    assert main(["grade", STAGE, str(tmp_path / "notes.txt"), "-o", str(out)]) == 1
    assert "nothing to grade (skipped: notes.txt (not a notebook" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit) as err:
        main(["grade", STAGE, str(subs), "-o", str(out), "--workers", "0"])
    assert err.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
    assert not out.exists()


def test_output_folder_lock_stage_and_foreign_folders(tmp_path, capsys):
    out = tmp_path / "grades"
    with OutputFolder.open(out, STAGE) as folder:
        folder.save(State(STAGE, 7, []))
        with pytest.raises(OutputFolderError, match="another `cnnkit grade` is writing"):
            OutputFolder.open(out, STAGE)
        # the CLI says so and grades nothing (the lock is taken before the preflight)
        subs = _class_folder(tmp_path, 2)
        assert main(["grade", STAGE, str(subs), "-o", str(out)]) == 1
        assert "another `cnnkit grade` is writing" in capsys.readouterr().err
        assert not (out / "final_grades.csv").exists()
    with OutputFolder.open(out, STAGE) as folder:  # released
        assert folder.state.seed == 7
    with pytest.raises(OutputFolderError, match=f"holds the results of {STAGE}"):
        OutputFolder.open(out, "02_conv_layers")
    with pytest.raises(OutputFolderError, match="holds no cnnkit grades"):
        OutputFolder.open(subs, STAGE)  # -o pointed at the submissions by mistake
    assert json.loads((out / ".cnnkit-grade.json").read_text())["stage"] == STAGE
    # a gradebook written before folders had a state file: its results.json names the stage
    old = tmp_path / "old"
    old.mkdir()
    (old / "results.json").write_text(json.dumps({"stage": "02_conv_layers", "submissions": []}))
    with pytest.raises(OutputFolderError, match="holds the results of 02_conv_layers"):
        OutputFolder.open(old, STAGE)


def test_feedback_file_names_keep_unicode_and_never_collide():
    names = ["müller", "mäller", "Bob", "bob", "a/b", "a_b", "李雷"]
    stems = file_names(names)
    assert stems["müller"] == "müller" and stems["mäller"] == "mäller"
    assert stems["李雷"] == "李雷"
    assert len({s.casefold() for s in stems.values()}) == len(names)
    assert stems["Bob"].startswith("Bob-") and stems["bob"].startswith("bob-")
    assert all("/" not in s for s in stems.values())
    assert file_names(names) == stems  # deterministic


def test_append_refuses_a_seed_other_than_the_folders(tmp_path):
    from cnnkit.grading.grade import GradingError, grade

    out = tmp_path / "grades"
    with OutputFolder.open(out, STAGE) as folder:
        folder.save(State(STAGE, 7, []))
    subs = _class_folder(tmp_path, 2)
    # refused before the preflight: rows judged on two seeds would sit in one gradebook
    with pytest.raises(GradingError, match="--seed 7"):
        grade(STAGE, [subs], out, root=ROOT, seed=8, append=True, progress=False)
    with pytest.raises(GradingError, match="at least 1"):
        grade(STAGE, [subs], out, root=ROOT, workers=0, progress=False)
    assert not (out / "final_grades.csv").exists()
