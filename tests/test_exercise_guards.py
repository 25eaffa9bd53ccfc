"""The exercise checker cannot be hung or fooled: an endless answer is stopped within its time limit
(and the timer and handler it found are put back), an answer that calls the package's reference
fails saying so (and the reference works again afterwards), an answer that overwrites its input
fails saying which, and a wrong-shaped answer is reported before any conversion."""

from __future__ import annotations

import importlib
import signal
import sys
import threading
import time
import types
import warnings

import numpy as np
import pytest
import torch

from depthnb.course.exercises.checker import Exercise, compare_values, diagnose, exercises, get
from depthnb.course.exercises.guards import copy_inputs, no_limit_reason, resolve
from depthnb.errors import ArgumentError, ExerciseError
from depthnb.exercises import check

EXERCISES = exercises()
LESSONS = sorted({key[:2] for key in EXERCISES})
needs_timer = pytest.mark.skipif(
    no_limit_reason() is not None, reason=f"no time limit here: {no_limit_reason()}"
)


def _guards_left() -> list[str]:
    """Every name in a loaded depthnb module that is still bound to a guard."""
    return [
        f"{name}.{attribute}"
        for name, module in list(sys.modules.items())
        if isinstance(module, types.ModuleType) and name.split(".")[0] == "depthnb"
        for attribute, value in list(vars(module).items())
        if hasattr(value, "hidden_name")
    ]


def _hidden_names(exercise: Exercise) -> list[str]:
    return [*exercise.hides, f"depthnb.course.exercises.checker.get({exercise.key!r}).reference"]


def _answers_calling(name: str, key: str) -> list:
    """Three ways a student could call ``name``: through its dotted path when the answer runs, as
    a name imported into the notebook's namespace, and captured as a default argument."""
    if name.startswith("depthnb.course.exercises.checker.get("):

        def through_path(*args):
            return get(key).reference(*args)

        imported_source = (
            f"from depthnb.course.exercises.checker import get\nfound = get({key!r}).reference"
        )
    else:
        module, attribute = name.rsplit(".", 1)

        def through_path(*args):
            return resolve(name)(*args)

        imported_source = f"from {module} import {attribute} as found"
    namespace: dict = {}
    exec(imported_source + "\n\ndef answer(*args):\n    return found(*args)\n", namespace)
    found = namespace["found"]

    def with_default(*args, function=found):
        return function(*args)

    return [through_path, namespace["answer"], with_default, found]


def _named_in_message(exercise: Exercise, name: str) -> str:
    """The name the guard's message gives: a declared name, also for a reference that is one."""
    if name in exercise.hides:
        return name
    return next((n for n in exercise.hides if resolve(n) is exercise.reference), name)


@pytest.mark.parametrize("lesson", LESSONS)
def test_an_answer_calling_the_reference_fails_and_the_reference_works_afterwards(lesson):
    for key in (k for k in sorted(EXERCISES) if k.startswith(lesson + ".")):
        exercise = EXERCISES[key]
        originals = {name: resolve(name) for name in exercise.hides}
        reference = exercise.reference
        case = exercise.cases(torch.Generator().manual_seed(0))[0]
        before = reference(*copy_inputs(case.args))
        for name in _hidden_names(exercise):
            for answer in _answers_calling(name, key):
                result = diagnose(exercise, answer)
                assert result.status == "wrong", (key, name, result.message)
                assert f"exercise {key} asks you to write this yourself" in result.message
                shown = _named_in_message(exercise, name)
                assert f"{shown} is hidden while your answer runs" in result.message, result.message
        assert all(resolve(name) is obj for name, obj in originals.items())
        assert get(key).reference is reference and not _guards_left()
        after = reference(*copy_inputs(case.args))
        assert exercise.compare(after, before) is None, key


def test_a_module_imported_while_the_answer_runs_keeps_no_guard(tmp_path, monkeypatch):
    """An answer that imports a module binding a hidden name (a student's helper module) leaves no
    guard behind in it."""
    (tmp_path / "student_helpers.py").write_text("from depthnb.viz import abs_rel_map\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "student_helpers", raising=False)

    def answer(pred, target, valid):
        helpers = importlib.import_module("student_helpers")
        assert hasattr(helpers.abs_rel_map, "hidden_name")  # imported while hidden: the guard
        raise NotImplementedError

    assert check("11.3", answer, verbose=False).status == "not yet"
    assert sys.modules["student_helpers"].abs_rel_map is resolve("depthnb.viz.abs_rel_map")
    assert not _guards_left()
    del sys.modules["student_helpers"]


def test_every_declared_name_resolves_and_a_bad_declaration_is_refused():
    for exercise in EXERCISES.values():
        for name in exercise.hides:
            assert callable(resolve(name)), name
    with pytest.raises(ExerciseError, match="names nothing importable"):
        resolve("depthnb.metrics.no_such_function")
    template = EXERCISES["07.1"]
    with pytest.raises(ExerciseError, match="dotted names"):
        Exercise("99.1", "t", "quick", template.reference, template.cases, hides="depthnb.x")
    with pytest.raises(ArgumentError, match="positive, finite"):
        Exercise("99.1", "t", "quick", template.reference, template.cases, time_limit=0)
    with pytest.raises(ArgumentError, match="positive, finite"):
        check("07.1", lambda *a: None, time_limit=float("nan"))


def _endless(*args):
    while True:
        pass


def _endless_even_in_finally(*args):
    try:
        while True:
            pass
    finally:
        while True:
            pass


@needs_timer
@pytest.mark.parametrize("answer", [_endless, _endless_even_in_finally])
def test_an_endless_answer_is_stopped_within_the_limit(answer):
    before = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    overrun = r"case 1 of exercise 07\.1 \(a batch of 3 at 12x16\) did not finish within 0\.5 s"
    with pytest.raises(ExerciseError, match=overrun):
        check("07.1", answer, time_limit=0.5)
    assert time.monotonic() - started < 5.0
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert not _guards_left()
    assert not hasattr(resolve("depthnb.metrics.depth_metrics"), "hidden_name")


@needs_timer
def test_a_network_whose_forward_never_returns_is_stopped_too():
    """03.3's comparison runs the student's network: that is the answer's code, limited too."""
    from depthnb.course.exercises.lesson03 import _UNet  # the reference's network, not hidden

    def build(channels, levels):
        network = _UNet(channels, levels)
        network.forward = _endless
        return network

    with pytest.raises(ExerciseError, match="case 1 of exercise 03.3 .* did not finish within 1 s"):
        check("03.3", build, time_limit=1)


@needs_timer
def test_a_timer_already_running_gets_its_handler_and_remaining_time_back():
    fired = []

    def outer(signum, frame):
        fired.append(signum)

    before = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        with pytest.raises(ExerciseError, match="did not finish"):
            check("09.2", _endless, time_limit=0.3)
        assert signal.getsignal(signal.SIGALRM) is outer
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90.0 < remaining <= 100.0 and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def test_outside_the_main_thread_the_check_runs_without_a_limit_and_says_why():
    def fold(weight, bias, gamma, beta, mean, var, eps):
        factor = gamma / torch.sqrt(var + eps)
        bias = torch.zeros_like(beta) if bias is None else bias
        return weight * factor[:, None, None, None], (bias - mean) * factor + beta

    results, caught = [], []

    def worker():
        with warnings.catch_warnings(record=True) as found:
            warnings.simplefilter("always")
            results.append(check("14.1", fold, verbose=False))
        caught.extend(found)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(60)
    assert results and results[0].passed, results
    assert any("without a time limit" in str(w.message) for w in caught)
    assert any("main thread" in str(w.message) for w in caught)


def test_an_answer_that_overwrites_its_input_fails_saying_which():
    def median_scaled_in_place(pred, target, valid):
        factors = [g[m].median() / p[m].median() for p, g, m in zip(pred, target, valid)]
        return pred.mul_(torch.stack(factors).view(-1, 1, 1, 1))  # the right values, in place

    result = check("07.2", median_scaled_in_place, verbose=False)
    assert result.status == "wrong", result.message
    assert "your function changed its input `pred`" in result.message
    assert "work on a copy" in result.message

    def png_to_metres_filling_holes(values):
        values[values == 0] = 1
        return values.astype(np.float32) * (10 / 255 if values.dtype == np.uint8 else 1 / 1000)

    result = check("01.1", png_to_metres_filling_holes, verbose=False)
    assert "changed its input `values`" in result.message and "holes" in result.message


def test_a_wrong_shape_is_reported_before_any_conversion():
    """A meta tensor has a shape and no data: converting it to float64 on the CPU would raise, so
    the message proves that the shapes were compared first (a 4 GB answer is not copied)."""
    huge = torch.empty(10**6, 1000, device="meta")
    expected = "shape (1000000, 1000), expected (48, 64, 3)"
    assert compare_values(huge, torch.zeros(48, 64, 3)) == expected
    result = check("09.1", lambda depth, intrinsics: huge, verbose=False)
    assert "shape (1000000, 1000), expected (48, 64, 3)" in result.message
    result = check("09.1", lambda depth, intrinsics: np.zeros((7, 5)), verbose=False)
    assert "shape (7, 5), expected (48, 64, 3)" in result.message
