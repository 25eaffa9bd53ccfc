"""Lesson 05's exercise: MiDaS's scale-and-shift-invariant loss with a valid mask, written from
its formula and held against :mod:`depthnb.losses`; and its questions: what the SSI loss of a
scaled and shifted guess is, and which Laplace scale b a pixel's error asks for.

MiDaS's loss has two right reductions over a batch. The paper averages each image's loss over
its own valid pixels, then averages the images. The released code divides the batch's sum by the
batch's valid pixels by default ("batch-based"), as :func:`depthnb.losses.ssi_loss` does. The
check accepts both and says which one an answer follows."""

from __future__ import annotations

import torch

from depthnb.course.exercises.checker import Accepted, Case, Exercise, Mistake
from depthnb.course.exercises.questions import Choice, Number, Question
from depthnb.losses import composite as losses


# ------------------------------------------------------------------------- 05.1 SSI with a mask
def _ssi(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B,1,H,W) inverse depth up to scale and shift, and the true inverse depth 1/z; (B,1,H,W)
    bool -> scalar."""
    return losses.ssi_loss(pred, target, valid)


def _ssi_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (batch, height, width) in (
        ("a batch of 3 at 6x8", (3, 6, 8)),
        ("a batch of 2 at an odd size 7x5 with invalid pixels", (2, 7, 5)),
        ("a batch of one at 4x6 with invalid pixels", (1, 4, 6)),
    ):
        target = 1 / (0.5 + 9.5 * torch.rand(batch, 1, height, width, generator=generator))
        scale = torch.linspace(-2.0, 30.0, batch).view(-1, 1, 1, 1)  # one image upside down
        noise = 0.2 * torch.randn(target.shape, generator=generator)
        pred = scale * target + 0.5 + noise
        valid = torch.ones_like(target, dtype=torch.bool)
        if "invalid" in label:
            valid = torch.rand(target.shape, generator=generator) > 0.3
            valid[0, 0, :, 0] = False  # images with different numbers of valid pixels
            target = torch.where(valid, target, torch.full_like(target, 5.0))  # outliers there
        cases.append(Case(label, (pred, target, valid)))
    return cases


def _fit(p: torch.Tensor, g: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares s, t per row of (N,P) values over the True entries of ``mask``, (N,) each."""
    count = mask.sum(1)
    p_mean = (p * mask).sum(1) / count
    g_mean = (g * mask).sum(1) / count
    p_c, g_c = (p - p_mean[:, None]) * mask, (g - g_mean[:, None]) * mask
    s = (p_c * g_c).sum(1) / (p_c * p_c).sum(1)
    return s, g_mean - s * p_mean


def _squared_residuals(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, s: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """(B,P) squared residuals, 0 outside ``valid``, for per-image s, t (B,)."""
    p, g, mask = pred.flatten(1), target.flatten(1), valid.flatten(1)
    return ((s[:, None] * p + t[:, None] - g) * mask) ** 2


def _ssi_no_shift(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    p, g, mask = pred.flatten(1), target.flatten(1), valid.flatten(1)
    s = (p * g * mask).sum(1) / (p * p * mask).sum(1)
    return _squared_residuals(pred, target, valid, s, torch.zeros_like(s)).sum() / (2 * mask.sum())


def _ssi_per_image(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The paper's reduction: each image's residuals over 2 M_n (its own valid pixels), then the
    mean over the images."""
    mask = valid.flatten(1)
    s, t = _fit(pred.flatten(1), target.flatten(1), mask)
    residuals = _squared_residuals(pred, target, valid, s, t)
    return (residuals.sum(1) / (2 * mask.sum(1))).mean()


def _ssi_no_half(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    mask = valid.flatten(1)
    s, t = _fit(pred.flatten(1), target.flatten(1), mask)
    return _squared_residuals(pred, target, valid, s, t).sum() / mask.sum()


def _ssi_unmasked(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    everywhere = torch.ones_like(valid)
    s, t = _fit(pred.flatten(1), target.flatten(1), everywhere.flatten(1))
    return _squared_residuals(pred, target, everywhere, s, t).sum() / (2 * valid.numel())


def _ssi_one_fit(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    mask = valid.flatten(1)
    s, t = _fit(pred.reshape(1, -1), target.reshape(1, -1), mask.reshape(1, -1))
    batch = pred.shape[0]
    residuals = _squared_residuals(pred, target, valid, s.expand(batch), t.expand(batch))
    return residuals.sum() / (2 * mask.sum())


EXERCISES = (
    Exercise(
        key="05.1",
        title="MiDaS's scale-and-shift-invariant loss with a valid mask",
        difficulty="substantial",
        reference=_ssi,
        hides=("depthnb.losses.ssi_loss", "depthnb.metrics.align.fit_scale_shift"),
        cases=_ssi_cases,
        note=(
            "You divided the batch's sum by 2M, M the valid pixels of the whole batch: the "
            'released code\'s default ("batch-based"), so an image with more valid pixels '
            "weighs more. The paper averages each image over its own valid pixels, then the "
            "images; the check accepts that too."
        ),
        accepted=(
            Accepted(
                "per image",
                _ssi_per_image,
                "You averaged each image over its own valid pixels, then the images: the MiDaS "
                "paper's reduction, every image weighs the same. The released code (and "
                "depthnb.losses.ssi_loss) divides the batch's sum by 2M instead, M the valid "
                "pixels of the whole batch; the check accepts both.",
            ),
        ),
        mistakes=(
            Mistake(
                "no shift",
                _ssi_no_shift,
                "the fit has a scale but no shift: fit s and t together, s from the centred "
                "values, t = mean(target) - s mean(pred); an inverse depth known up to a shift "
                "needs both.",
            ),
            Mistake(
                "no half",
                _ssi_no_half,
                "twice the expected loss: the paper's loss is the sum of squared residuals over "
                "2M.",
            ),
            Mistake(
                "mask forgotten",
                _ssi_unmasked,
                "invalid pixels count: fit s and t over the valid pixels only, and sum residuals "
                "there only; M is the number of valid pixels.",
            ),
            Mistake(
                "one fit per batch",
                _ssi_one_fit,
                "one scale and shift for the whole batch: fit s and t per image, each image's "
                "inverse depth has its own unknown scale and shift.",
            ),
        ),
    ),
)


QUESTIONS = (
    Question(
        "05.P1",
        "How does the SSI loss of 7 * guess + 3 compare with the SSI loss of guess, a random map, "
        "against the same true inverse depth?",
        Choice(
            {
                "a": "49 times the loss of guess",
                "b": "7 times the loss of guess",
                "c": "the same as the loss of guess",
                "d": "0: a scaled and shifted map is a perfect prediction",
            },
            correct="c",
        ),
        "The loss first fits its own scale s and shift t to each image. For 7 * guess + 3 it finds "
        "s / 7 and t - 3 s / 7: the same aligned map as for guess, so the same residuals and the "
        "same loss. Only the shape is charged, and a random map's shape stays as wrong after any "
        "scale and shift.",
    ),
    Question(
        "05.P2",
        "Which Laplace scale b gives the smallest negative log-likelihood |error| / b + log b to a "
        "pixel whose predicted log depth is off by 0.2 (about 20 %)?",
        Number(0.2, "", abs_tol=0.02),
        "The derivative in b, -|error| / b^2 + 1 / b, is zero at b = |error| = 0.2. A smaller b "
        "makes the first term explode; a larger one pays log b for nothing. So a network that "
        "predicts b learns to predict its own absolute error.",
    ),
)
