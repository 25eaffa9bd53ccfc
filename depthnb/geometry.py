"""Camera geometry, one home: intrinsics, back-projection, point clouds, normals, warping.

Intrinsics are (fx, fy, cx, cy) in pixels at the image's resolution; depth is in metres; the
camera frame has X right, Y down, Z forward.

- :func:`scale_intrinsics`: intrinsics after resizing and cropping (every transform uses it);
- :data:`NYU_INTRINSICS`, :data:`NYU_FOV_DEG`: NYU Depth v2's colour camera (DenseDepth and the
  course U-Net learnt their metres through it), and the field of view assumed for a photo;
- :func:`intrinsics_from_fov`: intrinsics of a photo of unknown camera from a field of view;
- :func:`backproject`, :func:`relative_pose`, :func:`warp_source`: torch, batches (B,1,H,W) to
  points (B,3,H,W) and a source frame warped into the target view (self-supervised depth);
- :func:`depth_to_points`, :func:`normals_from_depth`: the edge to figures and PLY files: one depth
  map (H,W) to NumPy points (N,3) and unit normals (H,W,3), computed with :func:`backproject`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from depthnb.errors import ArgumentError, ShapeError
from depthnb.utils.arrays import ArrayLike, as_depth_map, as_rgb_image, valid_pixels

NYU_INTRINSICS: tuple[float, float, float, float] = (518.8579, 519.4696, 325.5824, 253.7362)
"""fx, fy, cx, cy (pixels) of the Kinect RGB camera at 640x480 (W,H)."""

NYU_SIZE = (480, 640)
"""(H,W) of NYU Depth v2 images and depth maps."""

NYU_FOV_DEG = math.degrees(2.0 * math.atan((NYU_SIZE[1] / 2.0) / NYU_INTRINSICS[0]))
"""Horizontal field of view (degrees) of NYU's colour camera, 2 atan(320 / 518.86) = 63.3: the
one field of view the course assumes for a photo of unknown camera (the default of
:func:`intrinsics_from_fov`). DenseDepth learnt its metres through that camera (on NYU), and so did
the course U-Net (synthetic rooms rendered with NYU's intrinsics)."""


def as_intrinsics(intrinsics: ArrayLike) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) in pixels from a tensor, array or sequence of four numbers."""
    if isinstance(intrinsics, torch.Tensor):
        intrinsics = intrinsics.detach().cpu().numpy()
    values = np.asarray(intrinsics, dtype=np.float64).reshape(-1)
    if values.size != 4 or not np.all(np.isfinite(values)) or values[0] <= 0 or values[1] <= 0:
        raise ShapeError(
            f"intrinsics {values.tolist()} are not (fx, fy, cx, cy) with positive focal lengths in "
            "pixels; take them from the sample (sample['intrinsics']) or intrinsics_from_fov()."
        )
    fx, fy, cx, cy = (float(v) for v in values)
    return fx, fy, cx, cy


def intrinsics_from_fov(size: tuple[int, int], fov_deg: float = NYU_FOV_DEG) -> np.ndarray:
    """Intrinsics float32 (4,) for a photo of unknown camera: horizontal field of view ``fov_deg``.

    ``size`` is the image's (H, W) in pixels, e.g. ``photo.shape[:2]``. Square pixels (fy = fx)
    and the principal point at the image centre. The default, :data:`NYU_FOV_DEG` (63.3 degrees),
    is NYU's colour camera: at 640 pixels wide it gives back NYU's fx, 518.86. A phone's main
    camera sees a little more, about 65 to 70 degrees across the long side; pass it if you know it.
    """
    if not 0.0 < fov_deg < 180.0:
        raise ArgumentError(f"fov_deg={fov_deg} must lie strictly between 0 and 180 degrees.")
    try:
        height, width = (int(side) for side in size)
    except (TypeError, ValueError):
        raise ArgumentError(
            f"size={size!r} is not an image size (H, W) in pixels; pass e.g. photo.shape[:2]"
        ) from None
    if width < 1 or height < 1:
        raise ArgumentError(f"image size (H, W) = {size}: both sides must be at least 1.")
    fx = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return np.array([fx, fx, (width - 1) / 2.0, (height - 1) / 2.0], dtype=np.float32)


def _point_map(depth: np.ndarray, intrinsics: ArrayLike) -> np.ndarray:
    """One depth map (H,W) metres -> its camera-frame points float32 (H,W,3), by
    :func:`backproject` (unknown pixels too)."""
    k = torch.tensor(as_intrinsics(intrinsics), dtype=torch.float32)
    points = backproject(torch.from_numpy(depth)[None, None], k)[0]
    return points.permute(1, 2, 0).numpy()


def depth_to_points(
    depth: ArrayLike,
    intrinsics: ArrayLike,
    image: ArrayLike | None = None,
    stride: int = 1,
    valid: ArrayLike | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """A depth map as a point cloud in the camera frame.

    Args:
        depth: (H,W) or (1,H,W) metres, numpy or tensor; pixels <= 0 or non-finite are dropped.
        intrinsics: (4,) fx, fy, cx, cy in pixels at the depth map's resolution.
        image: optional (3,H,W) float in [0,1] or (H,W,3) uint8/float, the colour of each pixel.
        stride: keep every ``stride``-th row and column (a lighter cloud).
        valid: optional (H,W) mask of pixels to keep.

    Returns:
        points float32 (N,3) metres (X right, Y down, Z forward) and, when ``image`` is given,
        colours (N,3) in the image's dtype (uint8 0-255 or float 0-1).
    """
    if stride < 1:
        raise ArgumentError(f"stride={stride} must be a positive integer.")
    depth = as_depth_map(depth)
    keep = valid_pixels(depth, valid)
    points = _point_map(depth, intrinsics)[::stride, ::stride][keep[::stride, ::stride]]
    if image is None:
        return points
    rgb = as_rgb_image(image)
    if rgb.shape[:2] != depth.shape:
        raise ShapeError(
            f"image {rgb.shape[:2]} and depth {depth.shape} differ in size; pass the image the "
            "depth belongs to (resize both together, e.g. with depthnb.data.transforms)."
        )
    colors = rgb[::stride, ::stride][keep[::stride, ::stride]]
    return points, (colors if rgb.dtype == np.uint8 else colors.astype(np.float32))


def normals_from_depth(depth: ArrayLike, intrinsics: ArrayLike) -> np.ndarray:
    """Unit surface normals float32 (H,W,3) in the camera frame, turned to face the camera.

    The cross product of the point map's central differences along x and y. Pixels whose
    neighbours are unknown, and the one-pixel border, get (0, 0, 0).
    """
    depth = as_depth_map(depth)
    points = _point_map(depth, intrinsics).astype(np.float64)
    ok = valid_pixels(depth)
    normals = np.zeros(points.shape, dtype=np.float64)
    d_du = points[1:-1, 2:] - points[1:-1, :-2]
    d_dv = points[2:, 1:-1] - points[:-2, 1:-1]
    inner = np.cross(d_du, d_dv)
    length = np.linalg.norm(inner, axis=-1, keepdims=True)
    inner = np.divide(inner, length, out=np.zeros_like(inner), where=length > 0)
    facing = np.sum(inner * points[1:-1, 1:-1], axis=-1, keepdims=True) > 0
    inner = np.where(facing, -inner, inner)
    usable = ok[1:-1, 1:-1] & ok[1:-1, 2:] & ok[1:-1, :-2] & ok[2:, 1:-1] & ok[:-2, 1:-1]
    normals[1:-1, 1:-1] = np.where(usable[..., None], inner, 0.0)
    return normals.astype(np.float32)


def _intrinsics(intrinsics: torch.Tensor, batch: int, like: torch.Tensor) -> torch.Tensor:
    """(4,) or (B,4) fx, fy, cx, cy -> (B,4,1,1) in ``like``'s dtype and device."""
    k = torch.as_tensor(intrinsics).to(device=like.device, dtype=like.dtype)
    if k.shape[-1:] != (4,) or k.dim() > 2:
        raise ShapeError(
            f"intrinsics have shape {tuple(k.shape)}; pass (4,) or (B,4) fx, fy, cx, cy in pixels"
        )
    return k.expand(batch, 4)[..., None, None]


def backproject(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Every pixel to a camera-frame point: depth (B,1,H,W) metres, intrinsics (4,) or (B,4)
    -> points (B,3,H,W) metres, X = (u - cx) Z / fx, Y = (v - cy) Z / fy, Z = depth."""
    if depth.dim() != 4 or depth.shape[1] != 1:
        raise ShapeError(f"backproject: depth has shape {tuple(depth.shape)}; pass (B,1,H,W)")
    b, _, h, w = depth.shape
    fx, fy, cx, cy = _intrinsics(intrinsics, b, depth).unbind(1)
    v, u = torch.meshgrid(
        torch.arange(h, dtype=depth.dtype, device=depth.device),
        torch.arange(w, dtype=depth.dtype, device=depth.device),
        indexing="ij",
    )
    z = depth[:, 0]
    return torch.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], dim=1)


def relative_pose(world_from_target: torch.Tensor, world_from_source: torch.Tensor) -> torch.Tensor:
    """``T_{s<-t}`` (...,4,4): maps target-camera points to source-camera points, from the two
    cameras' world-from-camera poses (...,4,4), e.g. ``render_camera_path(...)["pose"]``."""
    return torch.linalg.inv(world_from_source) @ world_from_target


def warp_source(
    source: torch.Tensor, depth: torch.Tensor, pose: torch.Tensor, intrinsics: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The source image seen from the target camera, and where that view is defined.

    Args:
        source: (B,C,H,W) the source frame.
        depth: (B,1,H,W) the target frame's depth, metres.
        pose: (B,4,4) or (4,4) ``T_{s<-t}`` (:func:`relative_pose`), metres.
        intrinsics: (4,) or (B,4), shared by both frames.

    Returns:
        warped (B,C,H,W), bilinear samples of ``source`` (border values outside it), and
        inside (B,1,H,W) bool: the point lies in front of the source camera and projects inside
        the source image (``-0.5 <= u <= W - 0.5``, the same for v; past the last pixel
        centre the border value is taken).
    """
    b, _, h, w = depth.shape
    if source.dim() != 4 or source.shape[0] != b or source.shape[-2:] != depth.shape[-2:]:
        raise ShapeError(
            f"warp_source: source {tuple(source.shape)} must be (B,C,H,W) with the batch and "
            f"size of depth {tuple(depth.shape)}"
        )
    pose = torch.as_tensor(pose).to(device=depth.device, dtype=depth.dtype)
    if pose.shape[-2:] != (4, 4):
        raise ShapeError(f"warp_source: pose has shape {tuple(pose.shape)}; pass (B,4,4) or (4,4)")
    points = backproject(depth, intrinsics).flatten(2)  # (B,3,HW)
    moved = pose.expand(b, 4, 4)[:, :3, :3] @ points + pose.expand(b, 4, 4)[:, :3, 3:]
    fx, fy, cx, cy = _intrinsics(intrinsics, b, depth)[..., 0].unbind(1)  # (B,1) each
    z = moved[:, 2]
    in_front = z > 1e-3
    z = torch.where(in_front, z, torch.ones_like(z))
    u, v = fx * moved[:, 0] / z + cx, fy * moved[:, 1] / z + cy
    # Inside the image: its edges are half a pixel beyond the first and last centres.
    inside = in_front & (u >= -0.5) & (u <= w - 0.5) & (v >= -0.5) & (v <= h - 0.5)
    # align_corners=True: -1 and +1 are the centres of the first and last pixels.
    grid = torch.stack([2 * u / max(w - 1, 1) - 1, 2 * v / max(h - 1, 1) - 1], dim=-1)
    warped = F.grid_sample(
        source.to(depth.dtype),
        grid.view(b, h, w, 2),
        mode="bilinear",
        padding_mode="border",
        align_corners=True,
    )
    return warped, inside.view(b, 1, h, w)


def scale_intrinsics(
    intrinsics: Sequence[float], from_size: tuple[int, int], to_size: tuple[int, int]
) -> tuple[float, float, float, float]:
    """fx, fy, cx, cy (pixels) at ``from_size`` (H,W) -> the same camera at ``to_size`` (H,W).

    The one resizing rule of the package: readers, :func:`depthnb.data.synthetic_intrinsics`, and
    :func:`depthnb.data.functional.resize` (hence the cache) all call this function.

    Pixel ``(u, v)`` is the centre of column ``u``, row ``v`` (the convention of the flip rule
    ``cx -> W - 1 - cx``), so the image's edges lie at ``u = -0.5`` and ``u = W - 0.5``. With
    ``sx = W'/W`` and ``sy = H'/H``::

        fx' = fx * sx            cx' = (cx + 0.5) * sx - 0.5
        fy' = fy * sy            cy' = (cy + 0.5) * sy - 0.5

    This is exact for resampling that maps pixel centres this way (PIL, ``F.interpolate`` with
    ``align_corners=False``). The shorter rule ``cx' = cx * sx`` often quoted differs by
    ``0.5 * (sx - 1)`` pixels (a quarter pixel when halving): it treats ``u = 0`` as the image's
    left edge, which the flip rule does not, and shifts back-projected points by that much.
    """
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    sy, sx = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return fx * sx, fy * sy, (cx + 0.5) * sx - 0.5, (cy + 0.5) * sy - 0.5
