"""Joint transforms: augment a whole sample so image, depth, valid, mask and intrinsics agree.

A sample is the dict of :mod:`depthnb.data.sample`:
 ``image`` (3,H,W) float32 in [0,1], ``depth`` (1,H,W) float32
metres (0 = unknown), ``valid`` (1,H,W) bool, ``intrinsics`` (4,) float32 ``fx, fy, cx, cy`` in
pixels, and optionally ``mask`` (1,H,W) float32 and ``background`` (3,H,W) float32. Every transform
returns a new dict; keys it does not know pass through unchanged.

Conventions:

* Pixel ``(u, v)`` is the centre of column ``u``, row ``v``; ``u = 0`` is the centre of the first
  column. Back-projection: ``X = (u - cx) Z / fx``, ``Y = (v - cy) Z / fy``, ``Z = depth``.
* Colour (``image``, ``background``) is resampled bilinearly; ``depth``, ``valid`` and ``mask`` with
  nearest neighbour, so a depth value is never blended with the zeros of a hole (or with a depth
  across an object's edge). Pixels that a transform exposes (rotation corners) are invalid:
  ``valid`` False and ``depth`` 0.
* Every geometric transform updates ``intrinsics`` so that back-projecting a surviving valid pixel
  through the new intrinsics gives the same 3D point, up to the known motion (a mirror for a flip,
  a roll for a rotation, a uniform 1/s for :class:`RandomScale`).

Randomness: every random transform takes ``generator: torch.Generator | None``. With a generator
the draws are reproducible; with ``None`` they come from torch's global RNG, which is what you want
inside ``DataLoader`` workers (torch seeds each worker differently, whereas a generator object would
be copied into every worker with the same state, so all workers would draw the same augmentations).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

from depthnb.data.colour import adjust_colour
from depthnb.data.io import scale_intrinsics
from depthnb.data.sample import COLOUR_KEYS, NEAREST_KEYS, Sample, check_sample
from depthnb.errors import DataError

__all__ = [
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "GaussianNoise",
    "RandomChannelPermutation",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "RandomScale",
    "Resize",
    "center_crop",
    "check_sample",
    "crop",
    "densedepth_augmentation",
    "fcrn_augmentation",
    "hflip",
    "jitter_colour",
    "permute_channels",
    "resize",
    "rotate",
    "scale",
]


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
        raise DataError(f"permutation must reorder the channels 0, 1, 2, got {order}")
    out = dict(sample)
    for key in COLOUR_KEYS:
        if key in sample:
            out[key] = torch.stack([sample[key][channel] for channel in order])
    return out


def crop(sample: Sample, top: int, left: int, height: int, width: int) -> Sample:
    """Cut the window ``[top:top+height, left:left+width]``; ``cx, cy`` lose the offset.

    Raises:
        DataError: if the window does not lie inside the sample.
    """
    full_height, full_width = check_sample(sample)
    if top < 0 or left < 0 or height < 1 or width < 1:
        raise DataError(f"crop window top={top}, left={left}, {height}x{width} must be non-empty")
    if top + height > full_height or left + width > full_width:
        raise DataError(
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
    (likewise ``fy, cy`` with ``H'/H``), by :func:`depthnb.data.io.scale_intrinsics`, the rule
    every reader and the renderer use too; it is exact for the resampling used here.
    """
    full_height, full_width = check_sample(sample)
    height, width = _pair(size)
    if height < 1 or width < 1:
        raise DataError(f"resize size must be positive, got {height}x{width}")
    if depth_mode not in ("nearest", "valid_mean"):
        raise DataError(f"depth_mode must be 'nearest' or 'valid_mean', got {depth_mode!r}")
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
        raise DataError(f"scale factor must be >= 1 so the crop fits, got {factor}")
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


# ----------------------------------------------------------------------------------------------
# transform classes


class Compose:
    """Apply transforms in order: ``Compose([RandomHorizontalFlip(), ColorJitter()])``."""

    def __init__(self, transforms: Sequence[Callable[[Sample], Sample]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample) -> Sample:
        for transform in self.transforms:
            sample = transform(sample)
        return sample

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {t!r}" for t in self.transforms)
        return f"Compose([\n{inner}\n])"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p`` (intrinsics: ``cx -> W - 1 - cx``)."""

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        self.p = p
        self.generator = generator

    def __call__(self, sample: Sample) -> Sample:
        return hflip(sample) if _coin(self.p, self.generator) else sample

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomChannelPermutation:
    """DenseDepth's colour augmentation: with probability ``p`` shuffle the RGB channels.

    ``image`` and ``background`` get the same permutation. Depth and intrinsics do not change.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        self.p = p
        self.generator = generator

    def __call__(self, sample: Sample) -> Sample:
        if not _coin(self.p, self.generator):
            return sample
        return permute_channels(sample, torch.randperm(3, generator=self.generator).tolist())

    def __repr__(self) -> str:
        return f"RandomChannelPermutation(p={self.p})"


class RandomRotation:
    """FCRN's rotation: an angle drawn from [-degrees, degrees], about the principal point.

    See :func:`rotate`: intrinsics stay the same, exposed corners become invalid.
    """

    def __init__(self, degrees: float = 5.0, generator: torch.Generator | None = None) -> None:
        self.degrees = degrees
        self.generator = generator

    def __call__(self, sample: Sample) -> Sample:
        return rotate(sample, _uniform(-self.degrees, self.degrees, self.generator))

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees})"


class RandomScale:
    """FCRN's scale augmentation: s drawn from ``scale_range``, enlarge, crop back, depth / s.

    Args:
        scale_range: (low, high) with low >= 1.
        random_crop: crop back at a random offset (True) or at the centre (False).
    """

    def __init__(
        self,
        scale_range: tuple[float, float] = (1.0, 1.5),
        random_crop: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if scale_range[0] < 1.0 or scale_range[1] < scale_range[0]:
            raise DataError(
                f"scale_range must be (low, high) with 1 <= low <= high, got {scale_range}"
            )
        self.scale_range = scale_range
        self.random_crop = random_crop
        self.generator = generator

    def __call__(self, sample: Sample) -> Sample:
        factor = _uniform(*self.scale_range, self.generator)
        if not self.random_crop:
            return scale(sample, factor)
        height, width = check_sample(sample)
        big_height, big_width = _enlarged_size(height, width, factor)
        top = _randint(big_height - height, self.generator)
        left = _randint(big_width - width, self.generator)
        return scale(sample, factor, top, left)

    def __repr__(self) -> str:
        return f"RandomScale(scale_range={self.scale_range}, random_crop={self.random_crop})"


class RandomCrop:
    """Cut a random window of ``size`` (H, W); ``cx, cy`` lose the offset."""

    def __init__(self, size: int | Sequence[int], generator: torch.Generator | None = None) -> None:
        self.size = _pair(size)
        self.generator = generator

    def __call__(self, sample: Sample) -> Sample:
        full_height, full_width = check_sample(sample)
        height, width = self.size
        if height > full_height or width > full_width:
            raise DataError(
                f"RandomCrop{self.size} does not fit in a {full_height}x{full_width} sample; "
                "put a Resize before it"
            )
        top = _randint(full_height - height, self.generator)
        left = _randint(full_width - width, self.generator)
        return crop(sample, top, left, height, width)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size})"


class CenterCrop:
    """Cut the centred window of ``size`` (H, W); ``cx, cy`` lose the offset."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _pair(size)

    def __call__(self, sample: Sample) -> Sample:
        return center_crop(sample, self.size)

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class Resize:
    """Resize to ``size`` (H, W); ``depth_mode`` "nearest" or "valid_mean", see :func:`resize`."""

    def __init__(self, size: int | Sequence[int], depth_mode: str = "nearest") -> None:
        self.size = _pair(size)
        self.depth_mode = depth_mode

    def __call__(self, sample: Sample) -> Sample:
        return resize(sample, self.size, self.depth_mode)

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, depth_mode={self.depth_mode!r})"


class ColorJitter:
    """Random brightness, contrast, saturation and hue; photometric only, result clamped to [0,1].

    Each factor is drawn from ``[max(0, 1 - x), 1 + x]`` (hue: a shift in ``[-hue, hue]`` turns,
    hue <= 0.5) and applied by :func:`jitter_colour`. ``image`` and ``background`` get the same
    draw, so a fg/bg pair stays consistent. Depth, valid and intrinsics do not change. The hue
    shift is the slowest part; leave it 0 for speed.
    """

    def __init__(
        self,
        brightness: float = 0.2,
        contrast: float = 0.2,
        saturation: float = 0.2,
        hue: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        if not 0.0 <= hue <= 0.5:
            raise DataError(f"hue must lie in [0, 0.5] (a fraction of a turn), got {hue}")
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.generator = generator

    def __call__(self, sample: Sample) -> Sample:
        check_sample(sample)
        g = self.generator
        brightness = _uniform(max(0.0, 1 - self.brightness), 1 + self.brightness, g)
        contrast = _uniform(max(0.0, 1 - self.contrast), 1 + self.contrast, g)
        saturation = _uniform(max(0.0, 1 - self.saturation), 1 + self.saturation, g)
        hue = _uniform(-self.hue, self.hue, g)
        out = dict(sample)
        for key in COLOUR_KEYS:
            if key in sample:
                out[key] = jitter_colour(sample[key], brightness, contrast, saturation, hue)
        return out

    def __repr__(self) -> str:
        return (
            f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})"
        )


class GaussianNoise:
    """Add N(0, std^2) noise to ``image`` and ``background`` (independent draws), clamp to [0,1]."""

    def __init__(self, std: float = 0.02, generator: torch.Generator | None = None) -> None:
        self.std = std
        self.generator = generator

    def __call__(self, sample: Sample) -> Sample:
        check_sample(sample)
        out = dict(sample)
        for key in COLOUR_KEYS:
            if key in sample:
                image = sample[key]
                noise = torch.randn(image.shape, generator=self.generator, dtype=image.dtype)
                out[key] = (image + self.std * noise.to(image.device)).clamp(0.0, 1.0)
        return out

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std})"


# ----------------------------------------------------------------------------------------------
# the papers' recipes


def densedepth_augmentation(generator: torch.Generator | None = None) -> Compose:
    """DenseDepth (Alhashim & Wonka 2018): horizontal flip p=0.5, RGB channel permutation p=0.5."""
    return Compose([RandomHorizontalFlip(0.5, generator), RandomChannelPermutation(0.5, generator)])


def fcrn_augmentation(generator: torch.Generator | None = None) -> Compose:
    """FCRN (Laina et al. 2016): scale s in [1, 1.5] with depth / s, rotation +-5 degrees,
    colour jitter, horizontal flip p=0.5 (at the sample's own size)."""
    return Compose(
        [
            RandomScale((1.0, 1.5), generator=generator),
            RandomRotation(5.0, generator),
            ColorJitter(0.2, 0.2, 0.2, generator=generator),
            RandomHorizontalFlip(0.5, generator),
        ]
    )
