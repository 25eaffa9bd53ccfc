"""Recipes: the settings and the set-up of runs the course repeats.

- :data:`SYNTHETIC_UNET`: the main job (``python -m depthnb train``) and the lessons' U-Net on
  synthetic rooms; :func:`synthetic_unet_config` is its :class:`TrainConfig`;
  :func:`synthetic_unet_trainer` / :func:`train_synthetic_unet` build and run it.
- The mask-and-depth seed's recipe is :data:`depthnb.train.tasks.maskdepth.MASKDEPTH_SEED`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from depthnb.data.memory import InMemoryDataset, median_depth
from depthnb.errors import ModelError
from depthnb.models.blocks import model_encoding
from depthnb.train.config import SYNTHETIC_UNET, synthetic_unet_config
from depthnb.train.trainer import Trainer
from depthnb.utils.seed import seeded_rngs


def set_output_depth(model: nn.Module, depth_m: float) -> nn.Module:
    """Start a model's output at ``depth_m`` metres: its last conv's bias = the encoded depth.

    An untrained network outputs about 0, i.e. 1 m in the log encoding; the first epoch would be
    spent just moving that bias towards the typical depth of the data (e.g. its median). Needs a
    ``model.head`` conv with a bias (the U-Net has one); returns the model.
    """
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Conv2d) or head.bias is None:
        raise ModelError(
            f"{type(model).__name__} has no .head conv with a bias to initialise "
            "(set_output_depth knows the U-Net's head)"
        )
    target = model_encoding(model, "set_output_depth").encode(torch.tensor([[[[float(depth_m)]]]]))
    with torch.no_grad():
        head.bias.fill_(float(target.flatten()[0]))
    return model


def synthetic_unet_trainer(
    size: tuple[int, int] = (120, 160),
    seconds: float | None = None,
    *,
    scenes: int | None = None,
    val_scenes: int = 0,
    seed: int = 0,
    val_seed: int = 1000,
    model_args: dict[str, Any] | None = None,
    progress: bool = False,
    on_epoch_end: Callable[[Trainer, dict], None] | None = None,
    **settings: Any,
) -> Trainer:
    """A :class:`Trainer` of a fresh U-Net on synthetic rooms, rendered once into memory.

    The recipe is :data:`SYNTHETIC_UNET` (the main job's); with ``seconds``, :data:`TIMED_UNET` on
    top (constant learning rate, ``time_budget_s=seconds``). ``settings`` override any
    :class:`TrainConfig` field; ``model_args`` the U-Net's (default ``filters`` of the recipe).
    The rooms are ``SyntheticRooms(scenes, size, seed)``; ``val_scenes`` > 0 adds held-out rooms of
    ``val_seed``. The output bias starts at the training rooms' median depth
    (:func:`set_output_depth`).
    """
    from depthnb.data.synthetic.datasets import SyntheticRooms
    from depthnb.models import build_model

    config = synthetic_unet_config(seconds, seed=seed, progress=progress, **settings)
    n_train = SYNTHETIC_UNET["scenes"] if scenes is None else int(scenes)
    train = InMemoryDataset(
        SyntheticRooms(n_train, size=(size[0], size[1]), seed=seed), progress=progress
    )
    held_out = (
        InMemoryDataset(SyntheticRooms(val_scenes, size=(size[0], size[1]), seed=val_seed))
        if val_scenes
        else None
    )
    with seeded_rngs(seed):  # the same initial weights for the same seed, the caller's RNGs kept
        model = build_model("unet", **{"filters": SYNTHETIC_UNET["filters"], **(model_args or {})})
    set_output_depth(model, median_depth(train))
    return Trainer(model, train, held_out, config, on_epoch_end=on_epoch_end)


def train_synthetic_unet(
    size: tuple[int, int] = (120, 160),
    seconds: float | None = None,
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    **kwargs: Any,
) -> tuple[nn.Module, Trainer]:
    """Train a U-Net on synthetic rooms, for ``seconds`` of wall time (or the main job's epochs).

    >>> model, trainer = train_synthetic_unet((32, 48), seconds=0.5, scenes=4, batch_size=2)
    >>> model.training, trainer.epoch >= 1
    (False, True)

    Keyword arguments go to :func:`synthetic_unet_trainer` (``scenes``, ``val_scenes``,
    ``model_args``, ``batch_size``, ``lr``, ``loss``, ...). Returns the model in eval mode and its
    trainer (``trainer.history``, ``trainer.step``, ``trainer.epoch``).
    """
    trainer = synthetic_unet_trainer(size, seconds, seed=seed, device=str(device), **kwargs)
    trainer.fit()
    return trainer.model.eval(), trainer
