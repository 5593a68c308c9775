"""cnnkit.checks: the three modes, seeding, messages that never show the expected value."""

import numpy as np
import pytest
import torch

from cnnkit import checks


@pytest.fixture(autouse=True)
def _reset():
    checks._end()
    yield
    checks._end()


def test_rng_is_fixed_per_test_name_in_check_mode():
    def test_draw():
        r = checks.rng()
        return r.normal(size=4), checks.rng().normal(size=4)

    a1, b1 = test_draw()
    a2, b2 = test_draw()
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(a1, b1)  # a second call in the same case is a new stream


def test_rng_same_stream_for_record_and_reference_and_differs_by_seed():
    draws = {}
    for mode, seed in [("record", 11), ("reference", 11), ("record", 12), ("check", None)]:
        checks._begin("test_x", mode, seed)
        draws[(mode, seed)] = checks.rng().normal(size=5)
    np.testing.assert_array_equal(draws[("record", 11)], draws[("reference", 11)])
    assert not np.array_equal(draws[("record", 11)], draws[("record", 12)])
    assert not np.array_equal(draws[("record", 11)], draws[("check", None)])


def test_shared_rng_is_one_stream_per_label_and_run_seed_across_tests():
    def draw(test, label, seed):
        checks._begin(test, "record", seed)
        return checks.shared_rng(label).integers(2**31, size=3)

    a = draw("test_at_least_70", "q6 images", 11)
    np.testing.assert_array_equal(a, draw("test_at_least_90", "q6 images", 11))
    assert not np.array_equal(a, draw("test_at_least_70", "q6 images", 12))
    assert not np.array_equal(a, draw("test_at_least_70", "q5 images", 11))
    checks._begin("test_at_least_70", "record", 11)
    assert not np.array_equal(a, checks.rng().integers(2**31, size=3))  # not the test's own stream


def test_check_mode_passes_and_fails_without_printing_expected():
    secret = np.array([0.123456789, 9.87654321])
    checks.close("dx", secret * (1 + 1e-9), lambda: secret)
    with pytest.raises(AssertionError) as err:
        checks.close("dx", secret * 1.5, lambda: secret)
    text = str(err.value)
    assert "dx" in text and "relative error" in text
    assert "0.123" not in text and "9.87" not in text
    with pytest.raises(AssertionError, match="shape"):
        checks.close("dx", np.ones(3), np.ones(2))  # allclose would broadcast; close must not
    with pytest.raises(AssertionError, match="nan"):
        checks.close("dx", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    checks.equal("shape", torch.zeros(2, 3).shape, (2, 3))
    with pytest.raises(AssertionError) as err:
        checks.equal("n", 5, lambda: 7)
    assert "7" not in str(err.value)
    checks.true("pos", np.all(secret > 0), "must be positive")
    with pytest.raises(AssertionError, match="must be positive"):
        checks.true("pos", False, "must be positive")
    with pytest.raises(AssertionError, match="my msg"):
        checks.close("dx", 1.0, 2.0, msg="my msg")


def test_record_mode_never_evaluates_expected_and_converts_values():
    checks._begin("test_r", "record", 3)

    def boom():
        raise RuntimeError("reference is not available in the student kernel")

    checks.close("a", torch.ones(2, requires_grad=True) * 2, boom)
    checks.close("b", np.float32(1.5), boom)
    checks.equal("c", (2, 3), boom)
    checks.equal("d", "relu", boom)
    checks.true("e", np.bool_(False), "msg")
    recs = checks._records()
    assert [r["name"] for r in recs] == ["a", "b", "c", "d", "e"]
    assert isinstance(recs[0]["value"], np.ndarray) and recs[0]["value"].tolist() == [2.0, 2.0]
    assert recs[1]["value"] == 1.5 and isinstance(recs[1]["value"], float)
    assert recs[2]["value"].tolist() == [2, 3]
    assert recs[3]["value"] == "relu"
    assert recs[4]["value"] is False
    assert recs[0]["rtol"] == 1e-7
    for bad in (object(), np.array([object()]), {"a": 1}, [1, "x", object()]):
        with pytest.raises(checks.NonNumericValue, match="non-numeric"):
            checks.equal("f", bad, None)


def test_reference_mode_checks_and_records_got():
    checks._begin("test_ref", "reference", 1)
    checks.close("a", np.array([1.0, 2.0]), lambda: np.array([1.0, 2.0]), rtol=1e-5, atol=1e-8)
    checks.true("p", True, "m")
    recs = checks._records()
    assert recs[0]["rtol"] == 1e-5 and recs[0]["atol"] == 1e-8
    assert recs[1]["value"] is True
    with pytest.raises(AssertionError):
        checks.close("b", 1.0, 3.0)


def test_match_judges_student_records_against_reference():
    ref = {"name": "a", "kind": "close", "value": np.array([1.0, 2.0]), "rtol": 1e-5, "atol": 0.0}
    ok = dict(ref, value=np.array([1.0, 2.0 * (1 + 1e-7)]))
    assert checks.match(ref, ok) is None
    assert "relative error" in checks.match(ref, dict(ref, value=np.array([1.0, 2.1])))
    assert checks.match(ref, dict(ref, value=np.array([1.0, 2.0, 3.0]))) is not None
    assert (
        checks.match(ref, dict(ref, value=np.array([1.0, 2.0])[None])) is not None
    )  # no broadcast
    assert checks.match(ref, dict(ref, name="b")) is not None
    assert checks.match(ref, dict(ref, value="1.0")) is not None
    t = {"name": "p", "kind": "true", "value": True, "rtol": 0, "atol": 0}
    assert checks.match(t, dict(t, value=False)) is not None
    assert checks.match(t, dict(t, value=1)) is not None
    e = {"name": "s", "kind": "equal", "value": np.array([2, 3]), "rtol": 0, "atol": 0}
    assert checks.match(e, dict(e, value=np.array([2, 3]))) is None
    assert checks.match(e, dict(e, value=np.array([3, 2]))) is not None
    e2 = {"name": "k", "kind": "equal", "value": "relu", "rtol": 0, "atol": 0}
    assert checks.match(e2, dict(e2, value="relu")) is None
    assert (
        checks.match(e2, dict(e2, value="sigmoid"))
        == "k: your value 'sigmoid' is not the expected one"
    )
    t2 = dict(t, msg="must be positive")
    assert checks.match(t2, dict(t2, value=False)) == "p: must be positive"


def _case(mode, db, err):
    """A public numeric-gradient case as the notebooks write it, run in `mode` on given values."""
    checks._begin("test_affine_public", mode, None)
    try:
        checks.equal("db shape", np.shape(db), (5,))
        checks.close("db", db, lambda: np.arange(5.0), rtol=1e-7, msg=None)
        checks.true("db matches numeric", err < 1e-7, f"db: relative error {err:.1e} vs numeric")
        checks.equal("n", 3, 3, msg="the lecture says 3")
        return None
    except checks.CheckFailed as fail:
        return str(fail)
    finally:
        recs = checks._records()
        checks._end()
        _case.records = recs


def test_grader_messages_are_the_ones_grader_check_shows():
    # the reference (the solution's values) and a student whose db was summed over the wrong axis
    _case("reference", np.arange(5.0), 3e-12)
    ref = _case.records
    student = np.arange(4.0)
    shown = _case("check", student, float("inf"))  # what grader.check prints: the first failure
    _case("record", student, float("inf"))
    got = _case.records
    problems = [checks.match(r, g) for r, g in zip(ref, got, strict=True)]
    assert problems[0] == shown == "db shape: your value (4,) is not the expected one"
    assert problems[1].startswith("db: shape (4,) is wrong (expected shape (5,))")
    # the student's own error, not the reference's 3.0e-12
    assert problems[2] == "db matches numeric: db: relative error inf vs numeric"
    assert problems[3] is None
    # a failing check whose author gave a message: grader.check and the grader both show it
    checks._begin("t", "record", None)
    checks.equal("n", 4, 3, msg="the lecture says 3")
    rec = checks._records()[0]
    checks._end()
    with pytest.raises(checks.CheckFailed, match="^n: the lecture says 3$"):
        checks.equal("n", 4, 3, msg="the lecture says 3")
    assert checks.match({**rec, "value": 3}, rec) == "n: the lecture says 3"


def test_at_least_is_a_named_true_check():
    checks.at_least("held-out accuracy", 0.85, 0.8)  # passes
    with pytest.raises(checks.CheckFailed, match=r"held-out accuracy 0\.790 is below 0\.80"):
        checks.at_least("held-out accuracy", 0.79, 0.8)
    checks._begin("test_band", "record", seed=1)
    try:
        checks.at_least("test accuracy", 0.69, 0.7)
        checks.at_least("test accuracy", 0.71, 0.72, msg="below 0.72")
        got = [(r["name"], r["kind"], r["value"]) for r in checks._records()]
    finally:
        checks._end()
    assert got == [("test accuracy >= 70%", "true", False), ("test accuracy >= 72%", "true", False)]
