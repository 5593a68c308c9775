"""Timing helpers: only ratios of deliberately different costs are asserted, never absolute times."""

import time

import pytest

from cnnkit.timing import compare, time_fn


def test_time_fn_takes_best_and_divides_by_number():
    calls = []
    fn = lambda: calls.append(1)
    t = time_fn(fn, repeat=3, number=4, warmup=2)
    assert len(calls) == 2 + 3 * 4
    assert t >= 0.0
    slow = time_fn(lambda: time.sleep(0.02), repeat=2)
    fast = time_fn(lambda: None, repeat=2)
    assert slow > 2 * fast


def test_compare_ratios_reflect_cost():
    res = compare(
        {"fast": lambda: None, "slow": lambda: time.sleep(0.02)}, baseline="fast", repeat=3
    )
    assert set(res) == {"fast", "slow"}
    assert res["fast"]["ratio"] == 1.0
    assert res["slow"]["ratio"] > 2
    assert res["slow"]["ratio"] == pytest.approx(res["slow"]["seconds"] / res["fast"]["seconds"])


def test_compare_with_slow_baseline_gives_ratio_below_one(capsys):
    res = compare(
        {"sleep": lambda: time.sleep(0.02), "noop": lambda: None},
        baseline="sleep",
        repeat=2,
        verbose=True,
    )
    assert res["noop"]["ratio"] < 0.5
    out = capsys.readouterr().out
    assert "sleep" in out and "noop" in out


def test_compare_rejects_unknown_baseline_and_bad_repeat():
    with pytest.raises(KeyError):
        compare({"a": lambda: None}, baseline="b")
    with pytest.raises(ValueError):
        time_fn(lambda: None, repeat=0)
