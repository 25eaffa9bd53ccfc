"""Numeric helpers that losses, metrics and geometry share: full precision under autocast, the
checked ``(pred, target, valid)`` triple, masked means that stay finite with nothing valid."""

from __future__ import annotations

import torch

from depthnb.errors import ShapeError


# ----------------------------------------------------------------------------------------- helpers
def full_precision(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """Cast to float32 (float64 stays float64): losses are never computed in half precision."""
    return [t.double() if t.dtype == torch.float64 else t.float() for t in tensors]


def no_autocast(device: torch.device) -> torch.autocast:
    """A context that switches autocast off on ``device`` (our casts decide the precision)."""
    device_type = device.type if device.type in {"cpu", "cuda", "mps", "xpu"} else "cpu"
    return torch.autocast(device_type=device_type, enabled=False)


def check_pair(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None, where: str
) -> torch.Tensor | None:
    """Check shapes; return ``valid`` as a bool tensor broadcast to ``pred``'s shape, or None."""
    if not (isinstance(pred, torch.Tensor) and isinstance(target, torch.Tensor)):
        raise ShapeError(
            f"{where}: prediction and target must be torch tensors (B,C,H,W), got "
            f"{type(pred).__name__} and {type(target).__name__}; convert with torch.as_tensor"
        )
    if pred.dim() != 4 or pred.shape != target.shape:
        raise ShapeError(
            f"{where}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} "
            "must both be "
            "(B,C,H,W) of the same size; upsample the prediction first, e.g. "
            "F.interpolate(pred, size=target.shape[-2:], mode='bilinear', align_corners=False)"
        )
    if valid is None:
        return None
    try:
        return valid.to(device=pred.device, dtype=torch.bool).expand_as(pred)
    except RuntimeError as error:
        raise ShapeError(
            f"{where}: valid mask {tuple(valid.shape)} does not fit prediction "
            f"{tuple(pred.shape)}; "
            "pass a bool mask of shape (B,1,H,W)"
        ) from error


def zero_invalid(target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the target where invalid: NaN or inf behind a hole never reaches a sum or a gradient."""
    return target if mask is None else torch.where(mask, target, torch.zeros_like(target))


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is True (all of it when None); 0 when nothing is valid."""
    if mask is None:
        return values.mean()
    total = torch.where(mask, values, torch.zeros_like(values)).sum()
    return total / mask.sum().clamp(min=1)
