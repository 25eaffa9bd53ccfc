"""The Keras example's U-Net, trained from scratch (keras.io "Monocular depth estimation", DIODE).

Input (B,3,H,W) in [0,1], any H, W >= 32; output (B,1,H,W), the input size (output stride 1), in the
model's encoding (default "log": log depth in metres, as the Keras example trains on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from depthnb.errors import ModelError
from depthnb.models.blocks import (
    ConvBNLeaky,
    DepthModel,
    check_input,
    imagenet_normalize,
    pad_to_multiple,
)


class DownBlock(nn.Module):
    """Two conv-BN-LeakyReLU with the example's additive skip, then maxpool 2x2.

    (B,C_in,H,W) -> (skip (B,C_out,H,W), pooled (B,C_out,H/2,W/2)). The skip adds the first conv's
    output (before its BN) to the block's output, as the Keras code does (``x += d``).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn_a = nn.BatchNorm2d(out_channels)
        self.conv_b = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn_b = nn.BatchNorm2d(out_channels)
        self.act = nn.LeakyReLU(0.2)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.conv_a(x)
        y = self.act(self.bn_a(d))
        y = self.act(self.bn_b(self.conv_b(y))) + d
        return y, self.pool(y)


class Bottleneck(nn.Sequential):
    """Two conv3x3 + LeakyReLU(0.2) without BN, as in the example; keeps H, W."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
        )


class UpBlock(nn.Module):
    """Nearest x2, concatenate the skip, two conv-BN-LeakyReLU: (B,C_in,h,w) -> (B,C_out,2h,2w)."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            ConvBNLeaky(in_channels + skip_channels, out_channels),
            ConvBNLeaky(out_channels, out_channels),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.convs(torch.cat([x, skip], dim=1))


class UNet(DepthModel):
    """The Keras example's U-Net: four down blocks, a bottleneck, four up blocks, a 1x1 conv.

    Args:
        filters: channels of the four down blocks and the bottleneck (default 16, 32, 64, 128, 256:
            1,964,545 parameters; Keras's summary also counts the 1,920 BatchNorm running
            statistics, 1,966,465, the example's "about 1.97M"); the up blocks mirror them.
        encoding: what the output means (default "log": ln(depth / 1 m)).

    Input (B,3,H,W) in [0,1], normalised inside with ImageNet statistics; any H, W >= 32: the input
    is reflect-padded at the bottom/right to a multiple of 32 and the output cropped back, so the
    output is (B,1,H,W). The 1x1 output conv has no activation: the example's tanh limits log depth
    to (-1, 1), i.e. depth < e = 2.7 m, which most of a room is beyond (a bug not copied here).
    """

    name = "unet"
    output_stride = 1
    feature_layers = (
        "down.0",
        "down.1",
        "down.2",
        "down.3",
        "bottleneck",
        "up.0",
        "up.1",
        "up.2",
        "up.3",
    )

    def __init__(
        self, filters: Sequence[int] = (16, 32, 64, 128, 256), encoding: Any = "log"
    ) -> None:
        filters = [int(f) for f in filters]
        if len(filters) != 5 or min(filters) < 1:
            raise ModelError(
                "unet needs five positive filter counts (four down blocks + bottleneck), "
                f"got {filters}"
            )
        super().__init__({"filters": filters}, encoding)
        self.normalize = imagenet_normalize()
        channels = [3, *filters[:4]]
        self.down = nn.ModuleList(
            DownBlock(c_in, c_out) for c_in, c_out in zip(channels, filters[:4])
        )
        self.bottleneck = Bottleneck(filters[3], filters[4])
        ups, c_in = [], filters[4]
        for skip in reversed(filters[:4]):
            ups.append(UpBlock(c_in, skip, skip))
            c_in = skip
        self.up = nn.ModuleList(ups)
        self.head = nn.Conv2d(filters[0], 1, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) in [0,1] -> (B,1,H,W) in the encoding's space."""
        check_input(image, 3, "unet")
        height, width = image.shape[-2:]
        x = pad_to_multiple(self.normalize(image))
        skips = []
        for block in self.down:
            skip, x = block(x)
            skips.append(skip)
        x = self.bottleneck(x)
        for block, skip in zip(self.up, reversed(skips)):
            x = block(x, skip)
        return self.head(x)[..., :height, :width]
