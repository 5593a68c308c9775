"""The probe: runs a stage's test functions and writes what `cnnkit.checks` recorded as plain data.

`probe_cell(spec)` is the code of the final cell appended to a notebook under `cnnkit grade`: it calls
every test function that takes parameters with the notebook's globals ("record" mode in a student's
kernel, "reference" mode for the solution) and writes `records.json` plus one `.npy` per array
(allow_pickle=False) into `spec["out"]`. The test functions are compiled from the autograder's test
files (not from the notebook), and `cnnkit.checks` is re-created from the grader's copy of its source
right before each case, so a notebook that redefines tests or monkeypatches `checks` changes nothing.
Artifact cases (no parameters) run outside the kernel: `python -m cnnkit.grading.probe SPEC.json` in a
copy of the submission's files.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path


def run_probe(nb_globals, spec):  # noqa: C901 - one self-contained function: its source is the cell
    """Run the cases in `spec` and write their records (executed inside the kernel; stdlib + numpy).

    Inputs:
    - nb_globals: dict of the notebook's globals (parameters are looked up here by name).
    - spec: dict with mode, seed, out (directory), tests (list of {name, source, params}),
      checks_source (text of cnnkit/checks.py), case_timeout (seconds).

    Returns:
    - None; writes out/records.json: {case: {"error": str | None, "records": [...]}}.
    """
    import builtins
    import json
    import os
    import signal
    import sys
    import traceback
    import types

    import numpy

    out = spec["out"]
    os.makedirs(out, exist_ok=True)
    checks = types.ModuleType("cnnkit.checks")
    results = {}

    def on_alarm(signum, frame):
        raise TimeoutError(f"the case ran past {spec['case_timeout']} s")

    def plain(value, stem):
        if isinstance(value, numpy.ndarray):
            fname = stem + ".npy"
            numpy.save(os.path.join(out, fname), value, allow_pickle=False)
            return {"npy": fname}
        return {"value": value}

    def save():
        with open(os.path.join(out, "records.json"), "w") as f:
            json.dump(results, f)

    for i, test in enumerate(spec["tests"]):
        exec(compile(spec["checks_source"], "cnnkit/checks.py", "exec"), checks.__dict__)
        sys.modules["cnnkit.checks"] = checks
        if "cnnkit" in sys.modules:
            sys.modules["cnnkit"].checks = checks
        entry = {"error": None, "records": []}
        try:
            g = dict(nb_globals)
            g.update(__builtins__=builtins, np=numpy, numpy=numpy, __name__="__cnnkit_tests__")
            exec(compile(test["source"], f"<test {test['name']}>", "exec"), g)
            fn = g[test["name"]]
            missing = [p for p in test["params"] if p not in nb_globals]
            if missing:
                raise NameError(f"{', '.join(missing)} is not defined in your notebook")
            args = {p: nb_globals[p] for p in test["params"]}
            checks._begin(test["name"], spec["mode"], spec["seed"])
            old = signal.signal(signal.SIGALRM, on_alarm)
            signal.alarm(int(spec["case_timeout"]))
            try:
                fn(**args)
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, old)
        except BaseException as err:  # noqa: BLE001 - a student's SystemExit is a failed case too
            text = f"{type(err).__name__}: {err}"
            if spec["mode"] == "reference":
                text += "\n" + "".join(traceback.format_exception(err)[-3:])
            entry["error"] = text[:2000]
        try:
            for j, rec in enumerate(checks._records()):
                entry["records"].append(
                    {
                        "name": rec["name"],
                        "kind": rec["kind"],
                        "rtol": float(rec["rtol"]),
                        "atol": float(rec["atol"]),
                        "msg": rec.get("msg"),
                        **plain(rec["value"], f"{i}_{j}"),
                    }
                )
        except BaseException as err:  # noqa: BLE001
            entry["error"] = entry["error"] or f"{type(err).__name__}: {err}"[:2000]
        checks._end()
        results[test["name"]] = entry
        save()
    save()


def probe_cell(spec: dict) -> str:
    """The source of the probe cell for a kernel.

    Inputs:
    - spec: as in run_probe.

    Returns:
    - source: Python code that calls run_probe with the notebook's globals and this spec.
    """
    src = inspect.getsource(run_probe)
    return (
        f"{src}\n"
        f"run_probe(globals(), __import__('json').loads({json.dumps(json.dumps(spec))}))\n"
        "del run_probe\n"
    )


def load_records(out: Path, max_bytes: int = 256 * 1024**2) -> dict:
    """Read a probe's records back in the grader, refusing anything that is not plain data.

    Inputs:
    - out: the probe's output directory.
    - max_bytes: refuse .npy files larger than this.

    Returns:
    - results: {case: {"error": str | None, "records": [{name, kind, rtol, atol, value}]}}; a case
      whose records are malformed gets an error instead.
    """
    import numpy as np

    path = Path(out) / "records.json"
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    results = {}
    for case, entry in raw.items() if isinstance(raw, dict) else []:
        try:
            error = entry.get("error")
            recs = []
            for rec in entry["records"]:
                value = rec.get("value")
                if "npy" in rec:
                    f = Path(out) / Path(str(rec["npy"])).name
                    if f.stat().st_size > max_bytes:
                        raise ValueError("recorded array too large")
                    value = np.load(f, allow_pickle=False)
                elif value is not None and not isinstance(value, (bool, int, float, str)):
                    raise ValueError("recorded value is not plain data")
                recs.append(
                    {
                        "name": str(rec["name"]),
                        "kind": str(rec["kind"]),
                        "rtol": float(rec["rtol"]),
                        "atol": float(rec["atol"]),
                        "msg": None if rec.get("msg") is None else str(rec["msg"])[:300],
                        "value": value,
                    }
                )
            results[str(case)] = {"error": None if error is None else str(error), "records": recs}
        except (KeyError, TypeError, ValueError, OSError, AttributeError) as err:
            results[str(case)] = {"error": f"unreadable records ({err})", "records": []}
    return results


def _main(spec_path: str) -> int:
    """Artifact cases: run in the grader's own (non-kernel) process, cwd = the submission's files."""
    import resource

    spec = json.loads(Path(spec_path).read_text())
    limit = spec.get("memory_bytes")
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    run_probe({}, spec)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
