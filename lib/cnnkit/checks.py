"""Helpers that the notebooks' test cells use: one case format for `grader.check` and `cnnkit grade`.

A test cell defines one function `test_<what>(<names from the notebook>)` whose body draws its inputs
from `rng()` and states what must hold with `close`, `equal` and `true`. The same function runs in
three modes:

- "check" (default; `grader.check`, `otter run`, Gradescope): `expected` is evaluated (a value or a
  zero-argument callable) and compared; a mismatch raises `AssertionError` with a message that names the
  quantity and the size of the error but never prints the expected value.
- "record" (the student's kernel under `cnnkit grade`): nothing is compared and `expected` is never
  evaluated; `got` is recorded as plain data for the grader to judge outside the kernel.
- "reference" (the grader's run of the solution): evaluate and check as in "check", and record `got`
  with its tolerance as the value a student's record must match.

The mode, grading seed and current test name are set by the grader's probe through `_begin`; under
"check" mode the inputs are seeded from the test name alone, so `grader.check` is reproducible.
This module ships to students and holds no answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import math
from typing import Any

import numpy as np

__all__ = [
    "CheckFailed",
    "NonNumericValue",
    "at_least",
    "close",
    "equal",
    "numpy_only",
    "rng",
    "true",
]

MODES = ("check", "record", "reference")


class CheckFailed(AssertionError):
    """A check in a test case did not hold."""


class NonNumericValue(TypeError):
    """A recorded value was not plain data (numbers, bools, strings, lists, arrays, tensors)."""


_state: dict[str, Any] = {
    "mode": "check",
    "seed": None,
    "test": None,
    "records": [],
    "rng_calls": 0,
    "frame_key": None,
    "guard": None,
}


def _begin(test_name: str, mode: str = "check", seed: int | None = None) -> None:
    """Start a test case: set the mode, the grading seed and the name `rng()` is seeded from.

    Inputs:
    - test_name: the test function's name, e.g. "test_affine_forward_hidden".
    - mode: one of "check", "record", "reference".
    - seed: the grading run's seed (an int); None keeps the fixed per-name seed of "check" mode.

    Returns:
    - None. Records of the previous case are dropped.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if _state.get("guard") is not None:
        _state["guard"].stop()
    _state.update(mode=mode, seed=seed, test=test_name, records=[], rng_calls=0, frame_key=None)
    _state["guard"] = None


def _records() -> list[dict]:
    """The records of the current case, in call order.

    Returns:
    - records: list of dicts with keys name, kind ("close", "equal", "true"), value (plain data: None,
      bool, int, float, str or a numpy array of a non-object dtype), rtol, atol.
    """
    return list(_state["records"])


def _end() -> None:
    """Back to the default: "check" mode, no grading seed, no current test."""
    _begin("", "check", None)
    _state["test"] = None


def mode() -> str:
    """The current mode: "check", "record" or "reference"."""
    return _state["mode"]


def _calling_test() -> tuple[str, Any]:
    """Name and frame of the nearest `test_*` function on the stack (for "check" mode).

    The frame itself is kept (not its id): a finished frame's id is reused by the next call.
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            name = frame.f_code.co_name
            if name.startswith("test_"):
                return name, frame
            frame = frame.f_back
        return "<no test>", None
    finally:
        del frame


def _seed_for(test: str, seed: int | None, call: int) -> int:
    text = f"cnnkit-checks|{'fixed' if seed is None else int(seed)}|{test}|{call}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def rng() -> np.random.Generator:
    """A numpy Generator for a test case's inputs.

    Under `grader.check` it is seeded from the test function's name (the same inputs every run); under
    `cnnkit grade` from the grading run's seed and the test name, so the student's kernel and the
    grader's reference run draw the same inputs. Each further call in the same case gives a new stream.

    Returns:
    - gen: a numpy.random.Generator.
    """
    test = _state["test"]
    if test is None:
        test, key = _calling_test()
        if key is not _state["frame_key"]:
            _state.update(frame_key=key, rng_calls=0)
    call = _state["rng_calls"]
    _state["rng_calls"] = call + 1
    return np.random.default_rng(_seed_for(test, _state["seed"], call))


def shared_rng(label: str) -> np.random.Generator:
    """A numpy Generator that every case passing the same `label` gets, seeded as `rng()` is but from
    the label instead of the test name: cases that grade one artifact at several thresholds draw one
    held-out set, which the grader then computes once (cnnkit.heldout keeps the result). Seeded as
    `rng()` is, public cases from the label alone and hidden ones from the run's seed too: a public
    and a hidden case with one label draw differently under `cnnkit grade`.

    Inputs:
    - label: names the draw, e.g. "q6 held-out images".

    Returns:
    - gen: a numpy.random.Generator (a new one, at the start of the same stream, on every call).
    """
    return np.random.default_rng(_seed_for(f"shared|{label}", _state["seed"], 0))


def _plain(value: Any) -> Any:
    """Convert a recorded value to plain data, or raise NonNumericValue."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) if isinstance(value, int) else float(value)
    if isinstance(value, np.generic):
        if value.dtype.kind in "biuf":
            return value.item()
        if value.dtype.kind == "c":
            return np.asarray(value)
    if type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, complex):
        return np.asarray(value)
    if isinstance(value, (np.ndarray, list, tuple)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as err:
            raise NonNumericValue(f"returned a non-numeric value ({type(value).__name__})") from err
        if arr.dtype.kind not in "biufcUS":
            raise NonNumericValue(f"returned a non-numeric value (array of {arr.dtype})")
        return np.array(arr, copy=True)  # a plain ndarray, never a subclass
    raise NonNumericValue(f"returned a non-numeric value ({type(value).__name__})")


def numpy_only() -> None:
    """Start the numpy-only rule for the calling test (stages 01-02: the build makes it each test's
    first line).

    Under `grader.check`, from here to the end of the calling test, a call that your code makes into
    torch or scipy's signal/ndimage functions makes the test's next check fail with a message that
    says so (`cnnkit grade` gives such a case 0 points). Under `cnnkit grade` it does nothing: the
    grader's probe watches each case itself.

    Returns:
    - None.
    """
    if _state["mode"] != "check":
        return
    from cnnkit.numpy_only import Guard

    caller = inspect.currentframe().f_back
    if _state.get("guard") is not None:
        _state["guard"].stop()
    test_files = {caller.f_code.co_filename} if caller is not None else set()
    _state["guard"] = Guard(test_files, until=caller).start()


def _numpy_only_check() -> None:
    """Under `grader.check`: fail if the student's code called torch/scipy since `numpy_only()`."""
    guard = _state.get("guard")  # only while its test runs: a later test is not failed by it
    if guard is not None and guard.running and guard.found and _state["mode"] == "check":
        from cnnkit.numpy_only import message

        raise CheckFailed(message(guard.found))


def _record(
    name: str, kind: str, got: Any, rtol: float = 0.0, atol: float = 0.0, msg: str | None = None
) -> None:
    rec = {"name": str(name), "kind": kind, "value": _plain(got), "rtol": rtol, "atol": atol}
    rec["msg"] = None if msg is None else str(msg)
    rec["tuple"] = isinstance(got, tuple)  # a shape: its message shows (4,), not [4]
    _state["records"].append(rec)


def _expected(expected: Any) -> Any:
    return expected() if callable(expected) else expected


def _magnitude(x: np.ndarray) -> str:
    """Order of magnitude of an array, e.g. '1e-02', without revealing its values."""
    m = float(np.max(np.abs(x))) if x.size else 0.0
    if not np.isfinite(m) or m == 0.0:
        return "0" if m == 0.0 else "non-finite"
    return f"1e{math.floor(math.log10(m)):+03d}"


def _text(name: str, text: str, msg: str | None) -> str:
    return f"{name}: {msg}" if msg else f"{name}: {text}"


def _fail(name: str, text: str, msg: str | None) -> None:
    raise CheckFailed(_text(name, text, msg))


def _shown(value: Any) -> str:
    """A value as a failure message shows it: shapes as tuples of ints, arrays as lists, cut at 80."""
    if isinstance(value, tuple):
        with contextlib.suppress(TypeError, ValueError):
            value = tuple(int(v) for v in value)  # numpy's int64 dims, torch.Size
    elif isinstance(value, (np.ndarray, np.generic)):
        value = value.tolist()
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _close_problem(name, got, exp, rtol, atol, msg) -> str | None:
    """What is wrong with `got` against `exp` (np.allclose), or None: `close`'s failure message.

    The one text for both `grader.check` (in the kernel) and `match` (in the grader), so a student
    reads the same message in both.
    """
    try:
        g = np.asarray(got, dtype=np.float64) if not np.iscomplexobj(got) else np.asarray(got)
    except (TypeError, ValueError):
        return _text(name, f"expected a number or an array, got {type(got).__name__}", msg)
    e = np.asarray(exp)
    if g.shape != e.shape:
        return _text(name, f"shape {g.shape} is wrong (expected shape {e.shape})", msg)
    if not np.all(np.isfinite(g)):
        return _text(name, "contains nan or inf", msg)
    if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=False):
        diff = float(np.max(np.abs(g - e))) if g.size else 0.0
        scale = float(np.max(np.abs(e))) if e.size else 0.0
        rel = diff / max(scale, 1e-300)
        return _text(
            name,
            f"relative error {rel:.2e} is above the tolerance (rtol={rtol:g}, atol={atol:g}); "
            f"expected magnitude {_magnitude(e)}, yours {_magnitude(g)}",
            msg,
        )
    return None


def _check_close(name, got, exp, rtol, atol, msg) -> None:
    problem = _close_problem(name, got, exp, rtol, atol, msg)
    if problem:
        raise CheckFailed(problem)


def _wrong_value(name: str, got: Any, msg: str | None) -> str:
    """`equal`'s failure message (shared by `grader.check` and `match`)."""
    return _text(name, f"your value {_shown(got)} is not the expected one", msg)


def _equal_values(got: Any, exp: Any) -> bool:
    if isinstance(got, (np.ndarray, list, tuple)) or isinstance(exp, (np.ndarray, list, tuple)):
        try:
            g, e = np.asarray(got), np.asarray(exp)
        except (TypeError, ValueError):
            return False
        return g.shape == e.shape and bool(np.array_equal(g, e))
    if isinstance(got, bool) or isinstance(exp, bool):
        return (
            isinstance(got, (bool, np.bool_)) and isinstance(exp, (bool, np.bool_)) and got == exp
        )
    try:
        return bool(got == exp)
    except Exception:  # noqa: BLE001 - a student's object with a broken __eq__ is just unequal
        return False


def close(
    name: str,
    got: Any,
    expected: Any,
    rtol: float = 1e-7,
    atol: float = 0.0,
    msg: str | None = None,
) -> None:
    """Check that a number or array is close to the expected one (same shape, np.allclose).

    Inputs:
    - name: the quantity, e.g. "dx"; unique within a test case.
    - got: the student's value (number, array, list, torch tensor).
    - expected: the value, or a zero-argument callable returning it (evaluated only when checking).
    - rtol, atol: tolerances as in np.allclose.
    - msg: optional failure message replacing the default one (hidden cases: keep it short).

    Returns:
    - None; raises CheckFailed (an AssertionError) when checking and the values differ.
    """
    m = _state["mode"]
    if m == "record":
        _record(name, "close", got, rtol, atol, msg=msg)
        return
    _numpy_only_check()
    _check_close(name, got, _expected(expected), rtol, atol, msg)
    if m == "reference":
        _record(name, "close", got, rtol, atol)


def equal(name: str, got: Any, expected: Any, msg: str | None = None) -> None:
    """Check that a value equals the expected one exactly (ints, bools, strings, shapes, int arrays).

    Inputs:
    - name: the quantity, unique within a test case.
    - got: the student's value.
    - expected: the value, or a zero-argument callable returning it.
    - msg: optional failure message replacing the default one.

    Returns:
    - None; raises CheckFailed when checking and the values differ.
    """
    m = _state["mode"]
    if m == "record":
        _record(name, "equal", got, msg=msg)
        return
    _numpy_only_check()
    exp = _expected(expected)
    if isinstance(got, tuple) or isinstance(exp, tuple):
        # shapes: compare as tuples of ints so (2, 3) equals torch.Size([2, 3]) and np's int64 dims
        try:
            got_t, exp_t = tuple(int(v) for v in got), tuple(int(v) for v in exp)
        except (TypeError, ValueError):
            got_t, exp_t = got, exp
        ok = got_t == exp_t
    else:
        ok = _equal_values(got, exp)
    if not ok:
        raise CheckFailed(_wrong_value(name, got, msg))
    if m == "reference":
        _record(name, "equal", got)


def true(name: str, cond: Any, msg: str) -> None:
    """Check a boolean property (recorded as a value under `cnnkit grade`; the reference gives True).

    Inputs:
    - name: the property, unique within a test case.
    - cond: the condition's value.
    - msg: what is wrong when it does not hold.

    Returns:
    - None; raises CheckFailed when checking and `cond` is false.
    """
    m = _state["mode"]
    value = bool(cond) if isinstance(cond, (bool, np.bool_)) else cond
    if m == "record":
        _record(name, "true", value, msg=msg)
        return
    _numpy_only_check()
    if value is not True:
        _fail(name, msg, None)
    if m == "reference":
        _record(name, "true", True, msg=msg)


def at_least(name: str, value: float, bound: float, msg: str | None = None) -> None:
    """Check a score band, such as a held-out accuracy and its threshold (a `true` check named
    "<name> >= <bound as a percentage>").

    Inputs:
    - name: the score, e.g. "held-out accuracy".
    - value: the submission's score.
    - bound: the lowest passing score, e.g. 0.8.
    - msg: what is wrong when it is below (default: "<name> <value> is below <bound>").

    Returns:
    - None; raises CheckFailed when checking and value < bound.
    """
    if msg is None:
        msg = f"{name} {value:.3f} is below {bound:.2f}"
    true(f"{name} >= {bound:.0%}", value >= bound, msg)


def match(ref: dict, got: dict) -> str | None:
    """Compare one student record with the reference record (used by the grader, outside the kernel).

    Inputs:
    - ref: a reference record (dict with name, kind, value, rtol, atol).
    - got: the student's record for the same position (its msg, made in the student's kernel from
      the student's values, is the message `grader.check` shows).

    Returns:
    - None when the student's value matches, else the message `grader.check` gives for it.
    """
    name = ref["name"]
    if got.get("name") != name:
        return f"{name}: missing (found {got.get('name')!r})"
    r, g = ref["value"], got["value"]
    msg = got.get("msg") if isinstance(got.get("msg"), str) else None
    if ref["kind"] == "close":
        if np.asarray(g).dtype.kind not in "biufc":
            return _text(name, f"expected a number or an array, got {type(g).__name__}", msg)
        try:
            return _close_problem(name, g, r, ref["rtol"], ref["atol"], msg)
        except (TypeError, ValueError):
            return f"{name}: wrong type"
    if ref["kind"] == "true":
        return None if g is True else _text(name, msg or ref.get("msg") or "does not hold", None)
    shown = (
        tuple(g.tolist()) if got.get("tuple") and isinstance(g, np.ndarray) and g.ndim == 1 else g
    )
    wrong = _wrong_value(name, shown, msg)
    if isinstance(r, np.ndarray) or isinstance(g, np.ndarray):
        ok = isinstance(r, np.ndarray) and isinstance(g, np.ndarray) and _equal_values(g, r)
        return None if ok else wrong
    if isinstance(r, bool) or isinstance(g, bool):
        return None if (type(r) is type(g) and r == g) else wrong
    return None if (type(r) is type(g) and r == g) or _int_eq(r, g) else wrong


def _int_eq(r: Any, g: Any) -> bool:
    return isinstance(r, (int, float)) and isinstance(g, (int, float)) and r == g
