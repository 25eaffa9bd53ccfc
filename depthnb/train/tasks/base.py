"""Tasks: what one training loop needs to know about a problem, and nothing else.

A task says what goes into the network (:meth:`~DepthTask.inputs`), the loss and its parts
(:meth:`~DepthTask.loss`), how outputs become metres and masks (:meth:`~DepthTask.predict`,
through :func:`depthnb.inference.decode_outputs`) and what it adds to the metrics
(:meth:`~DepthTask.meter`).
:class:`depthnb.train.Trainer` and :func:`depthnb.metrics.evaluate` drive any task;
:class:`~depthnb.train.tasks.depth.DepthTask` (depth regression) is the default,
:class:`~depthnb.train.tasks.maskdepth.MaskDepthTask` (mask and depth, lesson 12) is another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import torch
import torch.nn.functional as F

from depthnb.data.sample import Sample
from depthnb.encodings import Encoding
from depthnb.errors import DataError
from depthnb.inference import Outputs, Size
from depthnb.utils import distributed


class Meter(Protocol):
    """Accumulates a task's metrics over batches (and processes)."""

    def update(self, prediction: Mapping[str, torch.Tensor], batch: Sample) -> None:
        """Add one batch: the task's decoded prediction and the batch it came from."""

    def all_reduce(self) -> None:
        """Sum the state over the processes of ``torch.distributed`` (no-op for one process)."""

    def compute(self) -> dict[str, float]:
        """The metrics of everything seen."""


class Task(Protocol):
    """The interface of :class:`DepthTask`, for tasks that do not derive from it."""

    encoding: Encoding
    #: The history key that decides ``best.pt`` by default (with validation data).
    monitor: str

    def inputs(self, batch: Sample) -> torch.Tensor:
        """The network's input tensor for a batch on the device."""

    def loss(self, outputs: Outputs, batch: Sample) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar loss (with gradient) and its named parts (floats, for the log)."""

    def predict(self, outputs: Outputs, size: Size) -> dict[str, torch.Tensor]:
        """Outputs -> decoded predictions at ``size`` (``depth`` metres, ...)."""

    def meter(self) -> Meter:
        """A fresh accumulator of the task's metrics."""


def match_resolution(
    depth: torch.Tensor, valid: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Area-downsample a depth target (B,1,H,W) metres and its mask to ``size`` = (h, w).

    Only valid pixels are averaged; an output pixel is valid when at least half its area was.
    Unchanged when the size already matches.
    """
    if tuple(depth.shape[-2:]) == tuple(size):
        return depth, valid
    weight = F.interpolate(valid.float(), size=size, mode="area")
    total = F.interpolate(depth * valid, size=size, mode="area")
    return total / weight.clamp(min=1e-6), weight >= 0.5


def require(batch: Sample, keys: tuple[str, ...], hint: str) -> None:
    """Raise :class:`DataError` naming the keys of ``keys`` that ``batch`` lacks, and ``hint``."""
    missing = [key for key in keys if key not in batch]
    if missing:
        raise DataError(f"a batch needs {missing} but has only {sorted(batch)}; {hint}")


def add_parts(
    sums: dict[str, torch.Tensor], prefix: str, parts: dict[str, float], count: int
) -> None:
    """Add ``count`` times each loss part to ``sums["<prefix>_<part>"]`` (float64, CPU)."""
    for name, value in parts.items():
        key = f"{prefix}_{name}"
        sums[key] = sums.get(key, torch.zeros((), dtype=torch.float64)) + value * count


def reduce_means(sums: dict[str, torch.Tensor], count: float) -> dict[str, float]:
    """Sum ``sums`` (name -> scalar) and ``count`` over processes; return each sum / count."""
    names = sorted(sums)
    stacked = torch.stack(
        [*(sums[name].double().cpu() for name in names), torch.tensor(count, dtype=torch.float64)]
    )
    totals = distributed.all_reduce_sum(stacked)
    return {name: float(totals[i] / totals[-1].clamp(min=1.0)) for i, name in enumerate(names)}
