"""Seeing depth: colour maps and grids, point clouds and PLY files, the interactive explorer.

``DepthExplorer`` imports ipywidgets on first use, so ``depthnb.viz.colorize`` stays light.
"""

from typing import Any

from depthnb.geometry import depth_to_points, intrinsics_from_fov, normals_from_depth
from depthnb.viz.colors import (
    COLORMAPS,
    abs_rel_map,
    colorize,
    comparison_grid,
    depth_histogram,
    depth_range,
)
from depthnb.viz.ply import read_ply, save_ply
from depthnb.viz.points import plot_points, plot_points_plotly

__all__ = [
    "COLORMAPS",
    "DepthExplorer",
    "abs_rel_map",
    "colorize",
    "comparison_grid",
    "depth_histogram",
    "depth_range",
    "depth_to_points",
    "intrinsics_from_fov",
    "normals_from_depth",
    "plot_points",
    "plot_points_plotly",
    "read_ply",
    "save_ply",
]


def __getattr__(name: str) -> Any:
    if name == "DepthExplorer":
        from depthnb.viz.explorer import DepthExplorer

        return DepthExplorer
    raise AttributeError(f"module 'depthnb.viz' has no attribute {name!r}")
