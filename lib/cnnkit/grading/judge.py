"""Verdicts, decided in the grader: a case passes iff it raised nothing, its student code called
nothing of torch or scipy's convolutions in a numpy-only stage (the probe's "forbidden", see
cnnkit/numpy_only.py) and every record it made matches the reference run's (`cnnkit.checks.match`);
points per question follow.
"""

from __future__ import annotations

from cnnkit.grading.autograder import Autograder, Case


def judge(cases: list[Case], reference: dict, got: dict, artifacts: dict) -> dict[str, dict]:
    """Per-case verdicts, decided here (never in the kernel).

    Inputs:
    - cases: the stage's cases (autograder.Case), in order.
    - reference: the reference run's records of the kernel cases (runs.reference_run).
    - got: the kernel cases' records {case: {"error", "records"}} (records.load_records).
    - artifacts: the artifact cases' records, likewise.

    Returns:
    - verdicts: {case: {question, points, earned, passed, hidden, message}}.
    """
    from cnnkit.checks import match
    from cnnkit.numpy_only import message as numpy_only_message

    verdicts = {}
    for c in cases:
        entry = (artifacts if c.artifact else got).get(c.name)
        message = ""
        if entry is None:
            passed, message = False, "not run (the notebook did not reach the grader's probe)"
        elif entry.get("forbidden"):
            passed, message = False, numpy_only_message(entry["forbidden"])
        elif entry["error"]:
            passed, message = False, entry["error"].splitlines()[0][:300]
        elif c.artifact:
            passed = True
        else:
            ref = reference[c.name]["records"]
            recs = entry["records"]
            problems = [match(r, g) for r, g in zip(ref, recs, strict=False)]
            problems = [p for p in problems if p]
            if len(recs) != len(ref):
                problems.append(f"{len(recs)} checks recorded, {len(ref)} expected")
            passed = not problems
            message = "; ".join(problems)[:300]
        verdicts[c.name] = {
            "question": c.question,
            "points": c.points,
            "earned": c.points if passed else 0.0,
            "passed": passed,
            "hidden": c.hidden,
            "message": "" if passed else message,
        }
    return verdicts


def scores(ag: Autograder, row: dict) -> dict[str, float]:
    """Points per question of a row's verdicts (every question of the stage, 0 when none ran)."""
    scores = dict.fromkeys(ag.questions, 0.0)
    for v in row["cases"].values():
        scores[v["question"]] += v["earned"]
    return scores
