"""Depth to 3D: back-projection through the pinhole camera, surface normals, point-cloud plots.

Camera frame (OpenCV convention): X right, Y down, Z forward, metres. A pixel (u, v) with depth Z
lands at X = (u - cx) Z / fx, Y = (v - cy) Z / fy. The intrinsics (fx, fy, cx, cy) are in pixels at
the depth map's resolution: every resize or crop of a sample updates them, so a cloud stays right.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from depthnb.errors import MissingPackageError, ShapeError


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
        raise MissingPackageError(
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
