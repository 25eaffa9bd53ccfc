"""Aleatoric uncertainty: a Laplace negative log-likelihood, a second head that predicts its
scale, and a calibration table.

Kendall and Gal, "What Uncertainties Do We Need in Bayesian Deep Learning for Computer Vision?"
(NeurIPS 2017), let a network predict, next to its depth ``mu``, how far off it expects to be at
each pixel: the scale ``b`` of a likelihood around ``mu``, learned by minimising the negative
log-likelihood ("learned loss attenuation"). With a Laplace likelihood,
``p(y) = exp(-|y - mu| / b) / (2 b)``, that is per pixel::

    |y - mu| / b + log b            (the constant log 2 is left out)

The network predicts ``s = log b`` (any real number; ``b = exp(s) > 0``). Where the error is large
the first term is cheapened by a large ``b``, which the second term charges for; per pixel the
best ``b`` is exactly ``|y - mu|``, so a trained scale is a prediction of the absolute error: for a
Laplace, ``E|y - mu| = b``. :func:`uncertainty_calibration` checks that on held-out pixels.

Everything is in the model's encoded space (:mod:`depthnb.encodings`): for a log-depth U-Net,
``b`` is the expected absolute error of log depth, a relative error (0.1 = about 10 %).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from depthnb.errors import ArgumentError, ModelError, ShapeError
from depthnb.utils.tensors import check_pair, full_precision, masked_mean, no_autocast

__all__ = ["LOG_SCALE_RANGE", "LaplaceHead", "laplace_nll"]

#: ``log_scale`` is clamped to this range in :func:`laplace_nll`: b from 4.5e-5 to 2.2e4.
LOG_SCALE_RANGE = (-10.0, 10.0)


def laplace_nll(
    pred: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    log_scale: torch.Tensor,
) -> torch.Tensor:
    """The Laplace negative log-likelihood ``|y - mu| exp(-s) + s``, averaged over valid pixels.

    Args:
        pred: (B,1,H,W) the predicted mean ``mu`` (encoded depth, e.g. log depth).
        target: (B,1,H,W) the ground truth ``y``, encoded as ``pred`` is.
        valid: (B,1,H,W) bool; other pixels are ignored (NaN or inf there changes nothing).
        log_scale: (B,1,H,W) the predicted ``s = log b`` (keyword-only); clamped to
            :data:`LOG_SCALE_RANGE` so that a pixel with zero error cannot drive the loss to
            minus infinity (nor ``exp(-s)`` overflow).

    Returns:
        a float32 scalar (float64 for float64 input); 0 with zero gradients when nothing is
        valid. Per pixel it is smallest at ``b = |y - mu|`` (inside the clamp), where it equals
        ``1 + log |y - mu|``.
    """
    mask = check_pair(pred, target, valid, "laplace_nll")
    if log_scale.shape != pred.shape:
        raise ShapeError(
            f"laplace_nll: log_scale {tuple(log_scale.shape)} must have the shape of pred "
            f"{tuple(pred.shape)}, (B,1,H,W)"
        )
    with no_autocast(pred.device):
        pred, log_scale, target = full_precision(pred, log_scale, target)
        if mask is not None:  # clean every input: 0 * NaN behind a hole would still be NaN
            zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
            pred, log_scale, target = (
                torch.where(mask, t, zero) for t in (pred, log_scale, target)
            )
        s = log_scale.clamp(*LOG_SCALE_RANGE)
        return masked_mean((target - pred).abs() * torch.exp(-s) + s, mask)


class LaplaceHead(nn.Module):
    """A depth model with a second output: the log scale ``s`` of a Laplace around its depth.

    The wrapped model is not changed: its own ``forward``, ``state_dict`` and checkpoints stay
    what they were. The new head is a convolution shaped like the model's last layer
    (``model.head``, an ``nn.Conv2d`` in the U-Net, DenseDepth and FCRN) that reads the same
    features; during this module's forward a hook lends it the input of ``model.head``
    (:meth:`features`). It starts at zero weights and bias ``log(init_scale)``: every pixel
    begins with ``b = init_scale``. To give a trained model error bars without touching its
    depth, freeze ``model`` and fit only ``scale_head``.

    Input (B,3,H,W) in [0,1] -> ``(mean, log_scale)``, each (B,1,h,w) at the model's output size;
    ``mean`` is exactly ``model(image)`` (encoded depth), ``log_scale`` is in the same space.
    """

    def __init__(self, model: nn.Module, init_scale: float = 0.3) -> None:
        super().__init__()
        head = getattr(model, "head", None)
        if not isinstance(head, nn.Conv2d):
            raise ModelError(
                f"LaplaceHead: {type(model).__name__} has no final nn.Conv2d named 'head' to read "
                "features from; wrap a depthnb U-Net, DenseDepth or FCRN"
            )
        if not init_scale > 0:
            raise ArgumentError(f"LaplaceHead: init_scale must be > 0, got {init_scale}")
        self.model = model
        self.encoding = getattr(model, "encoding", None)
        kernel = (int(head.kernel_size[0]), int(head.kernel_size[-1]))
        padding = head.padding if isinstance(head.padding, str) else tuple(head.padding)
        self.scale_head = nn.Conv2d(head.in_channels, 1, kernel, padding=padding)  # type: ignore[arg-type]
        with torch.no_grad():
            self.scale_head.weight.zero_()
            self.scale_head.bias.fill_(math.log(init_scale))  # type: ignore[union-attr]

    def features(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,3,H,W) -> the model's output (B,1,h,w) and the input of its ``head`` (B,F,h,w),
        cropped to (h, w) at the bottom and right as models that pad their input crop their
        output; ``scale_head(features)`` is the log scale."""
        captured: list[torch.Tensor] = []
        head = self.model.get_submodule("head")
        hook = head.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0]))
        try:
            mean = self.model(image)
        finally:
            hook.remove()
        return mean, captured[-1][..., : mean.shape[-2], : mean.shape[-1]]

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,3,H,W) -> mean (B,1,h,w), log_scale (B,1,h,w)."""
        mean, features = self.features(image)
        return mean, self.scale_head(features)
