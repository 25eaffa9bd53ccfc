"""Aligning a prediction to the ground truth before scoring it: by the median ratio, by a
least-squares scale and shift (in depth or in disparity), and the one closed-form scale-and-shift
fit that the metrics and the scale-and-shift-invariant loss (:func:`depthnb.losses.ssi_loss`) share.

Inputs are numpy or torch, (H,W), (B,H,W) or (B,1,H,W) (:func:`as_batch`); each alignment returns
a tensor in its prediction's shape.
"""

from __future__ import annotations

import numpy as np
import torch

from depthnb.encodings import MAX_DEPTH, MIN_DEPTH
from depthnb.errors import ArgumentError, ShapeError

ArrayLike = torch.Tensor | np.ndarray


ALIGNMENTS = (None, "median", "scale_shift", "disparity")


def as_batch(x: ArrayLike, name: str) -> torch.Tensor:
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


def _check_same_shape(function: str, target: torch.Tensor, **others: torch.Tensor) -> None:
    """Raise :class:`ShapeError` unless every tensor of ``others`` has target's shape (B,H,W)."""
    for name, t in others.items():
        if t.shape != target.shape:
            raise ShapeError(
                f"{function}: {name} {tuple(t.shape)} and the ground truth {tuple(target.shape)} "
                "differ in size; upsample the prediction to the ground truth's size first"
            )


def _as_given(aligned: torch.Tensor, pred: ArrayLike) -> torch.Tensor:
    """``aligned`` (B,H,W) back in the shape ``pred`` came in: (H,W), (B,H,W) or (B,1,H,W)."""
    return aligned.reshape(tuple(pred.shape))


def _pair(
    function: str, pred: ArrayLike, target: ArrayLike, valid: ArrayLike | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """pred, target and the fitting mask as (B,H,W) tensors on pred's device, checked to agree.

    The mask is ``valid`` (default: everywhere) and target > 0.
    """
    pred_t = as_batch(pred, "pred")
    target_t = as_batch(target, "target").to(pred_t.device)
    _check_same_shape(function, target_t, pred=pred_t)
    mask = target_t > 0
    if valid is not None:
        valid_t = as_batch(valid, "valid").to(target_t.device, torch.bool)
        _check_same_shape(function, target_t, valid=valid_t)
        mask &= valid_t
    return pred_t, target_t, mask


def median_scale(
    pred: ArrayLike, target: ArrayLike, valid: ArrayLike | None = None
) -> torch.Tensor:
    """Scale each image's prediction by ``median(target) / median(pred)`` over its valid pixels.

    For models that predict depth only up to scale. pred, target (B,1,H,W), (B,H,W) or (H,W),
    metres; valid bool like them (a pixel counts where it holds and target > 0). Returns the
    scaled prediction in pred's shape and dtype.
    """
    pred_t, target_t, mask = _pair("median_scale", pred, target, valid)
    scaled = pred_t.clone()
    for i in range(pred_t.shape[0]):
        if mask[i].any():
            scaled[i] = pred_t[i] * target_t[i][mask[i]].median() / pred_t[i][mask[i]].median()
    return _as_given(scaled, pred)


def align_scale_shift(
    pred: ArrayLike, target: ArrayLike, valid: ArrayLike | None = None
) -> torch.Tensor:
    """Per image, the ``s * pred + t`` closest to target in least squares over its valid pixels.

    For models that predict depth up to an affine map (MiDaS-style relative depth; MiDaS fits in
    disparity space: see :func:`align_in_disparity`). pred, target (B,1,H,W), (B,H,W) or (H,W);
    valid bool like them (a pixel counts where it holds and target > 0). Returns the aligned
    prediction in pred's shape and dtype.
    """
    pred_t, target_t, mask = _pair("align_scale_shift", pred, target, valid)
    pred64 = pred_t.double()
    scale, shift = fit_scale_shift(pred64, target_t.double(), mask)
    aligned = scale[:, None, None] * pred64 + shift[:, None, None]
    too_few = mask.flatten(1).sum(1) < 2
    return _as_given(torch.where(too_few[:, None, None], pred64, aligned).to(pred_t.dtype), pred)


def align_in_disparity(
    pred: ArrayLike,
    target: ArrayLike,
    valid: ArrayLike | None = None,
    min_depth: float = MIN_DEPTH,
    max_depth: float = MAX_DEPTH,
) -> torch.Tensor:
    """Zero-shot evaluation of a relative model: fit its disparity to the ground truth's, in metres.

    Per image, the least-squares ``s * pred + t`` closest to ``1 / target`` over the valid pixels
    (MiDaS's alignment, :func:`fit_scale_shift`, in float64), inverted to depth with the
    disparity clamped to [1/max_depth, 1/min_depth]: so the depth lies in [min_depth, max_depth],
    and a negative or zero aligned disparity (behind the camera, or the sky) becomes
    ``max_depth``.

    Args:
        pred: the model's disparity-like output (larger = nearer), (B,1,H,W), (B,H,W) or
            (H,W), torch or numpy.
        target: ground-truth depth in metres, same shape, 0 where unknown.
        valid: bool like them (default: everywhere); only where it holds and target > 0 does a
            pixel enter the fit.
        min_depth, max_depth: the dataset's range (the cap: 10 m for NYU, 80 m for KITTI).

    Returns:
        depth in metres in pred's shape and dtype (float32 unless float64). An image without two
        valid pixels of different predicted disparity gets its mean ground-truth disparity
        everywhere (``max_depth`` with no valid pixel at all).
    """
    if not 0 < min_depth < max_depth:
        raise ArgumentError(f"need 0 < min_depth < max_depth, got {min_depth} and {max_depth}")
    pred_t, target_t, mask = _pair("align_in_disparity", pred, target, valid)
    pred64 = pred_t.double()
    scale, shift = fit_scale_shift(pred64, to_disparity(target_t.double(), mask), mask)
    disparity = scale[:, None, None] * pred64 + shift[:, None, None]
    depth = 1.0 / disparity.clamp(1.0 / max_depth, 1.0 / min_depth)
    return _as_given(depth.to(pred_t.dtype), pred)


def apply_alignment(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    align: str | None,
    min_depth: float,
    max_depth: float,
) -> torch.Tensor:
    """``pred`` (B,H,W) aligned to ``target`` (B,H,W) over ``valid`` by the method ``align``
    (one of :data:`ALIGNMENTS`; None leaves it as it is)."""
    if align not in ALIGNMENTS:
        raise ArgumentError(f"unknown align={align!r}; choose one of {list(ALIGNMENTS)}")
    if align == "median":
        return median_scale(pred, target, valid)
    if align == "scale_shift":
        return align_scale_shift(pred, target, valid)
    if align == "disparity":
        return align_in_disparity(pred, target, valid, min_depth, max_depth)
    return pred


def to_disparity(depth: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """``1 / depth`` (1/metres) where ``valid`` and depth > 0, 0 elsewhere; any shape.

    What :func:`ssi_loss` takes as its target when ground truth is depth in metres. The inverse
    encoding (DenseDepth's ``max_depth / depth``) is a positive multiple of it, which the loss
    cannot tell apart.
    """
    known = depth > 0 if valid is None else valid.to(torch.bool) & (depth > 0)
    return torch.where(known, 1.0 / torch.where(known, depth, torch.ones_like(depth)), 0.0)


def fit_scale_shift(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the ``s, t`` minimising ``sum (s * pred + t - target)^2`` over valid pixels.

    The closed form on centred values (stable when the mean is large against the spread)::

        s = sum (p - mean p)(g - mean g) / sum (p - mean p)^2,   t = mean g - s * mean p

    pred, target (B,...) float, valid (B,...) bool; pixels outside ``valid`` are never read (NaN or
    inf there changes nothing). Returns ``s, t``, each (B,), in pred's dtype; differentiable.
    An image whose prediction is constant over its valid pixels (as any with fewer than two is)
    gets ``s = 0, t = mean target`` (0 with no valid pixel), still a least-squares optimum.
    """
    mask = valid.flatten(1)
    zeros = torch.zeros((), dtype=pred.dtype, device=pred.device)
    p = torch.where(mask, pred.flatten(1), zeros)
    g = torch.where(mask, target.flatten(1), zeros)
    count = mask.sum(1)
    n = count.clamp(min=1).to(pred.dtype)
    p_mean = p.sum(1) / n
    g_mean = g.sum(1) / n
    p_centred = torch.where(mask, p - p_mean[:, None], zeros)
    g_centred = torch.where(mask, g - g_mean[:, None], zeros)
    variance = (p_centred * p_centred).sum(1)
    covariance = (p_centred * g_centred).sum(1)
    # A spread below the dtype's resolution of the values is rounding, not signal.
    resolution = 100 * torch.finfo(pred.dtype).eps ** 2 * (p * p).sum(1)
    flat = (count < 2) | (variance <= resolution)
    safe_variance = torch.where(flat, torch.ones_like(variance), variance)
    scale = torch.where(flat, zeros, covariance / safe_variance)
    return scale, g_mean - scale * p_mean
