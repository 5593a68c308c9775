"""Gradescope with out-of-kernel verdicts: `autograder/<stage>/gradescope.zip` and its entry point.

otter's `autograder.zip` runs the tests inside the student's kernel, where a two-line patch of otter's
runner earns full marks. This zip's `run_autograder` grades with `cnnkit grade` itself (`grade()`):
the notebook runs in the sandbox with the stage-gated library and the limits, the verdicts are decided
in the grader process against the reference solution, and Linux namespaces are used where the
container allows them (the output says when it does not). The zip, unpacked by Gradescope into
`/autograder/source`, holds

    setup.sh, run_autograder      Gradescope's two scripts (setup: once per image; run: per submission)
    gradescope.json               stage, visibility of hidden cases, time limit (from samples.yml)
    requirements.txt              the kit's dependencies, CPU torch, nbclient
    lib/cnnkit/                   the full library, cnnkit.grading included (linked by a .pth)
    kit/autograder/<stage>/       what `cnnkit grade` reads: otter's zip (tests only), the solution
                                  notebook and its artefact (the preflight)
    offline/                      the data the cases load, verified (see cnnkit.grading.offline)

and writes Gradescope's `/autograder/results/results.json`: one test per case with `score`,
`max_score`, `name`, `output` and `visibility` (`visible` for public cases; hidden cases get the
configured `hidden`/`after_due_date`/`after_published` and show only passed/failed, never a message).

The base folder is env CNNKIT_AUTOGRADER_BASE (default /autograder), so the layout can be tried in a
temp dir; CNNKIT_GRADESCOPE_SEED fixes the grading seed (to reproduce a run).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from cnnkit.grading import offline
from cnnkit.grading.contract import DEFAULT_TIMEOUT

CONFIG_NAME = "gradescope.json"
BASE_ENV = "CNNKIT_AUTOGRADER_BASE"
SEED_ENV = "CNNKIT_GRADESCOPE_SEED"
DEFAULT_BASE = "/autograder"
KIT_DIR = "kit"
HIDDEN_VISIBILITIES = ("hidden", "after_due_date", "after_published")
DEFAULTS = {"hidden_visibility": "after_due_date", "timeout": DEFAULT_TIMEOUT}
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# what the grader needs beyond the kit's runtime dependencies (from the instructor extra: the
# notebook runner and the output folder's lock)
GRADER_PACKAGES = ("nbclient", "filelock")

SETUP_SH = r"""#!/usr/bin/env bash
# cnnkit on Gradescope: run once when Gradescope builds the grading image (as root, with network).
# Installs Python and the kit's dependencies (CPU torch), links the library this zip carries and
# verifies the offline data the cases load: grading itself never downloads.
set -euo pipefail
BASE="${CNNKIT_AUTOGRADER_BASE:-/autograder}"
SRC="$BASE/source"
if [ -n "${CNNKIT_SETUP_PYTHON:-}" ]; then
    PY="$CNNKIT_SETUP_PYTHON"  # an interpreter that already has requirements.txt
else
    # the sandbox's tools (unshare, mount, bwrap, ip) where the container lets them work
    if ! python3 -m venv --help >/dev/null 2>&1 || ! command -v unshare >/dev/null \
        || ! command -v bwrap >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y python3 python3-venv python3-pip util-linux iproute2 bubblewrap
    fi
    python3 -m venv "$SRC/venv"
    "$SRC/venv/bin/python" -m pip install --upgrade pip
    "$SRC/venv/bin/python" -m pip install -r "$SRC/requirements.txt"
    PY="$SRC/venv/bin/python"
fi
if [ -f "$SRC/offline/SHA256SUMS" ]; then
    (cd "$SRC/offline" && sha256sum -c --quiet SHA256SUMS)
    chmod -R a+rX "$SRC/offline"
fi
"$PY" - "$SRC/lib" <<'EOF'
import site
import sys
from pathlib import Path

Path(site.getsitepackages()[0], "cnnkit-autograder.pth").write_text(sys.argv[1] + "\n")
EOF
echo "$PY" > "$SRC/python"
"$PY" -c "import cnnkit.grading.gradescope"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# cnnkit on Gradescope: grade /autograder/submission with `cnnkit grade` (verdicts outside the
# student's kernel) and write /autograder/results/results.json.
BASE="${CNNKIT_AUTOGRADER_BASE:-/autograder}"
exec "$(cat "$BASE/source/python")" -m cnnkit.grading.gradescope
"""


# ------------------------------------------------------------------------------------ build --


def settings(spec: dict | None) -> dict:
    """gradescope.json's settings from the `gradescope:` mapping of a stage's samples.yml.

    Inputs:
    - spec: e.g. {"hidden_visibility": "after_published", "timeout": 900} (None: defaults).

    Returns:
    - settings: {"hidden_visibility", "timeout"}; raises ValueError for an unknown key or value.
    """
    spec = dict(spec or {})
    unknown = set(spec) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown gradescope setting(s): {', '.join(sorted(unknown))}")
    out = {**DEFAULTS, **spec}
    if out["hidden_visibility"] not in HIDDEN_VISIBILITIES:
        raise ValueError(
            f"gradescope hidden_visibility must be one of {', '.join(HIDDEN_VISIBILITIES)}, "
            f"not {out['hidden_visibility']!r}"
        )
    out["timeout"] = float(out["timeout"])
    return out


def requirements(pyproject: dict) -> str:
    """requirements.txt of the grading image: the kit's dependencies with its photo extras, CPU torch
    (PyTorch's CPU index) and the grader's nbclient, bounds as pyproject.toml declares them."""
    project = pyproject["project"]
    extras = project.get("optional-dependencies", {})
    grader = [
        d
        for deps in extras.values()
        for d in deps
        if d.split(">")[0].split("=")[0].strip() in GRADER_PACKAGES
    ]
    lines = [
        f"--extra-index-url {CPU_TORCH_INDEX}",
        *project["dependencies"],
        *extras.get("extras", []),
        *grader,
    ]
    return "\n".join(lines) + "\n"


def zip_members(
    stage: str,
    otter_zip: dict[str, bytes],
    solution: dict[str, bytes],
    library: dict[str, bytes],
    pyproject: dict,
    config: dict,
) -> dict[str, bytes]:
    """The members of gradescope.zip (see the module docstring).

    Inputs:
    - stage: the stage name.
    - otter_zip: otter's autograder.zip members (its offline/ pack moves to the top level here).
    - solution: the solution folder's files (notebook and artefacts) by file name.
    - library: lib/cnnkit files by path relative to lib/ ("cnnkit/...").
    - pyproject: the parsed pyproject.toml.
    - config: settings() output.

    Returns:
    - members: {path in the zip: bytes}.
    """
    pack = f"{offline.PACK_DIR}/"
    tests = {n: b for n, b in otter_zip.items() if not n.startswith(pack)}
    kit = f"{KIT_DIR}/autograder/{stage}"
    members = {
        "setup.sh": SETUP_SH.encode(),
        "run_autograder": RUN_AUTOGRADER.encode(),
        CONFIG_NAME: (json.dumps({"stage": stage, **config}, indent=2) + "\n").encode(),
        "requirements.txt": requirements(pyproject).encode(),
        f"{kit}/autograder.zip": _zip_bytes(tests),
        **{f"{kit}/solution/{n}": b for n, b in solution.items()},
        **{f"lib/{n}": b for n, b in library.items()},
        **{n: b for n, b in otter_zip.items() if n.startswith(pack)},
    }
    return members


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    from cnnkit.grading.packaging import write_zip

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.zip"
        write_zip(path, members)
        return path.read_bytes()


# ------------------------------------------------------------------------------ grading side --


def results_json(row: dict | None, cases: list, hidden_visibility: str, note: str = "") -> dict:
    """Gradescope's results.json for one graded submission.

    Inputs:
    - row: the submission's row of `grade()` (GradeResult.rows[0]); None when grading failed.
    - cases: the stage's Case list (load_autograder(...).cases), in order.
    - hidden_visibility: Gradescope visibility of hidden cases.
    - note: text for the top-level output (why the grader could not grade, when row is None).

    Returns:
    - results: {"score", "output", "tests": [{name, score, max_score, status, output, visibility}]}.
    """
    verdicts = (row or {}).get("cases", {})
    tests = []
    for c in cases:
        v = verdicts.get(c.name)
        passed = bool(v and v["passed"])
        if c.hidden:
            output = "hidden test: " + ("passed" if passed else "failed")
        elif passed:
            output = "passed"
        elif v is None:
            output = "failed (not graded)"
        else:
            output = v["message"] or "failed"  # the student's own values, as grader.check shows
        tests.append(
            {
                "name": f"{c.question}: {c.name}",
                "score": float(v["earned"]) if v else 0.0,
                "max_score": float(c.points),
                "status": "passed" if passed else "failed",
                "output": output,
                "visibility": hidden_visibility if c.hidden else "visible",
            }
        )
    return {
        "score": sum(t["score"] for t in tests),
        "output": _summary(row, cases, hidden_visibility, note),
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _summary(row: dict | None, cases: list, hidden_visibility: str, note: str) -> str:
    from cnnkit import __version__

    lines = [
        f"Graded by cnnkit {__version__} (`cnnkit grade`): your notebook ran in a sandboxed kernel "
        "and every verdict was decided outside it, by comparing what your functions returned on the "
        "grader's inputs with the reference solution's."
    ]
    if row is None:
        lines.append(f"The autograder could not grade this submission: {note}")
        return "\n".join(lines)
    isolation = row.get("isolation", "")
    if isolation:
        lines.append(f"Sandbox: {isolation}.")
    if row.get("status") == "Completed" and ("not isolated" in isolation or "off" in isolation):
        lines.append(
            "Note: this container does not allow Linux namespaces, so the notebook ran without "
            "network and filesystem isolation (time and memory limits still applied)."
        )
    if row.get("status") != "Completed":
        lines.append(f"Not graded: {row.get('reason', '')}")
    elif row.get("reason"):
        lines.append(row["reason"])
    hidden = [c for c in cases if c.hidden]
    if hidden:
        when = {
            "hidden": "never shown here",
            "after_due_date": "shown after the due date",
            "after_published": "shown once grades are published",
        }.get(hidden_visibility, "hidden for now")
        lines.append(
            f"{len(hidden)} hidden test(s) worth {sum(c.points for c in hidden):g} points: {when}."
        )
    return "\n".join(lines)


def _submission(folder: Path) -> Path:
    """What to grade in Gradescope's submission folder: an otter export zip uploaded alone, else the
    folder (the notebook and its artefact files)."""
    files = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
    zips = [p for p in files if p.suffix == ".zip"]
    if len(zips) == 1 and not any(p.suffix == ".ipynb" for p in files):
        return zips[0]
    return folder


def run(base: Path) -> int:
    """Grade base/submission as configured in base/source and write base/results/results.json.

    Inputs:
    - base: Gradescope's folder (/autograder): source/ (this zip), submission/, results/.

    Returns:
    - status: 0 when graded, 1 when the autograder itself failed (results.json says why, score 0).
    """
    from cnnkit.grading.grade import grade, load_autograder

    start = time.monotonic()
    source, results = base / "source", base / "results"
    results.mkdir(parents=True, exist_ok=True)
    config, cases = dict(DEFAULTS), []
    row, note, status = None, "", 0
    try:
        stored = json.loads((source / CONFIG_NAME).read_text())
        config.update(stored, **settings({k: stored[k] for k in DEFAULTS if k in stored}))
        cases = load_autograder(config["stage"], source / KIT_DIR).cases
        pack = source / offline.PACK_DIR
        problems = offline.verify(pack)
        if problems:
            raise RuntimeError("the autograder's offline data is damaged: " + "; ".join(problems))
        os.environ.update(offline.environment(pack))
        seed = os.environ.get(SEED_ENV)
        with tempfile.TemporaryDirectory(prefix="cnnkit-gradescope-") as tmp:
            result = grade(
                config["stage"],
                [_submission(base / "submission")],
                out=Path(tmp) / "grades",
                workers=1,
                timeout=float(config["timeout"]),
                root=source / KIT_DIR,
                progress=False,
                seed=int(seed) if seed else None,
            )
        row = result.rows[0] if result.rows else None
        if row is None:  # the student's fault, not the autograder's
            note = "no notebook was found in the submission"
    except Exception as err:  # noqa: BLE001 - whatever broke, Gradescope gets a results.json saying so
        note, status = f"{type(err).__name__}: {err}", 1
        print(f"cnnkit gradescope: {note}", file=sys.stderr)
    payload = results_json(row, cases, config["hidden_visibility"], note)
    payload["execution_time"] = round(time.monotonic() - start, 1)
    tmp_file = results / "results.json.tmp"
    tmp_file.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp_file, results / "results.json")
    return status


def main() -> int:
    return run(Path(os.environ.get(BASE_ENV) or DEFAULT_BASE))


if __name__ == "__main__":
    sys.exit(main())
