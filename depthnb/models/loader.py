"""One way in for models: :func:`load` turns a spec (a checkpoint file, a published name or a
registry name) into a model ready for inference; :mod:`depthnb.models.checkpoints` reads and
writes the checkpoint files.

>>> model = load("unet-synthetic")      # published weights: list_pretrained()
>>> model.input_size, model.training
((120, 160), False)
>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     model = load("unet")            # an architecture, untrained
>>> print(caught[0].message)
'unet' is a model name, not weights: its weights are untrained (random); ...

``load("runs/main/best.pt")`` reads a checkpoint the Trainer wrote.

Every caller that takes a model by name or path (``predict``, ``evaluate``, ``export``, the
explorer) goes through :func:`load`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import cast

import torch

from depthnb.errors import ModelError
from depthnb.models.blocks import DepthModel
from depthnb.models.checkpoints import load_checkpoint


def load(spec: str | os.PathLike, map_location: str | torch.device = "cpu") -> DepthModel:
    """The model that ``spec`` names, in eval mode on ``map_location``, ready for
    :func:`depthnb.inference.predict_depth` (input (B,3,H,W) in [0,1], metres out through
    ``model.encoding``).

    ``spec`` is, tried in this order: a published name (:func:`depthnb.models.list_pretrained`:
    downloaded and converted once, see :func:`depthnb.models.load_pretrained`), a registry name
    (:func:`depthnb.models.list_models`: the architecture with untrained weights, which warns), or
    the path of a depthnb checkpoint (:func:`load_checkpoint`).

    Raises:
        CheckpointError: a path that is missing, or not a readable depthnb checkpoint.
        ModelError: ``spec`` is none of these (the message lists the names).
        DownloadError: a published name whose file no source could serve.
    """
    from depthnb.models import build_model, list_models
    from depthnb.models.pretrained import list_pretrained, load_pretrained

    text = os.fspath(spec)
    published = list_pretrained()
    if text in published:
        return cast(DepthModel, load_pretrained(text, map_location=str(map_location)))
    if text in list_models():
        warnings.warn(
            f"{text!r} is a model name, not weights: its weights are untrained (random); pass a "
            f"checkpoint or one of the published names {published}",
            UserWarning,
            stacklevel=2,
        )
        return build_model(text).to(map_location).eval()
    if Path(text).exists() or Path(text).suffix in (".pt", ".pth"):
        return load_checkpoint(text, map_location)
    raise ModelError(
        f"{text!r} is not a checkpoint file, a published name {published} or a model name "
        f"{list_models()}; pass e.g. runs/main/best.pt"
    )
