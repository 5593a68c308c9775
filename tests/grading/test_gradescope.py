"""The Gradescope zip with out-of-kernel verdicts, run as Gradescope runs it (without Docker).

A temp folder is laid out as Gradescope lays out /autograder (source/ = the unpacked
autograder/01_backprop/gradescope.zip, submission/, results/); the zip's setup.sh links its library into
a fresh interpreter that has the kit's dependencies but not this checkout's cnnkit, and its
run_autograder grades. The environment is clean: no CNNKIT_ROOT or CNNKIT_DATA, an empty HOME (no
data or torch cache), Debian's Fashion-MNIST hidden (CNNKIT_NO_SYSTEM_DATA) and no network (the
machine has none), so the held-out-accuracy cases can only pass from the zip's offline copy.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
sys.path.insert(0, str(Path(__file__).parent))
import attacks  # noqa: E402
import gradebooks  # noqa: E402

from cnnkit import data  # noqa: E402
from cnnkit.grading import gradescope, offline  # noqa: E402
from cnnkit.grading.grade import load_autograder  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STAGE = "01_backprop"
ZIP = ROOT / "autograder" / STAGE / "gradescope.zip"
SAMPLES = ROOT / "autograder" / STAGE / "samples"
SEED = gradebooks.SEED  # the seed of the shared gradebook: the Gradescope runs draw the same inputs
# bundled samples: `cnnkit grade`'s rows of them are the run's shared gradebook (conftest.py)
BUNDLED = ("solution", "partial-db-axis", "untouched")
# the adversarial suite's otter patch (attacks.py): it earns nothing under `cnnkit grade` there
GRADED = (*BUNDLED, "otter-runner-patch")


def _clean_env(base: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(base / "home"),
        "CNNKIT_AUTOGRADER_BASE": str(base),
        "CNNKIT_NO_SYSTEM_DATA": "1",
        "OMP_NUM_THREADS": "1",
        **extra,
    }


def _interpreter(dest: Path) -> Path:
    """A venv whose site-packages sees this venv's packages (a .pth line) but not its cnnkit (the
    editable install's own .pth is not processed there): what setup.sh's pip install would give."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    site = next(dest.glob("lib/python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return dest / "bin" / "python"


def _submission(name: str, dest: Path) -> None:
    import nbformat

    if name == "otter-runner-patch":  # the untouched student notebook, patched first
        stu = nbformat.read(ROOT / "assignments" / STAGE / f"{STAGE}.ipynb", as_version=4)
        nbformat.write(attacks.prepend(stu, attacks.OTTER_CALL_FUNC_PATCH), dest / f"{STAGE}.ipynb")
    else:
        for f in (SAMPLES / name).iterdir():
            shutil.copy(f, dest / f.name)


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """An unpacked zip after setup.sh, and a function that grades one submission in a fresh
    /autograder-like base sharing that source."""
    if not ZIP.is_file():
        pytest.fail(f"{ZIP} missing: run `cnnkit build {STAGE}`")
    top = tmp_path_factory.mktemp("gradescope")
    top.chmod(0o755)  # like /autograder: the sandboxed kernel may read the offline data
    base = top / "autograder"
    source = base / "source"
    source.mkdir(parents=True)
    with zipfile.ZipFile(ZIP) as zf:
        zf.extractall(source)
    py = _interpreter(top / "venv")
    setup = subprocess.run(
        ["bash", str(source / "setup.sh")],
        env=_clean_env(base, CNNKIT_SETUP_PYTHON=str(py)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr

    def run(name: str, hidden_visibility: str | None = None) -> tuple[int, dict]:
        sub, res = base / "submission", base / "results"
        for d in (sub, res):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
        _submission(name, sub)
        cfg_path = source / gradescope.CONFIG_NAME
        cfg = json.loads(cfg_path.read_text())
        original = dict(cfg)
        if hidden_visibility:
            cfg_path.write_text(json.dumps({**cfg, "hidden_visibility": hidden_visibility}))
        try:
            proc = subprocess.run(
                ["bash", str(source / "run_autograder")],
                env=_clean_env(base, CNNKIT_GRADESCOPE_SEED=str(SEED)),
                capture_output=True,
                text=True,
                timeout=900,
                cwd=base,
            )
        finally:
            cfg_path.write_text(json.dumps(original))
        return proc.returncode, json.loads((res / "results.json").read_text())

    return source, run


_RUNS: dict = {}


@pytest.fixture(scope="module")
def runs(layout, bundled):
    """Gradescope results of the graded samples, and `cnnkit grade`'s rows of the bundled ones (the
    run's shared gradebook, graded with the same seed)."""
    if _RUNS:
        return _RUNS
    _, run = layout
    shared = bundled(STAGE)
    assert shared.seed == SEED
    for name in GRADED:
        _RUNS[name] = run(name, hidden_visibility="hidden" if name == "untouched" else None)
    _RUNS["cnnkit"] = shared.results
    return _RUNS


pytestmark = pytest.mark.slow


def test_per_case_scores_equal_cnnkit_grade(runs):
    cases = load_autograder(STAGE, ROOT).cases
    for name in GRADED:
        code, res = runs[name]
        assert code == 0, res["output"]
        assert [t["name"] for t in res["tests"]] == [f"{c.question}: {c.name}" for c in cases]
    for name in BUNDLED:
        code, res = runs[name]
        row = runs["cnnkit"][name]
        expected = {
            f"{q}: {c}": v["earned"]
            for q, qd in row["questions"].items()
            for c, v in qd["cases"].items()
        }
        got = {t["name"]: t["score"] for t in res["tests"]}
        assert got == expected, name
        assert res["score"] == pytest.approx(row["total"])
    assert runs["solution"][1]["score"] == sum(c.points for c in cases)  # q6 from the zip's data
    assert 0 < runs["partial-db-axis"][1]["score"] < runs["solution"][1]["score"]


def test_hidden_cases_show_only_pass_fail_with_the_configured_visibility(runs):
    cases = {f"{c.question}: {c.name}": c for c in load_autograder(STAGE, ROOT).cases}
    for name, visibility in (("partial-db-axis", "after_due_date"), ("untouched", "hidden")):
        res = runs[name][1]
        for t in res["tests"]:
            case = cases[t["name"]]
            assert t["max_score"] == case.points
            if case.hidden:
                assert t["visibility"] == visibility
                assert t["output"] == f"hidden test: {t['status']}"
            else:
                assert t["visibility"] == "visible"
        assert "hidden test(s)" in res["output"]
    # a public failure tells the student the size of their own error
    partial = {t["name"]: t for t in runs["partial-db-axis"][1]["tests"]}
    failed = [t for t in partial.values() if t["visibility"] == "visible" and t["score"] == 0]
    assert failed and all(t["output"] not in ("", "passed") for t in failed)


def test_otter_runner_patch_earns_nothing(runs, tmp_path):
    res = runs["otter-runner-patch"][1]
    assert res["score"] == 0
    assert all(t["score"] == 0 for t in res["tests"])
    # the same notebook under otter's in-kernel tests (the zip's own tests, `otter run`) scores full
    nb = tmp_path / f"{STAGE}.ipynb"
    _submission("otter-runner-patch", tmp_path)
    out = tmp_path / "otter"
    out.mkdir()
    otter = Path(sys.executable).with_name("otter")
    subprocess.run(
        [str(otter), "run", "-a", str(ROOT / "autograder" / STAGE / "autograder.zip")]
        + ["-o", str(out), str(nb)],
        check=True,
        capture_output=True,
        timeout=600,
        cwd=tmp_path,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    otter_res = json.loads((out / "results.json").read_text())
    per_question = [t["score"] for t in otter_res["tests"] if t.get("score") is not None]
    assert sum(per_question) == sum(c.points for c in load_autograder(STAGE, ROOT).cases)


def test_output_says_where_the_verdicts_come_from_and_the_sandbox(runs):
    out = runs["solution"][1]["output"]
    assert "decided outside" in out
    # the sandbox's own description (bwrap's allow-list, or unshare's namespaces), or the note that
    # the container allows none
    assert (
        any(f"Sandbox: {kind}" in out for kind in ("bwrap: allow-list", "namespaces: "))
        or "does not allow Linux namespaces" in out
    )


def test_setup_refuses_a_damaged_offline_copy(layout, tmp_path):
    source, _ = layout
    copy = tmp_path / "autograder" / "source"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("python"))
    target = copy / offline.PACK_DIR / "fashion_mnist" / "t10k-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes()[:-1] + b"\x00")
    proc = subprocess.run(
        ["bash", str(copy / "setup.sh")],
        env=_clean_env(tmp_path / "autograder", CNNKIT_SETUP_PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr
    # and the grader refuses it too (results.json with 0 and the reason, non-zero status)
    (tmp_path / "autograder" / "submission").mkdir()
    assert gradescope.run(tmp_path / "autograder") == 1
    res = json.loads((tmp_path / "autograder" / "results" / "results.json").read_text())
    assert res["score"] == 0 and "offline data is damaged" in res["output"]
    assert "t10k-labels-idx1-ubyte" in res["output"]


def test_the_registry_finds_the_zips_data_with_every_usual_source_gone(
    layout, monkeypatch, tmp_path
):
    source, _ = layout
    monkeypatch.setenv("CNNKIT_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "empty"))
    with pytest.raises(data.DatasetUnavailable):
        data.load("fashion_mnist", "test", n=20)
    for key, value in offline.environment(source / offline.PACK_DIR).items():
        monkeypatch.setenv(key, value)
    split = data.load("fashion_mnist", "test", n=20)
    assert split.X.shape == (20, 1, 28, 28)
    with pytest.raises(data.DatasetUnavailable, match="downloads are off"):
        data.load("fashion_mnist", "train", n=20)  # not carried, and never downloaded


@pytest.mark.parametrize(
    "stage, carried",
    [
        ("01_backprop", "fashion_mnist/t10k-images-idx3-ubyte"),
        ("04_transfer_learning", "torch/hub/checkpoints/mobilenet_v2-b0353104.pth"),
    ],
)
def test_both_zips_carry_the_offline_data_and_otters_points_at_it(stage, carried):
    ag = ROOT / "autograder" / stage
    with zipfile.ZipFile(ag / "autograder.zip") as zf:
        names = set(zf.namelist())
        run_autograder = zf.read("run_autograder").decode()
        setup = zf.read("setup.sh").decode()
    assert f"{offline.PACK_DIR}/{carried}" in names
    assert f"{offline.PACK_DIR}/{offline.SUMS}" in names
    for key, value in offline.environment("/autograder/source/offline").items():
        assert f'export {key}="{value}"' in run_autograder
    assert run_autograder.index("CNNKIT_OFFLINE") < run_autograder.index("run_otter.py")
    assert f"sha256sum -c --quiet {offline.SUMS}" in setup
    with zipfile.ZipFile(ag / "gradescope.zip") as zf:
        gs = set(zf.namelist())
        nested = zf.read(f"kit/autograder/{stage}/autograder.zip")
    assert f"{offline.PACK_DIR}/{carried}" in gs  # once, at the top level
    with zipfile.ZipFile(io.BytesIO(nested)) as zf:
        assert not [n for n in zf.namelist() if n.startswith(offline.PACK_DIR)]


def _case(name, question, points, hidden):
    from cnnkit.grading.grade import Case

    return Case(name=name, question=question, points=points, hidden=hidden, params=["f"], source="")


def test_results_json_for_a_failed_row_and_a_container_without_namespaces():
    cases = [_case("test_pub", "q1", 1.0, False), _case("test_hid", "q1", 2.0, True)]
    verdict = {"question": "q1", "hidden": False, "message": "db: relative error 0.3"}
    row = {
        "status": "Completed",
        "reason": "",
        "isolation": "unshare refused: network and filesystem not isolated",
        "cases": {
            "test_pub": {**verdict, "points": 1.0, "earned": 0.0, "passed": False},
            "test_hid": {**verdict, "points": 2.0, "earned": 2.0, "passed": True, "hidden": True},
        },
    }
    res = gradescope.results_json(row, cases, "after_published")
    assert res["score"] == 2.0
    pub, hid = res["tests"]
    assert (pub["output"], pub["visibility"]) == ("db: relative error 0.3", "visible")
    assert (hid["output"], hid["visibility"]) == ("hidden test: passed", "after_published")
    assert "does not allow Linux namespaces" in res["output"]
    assert "shown once grades are published" in res["output"]
    failed = {"status": "Failed", "reason": "malformed notebook: NotJSONError", "cases": {}}
    res = gradescope.results_json(failed, cases, "hidden")
    assert res["score"] == 0 and "Not graded: malformed notebook" in res["output"]
    assert [t["score"] for t in res["tests"]] == [0.0, 0.0]
    assert "does not allow" not in res["output"]


def test_settings_take_only_gradescopes_hidden_visibilities():
    assert gradescope.settings(None)["hidden_visibility"] == "after_due_date"
    assert gradescope.settings({"hidden_visibility": "hidden"})["hidden_visibility"] == "hidden"
    with pytest.raises(ValueError, match="hidden_visibility"):
        gradescope.settings({"hidden_visibility": "visible"})
    with pytest.raises(ValueError, match="unknown"):
        gradescope.settings({"visibilty": "hidden"})


def test_stage_04_head_case_runs_on_the_zips_weights_alone(tmp_path, monkeypatch):
    """The transfer-head cases load MobileNetV2 the standard way (torchvision's enum): with the
    zip's environment and an empty HOME they find the zip's verified copy, never a download."""
    from cnnkit import features, pretrained

    stage = "04_transfer_learning"
    with zipfile.ZipFile(ROOT / "autograder" / stage / "gradescope.zip") as zf:
        pack = [n for n in zf.namelist() if n.startswith(f"{offline.PACK_DIR}/")]
        zf.extractall(tmp_path, pack)
        head = tmp_path / "transfer_head.pt"
        head.write_bytes(zf.read(f"kit/autograder/{stage}/solution/transfer_head.pt"))
    assert offline.verify(tmp_path / offline.PACK_DIR) == []
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for key, value in offline.environment(tmp_path / offline.PACK_DIR).items():
        monkeypatch.setenv(key, value)
    assert pretrained.checkpoints_dir().is_relative_to(tmp_path / offline.PACK_DIR)
    assert features.head_accuracy(head, n_per_class=2, seed=1) >= 0.5
