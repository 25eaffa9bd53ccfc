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
The Trainer goes further: it seeds the global generators for each sample from ``(seed, epoch,
index)`` (:mod:`depthnb.train.sampling`), so those draws repeat in any worker and after a resume.

The functional forms (:func:`hflip`, :func:`resize`, ...) live in :mod:`depthnb.data.functional`
and are re-exported here; this module holds the transform classes and the papers' recipes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from depthnb.data.functional import (
    _coin,
    _enlarged_size,
    _pair,
    _randint,
    _uniform,
    center_crop,
    crop,
    hflip,
    jitter_colour,
    permute_channels,
    resize,
    rotate,
    scale,
    scale_channels,
)
from depthnb.data.sample import COLOUR_KEYS, Sample, check_sample
from depthnb.errors import ArgumentError, ShapeError

__all__ = [
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "GaussianNoise",
    "RandomChannelPermutation",
    "RandomChannelScale",
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
    "scale_channels",
]


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

    The order is drawn from all six, the unchanged one included, as in DenseDepth's code. Its
    code's ``p`` is 0.5 (the default here; about 5 images in 12 change colour); the paper's text
    gives 0.25. ``image`` and ``background`` get the same permutation. Depth and intrinsics do not
    change.
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
            raise ArgumentError(
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
            raise ShapeError(
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
            raise ArgumentError(f"hue must lie in [0, 0.5] (a fraction of a turn), got {hue}")
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


class RandomChannelScale:
    """Eigen et al.'s colour augmentation: R, G and B each times a gain drawn from [low, high].

    One draw of three gains per sample, applied by :func:`scale_channels` to ``image`` and
    ``background`` alike; clamped to [0,1]. Depth, valid and intrinsics do not change.
    """

    def __init__(
        self, low: float = 0.8, high: float = 1.2, generator: torch.Generator | None = None
    ) -> None:
        if not 0.0 <= low <= high:
            raise ArgumentError(f"RandomChannelScale needs 0 <= low <= high, got ({low}, {high})")
        self.low = low
        self.high = high
        self.generator = generator

    def __call__(self, sample: Sample) -> Sample:
        gains = [_uniform(self.low, self.high, self.generator) for _ in range(3)]
        return scale_channels(sample, gains)

    def __repr__(self) -> str:
        return f"RandomChannelScale(low={self.low}, high={self.high})"


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
    """DenseDepth (Alhashim & Wonka 2018) as its released code does it: horizontal flip p=0.5, RGB
    channel permutation p=0.5 (the paper's text says 0.25 for the permutation)."""
    return Compose([RandomHorizontalFlip(0.5, generator), RandomChannelPermutation(0.5, generator)])


def fcrn_augmentation(generator: torch.Generator | None = None) -> Compose:
    """Eigen et al.'s (2014) recipe, which FCRN (Laina et al. 2016) trains with: scale s in
    [1, 1.5] with depth / s, rotation +-5 degrees, each RGB channel times a gain in [0.8, 1.2],
    horizontal flip p=0.5 (at the sample's own size; Eigen et al. also crop at random offsets,
    here the scale's crop is centred)."""
    return Compose(
        [
            RandomScale((1.0, 1.5), generator=generator),
            RandomRotation(5.0, generator),
            RandomChannelScale(0.8, 1.2, generator),
            RandomHorizontalFlip(0.5, generator),
        ]
    )
