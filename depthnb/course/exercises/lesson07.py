"""Lesson 07's exercises: three metrics written from their formulas, and median scaling per
image; and its questions to predict before a run."""

from __future__ import annotations

import torch

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Choice, Number, Question
from depthnb.metrics.align import median_scale
from depthnb.metrics.depth import depth_metrics


def _scene(
    generator: torch.Generator, batch: int, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """True depth (B,1,H,W) in [0.5, 9.5] m and a prediction off by its own factor per image."""
    target = 0.5 + 9.0 * torch.rand(batch, 1, height, width, generator=generator)
    factor = 0.7 + 0.6 * torch.rand(batch, 1, 1, 1, generator=generator)
    noise = torch.exp(0.15 * torch.randn(batch, 1, height, width, generator=generator))
    return target, (target * factor * noise).clamp(0.3, 9.9)


def _with_holes(target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """target with no depth (0) on every 4th pixel of every 3rd row, and a mask also hiding the
    first two columns (depth measured there, but outside the scored region): (B,1,H,W) each.

    Every image keeps an odd number of valid pixels, so its median is one of them."""
    holes = target.clone()
    holes[..., ::3, ::4] = 0.0
    valid = holes > 0
    valid[..., :, :2] = False
    for image in valid:
        if int(image.sum()) % 2 == 0:
            image[0, -1, -1] = False
    return holes, valid


# 07.1: abs_rel, rmse and delta1, pooled over the valid pixels of every image.


def _three_metrics(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> dict[str, float]:
    """pred, target (B,1,H,W) metres, valid (B,1,H,W) bool -> {"abs_rel", "rmse", "delta1"}."""
    scores = depth_metrics(pred, target, valid)
    return {name: scores[name] for name in ("abs_rel", "rmse", "delta1")}


def _metric_cases(generator: torch.Generator) -> list[Case]:
    target, pred = _scene(generator, 3, 12, 16)
    small_gt, small_pred = _scene(generator, 1, 7, 5)
    holes_target, holes_valid = _with_holes(target)
    return [
        Case("a batch of 3 at 12x16", (pred, target, torch.ones_like(target, dtype=torch.bool))),
        Case(
            "a batch of one at an odd size 7x5",
            (small_pred, small_gt, torch.ones_like(small_gt, dtype=torch.bool)),
        ),
        Case(
            "invalid pixels (target 0, and valid False where target > 0)",
            (pred, holes_target, holes_valid),
        ),
    ]


def _plain_metrics(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, over_pred: bool = False
) -> dict[str, float]:
    p, g = pred[mask].double(), target[mask].double()
    ratio = torch.maximum(g / p, p / g)
    return {
        "abs_rel": float(((g - p).abs() / (p if over_pred else g)).mean()),
        "rmse": float(((g - p) ** 2).mean().sqrt()),
        "delta1": float((ratio < 1.25).double().mean()),
    }


def _divided_by_pred(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> dict[str, float]:
    return _plain_metrics(pred, target, valid, over_pred=True)


def _mask_ignored(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> dict[str, float]:
    return _plain_metrics(pred, target, target > 0)


def _rmse_per_image(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> dict[str, float]:
    scores = _plain_metrics(pred, target, valid)
    roots = [((g[m] - p[m]) ** 2).double().mean().sqrt() for p, g, m in zip(pred, target, valid)]
    return {**scores, "rmse": float(torch.stack(roots).mean())}


def _delta_one_sided(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> dict[str, float]:
    scores = _plain_metrics(pred, target, valid)
    return {**scores, "delta1": float((pred[valid] / target[valid] < 1.25).double().mean())}


# 07.2: median scaling, one factor per image.


def _median_scaled(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """pred, target (B,1,H,W) metres, valid (B,1,H,W) bool -> pred scaled per image (B,1,H,W)."""
    return median_scale(pred, target, valid)


def _scale_cases(generator: torch.Generator) -> list[Case]:
    target, pred = _scene(generator, 3, 9, 13)  # 117 pixels: an odd count, one median pixel
    small_gt, small_pred = _scene(generator, 1, 7, 5)
    holes_target, holes_valid = _with_holes(target)
    return [
        Case("a batch of 3 at 9x13", (pred, target, torch.ones_like(target, dtype=torch.bool))),
        Case(
            "a batch of one at an odd size 7x5",
            (small_pred, small_gt, torch.ones_like(small_gt, dtype=torch.bool)),
        ),
        Case(
            "invalid pixels (target 0, and valid False where target > 0)",
            (pred, holes_target, holes_valid),
        ),
    ]


def _scaled_by(pred: torch.Tensor, factors: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([p * f for p, f in zip(pred, factors)])


def _ratio_inverted(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return _scaled_by(pred, [p[m].median() / g[m].median() for p, g, m in zip(pred, target, valid)])


def _mean_ratio(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return _scaled_by(pred, [g[m].mean() / p[m].mean() for p, g, m in zip(pred, target, valid)])


def _one_factor_for_the_batch(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    return pred * target[valid].median() / pred[valid].median()


def _median_over_every_pixel(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    return _scaled_by(pred, [g.median() / p.median() for p, g in zip(pred, target)])


EXERCISES = (
    Exercise(
        key="07.1",
        title="abs_rel, rmse and delta1 from their formulas",
        difficulty="quick",
        reference=_three_metrics,
        hides=("depthnb.metrics.depth_metrics", "depthnb.metrics.DepthMetricAccumulator"),
        cases=_metric_cases,
        mistakes=(
            Mistake(
                "divided by pred",
                _divided_by_pred,
                "abs_rel divides by the prediction: it is mean |z - z_hat| / z, relative to the "
                "TRUE depth z (the swapped-arguments bug of DenseDepth's script).",
            ),
            Mistake(
                "mask ignored",
                _mask_ignored,
                "pixels where valid is False still count: score only target[valid], pred[valid] (a "
                "mask can hide pixels that have a depth, e.g. outside a crop).",
            ),
            Mistake(
                "rmse per image",
                _rmse_per_image,
                "your rmse is the mean of each image's rmse; pooled rmse takes ONE root of the "
                "mean squared error over all valid pixels of all images.",
            ),
            Mistake(
                "delta one-sided",
                _delta_one_sided,
                "delta1 counts only over-estimates: the ratio is max(z / z_hat, z_hat / z) < 1.25, "
                "so a prediction too small by more than 1.25 fails too.",
            ),
        ),
    ),
    Exercise(
        key="07.2",
        title="median scaling per image",
        difficulty="medium",
        reference=_median_scaled,
        hides=("depthnb.metrics.median_scale",),
        cases=_scale_cases,
        mistakes=(
            Mistake(
                "ratio inverted",
                _ratio_inverted,
                "the factor is upside down: multiply the prediction by "
                "median(target) / median(pred), so its median becomes the true one.",
            ),
            Mistake(
                "mean ratio",
                _mean_ratio,
                "you used means: median scaling takes medians, which a few far-off pixels cannot "
                "drag (torch.median on the valid pixels).",
            ),
            Mistake(
                "one factor for the batch",
                _one_factor_for_the_batch,
                "one factor for the whole batch: each image gets its own, "
                "median(target_i[valid_i]) / median(pred_i[valid_i]) (the scale is unknown per "
                "photo).",
            ),
            Mistake(
                "median over every pixel",
                _median_over_every_pixel,
                "the medians include pixels without ground truth: take them over the valid "
                "pixels of each image only, target_i[valid_i] and pred_i[valid_i].",
            ),
        ),
    ),
)

QUESTIONS = (
    Question(
        "07.P1",
        "What is the abs_rel (a fraction) of a prediction 10 % too far at every pixel, "
        "z_hat = 1.1 z, with exactly the right shape?",
        Number(0.1, "", abs_tol=0.005),
        "abs_rel = mean |z - 1.1 z| / z = mean 0.1 z / z = 0.1, whatever the depths: it reads a "
        "relative error directly. rmse is 0.1 z in metres, so it grows with the depth; delta1 "
        "stays 1 (1.1 < 1.25), and SILog stays 0 (one factor for the whole image).",
    ),
    Question(
        "07.P2",
        "Scored on one image alone, which metric can median scaling (one factor for the whole "
        "prediction) not change?",
        Choice({"a": "abs_rel", "b": "rmse", "c": "delta1", "d": "silog"}, correct="d"),
        "SILog is the spread of the log error e = log z_hat - log z about its mean. A factor s "
        "adds log s to every e: the mean moves, the spread does not. abs_rel, rmse and delta1 "
        "compare z_hat with z directly, so a factor changes them, for better or for worse.",
    ),
)
