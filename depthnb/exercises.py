"""The contract's names for the lessons' exercises and questions (see DESIGN.md):
``depthnb.exercises.check("06.2", answer)`` checks an exercise's code, and
``depthnb.exercises.ask("04.P1", prediction)`` a prediction made before a run. They live in
:mod:`depthnb.course.exercises.checker` and :mod:`depthnb.course.exercises.questions`."""

from depthnb.course.exercises.checker import check
from depthnb.course.exercises.questions import ask

__all__ = ["ask", "check"]
