"""Student copies of the lessons: every solution cell replaced by a stub, everything else intact.

A cell tagged ``solution`` (cell metadata ``"tags": ["solution"]``) is one of two kinds:

- an exercise's solution, whose first line is ``# Exercise NN.K (solution)``. It holds imports and
  function definitions only; in the student copy each function keeps its signature and docstring
  and its body becomes ``raise NotImplementedError("exercise NN.K")``. The check cell after it then
  reports "not yet" (:func:`depthnb.exercises.check`);
- a question's prediction, one statement assigning the name ``prediction``:
  ``prediction = 0.25  # your prediction (a number in metres)`` or ``prediction = "b"``. In the
  student copy the value becomes ``None``, the rest of the line (the comment saying what to write)
  kept. The cell after it, ``ask("NN.PK", prediction)``, then reports "not yet"
  (:func:`depthnb.exercises.ask`).

Either way the notebook runs on.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any

from depthnb.errors import ConfigError
from depthnb.utils.files import atomic_write_text

SOLUTION_TAG = "solution"
PREDICTION = "prediction"
"""The name a prediction cell assigns, and the one its ``ask`` cell passes."""
_HEADER = re.compile(r"^# Exercise (\d\d\.\d+) \(solution\)")


def _tagged(cell: dict[str, Any]) -> bool:
    """Whether ``cell`` is a code cell tagged ``solution``."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.get("cell_type") == "code" and SOLUTION_TAG in tags


def solution_key(cell: dict[str, Any]) -> str | None:
    """The exercise key of a solution cell ("09.2"), or None for any other cell (a prediction
    cell too, see :func:`is_prediction`).

    Raises:
        ConfigError: a cell tagged ``solution`` that is neither an exercise's solution (its first
            line ``# Exercise NN.K (solution)``) nor a prediction.
    """
    if not _tagged(cell):
        return None
    source = "".join(cell["source"])
    match = _HEADER.match(source)
    if match is not None:
        return match.group(1)
    if _prediction_value(source) is not None:
        return None
    raise ConfigError(
        f"a cell tagged {SOLUTION_TAG!r} is an exercise's solution, beginning with "
        "'# Exercise NN.K (solution)', or a question's prediction, one line "
        f"'{PREDICTION} = ...  # your prediction (...)'; not one beginning "
        f"{source.splitlines()[0] if source else '(empty)'!r}"
    )


def is_prediction(cell: dict[str, Any]) -> bool:
    """Whether ``cell`` is a question's prediction cell: tagged ``solution``, its one statement
    ``prediction = value``."""
    return _tagged(cell) and _prediction_value("".join(cell["source"])) is not None


def _prediction_value(source: str) -> ast.expr | None:
    """The value that ``source`` assigns to ``prediction``, when that is its one statement."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    if len(body) != 1 or not isinstance(body[0], ast.Assign):
        return None
    (target, *others), value = body[0].targets, body[0].value
    if others or not isinstance(target, ast.Name) or target.id != PREDICTION:
        return None
    return value


def stub_prediction(source: str) -> str:
    """A prediction cell's ``source`` with its value replaced by ``None``, everything else (the
    comment saying what to write) kept: ``prediction = None  # your prediction (...)``.

    Raises:
        ConfigError: ``source`` is not a prediction (one statement, ``prediction = value``).
    """
    value = _prediction_value(source)
    if value is None:
        raise ConfigError(f"not a prediction cell ('{PREDICTION} = ...'): {source[:80]!r}")
    encoded = source.encode()  # the parser's columns count UTF-8 bytes
    line_starts = [0]
    for line in encoded.split(b"\n"):
        line_starts.append(line_starts[-1] + len(line) + 1)
    start = line_starts[value.lineno - 1] + value.col_offset
    end = line_starts[(value.end_lineno or value.lineno) - 1] + (value.end_col_offset or 0)
    return (encoded[:start] + b"None" + encoded[end:]).decode()


def stub_solution(source: str, key: str) -> str:
    """``source`` with each top-level function's body replaced by a NotImplementedError stub
    (signature, decorators, docstring and comments outside the functions kept).

    Raises:
        ConfigError: the cell holds something other than imports and function definitions, or a
            function whose body starts on its ``def`` line.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    out: list[str] = []
    cursor = 0  # lines before this index are copied already
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue  # copied with the lines around it
        if not isinstance(node, ast.FunctionDef):
            raise ConfigError(
                f"exercise {key}: a solution cell holds imports and functions only, found "
                f"{type(node).__name__} on line {node.lineno}"
            )
        first = node.body[0]
        if first.lineno == node.lineno:
            raise ConfigError(f"exercise {key}: put the body of {node.name}() on its own lines")
        documented = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        keep = first.end_lineno if documented and first.end_lineno else first.lineno - 1
        out += lines[cursor:keep]
        out.append(" " * first.col_offset + f'raise NotImplementedError("exercise {key}")')
        cursor = node.end_lineno or keep
    out += lines[cursor:]
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def student_notebook(notebook: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A student copy of a notebook (a new dict), its solution and prediction cells stubbed, and
    the keys of the exercises it stubbed."""
    copy = json.loads(json.dumps(notebook))
    keys = []
    for cell in copy["cells"]:
        key = solution_key(cell)
        source = "".join(cell["source"])
        if key is not None:
            stubbed = stub_solution(source, key)
            keys.append(key)
        elif is_prediction(cell):
            stubbed = stub_prediction(source)
        else:
            continue
        cell["source"] = stubbed.splitlines(keepends=True)
        cell["outputs"], cell["execution_count"] = [], None
    return copy, keys


def write_student_copies(
    notebooks: str | os.PathLike[str], out: str | os.PathLike[str]
) -> list[Path]:
    """Write a student copy of every lesson ``NN_*.ipynb`` of ``notebooks`` into ``out`` (same
    names; each written to a temporary name and renamed). Returns the paths written.

    Raises:
        ConfigError: ``notebooks`` holds no lesson, or ``out`` is ``notebooks`` itself.
    """
    source, target = Path(notebooks), Path(out)
    lessons = sorted(source.glob("[0-9][0-9]_*.ipynb"))
    if not lessons:
        raise ConfigError(f"{source}: no lesson notebooks (NN_name.ipynb) to copy")
    if target.resolve() == source.resolve():
        raise ConfigError(f"{target}: write the student copies elsewhere, not over the lessons")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for lesson in lessons:
        copy, _ = student_notebook(json.loads(lesson.read_text(encoding="utf-8")))
        text = json.dumps(copy, indent=1, ensure_ascii=False) + "\n"
        written.append(atomic_write_text(target / lesson.name, text))
    return written
