"""What keeps a student's answer honest while :func:`depthnb.exercises.check` runs it: a time limit
per case, inputs checked for in-place changes, and the package's own reference hidden.

Time limit. A Python thread cannot be killed, and a subprocess cannot run a function defined in a
notebook (it does not pickle), so the answer runs in the caller's thread under an interval timer
(``signal.setitimer``, ``SIGALRM``): when the limit passes, the signal handler raises inside the
answer, at its next Python instruction, and the check raises :class:`ExerciseError` naming the case.
The interruption is a ``BaseException`` (an answer's ``except Exception`` does not catch it) and
repeats every second, so a ``finally`` block that loops too is interrupted again; only an answer
that catches every ``BaseException`` inside its loop cannot be stopped from within the process.
The previous handler and any timer already running (pytest-timeout's, say) are put back
afterwards. Signals reach only the main thread of a POSIX
interpreter (where Jupyter runs a cell); elsewhere (another thread, Windows) the check runs without
a limit and warns once saying why. A call into compiled code (one huge matrix product) is
interrupted only when it returns to Python.

Hidden references. While the answer runs, every name that the exercise declares
(``Exercise.hides``, dotted, e.g. ``"depthnb.metrics.depth_metrics"``) and the exercise's own
reference are replaced, wherever the same object is bound, by a guard that raises
:class:`ExerciseError` ("exercise 07.1 asks you to write this yourself; ..."): in every loaded
``depthnb`` module (and its module-level dicts, such as a registry of losses), in the modules of the
package that defines the name (``torch`` for ``torch.utils.data.DistributedSampler``), in
``__main__``, and in the answer's own globals, closure and default arguments (a notebook's
``from depthnb.metrics import depth_metrics``). Everything is put back afterwards, also in modules
imported while the answer ran. This stops an answer that calls the reference; it is not a security
boundary (an answer can still copy the package's source), and other threads of the process see the
guards too while the answer runs.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import signal
import sys
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from depthnb.errors import ArgumentError, ExerciseError

DEFAULT_TIME_LIMIT = 20.0
"""Seconds per case: about 100 times what the course's solutions take on a loaded laptop core."""

_REPEAT = 1.0  # seconds between further interruptions of an answer that swallowed the first


class _OutOfTime(BaseException):
    """Raised inside the answer by the timer's handler; a BaseException, so that an answer's own
    ``except Exception`` does not swallow it."""


def no_limit_reason() -> str | None:
    """Why no time limit can be set here (None when one can)."""
    if not hasattr(signal, "setitimer") or not hasattr(signal, "SIGALRM"):
        return "this platform has no SIGALRM interval timer (Windows)"
    if threading.current_thread() is not threading.main_thread():
        return "signals reach only the main thread, and this check runs in another one"
    if signal.getsignal(signal.SIGALRM) is None:
        return "SIGALRM is handled outside Python in this process"
    return None


def check_time_limit(seconds: float) -> float:
    """``seconds`` as a float if it is a usable time limit (positive, finite).

    Raises:
        ArgumentError: anything else.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ArgumentError(
            f"time_limit={seconds!r}: give the seconds per case as a number, e.g. 60"
        )
    if not 0 < seconds < float("inf"):
        raise ArgumentError(f"time_limit={seconds!r}: give a positive, finite number of seconds")
    return float(seconds)


def run_limited(
    seconds: float | None, overrun: Callable[[], str], call: Callable[..., Any], *args: Any
) -> Any:
    """``call(*args)``, stopped after ``seconds`` (None: no limit; see :func:`no_limit_reason` for
    where no limit can be set, then it simply runs).

    Raises:
        ExerciseError: the call did not return in time; the message is ``overrun()``.
    """
    if seconds is None or no_limit_reason() is not None:
        return call(*args)
    armed = [True]

    def interrupt(signum: int, frame: Any) -> None:
        if armed[0]:
            raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, interrupt)
    started = time.monotonic()
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds, _REPEAT)
    try:
        try:
            return call(*args)
        finally:
            armed[0] = False  # from here on the handler ignores the timer
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _OutOfTime:
        raise ExerciseError(overrun()) from None
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:  # someone else's timer was running: its remaining time (if it fell
            # due during the check, it fires at once now)
            left = outer_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)


def warn_if_unlimited(key: str) -> None:
    """Warn (once per place) that exercise ``key`` is checked without a time limit, and why."""
    reason = no_limit_reason()
    if reason is not None:
        warnings.warn(
            f"exercise {key} is checked without a time limit: {reason}; an answer that never "
            "returns will hang (interrupt the kernel to stop it)",
            RuntimeWarning,
            stacklevel=4,  # the notebook's call of check()
        )


# ------------------------------------------------------------------------ inputs changed in place
def copy_inputs(args: Sequence[Any]) -> tuple[Any, ...]:
    """Independent copies of a case's arguments (tensors cloned, arrays copied, the rest deep)."""
    return tuple(_copy(value) for value in args)


def _copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    return copy.deepcopy(value)


def same_value(a: Any, b: Any) -> bool:
    """Whether ``a`` is still exactly ``b`` (type, shape, dtype and every value; NaN equals NaN)."""
    if isinstance(b, torch.Tensor):
        if not isinstance(a, torch.Tensor) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(torch.equal(a, b)) or bool(
            (b.is_floating_point() or b.is_complex()) and torch.allclose(a, b, 0, 0, equal_nan=True)
        )
    if isinstance(b, np.ndarray):
        if not isinstance(a, np.ndarray) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=b.dtype.kind in "fc"))
    if isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(b, dict):
        same_keys = isinstance(a, dict) and a.keys() == b.keys()
        return same_keys and all(same_value(a[k], b[k]) for k in b)
    return bool(type(a) is type(b) and a == b)


def changed_input(given: Sequence[Any], original: Sequence[Any]) -> int | None:
    """The index of the first argument that the answer changed in place, or None."""
    for index, (after, before) in enumerate(zip(given, original)):
        if not same_value(after, before):
            return index
    return None


def argument_names(function: Callable[..., Any], count: int) -> list[str]:
    """The names of ``function``'s first ``count`` parameters ("argument 3" where unknown)."""
    try:
        names = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(count)]


# --------------------------------------------------------------------------- hidden references
def resolve(name: str) -> Any:
    """The object a dotted name stands for ("depthnb.metrics.depth_metrics").

    Raises:
        ExerciseError: no module and attribute of that name.
    """
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                found = getattr(found, attribute)
        except AttributeError:
            break
        return found
    raise ExerciseError(f"{name!r} names nothing importable; an exercise hides dotted names only")


def _guard(name: str, key: str) -> Callable[..., Any]:
    message = (
        f"exercise {key} asks you to write this yourself; {name} is hidden while your answer runs "
        "(it works again after the check)"
    )

    def hidden(*args: Any, **kwargs: Any) -> Any:
        raise ExerciseError(message)

    hidden.__name__ = hidden.__qualname__ = name.rsplit(".", 1)[-1]
    hidden.__doc__ = message
    hidden.hidden_name = name  # type: ignore[attr-defined]
    return hidden


def _modules(roots: Iterable[str]) -> list[types.ModuleType]:
    """Loaded modules named ``__main__`` or under one of ``roots`` (top-level package names)."""
    tops = set(roots)
    return [
        module
        for name, module in list(sys.modules.items())
        if isinstance(module, types.ModuleType)
        and (name == "__main__" or name.split(".", 1)[0] in tops)
    ]


def _function_of(answer: Any) -> types.FunctionType | None:
    """The Python function whose globals, closure and defaults an answer runs with, if any."""
    if isinstance(answer, functools.partial):
        answer = answer.func
    if inspect.ismethod(answer):
        answer = answer.__func__
    if not inspect.isfunction(answer) and not isinstance(answer, type):
        answer = vars(type(answer)).get("__call__")  # an object with a __call__ method
    return answer if inspect.isfunction(answer) else None


class Hidden:
    """A context in which ``targets`` (dotted name -> object) are replaced by guards; see the
    module's docstring for where. ``attributes`` are further (object, attribute name) slots to
    guard when they hold a target (an exercise's ``reference``)."""

    def __init__(
        self,
        key: str,
        targets: dict[str, Any],
        answer: Any = None,
        attributes: Sequence[tuple[Any, str]] = (),
    ) -> None:
        self.guards = {id(obj): (obj, _guard(name, key)) for name, obj in targets.items()}
        roots = {"depthnb"}
        for obj in targets.values():
            module = getattr(obj, "__module__", None)
            if isinstance(module, str):
                roots.add(module.split(".", 1)[0])
        self.roots = roots
        self.answer = _function_of(answer)
        self.attributes = attributes
        self.undo: list[Callable[[], None]] = []
        self.modules_before: set[str] = set()

    def _swap_in(self, namespace: dict[str, Any], depth: int) -> None:
        for name, value in list(namespace.items()):
            found = self.guards.get(id(value))
            if found is not None and found[0] is value:
                self._set(namespace, name, found[1], value)
            elif depth and type(value) is dict and name != "__builtins__":
                self._swap_in(value, depth - 1)  # a module-level registry of functions

    def _set(self, namespace: dict[str, Any], name: str, guard: Any, original: Any) -> None:
        namespace[name] = guard

        def put_back() -> None:
            if namespace.get(name) is guard:
                namespace[name] = original

        self.undo.append(put_back)

    def _guard_function(self, function: types.FunctionType) -> None:
        self._swap_in(function.__globals__, depth=0)
        for cell in function.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            found = self.guards.get(id(value))
            if found is not None and found[0] is value:
                cell.cell_contents = found[1]
                self.undo.append(functools.partial(setattr, cell, "cell_contents", value))
        defaults = function.__defaults__
        if defaults and any(id(value) in self.guards for value in defaults):
            function.__defaults__ = tuple(self._guarded(value) for value in defaults)
            self.undo.append(functools.partial(setattr, function, "__defaults__", defaults))
        if function.__kwdefaults__:
            self._swap_in(function.__kwdefaults__, depth=0)

    def _guarded(self, value: Any) -> Any:
        found = self.guards.get(id(value))
        return found[1] if found is not None and found[0] is value else value

    def answer_to_run(self, answer: Callable[..., Any]) -> Callable[..., Any]:
        """``answer``, or its guard when the answer is itself a hidden function (or a
        ``functools.partial`` of one)."""
        inner = answer.func if isinstance(answer, functools.partial) else answer
        guard = self._guarded(inner)
        return answer if guard is inner else guard

    def __enter__(self) -> Hidden:
        self.modules_before = set(sys.modules)
        try:
            for module in _modules(self.roots):
                self._swap_in(vars(module), depth=1 if module.__name__.startswith("depthnb") else 0)
            for owner, attribute in self.attributes:
                value = getattr(owner, attribute)
                if id(value) in self.guards:
                    object.__setattr__(owner, attribute, self._guarded(value))
                    self.undo.append(functools.partial(object.__setattr__, owner, attribute, value))
            if self.answer is not None:
                self._guard_function(self.answer)
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._restore()

    def _restore(self) -> None:
        for put_back in reversed(self.undo):
            put_back()
        self.undo.clear()
        originals = {id(guard): original for original, guard in self.guards.values()}
        new = set(sys.modules) - self.modules_before
        for name in new | {n for n in sys.modules if n.split(".", 1)[0] == "depthnb"}:
            module = sys.modules.get(name)
            if isinstance(module, types.ModuleType):
                namespace = vars(module)
                for attribute, value in list(namespace.items()):
                    if id(value) in originals:  # bound while the answer ran: a copy of a guard
                        namespace[attribute] = originals[id(value)]


@contextmanager
def hidden(
    key: str,
    names: Sequence[str],
    reference: Any,
    answer: Any = None,
    attributes: Sequence[tuple[Any, str]] = (),
) -> Iterator[Hidden]:
    """Hide ``names`` (dotted) and ``reference`` (the exercise's own, named after ``key``) while
    the block runs; see :class:`Hidden`."""
    targets = {f"depthnb.course.exercises.checker.get({key!r}).reference": reference}
    targets.update((name, resolve(name)) for name in names)  # a declared name is the clearer one
    with Hidden(key, targets, answer, attributes) as guarding:
        yield guarding
