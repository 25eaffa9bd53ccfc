"""The functional joint transforms of :mod:`depthnb.data.transforms`: each takes explicit
parameters (no randomness) and returns a new sample whose image, depth, valid, mask and intrinsics
agree (conventions in that module's docstring), plus the small helpers the random transforms draw
with."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

from depthnb.data.colour import adjust_colour
from depthnb.data.sample import COLOUR_KEYS, NEAREST_KEYS, Sample, check_sample
from depthnb.errors import ArgumentError, ShapeError
from depthnb.geometry import scale_intrinsics

# ----------------------------------------------------------------------------------------------
# helpers


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    """One float drawn uniformly from [low, high]."""
    return low + (high - low) * float(torch.rand((), generator=generator))


def _randint(high: int, generator: torch.Generator | None) -> int:
    """One int drawn uniformly from 0..high (inclusive)."""
    return int(torch.randint(high + 1, (), generator=generator))


def _coin(p: float, generator: torch.Generator | None) -> bool:
    """True with probability p."""
    return float(torch.rand((), generator=generator)) < p


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def _set_intrinsics(sample: Sample, fx: float, fy: float, cx: float, cy: float) -> torch.Tensor:
    old = sample["intrinsics"]
    return torch.tensor([fx, fy, cx, cy], dtype=old.dtype, device=old.device)


# ----------------------------------------------------------------------------------------------
# functional forms


def hflip(sample: Sample) -> Sample:
    """Mirror the sample left-right; ``cx`` becomes ``W - 1 - cx``.

    The 3D points of the flipped sample are the originals with X negated (a mirror world).
    """
    _, width = check_sample(sample)
    out = dict(sample)
    for key in COLOUR_KEYS + NEAREST_KEYS:
        if key in sample:
            out[key] = sample[key].flip(-1)
    fx, fy, cx, cy = sample["intrinsics"].tolist()
    out["intrinsics"] = _set_intrinsics(sample, fx, fy, width - 1 - cx, cy)
    return out


def permute_channels(sample: Sample, permutation: Sequence[int]) -> Sample:
    """Reorder the colour channels of ``image`` and ``background`` (the same order for both).

    Args:
        permutation: the new channel order, e.g. ``(2, 1, 0)`` turns RGB into BGR.
    """
    check_sample(sample)
    order = list(permutation)
    if sorted(order) != [0, 1, 2]:
        raise ArgumentError(f"permutation must reorder the channels 0, 1, 2, got {order}")
    out = dict(sample)
    for key in COLOUR_KEYS:
        if key in sample:
            out[key] = torch.stack([sample[key][channel] for channel in order])
    return out


def scale_channels(sample: Sample, gains: Sequence[float]) -> Sample:
    """Multiply each colour channel of ``image`` and ``background`` by its own gain, clamp to [0,1].

    Eigen et al.'s (2014) colour augmentation: the image times one RGB value ``c``; FCRN follows
    it. Unlike :func:`jitter_colour` (torchvision's ColorJitter: brightness, contrast, saturation)
    it shifts the colour balance, as a different white balance would.

    Args:
        gains: three factors >= 0, for R, G and B (Eigen et al. draw each from [0.8, 1.2]).
    """
    check_sample(sample)
    values = [float(g) for g in gains]
    if len(values) != 3 or not all(math.isfinite(g) and g >= 0 for g in values):
        raise ArgumentError(f"gains must be three finite factors >= 0 (R, G, B), got {list(gains)}")
    out = dict(sample)
    for key in COLOUR_KEYS:
        if key in sample:
            image = sample[key]
            factor = torch.tensor(values, dtype=image.dtype, device=image.device).view(3, 1, 1)
            out[key] = (image * factor).clamp(0.0, 1.0)
    return out


def crop(sample: Sample, top: int, left: int, height: int, width: int) -> Sample:
    """Cut the window ``[top:top+height, left:left+width]``; ``cx, cy`` lose the offset.

    Raises:
        ShapeError: if the window does not lie inside the sample.
    """
    full_height, full_width = check_sample(sample)
    if top < 0 or left < 0 or height < 1 or width < 1:
        raise ArgumentError(
            f"crop window top={top}, left={left}, {height}x{width} must be non-empty"
        )
    if top + height > full_height or left + width > full_width:
        raise ShapeError(
            f"crop window top={top}, left={left}, {height}x{width} does not fit in a "
            f"{full_height}x{full_width} sample; resize first or crop smaller"
        )
    out = dict(sample)
    for key in COLOUR_KEYS + NEAREST_KEYS:
        if key in sample:
            out[key] = sample[key][:, top : top + height, left : left + width]
    fx, fy, cx, cy = sample["intrinsics"].tolist()
    out["intrinsics"] = _set_intrinsics(sample, fx, fy, cx - left, cy - top)
    return out


def center_crop(sample: Sample, size: int | Sequence[int]) -> Sample:
    """Cut the centred window of ``size`` (H, W) pixels (the offset rounds down)."""
    full_height, full_width = check_sample(sample)
    height, width = _pair(size)
    return crop(sample, (full_height - height) // 2, (full_width - width) // 2, height, width)


def resize(sample: Sample, size: int | Sequence[int], depth_mode: str = "nearest") -> Sample:
    """Resample the sample to ``size`` (H, W) without ever blending a depth with a hole's zero.

    Colour is resized bilinearly (antialiased when shrinking). Depth, valid and mask follow
    ``depth_mode``:

    * ``"nearest"``: every output pixel copies one input pixel (``nearest-exact``, pixel centres).
      Depth values are always values of the input.
    * ``"valid_mean"``: depth is a valid-weighted average,
      ``sum(w * valid * depth) / sum(w * valid)`` with the bilinear (antialiased) weights ``w``;
      an output pixel is valid when at least half of its weight fell on valid pixels. Smoother
      than nearest, but at an object's edge it averages the two surfaces' depths (never a depth
      with 0). The mask is still resized with nearest.

    Intrinsics scale about pixel centres: ``fx' = fx * W'/W`` and ``cx' = (cx + 0.5) * W'/W - 0.5``
    (likewise ``fy, cy`` with ``H'/H``), by :func:`depthnb.geometry.scale_intrinsics`, the rule
    every reader and the renderer use too; it is exact for the resampling used here.
    """
    full_height, full_width = check_sample(sample)
    height, width = _pair(size)
    if height < 1 or width < 1:
        raise ArgumentError(f"resize size must be positive, got {height}x{width}")
    if depth_mode not in ("nearest", "valid_mean"):
        raise ArgumentError(f"depth_mode must be 'nearest' or 'valid_mean', got {depth_mode!r}")
    if (height, width) == (full_height, full_width):
        return dict(sample)
    out = dict(sample)
    shrink = height < full_height or width < full_width
    for key in COLOUR_KEYS:
        if key in sample:
            out[key] = _interpolate(sample[key], (height, width), "bilinear", shrink)
    for key in ("mask",) if depth_mode == "valid_mean" else NEAREST_KEYS:
        if key in sample:
            out[key] = _interpolate(sample[key], (height, width), "nearest-exact", False)
    if depth_mode == "valid_mean":
        weight_valid = sample["valid"].float()
        depth_sum = _interpolate(
            sample["depth"] * weight_valid, (height, width), "bilinear", shrink
        )
        weight = _interpolate(weight_valid, (height, width), "bilinear", shrink)
        valid = weight >= 0.5
        out["valid"] = valid
        out["depth"] = torch.where(valid, depth_sum / weight.clamp_min(1e-6), 0.0)
    out["intrinsics"] = _set_intrinsics(
        sample,
        *scale_intrinsics(
            sample["intrinsics"].tolist(), (full_height, full_width), (height, width)
        ),
    )
    return out


def _interpolate(
    tensor: torch.Tensor, size: tuple[int, int], mode: str, antialias: bool
) -> torch.Tensor:
    """Resize a (C,H,W) tensor (float or bool, bool comes back bool) to ``size`` (H, W)."""
    source = tensor[None].float()
    if mode == "bilinear":
        result = F.interpolate(
            source, size=size, mode=mode, align_corners=False, antialias=antialias
        )
    else:
        result = F.interpolate(source, size=size, mode=mode)
    result = result[0]
    if tensor.dtype == torch.bool:
        return result > 0.5
    return result.to(tensor.dtype)


def scale(sample: Sample, factor: float, top: int | None = None, left: int | None = None) -> Sample:
    """FCRN's scale augmentation: enlarge by ``factor`` >= 1, crop back to (H, W), depth / factor.

    Enlarging the picture by s is what the camera would see if the whole scene were s times
    closer, so depth is divided by s (the 3D points of the result are the originals times 1/s).

    Args:
        factor: scale s >= 1.
        top, left: the crop offset in the enlarged sample; ``None`` centres the crop.
    """
    height, width = check_sample(sample)
    if factor < 1.0:
        raise ArgumentError(f"scale factor must be >= 1 so the crop fits, got {factor}")
    big = _enlarged_size(height, width, factor)
    enlarged = resize(sample, big)
    enlarged["depth"] = enlarged["depth"] / factor
    top = (big[0] - height) // 2 if top is None else top
    left = (big[1] - width) // 2 if left is None else left
    return crop(enlarged, top, left, height, width)


def _enlarged_size(height: int, width: int, factor: float) -> tuple[int, int]:
    """(H, W) pixels of a sample enlarged by ``factor`` >= 1 (never smaller than the original)."""
    return max(height, round(height * factor)), max(width, round(width * factor))


def rotate(sample: Sample, angle: float) -> Sample:
    """Rotate by ``angle`` degrees (counter-clockwise on screen) about the principal point.

    The rotation is done in normalised camera coordinates ``((u - cx)/fx, (v - cy)/fy)``, which
    makes it exactly a camera roll about the optical axis: the intrinsics stay the same and the 3D
    points turn about the Z axis (``X' = X cos a + Y sin a``, ``Y' = -X sin a + Y cos a``). Rotating
    about the image centre instead would move the principal point. Colour is bilinear, depth, valid
    and mask nearest; pixels that come from outside the picture are black and invalid (depth 0).
    """
    height, width = check_sample(sample)
    fx, fy, cx, cy = sample["intrinsics"].tolist()
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    device = sample["image"].device
    v, u = torch.meshgrid(
        torch.arange(height, dtype=torch.float64, device=device),
        torch.arange(width, dtype=torch.float64, device=device),
        indexing="ij",
    )
    x, y = (u - cx) / fx, (v - cy) / fy
    source_u = fx * (cos * x - sin * y) + cx
    source_v = fy * (sin * x + cos * y) + cy
    # grid_sample with align_corners=True maps -1 and 1 to the centres of the first and last pixel.
    grid = torch.stack(
        [2 * source_u / max(width - 1, 1) - 1, 2 * source_v / max(height - 1, 1) - 1], dim=-1
    )[None].float()
    out = dict(sample)
    for key in COLOUR_KEYS:
        if key in sample:
            out[key] = _grid_sample(sample[key], grid, "bilinear")
    for key in NEAREST_KEYS:
        if key in sample:
            out[key] = _grid_sample(sample[key], grid, "nearest")
    out["depth"] = torch.where(out["valid"], out["depth"], 0.0)
    return out


def _grid_sample(tensor: torch.Tensor, grid: torch.Tensor, mode: str) -> torch.Tensor:
    """Sample a (C,H,W) tensor at ``grid`` (1,H,W,2) in [-1,1]; outside is 0 (bool: False)."""
    result = F.grid_sample(
        tensor[None].float(), grid, mode=mode, padding_mode="zeros", align_corners=True
    )[0]
    if tensor.dtype == torch.bool:
        return result > 0.5
    return result.to(tensor.dtype)


def jitter_colour(
    image: torch.Tensor,
    brightness: float = 1.0,
    contrast: float = 1.0,
    saturation: float = 1.0,
    hue: float = 0.0,
) -> torch.Tensor:
    """Adjust a (3,H,W) image in [0,1] like torchvision's ColorJitter, in this order, clamping.

    brightness: ``x * b``; contrast: ``mean + c (x - mean)`` with the mean grey level; saturation:
    ``grey + s (x - grey)`` per pixel; hue: a rotation of the hue by ``hue`` turns (torchvision).
    A factor of 1 (hue 0) leaves the image unchanged.
    """
    out = adjust_colour(image, brightness, contrast, saturation)
    if hue != 0.0:
        out = TF.adjust_hue(out, hue).clamp_(0.0, 1.0)
    return out
