"""The course's depth networks behind one name lookup, and tools to look inside them.

>>> import torch
>>> model = build_model("unet")
>>> model(torch.rand(1, 3, 64, 96)).shape
torch.Size([1, 1, 64, 96])
>>> type(build_model(model.name, **model.config)).__name__   # the same architecture
'UNet'

| name         | input              | output                                | default encoding |
|--------------|--------------------|---------------------------------------|------------------|
| "unet"       | (B,3,H,W) in [0,1] | (B,1,H,W)                             | "log"            |
| "densedepth" | (B,3,H,W) in [0,1] | (B,1,ceil(H/2),ceil(W/2))             | "inverse"        |
| "fcrn"       | (B,3,H,W) in [0,1] | (B,1,16*ceil(H/32),16*ceil(W/32))     | "metres"         |
| "maskdepth"  | (B,C,H,W) in [0,1] | {"mask": (B,1,H,W) logits,            | "metres"         |
|              |                    |  "depth": (B,1,ceil(H/2),ceil(W/2))}  |                  |

:func:`load` is the one way in for a model to use: a checkpoint path, a published name
(:func:`list_pretrained`) or a registry name (untrained; it warns).

"depth-anything-v2" (Depth Anything V2 small, needs ``transformers``) takes (B,3,H,W) in [0,1] and
returns (B,1,H,W) in metres.

Every model accepts any H, W >= 32. Model modules are imported on first use, so building a U-Net
does not import torchvision.
"""

from __future__ import annotations

import importlib
from typing import Any

from depthnb.errors import ModelError
from depthnb.models.blocks import DepthModel
from depthnb.models.summary import (
    count_macs,
    count_parameters,
    feature_maps,
    freeze_encoder,
    macs_by_module,
    parameter_groups,
)

_REGISTRY: dict[str, tuple[str, str]] = {
    "unet": ("depthnb.models.unet", "UNet"),
    "densedepth": ("depthnb.models.densedepth", "DenseDepth"),
    "fcrn": ("depthnb.models.fcrn", "FCRN"),
    "maskdepth": ("depthnb.models.maskdepth", "MaskDepthNet"),
    "depth-anything-v2": ("depthnb.models.depth_anything", "DepthAnythingV2"),
}
_CLASSES = {class_name: module for module, class_name in _REGISTRY.values()}
_CLASSES.update(
    {
        "UpProjection": "depthnb.models.fcrn",
        "FastUpProjection": "depthnb.models.fcrn",
        "fast_from_plain": "depthnb.models.fcrn",
        "BinsHead": "depthnb.models.heads",
        "bin_centres": "depthnb.models.heads",
        "PRETRAINED": "depthnb.models.pretrained",
        "list_pretrained": "depthnb.models.pretrained",
        "load_pretrained": "depthnb.models.pretrained",
        "load": "depthnb.models.loader",
        "load_checkpoint": "depthnb.models.checkpoints",
        "densedepth_from_keras": "depthnb.models.convert.keras_densedepth",
        "fcrn_from_tf_npy": "depthnb.models.convert.fcrn_release",
        "fcrn_from_release_dict": "depthnb.models.convert.fcrn_release",
        "read_release_npy": "depthnb.models.convert.fcrn_release",
    }
)

__all__ = [
    "build_model",
    "count_macs",
    "count_parameters",
    "feature_maps",
    "freeze_encoder",
    "list_models",
    "macs_by_module",
    "parameter_groups",
    *sorted(_CLASSES),
]


def list_models() -> list[str]:
    """The names ``build_model`` accepts: ``["densedepth", "depth-anything-v2", "fcrn",
    "maskdepth", "unet"]``."""
    return sorted(_REGISTRY)


def build_model(name: str, **kwargs: Any) -> DepthModel:
    """Build a registry model by name with its keyword arguments.

    ``encoding=`` ("metres", "inverse", "log", or an Encoding) overrides the model's default.
    ``pretrained=True`` (DenseDepth, FCRN) loads torchvision's ImageNet weights into the encoder;
    for "depth-anything-v2", the released depth model from Hugging Face.
    """
    if name not in _REGISTRY:
        raise ModelError(f"unknown model {name!r}; choose one of {list_models()}")
    module_name, class_name = _REGISTRY[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ModelError(
            f"bad arguments {sorted(kwargs)} for model {name!r}: {error}; see help({class_name})"
        ) from error


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module 'depthnb.models' has no attribute {name!r}")
