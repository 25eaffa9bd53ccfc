"""Depth as pictures: colour maps with a robust range, error maps, histograms, comparison grids.

Invalid pixels (depth <= 0, NaN, or ``valid`` False) are drawn black. A row of a comparison
grid shares one colour range, so ground truth and prediction can be compared by colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
import torch

from depthnb.errors import ArgumentError, ShapeError
from depthnb.utils.arrays import ArrayLike, as_depth_map, as_rgb_image, valid_pixels

COLORMAPS = ("plasma", "magma", "turbo", "jet", "viridis", "inferno")


def depth_range(
    depth: ArrayLike,
    valid: ArrayLike | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> tuple[float, float]:
    """(vmin, vmax) in metres: the given percentiles of the valid depths, robust to outliers.

    Returns (0, 1) when no pixel is valid, and widens a zero-width range so a colour map works.
    """
    depth = as_depth_map(depth)
    values = depth[valid_pixels(depth, valid)]
    if values.size == 0:
        return 0.0, 1.0
    vmin, vmax = (float(v) for v in np.percentile(values, percentiles))
    if vmax <= vmin:
        vmax = vmin + max(abs(vmin) * 1e-3, 1e-6)
    return vmin, vmax


def colorize(
    depth: ArrayLike,
    cmap: str = "plasma",
    vmin: float | None = None,
    vmax: float | None = None,
    valid: ArrayLike | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> np.ndarray:
    """Depth (H,W) or (1,H,W) metres -> uint8 colour image (H,W,3); invalid pixels black.

    Args:
        depth: numpy array or tensor; pixels <= 0 or NaN count as unknown.
        cmap: any matplotlib colour map name (the course uses plasma, magma, turbo, jet).
        vmin, vmax: colour range in metres; the missing end comes from ``percentiles`` of the
            valid depths, so one far-away pixel does not wash the picture out.
        valid: optional (H,W) mask of pixels to show.
        percentiles: the robust range used when ``vmin`` or ``vmax`` is None.
    """
    depth = as_depth_map(depth)
    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError:
        raise ArgumentError(
            f"unknown colour map {cmap!r}; use one of {', '.join(COLORMAPS)} "
            "(any name in matplotlib.colormaps works)."
        ) from None
    ok = valid_pixels(depth, valid)
    if vmin is None or vmax is None:
        low, high = depth_range(depth, ok, percentiles)
        vmin = low if vmin is None else vmin
        vmax = high if vmax is None else vmax
    scaled = (np.where(ok, depth, vmin) - vmin) / max(vmax - vmin, 1e-12)
    rgb = colormap(np.clip(scaled, 0.0, 1.0))[..., :3]
    rgb = (rgb * 255.0 + 0.5).astype(np.uint8)
    rgb[~ok] = 0
    return rgb


def abs_rel_map(pred: ArrayLike, target: ArrayLike, valid: ArrayLike | None = None) -> np.ndarray:
    """Per-pixel absolute relative error |pred - target| / target, float32 (H,W); NaN where the
    target is unknown. pred, target (H,W) metres (or (1,H,W)), valid (H,W) bool."""
    pred = as_depth_map(pred, "pred")
    target = as_depth_map(target, "target")
    if pred.shape != target.shape:
        raise ShapeError(
            f"pred {pred.shape} and target {target.shape} differ in size; upsample the prediction "
            "to the ground truth's size first (depthnb.predict.predict_depth returns the input "
            "size)."
        )
    ok = valid_pixels(target, valid)
    error = np.full(target.shape, np.nan, dtype=np.float32)
    error[ok] = np.abs(pred[ok] - target[ok]) / target[ok]
    return error


def depth_histogram(
    depths: ArrayLike | dict[str, ArrayLike],
    bins: int = 50,
    max_depth: float | None = None,
    ax: Any = None,
) -> Any:
    """Histogram of valid depths (metres) of a map or a dict of labelled maps; returns the Axes."""
    import matplotlib.pyplot as plt

    if not isinstance(depths, dict):
        depths = {"depth": depths}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    values = {}
    for label, depth in depths.items():
        depth = as_depth_map(depth, label)
        values[label] = depth[valid_pixels(depth)]
    top = max_depth or max((float(v.max()) for v in values.values() if v.size), default=1.0)
    edges = np.linspace(0.0, top, bins + 1)
    for label, v in values.items():
        ax.hist(v, bins=edges, density=True, histtype="step", linewidth=1.5, label=label)
    ax.set_xlabel("depth (m)")
    ax.set_ylabel("density (1/m)")
    ax.set_title("Depth histogram")
    if len(values) > 1:
        ax.legend()
    return ax


def _as_list(batch: Any, kind: str) -> list[Any]:
    """A batch (B,...) or one image/depth map as a list of (NumPy or torch) arrays."""
    if isinstance(batch, (torch.Tensor, np.ndarray)) and batch.ndim == 4:
        return [batch[i] for i in range(batch.shape[0])]
    if isinstance(batch, (torch.Tensor, np.ndarray)) and batch.ndim in (2, 3) and kind == "depth":
        return [batch]
    if isinstance(batch, (torch.Tensor, np.ndarray)) and batch.ndim == 3 and kind == "image":
        return [batch]
    return list(batch)


def _scale(cmap: str, vmin: float, vmax: float) -> Any:
    """A colour-bar source for an image drawn with ``colorize`` (which returns plain RGB)."""
    return matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(vmin, vmax), cmap)


def comparison_grid(
    images: Any,
    gts: Any,
    preds: Any,
    cmap: str = "plasma",
    max_error: float = 0.5,
    error_cmap: str = "magma",
    row_titles: Sequence[str] | None = None,
) -> Any:
    """A figure with one row per sample: RGB | ground truth | prediction | abs-rel error.

    Ground truth and prediction in a row share one colour range (the ground truth's 2-98 %
    percentiles), so equal colours mean equal metres; each row has its own depth colour bar.

    Args:
        images: (B,3,H,W) tensor / array, or a list of (3,H,W) / (H,W,3) images.
        gts, preds: (B,1,H,W) or lists of (H,W) depth maps in metres, the images' size.
        cmap: colour map for depth; ``error_cmap`` for the error, drawn from 0 to ``max_error``.
        row_titles: optional label per row (e.g. file names).

    Returns:
        The matplotlib Figure (the caller shows or saves it).
    """
    import matplotlib.pyplot as plt

    images, gts, preds = _as_list(images, "image"), _as_list(gts, "depth"), _as_list(preds, "depth")
    if not len(images) == len(gts) == len(preds) or not images:
        raise ShapeError(
            f"comparison_grid got {len(images)} images, {len(gts)} ground truths and "
            f"{len(preds)} predictions; pass the same number (at least one) of each."
        )
    rows = len(images)
    fig, axes = plt.subplots(rows, 4, figsize=(13, 2.9 * rows), squeeze=False, layout="constrained")
    for row in range(rows):
        gt, pred = as_depth_map(gts[row], "gt"), as_depth_map(preds[row], "pred")
        vmin, vmax = depth_range(gt)
        image = as_rgb_image(images[row])
        error = abs_rel_map(pred, gt)
        ax_rgb, ax_gt, ax_pred, ax_err = axes[row]
        ax_rgb.imshow(image)
        ax_gt.imshow(colorize(gt, cmap, vmin, vmax))
        ax_pred.imshow(colorize(pred, cmap, vmin, vmax))
        ax_err.imshow(colorize(error, error_cmap, 0.0, max_error))
        fig.colorbar(_scale(cmap, vmin, vmax), ax=[ax_gt, ax_pred], label="depth (m)", shrink=0.9)
        fig.colorbar(
            _scale(error_cmap, 0.0, max_error), ax=ax_err, label="|pred - gt| / gt", shrink=0.9
        )
        mean_err = float(np.nanmean(error)) if np.isfinite(error).any() else float("nan")
        name = f"{row_titles[row]}: " if row_titles else ""
        ax_rgb.set_title(f"{name}RGB")
        ax_gt.set_title(f"ground truth ({vmin:.1f}-{vmax:.1f} m)")
        ax_pred.set_title("prediction (same range)")
        ax_err.set_title(f"abs rel error (mean {mean_err:.3f})")
        for ax in axes[row]:
            ax.set_xlabel("u (pixels)")
            ax.set_ylabel("v (pixels)")
    return fig
