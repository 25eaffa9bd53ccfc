"""The student copies run top to bottom in quick mode: every check cell says "not yet" where the
solution was taken out, and nothing after it breaks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from depthnb.exercises.student import solution_key, write_student_copies

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.slow  # each test runs a whole lesson


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("student")
    write_student_copies(NOTEBOOKS, folder)
    return folder


@pytest.mark.parametrize("lesson", LESSONS)
def test_a_student_copy_runs_and_reports_not_yet(student, lesson):
    path = student / lesson
    stubbed = [solution_key(c) for c in json.loads(path.read_text())["cells"] if solution_key(c)]
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": str(student)}},
    ).execute()  # raises CellExecutionError if any cell fails
    said = [
        "".join(output.get("text", ""))
        for cell in notebook.cells
        if cell.cell_type == "code" and "check(" in cell.source
        for output in cell.outputs
    ]
    for key in stubbed:
        assert any(text.startswith(f"{key} ") and "not yet" in text for text in said), key
