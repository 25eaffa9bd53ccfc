"""Write the instructors' course guide, ``notebooks/README.md``, from the lessons' budgets
(:mod:`depthnb.budgets`) and exercises (:mod:`depthnb.exercises`), so that its figures and lists
cannot drift from the code. ``tests/test_exercises.py`` checks the file is up to date.

    python scripts/course_guide.py          # rewrite notebooks/README.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from depthnb.budgets import BUDGETS
from depthnb.exercises import exercises
from depthnb.files import atomic_write_text

GUIDE = Path(__file__).resolve().parent.parent / "notebooks" / "README.md"

# lesson -> (title, what it builds on, GPU in full mode)
LESSONS = {
    "01": ("The data pipeline", "nothing", "no (CPU is enough)"),
    "02": ("Architectures", "01 (the sample format)", "helps"),
    "03": ("Loss design", "01, 02", "helps"),
    "04": ("GPU training", "01-03", "yes"),
    "05": ("Evaluation", "01, 02 (04's checkpoint if there; else the published weights)", "yes"),
    "06": ("Point clouds", "01 (intrinsics), 05 (a model to predict with)", "helps"),
    "07": ("The interactive explorer", "05, 06", "helps"),
    "08": ("Mask and depth", "02-04", "yes"),
    "09": ("Video depth", "05, 06", "helps"),
    "10": ("Deployment", "02, 05", "no (CPU is enough)"),
}

INTRODUCTION = """# Course guide for instructors

Ten lessons, each a notebook that runs in Colab. Every lesson runs in two modes. **Quick mode**
(`DEPTHNB_QUICK=1`, what the tests run) takes about a minute on two CPU cores, uses synthetic
rooms and the course's shipped U-Net, and shows the same run on every machine: use it in class.
**Full mode** is the real dataset at the paper's sizes on a free Colab T4. The budgets below come
from `depthnb.budgets`: downloads are the registry's file sizes, and minutes are each lesson's
multiply-accumulates at an assumed T4 rate of 2.5 TMAC/s (`benchmarks/bench_budgets.py`). With
the data folder on Google Drive (`setup()` offers it), downloads and checkpoints survive the
session.

## Lessons, what they build on, and what full mode needs

| lesson | builds on | full mode: downloads | compute | peak RAM | disk | GPU |
|---|---|---:|---:|---:|---:|---|
"""

HANDING_OUT = """
Difficulty: *quick*, a few lines from a formula in the lesson; *medium*, a short function that
needs a derivation or an edge case; *substantial*, a task that takes a class session.

## Exercises: how they work, and the student copies

Every lesson ends in its exercises. Each exercise is a **solution cell** (tagged `solution`,
first line `# Exercise NN.K (solution)`) followed by a **check cell**, `check("NN.K", answer)`.
The check runs the answer on inputs the student did not choose (seeded random inputs, odd sizes,
invalid pixels) against the package's reference, and answers in words. A correct answer passes.
Each listed common mistake gets its own message ("your points are mirrored in x: check the sign
of (u - cx)"). Any other difference names the input it failed on and by how much. The tests hold
every check against its reference and against each listed mistake.

To hand out the lessons without the solutions:

    python -m depthnb exercises --student student/     # every lesson, solution cells stubbed
    python -m depthnb exercises --list                 # the exercises and their difficulty

In a student copy, each solution cell keeps the function's signature and docstring, and its body
is `raise NotImplementedError("exercise NN.K")`. The check cell then prints "not yet" and the
notebook runs on, because no later cell uses an exercise's function. The tests run every student
copy top to bottom in quick mode. Share the copies themselves (a shared Drive folder, or
uploaded to Colab). Their Colab badge and install cell still name the course repository, whose
lessons hold the solutions; for a fork of your own, run `scripts/set_repository.py OWNER/NAME`
before writing the copies. To collect work, have students submit their notebook. To mark it,
run each check cell again: `check(...)` returns a result whose `.passed` and `.message` can be
collected in a loop over the submitted notebooks.

## A suggested syllabus

- **6 weeks** (one lesson or two a week, quick mode in class, full mode as homework): 01 · 02 ·
  03 · 04 · 05 · 06 and 07.
- **8 weeks**: 01 · 02 · 03 · 04 · 05 · 06 · 07 and 09 · 08 and 10.
- **10 weeks** (one lesson a week; each lesson's substantial exercise as the week's assignment):
  01 · 02 · 03 · 04 · 05 · 06 · 07 · 08 · 09 · 10.

Lesson 04 is the one to run in full mode before class: its 27-minute training run is what
lesson 05 then scores (lesson 05 falls back to the published weights without it).
"""


def guide() -> str:
    """The guide's Markdown."""
    lines = [INTRODUCTION.rstrip("\n")]
    for key, (title, builds_on, gpu) in LESSONS.items():
        budget = BUDGETS[key]
        lines.append(
            f"| {key} {title} | {builds_on} | {budget.download_bytes() / 1e9:.1f} GB | "
            f"{budget.minutes()} min | {budget.ram_gb} GB | {budget.disk_gb} GB | {gpu} |"
        )
    lines += ["", "## The exercises", "", "| exercise | difficulty | task |", "|---|---|---|"]
    lines += [f"| {key} | {ex.difficulty} | {ex.title} |" for key, ex in exercises().items()]
    return "\n".join(lines) + "\n" + HANDING_OUT


if __name__ == "__main__":
    atomic_write_text(GUIDE, guide())
    print(f"wrote {GUIDE}")
    sys.exit(0)
