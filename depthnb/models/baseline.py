"""The constant-depth baseline every trained model is compared with."""

from __future__ import annotations

import torch
from torch import nn

from depthnb.encodings import get_encoding


class ConstantDepth(nn.Module):
    """The baseline: the same depth (metres) at every pixel, whatever the image."""

    name = "constant"

    def __init__(self, depth_m: float) -> None:
        super().__init__()
        self.encoding = get_encoding("metres")
        self.config = {"depth_m": float(depth_m)}
        self.depth = nn.Parameter(torch.tensor(float(depth_m)), requires_grad=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B,1,H,W) filled with the constant depth."""
        return self.depth.expand(image.shape[0], 1, *image.shape[-2:])
