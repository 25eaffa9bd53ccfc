"""Models to and from checkpoints: :func:`load_checkpoint` rebuilds a model from a depthnb
checkpoint alone; :func:`model_checkpoint` is the checkpoint dict of a model without training
state (the published networks' converted copies are written with it)."""

from __future__ import annotations

import os
from typing import Any

import torch

from depthnb.checkpoint import FORMAT, VERSION, read_checkpoint
from depthnb.errors import CheckpointError, DepthnbError
from depthnb.models.blocks import DepthModel


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> DepthModel:
    """Rebuild a trained model from a depthnb checkpoint alone (``torch.load(weights_only=True)``).

    Returns the model in eval mode with its weights, ``.encoding`` from the checkpoint, and
    ``.input_size`` (H, W it was trained at, or ``None``).

    Raises:
        CheckpointError: missing, truncated, corrupt or foreign file; an unknown model; weights that
            do not fit the architecture.
    """
    from depthnb.encodings import encoding_from_dict
    from depthnb.models import build_model

    checkpoint = read_checkpoint(path, map_location=map_location)
    try:
        model = build_model(checkpoint["model_name"], **checkpoint["model_config"])
    except DepthnbError as error:
        raise CheckpointError(f"{path}: cannot rebuild its model: {error}") from error
    try:
        model.load_state_dict(checkpoint["state_dict"])
        model.encoding = encoding_from_dict(checkpoint["encoding"])
    except (RuntimeError, KeyError, TypeError, DepthnbError) as error:
        raise CheckpointError(
            f"{path}: its weights or encoding do not fit model "
            f"{checkpoint['model_name']!r}: {error}"
        ) from error
    size = checkpoint.get("input_size")
    model.input_size = (int(size[0]), int(size[1])) if size else None
    return model.to(map_location).eval()


def model_checkpoint(
    model: DepthModel, input_size: tuple[int, int] | None = None, **extra: Any
) -> dict[str, Any]:
    """The checkpoint dict of a model alone (no training state): what ``load_checkpoint`` needs.

    ``model`` is a depthnb model (``.name``, ``.config``, ``.encoding``); ``input_size`` (H, W) is
    the size it expects its images at; ``extra`` entries (e.g. ``metrics``, ``source``) are kept.
    """
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_name": model.name,
        "model_config": dict(model.config),
        "state_dict": model.state_dict(),
        "encoding": model.encoding.to_dict(),
        "epoch": 0,
        "step": 0,
        "input_size": list(input_size) if input_size else None,
        **extra,
    }
