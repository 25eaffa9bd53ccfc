"""Exercises that check themselves: the checker (:mod:`~depthnb.course.exercises.checker`), what
keeps an answer honest (:mod:`~depthnb.course.exercises.guards`), the student copies of the
lessons (:mod:`~depthnb.course.exercises.student`) and each lesson's exercises (``lessonNN``).
``depthnb.exercises.check`` is the name the lessons call."""
