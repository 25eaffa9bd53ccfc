"""The course around the library: the lessons' setup (:mod:`depthnb.course.notebook`), what each
lesson's full mode needs on a free Colab GPU (:mod:`depthnb.course.budgets`) and the exercises
that check themselves (:mod:`depthnb.course.exercises`)."""
