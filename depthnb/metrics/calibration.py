"""Calibration of predicted uncertainty: does a model's predicted error scale (the Laplace head of
:mod:`depthnb.losses.laplace`) match the errors it makes?"""

from __future__ import annotations

import torch

from depthnb.errors import ArgumentError, DataError, ShapeError


def uncertainty_calibration(
    abs_error: torch.Tensor,
    scale: torch.Tensor,
    valid: torch.Tensor | None = None,
    bins: int = 10,
) -> dict[str, torch.Tensor]:
    """Predicted scale against observed error, in ``bins`` groups of pixels of about equal size.

    The valid pixels are sorted by predicted scale ``b`` and cut into ``bins`` groups of (nearly)
    equal count; for each group: the mean predicted ``b`` and the mean observed ``|y - mu|``.
    A calibrated Laplace model lies on the diagonal (``E|y - mu| = b``); points above it are
    over-confident, below it under-confident.

    Args:
        abs_error: ``|y - mu|`` in the encoded space, any shape (e.g. (B,1,H,W)).
        scale: the predicted ``b = exp(log_scale)``, same shape.
        valid: bool mask of the same shape; None: every finite pixel.
        bins: number of groups, at least 1 (fewer when there are fewer valid pixels).

    Returns:
        ``{"scale": (K,), "error": (K,), "count": (K,)}`` float64 (count int64), K <= bins,
        ordered by increasing scale.
    """
    if abs_error.shape != scale.shape:
        raise ShapeError(
            f"uncertainty_calibration: abs_error {tuple(abs_error.shape)} and scale "
            f"{tuple(scale.shape)} must have the same shape"
        )
    if int(bins) < 1:
        raise ArgumentError(f"uncertainty_calibration: bins must be >= 1, got {bins}")
    keep = torch.isfinite(abs_error) & torch.isfinite(scale)
    if valid is not None:
        keep &= valid.to(device=keep.device, dtype=torch.bool).expand_as(keep)
    error, b = abs_error.detach()[keep].double(), scale.detach()[keep].double()
    if error.numel() == 0:
        raise DataError("uncertainty_calibration: no valid pixel; check the valid mask")
    order = torch.argsort(b)
    groups = torch.tensor_split(order, min(int(bins), order.numel()))
    return {
        "scale": torch.stack([b[g].mean() for g in groups]),
        "error": torch.stack([error[g].mean() for g in groups]),
        "count": torch.tensor([g.numel() for g in groups]),
    }
