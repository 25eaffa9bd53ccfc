"""Lesson 03's exercises: FCRN's unpooling, the parameters of a depthwise-separable convolution, and
a U-Net of any depth built with concatenated skip connections; and its questions: the size of the
Keras-sized U-Net's bottleneck, and the parameters of one convolution."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Choice, Number, Question
from depthnb.models.blocks import ConvBNLeaky, SeparableConv
from depthnb.models.fcrn import unpool
from depthnb.models.summary import count_parameters


def _unpool_cases(generator: torch.Generator) -> list[Case]:
    return [
        Case("a batch of 2x3 channels, 4x6", (torch.randn(2, 3, 4, 6, generator=generator),)),
        Case("a batch of one, odd size 7x5", (torch.randn(1, 1, 7, 5, generator=generator),)),
    ]


def _nearest(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def _bottom_right(x: torch.Tensor) -> torch.Tensor:
    out = x.new_zeros(x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3])
    out[..., 1::2, 1::2] = x
    return out


def _reshaped(x: torch.Tensor) -> torch.Tensor:
    zeros = torch.zeros_like(x)
    cells = torch.stack([x, zeros, zeros, zeros], dim=-1)  # (B,C,h,w,4)
    return cells.reshape(x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3])


def _separable_parameters(in_channels: int, out_channels: int) -> int:
    """Parameters of the package's SeparableConv: depthwise 3x3, pointwise 1x1 (no biases), BN."""
    return count_parameters(SeparableConv(in_channels, out_channels))["total"]


def _separable_cases(generator: torch.Generator) -> list[Case]:
    return [
        Case("128 -> 128 channels (the lesson's)", (128, 128)),
        Case("3 -> 32 channels (an input layer)", (3, 32)),
        Case("64 -> 1 channel", (64, 1)),
    ]


def _full_conv(in_channels: int, out_channels: int) -> int:
    return 9 * in_channels * out_channels + 2 * out_channels


def _with_biases(in_channels: int, out_channels: int) -> int:
    return 9 * in_channels + in_channels + in_channels * out_channels + 3 * out_channels


def _no_batchnorm(in_channels: int, out_channels: int) -> int:
    return 9 * in_channels + in_channels * out_channels


def _running_statistics(in_channels: int, out_channels: int) -> int:
    return 9 * in_channels + in_channels * out_channels + 4 * out_channels


def _exact_count(got: Any, expected: int) -> str | None:
    """None when ``got`` is the integer ``expected``, else what differs."""
    if isinstance(got, bool) or not isinstance(got, Integral):
        return f"expected an int, got {type(got).__name__} {got!r}"[:120]
    return None if got == expected else f"{got:,} parameters, expected {expected:,}"


class _UNet(nn.Module):
    """``levels`` conv blocks down (channels c, 2c, 4c, ..., max-pool after each), a bottom block
    of twice the last width, as many up (nearest x2, concatenate the skip, conv block), a 1x1 head:
    (B,3,H,W) -> (B,1,H,W) with H, W multiples of 2**levels."""

    def __init__(self, channels: int, levels: int, doubling: bool = True, skips: bool = True):
        super().__init__()
        factor = 2 if doubling else 1
        widths = [channels * factor**level for level in range(levels)]
        self.skips = skips
        self.down = nn.ModuleList(ConvBNLeaky(a, b) for a, b in zip([3, *widths], widths))
        self.bottom = ConvBNLeaky(widths[-1], factor * widths[-1])
        below = [factor * widths[-1], *widths[:0:-1]]  # channels coming up into each up block
        self.up = nn.ModuleList(
            ConvBNLeaky(coming + (width if skips else 0), width)
            for coming, width in zip(below, reversed(widths))
        )
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        found = []
        for block in self.down:
            x = block(x)
            found.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for block, skip in zip(self.up, reversed(found)):
            x = F.interpolate(x, scale_factor=2.0)
            x = block(torch.cat([x, skip], dim=1) if self.skips else x)
        return self.head(x)


def _unet(channels: int, levels: int) -> nn.Module:
    """The U-Net of the exercise (the lesson's TinyUNet is channels=8, levels=2)."""
    return _UNet(channels, levels)


def _unet_cases(generator: torch.Generator) -> list[Case]:
    return [
        Case("channels 8, levels 2 (the lesson's TinyUNet)", (8, 2)),
        Case("channels 4, levels 3", (4, 3)),
        Case("channels 6, levels 1", (6, 1)),
    ]


def _no_skips(channels: int, levels: int) -> nn.Module:
    return _UNet(channels, levels, skips=False)


def _constant_width(channels: int, levels: int) -> nn.Module:
    return _UNet(channels, levels, doubling=False)


def _no_batchnorm_unet(channels: int, levels: int) -> nn.Module:
    model = _UNet(channels, levels)
    for block in model.modules():
        if isinstance(block, ConvBNLeaky):
            block[1] = nn.Identity()  # conv -> LeakyReLU only
    return model


PROBE = (2, 3, 32, 48)  # a batch of two, H and W multiples of 16 (any levels up to 4)


def _compare_networks(got: Any, expected: nn.Module) -> str | None:
    """None when ``got`` is a module with the reference's parameter count and output shape on a
    (2,3,32,48) batch, else what differs."""
    if not isinstance(got, nn.Module):
        return f"expected a torch.nn.Module, got {type(got).__name__}"
    parameters, wanted = count_parameters(got)["total"], count_parameters(expected)["total"]
    if parameters != wanted:
        return f"{parameters:,} parameters, expected {wanted:,}"
    probe = torch.zeros(PROBE)
    with torch.no_grad():
        wanted_shape = tuple(expected.eval()(probe).shape)
        try:
            shape = tuple(got.eval()(probe).shape)
        except Exception as error:  # the student's network: report it in words, do not crash
            return f"a {PROBE} batch through your network raised {type(error).__name__}: {error}"
    return None if shape == wanted_shape else f"output {shape} for {PROBE}, expected {wanted_shape}"


EXERCISES = (
    Exercise(
        key="03.1",
        title="FCRN's unpooling",
        difficulty="quick",
        reference=unpool,
        hides=("depthnb.models.fcrn.unpool",),
        cases=_unpool_cases,
        mistakes=(
            Mistake(
                "nearest",
                _nearest,
                "every value fills its whole 2x2 cell: that is nearest up-sampling. Unpooling "
                "puts the value in the top-left corner only, zeros in the other three.",
            ),
            Mistake(
                "bottom-right",
                _bottom_right,
                "the values sit in the bottom-right corner of their 2x2 cells: FCRN's unpooling "
                "writes out[..., 0::2, 0::2] = x (even rows, even columns).",
            ),
            Mistake(
                "reshaped",
                _reshaped,
                "the values are in the wrong places: a reshape of (B,C,h,w,4) to (B,C,2h,2w) "
                "lays each cell out along one row, not as 2x2. Write into the even rows and "
                "columns of a zero tensor instead.",
            ),
        ),
    ),
    Exercise(
        key="03.2",
        title="parameters of a depthwise-separable convolution",
        difficulty="quick",
        reference=_separable_parameters,
        hides=("depthnb.models.blocks.SeparableConv",),
        cases=_separable_cases,
        compare=_exact_count,
        mistakes=(
            Mistake(
                "full conv",
                _full_conv,
                "that is the count of a full 3x3 conv (9 C_in C_out): the depthwise 3x3 has one "
                "3x3 filter per input channel (9 C_in), the 1x1 mixes channels (C_in C_out).",
            ),
            Mistake(
                "with biases",
                _with_biases,
                "you counted biases: the package's two convolutions have bias=False (the "
                "BatchNorm after them has its own shift).",
            ),
            Mistake(
                "no BatchNorm",
                _no_batchnorm,
                "the BatchNorm is missing: it has a scale and a shift per output channel, "
                "2 C_out parameters.",
            ),
            Mistake(
                "running statistics",
                _running_statistics,
                "BatchNorm's running mean and variance are buffers in PyTorch, not parameters: "
                "count only its scale and shift (2 C_out).",
            ),
        ),
    ),
    Exercise(
        key="03.3",
        title="a U-Net of any depth, with skip connections",
        difficulty="substantial",
        reference=_unet,
        cases=_unet_cases,
        compare=_compare_networks,
        mistakes=(
            Mistake(
                "no skips",
                _no_skips,
                "too few parameters in the decoder: each up block concatenates the encoder's map "
                "of its size, so it takes 2w + w channels (up-sampled + skip), not 2w.",
            ),
            Mistake(
                "constant width",
                _constant_width,
                "the channels must double at every level down (c, 2c, 4c, ...) and halve on the "
                "way up; yours stay at c.",
            ),
            Mistake(
                "no BatchNorm",
                _no_batchnorm_unet,
                "each conv block is conv3x3 -> BatchNorm -> LeakyReLU(0.2) (ConvBNLeaky); "
                "yours has no BatchNorm.",
            ),
        ),
    ),
)


QUESTIONS = (
    Question(
        "03.P1",
        "What size is the Keras-sized U-Net's bottleneck map for a 240x320 image, if the network "
        "pads its input at the bottom and right to the next multiple of 32, then max-pools it "
        "four times by 2x2?",
        Choice({"a": "15x20", "b": "16x20", "c": "30x40", "d": "8x10"}, correct="b"),
        "The padding comes first: 240 rows become 256, the next multiple of 32, and 320 columns "
        "already are one. Four 2x2 poolings divide by 2^4 = 16: 256 / 16 = 16 rows, 320 / 16 = 20 "
        "columns. Without the padding it would be 15x20 (a), but an odd size on the way down, say "
        "125 rows, comes back up as 124 and no longer matches its skip: padding to a multiple "
        "keeps every skip the size of what comes up. The output is cropped back to 240x320.",
    ),
    Question(
        "03.P2",
        "How many parameters has a 3x3 convolution from 64 to 128 channels, with its bias?",
        Number(73_856, "", abs_tol=0),
        "Each of the 128 output channels has a 3x3 filter over all 64 input channels, 9 x 64 = 576 "
        "weights, and one bias: 128 x (576 + 1) = 73,728 weights + 128 biases = 73,856. The count "
        "does not depend on the image size: a convolution shares its weights over every pixel.",
    ),
)
