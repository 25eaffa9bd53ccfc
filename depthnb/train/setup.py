"""What the Trainer builds before its first step: loaders, the wrapped network, logging, augment.

Each a function of the settings (:class:`~depthnb.train.config.TrainConfig`), so the Trainer reads
as its loop.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from depthnb.data.augment import BatchAugment
from depthnb.errors import ConfigError, DataError
from depthnb.train.config import TrainConfig
from depthnb.train.sampling import VALIDATION, EpochSampler, SeededSamples
from depthnb.utils.distributed import DistInfo


def data_loaders(
    train_data: Dataset,
    val_data: Dataset | None,
    config: TrainConfig,
    dist: DistInfo,
    device: torch.device,
    generator: torch.Generator,
) -> tuple[EpochSampler, DataLoader, DataLoader | None]:
    """The training sampler and loader, and the validation loader (or ``None``).

    Both read :class:`~depthnb.train.sampling.SeededSamples` of their dataset, so every sample's
    random transforms are drawn from ``(seed, epoch, index)`` (validation: the same draws every
    epoch); training in the order of an :class:`~depthnb.train.sampling.EpochSampler`,
    validation this process's share in order.
    """
    sampler = EpochSampler(train_data, dist.world_size, dist.rank, config.seed)
    per_process = len(sampler)
    if per_process == 0:
        raise DataError(
            "the training set has no sample for this process; check the data folder and the "
            "sample limit"
        )
    train = make_loader(
        SeededSamples(train_data, config.seed),
        sampler,
        config,
        device,
        generator,
        drop_last=per_process >= config.batch_size,
    )
    if val_data is None:
        return sampler, train, None
    count = len(val_data)  # type: ignore[arg-type]
    shard = [(VALIDATION, i) for i in range(dist.rank, count, dist.world_size)]
    val = make_loader(SeededSamples(val_data, config.seed), shard, config, device, generator)
    return sampler, train, val


def make_loader(
    dataset: Dataset,
    sampler: Any,
    config: TrainConfig,
    device: torch.device,
    generator: torch.Generator,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader of ``config.batch_size`` with persistent workers and pinned memory on CUDA.

    The workers last as long as the loader: the Trainer drops its loaders at the end of each
    ``fit()`` (idle workers hold memory: each keeps a copy-on-write image of the training process
    as it was when the worker started, in a notebook the kernel's heap at that moment).
    """
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=config.workers,
        persistent_workers=config.workers > 0,
        pin_memory=device.type == "cuda",
        generator=generator,
    )


def wrap_model(
    model: nn.Module, config: TrainConfig, dist: DistInfo, device: torch.device
) -> nn.Module:
    """The network the loop calls: SyncBatchNorm and DistributedDataParallel under ``torchrun``,
    then ``torch.compile`` if asked. Its parameters are ``model``'s."""
    network = model
    if dist.enabled:
        if config.sync_bn:
            if device.type == "cuda":
                network = nn.SyncBatchNorm.convert_sync_batchnorm(network)
            else:
                warnings.warn(
                    "sync_bn needs CUDA; BatchNorm statistics stay per process", stacklevel=3
                )
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [device.index] if device.type == "cuda" else None
        network = DistributedDataParallel(network, device_ids=device_ids)
    if config.compile:
        network = torch.compile(network)  # type: ignore[assignment]
    return network


def batch_augment(config: TrainConfig) -> BatchAugment | None:
    """Flip and channel permutation (and jitter of strength ``config.jitter``) if augmenting."""
    if not config.augment:
        return None
    return BatchAugment(
        flip=0.5,
        permute_channels=0.5,
        brightness=config.jitter,
        contrast=config.jitter,
        saturation=config.jitter,
    )


def tensorboard_writer(config: TrainConfig, out_dir: Path | None) -> Any:
    """A TensorBoard ``SummaryWriter`` in ``out_dir/tensorboard``, or ``None`` (not installed)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        warnings.warn(
            "tensorboard is not installed (pip install tensorboard); not logging to it",
            stacklevel=3,
        )
        return None
    if out_dir is None:
        raise ConfigError("tensorboard logging needs out_dir")
    return SummaryWriter(log_dir=str(out_dir / "tensorboard"))
