"""The stereo benchmarks' measures: end-point error and the bad-pixel rate, and the constant
disparity to beat.

Both compare disparities in pixels over the pixels that count: ``valid`` (for a benchmark's
"non-occluded" score, :func:`depthnb.stereo.nonoccluded`) and a finite ground truth (unknown
pixels are ``inf`` or NaN) and a finite prediction (a matcher's rejected pixels, if it marks them
NaN, are not scored: say how many were kept beside the score).

- end-point error (EPE): the mean of ``|d_pred - d_gt|``, pixels;
- bad-``t`` rate: the percentage of those pixels with ``|d_pred - d_gt| > t`` (Middlebury 2014
  ranks by bad 2.0 at full resolution; at scikit-image's quarter-size *Motorcycle*, one pixel here
  is four there).

>>> import torch
>>> gt = torch.tensor([[10.0, 20.0, 30.0, float("inf")]])
>>> pred = torch.tensor([[11.0, 20.0, 33.0, 5.0]])
>>> end_point_error(pred, gt), bad_pixel_rate(pred, gt, threshold=2.0)
(1.333..., 33.333...)
>>> stereo_metrics(pred, gt)["bad_2"], best_constant_disparity(gt)
(33.333..., 20.0)
"""

from __future__ import annotations

import torch

from depthnb.errors import ArgumentError, DataError, ShapeError


def scored_pixels(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """bool, the shape of ``target``: ``valid`` (default everywhere), target finite, prediction
    finite. Raises :class:`DataError` when no pixel is left to score."""
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise ShapeError("stereo measures take tensors of disparities (pixels)")
    if pred.shape != target.shape:
        raise ShapeError(
            f"stereo measures: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ "
            "in shape; compare disparities at one resolution (a disparity scales with the width)"
        )
    mask = torch.isfinite(target) & torch.isfinite(pred)
    if valid is not None:
        if valid.shape != target.shape:
            raise ShapeError(
                f"stereo measures: valid {tuple(valid.shape)} and target "
                f"{tuple(target.shape)} differ in shape"
            )
        mask &= valid.to(torch.bool)
    if not mask.any():
        raise DataError("stereo measures: no pixel is valid with a finite disparity to score")
    return mask


def end_point_error(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
) -> float:
    """Mean ``|pred - target|`` in pixels over :func:`scored_pixels`; any shape, one shape."""
    mask = scored_pixels(pred, target, valid)
    return float((pred.double() - target.double()).abs()[mask].mean())


def bad_pixel_rate(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    threshold: float = 2.0,
) -> float:
    """Percentage (0 to 100) of :func:`scored_pixels` with ``|pred - target| > threshold``
    pixels (strictly more: an error of exactly ``threshold`` is not bad)."""
    if not threshold >= 0:
        raise ArgumentError(f"threshold={threshold!r}: pixels, >= 0")
    mask = scored_pixels(pred, target, valid)
    error = (pred.double() - target.double()).abs()[mask]
    return float(100.0 * (error > threshold).double().mean())


def stereo_metrics(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    thresholds: tuple[float, ...] = (1.0, 2.0, 4.0),
) -> dict[str, float]:
    """``{"epe": pixels, "bad_1": %, "bad_2": %, "bad_4": %}`` (one ``bad_<t>`` per threshold,
    ``t`` written as ``f"{t:g}"``) over :func:`scored_pixels`."""
    scores = {"epe": end_point_error(pred, target, valid)}
    for threshold in thresholds:
        scores[f"bad_{threshold:g}"] = bad_pixel_rate(pred, target, valid, threshold)
    return scores


def best_constant_disparity(target: torch.Tensor, valid: torch.Tensor | None = None) -> float:
    """The image-blind baseline: the one disparity (pixels) with the lowest end-point error over
    the valid pixels with a finite ``target``, their median (the lower middle value of an even
    count, as ``torch.median``)."""
    mask = torch.isfinite(target) if valid is None else torch.isfinite(target) & valid.bool()
    if not mask.any():
        raise DataError("best_constant_disparity: no valid pixel with a finite disparity")
    return float(target[mask].median())
