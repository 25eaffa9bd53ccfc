"""``python -m depthnb exercises [--list] [--student OUT] [--notebooks DIR]``: list the exercises
and the predict-then-run questions, or write the student copies of the lessons (solution and
prediction cells stubbed) into OUT."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from depthnb.errors import ConfigError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
"""The lessons of a repository checkout (``--notebooks`` elsewhere)."""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``exercises`` and its options to the command line's subparsers ``commands``."""
    parser = commands.add_parser(
        "exercises", help="list the exercises, or write student copies of the lessons"
    )
    parser.add_argument(
        "--list", action="store_true", help="every exercise and question, its lesson and kind"
    )
    parser.add_argument("--student", metavar="OUT", help="write the student copies into OUT")
    parser.add_argument(
        "--notebooks", default=str(NOTEBOOKS), help="the lessons' folder (default: notebooks/)"
    )
    parser.set_defaults(handler=cmd_exercises)
    return parser


def cmd_exercises(args: argparse.Namespace) -> int:
    """List the exercises or write the student copies; exit status 0."""
    from depthnb.course.exercises.checker import exercises
    from depthnb.course.exercises.questions import questions
    from depthnb.course.exercises.student import write_student_copies

    if not args.list and not args.student:
        raise ConfigError("exercises: give --list, or --student OUT to write the student copies")
    if args.list:
        for key, exercise in exercises().items():
            print(f"{key:6s} {exercise.difficulty:12s} {exercise.title}")
        for key, question in questions().items():
            print(f"{key:6s} {'predict: ' + question.kind:16s} {question.text}")
    if args.student:
        written = write_student_copies(args.notebooks, args.student)
        print(
            f"{len(written)} student copies in {args.student}: solution and prediction cells "
            "stubbed"
        )
    return 0
