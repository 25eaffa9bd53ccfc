"""The conventions of DESIGN.md (and depthnb's top docstring), checked by reading the code.

- losses and metrics take ``(pred, target, valid)`` in that order, with those names;
- every size is (H, W): no public signature takes ``width`` before ``height``;
- one name per setting: ``batch_size``, ``workers``, ``steps``, ``target``; never ``gt``,
  ``num_workers``, ``n_steps`` or an int ``batch``;
- one default depth range (``MIN_DEPTH``, ``MAX_DEPTH`` of :mod:`depthnb.encodings`);
- exceptions are defined in ``errors.py`` only, each also a builtin a user would catch, and the bare
  base class is never raised.

The signatures are read from the source (``ast``), so optional packages need not be installed.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

import depthnb
from depthnb import errors

PACKAGE = Path(depthnb.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))

#: Losses and metrics whose inputs are not a prediction and its target, with the reason.
NOT_PRED_TARGET = {
    # self-supervised: a target frame, source frames, the predicted depth and poses, no truth
    "photometric_reprojection_loss",
    # a baseline fitted to the truth alone: there is no prediction (as metrics.baseline's)
    "best_constant_disparity",
}
#: Names a setting or an argument of one meaning must not go by (the name to use instead).
RETIRED_NAMES = {
    "gt": "target",
    "num_workers": "workers",
    "n_steps": "steps",
    "pred_disp": "pred",
    "target_depth": "target",
}


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _public_signatures(paths: list[Path]) -> Iterator[tuple[str, list[ast.arg]]]:
    """(where, parameters) of every public function and method of public classes in ``paths``."""

    def walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, list[ast.arg]]]:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                yield from walk(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("_") and node.name != "__init__":
                    continue
                args = node.args
                parameters = [*args.posonlyargs, *args.args, *args.kwonlyargs]
                if parameters and parameters[0].arg in ("self", "cls"):
                    parameters = parameters[1:]
                yield f"{prefix}{node.name}", parameters

    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        yield from walk(tree.body, f"{_relative(path)}:")


def _names(parameters: list[ast.arg]) -> list[str]:
    return [p.arg for p in parameters]


def test_the_signature_reader_sees_the_library():
    found = dict(_public_signatures(SOURCES))
    assert _names(found["depthnb/metrics/depth.py:depth_metrics"])[:3] == [
        "pred",
        "target",
        "valid",
    ]
    assert "depthnb/metrics/depth.py:DepthMetricAccumulator.update" in found
    assert len(found) > 300


def test_losses_and_metrics_take_pred_target_valid_in_that_order():
    folders = [PACKAGE / "losses", PACKAGE / "metrics"]
    paths = [p for folder in folders for p in sorted(folder.glob("*.py"))]
    paths += [PACKAGE / "video.py", PACKAGE / "viz" / "colors.py"]
    checked, wrong = 0, []
    for where, parameters in _public_signatures(paths):
        names = _names(parameters)
        if where.rsplit(":", 1)[1] in NOT_PRED_TARGET or "target" not in names:
            continue
        checked += 1
        expected = ["pred", "target", "valid"] if "valid" in names else ["pred", "target"]
        if names[: len(expected)] != expected:
            wrong.append(f"{where}{tuple(names)}")
    assert not wrong, f"these do not start with (pred, target[, valid]): {wrong}"
    assert checked >= 20  # l1, berhu, gradient, ssim, ..., depth_metrics, align_*, flicker


def test_every_size_is_height_then_width():
    wrong = [
        f"{where}{tuple(_names(parameters))}"
        for where, parameters in _public_signatures(SOURCES)
        if any(
            a == "width" and b == "height"
            for a, b in zip(_names(parameters), _names(parameters)[1:])
        )
    ]
    assert not wrong, f"(width, height) order: {wrong}; take size=(H, W) or (height, width)"


def test_one_name_per_setting():
    wrong = []
    for where, parameters in _public_signatures(SOURCES):
        for parameter in parameters:
            if parameter.arg in RETIRED_NAMES:
                wrong.append(f"{where}: {parameter.arg} (say {RETIRED_NAMES[parameter.arg]})")
            annotation = ast.unparse(parameter.annotation) if parameter.annotation else ""
            if parameter.arg == "batch" and annotation == "int":
                wrong.append(f"{where}: batch (a count: say batch_size)")
    assert not wrong, wrong


def test_one_default_depth_range():
    from depthnb.encodings import DEPTHNORM_MIN_DEPTH, MAX_DEPTH, MIN_DEPTH, InverseEncoding
    from depthnb.metrics import depth_metrics, evaluate
    from depthnb.metrics.align import align_in_disparity
    from depthnb.metrics.baseline import best_constants
    from depthnb.metrics.depth import DepthMetricAccumulator

    for function in (depth_metrics, evaluate, align_in_disparity, best_constants):
        parameters = inspect.signature(function).parameters
        assert parameters["min_depth"].default == MIN_DEPTH, function.__name__
        assert parameters["max_depth"].default == MAX_DEPTH, function.__name__
    accumulator = DepthMetricAccumulator()
    assert (accumulator.min_depth, accumulator.max_depth) == (MIN_DEPTH, MAX_DEPTH)
    # DenseDepth's DepthNorm keeps the paper's 10 cm (its targets lie in [1, 100])
    assert InverseEncoding() == InverseEncoding(DEPTHNORM_MIN_DEPTH, MAX_DEPTH)
    assert InverseEncoding().data_range == pytest.approx(100.0)


# ----------------------------------------------------------------------------------------- errors
def _error_classes() -> list[type[BaseException]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    ]


@pytest.mark.parametrize("error", _error_classes(), ids=lambda error: error.__name__)
def test_every_error_is_a_depthnb_error_and_a_builtin_a_user_would_catch(error):
    assert issubclass(error, errors.DepthnbError)
    if error is errors.DepthnbError:
        return
    builtin = [
        base
        for base in error.__mro__
        if base.__module__ == "builtins" and base not in (Exception, BaseException, object)
    ]
    assert builtin, f"{error.__name__} derives from no builtin besides Exception"
    assert error.__doc__ and error.__name__ in (errors.__doc__ or "")  # listed in the table
    assert getattr(depthnb, error.__name__) is error  # and reachable as depthnb.<Name>


def test_every_error_class_is_caught_by_its_builtin():
    with pytest.raises(ValueError):
        raise errors.ShapeError("a shape mismatch is a ValueError")
    with pytest.raises(ImportError):
        raise errors.MissingPackageError("a missing package is an ImportError")
    with pytest.raises(OSError):
        raise errors.DownloadError("a failed download is an OSError")


def _is_exception_class(node: ast.ClassDef) -> bool:
    for base in node.bases:
        name = ast.unparse(base).rsplit(".", 1)[-1]
        builtin = getattr(builtins, name, None)
        if name.endswith(("Error", "Exception", "Warning")) or (
            isinstance(builtin, type) and issubclass(builtin, BaseException)
        ):
            return True
    return False


def test_exceptions_are_defined_in_errors_py_only():
    """Public exceptions live in errors.py; a module may keep a private control-flow signal
    (``_Retry`` in the downloader, ``_OutOfTime`` in the exercise guards) that it raises and
    catches itself and that never reaches a caller."""
    defined = []
    for path in SOURCES:
        if path == PACKAGE / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and _is_exception_class(node):
                defined.append((_relative(path), node.name))
    public = [(path, name) for path, name in defined if not name.startswith("_")]
    assert not public, f"define these in depthnb/errors.py: {public}"
    assert {name for _, name in defined} <= {"_Retry", "_Restart", "_OutOfTime"}, defined


def _raised_names() -> Iterator[tuple[str, int, str]]:
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                yield _relative(path), node.lineno, ast.unparse(node.exc.func)


def test_the_base_class_is_never_raised_bare():
    bare = [f"{path}:{line}" for path, line, name in _raised_names() if name == "DepthnbError"]
    assert not bare, f"raise the subclass that says what went wrong: {bare}"


def test_builtins_are_raised_only_for_python_protocols():
    """``AttributeError`` from a module's ``__getattr__``, ``IndexError`` from ``__getitem__``,
    ``NotImplementedError`` from an abstract method: what Python itself expects; every other
    mistake raises a class of errors.py."""
    protocols = {"AttributeError", "IndexError", "NotImplementedError"}
    wrong = [
        f"{path}:{line} {name}"
        for path, line, name in _raised_names()
        if hasattr(builtins, name) and name not in protocols
    ]
    assert not wrong, wrong
