"""Mask IoU, once: pooled over every pixel of every image, from probabilities or logits.

:func:`mask_counts` gives the intersection and union counts that add up over batches (the
mask-and-depth task's meter sums them), :func:`iou_from_counts` turns them into the IoU, and
:func:`mask_iou` does both for one set of masks.
"""

from __future__ import annotations

import torch

from depthnb.errors import ArgumentError, ShapeError
from depthnb.metrics.align import (
    ArrayLike,
    as_batch,
)


# ------------------------------------------------------------------------------------ mask IoU
def mask_iou(
    pred: ArrayLike, target: ArrayLike, threshold: float = 0.5, from_logits: bool = False
) -> float:
    """Intersection over union of a predicted foreground mask and the true one, over the batch.

    ``pred`` holds probabilities in [0,1], thresholded at ``threshold``; with ``from_logits=True``
    it holds raw network outputs, and a pixel is foreground where ``sigmoid(logit) > threshold``
    (thresholding raw logits at 0.5 would be a different, wrong, cut). target: {0,1} or bool.
    Shapes (B,1,H,W), (B,H,W) or (H,W). Pooled over all pixels; 1.0 when both masks are empty.
    """
    pred_t = as_batch(pred, "pred")
    target_t = as_batch(target, "target").to(pred_t.device)
    if pred_t.shape != target_t.shape:
        raise ShapeError(
            f"mask_iou: pred {tuple(pred_t.shape)} and target {tuple(target_t.shape)} differ"
        )
    probabilities = torch.sigmoid(pred_t.float()) if from_logits else pred_t.float()
    if not from_logits and (probabilities.min() < 0 or probabilities.max() > 1):
        raise ArgumentError(
            "mask_iou: pred has values outside [0, 1]; pass probabilities, or from_logits=True "
            "for raw network outputs"
        )
    intersection, union = mask_counts(probabilities, target_t, threshold).tolist()
    return iou_from_counts(intersection, union)


def mask_counts(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """The pixel counts behind a pooled IoU: float64 (2,) intersection and union, on the CPU.

    ``pred`` probabilities in [0,1] of any shape, a pixel foreground where it exceeds ``threshold``;
    ``target`` the same shape, {0,1} float or bool. Counts of several batches add up (a pooled IoU
    over a whole set: :func:`iou_from_counts` of their sum).
    """
    predicted = pred > threshold
    truth = target > 0.5 if target.dtype != torch.bool else target
    both = torch.stack([(predicted & truth).sum(), (predicted | truth).sum()])
    return both.double().cpu()


def iou_from_counts(intersection: float, union: float) -> float:
    """Intersection over union from pixel counts; 1.0 when both masks are empty (union 0)."""
    return 1.0 if union == 0 else intersection / union
