"""Where does a training step's time go? Three views of one loop.

- :func:`time_steps`: wall-clock split of each step into *waiting for the DataLoader* and
  *compute* (forward, backward, optimizer step), with the GPU synchronised before the clock is read.
- :func:`cprofile_top`: Python's ``cProfile`` over a callable, the top ``pstats`` entries.
- :func:`torch_profile_table`: ``torch.profiler``'s operator table (``key_averages().table``)
  sorted by self CPU time.
- :func:`measure_throughput`: training images per second of a model on random images (the
  ``bench`` command).

>>> batches = [torch.rand(4, 8) for _ in range(6)]          # a DataLoader, say
>>> layer = nn.Linear(8, 1)
>>> timing = time_steps(batches, lambda x: layer(x).sum().backward(), steps=5)
>>> sorted(timing.summary())
['compute_ms', 'data_fraction', 'data_ms', 'steps', 'total_ms']
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from depthnb.errors import ArgumentError, DataError
from depthnb.utils.device import synchronize


@dataclass(frozen=True)
class StepTiming:
    """Per-step wall-clock times of a training loop, in seconds.

    Attributes:
        data_s: for each timed step, the time spent waiting for the next batch (``next(loader)``).
        compute_s: for each timed step, the time of ``step(batch)`` (host-to-device copy, forward,
            backward, optimizer step), the device synchronised before the clock is read.
        total_s: wall-clock time of all timed steps together; ``sum(data_s) + sum(compute_s)``
            equals it up to the few microseconds of loop bookkeeping.
    """

    data_s: list[float]
    compute_s: list[float]
    total_s: float

    def summary(self) -> dict[str, float]:
        """Mean milliseconds per step: ``data_ms``, ``compute_ms``, ``total_ms``, plus ``steps`` and
        ``data_fraction`` (share of the total spent waiting for data, 0..1)."""
        steps = len(self.data_s)
        data = sum(self.data_s)
        return {
            "steps": float(steps),
            "data_ms": 1000.0 * data / steps,
            "compute_ms": 1000.0 * sum(self.compute_s) / steps,
            "total_ms": 1000.0 * self.total_s / steps,
            "data_fraction": data / self.total_s if self.total_s > 0 else 0.0,
        }


def time_steps(
    loader: Iterable[Any],
    step: Callable[[Any], Any],
    steps: int,
    warmup: int = 1,
    device: torch.device | str | None = None,
) -> StepTiming:
    """Run ``step`` on ``warmup + steps`` batches of ``loader``; time the last ``steps``.

    The iterator is created before the warm-up steps, so worker start-up and first-call costs
    (allocations, cuDNN autotuning) fall outside the timed steps.

    Args:
        loader: any iterable of batches (a ``DataLoader``); it is restarted if it runs out.
        step: does one training step on a batch (it moves the batch to its device itself).
        steps: how many steps to time (>= 1).
        warmup: untimed steps first.
        device: the device ``step`` computes on; synchronised before each clock read.

    Returns:
        A :class:`StepTiming`.
    """
    if steps < 1 or warmup < 0:
        raise ArgumentError(
            f"time_steps needs steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}"
        )
    iterator = iter(loader)

    def next_batch() -> Any:
        nonlocal iterator
        try:
            return next(iterator)
        except StopIteration:
            iterator = iter(loader)
            try:
                return next(iterator)
            except StopIteration:
                raise DataError(
                    "time_steps got an empty loader: give it at least one batch"
                ) from None

    for _ in range(warmup):
        step(next_batch())
    synchronize(device)
    data_s: list[float] = []
    compute_s: list[float] = []
    start = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        batch = next_batch()
        t1 = time.perf_counter()
        step(batch)
        synchronize(device)
        t2 = time.perf_counter()
        data_s.append(t1 - t0)
        compute_s.append(t2 - t1)
    return StepTiming(data_s=data_s, compute_s=compute_s, total_s=time.perf_counter() - start)


@dataclass(frozen=True)
class ProfileRow:
    """One ``pstats`` entry: a function and the seconds spent in it.

    Attributes:
        function: ``file:line(name)`` with the file's last two path components, or for a built-in
            (C) function its name alone, e.g. ``<built-in method torch.conv2d>``.
        ncalls: number of calls.
        tottime_s: seconds inside the function itself (callees excluded).
        cumtime_s: seconds inside the function and everything it called.
    """

    function: str
    ncalls: int
    tottime_s: float
    cumtime_s: float


@dataclass(frozen=True)
class CProfileReport:
    """The result of :func:`cprofile_top`: the top ``rows`` and ``pstats``' printout ``text``."""

    rows: list[ProfileRow]
    text: str
    total_s: float


def _short_path(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


def cprofile_top(fn: Callable[[], Any], top: int = 15, sort: str = "tottime") -> CProfileReport:
    """Run ``fn()`` under ``cProfile`` and return its ``top`` entries sorted by ``sort``.

    Args:
        fn: the code to profile, e.g. ``lambda: train_steps(10)``.
        top: how many entries to keep.
        sort: a ``pstats`` sort key: ``"tottime"`` (time in the function itself, where to optimise)
            or ``"cumtime"`` (time including callees, which part of the program is slow).

    Returns:
        A :class:`CProfileReport` (rows, printed table, total profiled seconds).
    """
    if sort not in {"tottime", "cumtime", "ncalls"}:
        raise ArgumentError(f"cprofile_top sorts by 'tottime', 'cumtime' or 'ncalls', not {sort!r}")
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats(sort).print_stats(top)
    key = {"tottime": 2, "cumtime": 3, "ncalls": 1}[sort]
    table = stats.stats  # type: ignore[attr-defined]  # pstats documents it, typeshed does not
    entries = sorted(table.items(), key=lambda item: item[1][key], reverse=True)[:top]
    rows = [
        ProfileRow(
            function=name if file == "~" else f"{_short_path(file)}:{line}({name})",
            ncalls=int(ncalls),
            tottime_s=float(tottime),
            cumtime_s=float(cumtime),
        )
        for (file, line, name), (_, ncalls, tottime, cumtime, _) in entries
    ]
    return CProfileReport(rows=rows, text=buffer.getvalue(), total_s=float(stats.total_tt))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TorchProfileReport:
    """The result of :func:`torch_profile_table`.

    Attributes:
        table: ``key_averages().table(...)`` as printed.
        rows: the top operators as dicts: ``name``, ``calls``, ``self_cpu_ms``, ``cpu_total_ms``
            (milliseconds summed over all calls).
    """

    table: str
    rows: list[dict[str, Any]]


def torch_profile_table(
    fn: Callable[[], Any], row_limit: int = 12, sort_by: str = "self_cpu_time_total"
) -> TorchProfileReport:
    """Run ``fn()`` under ``torch.profiler`` (CPU, plus CUDA when available) and tabulate operators.

    Args:
        fn: the code to profile (a few training steps).
        row_limit: operators to keep.
        sort_by: a ``key_averages().table`` sort key; self CPU time says which operator itself is
            expensive (children excluded).

    Returns:
        A :class:`TorchProfileReport`.
    """
    activities = [torch.profiler.ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profiler:
        fn()
    averages = profiler.key_averages()
    table = averages.table(sort_by=sort_by, row_limit=row_limit)
    ordered = sorted(averages, key=lambda event: getattr(event, sort_by), reverse=True)[:row_limit]
    rows = [
        {
            "name": event.key,
            "calls": int(event.count),
            "self_cpu_ms": event.self_cpu_time_total / 1000.0,
            "cpu_total_ms": event.cpu_time_total / 1000.0,
        }
        for event in ordered
    ]
    return TorchProfileReport(table=table, rows=rows)


def measure_throughput(
    model: nn.Module,
    batch_size: int = 8,
    size: tuple[int, int] = (120, 160),
    steps: int = 10,
    warmup: int = 3,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
) -> dict[str, Any]:
    """Training speed of a model on random images: forward, L1 loss, backward, Adam step.

    Returns ``images_per_s``, ``step_ms``, ``peak_memory_mb`` (CUDA only, else ``None``) and the
    ``precision`` actually used (``auto`` resolved).
    """
    from depthnb.utils.device import resolve_precision

    counts = {"batch_size": (batch_size, 1), "steps": (steps, 1), "warmup": (warmup, 0)}
    for name, (value, least) in {**counts, "size": (min(size), 1)}.items():
        if value < least:
            raise ArgumentError(f"measure_throughput: {name} must be at least {least}, got {value}")
    device = torch.device(device)
    dtype = resolve_precision(precision, device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device).to(memory_format=memory_format).train()
    network = torch.compile(model) if compile else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    image = torch.rand(batch_size, 3, *size, device=device).contiguous(memory_format=memory_format)
    autocast = (
        torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> None:
        with autocast:
            pred = network(image)
        loss = pred.float().abs().mean()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    name = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    return {
        "images_per_s": batch_size / seconds,
        "step_ms": 1000 * seconds,
        "peak_memory_mb": peak,
        "precision": name,
        "channels_last": channels_last,
    }
