"""One reading of a master (cnnkit.grading.master): the typed model, the lecture format with its
sibling cases file, and agreement with what the build hands to graders."""

from __future__ import annotations

import pytest

from cnnkit.grading import exercises, helper_leaks, leaks, master
from cnnkit.grading.grade import load_autograder
from cnnkit.grading.paths import repo_root, stage_dirs
from cnnkit.grading.stage import NAMES

ROOT = repo_root()
BUILT = [s for s in NAMES if stage_dirs(s, ROOT).autograder_zip.is_file()]

OTTER_FORMAT = """\
# %% [raw]
# # ASSIGNMENT CONFIG
# name: toy

# %% [markdown]
# Write f.

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [raw]
# # BEGIN SOLUTION

# %%
def f(x):
    # BEGIN SOLUTION
    return x + 1
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
\"\"\" # BEGIN TEST CONFIG
points: 1
hidden: false
\"\"\" # END TEST CONFIG
def test_q1_public(f):
    assert f(1) == 2

# %%
\"\"\" # BEGIN TEST CONFIG
points: 2.5
hidden: true
\"\"\" # END TEST CONFIG
def test_q1_hidden(f):
    assert f(-3) == -2

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
import cnnkit
cnnkit.seed_everything(0)
"""

LECTURE = """\
# %% [raw]
# # ASSIGNMENT CONFIG
# name: toy

# %% [markdown]
# Write f.

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %%
def f(x):
    # BEGIN SOLUTION
    return x + 1
    # END SOLUTION

# %%
\"\"\" # BEGIN TEST CONFIG
points: 1
hidden: false
\"\"\" # END TEST CONFIG
def test_q1_public(f):
    assert f(1) == 2

# %% [raw]
# # END QUESTION

# %%
import cnnkit
cnnkit.seed_everything(0)
"""

CASES = '''\
"""Hidden cases of toy."""


@case("q1", points=2.5, hidden=True)
def test_q1_hidden(f):
    assert f(-3) == -2
'''


def _write(tmp_path, name, text, cases=None):
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "toy.py"
    path.write_text(text)
    if cases is not None:
        master.cases_path(path).write_text(cases)
    return path


def test_the_model_of_an_otter_format_master(tmp_path):
    m = master.read(_write(tmp_path, "a", OTTER_FORMAT))
    assert m.problems() == [] and m.config == {"name": "toy"}
    (q,) = m.questions
    assert (q.name, q.points) == ("q1", 3.5)
    assert [(c.name, c.points, c.hidden, c.params) for c in q.cases] == [
        ("test_q1_public", 1.0, False, ("f",)),
        ("test_q1_hidden", 2.5, True, ("f",)),
    ]
    assert [e.names for e in q.exercises] == [("f",)]


def test_the_lecture_format_reads_as_the_otter_format(tmp_path):
    """No SOLUTION/TESTS marker cells and the hidden case in the sibling file: the same cells,
    the same notebook for otter assign, the same cases."""
    old = master.read(_write(tmp_path, "a", OTTER_FORMAT))
    new = master.read(_write(tmp_path, "b", LECTURE, CASES))
    assert new.problems() == []
    assert [(c.cell_type, c.source, c.block, c.hidden) for c in new.cells] == [
        (c.cell_type, c.source, c.block, c.hidden) for c in old.cells
    ]
    nb_old, nb_new = old.notebook(), new.notebook()
    assert [(c.cell_type, c.source) for c in nb_new.cells] == [
        (c.cell_type, c.source) for c in nb_old.cells
    ]
    assert [(c.name, c.points, c.hidden) for c in new.cases] == [
        (c.name, c.points, c.hidden) for c in old.cases
    ]
    # a sibling case keeps its own file and line (leak findings and problems point there)
    hidden = new.cases[1].cell
    assert hidden.path == master.cases_path(new.path)
    assert hidden.line(hidden.lines.index("    assert f(-3) == -2")) == 6


def test_a_case_for_a_missing_question_is_a_problem(tmp_path):
    path = _write(tmp_path, "a", LECTURE, CASES.replace('"q1"', '"q7"'))
    problems = master.read(path).problems()
    assert len(problems) == 1 and "toy.cases.py:5: case for question 'q7'" in problems[0]


@pytest.mark.parametrize(
    "bad",
    [
        "x = 1\n",
        "def test_q1(f):\n    pass\n",
        '@case("q1", weight=2)\ndef test_q1(f):\n    pass\n',
    ],
)
def test_a_cases_file_holds_only_decorated_cases(tmp_path, bad):
    path = _write(tmp_path, "a", LECTURE, '"""doc"""\n' + bad)
    with pytest.raises(master.BuildError, match=r"toy\.cases\.py:2: expected a function"):
        master.read(path)


@pytest.mark.parametrize("stage", BUILT or [pytest.param(None, marks=pytest.mark.skip)])
def test_master_cases_are_the_autograders(stage):
    """The cases the model reads are exactly those `cnnkit grade` finds in the built zip."""
    m = master.read(stage_dirs(stage, ROOT).master)
    ag = load_autograder(stage, ROOT)

    def key(c):
        return (c.question, c.name, float(c.points), c.hidden, tuple(c.params), c.artifact)

    assert sorted(map(key, m.cases)) == sorted(map(key, ag.cases))
    assert [q.name for q in m.questions if not q.manual] == ag.questions
    # written questions have no cases: graded by people, listed for `cnnkit grade` in written.json
    from cnnkit.grading import written

    assert [(q.name, q.points) for q in m.written] == [
        (q.name, q.points) for q in written.load_questions(ROOT, stage)
    ]


@pytest.mark.parametrize("stage", BUILT or [pytest.param(None, marks=pytest.mark.skip)])
def test_master_exercises_are_the_student_notebooks(stage):
    """Every solution cell of the master is an exercise of the student notebook, in order."""
    m = master.read(stage_dirs(stage, ROOT).master)
    starters = exercises.starter_exercises(stage_dirs(stage, ROOT).student_nb)
    assert [e.name for e in m.exercises] == [e.name for e in starters]


LIBRARY = '''\
import numpy as np


def helper(x):
    return x


# BEGIN EXERCISE toy
def affine(x, w, b):
    """Affine map."""
    # BEGIN SOLUTION
    out = x @ w
    # END SOLUTION
    return out + b


def relu(x):
    """ReLU."""
    return np.maximum(x, 0)  # SOLUTION
# END EXERCISE
'''


def _named(tmp_path, ref: str):
    """A checkout with a library exercise region and a master that names `ref`."""
    (tmp_path / "lib" / "cnnkit").mkdir(parents=True)
    (tmp_path / "lib" / "cnnkit" / "toy_ex.py").write_text(LIBRARY)
    (tmp_path / "solutions" / "toy").mkdir(parents=True)
    path = tmp_path / "solutions" / "toy" / "toy.py"
    path.write_text(
        LECTURE.replace(
            "def f(x):\n    # BEGIN SOLUTION\n    return x + 1\n    # END SOLUTION\n",
            f"# EXERCISE {ref}\n",
        )
    )
    return path


def test_a_named_exercise_is_the_library_text_with_its_markers(tmp_path):
    m = master.read(_named(tmp_path, "cnnkit.toy_ex.affine, relu"))
    assert m.problems() == []
    (ex,) = m.question("q1").exercises
    assert ex.names == ("affine", "relu") and ex.cell.block == "solution"
    lib = tmp_path / "lib" / "cnnkit" / "toy_ex.py"
    assert ex.cell.source == "\n".join(LIBRARY.splitlines()[8:19])  # def affine .. relu's last line
    assert (ex.cell.path, ex.cell.start) == (lib, 9)
    assert master.inline_solution_lines(ex.cell.lines) == [3, 10]
    (cell,) = [c for c in m.notebook().cells if "def affine" in c.source]
    assert cell.source == ex.cell.source  # what otter assign gets


@pytest.mark.parametrize(
    "ref, why",
    [
        ("cnnkit.toy_ex.helper", "inside a `# BEGIN EXERCISE toy` region"),  # outside a region
        ("cnnkit.toy_ex.relu, affine", "one after the other"),  # not in the library's order
        ("cnnkit.nowhere.affine", "no module cnnkit.nowhere"),
    ],
)
def test_a_name_outside_the_stages_exercise_regions_is_refused(tmp_path, ref, why):
    with pytest.raises(master.BuildError, match=why):
        master.read(_named(tmp_path, ref))


# Library exercises written ahead of their master cells: the numpy references of issue 16, whose
# notebook questions come with the master rewrite of issue 21. The gate stubs them and the leak scan
# guards them like every region; only "a master shows and grades it" waits. When a master defines
# one, its entry here must go (the test below fails until it does).
AWAITING_MASTER: set[str] = set()  # every library exercise is named by a master now


# Library code gated with a stage because its students write the same job themselves, in their
# own design (no master names it): notebook 03's students write their own training loop and their
# own data pipeline (a Dataset, crop and flip as tensor ops, portable DataLoader settings).
GATED_REFERENCES = {
    "fit",  # lib/cnnkit/training.py, 03_pytorch_cnn
    "ArrayDataset",  # lib/cnnkit/data/torch.py, 03b_cnn_experiments (ImageDataset in the master)
    "augment_batch",  # random_crop + random_flip
    "default_num_workers",  # make_loaders' portable num_workers
}


def test_each_library_exercise_has_one_source():
    """Every definition of a library exercise region is named by a master of its stage, and no
    master writes out a definition the library holds (one source per exercise, no drift)."""
    named, written = {}, set()
    for stage in NAMES:
        for ex in master.read(stage_dirs(stage, ROOT).master).exercises:
            if ex.cell.ref is not None:
                named.update({n: stage for n in ex.names})
            else:
                written.update(ex.names)
    library = {node.name: stage for _, stage, node, _ in leaks.library_regions(ROOT)}
    # a helper gated because it repeats an exercise (training.default_step) is no exercise itself,
    # nor is a reference of what a stage's students write in their own words (training.fit)
    gated = {f.name for f in helper_leaks.findings(ROOT, gated=True)} - set(named)
    gated |= GATED_REFERENCES
    exercises = {n: s for n, s in library.items() if n not in AWAITING_MASTER and n not in gated}
    assert exercises and named == exercises
    assert not written & set(library)
    assert set(library) >= AWAITING_MASTER, sorted(AWAITING_MASTER - set(library))  # no stale entry
    assert not AWAITING_MASTER & set(named), sorted(AWAITING_MASTER & set(named))
