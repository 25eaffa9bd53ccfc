"""Exercises that check themselves: ``check("09.2", answer)`` tells a student what is wrong.

>>> import torch
>>> from depthnb.exercises import check
>>> def back_project(depth, intrinsics):    # (H,W) metres, [fx, fy, cx, cy] -> (H,W,3) metres
...     fx, fy, cx, cy = intrinsics.tolist()
...     rows, cols = torch.arange(depth.shape[0]), torch.arange(depth.shape[1])
...     v, u = torch.meshgrid(rows, cols, indexing="ij")
...     return torch.stack([(u - cx) * depth / fx, (v - cy) * depth / fy, depth], dim=-1)
>>> result = check("09.1", back_project)
09.1 ...: correct on ... cases ...

Each lesson's exercises live in ``depthnb/course/exercises/lessonNN.py`` (found by name, see
:func:`exercises`), beside its questions to answer before a run, which
:mod:`depthnb.course.exercises.questions` asks (``ask("04.P1", prediction)``). An :class:`Exercise`
holds a reference solution, the cases to try (drawn from a seeded generator, so the student does not
choose them: random inputs, odd sizes, invalid pixels), and the common mistakes, each as a wrong
implementation with the message a student can act on. Where the sources disagree (a paper and its
released code), an exercise also lists the other right answers (:class:`Accepted`). :func:`check`
runs the answer on every case; where it agrees with the reference, or with an accepted answer, on
every case, it is correct, and the message says which convention it followed; where it agrees with a
listed mistake on every case, it gives that mistake's message; otherwise it says which case failed
and how. An answer still raising ``NotImplementedError`` (a student copy's stub, see
:mod:`depthnb.course.exercises.student`) gets "not yet", never an exception, so the rest of the
notebook runs.

The answer cannot hang or fool the check (:mod:`depthnb.course.exercises.guards`): each case runs
under a time limit (an :class:`~depthnb.errors.ExerciseError` names the case that did not
finish), on its own copy of the inputs, which are compared afterwards with the originals (an answer
that overwrites its input fails, saying which), and while it runs the package's functions that
compute the answer (``Exercise.hides``) and the exercise's own reference are hidden: calling them
fails, saying so.
The reference's values are computed before anything is hidden. Arrays are compared by shape
before any conversion. The tests hold every exercise against the notebooks' solutions, each listed
mistake, an answer calling the reference, an endless loop and an answer that changes its input.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from depthnb.course.exercises.guards import (
    DEFAULT_TIME_LIMIT,
    argument_names,
    changed_input,
    check_time_limit,
    copy_inputs,
    hidden,
    run_limited,
    warn_if_unlimited,
)
from depthnb.errors import ExerciseError

DIFFICULTIES = ("quick", "medium", "substantial")


@dataclass(frozen=True)
class Case:
    """One input to try: ``args`` for the answer, and ``label`` saying what is special about it
    ("odd size 7x5", "invalid pixels", ...), named in the feedback."""

    label: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Mistake:
    """A common wrong answer: ``wrong`` implements it (same signature as the reference), and
    ``message`` is what the student reads when their answer behaves like it."""

    name: str
    wrong: Callable[..., Any]
    message: str


@dataclass(frozen=True)
class Accepted:
    """Another right answer, where the sources disagree: ``solution`` implements it (same
    signature as the reference), and ``message`` says which source it follows and how it differs
    from the reference's, for the student whose answer matches it."""

    name: str
    solution: Callable[..., Any]
    message: str


@dataclass(frozen=True)
class Exercise:
    """One exercise.

    ``cases(generator)`` returns the inputs to try (seeded: every check sees the same ones);
    ``compare(got, expected)`` returns None when equal, else what differs in words (default
    :func:`compare_values`). ``hides`` are the dotted names of the package's functions that would
    answer the exercise (``"depthnb.metrics.depth_metrics"``): they, and ``reference`` itself, are
    hidden while the student's answer runs. ``time_limit`` is the seconds each case may take.
    ``accepted`` are other right answers (the sources disagree); ``note`` is said to an answer that
    matches the reference itself (which convention it followed, when there are others).
    """

    key: str
    title: str
    difficulty: str
    reference: Callable[..., Any]
    cases: Callable[[torch.Generator], Sequence[Case]]
    mistakes: tuple[Mistake, ...] = ()
    compare: Callable[[Any, Any], str | None] = field(default=None)  # type: ignore[assignment]
    hides: tuple[str, ...] = ()
    time_limit: float = DEFAULT_TIME_LIMIT
    accepted: tuple[Accepted, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.difficulty not in DIFFICULTIES:
            raise ExerciseError(f"{self.key}: difficulty {self.difficulty!r} not in {DIFFICULTIES}")
        if isinstance(self.hides, str) or not all(isinstance(n, str) for n in self.hides):
            raise ExerciseError(
                f"{self.key}: hides takes dotted names (a tuple), not {self.hides!r}"
            )
        check_time_limit(self.time_limit)
        if self.compare is None:
            object.__setattr__(self, "compare", compare_values)


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` (or :func:`~depthnb.course.exercises.questions.ask`, of a question)
    found: ``passed``, ``status`` ("correct", "not yet", "wrong") and the ``message`` (printed by
    the call; ``bool(result)`` is ``passed``); ``mistake`` names the listed mistake a wrong answer
    made, ``accepted`` the accepted answer a right one matched (None for the reference's own, and
    for a question)."""

    key: str
    status: str
    message: str
    mistake: str | None = None
    accepted: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's value: the call has printed the message already, and a
        lesson's check or question cell ends with the call."""


def compare_values(got: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5) -> str | None:
    """None if ``got`` equals ``expected`` (tensors and arrays within tolerance, same shape;
    tuples, lists and dicts element by element; numbers within tolerance), else what differs."""
    if isinstance(expected, dict):
        return _compare_dicts(got, expected, rtol, atol)
    if isinstance(expected, (tuple, list)):
        return _compare_sequences(got, expected, rtol, atol)
    if isinstance(expected, (torch.Tensor, np.ndarray)):
        return _compare_arrays(got, expected, rtol, atol)
    if isinstance(expected, (int, float, np.number)) and not isinstance(expected, bool):
        if not isinstance(got, (int, float, np.number, torch.Tensor)):
            return f"expected a number, got {_describe(got)}"
        if not np.isclose(float(got), float(expected), rtol=rtol, atol=atol):
            return f"{float(got):.6g}, expected {float(expected):.6g}"
        return None
    return None if got == expected else f"{_describe(got)}, expected {expected!r}"


def _compare_dicts(got: Any, expected: dict, rtol: float, atol: float) -> str | None:
    if not isinstance(got, dict) or set(got) != set(expected):
        return f"expected a dict with keys {sorted(expected)}, got {_describe(got)}"
    for key in expected:
        difference = compare_values(got[key], expected[key], rtol, atol)
        if difference:
            return f"[{key!r}]: {difference}"
    return None


def _compare_sequences(got: Any, expected: Sequence, rtol: float, atol: float) -> str | None:
    if not isinstance(got, (tuple, list)) or len(got) != len(expected):
        return f"expected {len(expected)} values, got {_describe(got)}"
    for index, (a, b) in enumerate(zip(got, expected)):
        difference = compare_values(a, b, rtol, atol)
        if difference:
            return f"value {index}: {difference}"
    return None


def _as_double(value: torch.Tensor | np.ndarray) -> torch.Tensor:
    array = value.detach().cpu() if isinstance(value, torch.Tensor) else torch.from_numpy(value)
    return array.double()


def _compare_arrays(got: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """Shapes first, from the arrays as given: a wrong-shaped answer is never converted."""
    if not isinstance(got, (torch.Tensor, np.ndarray)):
        return f"expected an array of shape {tuple(expected.shape)}, got {_describe(got)}"
    if tuple(got.shape) != tuple(expected.shape):
        return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    a, b = _as_double(got), _as_double(expected)
    if not torch.equal(torch.isnan(a), torch.isnan(b)):
        return "NaN where the reference has a number (or the other way round)"
    close = torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    worst = float((a - b).abs().nan_to_num(0).max())
    return f"{int((~close).sum())} of {close.numel()} values differ (largest by {worst:.3g})"


def _describe(value: Any) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"an array of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:120]


def _run(function: Callable[..., Any], case: Case) -> Any:
    """The package's own function (a reference or a mistake) on copies of a case's inputs."""
    return function(*copy_inputs(case.args))


def _differs(exercise: Exercise, got: Any, expected: Any) -> str | None:
    """``exercise.compare``, with an answer of an unexpected kind reported instead of raised."""
    try:
        return exercise.compare(got, expected)
    except Exception as error:  # e.g. float() of a tensor of many values
        return f"cannot compare your {_describe(got)} with the reference ({error})"


def _overrun(key: str, number: int, case: Case, seconds: float) -> Callable[[], str]:
    """The message of a case that ran out of time (built only when one does)."""
    return lambda: (
        f"case {number} of exercise {key} ({case.label}) did not finish within {seconds:g} s: "
        "your answer was stopped there. Look for a loop that never ends; if it is only slow, "
        f"give it longer: check({key!r}, answer, time_limit={4 * seconds:g})"
    )


@dataclass(frozen=True)
class _Attempt:
    """The answer on one case: its result and how it differs from the reference, or the verdict
    that ends the check at once (not yet, raised, changed its input)."""

    got: Any = None
    difference: str | None = None
    verdict: CheckResult | None = None


def _attempt(
    exercise: Exercise, function: Callable[..., Any], case: Case, expected: Any, names: list[str]
) -> _Attempt:
    """Run the answer on a copy of the case's inputs, then check the copy and the result."""
    key, head = exercise.key, f"{exercise.key} {exercise.title}"
    given = copy_inputs(case.args)
    try:
        got = function(*given)
    except NotImplementedError:
        return _Attempt(
            verdict=CheckResult(key, "not yet", f"{head}: not yet (write the solution cell above)")
        )
    except ExerciseError as error:  # a hidden reference was called
        return _Attempt(verdict=CheckResult(key, "wrong", f"{head}: {error} (on {case.label})"))
    except Exception as error:  # the student's code: report it in words, do not crash
        message = f"{head}: your answer raised {type(error).__name__}: {error} (on {case.label})"
        return _Attempt(verdict=CheckResult(key, "wrong", message))
    changed = changed_input(given, case.args)
    if changed is not None:
        message = (
            f"{head}: your function changed its input `{names[changed]}` (on {case.label}); work "
            "on a copy (x.clone() for a tensor, x.copy() for an array) or use operations that "
            "return new values instead of the in-place ones (x.clamp(...) rather than x.clamp_())."
        )
        return _Attempt(verdict=CheckResult(key, "wrong", message))
    return _Attempt(got, _differs(exercise, got, expected))


def _behaves_like(
    exercise: Exercise,
    other: Callable[..., Any],
    results: list[Any],
    cases: Sequence[Case],
    limit: float,
) -> bool:
    """Whether the answer's results equal ``other``'s (a mistake, or an accepted answer) on every
    case (one that raises on a case does not match). A comparison may run the answer's own code (a
    network's forward), so it runs under the time limit too."""
    for number, (got, case) in enumerate(zip(results, cases), 1):
        try:
            theirs = _run(other, case)
        except Exception:
            return False
        overrun = _overrun(exercise.key, number, case, limit)
        if run_limited(limit, overrun, _differs, exercise, got, theirs) is not None:
            return False
    return True


def diagnose(exercise: Exercise, answer: Any, time_limit: float | None = None) -> CheckResult:
    """Check ``answer`` (usually a function) against ``exercise``; never raises for a wrong or
    missing answer, only for one that runs out of time.

    ``time_limit`` is the seconds each case may take (default ``exercise.time_limit``).

    Raises:
        ExerciseError: the answer did not finish a case within the time limit.
        ArgumentError: ``time_limit`` is not a positive number.
    """
    key = exercise.key
    head = f"{key} {exercise.title}"
    limit = exercise.time_limit if time_limit is None else check_time_limit(time_limit)
    cases = exercise.cases(torch.Generator().manual_seed(0))
    expected = [_run(exercise.reference, case) for case in cases]  # before anything is hidden
    function = answer if callable(answer) else (lambda *args: answer)
    names = argument_names(exercise.reference, max((len(case.args) for case in cases), default=0))
    warn_if_unlimited(key)
    results, failure = [], None
    with hidden(
        key, exercise.hides, exercise.reference, function, [(exercise, "reference")]
    ) as hiding:
        function = hiding.answer_to_run(function)
        for number, (case, wanted) in enumerate(zip(cases, expected), 1):
            overrun = _overrun(key, number, case, limit)
            attempt = run_limited(limit, overrun, _attempt, exercise, function, case, wanted, names)
            if attempt.verdict is not None:
                return attempt.verdict
            results.append(attempt.got)
            if attempt.difference and failure is None:
                failure = (case, attempt.difference)
    correct = f"{head}: correct on {len(cases)} cases ({_labels(cases)})."
    if failure is None:
        return CheckResult(key, "correct", " ".join(filter(None, (correct, exercise.note))))
    for other in exercise.accepted:
        if _behaves_like(exercise, other.solution, results, cases, limit):
            message = f"{correct} {other.message}"
            return CheckResult(key, "correct", message, accepted=other.name)
    for mistake in exercise.mistakes:
        if _behaves_like(exercise, mistake.wrong, results, cases, limit):
            return CheckResult(key, "wrong", f"{head}: {mistake.message}", mistake.name)
    case, difference = failure
    return CheckResult(key, "wrong", f"{head}: on {case.label}, {difference}.")


def _labels(cases: Sequence[Case]) -> str:
    """The cases' labels, each once, in order."""
    return ", ".join(dict.fromkeys(case.label for case in cases))


def check(
    key: str, answer: Any, verbose: bool = True, time_limit: float | None = None
) -> CheckResult:
    """Check a student's ``answer`` to exercise ``key`` ("09.2"); print and return the result.

    ``time_limit``: seconds each case may take (default: the exercise's, 20 s unless it says).

    Raises:
        ExerciseError: no exercise has that key.
        ArgumentError: ``time_limit`` is not a positive number.
        ExerciseError: the answer did not finish a case within the time limit (the message names
            the case).
    """
    result = diagnose(get(key), answer, time_limit)
    if verbose:
        print(result.message)
    return result


def _name(module: pkgutil.ModuleInfo) -> str:
    return module.name


_LESSON_MODULE = re.compile(r"lesson(\d\d)")


def lesson_modules() -> list[tuple[str, types.ModuleType]]:
    """The ``lessonNN`` modules of this package, each with its lesson number ("04"), in order."""
    found = []
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=_name):
        match = _LESSON_MODULE.fullmatch(info.name)
        if match:
            module = importlib.import_module(f"{__package__}.{info.name}")
            found.append((match.group(1), module))
    return found


def declared(name: str, lessons: Iterable[tuple[str, types.ModuleType]]) -> dict[str, Any]:
    """What the ``lessons`` ((lesson number, module) pairs, see :func:`lesson_modules`) declare in
    their module-level tuple ``name`` ("EXERCISES", "QUESTIONS"), by key, in lesson order; a
    lesson without the tuple declares none.

    Raises:
        ExerciseError: a key that does not begin with its module's lesson number ("05.1" in
            ``lesson04``), or a key declared twice.
    """
    found: dict[str, Any] = {}
    for lesson, module in lessons:
        for item in getattr(module, name, ()):
            if item.key.partition(".")[0] != lesson:
                raise ExerciseError(
                    f"{module.__name__}.{name} holds {item.key!r}, which is not lesson {lesson}'s: "
                    f"a key begins with its lesson's number and a dot ('{lesson}.'); rename it, or "
                    "move it to its lesson's module"
                )
            if item.key in found:
                raise ExerciseError(
                    f"{module.__name__}.{name} holds {item.key!r} twice: give each its own key"
                )
            found[item.key] = item
    return found


def exercises() -> dict[str, Exercise]:
    """Every exercise by key, from the ``lessonNN`` modules of this package, in lesson order.

    Raises:
        ExerciseError: a key not of its module's lesson, or one used twice (see :func:`declared`).
    """
    return declared("EXERCISES", lesson_modules())


def get(key: str) -> Exercise:
    """The exercise with this key.

    Raises:
        ExerciseError: there is none (the message lists the keys that exist).
    """
    known = exercises()
    if key not in known:
        raise ExerciseError(f"no exercise {key!r}; the exercises are {sorted(known)}")
    return known[key]


__all__ = [
    "Accepted",
    "Case",
    "CheckResult",
    "Exercise",
    "Mistake",
    "check",
    "compare_values",
    "declared",
    "diagnose",
    "exercises",
    "get",
    "lesson_modules",
]
