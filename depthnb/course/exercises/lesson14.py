"""Lesson 14's exercises: a BatchNorm folded into the convolution before it, int8 weights with one
scale per output channel, and an activation through uint8 and back."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn.utils.fusion import fuse_conv_bn_weights

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Number, Question


def _fold(
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    bn_weight: torch.Tensor,
    bn_bias: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The convolution computing bn(conv(x)) in eval mode: weight (C_out,C_in,k,k), bias (C_out,)
    or None, BatchNorm's gamma, beta, running mean and variance (C_out,) each -> the folded
    weight (C_out,C_in,k,k) and bias (C_out,)."""
    folded_weight, folded_bias = fuse_conv_bn_weights(
        weight, bias, running_mean, running_var, eps, bn_weight, bn_bias
    )
    return folded_weight.detach(), folded_bias.detach()


def _fold_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (c_out, c_in, k), with_bias, eps in (
        ("a 3x3 convolution 4 -> 6 with a bias", (6, 4, 3), True, 1e-5),
        ("a 1x1 convolution 5 -> 3 without a bias (bias=None)", (3, 5, 1), False, 1e-5),
        ("eps = 1e-3", (6, 4, 3), True, 1e-3),
    ):
        weight = torch.randn(c_out, c_in, k, k, generator=generator)
        bias = torch.randn(c_out, generator=generator) if with_bias else None
        gamma = 0.5 + torch.rand(c_out, generator=generator)
        beta, mean = torch.randn(2, c_out, generator=generator)
        var = 10 ** (-3 + 3 * torch.rand(c_out, generator=generator))  # 0.001 .. 1
        cases.append(Case(label, (weight, bias, gamma, beta, mean, var, eps)))
    return cases


def _fold_missing_a_step(
    root: bool = True, subtract_mean: bool = True, scale_bias: bool = True
) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """A common wrong fold: the reference's arithmetic with one step left out (the square root of
    the variance, the running mean, or the scaling of the bias), same arguments as :func:`_fold`."""

    def fold(
        w: torch.Tensor,
        b: torch.Tensor | None,
        gamma: torch.Tensor,
        beta: torch.Tensor,
        mean: torch.Tensor,
        var: torch.Tensor,
        eps: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        factor = gamma / (torch.sqrt(var + eps) if root else var + eps)
        bias = torch.zeros_like(beta) if b is None else b
        centred = bias - mean if subtract_mean else bias
        return w * factor[:, None, None, None], (centred * factor if scale_bias else centred) + beta

    return fold


def _quantise(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 weights, one scale per output channel: weight (C_out,C_in,k,k) float ->
    q (C_out,C_in,k,k) int8 with q = clip(round(w / s), -127, 127), and s (C_out,) = max |w| of
    each filter / 127."""
    scale = weight.abs().amax(dim=(1, 2, 3)) / 127
    q = torch.round(weight / scale[:, None, None, None]).clamp(-127, 127)
    return q.to(torch.int8), scale


def _quantise_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (c_out, c_in, k) in (
        ("8 filters 4x3x3 of different sizes", (8, 4, 3)),
        ("a 1x1 convolution 5 -> 3", (3, 5, 1)),
        ("a single filter 2x3x3", (1, 2, 3)),
    ):
        sizes = 10 ** (-2 + 2 * torch.rand(c_out, 1, 1, 1, generator=generator))  # 0.01 .. 1
        cases.append(Case(label, (sizes * torch.randn(c_out, c_in, k, k, generator=generator),)))
    return cases


def _per_tensor(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = weight.abs().max() / 127
    return torch.round(weight / scale).clamp(-127, 127).to(torch.int8), scale


def _input_channels(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = weight.abs().amax(dim=(0, 2, 3)) / 127
    q = torch.round(weight / scale[None, :, None, None]).clamp(-127, 127)
    return q.to(torch.int8), scale


def _truncated(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = weight.abs().amax(dim=(1, 2, 3)) / 127
    return (weight / scale[:, None, None, None]).clamp(-127, 127).to(torch.int8), scale


def _signed_max(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = weight.amax(dim=(1, 2, 3)) / 127
    q = torch.round(weight / scale[:, None, None, None]).clamp(-127, 127)
    return q.to(torch.int8), scale


def _through_uint8(x: torch.Tensor, x_min: float, x_max: float) -> torch.Tensor:
    """x (any shape) float, the calibrated range x_min .. x_max -> x quantised to uint8 and back:
    the range widened to contain 0, step = (high - low) / 255, q0 = round(-low / step),
    q = clip(round(x / step) + q0, 0, 255), returned as step (q - q0)."""
    low, high = min(x_min, 0.0), max(x_max, 0.0)
    scale = (high - low) / 255
    zero = round(-low / scale)
    return scale * ((torch.round(x / scale) + zero).clamp(0, 255) - zero)


def _through_uint8_cases(generator: torch.Generator) -> list[Case]:
    features = 1.5 * torch.randn(2, 3, 6, 8, generator=generator)
    after_relu = torch.relu(torch.randn(1, 4, 6, 6, generator=generator)) + 0.3
    negative = -0.5 - 2.5 * torch.rand(7, 5, generator=generator)
    return [
        Case("features beyond the calibrated range -1.2 .. 2.0", (features, -1.2, 2.0)),
        Case("positive activations, calibrated 0.3 .. 2.5", (after_relu, 0.3, 2.5)),
        Case("an odd size 7x5, all negative, calibrated -3 .. -0.5", (negative, -3.0, -0.5)),
    ]


def _unclipped(x: torch.Tensor, x_min: float, x_max: float) -> torch.Tensor:
    low, high = min(x_min, 0.0), max(x_max, 0.0)
    scale = (high - low) / 255
    return scale * torch.round(x / scale)


def _range_without_zero(x: torch.Tensor, x_min: float, x_max: float) -> torch.Tensor:
    scale = (x_max - x_min) / 255
    zero = round(-x_min / scale)
    return scale * ((torch.round(x / scale) + zero).clamp(0, 255) - zero)


def _int8_levels(x: torch.Tensor, x_min: float, x_max: float) -> torch.Tensor:
    low, high = min(x_min, 0.0), max(x_max, 0.0)
    scale = (high - low) / 255
    zero = round(-low / scale)
    return scale * ((torch.round(x / scale) + zero).clamp(-128, 127) - zero)


def _zero_kept(x: torch.Tensor, x_min: float, x_max: float) -> torch.Tensor:
    low, high = min(x_min, 0.0), max(x_max, 0.0)
    scale = (high - low) / 255
    zero = round(-low / scale)
    return scale * (torch.round(x / scale) + zero).clamp(0, 255)


EXERCISES = (
    Exercise(
        key="14.1",
        title="fold a BatchNorm into the convolution",
        difficulty="medium",
        reference=_fold,
        hides=(
            "torch.nn.utils.fusion.fuse_conv_bn_weights",
            "torch.nn.utils.fusion.fuse_conv_bn_eval",
        ),
        cases=_fold_cases,
        mistakes=(
            Mistake(
                "variance not std",
                _fold_missing_a_step(root=False),
                "you divided by the variance: BatchNorm divides by the standard deviation, "
                "factor = gamma / sqrt(running_var + eps).",
            ),
            Mistake(
                "mean forgotten",
                _fold_missing_a_step(subtract_mean=False),
                "your bias misses the running mean: bn(y) = gamma (y - mean) / std + beta, so "
                "the folded bias is (bias - mean) * factor + beta.",
            ),
            Mistake(
                "bias unscaled",
                _fold_missing_a_step(scale_bias=False),
                "the convolution's bias and the mean pass through the division too: the folded "
                "bias is (bias - mean) * factor + beta, not bias - mean + beta.",
            ),
        ),
    ),
    Exercise(
        key="14.2",
        title="int8 weights, one scale per output channel",
        difficulty="quick",
        reference=_quantise,
        cases=_quantise_cases,
        mistakes=(
            Mistake(
                "per tensor",
                _per_tensor,
                "one scale for the whole tensor: take max |w| of each filter (output channel, "
                "axis 0) so that every filter gets all 255 levels.",
            ),
            Mistake(
                "input channels",
                _input_channels,
                "your scales run along the input channels (axis 1): a filter is "
                "weight[c_out], so take the maximum over axes 1, 2, 3.",
            ),
            Mistake(
                "truncated",
                _truncated,
                "your levels are truncated towards 0 (.to(torch.int8) cuts the fraction): round "
                "to the nearest level first, torch.round(w / scale).",
            ),
            Mistake(
                "signed max",
                _signed_max,
                "take the largest |w|, not the largest w: a filter whose biggest weight is "
                "negative otherwise gets a wrong (even negative) scale.",
            ),
        ),
    ),
    Exercise(
        key="14.3",
        title="an activation through uint8 and back",
        difficulty="quick",
        reference=_through_uint8,
        cases=_through_uint8_cases,
        mistakes=(
            Mistake(
                "unclipped",
                _unclipped,
                "values beyond the calibrated range came back unchanged: uint8 has only the levels "
                "0 .. 255, so clip q to them (calibration decides where the range ends).",
            ),
            Mistake(
                "range without zero",
                _range_without_zero,
                "widen the range to contain 0 first, low = min(x_min, 0), high = max(x_max, 0): "
                "then 0.0 is a level (ReLU's zeros and zero padding stay exact) and the zero "
                "point q0 lies in 0 .. 255.",
            ),
            Mistake(
                "int8 levels",
                _int8_levels,
                "activations are uint8 here: clip q to 0 .. 255, not to int8's -128 .. 127.",
            ),
            Mistake(
                "zero point kept",
                _zero_kept,
                "your values are shifted by the step times the zero point: going back, subtract "
                "the zero point, r = step (q - q0).",
            ),
        ),
    ),
)

QUESTIONS = (
    Question(
        "14.P1",
        "What fraction of the course U-Net's float32 file (1.99 MB) will its static int8 file "
        "be?",
        Number(0.25, "", abs_tol=0.07),
        "Each weight goes from 32 bits to 8: a quarter. The file also keeps the steps and zero "
        "points (one step per output channel for the weights), the biases in 32 bits, and the "
        "QuantizeLinear / DequantizeLinear nodes. In a network as small as this U-Net (0.49 M "
        "weights) they add a few hundredths: about 0.3 here. In FCRN's 63.6 M weights they are "
        "well under a hundredth.",
    ),
)
