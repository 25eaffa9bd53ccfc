"""The constant-depth baseline every trained model is compared with.

- :class:`ConstantDepth`: a "network" that predicts one depth everywhere.
- :func:`best_constants`: for each metric, the constant that scores best on a set of pixels (the
  strongest constant baseline; the median is best for none of the standard metrics in general).
"""

from __future__ import annotations

import torch
from torch import nn

from depthnb.encodings import MAX_DEPTH, MIN_DEPTH, get_encoding
from depthnb.errors import DataError


class ConstantDepth(nn.Module):
    """The baseline: the same depth (metres) at every pixel, whatever the image."""

    name = "constant"

    def __init__(self, depth_m: float) -> None:
        super().__init__()
        self.encoding = get_encoding("metres")
        self.config = {"depth_m": float(depth_m)}
        self.depth = nn.Parameter(torch.tensor(float(depth_m)), requires_grad=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B,1,H,W) filled with the constant depth."""
        return self.depth.expand(image.shape[0], 1, *image.shape[-2:])


def best_constants(
    depth: torch.Tensor,
    valid: torch.Tensor | None = None,
    candidates: int = 100,
    max_pixels: int = 20_000,
    min_depth: float = MIN_DEPTH,
    max_depth: float = MAX_DEPTH,
) -> dict[str, tuple[float, float]]:
    """For every metric of :func:`~depthnb.metrics.depth_metrics`, the constant depth that scores
    best on these pixels, and that score.

    No single constant is best for every metric: the mean minimises RMSE, the median the mean
    absolute error (which is none of the standard metrics), a weighted median (weights 1/d) abs_rel,
    delta1 prefers the constant whose 25% band around it catches the most pixels, and silog is the
    same for every constant (it ignores scale). The search
    scores ``candidates`` log-spaced constants between the 0.1% and 99.9% quantiles of the valid
    depths (on at most ``max_pixels`` of them, evenly strided), plus the mean and the median, then
    scores the winner of each metric on all pixels.

    Args:
        depth: ground truth in metres, any shape (e.g. (B,1,H,W)); 0 or NaN where unknown.
        valid: bool mask of the same shape; None takes the pixels with depth > 0.
        min_depth, max_depth: depth_metrics' range (ground truth outside it is ignored).

    Returns:
        metric name -> (the best constant in metres, its score under that metric).

    Raises:
        DataError: no valid pixel.
    """
    from depthnb.metrics.depth import HIGHER_IS_BETTER, depth_metrics

    depth = torch.as_tensor(depth).detach().float().cpu()
    mask = depth > 0 if valid is None else torch.as_tensor(valid).bool().cpu() & (depth > 0)
    values = depth[mask].view(1, -1)  # (1, N): one image of N pixels
    if values.numel() == 0:
        raise DataError("best_constants needs at least one valid depth pixel")
    sample = values[:, :: max(1, values.numel() // max_pixels)]
    low, high = torch.quantile(sample, torch.tensor([0.001, 0.999])).tolist()
    grid = torch.logspace(torch.tensor(low).log10(), torch.tensor(high).log10(), candidates)
    grid = torch.cat([grid, sample.mean().view(1), sample.median().view(1)])

    def scores(constant: float, pixels: torch.Tensor) -> dict[str, float]:
        flat = torch.full_like(pixels, constant)
        return depth_metrics(flat, pixels, min_depth=min_depth, max_depth=max_depth)

    scored = [scores(float(c), sample) for c in grid]
    best: dict[str, tuple[float, float]] = {}
    for metric in scored[0]:
        sign = -1.0 if metric in HIGHER_IS_BETTER else 1.0
        index = min(range(len(grid)), key=lambda i: sign * scored[i][metric])
        constant = float(grid[index])
        best[metric] = (constant, scores(constant, values)[metric])
    return best
