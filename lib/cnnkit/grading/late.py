"""Late policy as data: a deadline, a grace period, a per-day penalty, a late-day budget per student.

Rules (one place): a submission at or before deadline + grace is on time. Past it, it is
ceil((submitted - deadline) / 1 day) days late (the grace forgives, it does not move the day
boundaries). The student's late-day budget covers that many days first; each remaining day costs
`penalty_per_day` of the raw score (capped at the whole score); past `max_days_late` days it scores 0.

Submission times come from a CSV (an LMS export: a `file` or `student_id` column and a `submitted`
ISO-8601 time; optional `late_days` = that student's remaining budget) or from otter's export zips
(`<notebook>_%Y_%m_%dT%H_%M_%S_%f.zip`, local time, else the notebook's time stamp inside the zip).
"""

from __future__ import annotations

import csv
import json
import math
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)
_OTTER_STAMP = re.compile(r"_(\d{4}_\d{2}_\d{2}T\d{2}_\d{2}_\d{2}_\d{6})\.zip$")


class LatePolicyError(ValueError):
    """A policy file or a submission-times file that cannot be used."""


@dataclass(frozen=True)
class LatePolicy:
    """Inputs (a JSON file with these keys): deadline (ISO 8601; without an offset it is in
    `timezone`), grace_minutes, penalty_per_day (0..1 of the raw score), late_days (default budget
    per student), max_days_late (None: no cut-off), timezone (IANA name, for naive times)."""

    deadline: datetime
    grace_minutes: float = 0.0
    penalty_per_day: float = 0.0
    late_days: int = 0
    max_days_late: int | None = None
    timezone: str = "UTC"

    @classmethod
    def from_dict(cls, data: dict) -> LatePolicy:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise LatePolicyError(f"unknown late-policy keys: {sorted(unknown)}")
        if "deadline" not in data:
            raise LatePolicyError("the late policy needs a deadline")
        tz = data.get("timezone", cls.timezone)
        try:
            ZoneInfo(tz)
        except Exception as err:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for junk
            raise LatePolicyError(f"unknown timezone {tz!r}") from err
        policy = cls(**{**data, "deadline": parse_time(str(data["deadline"]), tz)})
        if policy.grace_minutes < 0 or policy.late_days < 0 or not 0 <= policy.penalty_per_day <= 1:
            raise LatePolicyError(
                "grace_minutes and late_days must be >= 0, penalty_per_day in [0, 1]"
            )
        return policy

    @classmethod
    def load(cls, path: Path) -> LatePolicy:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise LatePolicyError(f"cannot read the late policy {path}: {err}") from err
        return cls.from_dict(data)

    @property
    def grace(self) -> timedelta:
        return timedelta(minutes=self.grace_minutes)


@dataclass(frozen=True)
class Lateness:
    submitted: datetime | None
    days_late: int
    late_days_used: int
    penalty: float  # fraction of the raw score taken off
    raw: float
    final: float


def parse_time(text: str, tz: str = "UTC") -> datetime:
    """An ISO-8601 time (a trailing Z allowed); naive times are read in `tz`."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise LatePolicyError(f"not an ISO-8601 time: {text!r}") from err
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(tz))


def apply(
    policy: LatePolicy, raw: float, submitted: datetime | None, budget: int | None = None
) -> Lateness:
    """The final score of one submission.

    Inputs:
    - policy: the LatePolicy; raw: the graded score; submitted: when (None: unknown, taken as on
      time and said so by the caller); budget: this student's late days left (default the policy's).

    Returns:
    - lateness: days late, late days used, penalty fraction, raw and final score.
    """
    budget = policy.late_days if budget is None else budget
    if submitted is None or submitted <= policy.deadline + policy.grace:
        return Lateness(submitted, 0, 0, 0.0, raw, raw)
    days = math.ceil((submitted - policy.deadline) / DAY)
    used = min(days, max(budget, 0))
    if policy.max_days_late is not None and days > policy.max_days_late:
        penalty = 1.0
    else:
        penalty = min(1.0, (days - used) * policy.penalty_per_day)
    final = round(raw * (1.0 - penalty), 5)
    return Lateness(submitted, days, used, penalty, raw, final)


@dataclass(frozen=True)
class SubmissionTime:
    submitted: datetime
    late_days: int | None  # this student's remaining budget, when the export says


def read_times(path: Path, tz: str = "UTC") -> dict[str, SubmissionTime]:
    """Submission times from a CSV: key column `file` (the gradebook's) or `student_id`, `submitted`.

    Returns:
    - {key: SubmissionTime}; raises LatePolicyError naming the bad line.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or [])
        key = "file" if "file" in cols else "student_id" if "student_id" in cols else None
        if key is None or "submitted" not in cols:
            raise LatePolicyError(
                f"{path}: needs a `file` or `student_id` column and a `submitted` column"
            )
        out = {}
        for line, row in enumerate(reader, start=2):
            try:
                budget = row.get("late_days") or None
                out[row[key].strip()] = SubmissionTime(
                    parse_time(row["submitted"], tz), int(budget) if budget else None
                )
            except (LatePolicyError, ValueError) as err:
                raise LatePolicyError(f"{path}, line {line}: {err}") from err
    return out


def otter_zip_time(path: Path, tz: str = "UTC") -> datetime | None:
    """When otter exported the zip: the time stamp in its name, else its notebook's (local time)."""
    m = _OTTER_STAMP.search(Path(path).name)
    if m:
        t = datetime.strptime(m.group(1), "%Y_%m_%dT%H_%M_%S_%f")
        return t.replace(tzinfo=ZoneInfo(tz))
    try:
        with zipfile.ZipFile(path) as zf:
            stamps = [i.date_time for i in zf.infolist() if i.filename.endswith(".ipynb")]
    except (zipfile.BadZipFile, OSError):
        return None
    return datetime(*stamps[0], tzinfo=ZoneInfo(tz)) if len(stamps) == 1 else None


def utc(t: datetime | None) -> str:
    """The time as ISO 8601 in UTC ("" for None): the gradebook's column."""
    return t.astimezone(timezone.utc).isoformat() if t else ""
