"""The course around the library: the lessons' setup (:mod:`depthnb.course.notebook`), what each
lesson's full mode needs on a free Colab GPU (:mod:`depthnb.course.budgets`), the class U-Nets that
lessons 04 and 05 train (:mod:`depthnb.course.classroom`) and the exercises that check themselves
(:mod:`depthnb.course.exercises`)."""
