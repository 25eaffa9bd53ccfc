"""Optimizers and learning-rate schedules built from a :class:`~depthnb.train.config.TrainConfig`.

>>> rates = schedule_preview("onecycle", epochs=10, steps_per_epoch=100, lr=1e-3, warmup=0.1)
>>> len(rates), max(rates) <= 1e-3
(1000, True)
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from depthnb.metrics.depth import HIGHER_IS_BETTER
from depthnb.train.config import TrainConfig

Scheduler = torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam / AdamW / SGD over the model's parameter groups (encoder: ``lr * encoder_lr_scale``)."""
    from depthnb.models.summary import parameter_groups

    params = parameter_groups(model, config.lr, config.encoder_lr_scale)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            params, lr=config.lr, weight_decay=config.weight_decay, amsgrad=config.amsgrad
        )
    return torch.optim.Adam(
        params, lr=config.lr, weight_decay=config.weight_decay, amsgrad=config.amsgrad
    )


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> Scheduler:
    """The learning-rate schedule of ``config.schedule``; all but plateau step every optimizer step.

    ``plateau`` is stepped once per epoch with the monitored value (see :meth:`Trainer.fit`).
    """
    total = max(1, config.epochs * steps_per_epoch)
    warmup_steps = int(config.warmup * total)

    def warm(step: int) -> float:
        return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0

    if config.schedule == "onecycle":
        max_lrs = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=max_lrs,
            total_steps=total,
            pct_start=max(config.warmup, 1e-3),
            cycle_momentum=config.optimizer == "sgd",
        )
    if config.schedule == "plateau":
        higher = monitor_key(config, has_validation=True) in HIGHER_IS_BETTER
        mode: Literal["min", "max"] = "max" if higher else "min"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=0.5, patience=config.patience
        )
    if config.schedule == "poly":

        def factor(step: int) -> float:
            return warm(step) * max(0.0, 1.0 - step / total) ** config.power
    elif config.schedule == "step":

        def factor(step: int) -> float:
            return config.gamma ** (step // (config.step_epochs * steps_per_epoch))
    else:

        def factor(step: int) -> float:
            return warm(step)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def schedule_preview(
    schedule: str, epochs: int = 10, steps_per_epoch: int = 100, lr: float = 1e-3, **settings: Any
) -> list[float]:
    """The learning rate at every optimizer step of a schedule (for plots).

    ``plateau`` is shown as if the monitored value never improved.
    """
    config = TrainConfig(epochs=epochs, lr=lr, schedule=schedule, **settings)
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr, momentum=config.momentum)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    rates = []
    for step in range(epochs * steps_per_epoch):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if (step + 1) % steps_per_epoch == 0:
                scheduler.step(1.0)
        else:
            scheduler.step()
    return rates


def monitor_key(config: TrainConfig, has_validation: bool, default: str = "delta1") -> str:
    """The history key that decides ``best.pt``: ``config.monitor``, else ``default`` (the task's
    headline metric) with validation data, else ``train_loss``."""
    if config.monitor != "auto":
        return config.monitor
    return default if has_validation else "train_loss"
