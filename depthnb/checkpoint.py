"""Checkpoints as plain dicts: written atomically, read back with ``torch.load(weights_only=True)``.

A checkpoint is the dict that :meth:`depthnb.train.Trainer.state_dict` writes::

    {"format": "depthnb-checkpoint", "version": 1, "model_name", "model_config", "state_dict",
     "encoding", "optimizer", "scheduler", "scaler", "rng", "epoch", "step", "history", "metrics"}

plus ``"train_config"`` (the trainer's settings, JSON types), ``"steps"`` (the per-step log) and
``"progress"`` (``None``, or how far the epoch had got when written inside one:
:mod:`depthnb.train.sampling`). Everything in it is a tensor, a
number, a string, a bool, ``None``, or a list/tuple/dict of those, so the safe ``weights_only``
unpickler reads it: NumPy's random state, for example, is stored as a tensor, never as an array.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from depthnb.errors import CheckpointError
from depthnb.utils.files import atomic_write

FORMAT = "depthnb-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("model_name", "model_config", "state_dict", "encoding", "epoch", "step")
TRAINING_KEYS = ("optimizer", "scheduler", "scaler", "rng", "history")
"""What resuming training needs beyond :data:`REQUIRED_KEYS` (inference needs none of it)."""
MAX_INPUT_SIZE = 1 << 16
"""The largest ``input_size`` side (pixels) a checkpoint may record."""


def save_checkpoint(checkpoint: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a checkpoint dict with ``torch.save`` through the package's atomic writer
    (:func:`depthnb.utils.files.atomic_write`: a temporary file beside ``path``, fsync, one
    rename), so a crash at any moment leaves either the previous file or the new one."""
    return atomic_write(path, lambda file: torch.save(checkpoint, file))


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a depthnb checkpoint dict with ``weights_only=True`` and check that it is one.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, not a depthnb checkpoint,
            or of a newer format version.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}: check the path (train writes last.pt, best.pt)"
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError, ... here
        raise CheckpointError(
            f"{path} could not be read as a torch checkpoint ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no details'}); the file is "
            "truncated, corrupt or not a checkpoint: use another one (e.g. best.pt instead of "
            "last.pt) or retrain"
        ) from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a depthnb checkpoint (no 'format': '{FORMAT}' entry); "
            "only files written by depthnb's Trainer can be loaded here"
        )
    version = checkpoint.get("version", 0)
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, not one this depthnb reads "
            f"(up to {VERSION}): upgrade depthnb"
        )
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(
            f"{path} lacks the entries {missing}: it was not fully written; retrain"
        )
    _check_entries(checkpoint, path)
    return checkpoint


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_weight(value: Any) -> bool:
    """A real-valued tensor (what a state_dict holds: float weights, integer counters)."""
    return isinstance(value, torch.Tensor) and not value.is_complex() and value.dtype != torch.bool


def _check_entries(checkpoint: dict, path: Path) -> None:
    """Raise CheckpointError naming the first entry of the wrong type (what a damaged or
    hand-edited file holds), so that nothing downstream meets a raw TypeError."""
    state_dict = checkpoint["state_dict"]
    size = checkpoint.get("input_size")
    problems = {
        "model_name": isinstance(checkpoint["model_name"], str),
        "model_config": isinstance(checkpoint["model_config"], dict)
        and all(isinstance(key, str) for key in checkpoint["model_config"]),
        "state_dict": isinstance(state_dict, dict)
        and all(isinstance(k, str) and _is_weight(v) for k, v in state_dict.items()),
        "encoding": isinstance(checkpoint["encoding"], dict),
        "epoch": _is_count(checkpoint["epoch"]),
        "step": _is_count(checkpoint["step"]),
        "input_size": size is None
        or (
            isinstance(size, (list, tuple))
            and len(size) == 2
            and all(_is_count(side) and 0 < side <= MAX_INPUT_SIZE for side in size)
        ),
    }
    wrong = [key for key, fits in problems.items() if not fits]
    if wrong:
        key = wrong[0]
        raise CheckpointError(
            f"{path}: its entry {key!r} is {_describe(checkpoint.get(key))}, not what depthnb "
            "writes there; the file is damaged or was edited: use another checkpoint or retrain"
        )


def _describe(value: Any) -> str:
    """A short description of a checkpoint value for an error message."""
    text = repr(value) if not isinstance(value, (dict, torch.Tensor)) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def require_training_state(checkpoint: dict, path: str | os.PathLike) -> None:
    """Raise CheckpointError unless ``checkpoint`` holds what resuming training needs
    (:data:`TRAINING_KEYS`: optimizer, scheduler, scaler, random states, history) in the types
    the Trainer writes. A checkpoint without them (``model_checkpoint``, a converted model) still
    loads for inference with :func:`depthnb.predict.load_checkpoint`.
    """
    missing = [key for key in TRAINING_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(
            f"{path} lacks the training state {missing}, so training cannot resume from it "
            "exactly: it holds a model only (load it with load_checkpoint for inference, or "
            "start a new run from its weights), or it was not fully written"
        )
    rng = checkpoint["rng"]
    fits = {
        "optimizer": isinstance(checkpoint["optimizer"], dict),
        "scheduler": isinstance(checkpoint["scheduler"], dict),
        "scaler": isinstance(checkpoint["scaler"], dict),
        "rng": isinstance(rng, dict) and {"python", "numpy", "torch"} <= set(rng),
        "history": isinstance(checkpoint["history"], (list, tuple))
        and all(isinstance(record, dict) for record in checkpoint["history"]),
    }
    wrong = [key for key, ok in fits.items() if not ok]
    if wrong:
        raise CheckpointError(
            f"{path}: its training state {wrong[0]!r} is "
            f"{_describe(checkpoint[wrong[0]])}, not what the Trainer writes; the file is "
            "damaged: resume from another checkpoint (best.pt or last.pt) or start afresh"
        )
