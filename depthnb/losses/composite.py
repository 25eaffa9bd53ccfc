"""Loss terms for depth regression and the papers' composites, all with an optional ``valid`` mask.

Every loss compares a prediction with a target in the *encoded* space the model predicts in
(``depthnb.encodings``): tensors of shape (B,1,H,W) (SSIM accepts (B,C,H,W)) and an optional
``valid`` bool mask of shape (B,1,H,W) (or broadcastable to the input). Invalid pixels never
contribute: the terms are averaged over what is valid, and a batch with nothing valid gives a loss
of zero that still back-propagates (zero gradients) rather than NaN.

How the mask is used by the terms that look at neighbourhoods:

- finite differences (``gradient_loss``, the smoothness terms): a difference between two pixels
  counts only when *both* are valid; differences follow ``tf.image.image_gradients`` (forward
  differences, zero in the last row / column) and are averaged over the valid pixels, which
  reproduces DenseDepth's ``L_grad`` exactly when everything is valid;
- SSIM: a window position counts only when *every* pixel under its 11x11 window is valid (the
  window's statistics would otherwise mix in the garbage behind a hole).

All terms are computed in float32 (or float64 for float64 input) even under ``torch.autocast``.

The terms live in :mod:`depthnb.losses.terms` and MiDaS's scale-and-shift-invariant loss
(:func:`ssi_loss`, on disparity) in :mod:`depthnb.losses.ssi`; both are re-exported here, as are the
two losses of the "going further" sections, which take other arguments than ``(pred, target,
valid)`` and are not in the registry: the Laplace negative log-likelihood of a depth and its
predicted scale (:func:`laplace_nll`, :mod:`depthnb.losses.laplace`) and the photometric
reprojection loss of self-supervised depth from video (:func:`photometric_reprojection_loss`,
:mod:`depthnb.losses.photometric`). This module
holds the papers' composites and the registry (:data:`LOSSES`, :data:`MODEL_LOSSES`,
:func:`get_loss`).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable

import torch

from depthnb.errors import ArgumentError, ShapeError
from depthnb.losses.laplace import laplace_nll
from depthnb.losses.photometric import photometric_reprojection_loss
from depthnb.losses.ssi import ssi_loss
from depthnb.losses.terms import (
    bce_mask_loss,
    berhu,
    berhu_loss,
    gaussian_window,
    gradient_loss,
    keras_smoothness_loss,
    l1_loss,
    scale_invariant_log_loss,
    smoothness_loss,
    ssim,
    ssim_map,
)
from depthnb.utils.tensors import check_pair

__all__ = [
    "LOSSES",
    "MODEL_LOSSES",
    "berhu",
    "berhu_loss",
    "bce_mask_loss",
    "densedepth_loss",
    "fcrn_loss",
    "gaussian_window",
    "get_loss",
    "gradient_loss",
    "keras_loss",
    "keras_smoothness_loss",
    "l1_loss",
    "laplace_nll",
    "maskdepth_loss",
    "photometric_reprojection_loss",
    "scale_invariant_log_loss",
    "smoothness_loss",
    "ssi_loss",
    "ssim",
    "ssim_map",
]

LossFn = Callable[..., torch.Tensor]


# ------------------------------------------------------------------------------------ composites
def densedepth_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    ssim_weight: float = 1.0,
    gradient_weight: float = 1.0,
    l1_weight: float = 0.1,
    data_range: float = 100.0,
) -> torch.Tensor:
    """DenseDepth (Alhashim & Wonka 2018), on inverse depth ("DepthNorm", values 1..100).

    ``ssim_weight * clip((1 - SSIM(data_range)) / 2, 0, 1) + gradient_weight * L_grad
    + l1_weight * L1``. ``data_range`` is L of SSIM: ``max_depth / min_depth`` = 100 for DepthNorm.
    pred, target (B,1,H,W) encoded, valid (B,1,H,W) bool -> scalar.
    """
    check_pair(pred, target, valid, "densedepth_loss")
    ssim_term = ((1 - ssim(pred, target, data_range=data_range, valid=valid)) / 2).clamp(0, 1)
    return (
        ssim_weight * ssim_term
        + gradient_weight * gradient_loss(pred, target, valid)
        + l1_weight * l1_loss(pred, target, valid)
    )


def keras_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    ssim_weight: float = 0.85,
    l1_weight: float = 0.1,
    smoothness_weight: float = 0.9,
    data_range: float = math.log(100.0),
    window_size: int = 7,
) -> torch.Tensor:
    """The Keras DIODE example, on log depth: 0.85 (1 - SSIM) + 0.1 L1 + 0.9 smoothness.

    The smoothness term is :func:`keras_smoothness_loss` (the example's own, not edge-aware). The
    example calls ``tf.image.ssim(max_val=256, filter_size=7, k1=0.01**2, k2=0.03**2)``; here SSIM
    has the 7x7 window and Wang's constants with L = ``data_range``, by default the span of log
    depth over 0.1..10 m (ln 100).
    pred, target (B,1,H,W) log depth, valid (B,1,H,W) bool -> scalar.
    """
    check_pair(pred, target, valid, "keras_loss")
    ssim_value = ssim(pred, target, data_range=data_range, window_size=window_size, valid=valid)
    return (
        ssim_weight * (1 - ssim_value)
        + l1_weight * l1_loss(pred, target, valid)
        + smoothness_weight * keras_smoothness_loss(pred, target, valid)
    )


def fcrn_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    threshold: float = 0.2,
) -> torch.Tensor:
    """FCRN (Laina et al. 2016): berHu on depth in metres. (B,1,H,W) -> scalar."""
    return berhu_loss(pred, target, valid, threshold=threshold)


def maskdepth_loss(
    pred: dict[str, torch.Tensor],
    target: dict[str, torch.Tensor],
    valid: torch.Tensor | None = None,
    *,
    mask_weight: float = 2.0,
    ssim_weight: float = 1.0,
    data_range: float = 1.0,
) -> torch.Tensor:
    """The fg/bg mask-and-depth network: ``2 * BCEWithLogits(mask) + (1 - SSIM(depth))``.

    pred: ``{"mask": logits (B,1,H,W), "depth": (B,1,h,w)}`` as the ``maskdepth`` model returns;
    target: ``{"mask": (B,1,H,W) in {0,1}, "depth": (B,1,h,w)}`` at the prediction's sizes (the
    depth head is half size: downsample the target depth first); valid (B,1,h,w) bool masks the
    depth term. ``data_range`` is SSIM's L for the encoded depth. Returns a scalar.
    """
    for given in (pred, target):
        if not isinstance(given, dict) or not {"mask", "depth"} <= given.keys():
            described = sorted(given) if isinstance(given, dict) else type(given).__name__
            raise ShapeError(
                "maskdepth_loss: pred and target must be dicts with 'mask' and 'depth' tensors, "
                f"got {described}"
            )
    mask_term = bce_mask_loss(pred["mask"], target["mask"])
    depth_term = 1 - ssim(pred["depth"], target["depth"], data_range=data_range, valid=valid)
    return mask_weight * mask_term + ssim_weight * depth_term


LOSSES: dict[str, LossFn] = {
    "l1": l1_loss,
    "berhu": berhu_loss,
    "gradient": gradient_loss,
    "silog": scale_invariant_log_loss,
    "ssi": ssi_loss,
    "densedepth": densedepth_loss,
    "keras": keras_loss,
    "fcrn": fcrn_loss,
    "maskdepth": maskdepth_loss,
}

# The paper's loss for each model of depthnb.models (the U-Net is the Keras example's).
MODEL_LOSSES: dict[str, str] = {
    "unet": "keras",
    "densedepth": "densedepth",
    "fcrn": "fcrn",
    "maskdepth": "maskdepth",
}


def get_loss(name: str, **kwargs: float) -> LossFn:
    """A loss function ``fn(pred, target, valid=None) -> scalar`` by loss name or model name.

    Loss names: ``l1``, ``berhu``, ``gradient``, ``silog``, ``ssi``, ``densedepth``, ``keras``,
    ``fcrn``, ``maskdepth``; a model name (``unet``, ``densedepth``, ``fcrn``, ``maskdepth``)
    gives its paper's loss. Keyword arguments are bound (e.g.
    ``get_loss("keras", smoothness_weight=0.5)``). The composites assume the model's default
    encoding (inverse for DenseDepth, log for the Keras U-Net, metres for FCRN); set
    ``data_range`` to match another one. ``ssi`` compares disparities: train with it a model
    whose encoding is ``"inverse"``.
    """
    key = MODEL_LOSSES.get(name, name)
    if key not in LOSSES:
        raise ArgumentError(
            f"unknown loss {name!r}; choose a loss {sorted(LOSSES)} "
            f"or a model {sorted(MODEL_LOSSES)}"
        )
    fn = LOSSES[key]
    try:
        inspect.signature(fn).bind_partial(**kwargs)
    except TypeError as error:
        raise ArgumentError(f"bad settings {kwargs} for loss {key!r}: {error}") from error
    return functools.partial(fn, **kwargs) if kwargs else fn
