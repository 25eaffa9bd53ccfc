"""Depth from a photograph of any size and any format, and models back from checkpoints.

>>> model = load_checkpoint("runs/main/best.pt")                       # doctest: +SKIP
>>> depth = predict_depth(model, "kitchen.jpg")   # a path, bytes, PIL image, array # doctest: +SKIP
>>> depth.shape, depth.dtype                                           # doctest: +SKIP
((3024, 4032), dtype('float32'))
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from depthnb.checkpoint import read_checkpoint
from depthnb.errors import CheckpointError, ConfigError, DepthnbError, ShapeError
from depthnb.inference import predict_metres
from depthnb.models.blocks import DepthModel, model_encoding

DEFAULT_MAX_SIDE = 640
MIN_SIDE = 32


def image_to_tensor(image: Any) -> torch.Tensor:
    """Any photograph -> float32 (3,H,W) in [0,1].

    Accepts a PIL image of any mode, a file path (``str`` or ``os.PathLike``) or the bytes of an
    image file: all three through :func:`depthnb.data.photo.open_image` (EXIF orientation applied,
    16-bit and float modes scaled by their range, alpha composited over white, a pixel limit).
    Also a NumPy array HxW (grey), HxWx1, HxWx3 or HxWx4 (alpha composited over white), uint8
    (0..255), uint16 (0..65535) or float (0..1); a torch tensor (3,H,W) or (1,H,W) (float in
    [0,1] or uint8) or HxWxC like the arrays.

    Raises:
        ImageError: a path or bytes that are not an image, a damaged image, one over the pixel
            limit.
        DepthnbError: anything else (wrong number of dimensions or channels, bool or complex
            values, an empty image), naming what was given.
    """
    from PIL import Image

    from depthnb.data.photo import open_image

    if isinstance(image, (Image.Image, str, os.PathLike, bytes, bytearray, memoryview)):
        pixels = np.array(open_image(image), dtype=np.uint8)
        return torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    if isinstance(image, np.ndarray):
        array = image
        channels_first = False
    elif torch.is_tensor(image):
        array = image.detach().cpu().numpy()
        channels_first = (
            array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3, 4)
        )
    else:
        raise ConfigError(
            f"predict_depth got a {type(image).__name__}; pass a PIL image, an image file's "
            "path or bytes, a NumPy array HxW/HxWx3/HxWx4 or a float tensor (3,H,W) in [0,1]"
        )
    _check_dtype(array)
    if array.ndim == 3 and channels_first:
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ShapeError(
            f"image has shape {tuple(image.shape)}; expected HxW (grey), HxWx3 (RGB), HxWx4 (RGBA) "
            "or a tensor (3,H,W)"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ShapeError(f"image has shape {tuple(image.shape)}: it is empty")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if np.issubdtype(array.dtype, np.integer):
        scale = 65535.0 if array.dtype == np.uint16 else 255.0
        values = array.astype(np.float32) / scale
    else:
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise ShapeError("image has NaN or infinite values; pass pixel values in [0, 1]")
    values = np.clip(values, 0.0, 1.0)
    if values.shape[-1] == 4:  # over white, as open_image composites a PIL image's alpha
        alpha = values[..., 3:]
        values = values[..., :3] * alpha + (1.0 - alpha)
    return torch.from_numpy(np.ascontiguousarray(values)).permute(2, 0, 1)


def _check_dtype(array: np.ndarray) -> None:
    """Refuse pixel values that are neither integers nor floats (bool, complex, objects)."""
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ShapeError(
            f"image has dtype {array.dtype}; use uint8 (0..255) or float (0..1) pixel values"
        )


def inference_size(
    height: int, width: int, max_side: int, upscale: bool = False
) -> tuple[int, int]:
    """The size to run a model at: aspect kept, longer side ``max_side`` (never below 32 pixels).

    Smaller photographs keep their size unless ``upscale``. Sides are not rounded to a multiple
    of 32: the models pad internally, and a network is most accurate at exactly the geometry it
    was trained at (a U-Net trained at 120x160 is padded to 128x160 inside, and its bottom rows
    go wrong when it is fed 128 real rows instead).
    """
    scale = max_side / max(height, width)
    if not upscale:
        scale = min(scale, 1.0)
    return max(MIN_SIDE, round(height * scale)), max(MIN_SIDE, round(width * scale))


@torch.no_grad()
def predict_depth(
    model: nn.Module, image: Any, flip_tta: bool = False, max_side: int | None = None
) -> np.ndarray:
    """Depth in metres of one photograph, at the photograph's size.

    The image (any size, any format :func:`image_to_tensor` takes) is resized bilinearly (with
    antialiasing) to :func:`inference_size`: aspect kept, longer side ``max_side``, by default the
    longer side the model was trained at (``model.input_size``, set by :func:`load_checkpoint`;
    smaller photographs are scaled up to it), else at most 640. The prediction is decoded with
    ``model.encoding`` to metres and resized bilinearly back to the photograph's size
    (:func:`depthnb.inference.predict_metres`; a mask-and-depth model gives its depth head).

    Args:
        model: a depthnb model (image (1,3,h,w) in [0,1] -> (1,1,h',w') encoded).
        image: the photograph.
        flip_tta: also predict the mirrored image and average the two depths (DenseDepth's
            protocol).
        max_side: longer side of the inference size, pixels.

    Returns:
        float32 NumPy array (H, W) of metres, H, W the photograph's size.
    """
    pixels = image_to_tensor(image)
    height, width = pixels.shape[-2:]
    trained = getattr(model, "input_size", None)
    if max_side is None:
        max_side = max(trained) if trained else DEFAULT_MAX_SIDE
    if max_side < MIN_SIDE:
        raise ConfigError(f"max_side={max_side} is too small; use at least {MIN_SIDE}")
    model_encoding(model, "predict_depth")
    device = next(model.parameters(), torch.empty(0)).device
    size = inference_size(height, width, max_side, upscale=bool(trained))
    batch = F.interpolate(
        pixels[None].to(device), size=size, mode="bilinear", align_corners=False, antialias=True
    ).clamp(0, 1)
    was_training = model.training
    model.eval()
    try:
        metres = predict_metres(model, batch, (height, width), flip_tta)
    finally:
        model.train(was_training)
    return metres[0, 0].cpu().numpy().astype(np.float32)


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
