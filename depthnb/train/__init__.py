"""Training: one loop for every task, its settings, optimizers, schedules and recipes.

=====================  =============================================================
module                 what it holds
=====================  =============================================================
``train.config``       :class:`TrainConfig`, the one vocabulary of training settings
``train.optim``        :func:`build_optimizer`, :func:`build_scheduler`, :func:`schedule_preview`
``train.tasks``        :class:`DepthTask` (the default task), the task interface, targets
``train.trainer``      :class:`Trainer`, the loop
``train.setup``        loaders, the wrapped (DDP, compiled) network, augmentation, logging
``train.state``        the checkpoint a Trainer writes, and resuming from one
``train.sampling``     every random draw from (seed, epoch, index): exact resume, any workers
``train.recipes``      :data:`SYNTHETIC_UNET` and the synthetic-rooms U-Net trainer
=====================  =============================================================

The names below are re-exported here (``from depthnb.train import Trainer``), with the in-memory
dataset, the constant baseline, devices, seeding and the throughput benchmark from where they live.
"""

from depthnb.data.memory import InMemoryDataset, median_depth
from depthnb.inference import upsample_to
from depthnb.models.baseline import ConstantDepth
from depthnb.profiling import measure_throughput
from depthnb.runtime import PRECISIONS, resolve_device, resolve_precision, seed_everything
from depthnb.train.config import OPTIMIZERS, SCHEDULES, TrainConfig
from depthnb.train.optim import (
    HIGHER_IS_BETTER,
    build_optimizer,
    build_scheduler,
    monitor_key,
    schedule_preview,
)
from depthnb.train.recipes import (
    SYNTHETIC_UNET,
    TIMED_UNET,
    set_output_depth,
    synthetic_unet_config,
    synthetic_unet_trainer,
    train_synthetic_unet,
)
from depthnb.train.sampling import EpochProgress, EpochSampler, SeededSamples, derive_seed
from depthnb.train.tasks import DepthTask, LossFn, Task, get_loss_function, match_resolution
from depthnb.train.trainer import Trainer

__all__ = [
    "HIGHER_IS_BETTER",
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "SYNTHETIC_UNET",
    "TIMED_UNET",
    "ConstantDepth",
    "DepthTask",
    "EpochProgress",
    "EpochSampler",
    "InMemoryDataset",
    "LossFn",
    "SeededSamples",
    "Task",
    "TrainConfig",
    "Trainer",
    "build_optimizer",
    "build_scheduler",
    "derive_seed",
    "get_loss_function",
    "match_resolution",
    "measure_throughput",
    "median_depth",
    "monitor_key",
    "resolve_device",
    "resolve_precision",
    "schedule_preview",
    "seed_everything",
    "set_output_depth",
    "synthetic_unet_config",
    "synthetic_unet_trainer",
    "train_synthetic_unet",
    "upsample_to",
]
