"""Student copies of the lessons: every solution cell replaced by a stub, everything else intact.

A solution cell is a code cell tagged ``solution`` (cell metadata ``"tags": ["solution"]``) whose
first line is ``# Exercise NN.K (solution)``. It holds imports and function definitions only; in
the student copy each function keeps its signature and docstring and its body becomes
``raise NotImplementedError("exercise NN.K")``. The check cell after it then reports "not yet"
(:func:`depthnb.exercises.check`), and the notebook runs on.
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
_HEADER = re.compile(r"^# Exercise (\d\d\.\d+) \(solution\)")


def solution_key(cell: dict[str, Any]) -> str | None:
    """The exercise key of a solution cell ("09.2"), or None for any other cell.

    Raises:
        ConfigError: a cell tagged ``solution`` without the ``# Exercise NN.K (solution)`` line.
    """
    if cell.get("cell_type") != "code" or SOLUTION_TAG not in cell.get("metadata", {}).get(
        "tags", []
    ):
        return None
    source = "".join(cell["source"])
    match = _HEADER.match(source)
    if match is None:
        raise ConfigError(
            f"a cell tagged {SOLUTION_TAG!r} must begin with '# Exercise NN.K (solution)', "
            f"not {source.splitlines()[0] if source else '(empty)'!r}"
        )
    return match.group(1)


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
    """A student copy of a notebook (a new dict) and the keys of the exercises it stubbed."""
    copy = json.loads(json.dumps(notebook))
    keys = []
    for cell in copy["cells"]:
        key = solution_key(cell)
        if key is not None:
            stubbed = stub_solution("".join(cell["source"]), key)
            cell["source"] = stubbed.splitlines(keepends=True)
            cell["outputs"], cell["execution_count"] = [], None
            keys.append(key)
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
