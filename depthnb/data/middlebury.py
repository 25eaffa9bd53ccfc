"""Real RGB-D ground truth on every machine: Middlebury 2014's *Motorcycle*, from scikit-image.

>>> sample = motorcycle_sample()                      # the sample of depthnb.data.sample
>>> sample["image"].shape, sample["depth"].shape      # (3,H,W) in [0,1], (1,H,W) metres
(torch.Size([3, 500, 741]), torch.Size([1, 500, 741]))
>>> sample["intrinsics"].tolist()                     # fx, fy, cx, cy of the left view
[994.97..., 994.97..., 311.19..., 254.87...]
>>> depth = sample["depth"][sample["valid"]]
>>> [round(float(q), 2) for q in depth.quantile(torch.tensor([0.0, 0.5, 1.0]))]
[2.11, 2.75, 5.02]
>>> motorcycle_sample(size=(250, 370))["intrinsics"].tolist()   # scaled about pixel centres
[496.8..., 497.4..., 155.1..., 127.1...]
>>> pair = motorcycle_pair()                          # for stereo: both views and the disparity
>>> pair.left.shape, pair.right.shape, pair.disparity.shape
((500, 741, 3), (500, 741, 3), (500, 741))

Source: ``skimage.data.stereo_motorcycle()`` (scikit-image 0.26), the left and right rectified
views of the default exposure, downsampled 4x with ``skimage.transform.downscale_local_mean``, and
the ground-truth disparity of the left view (Scharstein et al., "High-resolution stereo datasets
with subpixel-accurate ground truth", GCPR 2014; the dataset by Nera Nesic, Porter Westling, Xi
Wang, York Kitajima, Greg Krathwohl and Daniel Scharstein, Middlebury College). The calibration
below is the one its docstring gives for this downsampled size (``help(skimage.data.
stereo_motorcycle)``): focal length 994.978 px, principal point x 311.193 px, y 254.877 px,
principal point dx (``doffs``) 31.086 px, baseline 193.001 mm.

Geometry. Both views are rectified: a left pixel ``(v, u)`` matches the right pixel
``(v, u - d)`` on the same row, with ``d`` the disparity in pixels. Middlebury keeps the two
principal points apart by ``doffs = cx_right - cx_left``, so depth is::

    Z = f * B / (d + doffs)          (f, d, doffs in pixels; B and Z in metres)

Measured on scikit-image 0.26's copy (the first two differ from its docstring):

- unknown disparities are ``inf``, not NaN (27,226 pixels, 7.3%); both are treated as unknown;
- the docstring's example pairs left ``u + d`` with right ``u``, but the grey levels say left ``u``
  with right ``u - d``: mean absolute difference 7.8 grey levels that way, 45.0 the other;
- disparities run from 7.19 to 59.91 px, so depth from 2.11 m to 5.02 m, median 2.75 m (the
  motorcycle in front, the wall behind it at about 5 m).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import numpy as np
import torch

from depthnb.data.functional import resize
from depthnb.data.io import make_sample
from depthnb.data.sample import Sample
from depthnb.errors import DataError
from depthnb.utils.optional import require

SKIMAGE_INSTALL = "pip install scikit-image"

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class StereoCalibration:
    """A rectified stereo pair's camera, Middlebury's way: both views share ``focal_px`` and
    ``cy``; the right view's principal point lies ``doffs_px`` columns right of the left's."""

    focal_px: float
    """Focal length of both views, pixels (fx = fy)."""
    cx: float
    """Left view's principal point, column, pixels."""
    cy: float
    """Left view's principal point, row, pixels."""
    doffs_px: float
    """``cx_right - cx_left``, pixels: added to every disparity before depth is computed."""
    baseline_m: float
    """Distance between the two camera centres, metres."""

    @property
    def intrinsics(self) -> tuple[float, float, float, float]:
        """The left view's fx, fy, cx, cy in pixels (a sample's ``intrinsics``)."""
        return self.focal_px, self.focal_px, self.cx, self.cy


MOTORCYCLE = StereoCalibration(
    focal_px=994.978, cx=311.193, cy=254.877, doffs_px=31.086, baseline_m=0.193001
)
"""*Motorcycle* at scikit-image's size, :data:`MOTORCYCLE_SIZE`, from its docstring."""

MOTORCYCLE_SIZE = (500, 741)
"""(H, W) of scikit-image's *Motorcycle* views and disparity, pixels."""


class StereoPair(NamedTuple):
    """A rectified stereo pair with the left view's ground truth, as NumPy arrays."""

    left: np.ndarray
    """uint8 (H,W,3) RGB, the reference view."""
    right: np.ndarray
    """uint8 (H,W,3) RGB: left pixel ``(v, u)`` is right pixel ``(v, u - disparity[v, u])``."""
    disparity: np.ndarray
    """float32 (H,W) pixels, of the left view; ``inf`` where unknown."""
    calibration: StereoCalibration


def _in_float64(values: ArrayT, rule: Callable[[torch.Tensor], torch.Tensor]) -> ArrayT:
    """Apply an elementwise ``rule`` in float64 (float32 on Apple's MPS, which has no float64);
    the same type, shape, device and dtype out (float32 for integer input)."""
    if isinstance(values, torch.Tensor):
        dtype = values.dtype if values.is_floating_point() else torch.float32
        wide = torch.float32 if values.device.type == "mps" else torch.float64
        return rule(values.to(wide)).to(dtype)
    array = np.asarray(values)
    dtype_np = array.dtype if np.issubdtype(array.dtype, np.floating) else np.dtype(np.float32)
    return rule(torch.from_numpy(np.array(array, dtype=np.float64))).numpy().astype(dtype_np)


def disparity_to_depth(disparity: ArrayT, calibration: StereoCalibration) -> ArrayT:
    """Disparity (pixels) -> depth (metres): ``Z = f * B / (d + doffs)``; 0 where unknown.

    Args:
        disparity: NumPy array or tensor of any shape ((H,W), (1,H,W), (B,1,H,W), ...), pixels
            at ``calibration``'s resolution. Unknown where not finite (NaN, ``inf``) or where
            ``d + doffs <= 0`` (a point at or behind infinity); a disparity of 0 is a real depth
            (``f * B / doffs``, 6.18 m for :data:`MOTORCYCLE`), not a hole.
        calibration: the pair's camera.

    Returns:
        Depth in metres, the same type, shape and device (and dtype, float32 for integer input);
        0 where the disparity is unknown, so ``valid = depth > 0`` (the sample's convention).
        Computed in float64 (float32 on MPS) before the cast.
    """

    def depth(values: torch.Tensor) -> torch.Tensor:
        shifted = values + calibration.doffs_px
        known = torch.isfinite(shifted) & (shifted > 0)
        return torch.where(known, calibration.focal_px * calibration.baseline_m / shifted, 0.0)

    return _in_float64(disparity, depth)


def depth_to_disparity(depth: ArrayT, calibration: StereoCalibration) -> ArrayT:
    """Depth (metres) -> disparity (pixels): ``d = f * B / Z - doffs``, the inverse of
    :func:`disparity_to_depth`; ``inf`` where the depth is unknown (not finite, or <= 0), as in
    scikit-image's disparity map.

    Args:
        depth: NumPy array or tensor of any shape, metres.
        calibration: the pair's camera.

    Returns:
        Disparity in pixels, the same type, shape, device and dtype (float32 for integer input).
    """

    def disparity(values: torch.Tensor) -> torch.Tensor:
        known = torch.isfinite(values) & (values > 0)
        focal_baseline = calibration.focal_px * calibration.baseline_m
        return torch.where(known, focal_baseline / values - calibration.doffs_px, torch.inf)

    return _in_float64(depth, disparity)


def motorcycle_pair() -> StereoPair:
    """Middlebury 2014's *Motorcycle* from scikit-image: both views, the left view's disparity
    (``inf`` where unknown) and :data:`MOTORCYCLE`, all at :data:`MOTORCYCLE_SIZE` (500, 741).

    Raises:
        MissingPackageError: scikit-image is not installed.
        DataError: its data files cannot be read, or are not the 500x741 pair calibrated here.
    """
    skimage_data = require("skimage.data", SKIMAGE_INSTALL)
    try:
        left, right, disparity = skimage_data.stereo_motorcycle()
    except (OSError, ImportError, KeyError, ValueError) as error:
        raise DataError(
            f"scikit-image's Middlebury Motorcycle files (motorcycle_left.png, "
            f"motorcycle_right.png, motorcycle_disp.npz in skimage/data) could not be read: "
            f"{error}. Reinstall scikit-image (pip install --force-reinstall scikit-image)"
        ) from error
    shapes = (left.shape, right.shape, disparity.shape)
    if shapes != ((*MOTORCYCLE_SIZE, 3), (*MOTORCYCLE_SIZE, 3), MOTORCYCLE_SIZE):
        raise DataError(
            f"skimage.data.stereo_motorcycle() returned shapes {shapes}; the calibration here "
            f"is for two {MOTORCYCLE_SIZE} (H,W) RGB views and their disparity. Install a "
            "scikit-image that ships that pair (0.25 or later: pip install -U scikit-image)"
        )
    return StereoPair(
        left=np.asarray(left, dtype=np.uint8),
        right=np.asarray(right, dtype=np.uint8),
        disparity=np.asarray(disparity, dtype=np.float32),
        calibration=MOTORCYCLE,
    )


def motorcycle_sample(size: tuple[int, int] | None = None) -> Sample:
    """*Motorcycle*'s left view as a sample (:mod:`depthnb.data.sample`), depth in metres.

    Args:
        size: (H, W) to resize to with :func:`depthnb.data.functional.resize` (colour bilinear,
            depth and valid nearest neighbour, intrinsics scaled about pixel centres); ``None``
            keeps scikit-image's (500, 741).

    Returns:
        ``image`` float32 (3,H,W) in [0,1], ``depth`` float32 (1,H,W) metres (0 where unknown),
        ``valid`` bool (1,H,W) (92.7% of the pixels at full size), ``intrinsics`` float32 (4,)
        fx, fy, cx, cy in pixels at (H, W).

    Raises:
        MissingPackageError, DataError: as :func:`motorcycle_pair`.
    """
    pair = motorcycle_pair()
    depth = disparity_to_depth(pair.disparity, pair.calibration)
    sample = make_sample(pair.left, depth, depth > 0, pair.calibration.intrinsics)
    return sample if size is None else resize(sample, size)
