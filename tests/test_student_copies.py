"""The student copies: only the solution cells (and the questions' prediction cells) differ from
the lessons, nothing outside the exercises and questions uses a solution, and every check and ask
cell says "not yet" where the solution or the prediction was taken out.

The lessons themselves run top to bottom under nbval (with the solutions). A student copy differs
from its lesson only in the stubbed cells, so only what differs is run here: the lesson's setup
cell, then each stubbed cell and the check and ask cells after it, in one kernel per lesson. That
nothing after an exercise breaks without its solution is shown without running the lesson again: no
other code cell names a function that a solution cell defines, or the prediction.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from depthnb.course.exercises.student import (
    PREDICTION,
    is_prediction,
    solution_key,
    write_student_copies,
)

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
    """A cell that checks an exercise or asks a question."""
    source = "".join(cell["source"])
    return cell["cell_type"] == "code" and re.search(r"\b(check|ask)\(", source) is not None


def is_stubbed(cell: dict) -> bool:
    """A cell that the student copy stubs: an exercise's solution or a question's prediction."""
    return bool(solution_key(cell)) or is_prediction(cell)


def defined_functions(cell: dict) -> set[str]:
    """What a stubbed cell defines that the student writes: its functions, or the prediction."""
    if is_prediction(cell):
        return {PREDICTION}
    return {n.name for n in ast.parse(python_of(cell)).body if isinstance(n, ast.FunctionDef)}


def names_used(cell: dict) -> set[str]:
    tree = ast.parse(python_of(cell))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


@pytest.mark.parametrize("lesson", LESSONS)
def test_only_the_solution_cells_differ(student, lesson):
    original, copy = cells(NOTEBOOKS / lesson), cells(student / lesson)
    assert len(original) == len(copy)
    stubbed = [i for i, cell in enumerate(original) if is_stubbed(cell)]
    assert any(solution_key(original[i]) for i in stubbed), f"{lesson} has no exercise"
    for index, (before, after) in enumerate(zip(original, copy)):
        if index in stubbed:
            stub = "prediction = None" if is_prediction(before) else "NotImplementedError"
            assert stub in "".join(after["source"])
        else:
            assert before["source"] == after["source"], f"{lesson} cell {index} differs"


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_cell_outside_the_exercises_uses_a_solution(lesson):
    lesson_cells = cells(NOTEBOOKS / lesson)
    solutions = set().union(*(defined_functions(c) for c in lesson_cells if is_stubbed(c)))
    for index, cell in enumerate(lesson_cells):
        if cell["cell_type"] != "code" or is_stubbed(cell) or is_check(cell):
            continue
        used = names_used(cell) & solutions
        assert not used, f"{lesson} cell {index} uses {sorted(used)}, which the student writes"


def exercise_notebook(path: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """The setup cell of the student copy at ``path``, then its stubbed cells and the check and
    ask cells; and the keys of its exercises and of the questions it asks."""
    notebook = nbformat.read(path, as_version=4)
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    keys = [key for key in map(solution_key, notebook.cells) if key]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            keys += re.findall(r'\bask\("(\d\d\.P\d+)"', "".join(cell.source))
    kept = [cell for cell in notebook.cells if is_stubbed(cell) or is_check(cell)]
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
        said_it = (text.startswith((f"{key} ", f"{key}:")) and "not yet" in text for text in said)
        assert any(said_it), key
