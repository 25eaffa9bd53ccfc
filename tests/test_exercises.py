"""Every exercise's check: the notebook's solution passes (with the package's reference hidden),
each listed mistake gets its own message, each accepted answer passes and is told which it is, a
stub gets "not yet"; the student copies stub exactly the solution cells. The checker's guards
(time limit, hidden reference, inputs changed in place) are tested in test_exercise_guards.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from depthnb.cli.main import main
from depthnb.course.exercises.checker import diagnose, exercises, get
from depthnb.course.exercises.student import (
    is_prediction,
    solution_key,
    stub_prediction,
    stub_solution,
    write_student_copies,
)
from depthnb.errors import ConfigError, ExerciseError
from depthnb.exercises import check

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISES = exercises()


def _solutions() -> dict[str, tuple[str, str]]:
    """Every notebook's solution: exercise key -> (the solution cell's source, the name its check
    cell passes to ``check``)."""
    found = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for index, cell in enumerate(cells):
            key = solution_key(cell)
            if key:
                after = "".join(cells[index + 1]["source"])
                call = re.search(rf'check\("{re.escape(key)}", (\w+)', after)
                assert call, f"{path.name}: the check cell after {key} passes no function by name"
                found[key] = ("".join(cell["source"]), call.group(1))
    return found


SOLUTIONS = _solutions()


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_the_notebook_solution_passes_with_the_reference_hidden(key):
    """The solutions run as a student's cells would (their own namespace), under the checker's
    hiding, time limit and input check: none of them calls the package's reference."""
    source, name = SOLUTIONS[key]
    namespace: dict = {}
    exec(compile(source, f"solution {key}", "exec"), namespace)
    result = diagnose(EXERCISES[key], namespace[name])
    assert result.passed, result.message


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_mistake_gets_its_message(key):
    exercise = EXERCISES[key]
    assert exercise.mistakes, f"{key}: list the common mistakes"
    messages = set()
    for mistake in exercise.mistakes:
        result = diagnose(exercise, mistake.wrong)
        assert result.status == "wrong" and result.mistake == mistake.name, (mistake.name, result)
        assert mistake.message in result.message
        messages.add(mistake.message)
    assert len(messages) == len(exercise.mistakes), "each mistake needs its own message"


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_accepted_answer_passes_and_is_told_which_it_is(key):
    exercise = EXERCISES[key]
    for other in exercise.accepted:
        result = diagnose(exercise, other.solution)
        assert result.passed and result.accepted == other.name, (other.name, result)
        assert other.message in result.message and result.mistake is None


def test_the_ssi_loss_takes_the_papers_reduction_and_the_codes():
    """MiDaS's paper averages each image over its own valid pixels; its released code divides the
    batch's sum by the batch's valid pixels by default. 03.3 passes both, and says which is whose;
    its cases tell the two apart (images with different numbers of valid pixels)."""
    exercise = EXERCISES["05.1"]
    (paper,) = exercise.accepted
    cases = exercise.cases(torch.Generator().manual_seed(0))
    assert any(
        not torch.isclose(exercise.reference(*case.args), paper.solution(*case.args))
        for case in cases
    )
    result = diagnose(exercise, paper.solution)
    assert result.passed and "paper's reduction" in result.message
    source, name = SOLUTIONS["05.1"]  # the notebook's solution divides by the batch's pixels
    namespace: dict = {}
    exec(compile(source, "solution 03.3", "exec"), namespace)
    result = diagnose(exercise, namespace[name])
    assert result.passed and result.accepted is None
    assert "released code's default" in result.message and "paper" in result.message
    assert all(mistake.name != "mean per image" for mistake in exercise.mistakes)


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_a_stub_is_not_yet_and_a_crash_is_reported_in_words(key, capsys):
    def stub(*args):
        raise NotImplementedError(f"exercise {key}")

    def broken(*args):
        raise IndexError("index 9 is out of bounds")

    assert check(key, stub).status == "not yet"
    assert "not yet" in capsys.readouterr().out
    result = check(key, broken, verbose=False)
    assert result.status == "wrong" and "IndexError" in result.message and "(on " in result.message


def test_an_unknown_key_names_the_keys_that_exist():
    with pytest.raises(ExerciseError, match="the exercises are"):
        get("99.9")


def test_every_lesson_ends_in_one_to_three_exercises_each_a_solution_then_a_check():
    lessons = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in lessons:
        cells = json.loads(path.read_text())["cells"]
        lesson = path.name[:2]
        keys = [k for k in EXERCISES if k.startswith(lesson + ".")]
        assert 1 <= len(keys) <= 3, (
            f"{path.name}: {len(keys)} exercises (a lab has room for 1 to 3)"
        )
        substantial = [k for k in keys if EXERCISES[k].difficulty == "substantial"]
        assert len(substantial) <= 1, f"{path.name}: more than one substantial exercise"
        for key in substantial:
            title = re.compile(rf"(### |\*\*)Exercise {re.escape(key)}\b[^\n]*homework")
            texts = ["".join(c["source"]) for c in cells]
            assert any(title.search(t) for t in texts), f"{path.name}: {key} not marked homework"
        solutions = [(i, solution_key(cell)) for i, cell in enumerate(cells)]
        found = [key for _, key in solutions if key]
        assert found == keys, f"{path.name}: solution cells {found}, exercises {keys}"
        for index, key in solutions:
            if key:
                after = "".join(cells[index + 1]["source"])
                assert f'check("{key}"' in after, f"{path.name}: no check cell after {key}"


SOLUTION = '''# Exercise 09.1 (solution)
import torch


def back_project(depth, intrinsics):
    """(H,W) metres -> (H,W,3)."""
    fx, fy, cx, cy = intrinsics.tolist()
    return depth


@torch.no_grad()
def helper(x):
    return x
'''


def test_a_stub_keeps_signature_docstring_and_imports():
    stub = stub_solution(SOLUTION, "09.1")
    assert stub == (
        "# Exercise 09.1 (solution)\nimport torch\n\n\ndef back_project(depth, intrinsics):\n"
        '    """(H,W) metres -> (H,W,3)."""\n    raise NotImplementedError("exercise 09.1")\n\n\n'
        '@torch.no_grad()\ndef helper(x):\n    raise NotImplementedError("exercise 09.1")\n'
    )
    namespace: dict = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="exercise 09.1"):
        namespace["back_project"](torch.ones(2, 2), torch.ones(4))
    with pytest.raises(ConfigError, match="imports and functions only"):
        stub_solution(SOLUTION + "answer = 3\n", "09.1")


def test_student_copies_differ_only_in_the_solution_cells(tmp_path):
    assert main(["exercises", "--student", str(tmp_path / "student")]) == 0
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        original = json.loads(path.read_text())
        copy = json.loads((tmp_path / "student" / path.name).read_text())
        assert (
            len(copy["cells"]) == len(original["cells"])
            and copy["metadata"] == original["metadata"]
        )
        for before, after in zip(original["cells"], copy["cells"]):
            key = solution_key(before)
            if is_prediction(before):
                assert "".join(after["source"]) == stub_prediction("".join(before["source"]))
            elif key is None:
                assert after == before
            else:
                assert f'raise NotImplementedError("exercise {key}")' in "".join(after["source"])
    with pytest.raises(ConfigError, match="not over the lessons"):
        write_student_copies(NOTEBOOKS, NOTEBOOKS)


def test_the_course_guide_is_up_to_date():
    """notebooks/README.md is what scripts/course_guide.py writes from the budgets and exercises."""
    import importlib.util

    script = NOTEBOOKS.parent / "scripts" / "course_guide.py"
    spec = importlib.util.spec_from_file_location("course_guide", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (NOTEBOOKS / "README.md").read_text() == module.guide(), (
        "run: python scripts/course_guide.py"
    )


def test_an_answer_of_the_wrong_kind_is_reported_not_raised():
    result = check("09.1", lambda depth, intrinsics: "points", verbose=False)
    assert result.status == "wrong" and "expected an array of shape (48, 64, 3)" in result.message
    result = check("09.1", lambda depth, intrinsics: depth[..., None], verbose=False)
    assert "shape (48, 64, 1), expected (48, 64, 3)" in result.message
