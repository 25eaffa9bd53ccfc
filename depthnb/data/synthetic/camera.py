"""The synthetic camera's pixels: NYU intrinsics scaled to the output size, size checks, and the
rays of a view (with the pixel rectangle an object can cover)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from depthnb.data.synthetic.scene import _Camera
from depthnb.errors import ArgumentError
from depthnb.geometry import NYU_INTRINSICS, NYU_SIZE, scale_intrinsics


def synthetic_intrinsics(size: tuple[int, int]) -> np.ndarray:
    """NYU Depth v2 intrinsics scaled to ``size`` = (H, W): float32 (4,) fx, fy, cx, cy pixels.

    Scaled by :func:`depthnb.geometry.scale_intrinsics` (about pixel centres), so a room rendered
    at 480x640 and resized with :func:`depthnb.data.functional.resize` carries the intrinsics of
    the same room rendered at the smaller size.
    """
    return np.array(scale_intrinsics(NYU_INTRINSICS, NYU_SIZE, size), dtype=np.float32)


@lru_cache(maxsize=16)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised image coordinates (u - cx) / fx, shape (W,), and (v - cy) / fy, shape (H,)."""
    fx, fy, cx, cy = synthetic_intrinsics((h, w)).tolist()
    a = ((np.arange(w) - cx) / fx).astype(np.float32)
    b = ((np.arange(h) - cy) / fy).astype(np.float32)
    a.flags.writeable = b.flags.writeable = False
    return a, b


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ArgumentError(f"synthetic rooms: size must be (H, W), got {size!r}") from None
    if h < 8 or w < 8:
        raise ArgumentError(
            f"synthetic rooms: size (H, W) = {size!r} is too small; use at least (8, 8)"
        )
    return h, w


class _Rays:
    """Ray directions of a view, (H,W) each: p = origin + t d; d's camera z = 1, so t = z-depth."""

    def __init__(self, cam: _Camera, size: tuple[int, int]):
        self.h, self.w = size
        self.intrinsics = synthetic_intrinsics(size)
        self.fx = float(self.intrinsics[0])
        a, b = _pixel_grid(self.h, self.w)
        r = cam.rotation.tolist()
        self.cam = cam
        self.origin = cam.position
        # d_world = R @ (a, b, 1): separable in rows and columns, one broadcast add each; (H,W) each
        self.d = [(r[i][0] * a)[None, :] + (r[i][1] * b + r[i][2])[:, None] for i in range(3)]

    def rect(self, corners: np.ndarray) -> tuple[slice, slice] | None:
        """Pixel rows and columns that can see inside the convex hull of ``corners`` (K,3) m."""
        q = (corners - np.asarray(self.origin)) @ self.cam.rotation
        z = q[:, 2]
        if (z <= 0.01).all():
            return None
        if (z <= 0.01).any():
            return slice(0, self.h), slice(0, self.w)
        fx, fy, cx, cy = self.intrinsics.tolist()
        u, v = fx * q[:, 0] / z + cx, fy * q[:, 1] / z + cy
        c0, c1 = max(0, math.floor(u.min())), min(self.w, math.ceil(u.max()) + 1)
        r0, r1 = max(0, math.floor(v.min())), min(self.h, math.ceil(v.max()) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)
