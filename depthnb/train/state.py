"""Resuming a Trainer from its checkpoint: whether the saved learning-rate schedule can carry on
under the resuming run's settings (:func:`check_schedule`), and a model's identity.

The checkpoint itself is :meth:`depthnb.train.Trainer.state_dict` (the dict
:mod:`depthnb.checkpoint` describes, plus the per-step log and, inside an epoch, its progress:
:meth:`depthnb.train.sampling.EpochProgress.to_dict`); :meth:`depthnb.train.Trainer.resume` reads
it back. The sample order and every random draw are functions of the seed and the position
(:mod:`depthnb.train.sampling`), so nothing else is needed to carry on exactly.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from torch import nn

from depthnb.errors import ConfigError

if TYPE_CHECKING:
    from depthnb.train.config import TrainConfig


def model_identity(model: nn.Module) -> tuple[str, dict[str, Any]]:
    """A model's registry name and config (what rebuilds its architecture)."""
    return getattr(model, "name", type(model).__name__), dict(getattr(model, "config", {}))


#: The settings that decide how many optimizer steps an epoch has, with their flags.
_STEP_SETTINGS = {"batch_size": "--batch-size", "accumulate": "--accumulate"}


def _saved_steps_per_epoch(checkpoint: dict[str, Any], saved: dict[str, Any]) -> int | None:
    """Optimizer steps per epoch of the run that wrote ``checkpoint``: stored since this key
    exists, else from a onecycle schedule's planned total; None if not known."""
    if checkpoint.get("steps_per_epoch") is not None:
        return int(checkpoint["steps_per_epoch"])
    total = (checkpoint.get("scheduler") or {}).get("total_steps")
    epochs = saved.get("epochs")
    return int(total) // int(epochs) if total and epochs else None


def check_schedule(
    config: TrainConfig,
    steps_per_epoch: int,
    checkpoint: dict[str, Any],
    path: str | os.PathLike[str],
) -> None:
    """Raise :class:`ConfigError` if the checkpoint's learning-rate schedule cannot carry on under
    the trainer's settings: another ``schedule``; or, for a schedule planned in steps (onecycle,
    poly, step, a warm-up), another number of steps per epoch (``batch_size``, ``accumulate``,
    the training set or the process count changed: onecycle would stop with "Tried to step ...
    times" an epoch later, the others would silently follow another curve); or a onecycle run
    shortened below the steps it has taken. ``config`` and ``steps_per_epoch`` are the resuming
    run's. Names the setting that differs and what to do."""
    saved = checkpoint.get("train_config") or {}
    restart = f"or start a new run (another --out-dir, without --resume {path})"
    if saved.get("schedule", config.schedule) != config.schedule:
        raise ConfigError(
            f"{path} was trained with schedule {saved['schedule']!r}, these settings use "
            f"{config.schedule!r}: resume with --schedule {saved['schedule']}, {restart}"
        )
    if config.schedule == "plateau" or (config.schedule == "constant" and not config.warmup):
        return  # a schedule that does not count steps
    per_epoch = _saved_steps_per_epoch(checkpoint, saved)
    differ = {
        key: saved[key]
        for key in _STEP_SETTINGS
        if key in saved and saved[key] != getattr(config, key)
    }
    if differ or (per_epoch is not None and per_epoch != steps_per_epoch):
        if differ:
            changed = ", ".join(
                f"{key} {value} then, {getattr(config, key)} now" for key, value in differ.items()
            )
            advice = " ".join(f"{_STEP_SETTINGS[key]} {value}" for key, value in differ.items())
        else:
            changed = "the training set or the number of processes changed"
            advice = "the same data (--limit, --train-scenes) and processes"
        raise ConfigError(
            f"{path}: its {config.schedule} schedule was planned for {per_epoch or 'other'} "
            f"steps per epoch and these settings give {steps_per_epoch} ({changed}); "
            f"resume with {advice}, {restart}"
        )
    planned = config.epochs * steps_per_epoch
    if config.schedule == "onecycle" and int(checkpoint.get("step", 0)) > planned:
        raise ConfigError(
            f"{path} has taken {checkpoint['step']} steps ({checkpoint['epoch']} epochs), more "
            f"than --epochs {config.epochs} plans ({planned}); pass --epochs above "
            f"{checkpoint['epoch']} to extend the run, {restart}"
        )
