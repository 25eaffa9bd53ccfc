"""Lesson 06's exercises: the poly learning-rate schedule with its linear warm-up, held against
:func:`depthnb.train.schedule_preview`, and the L1 loss over the valid pixels of a batch in the
U-Net's log encoding, held against :func:`depthnb.losses.l1_loss`; and a question, the poly
schedule's rate half way through."""

from __future__ import annotations

from typing import Any

import torch

from depthnb.course.exercises.checker import (
    Accepted,
    Case,
    Exercise,
    Mistake,
    compare_values,
)
from depthnb.course.exercises.questions import Number, Question
from depthnb.encodings import get_encoding
from depthnb.losses.terms import l1_loss
from depthnb.train.optim import schedule_preview


# ------------------------------------------------------------------ 06.1 poly with a warm-up
def _poly_rates(
    lr: float, epochs: int, steps_per_epoch: int, warmup: float, power: float
) -> torch.Tensor:
    """Floats and ints -> (epochs * steps_per_epoch,) float64, the rate at every optimizer step."""
    rates = schedule_preview(
        "poly", epochs=epochs, steps_per_epoch=steps_per_epoch, lr=lr, warmup=warmup, power=power
    )
    return torch.tensor(rates, dtype=torch.float64)


def _poly_cases(generator: torch.Generator) -> list[Case]:
    return [
        Case("10 epochs of 20 steps with 10% warm-up", (1e-3, 10, 20, 0.1, 0.9)),
        Case("3 epochs of 7 steps without warm-up", (3e-3, 3, 7, 0.0, 0.9)),
        Case("one epoch of 50 steps with 20% warm-up and power 2", (1e-4, 1, 50, 0.2, 2.0)),
    ]


def _compare_rates(got: Any, expected: torch.Tensor) -> str | None:
    """Relative agreement only: learning rates are small numbers."""
    return compare_values(got, expected, rtol=1e-5, atol=1e-12)


def _poly_formula(
    lr: float,
    epochs: int,
    steps_per_epoch: int,
    warmup: float,
    power: float,
    warm_from_zero: bool = False,
    per_epoch: bool = False,
    power_inside: bool = True,
) -> torch.Tensor:
    """The poly schedule with one of the mistakes below switched on."""
    total = epochs * steps_per_epoch
    warmup_steps = int(warmup * total)
    step = torch.arange(total, dtype=torch.float64)
    warm = torch.ones_like(step)
    if warmup_steps:
        warm = ((step if warm_from_zero else step + 1) / warmup_steps).clamp(max=1.0)
    progress = (step // steps_per_epoch) / epochs if per_epoch else step / total
    decay = (1 - progress) ** power if power_inside else 1 - progress**power
    return lr * warm * decay


def _warm_from_zero(
    lr: float, epochs: int, steps_per_epoch: int, warmup: float, power: float
) -> torch.Tensor:
    return _poly_formula(lr, epochs, steps_per_epoch, warmup, power, warm_from_zero=True)


def _decay_per_epoch(
    lr: float, epochs: int, steps_per_epoch: int, warmup: float, power: float
) -> torch.Tensor:
    return _poly_formula(lr, epochs, steps_per_epoch, warmup, power, per_epoch=True)


def _power_outside(
    lr: float, epochs: int, steps_per_epoch: int, warmup: float, power: float
) -> torch.Tensor:
    return _poly_formula(lr, epochs, steps_per_epoch, warmup, power, power_inside=False)


# ------------------------------------------------------------- 06.2 a loss over the valid pixels
LOG = get_encoding("log")


def _valid_l1_loss(pred: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """pred (B,1,H,W) log metres, depth (B,1,H,W) metres (0 where unknown), valid (B,1,H,W) bool
    -> scalar tensor: the mean of |pred - ln depth| over the valid pixels of the whole batch."""
    return l1_loss(pred, LOG.encode(depth), valid)


def _valid_l1_cases(generator: torch.Generator) -> list[Case]:
    """Depth from 0.5 to 12 m with holes (0 m, invalid); pixels beyond the sensor's 10 m are
    invalid although their depth is known; the images of a batch have different numbers of valid
    pixels, and one has none."""

    def batch(images: int, height: int, width: int, holes: float) -> tuple[torch.Tensor, ...]:
        depth = 0.5 + 11.5 * torch.rand(images, 1, height, width, generator=generator)
        depth[torch.rand(depth.shape, generator=generator) < holes] = 0.0
        noise = 0.3 * torch.randn(depth.shape, generator=generator)
        pred = torch.log(depth.clamp(min=0.5)) + noise  # a network's guess, log metres
        return pred, depth

    pred, depth = batch(2, 6, 8, 0.3)
    depth[1, :, :3] = 0.0  # the second image: more holes than the first
    holes = (pred, depth, (depth > 0) & (depth <= 10.0))
    pred, depth = batch(3, 5, 7, 0.2)
    depth[1] = 0.0  # a crop of a window: no depth at all
    empty = (pred, depth, (depth > 0) & (depth <= 10.0))
    pred, depth = batch(1, 7, 5, 0.0)
    depth = depth.clamp(max=10.0)
    full = (pred, depth, depth > 0)
    return [
        Case("a batch of two with holes and pixels beyond 10 m", holes),
        Case("a batch of three whose second image has no valid pixel", empty),
        Case("one image, odd size 7x5, every pixel valid", full),
    ]


def _compare_losses(got: Any, expected: torch.Tensor) -> str | None:
    """A loss is a tensor (it keeps its graph for ``backward``); then the values, NaN included."""
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        return (
            f"a Python number ({got!r}): return the tensor itself (a loss keeps its graph for "
            "backward()), not loss.item()"
        )
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.reshape(())
    return compare_values(got, expected, rtol=1e-5, atol=1e-6)


def _log_errors(pred: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """|pred - ln depth| per pixel, finite everywhere (0 m is clamped before the log)."""
    return (pred - torch.log(depth.clamp(min=1e-3))).abs()


def _per_image(
    pred: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor, skip_empty: bool
) -> torch.Tensor:
    """Each image averaged over its own valid pixels, then the images averaged."""
    errors = torch.where(valid, _log_errors(pred, depth), torch.zeros_like(pred))
    count = valid.flatten(1).sum(1)
    per_image = errors.flatten(1).sum(1) / count  # 0 / 0 = NaN for an image with no valid pixel
    return per_image[count > 0].mean() if skip_empty else per_image.mean()


def _per_image_skipping_empty(
    pred: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    return _per_image(pred, depth, valid, skip_empty=True)


def _per_image_nan(pred: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return _per_image(pred, depth, valid, skip_empty=False)


def _multiplied_by_mask(
    pred: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    return ((pred - torch.log(depth)).abs() * valid).sum() / valid.sum()


def _over_all_pixels(pred: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return torch.where(valid, _log_errors(pred, depth), torch.zeros_like(pred)).mean()


def _mask_from_depth(pred: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    known = depth > 0
    return torch.where(known, _log_errors(pred, depth), torch.zeros_like(pred)).sum() / known.sum()


EXERCISES = (
    Exercise(
        key="06.1",
        title="the poly learning-rate schedule with a linear warm-up",
        difficulty="quick",
        reference=_poly_rates,
        hides=("depthnb.train.schedule_preview", "depthnb.train.optim.build_scheduler"),
        cases=_poly_cases,
        compare=_compare_rates,
        mistakes=(
            Mistake(
                "warm-up from zero",
                _warm_from_zero,
                "the first step has a rate of 0, a step that learns nothing: the warm-up factor "
                "is (step + 1) / warmup_steps, so it reaches 1 at the last warm-up step.",
            ),
            Mistake(
                "decay per epoch",
                _decay_per_epoch,
                "the rate falls in steps, once an epoch: t = step / total_steps, counted in "
                "optimizer steps, so it decays at every step.",
            ),
            Mistake(
                "power outside",
                _power_outside,
                "the power applies to what is left, (1 - t)^power, not 1 - t^power.",
            ),
        ),
    ),
    Exercise(
        key="06.2",
        title="the L1 loss over the valid pixels of a batch",
        difficulty="medium",
        reference=_valid_l1_loss,
        hides=("depthnb.losses.l1_loss", "depthnb.utils.tensors.masked_mean"),
        cases=_valid_l1_cases,
        compare=_compare_losses,
        accepted=(
            Accepted(
                "per image",
                _per_image_skipping_empty,
                "You averaged each image over its own valid pixels, then over the images that "
                "have any: every image counts the same (as Eigen's scale-invariant loss does in "
                "the package). The package's l1_loss divides the batch's sum by the batch's valid "
                "pixels instead: every pixel counts the same, so an image with more valid pixels "
                "weighs more. Both train a network.",
            ),
        ),
        mistakes=(
            Mistake(
                "multiplied by the mask",
                _multiplied_by_mask,
                "NaN: an unknown pixel has depth 0 m, and ln 0 = -inf; multiplying its error by "
                "a mask of 0 does not remove it (inf x 0 = NaN). Select the valid pixels "
                "(torch.where(valid, error, 0), or error[valid]) before summing, or clamp the "
                "depth before the log.",
            ),
            Mistake(
                "over all pixels",
                _over_all_pixels,
                "too small: you divided by every pixel of the batch, the invalid ones included. "
                "Divide the sum over the valid pixels by their number, N = valid.sum().",
            ),
            Mistake(
                "mask from depth",
                _mask_from_depth,
                "you chose the pixels by depth > 0, but `valid` is the dataset's word on which "
                "pixels to trust: here it also leaves out depths beyond the sensor's 10 m. Use "
                "the mask you are given.",
            ),
            Mistake(
                "per image, NaN for an empty image",
                _per_image_nan,
                "NaN on the batch with an image that has no valid pixel: you averaged each image "
                "over its own valid pixels, and there 0 / 0 = NaN, which poisons the whole "
                "batch's loss. Average over the batch's valid pixels, or leave out the images "
                "that have none.",
            ),
        ),
    ),
)


QUESTIONS = (
    Question(
        "06.P1",
        "The poly schedule without warm-up, peak 1e-3, over 1,000 steps: what is its learning rate "
        "at step 500, half way?",
        Number(1e-3 * 0.5**0.9, "", rel_tol=0.03),
        "poly multiplies the peak by (1 - t)^0.9 with t = 500 / 1,000 = 0.5: 1e-3 x 0.5^0.9 = "
        "5.36e-4, not the 5e-4 of a straight line. A power below 1 keeps the rate above the line "
        "for most of the run and lowers it faster at the end.",
    ),
)
