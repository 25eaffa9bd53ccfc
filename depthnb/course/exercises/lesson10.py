"""The stereo lesson's exercises: disparity to depth with Middlebury's offset, a sum-of-absolute-
differences cost volume, and the bad-pixel percentage; and its questions to predict before a run."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Choice, Number, Question
from depthnb.data.middlebury import MOTORCYCLE, StereoCalibration, disparity_to_depth
from depthnb.metrics.stereo import bad_pixel_rate
from depthnb.stereo import sad_cost_volume

# ------------------------------------------------------------------ 14.1: disparity -> depth


def _depth(
    disparity: torch.Tensor, focal_px: float, baseline_m: float, doffs_px: float
) -> torch.Tensor:
    """(H,W) disparity in pixels (inf or NaN unknown) -> (H,W) depth in metres, 0 where unknown."""
    calibration = StereoCalibration(focal_px, 0.0, 0.0, doffs_px, baseline_m)
    return disparity_to_depth(disparity, calibration)


def _depth_cases(generator: torch.Generator) -> list[Case]:
    motorcycle = (MOTORCYCLE.focal_px, MOTORCYCLE.baseline_m, MOTORCYCLE.doffs_px)
    disparity = 7.0 + 53.0 * torch.rand(12, 16, generator=generator)  # Motorcycle's 7 to 60 px
    holes = disparity.clone()
    holes[::3, ::5] = math.inf  # scikit-image's unknown pixels
    holes[1::4, 2::7] = math.nan
    other = 2.0 + 80.0 * torch.rand(7, 5, generator=generator)
    return [
        Case("Motorcycle's calibration, 12x16 disparities", (disparity, *motorcycle)),
        Case("unknown disparities (inf and NaN)", (holes, *motorcycle)),
        Case(
            "another rig, an odd size 7x5 (f 1400 px, B 0.12 m, doffs 55 px)",
            (other, 1400.0, 0.12, 55.0),
        ),
    ]


def _known(disparity: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(disparity)


def _no_offset(disparity, focal_px, baseline_m, doffs_px):
    known = _known(disparity)
    return torch.where(known, focal_px * baseline_m / disparity, torch.zeros_like(disparity))


def _offset_subtracted(disparity, focal_px, baseline_m, doffs_px):
    known = _known(disparity)
    return torch.where(
        known, focal_px * baseline_m / (disparity - doffs_px), torch.zeros_like(disparity)
    )


def _inverse_depth(disparity, focal_px, baseline_m, doffs_px):
    known = _known(disparity)
    return torch.where(
        known, (disparity + doffs_px) / (focal_px * baseline_m), torch.zeros_like(disparity)
    )


def _unknown_kept(disparity, focal_px, baseline_m, doffs_px):
    return focal_px * baseline_m / (disparity + doffs_px)


# ------------------------------------------------------------------ 14.2: the SAD cost volume


def _cost_volume(
    left: torch.Tensor, right: torch.Tensor, num_disparities: int, window: int
) -> torch.Tensor:
    """(H,W) grey views, D, odd window -> (D,H,W) mean absolute difference over the window."""
    return sad_cost_volume(left[None, None], right[None, None], num_disparities, window)[0]


def _cost_cases(generator: torch.Generator) -> list[Case]:
    left = 255 * torch.rand(12, 20, generator=generator)
    right = torch.roll(left, -3, dims=1) + 8 * torch.randn(12, 20, generator=generator)
    odd_left, odd_right = (255 * torch.rand(7, 9, generator=generator) for _ in range(2))
    return [
        Case("a 12x20 pair shifted by 3 px, 6 candidates, window 5", (left, right, 6, 5)),
        Case("an odd size 7x9, 4 candidates, window 3", (odd_left, odd_right, 4, 3)),
        Case("single pixels (window 1), 5 candidates", (left, right, 5, 1)),
    ]


def _shifted(
    left: torch.Tensor, right: torch.Tensor, count: int, sign: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(D,H,W) absolute differences |L(u) - R(u + sign d)| and where both pixels exist."""
    h, w = left.shape
    differences = torch.zeros(count, h, w)
    present = torch.zeros(count, h, w)
    for d in range(count):
        if sign < 0:
            differences[d, :, d:] = (left[:, d:] - right[:, : w - d]).abs()
            present[d, :, d:] = 1
        else:
            differences[d, :, : w - d] = (left[:, : w - d] - right[:, d:]).abs()
            present[d, :, : w - d] = 1
    return differences, present


def _box(values: torch.Tensor, window: int) -> torch.Tensor:
    """(D,H,W) sums over window x window, zeros outside."""
    kernel = torch.ones(1, 1, window, window)
    return F.conv2d(values[:, None], kernel, padding=window // 2)[:, 0]


def _mean_over_present(differences, present, window):
    return torch.where(
        present > 0, _box(differences, window) / _box(present, window).clamp(min=1), torch.inf
    )


def _wrong_direction(left, right, num_disparities, window):
    return _mean_over_present(*_shifted(left, right, num_disparities, +1), window)


def _no_window(left, right, num_disparities, window):
    return _mean_over_present(*_shifted(left, right, num_disparities, -1), 1)


def _sum_not_mean(left, right, num_disparities, window):
    differences, present = _shifted(left, right, num_disparities, -1)
    return torch.where(present > 0, _box(differences, window), torch.inf)


def _whole_window_counted(left, right, num_disparities, window):
    differences, present = _shifted(left, right, num_disparities, -1)
    return torch.where(present > 0, _box(differences, window) / window**2, torch.inf)


# ------------------------------------------------------------------ 14.3: the bad-pixel rate


def _bad_percentage(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, threshold: float
) -> float:
    """(H,W) disparities, (H,W) bool -> % of valid pixels, target finite, off by > threshold."""
    return bad_pixel_rate(pred, target, valid, threshold)


def _bad_cases(generator: torch.Generator) -> list[Case]:
    target = torch.randint(5, 60, (16, 20), generator=generator).float()
    pred = (
        target + torch.randint(-4, 5, (16, 20), generator=generator).float()
    )  # errors of 2 exactly
    valid = torch.rand(16, 20, generator=generator) > 0.2
    unknown = target.clone()
    unknown[::4, ::3] = math.inf
    return [
        Case(
            "integer disparities (some off by exactly the threshold), all valid",
            (pred, target, torch.ones_like(valid), 2.0),
        ),
        Case("a valid mask (occluded pixels left out)", (pred, target, valid, 2.0)),
        Case("unknown ground truth (inf) and threshold 1", (pred, unknown, valid, 1.0)),
    ]


def _fraction(pred, target, valid, threshold):
    mask = valid & torch.isfinite(target)
    return float(((pred - target).abs()[mask] > threshold).double().mean())


def _at_threshold_counted(pred, target, valid, threshold):
    mask = valid & torch.isfinite(target)
    return float(100 * ((pred - target).abs()[mask] >= threshold).double().mean())


def _unknown_counted(pred, target, valid, threshold):
    return float(100 * ((pred - target).abs()[valid] > threshold).double().mean())


def _valid_ignored(pred, target, valid, threshold):
    mask = torch.isfinite(target)
    return float(100 * ((pred - target).abs()[mask] > threshold).double().mean())


EXERCISES = (
    Exercise(
        key="10.1",
        title="disparity to depth with Middlebury's offset",
        difficulty="quick",
        reference=_depth,
        hides=("depthnb.data.middlebury.disparity_to_depth",),
        cases=_depth_cases,
        mistakes=(
            Mistake(
                "no offset",
                _no_offset,
                "every depth is too large: Middlebury's two principal points lie doffs pixels "
                "apart, so the pinhole model gives z = f B / (d + doffs); add doffs to d.",
            ),
            Mistake(
                "offset subtracted",
                _offset_subtracted,
                "doffs has the wrong sign: d + doffs = f B / z, since doffs = cx_right - cx_left; "
                "subtracting it gives depths too large, or negative.",
            ),
            Mistake(
                "inverse depth",
                _inverse_depth,
                "this is inverse depth (1/m), rho = (d + doffs) / (f B): depth is its reciprocal, "
                "z = f B / (d + doffs).",
            ),
            Mistake(
                "unknown kept",
                _unknown_kept,
                "unknown disparities (inf, NaN) must give depth 0, the sample's 'unknown': "
                "NaN stays NaN in your division; use torch.where(torch.isfinite(d), ..., 0).",
            ),
        ),
    ),
    Exercise(
        key="10.2",
        title="a sum-of-absolute-differences cost volume",
        difficulty="medium",
        reference=_cost_volume,
        hides=("depthnb.stereo.sad_cost_volume", "depthnb.stereo.census_cost_volume"),
        cases=_cost_cases,
        mistakes=(
            Mistake(
                "wrong direction",
                _wrong_direction,
                "the right view is searched the wrong way: the left pixel (v, u) matches the "
                "right pixel (v, u - d), to its left (a near point shifts left in the right view).",
            ),
            Mistake(
                "no window",
                _no_window,
                "the costs are single pixels' differences: average |L - R| over the window x "
                "window neighbourhood of each pixel (a box sum, then divide by the count).",
            ),
            Mistake(
                "sum, not mean",
                _sum_not_mean,
                "the costs are sums over the window: divide each by the number of pairs that "
                "entered it, so that border pixels (fewer pairs) compare fairly with the others.",
            ),
            Mistake(
                "whole window counted",
                _whole_window_counted,
                "near the borders you divide by window * window, counting pairs that do not "
                "exist (outside the image, or u' - d < 0) as zero differences: divide by the "
                "number of pairs present instead (box-sum a mask of ones).",
            ),
        ),
    ),
    Exercise(
        key="10.3",
        title="the bad-pixel percentage",
        difficulty="quick",
        reference=_bad_percentage,
        hides=("depthnb.metrics.stereo.bad_pixel_rate", "depthnb.metrics.stereo.stereo_metrics"),
        cases=_bad_cases,
        mistakes=(
            Mistake(
                "fraction",
                _fraction,
                "this is a fraction: the benchmark reports a percentage, 0 to 100 (times 100).",
            ),
            Mistake(
                "at the threshold",
                _at_threshold_counted,
                "an error of exactly the threshold counts as bad in your answer: 'bad 2.0' is an "
                "error of MORE than 2 pixels (>, not >=).",
            ),
            Mistake(
                "unknown counted",
                _unknown_counted,
                "pixels without ground truth (inf) count as bad: score only where the target is "
                "finite (torch.isfinite) as well as valid.",
            ),
            Mistake(
                "valid ignored",
                _valid_ignored,
                "you scored every pixel with ground truth: keep to the valid ones (the benchmark's "
                "non-occluded pixels), valid & isfinite(target).",
            ),
        ),
    ),
)

_FB = MOTORCYCLE.focal_px * MOTORCYCLE.baseline_m  # 192.03 px m

QUESTIONS = (
    Question(
        "10.P1",
        "By how many metres does the depth of a wall 5 m away change when its disparity is off "
        "by one pixel, with Motorcycle's rig (f B = 192 px m)?",
        Number(round(25 / _FB, 3), "m", abs_tol=0.02),
        f"z = f B / (d + doffs), so dz/dd = -z^2 / (f B): at 5 m, 25 / {_FB:.0f} = "
        f"{25 / _FB:.2f} m per pixel (12.7 cm nearer for +1 px, 13.4 cm farther for -1 px). At "
        f"2.1 m, the motorcycle's front, it is {2.1**2 / _FB * 100:.1f} cm: the error grows with "
        "the square of the distance, which is why stereo sees far things poorly.",
    ),
    Question(
        "10.P2",
        "Which of Depth Anything V2's tokens (one per 14x14-pixel patch) have changed after its "
        "first transformer block when only the pixels of the top-left patch change?",
        Choice(
            {
                "a": "only the top-left patch's token",
                "b": "that token and its neighbours, as after a 3x3 convolution",
                "c": "every token",
            },
            correct="c",
        ),
        "Self-attention mixes every token with every other one, weighted by how alike they are: "
        "one block already reaches the whole image. A convolution's receptive field grows a few "
        "pixels per layer; the U-Net's first block sees 5x5 pixels.",
    ),
)
