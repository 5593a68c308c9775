"""Late policy and LMS export of a graded batch (`cnnkit gradebook`), and the class statistics, on a
results.json of stage 01's bundled samples graded once (tests/grading/fixtures/analytics/)."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from cnnkit.cli import main
from cnnkit.grading import analytics, lms
from cnnkit.grading.report import POSSIBLE_LABEL

FIXTURE = Path(__file__).parent / "fixtures" / "analytics"
RESULTS = json.loads((FIXTURE / "results.json").read_text())
TOTALS = {s["file"]: s["total"] for s in RESULTS["submissions"]}


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    for f in ("results.json", "hidden_messages.json"):
        shutil.copy(FIXTURE / f, d / f)
    return d


def _roster(tmp_path, skip=("manifest.json",), extra=True):
    rows = ["student_id,name,file,sis_user_id,sis_login_id,section"]
    files = [f for f in sorted(TOTALS) if f not in skip]
    for i, f in enumerate(files):
        rows.append(f"{1000 + i},Student {i},{f},SIS{i},login{i},A")
    if extra:
        rows.append("1999,Zed Absent,zed.ipynb,SIS99,zed,B")
    p = tmp_path / "roster.csv"
    p.write_text("\n".join(rows) + "\n")
    return p, {f: str(1000 + i) for i, f in enumerate(files)}


def _read(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_gradebook_canvas_and_plain_csv_with_a_late_policy(out, tmp_path, capsys):
    roster, ids = _roster(tmp_path)
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "deadline": "2026-10-01T23:59:00Z",
                "grace_minutes": 10,
                "penalty_per_day": 0.25,
                "late_days": 1,
            }
        )
    )
    times = tmp_path / "times.csv"
    lines = ["file,submitted,late_days"]
    when = {
        "solution": ("2026-10-02T00:09:00Z", ""),  # within grace
        "partial-db-axis": ("2026-10-02T00:09:01Z", ""),  # past grace: 1 day, covered by budget
        "partial-momentum-sign": ("2026-10-03T00:00:00Z", ""),  # 2 days: 1 covered, 1 penalized
        "partial-value-overwrite": ("2026-10-02T00:09:01Z", "0"),  # budget exhausted
    }
    for f in TOTALS:
        t, budget = when.get(f, ("2026-10-01T12:00:00Z", ""))
        lines.append(f"{f},{t},{budget}")
    times.write_text("\n".join(lines) + "\n")
    rc = main(
        [
            "gradebook",
            str(out),
            "--late-policy",
            str(policy),
            "--times",
            str(times),
            "--roster",
            str(roster),
            "--assignment",
            "Backprop",
            "--assignment-id",
            "4711",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1  # the warnings below make the exit status say something needs a look
    assert "manifest.json" in err and "1999" in err

    book = {r[0]: r for r in _read(out / "gradebook.csv")}
    head = _read(out / "gradebook.csv")[0]
    assert head[:3] == ["file", "student_id", "raw"] and head[-2:] == ["final", "status"]
    col = {name: i for i, name in enumerate(head)}
    assert POSSIBLE_LABEL in book  # for people: the possible row stays in gradebook.csv

    def final(f):
        return float(book[f][col["final"]])

    assert final("solution") == TOTALS["solution"]
    assert book["partial-db-axis"][col["days_late"]] == "1"
    assert book["partial-db-axis"][col["late_days_used"]] == "1"
    assert final("partial-db-axis") == TOTALS["partial-db-axis"]
    assert final("partial-momentum-sign") == pytest.approx(TOTALS["partial-momentum-sign"] * 0.75)
    assert final("partial-value-overwrite") == pytest.approx(
        TOTALS["partial-value-overwrite"] * 0.75
    )
    assert book["partial-value-overwrite"][col["late_days_used"]] == "0"
    assert float(book["solution"][col["raw"]]) == TOTALS["solution"]

    canvas = _read(out / "canvas.csv")
    assert canvas[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Backprop (4711)",
    ]
    rows = {r[1]: r for r in canvas[1:]}
    assert all(POSSIBLE_LABEL not in r and "Points Possible" not in r[0] for r in canvas)
    assert set(rows) == {*ids.values(), "1999"}
    assert rows["1999"][5] == ""  # no submission: left empty, Canvas keeps what it has
    assert float(rows[ids["partial-momentum-sign"]][5]) == final("partial-momentum-sign")
    assert rows[ids["solution"]][2:5] == [
        f"SIS{list(ids).index('solution')}",
        rows[ids["solution"]][3],
        "A",
    ]

    plain = _read(out / "scores.csv")
    assert plain[0] == ["student_id", "score"]
    assert {r[0]: float(r[1]) for r in plain[1:]} == {ids[f]: final(f) for f in ids}
    # the class report now shows lateness on each student's line
    html = (out / "report.html").read_text()
    assert "days late" in html and "late days used" in html


def test_missing_times_are_reported_and_nothing_is_dropped(out, tmp_path, capsys):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"deadline": "2026-10-01T23:59:00Z", "penalty_per_day": 0.1}))
    times = tmp_path / "times.csv"
    times.write_text("file,submitted\nsolution,2026-10-03T00:00:00Z\n")
    assert main(["gradebook", str(out), "--late-policy", str(policy), "--times", str(times)]) == 1
    assert "no submission time for" in capsys.readouterr().err
    book = _read(out / "gradebook.csv")
    assert len(book) == 2 + len(TOTALS)
    assert not (out / "canvas.csv").exists()  # no roster: nothing importable is written


def test_bad_roster_is_refused(out, tmp_path, capsys):
    p = tmp_path / "roster.csv"
    p.write_text("student_id,name\n1,A\n")
    assert main(["gradebook", str(out), "--roster", str(p)]) == 1
    assert "lacks the column(s) file" in capsys.readouterr().err
    p.write_text("student_id,name,file\n1,A,solution\n1,B,untouched\n")
    with pytest.raises(lms.RosterError, match="duplicate student_id: 1"):
        lms.read_roster(p)


def test_canvas_column_without_an_id_is_the_bare_name():
    assert lms.canvas_header("Backprop", "")[-1] == "Backprop"
    assert lms.canvas_header("Backprop", "12")[-1] == "Backprop (12)"


def test_roster_matches_files_by_stem():
    roster = [lms.Student("1", "A", "alice"), lms.Student("2", "B", "bob.ipynb")]
    found, unknown = lms.match(roster, ["alice.ipynb", "bob.ipynb", "carol.zip", "alice/x"])
    assert {f: s.student_id for f, s in found.items()} == {"alice.ipynb": "1", "bob.ipynb": "2"}
    assert unknown == ["carol.zip", "alice/x"]


def test_class_stats_of_the_fixture():
    results, hidden = analytics.load_results(FIXTURE)
    stats = analytics.class_stats(results, hidden)
    assert [q.name for q in stats.questions] == list(RESULTS["possible"])
    solution = next(s for s in stats.students if s.file == "solution")
    assert solution.failed_public == solution.failed_hidden == []
    assert {s.file for s in stats.failed} == {"malformed", "manifest.json"}
    # hidden messages come only from hidden_messages.json (results.json never holds them)
    case = stats.hardest_hidden[0]
    assert case.messages and case.messages[0][0] != "(no message)"
    no_hidden = analytics.class_stats(results, {})
    same = next(c for c in no_hidden.cases if c.name == case.name)
    assert same.messages[0][0] == "(no message)"


def test_timeouts_are_counted(tmp_path):
    results = json.loads(json.dumps(RESULTS))
    sub = next(s for s in results["submissions"] if s["file"] == "solution")
    sub.update(status="Failed", reason="timed out after 600 s")
    other = next(s for s in results["submissions"] if s["file"] == "untouched")
    case = next(iter(other["questions"]["q1"]["cases"].values()))
    case["message"] = "TimeoutError: the case did not finish"
    stats = analytics.class_stats(results)
    assert {s.file for s in stats.timed_out} == {"solution", "untouched"}
    assert "solution" in {s.file for s in stats.failed}
