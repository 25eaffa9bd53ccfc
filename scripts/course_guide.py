"""Write the instructors' course guide, ``notebooks/README.md``, from the lessons' budgets
(:mod:`depthnb.course.budgets`), exercises and questions (:mod:`depthnb.course.exercises`), so
that its figures and lists cannot drift from the code. ``tests/test_exercises.py`` checks the file
is up to date.

    python scripts/course_guide.py          # rewrite notebooks/README.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from depthnb.course.budgets import BUDGETS, TORCHVISION_BYTES
from depthnb.course.exercises.checker import exercises
from depthnb.course.exercises.questions import questions
from depthnb.utils.files import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "notebooks" / "README.md"

# lesson -> (title, what it builds on, GPU in full mode)
LESSONS = {
    "01": ("Depth data and its encodings", "nothing", "no (CPU is enough)"),
    "02": ("Augmentation that keeps the geometry", "01 (the sample)", "no (CPU is enough)"),
    "03": ("Architectures", "01 (the sample format)", "helps"),
    "04": ("What losses see", "01, 03", "helps"),
    "05": ("Relative depth and uncertainty", "04", "helps"),
    "06": ("Training on a GPU", "01-04", "yes"),
    "07": (
        "Evaluation on NYU",
        "03, 06 (06's checkpoint if there; else the published weights)",
        "yes",
    ),
    "08": ("Zero-shot: real photographs, outdoors, dataset bias", "05, 07", "yes"),
    "09": ("Point clouds", "01 (intrinsics), 07 (a model to predict with)", "helps"),
    "10": (
        "From stereo to foundation models",
        "09 (the pinhole model), 05 and 08 (scale and shift), 03 (parameters and MACs)",
        "helps",
    ),
    "11": ("The explorer and failure modes", "08, 09", "helps"),
    "12": ("Mask and depth (optional)", "03, 04, 06", "yes"),
    "13": ("Video depth", "07, 09", "helps"),
    "14": ("Deployment", "03, 07", "no (CPU is enough)"),
}

INTRODUCTION = """# Course guide for instructors

Fourteen lessons, each a notebook that runs in Colab and fits a 90-minute lab: objectives at the
top, a summary of five points at the end, at most about 2,000 words of prose in its main path, and
engineering (speed, memory, several GPUs) in marked appendices after the exercises. Lesson 12 is
optional. Every lesson runs in two modes. **Quick mode** (`DEPTHNB_QUICK=1`, what the tests run)
takes about a minute on two CPU cores, uses synthetic rooms, Middlebury's real *Motorcycle* (RGB-D
from scikit-image) and the course's shipped U-Net, and shows the same run on every machine: use it
in class.
**Full mode** is the real dataset at the paper's sizes on a free Colab T4. The budgets below come
from `depthnb.course.budgets`: downloads are the registry's file sizes, and minutes are each
lesson's multiply-accumulates at an assumed T4 rate of 2.5 TMAC/s (`benchmarks/bench_budgets.py`).
With the data folder on Google Drive (`setup()` mounts it in full mode unless told `drive=False`),
downloads and checkpoints survive the session (see "What the course keeps on Drive" below). Each
lesson gives its student one line ("full mode: about N min on a T4, downloads X GB") and these
details in a collapsed instructor note. To read every lesson with its figures before running
any, open the [course website](https://depthnb.github.io/depthnb/): each lesson run in quick mode,
built by `scripts/build_site.py`.

## Lessons, what they build on, and what full mode needs

| lesson | builds on | full mode: downloads | compute | peak RAM | disk | GPU |
|---|---|---:|---:|---:|---:|---|
"""


NOTATION = """
## One notation for the course

Every lesson uses these symbols, one per concept; a symbol not listed here is defined where it is
used and means nothing elsewhere.

| concept | symbol | unit | in the code |
|---|---|---|---|
| true depth, along the optical axis | $z$ | m | `depth`, `gt` |
| predicted depth | $\\hat z$ | m | `pred` |
| valid pixels (with ground truth) | $V$, their count $N$ | | `valid` |
| inverse depth | $\\rho = 1/z$ | 1/m | `to_disparity(depth)` |
| a relative network's output (inverse depth up to scale and shift) | $\\hat\\rho$ | none | `relative` |
| scale and shift of an alignment | $s$, $t$ | | `fit_scale_shift` |
| log depth | $\\ell = \\log z$ | log m | `log` encoding |
| log error of one pixel | $e = \\log \\hat z - \\log z$ | | |
| stereo disparity (two cameras) | $d$ | pixels | `disparity` |
| stereo baseline, Middlebury's offset | $B$, $d_0$ | m, pixels | `baseline_m`, `doffs_px` |
| focal lengths, principal point | $f_x, f_y$, $c_x, c_y$ | pixels | `intrinsics = [fx, fy, cx, cy]` |
| the intrinsic matrix | $K$ | | |
| a pixel's column and row | $u$, $v$ | pixels | `u`, `v` |
| a 3D point in the camera's frame | $(x, y, z)$ | m | `points` |
| zoom factor of scale augmentation; a room $k$ times larger | $k$ | none | `scale(..., k)` |
| Laplace scale of a prediction's uncertainty | $b$ | as the prediction | `log_scale` is $\\log b$ |
| berHu's threshold | $c$ | as the error | |
| quantisation step (int8, uint8) | $\\Delta$ | as the tensor | `scale` in the ONNX graph |

Depth $z$ is distance along the optical axis, not along the ray. Disparity $d$ is only ever
stereo disparity in pixels; what MiDaS calls "disparity" is inverse depth $\\rho$ here. Metric
depth from Middlebury's disparity is $z = f_x B / (d + d_0)$.

## The networks of the course

| name in the lessons | what it is | parameters | where it comes from |
|---|---|---:|---|
| the course U-Net | the network the package ships, trained by the main job on 1,000 synthetic rooms at 120x160 | 492,097 | `load_pretrained("unet-synthetic")` |
| the Keras-sized U-Net | the same architecture at the Keras example's widths (16 to 256) | 1.96 M | `build_model("unet")` |
| the class U-Nets | small U-Nets (widths 8 to 128) trained from scratch during a lesson, in seconds | about 0.49 M | `build_model("unet", filters=(8, 16, 32, 64, 128))` in lessons 04, 05, 06 |
| DenseDepth | DenseNet-169 encoder, the authors' NYU weights | 42.6 M | `load_pretrained("densedepth-nyu")` |
| FCRN | ResNet-50 with up-projections, the authors' NYU weights | 63.6 M | `load_pretrained("fcrn-nyu")` |
| Depth Anything V2 small | a ViT-S foundation model, metric (indoor, outdoor) or relative | 24.8 M | `load_pretrained("depth-anything-v2-...-small")` |
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
"""

QUESTIONS = """
## Predict, then run: the questions

Before some runs a lesson asks the student to predict what the run will show: a number (right
within a stated tolerance) or one of two to four choices. Written down first, a prediction is a
commitment that the run then corrects. A question is three cells: the question in words, a
**prediction cell** (tagged `solution`, `prediction = 0.25  # your prediction (a number in
metres)`), and `ask("NN.PK", prediction)`, which says whether the prediction is right (and how far
off a number is), then why. In a student copy the prediction cell reads `prediction = None`, and
`ask` prints "not yet" without the explanation; like `check`, it returns a result with `.passed`
and `.message`.

| question | kind | asks |
|---|---|---|
"""

SYLLABUS = """
## A suggested syllabus

One lesson is one 90-minute lab in quick mode; full mode and the substantial exercise are homework.

- **6 labs** (the core): 01 · 03 · 04 · 06 · 07 · 09.
- **10 labs**: 01 to 10.
- **13 labs** (the whole course without the optional lesson 12): 01 to 11 · 13 · 14.

Lesson 06 is the one to run in full mode before class: its 27-minute training run is what
lesson 07 then scores (lesson 07 falls back to the published weights without it).
"""

LICENCES = """
## Licences: the course, the data, the weights

The course (notebooks, package, shipped U-Net) is MIT-licensed (`LICENSE`); `CITATION.cff` says
how to cite it. What it downloads comes under its authors' terms, listed in the registries
(`depthnb.data.DATASETS`, `depthnb.models.PRETRAINED`) and printed by
`python -m depthnb download --list`:

| name | size | licence |
|---|---:|---|
"""

LICENCE_NOTES = """
**Non-commercial.** KITTI (lesson 08's outdoor section) is CC BY-NC-SA 3.0: for teaching and
research, not for commercial use; the lesson says so where it downloads it. **Copyleft.**
DenseDepth's weights come from a GPL-3.0 repository: a model built on them and given to others
carries the GPL's terms. Depth Anything V2 **small** (the only size the
course loads) is Apache-2.0; its base and large models are CC BY-NC 4.0, non-commercial. NYU
Depth v2's page states no licence: it is offered for research, citing Silberman et al. (ECCV
2012), and DenseDepth's two archives are conversions of it.
"""

COLAB_TWIN = """
## Colab as it is: the twin, and when Colab changes

A lesson runs on whatever Colab has installed that day, not on the newest packages CI would pick.
Google publishes that set (`pip-freeze.gpu.txt` and `os-info-gpu.txt` in the public repository
[googlecolab/backend-info](https://github.com/googlecolab/backend-info)), and
`.ci/colab-constraints.txt` is cut from it: its header names the commit, the date and Colab's
Python ({python} in the current file). `scripts/colab_twin.py` builds a **twin** of that runtime,
a fresh virtual environment on Python 3.13 (the twin runs the 3.13.x at hand where Colab runs
{python}) with Colab's exact versions (torch and torchvision are PyPI's builds of the same
versions: the CUDA build, which runs on a CPU). It installs the package exactly as each lesson's
first cell does (`depthnb`, and `depthnb[deploy]` for lesson 14, the one lesson whose imports
Colab lacks) and **fails, listing them, if that changed any of Colab's versions** (this is what
keeps onnx below 1.23: onnx 1.23 would upgrade Colab's protobuf). Then it runs every lesson in
quick mode under nbval, the full-mode rehearsal and the explorer's tests. `.ci/run` runs it
after the other legs.

When Colab changes (its release notes, or a lesson breaking in Colab but not in CI):

    git -C backend-info pull        # a clone of https://github.com/googlecolab/backend-info
    python scripts/colab_twin.py cut backend-info/pip-freeze.gpu.txt \\
        backend-info/os-info-gpu.txt --commit "$(git -C backend-info rev-parse HEAD)" \\
        --date "$(git -C backend-info log -1 --format=%cs)"
    python scripts/colab_twin.py all /tmp/colab-twin    # build the twin, run every lesson

`cut` rewrites `.ci/colab-constraints.txt` (it refuses an `os-info-gpu.txt` whose Python is not
3.13: for a new Python, change `COLAB_PYTHON` in the script and the README's Python with it). If
`build` reports that installing the package changed one of Colab's versions, bound the package
(or the extra) that pulled it in, in `pyproject.toml`, the way `onnx<1.23` is bounded; never pin
what Colab ships. Commit the new constraints with the fixes the twin asked for.
"""


def colab_python() -> str:
    """Colab's Python as the constraints file's header states it (e.g. ``3.13.15``)."""
    header = (ROOT / ".ci" / "colab-constraints.txt").read_text()
    return re.search(r"^# Python (\S+)", header, re.MULTILINE).group(1)  # type: ignore[union-attr]


def licence_rows() -> list[str]:
    """The licence table's rows, one per dataset and published network of the registries."""
    from depthnb.cli.download import registry_licences

    return [f"| {name} | {size} | {licence} |" for name, size, licence in registry_licences()]


DELETABLE = ("nyu-labeled", "nyu-zip", "kitti-depth-selection")
"""Downloads that one lesson alone reads (01, 06, 08): deleted after it, fetched again if needed."""


def drive_section() -> list[str]:
    """What the whole course stores on Google Drive (:func:`drive_storage`), and what to delete
    when it does not fit a free account's 15 GB."""
    total, parts = drive_storage()
    lines = [
        "",
        "## What the course keeps on Drive",
        "",
        "In Colab's full mode `depthnb.notebook.setup()` mounts Google Drive (Colab asks once per",
        "session) and keeps every download, cache and run in `MyDrive/depthnb_data`, so a new VM",
        "finds them: lesson 07 scores lesson 06's checkpoint, and the 1.4 GB Eigen archive is",
        "downloaded once for lessons 07, 08, 09, 11 and 14. `setup(drive=False)` keeps everything on",
        "the VM instead (lost when it is recycled). Lesson 06 copies `nyu_data.zip` from Drive to",
        "the VM's disk before training reads it (`depthnb.course.notebook.local_copy`). It adds up",
        "to:",
        "",
        "| part | GB |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {gb:.1f} |" for name, gb in parts.items()]
    lines.append(f"| **the whole course** | **{total / 1e9:.1f}** |")
    spare = DRIVE_FREE_GB - total / 1e9
    deletable = [BUDGETS["01"].download_bytes((name,)) / 1e9 for name in DELETABLE]
    at_once = total / 1e9 - sum(deletable) + max(deletable)
    fits = (
        f"the whole course fits with {spare:.1f} GB to spare, if nothing else fills the account"
        if spare > 0
        else f"the whole course does not fit at once: it needs {-spare:.1f} GB more"
    )
    lines += [
        "",
        f"A free Google account has {DRIVE_FREE_GB:g} GB for Drive, Gmail and Photos together:",
        f"{fits}. Delete what a finished lesson alone needs:",
        "`nyu/nyu_depth_v2_labeled.mat` (3.0 GB) after lesson 01, `nyu/nyu_data.zip` (4.1 GB)",
        "after lesson 06 (its checkpoint stays in `runs/`), and `kitti/` (2.0 GB) after lesson 08.",
        f"Deleted so, the course never holds more than about {at_once:.0f} GB at once. Any of them",
        "is downloaded again if a lesson needs it.",
    ]
    return lines


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (up to the first '.', '?' or '!' before a space), on one
    line, with ``|`` escaped for a Markdown table."""
    sentence = re.split(r"(?<=[.?!])\s", " ".join(text.split()), maxsplit=1)[0]
    return sentence.replace("|", "\\|")


def question_section() -> list[str]:
    """How the questions work and their table (key, number or choice, what it asks); nothing
    while no lesson declares a question."""
    asked = questions()
    if not asked:
        return []
    rows = [f"| {key} | {q.kind} | {first_sentence(q.text)} |" for key, q in asked.items()]
    return [QUESTIONS.rstrip("\n"), *rows]


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
    lines.append(HANDING_OUT.rstrip("\n"))
    lines += question_section()
    lines.append(NOTATION.rstrip("\n"))
    lines.append(SYLLABUS.rstrip("\n"))
    lines += drive_section()
    lines += [LICENCES.rstrip("\n"), *licence_rows(), LICENCE_NOTES.rstrip("\n")]
    lines.append(COLAB_TWIN.format(python=colab_python()).rstrip("\n"))
    return "\n".join(lines) + "\n"


DRIVE_FREE_GB = 15.0
"""The storage of a free Google account (Drive, Gmail and Photos together)."""


def drive_storage() -> tuple[int, dict[str, float]]:
    """What the whole course keeps on Google Drive in full mode, in bytes, and its parts in GB.

    Every lesson shares one data folder, so each registry file is stored once, whichever lessons
    use it (the optional ones counted too); torchvision's ImageNet weights stay in its cache on the
    VM. On top come what lessons write themselves: ``disk_gb`` less their downloads and VM copies
    (runs, checkpoints, caches, exports), rounded up per lesson.

    Returns:
        (total bytes, {"downloads": GB, "lesson NN writes": GB, ...}).
    """
    names = sorted(
        {
            name
            for budget in BUDGETS.values()
            for name in (*budget.downloads, *budget.optional)
            if name not in TORCHVISION_BYTES
        }
    )
    downloads = BUDGETS["01"].download_bytes(tuple(names))
    parts = {"downloads, each file once": downloads / 1e9}
    total = downloads
    for lesson, budget in BUDGETS.items():
        own = budget.download_bytes() + budget.download_bytes(budget.vm_copies)
        written = max(0.0, budget.disk_gb * 1e9 - own)
        if written >= 0.05e9:
            parts[f"lesson {lesson} writes"] = written / 1e9
            total += int(written)
    return total, parts


if __name__ == "__main__":
    atomic_write_text(GUIDE, guide())
    print(f"wrote {GUIDE}")
    sys.exit(0)
