"""The one path from a model's outputs to metres: decode, resize to a size, average with a flip.

Prediction of photographs (:func:`depthnb.predict.predict_depth`), evaluation
(:func:`depthnb.metrics.evaluate`), the Trainer's validation and the tasks
(:class:`depthnb.train.DepthTask`, :class:`depthnb.train.tasks.maskdepth.MaskDepthTask`) all call
:func:`decode_outputs` or :func:`predict`, so metres mean the same thing everywhere.

>>> from depthnb.models import build_model
>>> model = build_model("unet", filters=(4, 8, 8, 8, 8)).eval()
>>> images = torch.rand(2, 3, 64, 96)                        # (B,3,H,W) in [0,1]
>>> predict_metres(model, images, size=(48, 64), flip_tta=True).shape
torch.Size([2, 1, 48, 64])

Conventions: the depth head's output is decoded to metres with the model's encoding first, then
resized bilinearly (``align_corners=False``) to the requested size, as DenseDepth's and FCRN's
evaluations do; a mask head's logits become probabilities (sigmoid), resized the same way. Flip
averaging runs the mirrored input too, mirrors its predictions back and averages them with the
plain ones (DenseDepth's protocol).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from depthnb.data.sample import DEPTH, MASK, Sample, to_float
from depthnb.encodings import Encoding
from depthnb.errors import ArgumentError, ShapeError
from depthnb.models.blocks import model_encoding

#: What a depth model returns: encoded depth (B,1,h,w), or a dict of heads with a "depth" entry.
Outputs = torch.Tensor | Mapping[str, torch.Tensor]
Size = tuple[int, int] | torch.Size


def spatial_size(tensor: torch.Tensor) -> tuple[int, int]:
    """(H, W) of a tensor (..., H, W)."""
    return int(tensor.shape[-2]), int(tensor.shape[-1])


def upsample_to(pred: torch.Tensor, size: Size) -> torch.Tensor:
    """Bilinearly resize a prediction (B,C,h,w) to ``size`` = (H, W) (unchanged if equal)."""
    if tuple(pred.shape[-2:]) == tuple(size):
        return pred
    return F.interpolate(pred, size=tuple(size), mode="bilinear", align_corners=False)


def resize_images(images: torch.Tensor, size: Size) -> torch.Tensor:
    """Images (B,C,h,w) resized to ``size`` = (H, W) the way a network's input is: bilinear with
    antialiasing (so shrinking a photo averages its pixels), unchanged if equal."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(
        images, size=tuple(size), mode="bilinear", align_corners=False, antialias=True
    )


def decode_outputs(encoding: Encoding, outputs: Outputs, size: Size) -> dict[str, torch.Tensor]:
    """Raw model outputs -> ``{"depth": metres (B,1,H,W)}``, plus ``"mask"`` probabilities
    (B,1,H,W) in [0,1] when the model has a mask head; (H, W) = ``size``. Computed in float32."""
    heads = {DEPTH: outputs} if isinstance(outputs, torch.Tensor) else dict(outputs)
    decoded = {DEPTH: upsample_to(encoding.decode(heads[DEPTH].float()), size)}
    if MASK in heads:
        decoded[MASK] = upsample_to(torch.sigmoid(heads[MASK].float()), size)
    return decoded


def predict(
    model: nn.Module,
    inputs: torch.Tensor,
    size: Size,
    flip_tta: bool = False,
    *,
    encoding: Encoding | None = None,
    outputs: Outputs | None = None,
) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``inputs`` (B,C,H',W') and decode its outputs at ``size`` (see the module).

    Args:
        flip_tta: also run the mirrored input and average (mirrored back) with the plain one.
        encoding: the depth encoding (default ``model.encoding``; give it for a wrapped model,
            e.g. under DistributedDataParallel).
        outputs: the model's outputs for ``inputs`` if already computed (e.g. for a loss).

    Returns:
        :func:`decode_outputs`' dict: ``depth`` metres (B,1,H,W), and ``mask`` if the model has one.
    """
    encoding = encoding if encoding is not None else model_encoding(model, "predict")
    decoded = decode_outputs(encoding, model(inputs) if outputs is None else outputs, size)
    if flip_tta:
        mirrored = decode_outputs(encoding, model(inputs.flip(-1)), size)
        decoded = {key: 0.5 * (value + mirrored[key].flip(-1)) for key, value in decoded.items()}
    return decoded


def predict_metres(
    model: nn.Module, images: torch.Tensor, size: Size, flip_tta: bool = False
) -> torch.Tensor:
    """Depth in metres (B,1,H,W), (H, W) = ``size``, of ``images`` (B,C,H',W') in [0,1].

    The model runs as it is (call ``model.eval()`` and ``torch.no_grad()`` around it for inference).
    """
    return predict(model, images, size, flip_tta)[DEPTH]


def predicted_batches(
    model: nn.Module,
    batches: Iterable[Sample],
    inputs: Callable[[Sample], torch.Tensor],
    device: torch.device | str | None = None,
    flip_tta: bool = False,
    max_batches: int | None = None,
) -> Iterator[tuple[Sample, dict[str, torch.Tensor]]]:
    """Yield ``(batch on device, prediction)`` for each batch: :func:`predict` of ``inputs(batch)``
    at the ground truth's size, in eval mode without gradients.

    ``device`` defaults to the model's. The model's mode is restored afterwards (also when the
    loop stops early or fails).
    """
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    encoding = model_encoding(model, "predicted_batches")
    was_training = model.training
    model.eval()
    try:
        for index, batch in enumerate(batches):
            if max_batches is not None and index >= max_batches:
                break
            batch = to_float(batch, device)
            with torch.no_grad():
                size = spatial_size(batch[DEPTH])
                prediction = predict(model, inputs(batch), size, flip_tta, encoding=encoding)
            yield batch, prediction
    finally:
        model.train(was_training)


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
        raise ArgumentError(
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
        raise ArgumentError(f"max_side={max_side} is too small; use at least {MIN_SIDE}")
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
