"""Depth as classification: a bins head (the idea of AdaBins, Bhat et al. 2021, and ZoeDepth).

Instead of one number per pixel, the head predicts a probability over ``N`` depth bins, and the
depth is the probability-weighted sum of the bins' centres. Fixed bins are spaced evenly in log
depth between ``min_depth`` and ``max_depth``; adaptive bins (AdaBins) are predicted per image:
``N`` widths from the image's pooled features (a softmax, so they are positive and sum to one),
then the centres

    c_i = min_depth + (max_depth - min_depth) (w_i / 2 + sum_{j < i} w_j)       (bin_centres)

(AdaBins predicts 256 widths with a transformer over the decoder's features; here a small MLP
over their spatial mean.)

>>> import torch
>>> bin_centres(torch.tensor([[0.25, 0.25, 0.5]]), 0.0, 4.0)      # widths of the range
tensor([[0.5000, 1.5000, 3.0000]])
>>> head = BinsHead(8, bins=16, min_depth=0.5, max_depth=10.0)
>>> head(torch.randn(2, 8, 6, 5)).shape                             # metres
torch.Size([2, 1, 6, 5])
"""

from __future__ import annotations

import math

import torch
from torch import nn

from depthnb.errors import ModelError, ShapeError


def bin_centres(widths: torch.Tensor, min_depth: float, max_depth: float) -> torch.Tensor:
    """(B,N) bin widths as fractions of the range (each row summing to 1) -> (B,N) centres in
    metres, ``min_depth + (max_depth - min_depth) (w_i / 2 + sum_{j<i} w_j)``."""
    if widths.dim() != 2:
        raise ShapeError(f"bin_centres takes (B,N) widths, got {tuple(widths.shape)}")
    edges_before = widths.cumsum(dim=1) - widths
    return min_depth + (max_depth - min_depth) * (edges_before + widths / 2)


class BinsHead(nn.Module):
    """Features (B,C,H,W) -> depth (B,1,H,W) in metres: a softmax over ``bins`` depth bins per
    pixel (a 1x1 convolution's logits), weighted by the bins' centres.

    Args:
        in_channels: C, the decoder's last feature channels.
        bins: N.
        min_depth, max_depth: the range the bins cover, metres (0 < min < max).
        adaptive: True (AdaBins): the widths are predicted per image from the spatial mean of the
            features; False: fixed centres, evenly spaced in log depth.

    The output always lies in [min_depth, max_depth]: a weighted mean of centres inside it.
    """

    fixed_centres: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        bins: int = 64,
        min_depth: float = 0.1,
        max_depth: float = 10.0,
        adaptive: bool = True,
    ) -> None:
        super().__init__()
        if not 0 < min_depth < max_depth:
            raise ModelError(f"need 0 < min_depth < max_depth, got {min_depth}, {max_depth}")
        if bins < 2:
            raise ModelError(f"bins={bins}: at least 2")
        self.min_depth, self.max_depth, self.adaptive = float(min_depth), float(max_depth), adaptive
        self.logits = nn.Conv2d(in_channels, bins, 1)
        if adaptive:
            self.widths = nn.Sequential(
                nn.Linear(in_channels, 4 * in_channels),
                nn.LeakyReLU(0.2),
                nn.Linear(4 * in_channels, bins),
            )
        else:
            log_range = torch.linspace(math.log(min_depth), math.log(max_depth), bins)
            self.register_buffer("fixed_centres", torch.exp(log_range), persistent=False)

    def centres(self, features: torch.Tensor) -> torch.Tensor:
        """(B,C,H,W) -> (B,N) the bins' centres in metres for each image."""
        if not self.adaptive:
            return self.fixed_centres.expand(features.shape[0], -1)
        widths = torch.softmax(self.widths(features.mean(dim=(2, 3))), dim=1)
        return bin_centres(widths, self.min_depth, self.max_depth)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B,C,H,W) -> (B,1,H,W) metres."""
        probability = torch.softmax(self.logits(features), dim=1)
        centres = self.centres(features)[:, :, None, None]
        return (probability * centres).sum(dim=1, keepdim=True)
