"""Exercises and questions that check themselves: the checker
(:mod:`~depthnb.course.exercises.checker`), what keeps an answer honest
(:mod:`~depthnb.course.exercises.guards`), the questions to predict before a run
(:mod:`~depthnb.course.exercises.questions`), the student copies of the lessons
(:mod:`~depthnb.course.exercises.student`) and each lesson's exercises and questions
(``lessonNN``). ``depthnb.exercises.check`` and ``depthnb.exercises.ask`` are the names the
lessons call."""
