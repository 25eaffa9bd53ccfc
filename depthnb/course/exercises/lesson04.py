"""Lesson 04's exercises: Eigen's scale-invariant log loss, and FCRN's berHu with its threshold
from the valid pixels, each written from its formula and held against :mod:`depthnb.losses`; and
its question: which corruption the gradient term barely sees."""

from __future__ import annotations

import torch

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Choice, Question
from depthnb.losses import composite as losses


# ------------------------------------------------------------------- 04.1 scale-invariant log loss
def _scale_invariant(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, lambd: float
) -> torch.Tensor:
    """(B,1,H,W) log depth each, (B,1,H,W) bool, a float -> scalar."""
    return losses.scale_invariant_log_loss(pred, target, valid, lambd=lambd)


def _scale_invariant_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    shapes = (
        ("a batch of 3 at 6x8 (lambda 0.5)", (3, 6, 8), 0.5),
        ("a batch of one at an odd size 7x5 (lambda 1)", (1, 7, 5), 1.0),
        ("a batch of 2 at 6x8 with invalid pixels (lambda 0.5)", (2, 6, 8), 0.5),
    )
    for label, (batch, height, width), lambd in shapes:
        target = torch.log(0.5 + 9.5 * torch.rand(batch, 1, height, width, generator=generator))
        offset = torch.linspace(-0.3, 0.4, batch).view(-1, 1, 1, 1)  # a scale error per image
        noise = 0.1 * torch.randn(target.shape, generator=generator)
        valid = torch.ones_like(target, dtype=torch.bool)
        if "invalid" in label:
            valid = torch.rand(target.shape, generator=generator) > 0.3
            target = torch.where(valid, target, torch.log(torch.tensor(1e-3)))  # no depth there
        cases.append(Case(label, (target + offset + noise, target, valid, lambd)))
    return cases


def _si_masked_terms(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image: the sum of the log errors e, the sum of e^2 over valid pixels, and the valid
    count, (B,) each."""
    e = torch.where(valid, pred - target, torch.zeros_like(pred)).flatten(1)
    return e.sum(1), (e * e).sum(1), valid.flatten(1).sum(1).float()


def _si_plus(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, lambd: float
) -> torch.Tensor:
    total, squares, count = _si_masked_terms(pred, target, valid)
    return (squares / count + lambd * (total / count) ** 2).mean()


def _si_whole_batch(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, lambd: float
) -> torch.Tensor:
    total, squares, count = _si_masked_terms(pred, target, valid)
    return squares.sum() / count.sum() - lambd * (total.sum() / count.sum()) ** 2


def _si_unmasked(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, lambd: float
) -> torch.Tensor:
    e = (pred - target).flatten(1)
    return ((e * e).mean(1) - lambd * e.mean(1) ** 2).mean()


# ------------------------------------------------------------------------------------ 04.2 berHu
def _berhu(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B,1,H,W) metres each, (B,1,H,W) bool -> scalar."""
    return losses.berhu_loss(pred, target, valid)


def _berhu_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (batch, height, width) in (
        ("a batch of 2 at 6x8", (2, 6, 8)),
        ("a batch of one at an odd size 7x5 with invalid pixels", (1, 7, 5)),
        ("a batch of 3 at 4x6 with invalid pixels", (3, 4, 6)),
    ):
        target = 0.5 + 9.5 * torch.rand(batch, 1, height, width, generator=generator)
        pred = target + 0.5 * torch.randn(target.shape, generator=generator)
        pred.view(-1)[1] = target.view(-1)[1] - 3.0  # the largest error is negative
        valid = torch.ones_like(target, dtype=torch.bool)
        if "invalid" in label:
            valid = torch.rand(target.shape, generator=generator) > 0.25
            valid.view(-1)[1] = True
            target = torch.where(valid, target, torch.zeros_like(target))  # no depth: 0
        cases.append(Case(label, (pred, target, valid)))
    return cases


def _mean_over(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return values[valid].mean()


def _berhu_swapped(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    error = (pred - target).abs()
    c = 0.2 * error[valid].max()
    return _mean_over(torch.where(error <= c, (error**2 + c**2) / (2 * c), error), valid)


def _berhu_c_over_all(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    error = (pred - target).abs()
    c = 0.2 * error.max()
    return _mean_over(torch.where(error <= c, error, (error**2 + c**2) / (2 * c)), valid)


def _berhu_signed_max(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    error = (pred - target).abs()
    c = 0.2 * (pred - target)[valid].max()
    return _mean_over(torch.where(error <= c, error, (error**2 + c**2) / (2 * c)), valid)


EXERCISES = (
    Exercise(
        key="04.1",
        title="Eigen's scale-invariant log loss",
        difficulty="quick",
        reference=_scale_invariant,
        hides=("depthnb.losses.scale_invariant_log_loss",),
        cases=_scale_invariant_cases,
        mistakes=(
            Mistake(
                "plus sign",
                _si_plus,
                "the loss grows with a global scale error instead of forgiving it: the squared "
                "mean is subtracted, mean(e^2) - lambda mean(e)^2.",
            ),
            Mistake(
                "whole batch",
                _si_whole_batch,
                "the means are taken over the whole batch: the loss forgives each image its own "
                "scale, so take mean(e^2) and mean(e) per image (over its valid pixels), then "
                "average the images' losses.",
            ),
            Mistake(
                "mask forgotten",
                _si_unmasked,
                "invalid pixels count: e = pred - target only where valid is True, and n is the "
                "number of valid pixels of that image, not H x W.",
            ),
        ),
    ),
    Exercise(
        key="04.2",
        title="FCRN's berHu loss",
        difficulty="medium",
        reference=_berhu,
        hides=("depthnb.losses.berhu_loss",),
        cases=_berhu_cases,
        mistakes=(
            Mistake(
                "branches swapped",
                _berhu_swapped,
                "the two branches are swapped: berHu is |x| for |x| <= c (L1 for small errors) "
                "and (x^2 + c^2) / (2c) above c (L2 for large ones); Huber is the other way round.",
            ),
            Mistake(
                "c over all pixels",
                _berhu_c_over_all,
                "c comes from invalid pixels too: take c = 0.2 max |error| over the valid pixels "
                "only (a hole's target is 0, so its error is the whole predicted depth).",
            ),
            Mistake(
                "signed max",
                _berhu_signed_max,
                "c is 0.2 times the largest signed error: take the largest absolute error, "
                "c = 0.2 max |pred - target| (FCRN_pytorch's known bug).",
            ),
        ),
    ),
)


QUESTIONS = (
    Question(
        "04.P1",
        "Which corruption of the true depth does the gradient term charge the least? It compares "
        "the differences between neighbouring pixels of the predicted inverse depth with those of "
        "the truth.",
        Choice(
            {
                "a": "blur (σ = 2 px)",
                "b": "shift (3 px)",
                "c": "global scale (×1.2)",
                "d": "noise (5 %)",
            },
            correct="c",
        ),
        "A global scale leaves every edge where it is: in inverse depth it only makes each step "
        "1.2 times weaker, and the term charges just that difference. A blur smears the edges, a "
        "shift moves them, and noise puts a small false edge between almost every pair of "
        "neighbours: that is the term's worst case. L1, which charges every pixel's level, finds "
        "the global scale the worst of all.",
    ),
)
