"""The contract's name for checking an exercise (see DESIGN.md): ``depthnb.exercises.check``.
It lives in :mod:`depthnb.course.exercises.checker`."""

from depthnb.course.exercises.checker import check

__all__ = ["check"]
