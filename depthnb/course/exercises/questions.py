"""Questions to answer before a run: predict, then run, so that the run corrects your intuition.

A result read after the run always looks obvious ("of course the point is 0.4 m off the axis").
Written down before it, a prediction is a commitment, and the run then shows whether the idea
behind it was right: the surprise is what teaches. So before some cells a lesson asks the student
to predict what the cell will show, either a number (right within a stated tolerance) or one of
two to four choices, and says afterwards whether the prediction was right and why.

A lesson declares its questions beside its exercises, as a module-level tuple in
``depthnb/course/exercises/lessonNN.py`` (found like the exercises, see :func:`questions`)::

    QUESTIONS = (
        Question(
            "09.P1",
            "A pixel 100 px right of the principal point sees a wall 2 m away; fx is 500 px. How "
            "far right of the optical axis is the wall's point?",
            Number(0.4, "m", abs_tol=0.05),
            "x = (u - cx) Z / fx = 100 px * 2 m / 500 px = 0.4 m: at twice the depth, the same "
            "pixel sees a point twice as far from the axis.",
        ),
    )

and the notebook asks it in three cells: the question in a markdown cell; a **prediction cell**,
a code cell tagged ``solution`` holding ``prediction = 0.4  # your prediction (a number in
metres)`` (in the student copy it reads ``prediction = None  # ...``, see
:mod:`~depthnb.course.exercises.student`); and ``ask("09.P1", prediction)``. :func:`ask` says
whether the prediction is right (a number: within the tolerance or not, and how far off; a
choice: which letter is right), then the explanation, right or wrong.

A prediction still ``None`` or ``...`` (the student copy's) gets "not yet", and one that cannot be
read (a string for a number, a letter that is not an option) is told what to write; neither
raises, so the notebook runs on, and neither shows the explanation, so it is never read before a
prediction is made. ``ask`` returns the same result as :func:`~depthnb.exercises.check`, with
``.passed`` and ``.message``.

>>> question = Question(
...     "09.P1",
...     "A pixel 100 px right of the principal point sees a wall 2 m away; fx is 500 px. How far "
...     "right of the optical axis is the wall's point?",
...     Number(0.4, "m", abs_tol=0.05),
...     "x = (u - cx) Z / fx = 100 px * 2 m / 500 px = 0.4 m.",
... )
>>> result = judge(question, 0.5)
>>> print(result.message)
09.P1: wrong: you said 0.5 m, the answer is 0.4 m (off by +0.1 m, +25 %; within 0.05 m ...).
x = (u - cx) Z / fx = 100 px * 2 m / 500 px = 0.4 m.
>>> result.passed, judge(question, 0.42).passed, judge(question, None).status
(False, True, 'not yet')
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from depthnb.course.exercises.checker import CheckResult, declared, exercises, lesson_modules
from depthnb.errors import ArgumentError, ExerciseError

LETTERS = "abcd"
"""The letters of a multiple choice's options, in order: two to four of them."""

_KEY = re.compile(r"\d\d\.P\d+")


def _is_number(value: Any) -> bool:
    """A real number that is not a bool (``True`` is an int to Python, not a prediction)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _show(value: float, unit: str = "") -> str:
    """A number as a student reads it: whole numbers in full with thousands separators
    ("31,000,000"), others to four significant figures; then the unit, if any."""
    whole = abs(value) < 1e15 and value == int(value)  # (inf and NaN are not)
    text = f"{int(value):,}" if whole else f"{value:.4g}"
    return f"{text} {unit}" if unit else text


@dataclass(frozen=True)
class Number:
    """A number answer: ``value`` in ``unit`` ("m", "px", "%", or "" for a count or a ratio),
    right within ``abs_tol`` (absolute, in ``unit``: ``|prediction - value| <= abs_tol``) or
    within ``rel_tol`` (relative, a fraction of the value: ``<= rel_tol * |value|``); give exactly
    one of the two.

    Raises:
        ArgumentError: ``value`` not a finite number, ``unit`` not a string, neither tolerance or
            both, a negative or infinite tolerance, or a relative one of a value of 0 (use
            ``abs_tol``).
    """

    value: float
    unit: str
    abs_tol: float | None = None
    rel_tol: float | None = None

    kind: ClassVar[str] = "number"

    def __post_init__(self) -> None:
        if not _is_number(self.value) or not math.isfinite(self.value):
            raise ArgumentError(f"Number: the answer {self.value!r} is not a finite number")
        if not isinstance(self.unit, str):
            raise ArgumentError(f"Number: unit {self.unit!r} is not a string (use '' for none)")
        if (self.abs_tol is None) == (self.rel_tol is None):
            raise ArgumentError(
                "Number: give exactly one tolerance, abs_tol (in the answer's unit) or rel_tol (a "
                f"fraction of the answer), not abs_tol={self.abs_tol!r}, rel_tol={self.rel_tol!r}"
            )
        name = "abs_tol" if self.rel_tol is None else "rel_tol"
        tolerance = getattr(self, name)
        if not _is_number(tolerance) or not 0 <= tolerance < math.inf:
            raise ArgumentError(f"Number: {name}={tolerance!r} is not a finite number >= 0")
        if self.rel_tol is not None and self.value == 0:
            raise ArgumentError(
                "Number: a relative tolerance of an answer of 0 allows nothing; give abs_tol"
            )
        object.__setattr__(self, "value", float(self.value))

    @property
    def wanted(self) -> str:
        """What a prediction is, in words ("a number in m")."""
        return f"a number in {self.unit}" if self.unit else "a number"

    @property
    def within(self) -> str:
        """The tolerance in words ("0.05 m", "10 %")."""
        if self.rel_tol is None:
            return _show(float(self.abs_tol or 0.0), self.unit)
        return _show(100 * self.rel_tol, "%")

    def unreadable(self, prediction: Any) -> str | None:
        """Why ``prediction`` is not a number to judge, or None when it is one."""
        if isinstance(prediction, str):
            return f"write {self.wanted} after `prediction =` without quotes, not {prediction!r}"
        if not _is_number(prediction):
            return f"write {self.wanted} after `prediction =`, not {_describe(prediction)}"
        if not math.isfinite(prediction):
            return f"write a finite number after `prediction =`, not {prediction!r}"
        return None

    def verdict(self, prediction: float) -> tuple[bool, str]:
        """Whether ``prediction`` (a finite number) is right, and a sentence that says so and how
        far off it is."""
        said = float(prediction)
        off = said - self.value
        if self.rel_tol is None:
            allowed = float(self.abs_tol or 0.0)
        else:
            allowed = self.rel_tol * abs(self.value)
        # a last digit's slack: 0.25 is within 0.02 of 0.27, though 0.27 - 0.25 > 0.02 in floats
        right = abs(off) <= allowed + 1e-9 * max(abs(said), abs(self.value))
        how_far = f"off by {'+' if off > 0 else ''}{_show(off, self.unit)}"
        if off == 0:
            how_far = "exactly"
        elif self.value != 0:
            how_far += f", {100 * off / abs(self.value):+.3g} %"
        return right, (
            f"{'right' if right else 'wrong'}: you said {_show(said, self.unit)}, the answer is "
            f"{_show(self.value, self.unit)} ({how_far}; within {self.within} counts as right)."
        )


@dataclass(frozen=True)
class Choice:
    """A multiple-choice answer: ``options`` by letter, "a" to "b", "c" or "d" in order, each
    with its text; ``correct`` is the right letter.

    Raises:
        ArgumentError: fewer than two options or more than four, letters not "a", "b", ... in
            order, an option without text, or ``correct`` not one of the letters.
    """

    options: Mapping[str, str]
    correct: str

    kind: ClassVar[str] = "choice"

    def __post_init__(self) -> None:
        if not isinstance(self.options, Mapping) or not 2 <= len(self.options) <= len(LETTERS):
            raise ArgumentError(
                f"Choice: give two to four options by letter, {{'a': text, 'b': text, ...}}, "
                f"not {self.options!r}"
            )
        letters = LETTERS[: len(self.options)]
        if tuple(self.options) != tuple(letters):
            raise ArgumentError(
                f"Choice: the options' letters are {', '.join(map(repr, self.options))}; "
                f"letter them {', '.join(letters)} in order"
            )
        empty = [letter for letter, text in self.options.items() if not _is_text(text)]
        if empty:
            raise ArgumentError(f"Choice: option {empty[0]!r} has no text")
        if self.correct not in letters:
            raise ArgumentError(f"Choice: correct={self.correct!r} is not one of {letters!r}")
        object.__setattr__(self, "options", dict(self.options))

    @property
    def wanted(self) -> str:
        """What a prediction is, in words ("one of the letters a, b, c")."""
        return f"one of the letters {', '.join(self.options)}"

    def unreadable(self, prediction: Any) -> str | None:
        """Why ``prediction`` is not one of the letters, or None when it is one (upper case and
        spaces around it are fine)."""
        if isinstance(prediction, str) and prediction.strip().lower() in self.options:
            return None
        shown = repr(prediction) if isinstance(prediction, str) else _describe(prediction)
        example = f'prediction = "{LETTERS[len(self.options) - 1]}"'
        return f"write {self.wanted}, in quotes ({example}, say), not {shown}"

    def verdict(self, prediction: str) -> tuple[bool, str]:
        """Whether ``prediction`` (one of the letters) is right, and a sentence that says so and
        which letter is."""
        chosen = prediction.strip().lower()
        right_one = f"({self.correct}) {self.options[self.correct]}"
        if chosen == self.correct:
            return True, f"right: {right_one}."
        return False, f"wrong: you chose ({chosen}) {self.options[chosen]}; it is {right_one}."


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _describe(value: Any) -> str:
    """A value as a message names it: its type and, shortened, its repr."""
    return f"{type(value).__name__} {value!r}"[:80]


@dataclass(frozen=True)
class Question:
    """One question: ``key`` is the lesson's number, "P" and the question's number ("04.P1");
    ``text`` asks it (one or two sentences, the first one the course guide lists); ``answer`` is a
    :class:`Number` or a :class:`Choice`; ``explanation`` says why the answer is what it is, and is
    shown once the student has predicted, right or wrong.

    Raises:
        ArgumentError: a key not of the form "NN.PK", no text or no explanation, or an answer that
            is neither a :class:`Number` nor a :class:`Choice`.
    """

    key: str
    text: str
    answer: Number | Choice
    explanation: str

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _KEY.fullmatch(self.key):
            raise ArgumentError(
                f"Question {self.key!r}: a question's key is its lesson's number, 'P' and its "
                "number in the lesson, e.g. '04.P1'"
            )
        for name in ("text", "explanation"):
            if not _is_text(getattr(self, name)):
                raise ArgumentError(f"Question {self.key}: its {name} is empty: write it out")
        if not isinstance(self.answer, (Number, Choice)):
            raise ArgumentError(
                f"Question {self.key}: the answer is a Number(value, unit, abs_tol=... or "
                f"rel_tol=...) or a Choice({{'a': ..., 'b': ...}}, correct=...), not "
                f"{_describe(self.answer)}"
            )

    @property
    def kind(self) -> str:
        """ "number" or "choice"."""
        return self.answer.kind


def judge(question: Question, prediction: Any) -> CheckResult:
    """Judge a ``prediction`` of ``question``; never raises.

    ``None`` or ``...`` is "not yet"; a prediction that cannot be read (a string for a number, a
    letter that is not an option) is "wrong", saying what to write; in neither case is the
    explanation shown. Otherwise the message says whether it is right (status "correct") or not
    ("wrong"), then gives the explanation on the next line.
    """
    key, answer = question.key, question.answer
    if prediction is None or prediction is Ellipsis:
        message = f"{key}: not yet: write your prediction ({answer.wanted}) in the cell above."
        return CheckResult(key, "not yet", message)
    problem = answer.unreadable(prediction)
    if problem is not None:
        return CheckResult(key, "wrong", f"{key}: {problem}.")
    right, verdict = answer.verdict(prediction)
    message = f"{key}: {verdict}\n{question.explanation}"
    return CheckResult(key, "correct" if right else "wrong", message)


def questions() -> dict[str, Question]:
    """Every question by key, from the ``QUESTIONS`` of the ``lessonNN`` modules, in lesson order.

    Raises:
        ExerciseError: a key not of its module's lesson, or one used twice (see
            :func:`~depthnb.course.exercises.checker.declared`).
    """
    return declared("QUESTIONS", lesson_modules())


def question(key: str) -> Question:
    """The question with this key.

    Raises:
        ExerciseError: there is none (the message lists the keys that exist, and says so when the
            key is an exercise's).
    """
    known = questions()
    if key in known:
        return known[key]
    if key in exercises():
        raise ExerciseError(f"{key!r} is an exercise, not a question: check({key!r}, answer)")
    listed = f"the questions are {sorted(known)}" if known else "no lesson asks one yet"
    raise ExerciseError(f"no question {key!r}; {listed}")


def ask(key: str, prediction: Any, verbose: bool = True) -> CheckResult:
    """Judge a student's ``prediction`` for question ``key`` ("04.P1"); print and return the
    result (see :func:`judge`: "not yet" for ``None``, what to write for a prediction that cannot
    be read, else right or wrong and why). Returns the same result as
    :func:`~depthnb.exercises.check`: ``.passed``, ``.status`` and ``.message``.

    Raises:
        ExerciseError: no question has that key.
    """
    result = judge(question(key), prediction)
    if verbose:
        print(result.message)
    return result


__all__ = [
    "Choice",
    "LETTERS",
    "Number",
    "Question",
    "ask",
    "judge",
    "question",
    "questions",
]
