"""The student copies: only the solution cells differ from the lessons, nothing outside the
exercises uses a solution, and every check cell says "not yet" where the solution was taken out.

The lessons themselves run top to bottom under nbval (with the solutions). A student copy differs
from its lesson only in the stubbed solution cells, so only what differs is run here: the lesson's
setup cell, then each stubbed solution cell and the check cells after it, in one kernel per lesson.
That nothing after an exercise breaks without its solution is shown without running the lesson
again: no other code cell names a function that a solution cell defines.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from depthnb.course.exercises.student import solution_key, write_student_copies

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("student")
    write_student_copies(NOTEBOOKS, folder)
    return folder


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def python_of(cell: dict) -> str:
    """A code cell's source with magics and shell lines (``%pip``, ``!ls``) made ``pass``."""
    lines = "".join(cell["source"]).splitlines()
    return "\n".join(
        line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip()[:1] in ("%", "!") else line
        for line in lines
    )


def is_check(cell: dict) -> bool:
    return cell["cell_type"] == "code" and "check(" in "".join(cell["source"])


def defined_functions(cell: dict) -> set[str]:
    return {n.name for n in ast.parse(python_of(cell)).body if isinstance(n, ast.FunctionDef)}


def names_used(cell: dict) -> set[str]:
    tree = ast.parse(python_of(cell))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


@pytest.mark.parametrize("lesson", LESSONS)
def test_only_the_solution_cells_differ(student, lesson):
    original, copy = cells(NOTEBOOKS / lesson), cells(student / lesson)
    assert len(original) == len(copy)
    stubbed = [i for i, cell in enumerate(original) if solution_key(cell)]
    assert stubbed, f"{lesson} has no exercise"
    for index, (before, after) in enumerate(zip(original, copy)):
        if index in stubbed:
            assert "NotImplementedError" in "".join(after["source"])
        else:
            assert before["source"] == after["source"], f"{lesson} cell {index} differs"


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_cell_outside_the_exercises_uses_a_solution(lesson):
    lesson_cells = cells(NOTEBOOKS / lesson)
    solutions = set().union(*(defined_functions(c) for c in lesson_cells if solution_key(c)))
    for index, cell in enumerate(lesson_cells):
        if cell["cell_type"] != "code" or solution_key(cell) or is_check(cell):
            continue
        used = names_used(cell) & solutions
        assert not used, f"{lesson} cell {index} uses {sorted(used)}, which the student writes"


def exercise_notebook(path: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """The setup cell of the student copy at ``path``, then its solution and check cells; and
    the exercise keys of its solution cells."""
    notebook = nbformat.read(path, as_version=4)
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    keys = [key for key in map(solution_key, notebook.cells) if key]
    kept = [cell for cell in notebook.cells if solution_key(cell) or is_check(cell)]
    notebook.cells = [setup, *kept]
    return notebook, keys


@pytest.mark.parametrize("lesson", LESSONS)
def test_a_student_copy_reports_not_yet(student, lesson):
    notebook, keys = exercise_notebook(student / lesson)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(student)}},
    ).execute()  # raises CellExecutionError if any cell fails
    said = [
        "".join(output.get("text", ""))
        for cell in notebook.cells
        if is_check(cell)
        for output in cell.outputs
    ]
    for key in keys:
        assert any(text.startswith(f"{key} ") and "not yet" in text for text in said), key
