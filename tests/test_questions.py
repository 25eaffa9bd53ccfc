"""The questions to predict before a run (:mod:`depthnb.course.exercises.questions`): a number is
right within its tolerance and told how far off it is, a choice is told the right letter, the
explanation follows every judged prediction, a missing prediction is "not yet" and an unreadable
one is told what to write (neither raises, neither gives the explanation away); questions are
found in the lesson modules like the exercises; the student copy blanks the prediction cells; the
course guide lists them; and each lesson's notebook asks its questions, its own prediction right.
"""

from __future__ import annotations

import importlib.util
import json
import re
import types
from pathlib import Path

import nbformat
import pytest

from depthnb.course.exercises import questions as questions_module
from depthnb.course.exercises.checker import CheckResult, declared
from depthnb.course.exercises.questions import (
    Choice,
    Number,
    Question,
    ask,
    judge,
    questions,
)
from depthnb.course.exercises.student import (
    is_prediction,
    solution_key,
    stub_prediction,
    stub_solution,
    write_student_copies,
)
from depthnb.errors import ArgumentError, ConfigError, ExerciseError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

EXPLANATION = "x = (u - cx) Z / fx = 100 px * 2 m / 500 px = 0.4 m."
POINT = Question(
    "04.P1",
    "A pixel 100 px right of the principal point sees a wall 2 m away; fx is 500 px. How far "
    "right of the optical axis is the wall's point?",
    Number(0.4, "m", abs_tol=0.05),
    EXPLANATION,
)
SCALE = Question(
    "04.P2",
    "Every predicted depth is doubled. What does the scale-invariant loss do?",
    Choice({"a": "it doubles", "b": "nothing: the scale is fitted away", "c": "it halves"}, "b"),
    "The loss fits a scale to the prediction before comparing, so a global scale costs nothing.",
)
PARAMETERS = Question(
    "04.P3",
    "How many parameters does the U-Net have?",
    Number(31_000_000, "", rel_tol=0.1),
    "Most of them are in the encoder's last blocks.",
)


def lesson(name: str, *declared_questions: Question) -> types.ModuleType:
    """A stand-in lesson module declaring ``declared_questions``."""
    module = types.ModuleType(f"depthnb.course.exercises.{name}")
    module.QUESTIONS = declared_questions  # type: ignore[attr-defined]
    return module


@pytest.fixture
def asked(monkeypatch) -> None:
    """Lesson 04 declares POINT, SCALE and PARAMETERS, as ``ask`` finds them."""
    fake = lesson("lesson04", POINT, SCALE, PARAMETERS)
    monkeypatch.setattr(questions_module, "lesson_modules", lambda: [("04", fake)])


# ------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize("prediction", [0.4, 0.36, 0.45, 1 / 2.5, 0.44999])
def test_a_number_within_its_absolute_tolerance_is_right(prediction):
    result = judge(POINT, prediction)
    assert result.passed and result.status == "correct"
    assert result.message.startswith("04.P1: right: ") and "within 0.05 m counts" in result.message


@pytest.mark.parametrize("prediction", [0.5, 0.3, -0.4, 0, 4, -1e308])
def test_a_number_outside_its_tolerance_is_wrong_and_told_how_far_off(prediction):
    result = judge(POINT, prediction)
    assert not result.passed and result.status == "wrong"
    assert result.message.startswith("04.P1: wrong: ")
    assert f"the answer is 0.4 m (off by {prediction - 0.4:+.4g} m" in result.message


def test_how_far_off_is_said_in_the_unit_and_in_percent():
    message = judge(POINT, 0.5).message
    assert "you said 0.5 m, the answer is 0.4 m (off by +0.1 m, +25 %; within 0.05 m" in message
    assert "(exactly; within" in judge(POINT, 0.4).message


def test_the_tolerance_boundary_is_not_lost_to_rounding():
    """0.27 - 0.25 is 0.020000000000000018 in floats: still within 0.02."""
    question = Question("04.P9", "How far?", Number(0.27, "m", abs_tol=0.02), "Because.")
    assert judge(question, 0.25).passed and judge(question, 0.29).passed
    assert not judge(question, 0.249).passed and not judge(question, 0.291).passed


def test_a_relative_tolerance_is_a_fraction_of_the_answer():
    assert judge(PARAMETERS, 28_000_000).passed and judge(PARAMETERS, 3.4e7).passed
    result = judge(PARAMETERS, 40_000_000)
    assert not result.passed
    assert "you said 40,000,000, the answer is 31,000,000 (off by +9,000,000, +29 %" in (
        result.message
    )
    assert "within 10 % counts" in result.message


def test_numpy_numbers_are_numbers():
    np = pytest.importorskip("numpy")
    assert judge(POINT, np.float32(0.41)).passed and not judge(POINT, np.int64(2)).passed


# ------------------------------------------------------------------------------ choices
@pytest.mark.parametrize("prediction", ["b", "B", " b "])
def test_the_right_letter_is_right(prediction):
    result = judge(SCALE, prediction)
    assert result.passed
    assert result.message.startswith("04.P2: right: (b) nothing: the scale is fitted away.")


def test_a_wrong_letter_is_told_the_right_one():
    result = judge(SCALE, "a")
    assert not result.passed and result.status == "wrong"
    assert "you chose (a) it doubles; it is (b) nothing: the scale is fitted away." in (
        result.message
    )


# ------------------------------------------------------------- the explanation, and not yet
@pytest.mark.parametrize(
    "question, prediction",
    [(POINT, 0.4), (POINT, 3.0), (SCALE, "b"), (SCALE, "c"), (PARAMETERS, 1)],
)
def test_the_explanation_is_printed_after_every_judged_prediction(
    asked, capsys, question, prediction
):
    result = ask(question.key, prediction)
    printed = capsys.readouterr().out
    assert printed == result.message + "\n"
    verdict, explanation = printed.rstrip("\n").split("\n")
    assert verdict.startswith(
        f"{question.key}: right" if result.passed else f"{question.key}: wrong"
    )
    assert explanation == question.explanation


@pytest.mark.parametrize("question", [POINT, SCALE])
@pytest.mark.parametrize("prediction", [None, ...])
def test_no_prediction_yet_is_not_yet_and_withholds_the_explanation(
    asked, capsys, question, prediction
):
    result = ask(question.key, prediction)
    assert result.status == "not yet" and not result.passed and not result
    printed = capsys.readouterr().out
    assert printed.startswith(f"{question.key}: not yet: write your prediction")
    assert question.explanation not in printed


def test_not_yet_says_what_to_write():
    assert "(a number in m)" in judge(POINT, None).message
    assert "(a number)" in judge(PARAMETERS, None).message
    assert "(one of the letters a, b, c)" in judge(SCALE, None).message


@pytest.mark.parametrize(
    "question, prediction, said",
    [
        (POINT, "0.4", "write a number in m after `prediction =` without quotes, not '0.4'"),
        (POINT, True, "write a number in m after `prediction =`, not bool True"),
        (POINT, [0.4], "not list [0.4]"),
        (POINT, float("nan"), "write a finite number after `prediction =`, not nan"),
        (POINT, float("inf"), "not inf"),
        (
            SCALE,
            "e",
            "write one of the letters a, b, c, in quotes (prediction = \"c\", say), not 'e'",
        ),
        (SCALE, "", "not ''"),
        (SCALE, 2, "not int 2"),
        (SCALE, "ab", "not 'ab'"),
    ],
)
def test_a_prediction_of_the_wrong_kind_is_told_what_to_write(
    asked, capsys, question, prediction, said
):
    result = ask(question.key, prediction)
    assert result.status == "wrong" and not result.passed
    assert result.message.startswith(f"{question.key}: ") and said in result.message
    assert question.explanation not in capsys.readouterr().out


def test_ask_returns_what_check_returns_and_can_be_quiet(asked, capsys):
    from depthnb.course.exercises.checker import CheckResult
    from depthnb.exercises import ask as public_ask

    assert public_ask is ask
    result = ask("04.P1", 0.4, verbose=False)
    assert isinstance(result, CheckResult) and result.key == "04.P1" and result.passed
    assert capsys.readouterr().out == ""


def test_an_unknown_key_raises_naming_the_questions(asked):
    with pytest.raises(ExerciseError, match=r"no question '04.P9'; the questions are \['04.P1'"):
        ask("04.P9", 1.0)


def test_an_exercise_key_is_told_to_use_check():
    with pytest.raises(ExerciseError, match=r"'01.1' is an exercise, not a question: check"):
        ask("01.1", 1.0)


# ------------------------------------------------------------------- declaring a question
@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Choice({}, "a"), "two to four options"),
        (lambda: Choice({"a": "yes"}, "a"), "two to four options"),
        (lambda: Choice(dict(zip("abcde", "vwxyz")), "a"), "two to four options"),
        (lambda: Choice(["yes", "no"], "a"), "two to four options"),  # type: ignore[arg-type]
        (lambda: Choice({"a": "yes", "c": "no"}, "a"), "letter them a, b in order"),
        (lambda: Choice({"b": "yes", "a": "no"}, "a"), "letter them a, b in order"),
        (lambda: Choice({"a": "yes", "b": " "}, "a"), "option 'b' has no text"),
        (lambda: Choice({"a": "yes", "b": "no"}, "c"), "correct='c' is not one of 'ab'"),
        (lambda: Choice({"a": "yes", "b": "no"}, "A"), "correct='A'"),
        (lambda: Number(0.4, "m"), "give exactly one tolerance"),
        (lambda: Number(0.4, "m", abs_tol=0.1, rel_tol=0.1), "give exactly one tolerance"),
        (lambda: Number(0.4, "m", abs_tol=-0.1), "abs_tol=-0.1 is not a finite number >= 0"),
        (lambda: Number(0.4, "m", rel_tol=float("inf")), "rel_tol=inf"),
        (lambda: Number(0.0, "m", rel_tol=0.1), "give abs_tol"),
        (lambda: Number(float("nan"), "m", abs_tol=0.1), "not a finite number"),
        (lambda: Number("0.4", "m", abs_tol=0.1), "not a finite number"),  # type: ignore[arg-type]
        (lambda: Number(0.4, None, abs_tol=0.1), "unit None is not a string"),  # type: ignore[arg-type]
        (lambda: Question("04.1", "How far?", POINT.answer, "Because."), "e.g. '04.P1'"),
        (lambda: Question("4.P1", "How far?", POINT.answer, "Because."), "e.g. '04.P1'"),
        (lambda: Question("04.P1", " ", POINT.answer, "Because."), "its text is empty"),
        (lambda: Question("04.P1", "How far?", POINT.answer, ""), "its explanation is empty"),
        (lambda: Question("04.P1", "How far?", 0.4, "Because."), "Number(value, unit"),  # type: ignore[arg-type]
        (lambda: Question("04.P1", "Which?", None, "Because."), "not NoneType None"),  # type: ignore[arg-type]
    ],
)
def test_a_malformed_question_is_refused_when_declared(build, match):
    with pytest.raises(ArgumentError, match=re.escape(match)):
        build()


def test_a_question_says_its_kind():
    assert (POINT.kind, SCALE.kind) == ("number", "choice")
    assert Number(3, "", abs_tol=0).value == 3.0  # an exact count: no tolerance at all
    assert judge(Question("04.P9", "How many?", Number(3, "", abs_tol=0), "Three."), 3).passed


# ------------------------------------------------------------------------------ discovery
def test_questions_are_found_in_lesson_order_and_a_lesson_may_have_none():
    other = Question("05.P1", "Which?", SCALE.answer, "Because.")
    lessons = [("04", lesson("lesson04", POINT, SCALE)), ("05", lesson("lesson05", other))]
    lessons.insert(1, ("09", types.ModuleType("depthnb.course.exercises.lesson09")))
    assert list(declared("QUESTIONS", lessons)) == ["04.P1", "04.P2", "05.P1"]


def test_a_key_of_another_lesson_is_refused():
    with pytest.raises(
        ExerciseError, match=r"lesson05.QUESTIONS holds '04.P1', which is not lesson 05's"
    ):
        declared("QUESTIONS", [("05", lesson("lesson05", POINT))])


def test_a_key_declared_twice_is_refused():
    again = Question("04.P1", "Again?", SCALE.answer, "Because.")
    with pytest.raises(ExerciseError, match=r"holds '04.P1' twice"):
        declared("QUESTIONS", [("04", lesson("lesson04", POINT, again))])


def test_the_lessons_questions_are_found_and_well_formed():
    """The real lesson modules: keys unique and of their lessons (``questions()`` raises if not),
    each a Question."""
    found = questions()
    assert all(isinstance(q, Question) and q.key == key for key, q in found.items())


# ---------------------------------------------------------------------- the student copy
def _cell(source: str, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    cell.outputs = [nbformat.v4.new_output("stream", text="0.25\n")]
    cell.execution_count = 3
    return cell


EXERCISE_CELL = '# Exercise 04.1 (solution)\ndef double(x):\n    """x -> 2x."""\n    return 2 * x\n'
NUMBER_CELL = "prediction = 0.25  # your prediction (a number in metres)"
CHOICE_CELL = 'prediction = "b"  # your prediction (a, b or c)\n'


def test_the_student_copy_blanks_the_prediction_and_nothing_else(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("**Predict.** How far right of the axis is the point?"),
        _cell(NUMBER_CELL, ("solution",)),
        _cell('ask("04.P1", prediction)'),
        _cell(CHOICE_CELL, ("solution",)),
        _cell('ask("04.P2", prediction)'),
        _cell("prediction = 0.25  # not tagged: left alone"),
        _cell(EXERCISE_CELL, ("solution",)),
        _cell('check("04.1", double)'),
    ]
    (tmp_path / "lessons").mkdir()
    nbformat.write(notebook, tmp_path / "lessons" / "04_questions.ipynb")
    (written,) = write_student_copies(tmp_path / "lessons", tmp_path / "student")
    before = json.loads((tmp_path / "lessons" / "04_questions.ipynb").read_text())["cells"]
    after = json.loads(written.read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in after]
    assert sources[1] == "prediction = None  # your prediction (a number in metres)"
    assert sources[3] == "prediction = None  # your prediction (a, b or c)\n"
    assert sources[6] == stub_solution(EXERCISE_CELL, "04.1")  # as an exercise was stubbed before
    assert 'raise NotImplementedError("exercise 04.1")' in sources[6]
    for index in (1, 3, 6):
        assert after[index]["outputs"] == [] and after[index]["execution_count"] is None
    for index in (0, 2, 4, 5, 7):
        assert after[index] == before[index]
    namespace: dict = {}
    exec(sources[1], namespace)
    assert judge(POINT, namespace["prediction"]).status == "not yet"


def test_prediction_cells_are_told_apart_from_exercise_cells():
    assert is_prediction(_cell(NUMBER_CELL, ("solution",))) and not is_prediction(
        _cell(NUMBER_CELL)
    )
    assert solution_key(_cell(NUMBER_CELL, ("solution",))) is None
    assert not is_prediction(_cell(EXERCISE_CELL, ("solution",)))
    assert solution_key(_cell(EXERCISE_CELL, ("solution",))) == "04.1"
    for source in (
        "x = 3",
        "prediction = x = 3",
        "prediction += 1",
        "prediction = (",
        "p = 1\nprediction = 2",
    ):
        with pytest.raises(ConfigError, match="or a question's prediction"):
            solution_key(_cell(source, ("solution",)))


@pytest.mark.parametrize(
    "source, stub",
    [
        ("prediction = -1e-3  # in metres\n", "prediction = None  # in metres\n"),
        ('prediction = "é"  # café: à or b', "prediction = None  # café: à or b"),
        (
            "# first a comment\nprediction = (\n    0.5\n)\n",
            "# first a comment\nprediction = (\n    None\n)\n",
        ),
        ("prediction = None  # yours", "prediction = None  # yours"),
    ],
)
def test_a_prediction_stub_keeps_everything_but_the_value(source, stub):
    assert stub_prediction(source) == stub


# --------------------------------------------------------------------------- the course guide
def _course_guide() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "course_guide", ROOT / "scripts" / "course_guide.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_course_guide_lists_the_questions(monkeypatch):
    guide = _course_guide()
    barred = Question("04.P4", "Is |x - cx| ever negative? Think first.", SCALE.answer, "No.")
    monkeypatch.setattr(guide, "questions", lambda: {q.key: q for q in (POINT, SCALE, barred)})
    text = guide.guide()
    table = text[text.index("| question | kind | asks |") :]
    assert table.splitlines()[2:6] == [
        "| 04.P1 | number | A pixel 100 px right of the principal point sees a wall 2 m away; fx "
        "is 500 px. |",
        "| 04.P2 | choice | Every predicted depth is doubled. |",
        "| 04.P4 | choice | Is \\|x - cx\\| ever negative? |",
        "",
    ]
    assert (
        text.index("## The exercises")
        < text.index("## Predict, then run")
        < text.index("## A suggested syllabus")
    )


def test_the_course_guide_has_no_question_section_without_questions(monkeypatch):
    guide = _course_guide()
    monkeypatch.setattr(guide, "questions", dict)
    assert "Predict, then run" not in guide.guide()


# ---------------------------------------------------------------------- the lessons' notebooks
def _asked_in_notebooks() -> dict[str, tuple[str, str]]:
    """Every question a notebook asks: key -> (notebook name, its prediction cell's source), each
    ask cell checked to follow a prediction cell and to pass it ``prediction``."""
    found = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            for key in re.findall(r'\bask\("([^"]+)"', source):
                assert f'ask("{key}", prediction)' in source, (
                    f"{path.name}: pass ask {key} the prediction"
                )
                assert index and is_prediction(cells[index - 1]), (
                    f"{path.name}: the cell before ask({key!r}) is not a prediction cell (tagged "
                    "'solution', 'prediction = ...')"
                )
                assert key not in found, f"{key} is asked twice"
                found[key] = (path.name, "".join(cells[index - 1]["source"]))
    return found


def test_every_question_is_asked_in_its_lesson_and_the_lessons_prediction_is_right():
    asked_in = _asked_in_notebooks()
    declared_questions = questions()
    assert sorted(asked_in) == sorted(declared_questions), (
        "the notebooks ask other questions than the lessons declare"
    )
    for key, (notebook, source) in asked_in.items():
        assert notebook.startswith(key[:2] + "_"), f"{key} is asked in {notebook}"
        namespace: dict = {}
        exec(source, namespace)
        result = judge(declared_questions[key], namespace["prediction"])
        assert result.passed, f"{notebook}: {result.message}"


def test_a_result_shown_as_a_cells_value_adds_nothing_to_the_printed_message(capsys):
    from IPython.core.formatters import DisplayFormatter

    result = CheckResult("09.P1", "correct", "09.P1: right.")
    assert DisplayFormatter().format(result) == ({}, {})  # no Out[] under the printed message
    assert capsys.readouterr().out == "" and str(result) == "09.P1: right."
