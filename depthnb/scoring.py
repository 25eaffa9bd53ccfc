"""Scoring depth maps under a protocol: input shapes, crops, alignment (median, scale and shift),
the valid-pixel mask, the per-image sums of the eight metrics, and :func:`depth_metrics`.

The protocol is described in :mod:`depthnb.metrics`, which re-exports the public names.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from depthnb.errors import ConfigError, DataError, ModelError

ArrayLike = torch.Tensor | np.ndarray

METRIC_NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "delta1", "delta2", "delta3")

# Crops as (top, bottom, left, right) Python slice bounds on a 480x640 image.
CROPS: dict[str, tuple[int, int, int, int]] = {
    "eigen": (20, 460, 24, 616),
    "nyu_toolbox": (44, 471, 40, 601),
}
_CROP_REFERENCE_SIZE = (480, 640)

_AGGREGATES = ("pooled", "per_image")
_ALIGNMENTS = (None, "median", "scale_shift")


def _as_batch(x: ArrayLike, name: str) -> torch.Tensor:
    """numpy or torch, (H,W), (B,H,W) or (B,1,H,W) -> tensor (B,H,W) on its device.

    bool stays bool, float64 stays float64 (so NumPy input is scored in double precision), every
    other type becomes float32.
    """
    t = torch.from_numpy(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    if t.dim() == 4 and t.shape[1] == 1:
        t = t[:, 0]
    elif t.dim() == 2:
        t = t[None]
    if t.dim() != 3:
        raise ModelError(
            f"depth_metrics: {name} has shape {tuple(t.shape)}; pass (H,W), (B,H,W) or (B,1,H,W)"
        )
    return t if t.dtype in (torch.bool, torch.float64) else t.float()


def crop_box(
    size: tuple[int, int], crop: str | tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) slice bounds of a crop on an image of ``size`` (H, W) pixels.

    ``crop``: a name of :data:`CROPS` (defined on 480x640 and scaled to ``size`` proportionally,
    rounding to the nearest pixel), or explicit (top, bottom, left, right) bounds, returned as
    given.
    """
    if not isinstance(crop, str):
        if not isinstance(crop, (tuple, list)) or len(crop) != 4:
            raise ConfigError(
                f"crop {crop!r} is not (top, bottom, left, right) slice bounds; pass four "
                f"integers or a name of {sorted(CROPS)}"
            )
        top, bottom, left, right = (int(v) for v in crop)
        return top, bottom, left, right
    if crop not in CROPS:
        raise ConfigError(f"unknown crop {crop!r}; choose one of {sorted(CROPS)} or None")
    h, w = size
    ref_h, ref_w = _CROP_REFERENCE_SIZE
    top, bottom, left, right = CROPS[crop]
    return (
        round(top * h / ref_h),
        round(bottom * h / ref_h),
        round(left * w / ref_w),
        round(right * w / ref_w),
    )


def crop_mask(size: tuple[int, int], crop: str | tuple[int, int, int, int] | None) -> torch.Tensor:
    """A bool (H,W) mask, True inside the crop (everywhere for None); see :func:`crop_box`."""
    mask = torch.zeros(size, dtype=torch.bool)
    if crop is None:
        mask[:] = True
    else:
        top, bottom, left, right = crop_box(size, crop)
        mask[top:bottom, left:right] = True
    return mask


def _eval_mask(
    gt: torch.Tensor, valid: torch.Tensor | None, min_depth: float, max_depth: float
) -> torch.Tensor:
    """Which pixels count: gt in [min_depth, max_depth] (so > 0, not NaN) and valid. (B,H,W)."""
    mask = (gt >= min_depth) & (gt <= max_depth)
    return mask if valid is None else mask & valid


def median_scale(pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None) -> torch.Tensor:
    """Scale each image's prediction by ``median(gt) / median(pred)`` over its valid pixels.

    For models that predict depth only up to scale. pred, gt (B,1,H,W), (B,H,W) or (H,W);
    valid like them (default: gt > 0). Returns the scaled prediction (B,H,W), pred's dtype.
    """
    pred_t = _as_batch(pred, "pred")
    gt_t = _as_batch(gt, "gt").to(pred_t.device)
    mask = gt_t > 0 if valid is None else _as_batch(valid, "valid").to(gt_t.device, torch.bool)
    scaled = pred_t.clone()
    for i in range(pred_t.shape[0]):
        if mask[i].any():
            scaled[i] = pred_t[i] * gt_t[i][mask[i]].median() / pred_t[i][mask[i]].median()
    return scaled


def align_scale_shift(
    pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None
) -> torch.Tensor:
    """Per image, the ``s * pred + t`` closest to gt in least squares over its valid pixels.

    For models that predict depth up to an affine map (MiDaS-style relative depth; MiDaS fits in
    disparity space: pass 1/depth for that). pred, gt (B,1,H,W), (B,H,W) or (H,W); valid like them
    (default: gt > 0). Returns the aligned prediction (B,H,W), pred's dtype.
    """
    pred_t = _as_batch(pred, "pred")
    gt_t = _as_batch(gt, "gt").to(pred_t.device)
    mask = gt_t > 0 if valid is None else _as_batch(valid, "valid").to(gt_t.device, torch.bool)
    aligned = pred_t.clone()
    for i in range(pred_t.shape[0]):
        p = pred_t[i][mask[i]].double()
        g = gt_t[i][mask[i]].double()
        if p.numel() < 2:
            continue
        design = torch.stack([p, torch.ones_like(p)], dim=1)
        solution = torch.linalg.lstsq(design, g[:, None]).solution[:, 0]
        aligned[i] = (pred_t[i].double() * solution[0] + solution[1]).to(aligned.dtype)
    return aligned


def _align(
    pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, align: str | None
) -> torch.Tensor:
    if align not in _ALIGNMENTS:
        raise ConfigError(f"unknown align={align!r}; choose one of {list(_ALIGNMENTS)}")
    if align == "median":
        return median_scale(pred, gt, mask)
    if align == "scale_shift":
        return align_scale_shift(pred, gt, mask)
    return pred


def _per_image_sums(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per image (B,9) float64: valid pixel count, then the sums of |d|/gt, d^2/gt, d^2,
    (ln ratio)^2, |log10 ratio| and the three delta counts (d = gt - pred, ratio = gt / pred).
    """
    # Invalid pixels become gt = pred = 1: they add 0 to every error sum and 1 to every delta count.
    ones = torch.ones_like(gt)
    g = torch.where(mask, gt, ones).flatten(1)
    p = torch.where(mask, pred, ones).flatten(1)
    count = mask.flatten(1).sum(1)
    invalid = g.shape[1] - count
    diff = g - p
    sq = diff * diff
    ratio_gp = g / p
    log_ratio = torch.log(ratio_gp)
    ratio = torch.maximum(ratio_gp, p / g)
    # Sums within an image in the input's precision (torch sums pairwise), then float64.
    sums = [
        count,
        (diff.abs() / g).sum(1),
        (sq / g).sum(1),
        sq.sum(1),
        (log_ratio * log_ratio).sum(1),
        log_ratio.abs().sum(1) / math.log(10),
        (ratio < 1.25).sum(1) - invalid,
        (ratio < 1.25**2).sum(1) - invalid,
        (ratio < 1.25**3).sum(1) - invalid,
    ]
    return torch.stack([v.to(torch.float64) for v in sums], dim=1)


def _metrics_from_sums(sums: torch.Tensor) -> torch.Tensor:
    """(..., 9) sums -> (..., 8) metrics in the order of :data:`METRIC_NAMES`."""
    n = sums[..., 0].clamp(min=1)
    mean = sums[..., 1:] / n[..., None]
    return torch.cat([mean[..., :2], mean[..., 2:4].sqrt(), mean[..., 4:]], dim=-1)


def _prepare(
    pred: ArrayLike,
    gt: ArrayLike,
    valid: ArrayLike | None,
    min_depth: float,
    max_depth: float,
    crop: str | tuple[int, int, int, int] | None,
    align: str | None,
    chunk: int = 8,
) -> torch.Tensor:
    """Check inputs, build the mask, align and clamp; return per-image sums (B,9).

    Works through ``chunk`` images at a time, so a whole test set costs little extra memory.
    """
    if not 0 < min_depth < max_depth:
        raise ConfigError(f"need 0 < min_depth < max_depth, got {min_depth} and {max_depth}")
    gt_t = _as_batch(gt, "gt")
    pred_t = _as_batch(pred, "pred").to(gt_t.device)
    dtype = torch.promote_types(pred_t.dtype, gt_t.dtype)
    gt_t, pred_t = gt_t.to(dtype), pred_t.to(dtype)
    valid_t = None if valid is None else _as_batch(valid, "valid").to(gt_t.device, torch.bool)
    for name, t in (("pred", pred_t), ("valid", valid_t)):
        if t is not None and t.shape != gt_t.shape:
            raise ModelError(
                f"depth_metrics: {name} {tuple(t.shape)} and gt {tuple(gt_t.shape)} "
                "differ in size; "
                "upsample the prediction to the ground truth's size first (bilinear)"
            )
    if crop is not None:
        # Slicing is the same as masking the outside, and touches fewer pixels.
        top, bottom, left, right = crop_box((int(gt_t.shape[-2]), int(gt_t.shape[-1])), crop)
        gt_t, pred_t = gt_t[:, top:bottom, left:right], pred_t[:, top:bottom, left:right]
        valid_t = None if valid_t is None else valid_t[:, top:bottom, left:right]
    sums = []
    for i in range(0, gt_t.shape[0], chunk):
        g, p = gt_t[i : i + chunk], pred_t[i : i + chunk]
        mask = _eval_mask(
            g, None if valid_t is None else valid_t[i : i + chunk], min_depth, max_depth
        )
        p = _align(p, g, mask, align).clamp(min_depth, max_depth)
        sums.append(_per_image_sums(p, g, mask))
    return torch.cat(sums)


def _no_pixels_error() -> DataError:
    return DataError(
        "depth_metrics: no valid pixel to score. Ground truth must be in metres (not millimetres), "
        "> 0 and inside [min_depth, max_depth]; check the valid mask and the crop."
    )


def _aggregate(per_image: torch.Tensor, aggregate: str) -> dict[str, float]:
    if aggregate not in _AGGREGATES:
        raise ConfigError(f"unknown aggregate={aggregate!r}; choose one of {list(_AGGREGATES)}")
    if per_image[:, 0].sum() == 0:
        raise _no_pixels_error()
    if aggregate == "pooled":
        values = _metrics_from_sums(per_image.sum(0))
    else:
        scored = per_image[per_image[:, 0] > 0]
        values = _metrics_from_sums(scored).mean(0)
    return dict(zip(METRIC_NAMES, values.tolist()))


def depth_metrics(
    pred: ArrayLike,
    gt: ArrayLike,
    valid: ArrayLike | None = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    crop: str | tuple[int, int, int, int] | None = None,
    aggregate: str = "pooled",
    align: str | None = None,
) -> dict[str, float]:
    """The eight standard depth metrics, in metres; the order of arguments matters (pred first).

    Args:
        pred: predicted depth in metres, (B,1,H,W), (B,H,W) or (H,W), torch or numpy.
        gt: ground-truth depth in metres, same shape; 0 (or NaN) where unknown.
        valid: optional bool mask, same shape; pixels outside it are ignored.
        min_depth, max_depth: gt outside this range is ignored; pred is clamped into it.
        crop: None, ``"eigen"``, ``"nyu_toolbox"`` or (top, bottom, left, right), see
            :func:`crop_box`.
        aggregate: ``"pooled"`` (all valid pixels of all images at once) or ``"per_image"`` (each
            image's metrics, then their mean; images without a valid pixel are skipped).
        align: None, ``"median"`` (:func:`median_scale`) or ``"scale_shift"``
            (:func:`align_scale_shift`), per image, before clamping.

    Returns:
        dict of floats: ``abs_rel`` mean |gt - pred| / gt, ``sq_rel`` mean (gt - pred)^2 / gt,
        ``rmse`` (metres), ``rmse_log`` (natural log), ``log10`` mean |log10 gt - log10 pred|,
        ``delta1..3`` the fraction with max(gt/pred, pred/gt) < 1.25^k.
    """
    sums = _prepare(pred, gt, valid, min_depth, max_depth, crop, align)
    return _aggregate(sums, aggregate)
