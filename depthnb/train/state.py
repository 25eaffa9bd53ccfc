"""A Trainer's checkpoint: what :class:`~depthnb.train.Trainer` writes, and how it resumes from one.

The dict is the one :mod:`depthnb.checkpoint` describes (model name, config, weights, encoding,
optimizer, schedule, scaler, random states, epoch, step, history, ``train_config``), so
:func:`depthnb.predict.load_checkpoint` rebuilds the model from it alone. A Trainer adds the
per-step log (``steps``) and, in a checkpoint written inside an epoch (``checkpoint_every``), how
far that epoch had got (``progress``: :meth:`depthnb.train.sampling.EpochProgress.to_dict`); the
sample order and every random draw are functions of the seed and the position
(:mod:`depthnb.train.sampling`), so nothing else is needed to carry on exactly.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

from depthnb.checkpoint import (
    FORMAT,
    VERSION,
    read_checkpoint,
    require_training_state,
    rng_state,
    set_rng_state,
)
from depthnb.errors import CheckpointError, ConfigError
from depthnb.train.sampling import EpochProgress

if TYPE_CHECKING:
    from depthnb.train.trainer import Trainer


def model_identity(trainer: Trainer) -> tuple[str, dict[str, Any]]:
    """The trained model's registry name and config (what rebuilds its architecture)."""
    model = trainer.model
    return getattr(model, "name", type(model).__name__), dict(getattr(model, "config", {}))


def checkpoint_dict(
    trainer: Trainer,
    metrics: dict[str, Any] | None = None,
    progress: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The checkpoint of the trainer's current state (every value weights_only-loadable);
    ``progress``: that of the epoch in progress, for a checkpoint written inside an epoch."""
    name, config = model_identity(trainer)
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_name": name,
        "model_config": config,
        "state_dict": trainer.model.state_dict(),
        "encoding": trainer.encoding.to_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "rng": rng_state(),
        "epoch": trainer.epoch,
        "step": trainer.step,
        "steps_per_epoch": trainer.steps_per_epoch,
        "history": [dict(record) for record in trainer.history],
        "steps": [dict(record) for record in trainer.steps],
        "progress": progress,
        "metrics": dict(metrics or {}),
        "best": trainer.best,
        "input_size": trainer.input_size,
        "train_config": trainer.config.to_dict(),
    }


def restore(trainer: Trainer, path: str | os.PathLike[str]) -> None:
    """Load a checkpoint of the trainer's model: weights, optimizer, schedule, scaler, random
    states, epoch, step, history and step log, and the progress of an epoch stopped inside.

    With the same settings the run continues exactly as if never stopped (with any number of
    DataLoader workers: samples do not depend on them). With another ``epochs`` (extending a
    finished run) the schedule is rebuilt for the new length and advanced to the checkpoint's step.

    Raises:
        CheckpointError: unreadable file, a checkpoint of another model or architecture, one
            written inside an epoch with another ``batch_size`` (the batches done are not known),
            or one without the training state (optimizer, scheduler, scaler, rng, history).
        ConfigError: settings under which the saved schedule cannot carry on (see
            :func:`check_schedule`), before anything is loaded.
    """
    checkpoint = read_checkpoint(path, map_location=trainer.device)
    require_training_state(checkpoint, path)
    name, config = model_identity(trainer)
    if checkpoint["model_name"] != name or checkpoint["model_config"] != config:
        raise CheckpointError(
            f"{path} holds model {checkpoint['model_name']!r} {checkpoint['model_config']}, but "
            f"this Trainer trains {name!r} {config}: build the same model to resume, or start "
            "afresh"
        )
    saved_config = checkpoint.get("train_config") or {}
    progress = checkpoint.get("progress")
    batch_size = saved_config.get("batch_size", trainer.config.batch_size)
    if progress is not None and batch_size != trainer.config.batch_size:
        raise CheckpointError(
            f"{path} was written inside epoch {checkpoint['epoch'] + 1} with batch_size="
            f"{batch_size}; resume it with batch_size={batch_size}, or from a checkpoint written "
            "at the end of an epoch"
        )
    check_schedule(trainer, checkpoint, path)
    try:
        trainer.model.load_state_dict(checkpoint["state_dict"])
        trainer.optimizer.load_state_dict(checkpoint["optimizer"])
        trainer.scaler.load_state_dict(checkpoint["scaler"])
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path} does not fit this model or optimizer: {error}") from error
    trainer.step = int(checkpoint["step"])
    saved_epochs = saved_config.get("epochs", trainer.config.epochs)
    if saved_epochs == trainer.config.epochs or trainer.config.schedule == "plateau":
        trainer.scheduler.load_state_dict(checkpoint["scheduler"])
    else:  # a longer or shorter run: the schedule spans the new length; replay it to here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(trainer.step):
                trainer.scheduler.step()
    set_rng_state(checkpoint["rng"], path)
    trainer.epoch = int(checkpoint["epoch"])
    trainer.history = list(checkpoint["history"])
    trainer.steps = list(checkpoint.get("steps", []))
    trainer.progress = (
        EpochProgress()
        if progress is None
        else EpochProgress.from_dict(progress, trainer.device, trainer.is_main)
    )
    trainer.best = checkpoint.get("best")
    trainer.input_size = checkpoint.get("input_size")


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
    trainer: Trainer, checkpoint: dict[str, Any], path: str | os.PathLike[str]
) -> None:
    """Raise :class:`ConfigError` if the checkpoint's learning-rate schedule cannot carry on under
    the trainer's settings: another ``schedule``; or, for a schedule planned in steps (onecycle,
    poly, step, a warm-up), another number of steps per epoch (``batch_size``, ``accumulate``,
    the training set or the process count changed: onecycle would stop with "Tried to step ...
    times" an epoch later, the others would silently follow another curve); or a onecycle run
    shortened below the steps it has taken. Names the setting that differs and what to do."""
    config = trainer.config
    saved = checkpoint.get("train_config") or {}
    restart = f"or start a new run (another --out, without --resume {path})"
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
    if differ or (per_epoch is not None and per_epoch != trainer.steps_per_epoch):
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
            f"steps per epoch and these settings give {trainer.steps_per_epoch} ({changed}); "
            f"resume with {advice}, {restart}"
        )
    planned = config.epochs * trainer.steps_per_epoch
    if config.schedule == "onecycle" and int(checkpoint.get("step", 0)) > planned:
        raise ConfigError(
            f"{path} has taken {checkpoint['step']} steps ({checkpoint['epoch']} epochs), more "
            f"than --epochs {config.epochs} plans ({planned}); pass --epochs above "
            f"{checkpoint['epoch']} to extend the run, {restart}"
        )
