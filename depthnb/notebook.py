"""The contract's name for the lessons' first cell (see DESIGN.md): ``depthnb.notebook.setup()``.
It lives in :mod:`depthnb.course.notebook`."""

from depthnb.course.notebook import setup

__all__ = ["setup"]
