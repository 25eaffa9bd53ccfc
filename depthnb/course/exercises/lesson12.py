"""Lesson 12's exercises: the half-resolution depth target (valid pixels only), and the mask IoU
from logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Number, Question
from depthnb.metrics.mask import mask_iou
from depthnb.train.tasks.base import match_resolution


def _half_target(depth: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,1,H,W) metres and bool, H and W even -> (B,1,H/2,W/2) mean of the valid pixels of each
    2x2 block (0 where none is valid), and bool: at least half the block valid."""
    return match_resolution(depth, valid, (depth.shape[-2] // 2, depth.shape[-1] // 2))


def _half_target_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (batch, height, width), share in (
        ("a batch of 2 at 8x12 with invalid pixels", (2, 8, 12), 0.3),
        ("a batch of one at 6x10, mostly invalid", (1, 6, 10), 0.6),
    ):
        depth = 0.5 + 9.5 * torch.rand(batch, 1, height, width, generator=generator)
        valid = torch.rand(batch, 1, height, width, generator=generator) >= share
        valid[..., :2, :2] = False  # one block with no valid pixel at all
        cases.append(Case(label, (depth * valid, valid)))
    return cases


# The mistakes are written out, not built on the reference: each is also run as a student's
# answer, while the reference and match_resolution are hidden.


def _share(valid: torch.Tensor) -> torch.Tensor:
    """The fraction of valid pixels in each 2x2 block, (B,1,H/2,W/2)."""
    return F.avg_pool2d(valid.float(), 2)


def _zeros_averaged(depth: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return F.avg_pool2d(depth * valid, 2), _share(valid) >= 0.5


def _any_valid(depth: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    depth_half = F.avg_pool2d(depth * valid, 2) / _share(valid).clamp(min=1e-6)
    return depth_half, F.max_pool2d(valid.float(), 2) > 0


def _subsampled(depth: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return depth[..., ::2, ::2], valid[..., ::2, ::2]


def _unguarded(depth: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    weight = F.avg_pool2d(valid.float(), 2)
    return F.avg_pool2d(depth * valid, 2) / weight, weight >= 0.5


def _iou(logits: torch.Tensor, mask: torch.Tensor) -> float:
    """(B,1,H,W) mask logits and true mask in {0,1} -> IoU of sigmoid(logits) > 0.5, pooled over
    every pixel of the batch; 1.0 when both masks are empty."""
    return mask_iou(logits, mask, from_logits=True)


def _iou_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (batch, height, width) in (
        ("a batch of 4 at 16x16", (4, 16, 16)),
        ("a batch of one at an odd size 7x5", (1, 7, 5)),
    ):
        mask = (torch.rand(batch, 1, height, width, generator=generator) < 0.3).float()
        noise = torch.randn(batch, 1, height, width, generator=generator)
        cases.append(Case(label, (2 * mask - 1 + noise, mask)))
    logits, mask = cases[0].args
    few = mask.clone()
    few[1:] = 0.0  # only the first image has an object: a mean over images would weigh it 1/4
    cases.append(Case("a batch where three images have no object", (logits, few)))
    cases.append(
        Case(
            "both masks empty",
            (-1 - torch.rand(2, 1, 6, 6, generator=generator), torch.zeros(2, 1, 6, 6)),
        )
    )
    return cases


def _pooled_iou(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    union = int((predicted | truth).sum())
    return 1.0 if union == 0 else int((predicted & truth).sum()) / union


def _logits_cut(logits: torch.Tensor, mask: torch.Tensor) -> float:
    return _pooled_iou(logits > 0.5, mask > 0.5)


def _mean_of_images(logits: torch.Tensor, mask: torch.Tensor) -> float:
    ious = [_pooled_iou(torch.sigmoid(one) > 0.5, truth > 0.5) for one, truth in zip(logits, mask)]
    return sum(ious) / len(ious)


def _dice(logits: torch.Tensor, mask: torch.Tensor) -> float:
    predicted, truth = torch.sigmoid(logits) > 0.5, mask > 0.5
    total = int(predicted.sum() + truth.sum())
    return 1.0 if total == 0 else 2 * int((predicted & truth).sum()) / total


def _empty_is_zero(logits: torch.Tensor, mask: torch.Tensor) -> float:
    predicted, truth = torch.sigmoid(logits) > 0.5, mask > 0.5
    return int((predicted & truth).sum()) / max(int((predicted | truth).sum()), 1)


EXERCISES = (
    Exercise(
        key="12.1",
        title="the half-resolution depth target",
        difficulty="medium",
        reference=_half_target,
        hides=("depthnb.train.match_resolution",),
        cases=_half_target_cases,
        mistakes=(
            Mistake(
                "zeros averaged",
                _zeros_averaged,
                "your depth is too small where a block has invalid pixels: their zeros were "
                "averaged in. Divide the sum of the valid depths by the number of valid pixels.",
            ),
            Mistake(
                "any valid",
                _any_valid,
                "your mask keeps blocks with a single valid pixel: a half-resolution pixel is "
                "valid when at least half its 2x2 block is (mean of valid >= 0.5).",
            ),
            Mistake(
                "subsampled",
                _subsampled,
                "you kept every second pixel: average each 2x2 block (its valid pixels), as "
                "F.interpolate(..., mode='area') or F.avg_pool2d(..., 2) do.",
            ),
            Mistake(
                "unguarded",
                _unguarded,
                "a block with no valid pixel gives 0 / 0 = NaN, and a NaN spreads through the loss "
                "even where the mask is False: divide by weight.clamp(min=1e-6), which leaves 0.",
            ),
        ),
    ),
    Exercise(
        key="12.2",
        title="mask IoU from logits",
        difficulty="quick",
        reference=_iou,
        hides=("depthnb.metrics.mask_iou",),
        cases=_iou_cases,
        mistakes=(
            Mistake(
                "logits cut at 0.5",
                _logits_cut,
                "you cut the logits at 0.5, which is probability 0.62: a pixel is foreground "
                "where sigmoid(logit) > 0.5, that is where the logit is > 0.",
            ),
            Mistake(
                "mean of images",
                _mean_of_images,
                "you averaged one IoU per image: the lesson's IoU pools every pixel of the batch, "
                "one intersection over one union.",
            ),
            Mistake(
                "dice",
                _dice,
                "that is the Dice score, 2|A and B| / (|A| + |B|): IoU divides the intersection "
                "by the union, |A or B|.",
            ),
            Mistake(
                "empty is zero",
                _empty_is_zero,
                "two empty masks agree perfectly: when the union is empty the IoU is 1.0, not 0.",
            ),
        ),
    ),
)

QUESTIONS = (
    Question(
        "12.P1",
        "What is the IoU of two masks on an 8x8 image, the predicted one its left half (32 "
        "pixels) and the true one its top half (32 pixels)?",
        Number(1 / 3, "", abs_tol=0.02),
        "The two halves share the top-left quarter, 16 pixels: the intersection. Together they "
        "cover three quarters, 32 + 32 - 16 = 48 pixels: the union. IoU = 16 / 48 = 1/3. The two "
        "masks agree on half of all pixels (the top-left and the bottom-right quarters), but IoU "
        "leaves out the background both call background: only overlap on the object counts.",
    ),
)
