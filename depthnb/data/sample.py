"""The sample: the one data contract between datasets, transforms, the cache and the Trainer.

Every dataset yields a dict with these keys (:class:`DepthSample`); a collated batch has the same
keys with a leading batch axis:

==================  ===============  =================================================
key                 shape            meaning
==================  ===============  =================================================
:data:`IMAGE`       (3,H,W) float32  RGB in [0,1]
:data:`DEPTH`       (1,H,W) float32  metres, 0 where unknown
:data:`VALID`       (1,H,W) bool     the pixels whose depth counts
:data:`INTRINSICS`  (4,) float32     fx, fy, cx, cy in pixels
:data:`MASK`        (1,H,W) float32  fg/bg only: the foreground, {0,1}
:data:`BACKGROUND`  (3,H,W) float32  fg/bg only: the scene without the foreground, RGB
==================  ===============  =================================================

Compact storage (raw samples of :class:`depthnb.data.DepthCache`,
:class:`depthnb.data.memory.InMemoryDataset`) keeps colour as uint8 and depth as float16;
:func:`to_float` turns either back into the float sample, on whichever device it is given.
"""

from __future__ import annotations

from typing import Any, TypedDict

import torch

from depthnb.errors import DataError

IMAGE = "image"
DEPTH = "depth"
VALID = "valid"
INTRINSICS = "intrinsics"
MASK = "mask"
BACKGROUND = "background"

#: Keys every sample has.
REQUIRED_KEYS = (IMAGE, DEPTH, VALID, INTRINSICS)
#: Colour images: resampled bilinearly, jittered, their channels permuted.
COLOUR_KEYS = (IMAGE, BACKGROUND)
#: Per-pixel labels: resampled with nearest neighbour, never blended.
NEAREST_KEYS = (DEPTH, VALID, MASK)
#: Everything with a (C,H,W) layout, mirrored together by a flip.
SPATIAL_KEYS = COLOUR_KEYS + NEAREST_KEYS
#: Channels of each spatial key.
CHANNELS = {IMAGE: 3, BACKGROUND: 3, DEPTH: 1, VALID: 1, MASK: 1}

#: The working type of a sample or batch in function signatures (keys above, tensors as values).
Sample = dict[str, Any]


class DepthSample(TypedDict, total=False):
    """The sample as a type: the required keys, and the optional fg/bg ones."""

    image: torch.Tensor
    depth: torch.Tensor
    valid: torch.Tensor
    intrinsics: torch.Tensor
    mask: torch.Tensor
    background: torch.Tensor


def describe(value: Any) -> str:
    """A short description of a value for error messages ("a tensor of shape (3, 4)...")."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def check_sample(sample: Sample) -> tuple[int, int]:
    """Check that a sample has the keys, shapes and dtypes of the table above; return its (H, W).

    Raises:
        DataError: naming the key that is missing or has the wrong shape, and the expected shape.
    """
    if not isinstance(sample, dict):
        raise DataError(
            f"a sample must be a dict of tensors (image, depth, valid, intrinsics), got "
            f"{describe(sample)}; build it with a depthnb dataset"
        )
    for key in REQUIRED_KEYS:
        if key not in sample:
            raise DataError(
                f"sample has no {key!r} (keys: {sorted(sample)}); a depthnb sample needs image, "
                "depth, valid and intrinsics: build it with a depthnb dataset"
            )
    image = sample[IMAGE]
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
        raise DataError(
            f"sample['image'] must be a (3,H,W) tensor, got {describe(image)}; "
            "convert HxWx3 arrays with torch.from_numpy(a).permute(2, 0, 1)"
        )
    height, width = image.shape[1:]
    for key, channels in CHANNELS.items():
        value = sample.get(key)
        if value is not None and (
            not isinstance(value, torch.Tensor) or tuple(value.shape) != (channels, height, width)
        ):
            raise DataError(
                f"sample[{key!r}] must be a ({channels},{height},{width}) tensor to match the "
                f"image, got {describe(value)}"
            )
    if sample[VALID].dtype != torch.bool:
        raise DataError(
            f"sample['valid'] must be a bool tensor, got {sample[VALID].dtype}; "
            "use valid = depth > 0 for a depth map with 0 where unknown"
        )
    intrinsics = sample[INTRINSICS]
    if not isinstance(intrinsics, torch.Tensor) or tuple(intrinsics.shape) != (4,):
        raise DataError(
            f"sample['intrinsics'] must be a (4,) tensor fx, fy, cx, cy, got {describe(intrinsics)}"
        )
    return int(height), int(width)


def to_float(batch: Sample, device: torch.device | str | None = None) -> Sample:
    """A compact sample or collated batch as the float sample of the table above.

    ``image``/``background`` uint8 (...,3,H,W) -> float32 in [0,1]; ``depth`` float16 -> float32
    metres; ``mask`` uint8 -> float32 {0,1}; ``valid`` and ``intrinsics`` unchanged. Tensors are
    moved to ``device`` first (non-blocking from pinned memory), so the conversion runs there;
    other values pass through. Float tensors pass through, so converting twice changes nothing.
    """
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            if device is not None:
                value = value.to(device, non_blocking=True)
            if key in COLOUR_KEYS and value.dtype == torch.uint8:
                value = value.float().div_(255.0)
            elif key in (DEPTH, MASK) and value.dtype != torch.float32:
                value = value.float()
        out[key] = value
    return out


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """A float colour tensor in [0,1] (any shape) as uint8 0..255, rounded (inverse of to_float)."""
    return (image * 255).round().clamp_(0, 255).to(torch.uint8)
