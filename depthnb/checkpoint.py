"""Checkpoints as plain dicts: written atomically, read back with ``torch.load(weights_only=True)``.

A checkpoint is the dict that :func:`depthnb.train.state.checkpoint_dict` writes::

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
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from depthnb.errors import CheckpointError
from depthnb.files import atomic_write

if TYPE_CHECKING:
    from depthnb.models.blocks import DepthModel

FORMAT = "depthnb-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("model_name", "model_config", "state_dict", "encoding", "epoch", "step")


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's (CPU, CUDA) generators, weights_only-safe."""
    version, internal, gauss_next = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss_next],
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators saved by :func:`rng_state` (CUDA when the device count matches)."""
    version, internal, gauss_next = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss_next))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename it into place
    (:func:`depthnb.files.atomic_write`).

    A crash at any moment leaves either the previous file or the new one, never a half-written one.
    """
    return atomic_write(path, lambda file: torch.save(obj, file))


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
    return checkpoint


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
