"""Real scenes on every machine, offline: scikit-image's photographs, and Middlebury's *Motorcycle*
with a window or a mirror composited into its back wall (true depth known there).

>>> sorted(PHOTOGRAPHS)
['astronaut', 'camera', 'chelsea', 'coffee', 'rocket']
>>> PHOTOGRAPHS["rocket"].licence
'public domain (SpaceX)'
>>> photograph("camera").shape                        # grey photographs come as RGB
(512, 512, 3)
>>> photo = photo_sample(photograph("rocket"))       # a sample with no ground truth
>>> bool(photo["valid"].any()), photo["intrinsics"].tolist()[2:]
(False, [319.5, 213.0])
>>> window = window_composite()                       # a sample: 500x741, depth in metres
>>> rows, cols = WALL_RECTANGLE
>>> pane = window["depth"][0, rows, cols]
>>> bool(window["valid"][0, rows, cols].all())      # known all over the pane: the wall's plane
True
>>> round(float(pane.min()), 2), round(float(pane.max()), 2)
(4.28, 4.95)

**The photographs** (``skimage.data``; each licence as its docstring states it, scikit-image
0.25 and 0.26): ``rocket`` (public domain, SpaceX), ``camera`` (CC0, Lav Varshney), ``coffee``
(CC0, Rachel Michetti; courtesy of Pikolo Espresso Bar), ``chelsea`` (CC0, Stefan van der
Walt), ``astronaut`` (public domain, NASA). None has ground truth or a known camera: a sample
made of one has depth 0 and ``valid`` False everywhere, and intrinsics assumed from a field of
view (:func:`depthnb.geometry.intrinsics_from_fov`).

**The composites** are made here, not photographed, and say so wherever they are shown. A
rectangle of *Motorcycle*'s back wall, :data:`WALL_RECTANGLE` (rows 10 to 104, columns 40 to 289
at 500x741: the wall above the bench, behind the motorcycle), is replaced by another picture:

- :func:`window_composite`: the ``rocket`` photograph (sky over a launch pad), as if seen through
  a window in the wall;
- :func:`mirror_composite`: the scene's own left view, flipped left-right, as if a mirror hung
  on the wall (a real mirror there would show the room behind the camera; the flipped view is a
  stand-in with the same kind of content: a room, seen at a distance).

A window pane and a mirror are flat and sit in the wall, so in both composites the rectangle's
true depth is the wall's: :func:`wall_plane`, a plane fitted to Middlebury's true depth inside
the rectangle. The wall is not perfectly flat (its boards lie a few cm apart, and two posts
stand in front of it): the plane is within 5 cm of 83 % of the rectangle's measured pixels, a
mean relative difference of 0.6 %, far below any network's error there. A network's error on the
pane can then be measured as on any other pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from depthnb.data.functional import resize
from depthnb.data.io import make_sample
from depthnb.data.middlebury import MOTORCYCLE_SIZE, motorcycle_pair, motorcycle_sample
from depthnb.data.sample import Sample, check_sample
from depthnb.errors import ArgumentError, DataError
from depthnb.geometry import NYU_FOV_DEG, intrinsics_from_fov
from depthnb.utils.optional import require

Region = tuple[slice, slice]
"""(rows, columns) of a rectangle, pixels at the image's own size."""


@dataclass(frozen=True)
class Photograph:
    """One of scikit-image's bundled photographs, with what it shows and its licence."""

    name: str
    """The ``skimage.data`` function that returns it."""
    shows: str
    """What is in it, for a failure-mode lesson."""
    licence: str
    """As its docstring states it."""
    regions: dict[str, Region] = field(default_factory=dict)
    """Named rectangles (rows, columns) at the photograph's own size, e.g. its sky."""


PHOTOGRAPHS: dict[str, Photograph] = {
    photo.name: photo
    for photo in (
        Photograph(
            "rocket",
            "a rocket on its launch pad at dusk: sky above towers (outdoors)",
            "public domain (SpaceX)",
            {"sky": (slice(0, 140), slice(90, 290))},
        ),
        Photograph(
            "camera",
            "a man with a camera on a tripod on a lawn, sky and buildings behind (grey)",
            "CC0 (Lav Varshney)",
            {"sky": (slice(0, 140), slice(340, 512)), "lawn": (slice(300, 500), slice(420, 512))},
        ),
        Photograph(
            "coffee",
            "a cup on a saucer seen from straight above, at arm's length",
            "CC0 (Rachel Michetti; courtesy of Pikolo Espresso Bar)",
            {"cup": (slice(20, 260), slice(200, 420))},
        ),
        Photograph("chelsea", "a cat's face, close up", "CC0 (Stefan van der Walt)"),
        Photograph("astronaut", "the astronaut Eileen Collins, a portrait", "public domain (NASA)"),
    )
}
"""scikit-image's photographs the course uses, by name (licences from their docstrings)."""

WALL_RECTANGLE: Region = (slice(10, 105), slice(40, 290))
"""The rectangle of *Motorcycle*'s back wall that the composites replace, (rows, columns) at
:data:`~depthnb.data.middlebury.MOTORCYCLE_SIZE` (500, 741)."""


def photograph(name: str) -> np.ndarray:
    """The photograph ``name`` of :data:`PHOTOGRAPHS` as uint8 (H,W,3) RGB (grey ones repeated).

    Raises:
        ArgumentError: an unknown name.
        MissingPackageError: scikit-image is not installed.
    """
    if name not in PHOTOGRAPHS:
        raise ArgumentError(f"no photograph {name!r}; choose one of {', '.join(PHOTOGRAPHS)}")
    skimage_data = require("skimage.data", "pip install scikit-image")
    image = np.asarray(getattr(skimage_data, name)(), dtype=np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def photo_sample(image: np.ndarray, fov_deg: float = NYU_FOV_DEG) -> Sample:
    """A photograph without ground truth as a sample: depth 0 and ``valid`` False everywhere,
    intrinsics assumed from the horizontal field of view ``fov_deg`` (degrees).

    Args:
        image: uint8 (H,W,3) RGB.
        fov_deg: the camera assumed (default NYU's colour camera, 63.3 degrees).

    Returns:
        The sample of :mod:`depthnb.data.sample` at (H, W).
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ArgumentError(
            f"photo_sample needs a uint8 (H,W,3) RGB image; got {image.dtype} {image.shape}"
        )
    height, width = image.shape[:2]
    empty = np.zeros((height, width), np.float32)
    return make_sample(image, empty, empty > 0, intrinsics_from_fov((height, width), fov_deg))


def wall_plane(depth: np.ndarray, region: Region, iterations: int = 5) -> np.ndarray:
    """Depth (metres) of the plane that best fits the measured depth inside ``region``.

    A plane in 3D is linear in inverse depth over the image, ``1/z = a u + b v + c`` (u the
    column, v the row), so the fit is linear least squares on the region's pixels with depth > 0,
    repeated ``iterations`` times on the pixels within three median deviations of the last fit
    (what stands in front of the wall drops out).

    Args:
        depth: (H,W) metres, 0 where unknown.
        region: (rows, columns) of the rectangle.

    Returns:
        float32 (h,w): the plane's depth at every pixel of the rectangle, unknown ones included.

    Raises:
        DataError: fewer than 3 pixels of the region have a depth.
    """
    rows, cols = region
    v, u = np.mgrid[rows, cols]
    measured = np.asarray(depth, dtype=np.float64)[rows, cols]
    known = measured > 0
    if known.sum() < 3:
        raise DataError(f"only {int(known.sum())} pixels of {region} have a depth; a plane needs 3")
    design = np.stack([u, v, np.ones_like(u)], axis=-1).astype(np.float64)
    a, b = design[known], 1.0 / measured[known]
    keep = np.ones(len(b), bool)
    for _ in range(iterations):
        coef = np.linalg.lstsq(a[keep], b[keep], rcond=None)[0]
        residual = np.abs(a @ coef - b)
        keep = residual <= 3.0 * np.median(residual[keep]) + 1e-12
    return (1.0 / (design @ coef)).astype(np.float32)


def _fill(picture: np.ndarray, height: int, width: int) -> np.ndarray:
    """``picture`` (H,W,3) uint8, centre-cropped to the aspect of (height, width), resized to it."""
    rows, cols = picture.shape[:2]
    if cols * height > rows * width:  # too wide: crop columns
        keep = max(1, round(rows * width / height))
        start = (cols - keep) // 2
        picture = picture[:, start : start + keep]
    else:
        keep = max(1, round(cols * height / width))
        start = (rows - keep) // 2
        picture = picture[start : start + keep]
    return np.asarray(Image.fromarray(picture).resize((width, height), Image.Resampling.LANCZOS))


def paste_in_wall(
    picture: np.ndarray,
    region: Region = WALL_RECTANGLE,
    size: Sequence[int] | None = None,
) -> Sample:
    """*Motorcycle* with ``picture`` pasted over ``region`` of its back wall, and the wall's
    plane (:func:`wall_plane`) as the true depth of the pasted rectangle.

    Args:
        picture: uint8 (H,W,3) RGB; centre-cropped to the region's aspect and resized into it.
        region: (rows, columns) at 500x741; a flat part of the wall.
        size: (H, W) to resize the composite to (as :func:`~depthnb.data.middlebury.
            motorcycle_sample`); None keeps 500x741.

    Returns:
        The sample of :mod:`depthnb.data.sample`; ``valid`` is True all over the rectangle.
    """
    rows, cols = region
    in_image = slice(0, MOTORCYCLE_SIZE[0]), slice(0, MOTORCYCLE_SIZE[1])
    if any(r.indices(n.stop) != (r.start, r.stop, 1) or not r.start < r.stop
           for r, n in zip(region, in_image)):  # fmt: skip
        raise ArgumentError(f"region {region} must be a non-empty rectangle inside 500x741")
    sample = motorcycle_sample()
    image = (sample["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    depth = sample["depth"][0].numpy().copy()
    image[rows, cols] = _fill(np.asarray(picture, dtype=np.uint8), rows.stop - rows.start,
                              cols.stop - cols.start)  # fmt: skip
    depth[rows, cols] = wall_plane(depth, region)
    composite = make_sample(image, depth, depth > 0, sample["intrinsics"].tolist())
    check_sample(composite)
    return composite if size is None else resize(composite, tuple(size))


def window_composite(size: Sequence[int] | None = None) -> Sample:
    """A COMPOSITE: *Motorcycle* with the ``rocket`` photograph (sky) pasted into its back wall
    as a window; the window's true depth is the wall's (see the module's docstring)."""
    return paste_in_wall(photograph("rocket"), size=size)


def mirror_composite(size: Sequence[int] | None = None) -> Sample:
    """A COMPOSITE: *Motorcycle* with its own left view, flipped left-right, pasted into its back
    wall as a mirror; the mirror's true depth is the wall's (see the module's docstring)."""
    return paste_in_wall(motorcycle_pair().left[:, ::-1], size=size)


def region_mask(
    region: Region, shape: Sequence[int], size: Sequence[int] | None = None
) -> torch.Tensor:
    """bool (H,W): True inside ``region`` (given at ``shape`` (H,W)), at ``size`` (default
    ``shape``): the region follows a resize, pixel centres scaled."""
    height, width = (int(n) for n in shape)
    out_h, out_w = (height, width) if size is None else (int(n) for n in size)
    v = (torch.arange(out_h, dtype=torch.float64) + 0.5) * height / out_h - 0.5
    u = (torch.arange(out_w, dtype=torch.float64) + 0.5) * width / out_w - 0.5
    rows, cols = region
    in_rows = (v >= rows.start - 0.5) & (v < rows.stop - 0.5)
    in_cols = (u >= cols.start - 0.5) & (u < cols.stop - 0.5)
    return in_rows[:, None] & in_cols[None, :]
