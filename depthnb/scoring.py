"""Scoring depth maps under a protocol: input shapes, alignment (median, scale and shift, scale
and shift in disparity), the valid-pixel mask, the per-image sums of the nine metrics, and
:func:`depth_metrics`.

The protocol is described in :mod:`depthnb.metrics`, which re-exports the public names; crops and
named protocols are in :mod:`depthnb.protocols`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from depthnb.errors import ConfigError, DataError, ShapeError
from depthnb.protocols import Crop, crop_box, resolve_protocol
from depthnb.ssi import fit_scale_shift, to_disparity

ArrayLike = torch.Tensor | np.ndarray

METRIC_NAMES = (
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",
    "log10",
    "delta1",
    "delta2",
    "delta3",
    "silog",
)
#: Columns of the per-image sums (:func:`_per_image_sums`): the count, then one per sum.
N_SUMS = 12

_AGGREGATES = ("pooled", "per_image")
_ALIGNMENTS = (None, "median", "scale_shift", "disparity")


def _as_batch(x: ArrayLike, name: str) -> torch.Tensor:
    """numpy or torch, (H,W), (B,H,W) or (B,1,H,W) -> tensor (B,H,W) on its device.

    bool stays bool, float64 stays float64 (so NumPy input is scored in double precision), every
    other type becomes float32.
    """
    if isinstance(x, torch.Tensor):
        t = x
    else:
        array = np.asarray(x)
        if array.dtype.kind not in "biuf":
            raise ShapeError(
                f"depth_metrics: {name} has dtype {array.dtype}; pass numbers (a float array or "
                "tensor of metres, or a bool mask)"
            )
        t = torch.from_numpy(array)
    if t.dim() == 4 and t.shape[1] == 1:
        t = t[:, 0]
    elif t.dim() == 2:
        t = t[None]
    if t.dim() != 3:
        raise ShapeError(
            f"depth_metrics: {name} has shape {tuple(t.shape)}; pass (H,W), (B,H,W) or (B,1,H,W)"
        )
    if t.numel() == 0:
        raise ShapeError(
            f"depth_metrics: {name} has shape {tuple(t.shape)}: there is nothing to score; pass "
            "at least one image with at least one pixel"
        )
    return t if t.dtype in (torch.bool, torch.float64) else t.float()


def _same_size(function: str, gt: torch.Tensor, **others: torch.Tensor) -> None:
    """Raise :class:`ShapeError` unless every tensor of ``others`` has gt's shape (B,H,W)."""
    for name, t in others.items():
        if t.shape != gt.shape:
            raise ShapeError(
                f"{function}: {name} {tuple(t.shape)} and the ground truth {tuple(gt.shape)} "
                "differ in size; upsample the prediction to the ground truth's size first"
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
    _same_size("align_scale_shift", gt_t, pred=pred_t, valid=mask)
    _same_size("median_scale", gt_t, pred=pred_t, valid=mask)
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


def align_in_disparity(
    pred_disp: ArrayLike,
    target_depth: ArrayLike,
    valid: ArrayLike | None = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
) -> torch.Tensor:
    """Zero-shot evaluation of a relative model: fit its disparity to the ground truth's, in metres.

    Per image, the least-squares ``s * pred_disp + t`` closest to ``1 / target_depth`` over the
    valid pixels (MiDaS's alignment, :func:`depthnb.ssi.fit_scale_shift`, in float64), inverted to
    depth with the disparity clamped to [1/max_depth, 1/min_depth]: so the depth lies in
    [min_depth, max_depth], and a negative or zero aligned disparity (behind the camera, or the
    sky) becomes ``max_depth``.

    Args:
        pred_disp: the model's disparity-like output (larger = nearer), (B,1,H,W), (B,H,W) or
            (H,W), torch or numpy.
        target_depth: ground-truth depth in metres, same shape, 0 where unknown.
        valid: bool like them (default: target_depth > 0); only where it holds and
            target_depth > 0 does a pixel enter the fit.
        min_depth, max_depth: the dataset's range (the cap: 10 m for NYU, 80 m for KITTI).

    Returns:
        depth in metres (B,H,W), pred_disp's dtype (float32 unless float64). An image without two
        valid pixels of different predicted disparity gets its mean ground-truth disparity
        everywhere (``max_depth`` with no valid pixel at all).
    """
    if not 0 < min_depth < max_depth:
        raise ConfigError(f"need 0 < min_depth < max_depth, got {min_depth} and {max_depth}")
    pred_t = _as_batch(pred_disp, "pred_disp")
    gt_t = _as_batch(target_depth, "target_depth").to(pred_t.device)
    mask = gt_t > 0
    _same_size("align_in_disparity", gt_t, pred_disp=pred_t)
    if valid is not None:
        valid_t = _as_batch(valid, "valid").to(gt_t.device, torch.bool)
        _same_size("align_in_disparity", gt_t, valid=valid_t)
        mask &= valid_t
    pred64 = pred_t.double()
    scale, shift = fit_scale_shift(pred64, to_disparity(gt_t.double(), mask), mask)
    disparity = scale[:, None, None] * pred64 + shift[:, None, None]
    return (1.0 / disparity.clamp(1.0 / max_depth, 1.0 / min_depth)).to(pred_t.dtype)


def _align(
    pred: torch.Tensor,
    gt: torch.Tensor,
    mask: torch.Tensor,
    align: str | None,
    min_depth: float,
    max_depth: float,
) -> torch.Tensor:
    if align not in _ALIGNMENTS:
        raise ConfigError(f"unknown align={align!r}; choose one of {list(_ALIGNMENTS)}")
    if align == "median":
        return median_scale(pred, gt, mask)
    if align == "scale_shift":
        return align_scale_shift(pred, gt, mask)
    if align == "disparity":
        return align_in_disparity(pred, gt, mask, min_depth, max_depth)
    return pred


def _per_image_sums(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per image (B,12) float64: valid pixel count, then the sums of |d|/gt, d^2/gt, d^2,
    (ln ratio)^2, |log10 ratio| and the three delta counts (d = gt - pred, ratio = gt / pred);
    then for SILog, with e = ln ratio (its ln pred - ln gt up to a sign, which only squares see),
    the sum of e, the sum of (e - mean e)^2 and ``n * (mean e)^2``.

    SILog's variance from the sums of e and e^2 would subtract two close numbers (a prediction off
    by a constant factor has e nearly constant); the centred sum keeps it exact per image, and the
    last column lets pooled sums recombine images (the parallel-variance formula, in float64).
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
    # SILog only squares e = -ln ratio and its sums: the sign of ln ratio does not matter.
    sum_error = log_ratio.sum(1)
    n = count.clamp(min=1)
    centred = torch.where(mask.flatten(1), log_ratio - (sum_error / n)[:, None], 0.0)
    sums += [sum_error, (centred * centred).sum(1), sum_error.double() ** 2 / n]
    return torch.stack([v.to(torch.float64) for v in sums], dim=1)


def _metrics_from_sums(sums: torch.Tensor) -> torch.Tensor:
    """(..., N_SUMS) sums -> (..., 9) metrics in the order of :data:`METRIC_NAMES`."""
    n = sums[..., 0].clamp(min=1)
    mean = sums[..., 1:] / n[..., None]
    # Within-image squares + between-image spread of the means, over all pixels of the sums.
    squares = sums[..., 10] + sums[..., 11] - sums[..., 9] ** 2 / n
    silog = 100 * (squares / n).clamp(min=0).sqrt()
    return torch.cat(
        [mean[..., :2], mean[..., 2:4].sqrt(), mean[..., 4:8], silog[..., None]], dim=-1
    )


def _prepare(
    pred: ArrayLike,
    gt: ArrayLike,
    valid: ArrayLike | None,
    min_depth: float,
    max_depth: float,
    crop: Crop,
    align: str | None,
    chunk: int = 8,
) -> torch.Tensor:
    """Check inputs, build the mask, align and clamp; return per-image sums (B, N_SUMS).

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
            raise ShapeError(
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
        p = _align(p, g, mask, align, min_depth, max_depth).clamp(min_depth, max_depth)
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
    crop: Crop = None,
    aggregate: str = "pooled",
    align: str | None = None,
    protocol: str | None = None,
) -> dict[str, float]:
    """The standard depth metrics and SILog, in metres; the order of arguments matters (pred first).

    Args:
        pred: predicted depth in metres, (B,1,H,W), (B,H,W) or (H,W), torch or numpy (with
            ``align="disparity"``: a relative model's disparity-like output instead).
        gt: ground-truth depth in metres, same shape; 0 (or NaN) where unknown.
        valid: optional bool mask, same shape; pixels outside it are ignored.
        min_depth, max_depth: gt outside this range is ignored; pred is clamped into it.
        crop: None, ``"eigen"``, ``"nyu_toolbox"``, ``"kitti_garg"``, ``"kitti_eigen"`` or (top,
            bottom, left, right), see :func:`depthnb.protocols.crop_box`.
        aggregate: ``"pooled"`` (all valid pixels of all images at once) or ``"per_image"`` (each
            image's metrics, then their mean; images without a valid pixel are skipped).
        align: None, ``"median"`` (:func:`median_scale`), ``"scale_shift"``
            (:func:`align_scale_shift`) or ``"disparity"`` (:func:`align_in_disparity`: pred is
            disparity), per image, before clamping.
        protocol: a name of :data:`depthnb.protocols.PROTOCOLS` (``"kitti-garg"``: Garg crop,
            [1e-3, 80] m, per-image means; ``"nyu-densedepth"``, ...), which sets crop,
            min_depth, max_depth and aggregate; passing one of those too is a ConfigError.

    Returns:
        dict of floats: ``abs_rel`` mean |gt - pred| / gt, ``sq_rel`` mean (gt - pred)^2 / gt,
        ``rmse`` (metres), ``rmse_log`` (natural log), ``log10`` mean |log10 gt - log10 pred|,
        ``delta1..3`` the fraction with max(gt/pred, pred/gt) < 1.25^k, and ``silog`` the KITTI
        benchmark's ``100 * sqrt(mean(e^2) - mean(e)^2)``, e = ln pred - ln gt (the benchmark
        averages it per image: ``aggregate="per_image"``; pooled, it is taken over all pixels).
    """
    settings = resolve_protocol(
        protocol, crop=crop, min_depth=min_depth, max_depth=max_depth, aggregate=aggregate
    )
    sums = _prepare(
        pred, gt, valid, settings["min_depth"], settings["max_depth"], settings["crop"], align
    )
    return _aggregate(sums, settings["aggregate"])
