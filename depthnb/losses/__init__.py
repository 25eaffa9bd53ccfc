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

=========================  =======================================================================
module                     what it holds
=========================  =======================================================================
``losses.terms``           pixel terms (L1, berHu, scale-invariant log, BCE on mask logits),
                           gradient and smoothness terms, SSIM
``losses.composite``       the papers' composites and the registry (:data:`LOSSES`,
                           :data:`MODEL_LOSSES`, :func:`get_loss`)
``losses.ssi``             MiDaS's scale-and-shift-invariant loss (:func:`ssi_loss`, on disparity)
``losses.laplace``         the Laplace negative log-likelihood of a depth and its predicted scale
``losses.photometric``     the photometric reprojection loss of self-supervised depth from video
=========================  =======================================================================

The last two take other arguments than ``(pred, target, valid)`` and are not in the registry.
Names are imported from their modules on first use.
"""

import importlib
from typing import Any

_NAMES = {
    "terms": (
        "bce_mask_loss",
        "berhu",
        "berhu_loss",
        "gaussian_window",
        "gradient_loss",
        "keras_smoothness_loss",
        "l1_loss",
        "scale_invariant_log_loss",
        "smoothness_loss",
        "ssim",
        "ssim_map",
    ),
    "composite": (
        "LOSSES",
        "MODEL_LOSSES",
        "densedepth_loss",
        "fcrn_loss",
        "get_loss",
        "keras_loss",
        "maskdepth_loss",
    ),
    "ssi": ("ssi_loss",),
    "laplace": ("LaplaceHead", "laplace_nll"),
    "photometric": ("photometric_reprojection_loss",),
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"depthnb.losses.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'depthnb.losses' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
