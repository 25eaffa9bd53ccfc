"""Depth to 3D: back-projection through the pinhole camera, surface normals, point-cloud plots.

Camera frame (OpenCV convention): X right, Y down, Z forward, metres. A pixel (u, v) with depth Z
lands at X = (u - cx) Z / fx, Y = (v - cy) Z / fy. The intrinsics (fx, fy, cx, cy) are in pixels at
the depth map's resolution: every resize or crop of a sample updates them, so a cloud stays right.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from depthnb.errors import ConfigError, ShapeError
from depthnb.viz.colors import ArrayLike, as_depth_map, as_rgb_image, valid_pixels


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


def intrinsics_from_fov(width: int, height: int, fov_deg: float = 65.0) -> np.ndarray:
    """Intrinsics float32 (4,) for a photo of unknown camera: horizontal field of view ``fov_deg``.

    Square pixels (fy = fx) and the principal point at the image centre. The default, 65 degrees,
    is about a phone's main camera (24 to 28 mm equivalent: 65 to 70 degrees across the long side);
    NYU's Kinect sees 63.
    """
    if not 0.0 < fov_deg < 180.0:
        raise ConfigError(f"fov_deg={fov_deg} must lie strictly between 0 and 180 degrees.")
    if width < 1 or height < 1:
        raise ConfigError(f"image size {width}x{height} (W x H): both sides must be at least 1.")
    fx = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return np.array([fx, fx, (width - 1) / 2.0, (height - 1) / 2.0], dtype=np.float32)


def point_map(depth: ArrayLike, intrinsics: ArrayLike) -> np.ndarray:
    """Back-project every pixel (unknown ones too): float32 (H,W,3) camera-frame points, metres."""
    depth = as_depth_map(depth)
    fx, fy, cx, cy = as_intrinsics(intrinsics)
    v, u = np.indices(depth.shape, dtype=np.float32)
    return np.stack([(u - cx) * depth / fx, (v - cy) * depth / fy, depth], axis=-1)


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
        raise ConfigError(f"stride={stride} must be a positive integer.")
    depth = as_depth_map(depth)
    keep = valid_pixels(depth, valid)
    points = point_map(depth, intrinsics)[::stride, ::stride][keep[::stride, ::stride]]
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
    points = point_map(depth, intrinsics).astype(np.float64)
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


def _subsample(
    points: np.ndarray, colors: np.ndarray | None, max_points: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ShapeError(f"points have shape {points.shape}; expected (N,3).")
    if colors is not None:
        colors = np.asarray(colors)
        if colors.shape != points.shape:
            raise ShapeError(f"colors {colors.shape} do not match points {points.shape}.")
        colors = colors / 255.0 if colors.dtype == np.uint8 else np.clip(colors, 0.0, 1.0)
    if len(points) > max_points:
        keep = np.random.default_rng(seed).choice(len(points), max_points, replace=False)
        points = points[keep]
        colors = None if colors is None else colors[keep]
    return points, colors


def plot_points(
    points: np.ndarray,
    colors: np.ndarray | None = None,
    max_points: int = 20000,
    ax: Any = None,
    elev: float = 15.0,
    azim: float = -70.0,
    size: float = 1.0,
    title: str = "Point cloud",
) -> Any:
    """Scatter a camera-frame cloud (N,3) in 3D with matplotlib: one scatter call, equal axes.

    Drawn the way the camera saw it: the plot's horizontal axes are X (right) and Z (forward,
    away from the camera) and its vertical axis is -Y (up), so ``azim=-90, elev=0`` looks along
    +Z from the camera. At most ``max_points`` random points are drawn (fixed seed), which keeps
    a 640x480 cloud fast. Returns the 3D Axes.
    """
    import matplotlib.pyplot as plt

    points, colors = _subsample(points, colors, max_points)
    if ax is None:
        fig = plt.figure(figsize=(6, 5))
        ax = fig.add_subplot(projection="3d")
    x, z, up = points[:, 0], points[:, 2], -points[:, 1]
    if colors is None:
        ax.scatter(x, z, up, c=z, cmap="plasma", s=size, linewidths=0, depthshade=False)
    else:
        ax.scatter(x, z, up, c=colors, s=size, linewidths=0, depthshade=False)
    if len(points):
        spans = [max(float(a.max() - a.min()), 1e-3) for a in (x, z, up)]
        ax.set_box_aspect(spans)
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlabel("X right (m)")
    ax.set_ylabel("Z forward (m)")
    ax.set_zlabel("-Y up (m)")
    _blank_end_on_axis(ax, elev, azim)
    ax.set_title(title)
    return ax


def _blank_end_on_axis(ax: Any, elev: float, azim: float, within_deg: float = 10.0) -> None:
    """Blank the ticks and label of an axis pointing at the viewer (within ``within_deg``): seen
    end on, its tick labels pile up on one spot, over the other axes' (from above: the up axis)."""
    from matplotlib.ticker import NullFormatter

    e, a = math.radians(elev), math.radians(azim)
    towards_viewer = (math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e))
    for axis, component in zip((ax.xaxis, ax.yaxis, ax.zaxis), towards_viewer):
        if abs(component) > math.cos(math.radians(within_deg)):
            axis.set_major_formatter(NullFormatter())
            axis.set_label_text("")


def plot_points_plotly(
    points: np.ndarray,
    colors: np.ndarray | None = None,
    max_points: int = 50000,
    size: float = 1.5,
    title: str = "Point cloud",
) -> Any:
    """An interactive, rotatable 3D view with plotly (installed in Colab); returns a plotly Figure.

    Same axes as :func:`plot_points`: X right, Z forward, -Y up, metres, equal scale.
    """
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ConfigError(
            "plot_points_plotly needs plotly, which is not installed: run `pip install plotly` "
            "(Colab has it), or use plot_points for a static matplotlib view."
        ) from None
    points, colors = _subsample(points, colors, max_points)
    if colors is None:
        marker = {"size": size, "color": points[:, 2], "colorscale": "Plasma"}
    else:
        rgb = (colors * 255).astype(np.uint8)
        channels = zip(rgb[:, 0], rgb[:, 1], rgb[:, 2])
        marker = {"size": size, "color": [f"rgb({r},{g},{b})" for r, g, b in channels]}
    figure = go.Figure(
        go.Scatter3d(x=points[:, 0], y=points[:, 2], z=-points[:, 1], mode="markers", marker=marker)
    )
    figure.update_layout(
        title=title,
        scene={
            "aspectmode": "data",
            "xaxis_title": "X right (m)",
            "yaxis_title": "Z forward (m)",
            "zaxis_title": "-Y up (m)",
            "camera": {"eye": {"x": 0.0, "y": -2.0, "z": 0.5}, "up": {"x": 0, "y": 0, "z": 1}},
        },
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
    )
    return figure
