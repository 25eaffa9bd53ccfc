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

Compact storage (:class:`depthnb.data.DepthCache`, :class:`depthnb.data.memory.InMemoryDataset`)
keeps colour as uint8, depth as float16 and the mask as uint8 (:func:`to_compact`): 6 bytes a pixel
instead of 17 (RGB, depth and valid), and :func:`to_float` turns it back into the float sample, on
whichever device it is given. What that costs in precision:

- colour: rounded to the nearest of 256 levels, an error of at most 1/510 (half a level);
- depth: float16 keeps 11 significant bits, so a depth is rounded to a relative 2**-11 at most
  (4.9e-4): 1 mm at 2 m, 3.9 mm between 8 and 16 m (the step there is 7.8 mm). NYU's Kinect is
  noisier by far (its depth noise grows from about 1 cm at 2 m to several cm at 5 m), and the
  metrics' thresholds (delta1 = 1.25, abs_rel of about 0.1) are hundreds of times coarser.
  float16 holds up to 65504 m; anything beyond is refused;
- validity stays a separate bool tensor (1 byte a pixel), not NaN in the depth: the contract keeps
  depth 0 where unknown, so sums and plots of stored depth stay finite, and a valid depth is never
  stored as 0 (it is at least float16's smallest positive value).
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


#: float16's largest finite value and smallest positive one (a valid depth never rounds to 0).
FLOAT16_MAX = float(torch.finfo(torch.float16).max)
FLOAT16_TINY = 2.0**-24


def to_compact(sample: Sample) -> Sample:
    """A float sample (or batch) in the compact storage types (the module docstring says what
    they cost): ``image``/``background`` uint8, ``depth`` float16 (0 where not ``valid``),
    ``mask`` uint8 (1 where above 0.5), ``intrinsics`` float32; ``valid`` and anything else as is.
    New tensors; :func:`to_float` inverts it up to that rounding.

    Raises:
        DataError: if a valid depth exceeds float16's range (65504).
    """
    out = dict(sample)
    for key in COLOUR_KEYS:
        if key in sample:
            out[key] = to_uint8(sample[key])
    if DEPTH in sample:
        depth, valid = sample[DEPTH], sample[VALID]
        kept = torch.where(valid, depth, torch.zeros((), dtype=depth.dtype))
        if bool((kept.abs() > FLOAT16_MAX).any()):
            raise DataError(
                f"a valid depth of {float(kept.abs().max()):.4g} m is beyond float16's range "
                f"({FLOAT16_MAX:.0f} m); is the depth in millimetres? Convert it to metres"
            )
        out[DEPTH] = torch.where(valid, kept.clamp(min=FLOAT16_TINY), kept).to(torch.float16)
    if MASK in sample:
        out[MASK] = (sample[MASK] > 0.5).to(torch.uint8)
    if INTRINSICS in sample:
        out[INTRINSICS] = sample[INTRINSICS].float()
    return out


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """A float colour tensor in [0,1] (any shape) as uint8 0..255, rounded (inverse of to_float)."""
    return (image * 255).round().clamp_(0, 255).to(torch.uint8)
