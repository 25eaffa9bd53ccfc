"""Photometric helpers shared by the per-sample transforms and the batch augmentation.

Both :func:`depthnb.data.functional.jitter_colour` (one image) and
:class:`depthnb.data.augment.BatchAugment` (a batch, one factor per image) call
:func:`adjust_colour`, so the two cannot drift apart.
"""

from __future__ import annotations

import torch

#: ITU-R 601 luma weights, as torchvision rounds them.
GREY_WEIGHTS = (0.2989, 0.587, 0.114)

Factor = float | torch.Tensor


def grey(image: torch.Tensor) -> torch.Tensor:
    """RGB (...,3,H,W) -> luma (...,1,H,W)."""
    weights = torch.tensor(GREY_WEIGHTS, dtype=image.dtype, device=image.device)
    return torch.tensordot(weights, image.movedim(-3, 0), dims=1).unsqueeze(-3)


def _is_identity(factor: Factor) -> bool:
    return not isinstance(factor, torch.Tensor) and factor == 1.0


def adjust_colour(
    image: torch.Tensor, brightness: Factor = 1.0, contrast: Factor = 1.0, saturation: Factor = 1.0
) -> torch.Tensor:
    """Brightness, contrast, then saturation, like torchvision's ColorJitter, clamping after each.

    brightness: ``x * b``; contrast: ``mean + c (x - mean)`` with each image's mean grey level;
    saturation: ``grey + s (x - grey)`` per pixel. ``image`` is (3,H,W) or (B,3,H,W) in [0,1];
    each factor a float, or a tensor broadcasting against the image ((B,1,1,1): one per image).
    A float factor of 1 skips its step. Returns a new tensor.
    """
    out = image.clone(memory_format=torch.contiguous_format)
    if not _is_identity(brightness):
        out = (out * brightness).clamp_(0.0, 1.0)
    if not _is_identity(contrast):
        mean = grey(out).mean(dim=(-3, -2, -1), keepdim=True)
        out = torch.lerp(mean.expand_as(out), out, contrast).clamp_(0.0, 1.0)
    if not _is_identity(saturation):
        out = torch.lerp(grey(out).expand_as(out), out, saturation).clamp_(0.0, 1.0)
    return out
