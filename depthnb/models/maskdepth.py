"""The mask-and-depth U-Net: from a background image and the same scene with a foreground object,
predict the object's mask and the scene's depth, with depthwise-separable convolutions (~0.51M
parameters).

Input (B,C,H,W) in [0,1] with C = ``in_channels`` (default 6: background RGB then fg-on-bg RGB; the
seed project used 2, one grey channel each), any H, W >= 32. Output a dict: "mask" (B,1,H,W) logits
and "depth" (B,1,ceil(H/2),ceil(W/2)) in the model's encoding (default "metres"). At the seed's
160x160: mask 160x160, depth 80x80.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from depthnb.errors import ModelError
from depthnb.models.blocks import (
    DepthModel,
    SeparableConv,
    ceil_div,
    check_input,
    pad_to_multiple,
)

DEPTH_STAGE = 2  # the decoder stage at 1/2 of the input size feeds the depth head


class SeparableStage(nn.Sequential):
    """Two depthwise-separable conv-BN-ReLU: (B,C_in,H,W) -> (B,C_out,H,W)."""

    def __init__(
        self, in_channels: int, out_channels: int, mid_channels: int | None = None
    ) -> None:
        mid = out_channels if mid_channels is None else mid_channels
        super().__init__(SeparableConv(in_channels, mid), SeparableConv(mid, out_channels))


class MaskDepthEncoder(nn.Module):
    """Five stages of two separable convs, max-pooling 2x2 between them.

    (B,C,H,W) -> list of five (B,filters[k],H/2^k,W/2^k), k = 0..4 (H, W multiples of 16).
    """

    def __init__(self, in_channels: int, filters: Sequence[int]) -> None:
        super().__init__()
        channels = [in_channels, *filters]
        self.stages = nn.ModuleList(
            SeparableStage(c_in, c_out) for c_in, c_out in zip(channels, channels[1:])
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for index, stage in enumerate(self.stages):
            x = stage(x if index == 0 else F.max_pool2d(x, 2))
            features.append(x)
        return features


class MaskDepthDecoder(nn.Module):
    """Four stages: bilinear up to the next encoder feature's size, concat it, two separable convs.

    Channels 2C -> C -> C/2 on the way up (512 -> 256 -> 128 at 1/8, ..., 64 -> 32 -> 32 at full
    size). Returns (full-resolution (B,C0,H,W), half-resolution (B,C1,H/2,W/2)) features: one pass
    feeds both heads.
    """

    def __init__(self, filters: Sequence[int]) -> None:
        super().__init__()
        stages, channels = [], [filters[-1]]
        for skip in reversed(filters[:-1]):
            channels.append(max(skip // 2, filters[0]))
            stages.append(SeparableStage(channels[-2] + skip, channels[-1], channels[-2]))
        self.channels = channels  # output channels: bottom of the U, then each stage's
        self.stages = nn.ModuleList(stages)

    def forward(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        skips = list(features)
        x = skips.pop()
        for index, stage in enumerate(self.stages):
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = stage(torch.cat([x, skip], dim=1))
            if index == DEPTH_STAGE:
                half = x
        return x, half


class MaskDepthNet(DepthModel):
    """A depthwise-separable U-Net with two heads; its decoder runs once for both.

    Args:
        in_channels: input channels (6: background RGB + fg-on-bg RGB; 2 for two grey images).
        filters: channels of the five encoder stages (default 32, 64, 128, 256, 256; stage k works
            at 1/2^k of the input, k = 0..4).
        encoding: what the depth head predicts (default "metres").

    ``.encoder`` (:class:`MaskDepthEncoder`), ``.decoder`` (:class:`MaskDepthDecoder`), and two 1x1
    conv heads: ``.depth_head`` on the decoder's 1/2-resolution stage, ``.mask_head`` on its
    full-resolution one. With the defaults and 6 input channels: 507,864 parameters (encoder
    275,254; decoder 232,544; heads 66); with 2 input channels 507,700. Counting the decoder twice,
    as the seed did, gives about 740K, the seed's "748K".

    The input is scaled to [-1, 1] inside, reflect-padded at the bottom/right to a multiple of 32,
    and the outputs cropped back: mask (B,1,H,W) logits, depth (B,1,ceil(H/2),ceil(W/2)).
    """

    name = "maskdepth"
    output_stride = 2
    feature_layers = (
        *(f"encoder.stages.{k}" for k in range(5)),
        *(f"decoder.stages.{k}" for k in range(4)),
    )

    def __init__(
        self,
        in_channels: int = 6,
        filters: Sequence[int] = (32, 64, 128, 256, 256),
        encoding: Any = "metres",
    ) -> None:
        filters = [int(f) for f in filters]
        if len(filters) != 5 or min(filters) < 2 or int(in_channels) < 1:
            raise ModelError(
                f"maskdepth needs in_channels >= 1 and five filter counts >= 2, got "
                f"in_channels={in_channels}, filters={filters}"
            )
        super().__init__({"in_channels": int(in_channels), "filters": filters}, encoding)
        self.encoder = MaskDepthEncoder(int(in_channels), filters)
        self.decoder = MaskDepthDecoder(filters)
        self.depth_head = nn.Conv2d(self.decoder.channels[1 + DEPTH_STAGE], 1, 1)
        self.mask_head = nn.Conv2d(self.decoder.channels[-1], 1, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B,C,H,W) in [0,1] -> {"mask": (B,1,H,W) logits, "depth": (B,1,ceil(H/2),ceil(W/2))}."""
        check_input(x, self.config["in_channels"], "maskdepth")
        height, width = x.shape[-2:]
        full, half = self.decoder(self.encoder(pad_to_multiple(x * 2.0 - 1.0)))
        return {
            "mask": self.mask_head(full)[..., :height, :width],
            "depth": self.depth_head(half)[..., : ceil_div(height, 2), : ceil_div(width, 2)],
        }
