"""Distributed data parallel from the environment that ``torchrun`` sets.

``torchrun --nproc_per_node=N -m depthnb train ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. Each process trains on its
share of every batch; gradients are averaged across processes after each backward pass (gloo on CPU,
nccl on CUDA), so N processes with batch b each follow one process with batch N*b.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size``, its GPU index ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when more than one process trains together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that logs and writes checkpoints."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """True when ``WORLD_SIZE`` in the environment says several processes were started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: torch.device) -> DistInfo:
    """Join the process group described by the environment (once); a no-op for a single process.

    Uses nccl for CUDA and gloo otherwise. On CUDA, each process takes GPU ``LOCAL_RANK``.
    """
    if dist.is_available() and dist.is_initialized():
        return current()
    if not launched_by_torchrun():
        return DistInfo()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return current()


def current() -> DistInfo:
    """This process's :class:`DistInfo` (a single process when no group is initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    return DistInfo(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all processes (returned unchanged for a single process).

    Any shape; the result is on ``values``' device. nccl reduces CUDA tensors only, so under nccl a
    CPU tensor is reduced on this process's GPU and copied back.
    """
    if current().enabled:
        on = values.device
        if dist.get_backend() == "nccl" and on.type != "cuda":
            on = torch.device("cuda", torch.cuda.current_device())
        reduced = values.to(on, copy=True)
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
        values = reduced.to(values.device)
    return values
