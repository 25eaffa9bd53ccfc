"""Training: one loop for every task, its settings, optimizers, schedules and recipes.

=====================  ======================================================================
module                 what it holds
=====================  ======================================================================
``train.config``       :class:`TrainConfig`, the one vocabulary of settings; the recipes' values
``train.optim``        :func:`build_optimizer`, :func:`build_scheduler`, :func:`schedule_preview`
``train.tasks``        the task interface, :class:`DepthTask` (the default), mask and depth
``train.profiling``    where a step's time goes; :func:`measure_throughput`
``train.trainer``      :class:`Trainer`, the loop
``train.setup``        loaders, the wrapped (DDP, compiled) network, augmentation, logging
``train.state``        whether a checkpoint's schedule can carry on under new settings
``train.sampling``     every random draw from (seed, epoch, index): exact resume, any workers
``train.recipes``      the synthetic-rooms U-Net trainer (its settings: :data:`SYNTHETIC_UNET`)
=====================  ======================================================================

The names below are re-exported here (``from depthnb.train import Trainer``), with the in-memory
dataset, the constant baseline, devices, seeding and the throughput benchmark from where they live.
They are imported on first use, so that the command line reads the settings' vocabulary
(:mod:`depthnb.train.config`) without importing torch.
"""

import importlib
from typing import Any

_NAMES = {
    "depthnb.data.memory": (
        "InMemoryDataset",
        "median_depth",
    ),
    "depthnb.inference": ("upsample_to",),
    "depthnb.metrics.baseline": ("ConstantDepth",),
    "depthnb.metrics.depth": ("HIGHER_IS_BETTER",),
    "depthnb.train.config": (
        "OPTIMIZERS",
        "SCHEDULES",
        "SYNTHETIC_UNET",
        "TIMED_UNET",
        "TrainConfig",
        "synthetic_unet_config",
    ),
    "depthnb.train.optim": (
        "build_optimizer",
        "build_scheduler",
        "monitor_key",
        "schedule_preview",
    ),
    "depthnb.train.profiling": ("measure_throughput",),
    "depthnb.train.recipes": (
        "set_output_depth",
        "synthetic_unet_trainer",
        "train_synthetic_unet",
    ),
    "depthnb.train.sampling": (
        "EpochProgress",
        "EpochSampler",
        "SeededSamples",
    ),
    "depthnb.train.tasks.base": (
        "Task",
        "match_resolution",
    ),
    "depthnb.train.tasks.depth": (
        "DepthTask",
        "LossFn",
        "get_loss_function",
    ),
    "depthnb.train.trainer": ("Trainer",),
    "depthnb.utils.device": (
        "PRECISIONS",
        "resolve_device",
        "resolve_precision",
    ),
    "depthnb.utils.seed": (
        "derive_seed",
        "seed_everything",
    ),
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(_MODULE_OF[name]), name)
    raise AttributeError(f"module 'depthnb.train' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
