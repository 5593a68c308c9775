"""The late policy at its boundaries, submission times from a CSV and from otter's export zips."""

import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from cnnkit.grading import late
from cnnkit.grading.late import LatePolicy, LatePolicyError

DEADLINE = datetime(2026, 10, 1, 23, 59, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
GRACE = timedelta(minutes=15)


def _policy(**kw):
    data = {"deadline": "2026-10-01T23:59:00Z", "grace_minutes": 15, "penalty_per_day": 0.1}
    return LatePolicy.from_dict({**data, **kw})


@pytest.mark.parametrize(
    "when, days, final",
    [
        (DEADLINE - SECOND, 0, 40.0),
        (DEADLINE, 0, 40.0),  # on the deadline
        (DEADLINE + GRACE, 0, 40.0),  # the last second of grace
        (DEADLINE + GRACE + SECOND, 1, 36.0),  # 1 s past grace: one day late
        (DEADLINE + timedelta(days=1), 1, 36.0),
        (DEADLINE + timedelta(days=1) + SECOND, 2, 32.0),  # a day and 1 s
        (DEADLINE + timedelta(days=9, seconds=1), 10, 0.0),  # the penalty is capped at the score
    ],
)
def test_days_late_and_penalty_at_the_boundaries(when, days, final):
    got = late.apply(_policy(), 40.0, when)
    assert (got.days_late, got.final, got.raw) == (days, final, 40.0)
    assert got.late_days_used == 0


def test_late_day_budget_covers_days_first_then_the_penalty_applies():
    policy = _policy(late_days=2)
    two_days = DEADLINE + timedelta(days=1, seconds=1)
    assert late.apply(policy, 40.0, two_days).final == 40.0  # budget covers both days
    assert late.apply(policy, 40.0, two_days).late_days_used == 2
    three = late.apply(policy, 40.0, DEADLINE + timedelta(days=2, seconds=1))
    assert (three.days_late, three.late_days_used, three.final) == (3, 2, 36.0)
    # a student who spent the budget on earlier assignments (the times CSV says 0 left)
    spent = late.apply(policy, 40.0, two_days, budget=0)
    assert (spent.late_days_used, spent.final) == (0, 32.0)
    partial = late.apply(policy, 40.0, two_days, budget=1)
    assert (partial.late_days_used, partial.final) == (1, 36.0)


def test_cut_off_scores_zero_and_unknown_time_is_on_time():
    policy = _policy(max_days_late=3, late_days=5)
    assert late.apply(policy, 40.0, DEADLINE + timedelta(days=3)).final == 40.0
    assert late.apply(policy, 40.0, DEADLINE + timedelta(days=3, seconds=1)).final == 0.0
    assert late.apply(policy, 40.0, None).final == 40.0


def test_naive_times_are_read_in_the_policys_timezone():
    policy = LatePolicy.from_dict(
        {"deadline": "2026-10-01T23:59:00", "timezone": "Europe/Berlin", "penalty_per_day": 0.5}
    )
    assert policy.deadline == datetime(2026, 10, 1, 21, 59, tzinfo=timezone.utc)
    on_time = late.parse_time("2026-10-01T21:59:00Z")
    assert late.apply(policy, 10.0, on_time).final == 10.0
    assert late.apply(policy, 10.0, on_time + SECOND).final == 5.0


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "needs a deadline"),
        ({"deadline": "tomorrow"}, "not an ISO-8601 time"),
        ({"deadline": "2026-10-01T00:00:00Z", "penalty": 0.1}, "unknown late-policy keys"),
        ({"deadline": "2026-10-01T00:00:00Z", "penalty_per_day": 2}, "penalty_per_day"),
        ({"deadline": "2026-10-01T00:00:00Z", "timezone": "Mars/Olympus"}, "unknown timezone"),
    ],
)
def test_bad_policies_are_refused_with_a_reason(data, message):
    with pytest.raises(LatePolicyError, match=message):
        LatePolicy.from_dict(data)


def test_times_csv_by_file_or_student_with_budgets(tmp_path):
    p = tmp_path / "times.csv"
    p.write_text(
        "file,submitted,late_days\nalice.ipynb,2026-10-02T00:10:00Z,1\nbob,2026-10-01 20:00,\n"
    )
    times = late.read_times(p, tz="UTC")
    assert times["alice.ipynb"].late_days == 1
    assert times["bob"].submitted == datetime(2026, 10, 1, 20, 0, tzinfo=timezone.utc)
    assert times["bob"].late_days is None
    p.write_text("student_id,submitted\n17,not a time\n")
    with pytest.raises(LatePolicyError, match="line 2"):
        late.read_times(p)
    p.write_text("name,when\nx,y\n")
    with pytest.raises(LatePolicyError, match="`submitted`"):
        late.read_times(p)


def test_submission_time_from_otter_export_zips(tmp_path):
    named = tmp_path / "01_backprop_2026_10_02T00_05_30_123456.zip"
    with zipfile.ZipFile(named, "w") as zf:
        zf.writestr("01_backprop.ipynb", "{}")
    assert late.otter_zip_time(named, "UTC") == datetime(
        2026, 10, 2, 0, 5, 30, 123456, tzinfo=timezone.utc
    )
    renamed = tmp_path / "alice.zip"  # an LMS renamed it: the notebook's time stamp inside
    with zipfile.ZipFile(renamed, "w") as zf:
        info = zipfile.ZipInfo("01_backprop.ipynb", date_time=(2026, 10, 1, 23, 0, 0))
        zf.writestr(info, "{}")
    assert late.otter_zip_time(renamed, "UTC") == datetime(2026, 10, 1, 23, 0, tzinfo=timezone.utc)
    (tmp_path / "junk.zip").write_text("not a zip")
    assert late.otter_zip_time(tmp_path / "junk.zip") is None
