"""Lesson 08's exercise: a relative network's inverse depth aligned to the ground truth (zero-shot
evaluation). The package says "disparity" (``align_in_disparity``) where the lessons say inverse
depth, rho = 1/z."""

from __future__ import annotations

import torch

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.lesson07 import _scene, _with_holes
from depthnb.course.exercises.questions import Choice, Question
from depthnb.encodings import MIN_DEPTH
from depthnb.metrics.align import align_in_disparity


def _aligned(
    disparity: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, max_depth: float
) -> torch.Tensor:
    """disparity (B,1,H,W) relative inverse depth (larger is nearer), target (B,1,H,W) metres
    (0: unknown), valid (B,1,H,W) bool, max_depth metres -> depth (B,1,H,W) metres in
    [1e-3, max_depth]."""
    return align_in_disparity(disparity, target, valid, MIN_DEPTH, max_depth)


def _alignment_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (batch, height, width) in (
        ("a batch of 2 at 12x16", (2, 12, 16)),
        ("a batch of one at an odd size 7x5", (1, 7, 5)),
    ):
        target, _ = _scene(generator, batch, height, width)
        scale = 2.0 + 3.0 * torch.rand(batch, 1, 1, 1, generator=generator)
        shift = 0.2 + 0.5 * torch.rand(batch, 1, 1, 1, generator=generator)
        noise = 0.03 * torch.randn(batch, 1, height, width, generator=generator)
        disparity = scale / target + shift + noise  # the true inverse depth, up to its own s and t
        cases.append(
            Case(label, (disparity, target, torch.ones_like(target, dtype=torch.bool), 10.0))
        )
    disparity, target, _, _ = cases[0].args
    holes_target, holes_valid = _with_holes(target)
    sky = disparity.clone()
    sky[holes_target == 0] = 0.05  # far below the shift: aligned, a negative inverse depth
    cases.append(
        Case(
            "invalid pixels and a far 'sky' (no ground truth)",
            (sky, holes_target, holes_valid, 10.0),
        )
    )
    cases.append(Case("KITTI's cap, max_depth 80 m", (sky, holes_target, holes_valid, 80.0)))
    return cases


def _fit(y: torch.Tensor, target: torch.Tensor, with_shift: bool = True) -> tuple[float, float]:
    """Least-squares s, t (t = 0 without shift) for s rho + t ~ target, 1-D float64 each."""
    if not with_shift:
        return float((y * target).sum() / (y * y).sum()), 0.0
    y_centred = y - y.mean()
    scale = (y_centred * (target - target.mean())).sum() / (y_centred * y_centred).sum()
    return float(scale), float(target.mean() - scale * y.mean())


def _per_image(
    disparity: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    max_depth: float,
    to_depth: str = "invert, clamped",
    with_shift: bool = True,
) -> torch.Tensor:
    """The alignment with the choices a mistake changes: ``to_depth`` is how the fitted values
    become depth ("invert, clamped", "invert", or "fitted to depth": no inversion at all)."""
    images = []
    for y, g, m in zip(disparity.double(), target.double(), valid & (target > 0)):
        target = g[m] if to_depth == "fitted to depth" else 1 / g[m]
        scale, shift = _fit(y[m], target, with_shift)
        fitted = scale * y + shift
        if to_depth == "fitted to depth":
            images.append(fitted.clamp(MIN_DEPTH, max_depth))
        elif to_depth == "invert":
            images.append(1 / fitted)
        else:
            images.append(1 / fitted.clamp(1 / max_depth, 1 / MIN_DEPTH))
    return torch.stack(images).float()


def _fitted_to_depth(
    disparity: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, max_depth: float
) -> torch.Tensor:
    return _per_image(disparity, target, valid, max_depth, "fitted to depth")


def _scale_only(
    disparity: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, max_depth: float
) -> torch.Tensor:
    return _per_image(disparity, target, valid, max_depth, with_shift=False)


def _no_clamp(
    disparity: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, max_depth: float
) -> torch.Tensor:
    return _per_image(disparity, target, valid, max_depth, "invert")


def _one_fit_for_the_batch(
    disparity: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, max_depth: float
) -> torch.Tensor:
    mask = valid & (target > 0)
    scale, shift = _fit(disparity[mask].double(), 1 / target[mask].double())
    return (1 / (scale * disparity.double() + shift).clamp(1 / max_depth, 1 / MIN_DEPTH)).float()


EXERCISES = (
    Exercise(
        key="08.1",
        title="aligning a relative network in inverse depth",
        difficulty="substantial",
        reference=_aligned,
        hides=(
            "depthnb.metrics.align_in_disparity",
            "depthnb.metrics.align_scale_shift",
            "depthnb.metrics.align.fit_scale_shift",
        ),
        cases=_alignment_cases,
        mistakes=(
            Mistake(
                "fitted to depth",
                _fitted_to_depth,
                "you fitted s rho + t to the depth z: the network predicts inverse depth, so fit "
                "it to 1 / z, then return 1 / (s rho + t).",
            ),
            Mistake(
                "scale only",
                _scale_only,
                "no shift: a relative network's inverse depth is known up to a scale AND a shift, "
                "fit both (least squares with the design rows [rho, 1]).",
            ),
            Mistake(
                "no clamp",
                _no_clamp,
                "some depths are negative or beyond max_depth: clamp the aligned inverse depth to "
                "[1 / max_depth, 1 / 1e-3] before inverting it.",
            ),
            Mistake(
                "one fit for the batch",
                _one_fit_for_the_batch,
                "one s, t for the whole batch: fit each image on its own valid pixels.",
            ),
        ),
    ),
)

QUESTIONS = (
    Question(
        "08.P1",
        "Will the course U-Net, trained on synthetic box rooms only, beat the constant on "
        "Middlebury's Motorcycle, as predicted (no alignment)? The constant puts the median true "
        "depth, 2.75 m, at every pixel.",
        Choice(
            {
                "a": "Yes, on every metric: any trained network beats a constant",
                "b": "On some metrics, not on others",
                "c": "No: the constant is better on every metric",
            },
            correct="c",
        ),
        "It loses on delta1, abs_rel, rmse, log10 and SILog. Its metres are not far off (the "
        "median of its prediction is within a tenth of the truth's), but the layout it predicts is "
        "a smooth blur learnt from box rooms, worse than a flat map: dataset bias. A network beats "
        "the constant on data like its training data, not on any photograph.",
    ),
)
