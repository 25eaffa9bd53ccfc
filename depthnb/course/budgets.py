"""What each lesson's full mode needs on a free Colab T4: downloads, minutes, RAM, disk.

>>> print(budget_line("07"))
**Full mode:** about ... min on a T4 GPU, downloads ... GB. **Quick mode:** about a minute on a CPU.

Each lesson states its budget under its setup cell (:func:`budget_cell`: one line for the student,
:func:`budget_markdown`'s details in a collapsed instructor note; checked against the notebooks by
the tests), and :func:`depthnb.notebook.setup` warns in full mode without a GPU.

Where the minutes come from: the GPU minutes are derived from each lesson's workload (the
network's multiply-accumulates per image, how many images, training or inference: :class:`Work`)
at a stated rate, :data:`T4_MACS_PER_S`, plus the parts that do not run on the GPU (reading files,
rendering rooms, writing JPEGs, ONNX) and any time budget the lesson sets itself, measured on a
2-core machine (``fixed_minutes``). ``python benchmarks/bench_budgets.py`` prints the derivation
beside a CPU measurement of the same networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

T4_MACS_PER_S = 2.5e12
"""Multiply-accumulates per second a Colab T4 is assumed to sustain on these convnets in mixed
precision. NVIDIA's ResNet-50 v1.5 PyTorch figures for a T4 in mixed precision are 1,190 images/s
of inference at batch 128 (DeepLearningExamples, ConvNets/resnet50v1.5 README), 4.1 GMACs each:
4.9e12 MAC/s. We take half of that for eager PyTorch without DALI, Colab's power-capped clocks
and smaller batches."""

CPU_MACS_PER_S = 2.0e10
"""What 2 CPU cores sustain on these networks (``python benchmarks/bench_budgets.py`` measures
it; the figures behind this value: benchmarks/README.md)."""

TRAIN_COST = 3.0
"""A training step costs about three forward passes (forward, and backward's two products)."""

# Forward multiply-accumulates per image (depthnb.models.count_macs; the benchmark recounts them).
DENSEDEPTH_480x640 = 122.7e9
FCRN_228x304 = 17.5e9
UNET_240x320 = 4.38e9
UNET_120x160 = 1.09e9
CLASS_UNET_120x160 = 0.276e9  # the class U-Nets, widths 8 to 128 (depthnb.course.classroom)
MASKDEPTH_160x160 = 0.50e9
DEPTH_ANYTHING_SMALL_480x640 = 83.7e9  # Depth Anything V2 small on a 480x640 image (run at 518 px)
DEPTH_ANYTHING_500x741 = 98.1e9  # Depth Anything V2 small on Motorcycle (processed at 518x770)

TORCHVISION_BYTES = {"densenet169": 57_365_526, "resnet50": 102_530_333}
"""Sizes of the ImageNet weights torchvision downloads (densenet169-b2777c0a.pth,
resnet50-0676ba61.pth)."""


@dataclass(frozen=True)
class Work:
    """One piece of a lesson's GPU work: ``images`` passes of a network of ``macs`` per image."""

    what: str
    macs: float
    images: int
    train: bool = False

    def seconds(self, macs_per_s: float) -> float:
        """Seconds at ``macs_per_s``; training counts :data:`TRAIN_COST` forward passes."""
        return self.macs * self.images * (TRAIN_COST if self.train else 1.0) / macs_per_s


@dataclass(frozen=True)
class LessonBudget:
    """A lesson's full mode on a free Colab T4.

    Attributes:
        lesson: "01" .. "14".
        downloads: registry names (:data:`depthnb.data.DATASETS`, :data:`depthnb.models.PRETRAINED`)
            and torchvision encoders (:data:`TORCHVISION_BYTES`) the lesson fetches (the
            rehearsal checks them against what its mirror served to the lesson).
        optional: downloads the lesson fetches only on another path: a model the student picks
            from a menu, the other of two choices, or a fallback; stated beside ``downloads``.
        vm_copies: downloads copied from Drive to the VM's disk before training reads them many
            times (:func:`depthnb.course.notebook.local_copy`); their size is part of ``disk_gb``.
        work: the GPU work, see :class:`Work`.
        fixed_minutes: what does not scale with the GPU (reading, rendering, exporting) plus any
            time budget the lesson sets itself (lesson 06 trains for at most 25 minutes).
        ram_gb: peak memory of the lesson's process (Colab has 12.7 GB).
        disk_gb: what it leaves on disk (data, caches, runs; Colab has about 78 GB).
        gpu: False for lessons that run on a CPU runtime as well.
    """

    lesson: str
    downloads: tuple[str, ...]
    work: tuple[Work, ...]
    fixed_minutes: float
    ram_gb: float
    disk_gb: float
    gpu: bool = True
    optional: tuple[str, ...] = ()
    vm_copies: tuple[str, ...] = ()

    def download_bytes(self, names: tuple[str, ...] | None = None) -> int:
        """The bytes of every file of ``names`` (default: the lesson's ``downloads``), from the
        registries' published or estimated sizes."""
        from depthnb.data.download import DATASETS
        from depthnb.models.pretrained import PRETRAINED

        total = 0
        for name in self.downloads if names is None else names:
            if name in TORCHVISION_BYTES:
                total += TORCHVISION_BYTES[name]
                continue
            spec = DATASETS.get(name) or PRETRAINED[name]
            total += sum(remote.expected_bytes or 0 for remote in spec.files)
        return total

    def minutes(self, macs_per_s: float = T4_MACS_PER_S) -> int:
        """Minutes of compute after the downloads, rounded up."""
        gpu_seconds = sum(work.seconds(macs_per_s) for work in self.work)
        return math.ceil(self.fixed_minutes + gpu_seconds / 60)


BUDGETS: dict[str, LessonBudget] = {
    budget.lesson: budget
    for budget in (
        LessonBudget(
            "01",
            ("nyu-labeled",),
            (),
            fixed_minutes=8,
            ram_gb=4,
            disk_gb=3.5,
            gpu=False,
            optional=("nyu-eigen-test",),
        ),
        LessonBudget("02", (), (), fixed_minutes=1, ram_gb=1, disk_gb=0.0, gpu=False),
        LessonBudget(
            "03",
            ("densenet169", "resnet50"),
            (Work("DenseDepth 480x640", DENSEDEPTH_480x640, 20),),
            fixed_minutes=2,
            ram_gb=3,
            disk_gb=0.2,
        ),
        LessonBudget(
            "04",
            (),
            (
                Work(
                    "class U-Net 120x160, 2 runs x 3000 steps of 16",
                    CLASS_UNET_120x160,
                    96_000,
                    True,
                ),
            ),
            fixed_minutes=2,
            ram_gb=3,
            disk_gb=0.1,
        ),
        LessonBudget(
            "05",
            (),
            (
                Work(
                    "class U-Net 120x160, 2 runs x 3000 steps of 16",
                    CLASS_UNET_120x160,
                    96_000,
                    True,
                ),
            ),
            fixed_minutes=2,
            ram_gb=3,
            disk_gb=0.1,
        ),
        LessonBudget(
            "06",
            ("nyu-zip", "densenet169"),
            (Work("DenseDepth 480x640, throughput and resume", DENSEDEPTH_480x640, 400, True),),
            fixed_minutes=26,
            ram_gb=7,
            disk_gb=11,
            vm_copies=("nyu-zip",),
        ),
        LessonBudget(
            "07",
            ("nyu-eigen-test", "densedepth-nyu", "fcrn-nyu"),
            (
                Work(
                    "DenseDepth 480x640, 654 images with flips, twice (in memory, evaluate)",
                    DENSEDEPTH_480x640,
                    2 * 1308,
                ),
                Work("FCRN 228x304, 654 images", FCRN_228x304, 654),
                Work("lesson 06's DenseDepth, if there, 654 with flips", DENSEDEPTH_480x640, 1308),
            ),
            fixed_minutes=3,
            ram_gb=6,
            disk_gb=1.8,
        ),
        LessonBudget(
            "08",
            (
                "nyu-eigen-test",
                "densedepth-nyu",
                "depth-anything-v2-metric-indoor-small",
                "depth-anything-v2-relative-small",
                "kitti-depth-selection",
            ),
            (
                Work("DenseDepth 480x640, 100 NYU images", DENSEDEPTH_480x640, 100),
                Work(
                    "Depth Anything V2 small, metric and relative, 100 NYU images",
                    DEPTH_ANYTHING_SMALL_480x640,
                    200,
                ),
                Work(
                    "DenseDepth 480x1664 on KITTI, 200 frames twice",
                    DENSEDEPTH_480x640 * 1664 / 640,
                    400,
                ),
            ),
            fixed_minutes=4,
            ram_gb=5,
            disk_gb=3.9,
        ),
        LessonBudget(
            "09",
            ("nyu-eigen-test", "densedepth-nyu"),
            (Work("DenseDepth 480x640", DENSEDEPTH_480x640, 10),),
            fixed_minutes=2,
            ram_gb=4,
            disk_gb=1.6,
        ),
        LessonBudget(
            "10",
            ("depth-anything-v2-relative-small", "depth-anything-v2-metric-indoor-small"),
            (
                Work("Depth Anything V2 small on Motorcycle, 8 passes", DEPTH_ANYTHING_500x741, 8),
                Work(
                    "class U-Net 120x160, 2 runs x 1500 steps of 16",
                    CLASS_UNET_120x160,
                    48_000,
                    True,
                ),
            ),
            fixed_minutes=3,
            ram_gb=4,
            disk_gb=0.3,
        ),
        LessonBudget(
            "11",
            ("nyu-eigen-test", "densedepth-nyu", "depth-anything-v2-metric-indoor-small"),
            (Work("U-Net 240x320", UNET_240x320, 100),),
            fixed_minutes=2,
            ram_gb=3,
            disk_gb=1.8,
            optional=("depth-anything-v2-metric-outdoor-small",),
        ),
        LessonBudget(
            "12",
            (),
            (Work("mask-and-depth 160x160, 6 epochs of 2500", MASKDEPTH_160x160, 15_000, True),),
            fixed_minutes=4,
            ram_gb=4,
            disk_gb=0.2,
        ),
        LessonBudget(
            "13",
            (),
            (
                Work("U-Net 240x320, 90 frames", UNET_240x320, 90),
                Work("DenseDepth 480x640, 90 frames", DENSEDEPTH_480x640, 90),
            ),
            fixed_minutes=2,
            ram_gb=3,
            disk_gb=0.2,
            optional=("densedepth-nyu",),
        ),
        LessonBudget(
            "14",
            ("nyu-eigen-test", "fcrn-nyu", "densedepth-nyu"),
            (),
            fixed_minutes=8,
            ram_gb=8,
            disk_gb=2.5,
            gpu=False,
        ),
    )
}
"""Every lesson's budget, by lesson number."""


def _gigabytes(count: float) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e8 else f"{count / 1e6:.0f} MB"


def budget_line(lesson: str) -> str:
    """The one line a student reads about ``lesson``'s full mode: minutes on a T4 and downloads."""
    budget = BUDGETS[lesson]
    size = budget.download_bytes()
    downloads = f"downloads {_gigabytes(size)}" if size else "no downloads"
    where = "a T4 GPU" if budget.gpu else "any Colab runtime"
    return (
        f"**Full mode:** about {budget.minutes()} min on {where}, {downloads}. "
        "**Quick mode:** about a minute on a CPU."
    )


def budget_markdown(lesson: str) -> str:
    """The details of ``lesson``'s full mode for an instructor (one paragraph of Markdown)."""
    budget = BUDGETS[lesson]
    downloads = (
        f"downloads {_gigabytes(budget.download_bytes())} ({', '.join(budget.downloads)})"
        if budget.downloads
        else "no downloads"
    )
    if budget.optional:
        downloads += (
            f", up to {_gigabytes(budget.download_bytes(budget.optional))} more if you choose "
            f"or fall back to {' or '.join(budget.optional)}"
        )
    runtime = "a GPU runtime" if budget.gpu else "any runtime (the GPU is not needed)"
    copies = (
        f" (with a {_gigabytes(budget.download_bytes(budget.vm_copies))} copy of "
        f"{', '.join(budget.vm_copies)} on the VM's disk, read faster than Drive)"
        if budget.vm_copies
        else ""
    )
    return (
        f"**Full mode on a free Colab T4:** {downloads}, then about {budget.minutes()} min of "
        f"compute on {runtime}; peak RAM about {budget.ram_gb:g} GB of 12.7, disk about "
        f"{budget.disk_gb:g} GB{copies}. Quick mode (`DEPTHNB_QUICK=1`) runs in about a minute "
        "on a CPU. The minutes are estimates from the lesson's workload (`depthnb.course.budgets`)."
    )


def budget_cell(lesson: str) -> str:
    """The Markdown cell under a lesson's setup cell: :func:`budget_line` for the student, then
    :func:`budget_markdown` in a collapsed instructor note (the course guide has the table)."""
    return (
        f"{budget_line(lesson)}\n\n"
        "<details><summary>Instructor note: what full mode needs</summary>\n\n"
        f"{budget_markdown(lesson)} The course guide (`notebooks/README.md`) has every lesson's "
        "budget and what the course keeps on Drive.\n\n</details>"
    )


def cpu_warning(lesson: str) -> str | None:
    """What :func:`depthnb.notebook.setup` says in full mode without a GPU; None for CPU lessons."""
    budget = BUDGETS.get(lesson)
    if budget is None or not budget.gpu:
        return None
    cpu_minutes = budget.minutes(CPU_MACS_PER_S)
    hours = f"{cpu_minutes / 60:.0f} hours" if cpu_minutes >= 120 else f"{cpu_minutes} min"
    return (
        f"Full mode without a GPU: lesson {lesson} needs about {budget.minutes()} min on a T4 and "
        f"about {hours} on 2 CPU cores. In Colab choose Runtime > Change runtime type > T4 GPU, "
        "or set DEPTHNB_QUICK=1 for quick mode."
    )
