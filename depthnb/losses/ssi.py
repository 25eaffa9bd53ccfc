"""Relative depth (MiDaS): the per-image least-squares scale and shift, and the scale-and-shift-
invariant loss in disparity.

Ranftl, Lasinger, Hafner, Schindler and Koltun, "Towards Robust Monocular Depth Estimation: Mixing
Datasets for Zero-shot Cross-dataset Transfer" (TPAMI 2022, arXiv 1907.01341) train one network on
datasets whose ground truth is known only up to scale (stereo from films, structure from motion)
and, for stereo, up to a shift of the disparity too. So the network predicts *disparity up to an
affine map*: before comparing, each image's prediction ``d`` is aligned to the ground truth
``d*`` with the scale ``s`` and shift ``t`` that fit it best in least squares over the valid
pixels::

    (s, t) = argmin  sum_i (s * d_i + t - d*_i)^2          (closed form: a 2x2 linear system)

and the loss is what is left: the least-squares one, ``L_ssimse = 1/(2M) sum_i (s d_i + t -
d*_i)^2``, is :func:`ssi_loss`. The paper's other (robust) variant, ``L_ssitrim``, normalises
each map by its median and mean absolute deviation and trims the 20% largest residuals; it is not
implemented here. The multi-scale gradient-matching term ``L_reg`` that the paper adds (weight
0.5, four scales) is :func:`ssi_loss`'s ``gradient_weight``.

Why disparity: for a rectified stereo pair, disparity = baseline * focal / depth, so an unknown
baseline is a scale and an unknown principal-point offset a shift of the disparity, not of depth.
"""

from __future__ import annotations

import torch

from depthnb.metrics.align import fit_scale_shift
from depthnb.utils.tensors import check_pair, full_precision, no_autocast

__all__ = ["ssi_loss"]


def _gradient_matching(residual: torch.Tensor, mask: torch.Tensor, scales: int) -> torch.Tensor:
    """MiDaS's ``L_reg``: at ``scales`` levels (every 2^k-th pixel), the sum of |x and y forward
    differences| of the residual where both pixels are valid, over that level's valid count."""
    total = residual.new_zeros(())
    for k in range(scales):
        step = 2**k
        r = residual[:, :, ::step, ::step]
        m = mask[:, :, ::step, ::step]
        dx = (r[:, :, :, 1:] - r[:, :, :, :-1]).abs() * (m[:, :, :, 1:] & m[:, :, :, :-1])
        dy = (r[:, :, 1:, :] - r[:, :, :-1, :]).abs() * (m[:, :, 1:, :] & m[:, :, :-1, :])
        total = total + (dx.sum() + dy.sum()) / m.sum().clamp(min=1)
    return total


def ssi_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    gradient_weight: float = 0.0,
    scales: int = 4,
) -> torch.Tensor:
    """MiDaS's scale-and-shift-invariant loss in disparity (``L_ssimse``, least squares).

    Per image, ``pred`` is aligned to ``target`` by :func:`fit_scale_shift` over its valid pixels;
    the loss is ``sum of squared residuals / (2 M)`` with M the valid pixels of the whole batch:
    the default ("batch-based") reduction of MiDaS's released code, where an image with more valid
    pixels weighs more. The paper instead divides each image's sum by 2 M_n, its own valid pixels,
    and averages the images; the two agree when every image has as many valid pixels.

    Args:
        pred: (B,1,H,W) the network's disparity-like output (larger = nearer, any unit and offset).
        target: (B,1,H,W) ground-truth **disparity**, not depth: ``1 / depth``
            (:func:`to_disparity`) or any positive multiple of it, such as the inverse encoding
            ``max_depth / depth`` the Trainer passes for a model with ``encoding="inverse"``.
        valid: (B,1,H,W) bool; pixels outside it are ignored (NaN or inf there changes nothing).
            None: every pixel counts.
        gradient_weight: weight of the paper's gradient-matching term on the aligned residual
            (``0.5`` with ``scales=4`` gives the paper's full loss); 0 leaves it out.
        scales: levels of the gradient-matching term.

    Returns:
        a float32 scalar (float64 for float64 input), computed in float32 under autocast too.
        It is unchanged by ``pred -> a * pred + b`` for any a > 0 (any a != 0, in fact) and b,
        zero (up to rounding) when ``pred`` is an affine map of ``target`` on the valid pixels, and
        0 (with zero gradients) for a batch without a valid pixel.
    """
    mask = check_pair(pred, target, valid, "ssi_loss")
    if mask is None:
        mask = torch.ones_like(pred, dtype=torch.bool)
    with no_autocast(pred.device):
        pred, target = full_precision(pred, target)
        zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
        # Clean both: a NaN behind the mask would reach the gradient of s and t as 0 * NaN.
        pred = torch.where(mask, pred, zero)
        target = torch.where(mask, target.to(pred.dtype), zero)
        scale, shift = fit_scale_shift(pred, target, mask)
        aligned = scale.view(-1, 1, 1, 1) * pred + shift.view(-1, 1, 1, 1)
        residual = torch.where(mask, aligned - target, zero)
        loss = (residual * residual).sum() / (2 * mask.sum().clamp(min=1))
        if gradient_weight:
            loss = loss + gradient_weight * _gradient_matching(residual, mask, scales)
        return loss
