"""Lesson 11's exercises: the intrinsics a photo of unknown camera is given, how a lens other
than the training camera's moves a network's metres, and the explorer's error map."""

from __future__ import annotations

import math

import torch

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Choice, Question
from depthnb.geometry import intrinsics_from_fov
from depthnb.viz.colors import abs_rel_map

# 10.1: intrinsics from a horizontal field of view.


def _from_fov(size: tuple[int, int], fov_deg: float) -> torch.Tensor:
    """Image size (H, W) in pixels, horizontal field of view in degrees -> (4,) fx, fy, cx, cy."""
    return torch.from_numpy(intrinsics_from_fov(size, fov_deg))


def _fov_cases(generator: torch.Generator) -> list[Case]:
    return [
        Case("a 480x640 (H x W) photo at 65 degrees", ((480, 640), 65.0)),
        Case("a 120x160 image at 90 degrees", ((120, 160), 90.0)),
        Case("a portrait 640x480 photo at 70 degrees", ((640, 480), 70.0)),
        Case("an odd size 5x7 at 40 degrees", ((5, 7), 40.0)),
    ]


def _intrinsics(fx: float, cx: float, cy: float) -> torch.Tensor:
    return torch.tensor([fx, fx, cx, cy], dtype=torch.float32)


def _whole_angle(size: tuple[int, int], fov_deg: float) -> torch.Tensor:
    height, width = size
    fx = (width / 2) / math.tan(math.radians(fov_deg))
    return _intrinsics(fx, (width - 1) / 2, (height - 1) / 2)


def _whole_width(size: tuple[int, int], fov_deg: float) -> torch.Tensor:
    height, width = size
    fx = width / math.tan(math.radians(fov_deg) / 2)
    return _intrinsics(fx, (width - 1) / 2, (height - 1) / 2)


def _corner_centre(size: tuple[int, int], fov_deg: float) -> torch.Tensor:
    height, width = size
    fx = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    return _intrinsics(fx, width / 2, height / 2)


def _vertical_fov(size: tuple[int, int], fov_deg: float) -> torch.Tensor:
    height, width = size
    fx = (height / 2) / math.tan(math.radians(fov_deg) / 2)
    return _intrinsics(fx, (width - 1) / 2, (height - 1) / 2)


def _degrees_to_tan(size: tuple[int, int], fov_deg: float) -> torch.Tensor:
    height, width = size
    fx = (width / 2) / math.tan(fov_deg / 2)
    return _intrinsics(fx, (width - 1) / 2, (height - 1) / 2)


# 10.2: the factor by which a metric network's depths come out through another lens.


def _depth_factor(train_fov_deg: float, photo_fov_deg: float) -> float:
    """Horizontal fields of view (degrees) of the training camera and of the photo's (same image
    width) -> predicted depth / true depth, from apparent size alone."""
    train = intrinsics_from_fov((480, 640), train_fov_deg)
    photo = intrinsics_from_fov((480, 640), photo_fov_deg)
    return float(train[0] / photo[0])


def _lens_cases(generator: torch.Generator) -> list[Case]:
    return [
        Case("a phone (68 degrees) against NYU's Kinect (63.3)", (63.3, 68.0)),
        Case("a zoom (40 degrees) against the Kinect", (63.3, 40.0)),
        Case("a 60 degree photo for a network trained at 90", (90.0, 60.0)),
        Case("the training camera itself (63.3 degrees)", (63.3, 63.3)),
    ]


def _half_tan(fov_deg: float) -> float:
    return math.tan(math.radians(fov_deg) / 2)


def _factor_inverted(train_fov_deg: float, photo_fov_deg: float) -> float:
    return _half_tan(train_fov_deg) / _half_tan(photo_fov_deg)


def _ratio_of_angles(train_fov_deg: float, photo_fov_deg: float) -> float:
    return photo_fov_deg / train_fov_deg


def _whole_angle_tangents(train_fov_deg: float, photo_fov_deg: float) -> float:
    return math.tan(math.radians(photo_fov_deg)) / math.tan(math.radians(train_fov_deg))


# 10.3: the error map the explorer draws.


def _error_map(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """pred, target (H,W) metres, valid (H,W) bool -> (H,W) |pred - target| / target, NaN where
    unknown."""
    return torch.from_numpy(abs_rel_map(pred, target, valid))


def _error_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (height, width) in (("a 12x16 map", (12, 16)), ("an odd size 7x5", (7, 5))):
        target = 0.5 + 9.0 * torch.rand(height, width, generator=generator)
        pred = target * torch.exp(0.3 * torch.randn(height, width, generator=generator))
        cases.append(Case(label, (pred, target, torch.ones_like(target, dtype=torch.bool))))
    pred, target, _ = cases[0].args
    holes = target.clone()
    holes[::3, ::4] = 0.0
    valid = holes > 0
    valid[:, :2] = False  # measured, but outside the region to score
    cases.append(
        Case("invalid pixels (target 0, and valid False where target > 0)", (pred, holes, valid))
    )
    return cases


def _unknown(target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return ~(valid & (target > 0))


def _over_pred(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return ((pred - target).abs() / pred).masked_fill(_unknown(target, valid), float("nan"))


def _zero_where_unknown(
    pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    return ((pred - target).abs() / target).masked_fill(_unknown(target, valid), 0.0)


def _signed(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return ((pred - target) / target).masked_fill(_unknown(target, valid), float("nan"))


def _valid_ignored(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return ((pred - target).abs() / target).masked_fill(target <= 0, float("nan"))


EXERCISES = (
    Exercise(
        key="11.1",
        title="intrinsics from a field of view",
        difficulty="quick",
        reference=_from_fov,
        hides=("depthnb.viz.intrinsics_from_fov",),
        cases=_fov_cases,
        mistakes=(
            Mistake(
                "whole angle",
                _whole_angle,
                "fx is too small: the half-width W / 2 sees HALF the field of view, so "
                "fx = (W / 2) / tan(fov / 2), not tan(fov).",
            ),
            Mistake(
                "whole width",
                _whole_width,
                "fx is twice too large: the optical axis is at the centre, so half the width, "
                "W / 2, spans half the angle: fx = (W / 2) / tan(fov / 2).",
            ),
            Mistake(
                "corner centre",
                _corner_centre,
                "the principal point is half a pixel off: pixel centres run from 0 to W - 1, so "
                "the middle is cx = (W - 1) / 2, cy = (H - 1) / 2.",
            ),
            Mistake(
                "vertical fov",
                _vertical_fov,
                "you used the height for fx: the field of view is horizontal, across the width W "
                "(fy = fx: square pixels).",
            ),
            Mistake(
                "degrees in tan",
                _degrees_to_tan,
                "math.tan takes radians: convert the field of view first, math.radians(fov_deg).",
            ),
        ),
    ),
    Exercise(
        key="11.2",
        title="a network's metres through another lens",
        difficulty="quick",
        reference=_depth_factor,
        cases=_lens_cases,
        mistakes=(
            Mistake(
                "factor inverted",
                _factor_inverted,
                "upside down: a narrower field of view (a longer lens, larger f') makes things "
                "look larger, so the network predicts NEARER: the factor is f / f' < 1 for a zoom.",
            ),
            Mistake(
                "ratio of angles",
                _ratio_of_angles,
                "apparent size goes with the focal length, not the angle: compare "
                "f = (W / 2) / tan(fov / 2) of the two cameras, factor f_train / f_photo.",
            ),
            Mistake(
                "whole-angle tangents",
                _whole_angle_tangents,
                "use half angles: f = (W / 2) / tan(fov / 2), so the factor is "
                "tan(fov_photo / 2) / tan(fov_train / 2).",
            ),
        ),
    ),
    Exercise(
        key="11.3",
        title="the explorer's error map",
        difficulty="medium",
        reference=_error_map,
        hides=("depthnb.viz.abs_rel_map",),
        cases=_error_cases,
        mistakes=(
            Mistake(
                "divided by pred",
                _over_pred,
                "you divided by the prediction: the error is relative to the TRUE depth, "
                "|pred - target| / target.",
            ),
            Mistake(
                "zero where unknown",
                _zero_where_unknown,
                "unknown pixels are 0, which the colour map draws as a perfect prediction: "
                "put NaN there (drawn black), where valid is False or target <= 0.",
            ),
            Mistake(
                "signed",
                _signed,
                "some errors are negative: take the absolute value, |pred - target| / target.",
            ),
            Mistake(
                "valid ignored",
                _valid_ignored,
                "pixels where valid is False still get an error: NaN wherever valid is False, "
                "not only where target is 0.",
            ),
        ),
    ),
)

_NEARER_SAME_FARTHER = {
    "a": "nearer than the wall (by more than 10 %)",
    "b": "about the wall's depth (within 10 %)",
    "c": "farther than the wall (by more than 10 %)",
}

QUESTIONS = (
    Question(
        "11.P1",
        "How does the course U-Net score on Middlebury's Motorcycle, a real scene with true "
        "depth, against the best constant depth? That constant (one value for every pixel, chosen "
        "knowing the truth) scores abs_rel 0.20; the course U-Net learnt from synthetic rooms "
        "only.",
        Choice(
            {
                "a": "clearly better than the constant (below 0.15)",
                "b": "a little better (0.15 to 0.20)",
                "c": "worse than the constant (above 0.20)",
            },
            correct="c",
        ),
        "(c): about 0.23, worse than a single number. On synthetic rooms, the kind of scene it "
        "learnt from, it beats the constant by far. A garage with a motorcycle looks like none of "
        "its training rooms: its textures, lighting and objects are new. That is dataset bias: a "
        "network is only as good as its training set is like your scene.",
    ),
    Question(
        "11.P2",
        "What depth does the course U-Net give inside the mirror of the mirror COMPOSITE? The "
        "mirror hangs on the back wall, about 4.6 m from the camera; take the median over the "
        "mirror.",
        Choice(_NEARER_SAME_FARTHER, correct="a"),
        "(a): about 2.9 m, against the wall's 4.6 m. But the plain wall, without the mirror, gets "
        "2.8 m too: the course U-Net does not see the mirror at all. It puts the whole real scene "
        "far too near, because its metres come from synthetic rooms. Networks trained on real "
        "photographs often read a mirror's reflection as a room behind the wall, farther than "
        "the wall. In full mode, compare DenseDepth's and Depth Anything's mirror with the wall.",
    ),
    Question(
        "11.P3",
        "What depth does the course U-Net give the sky of the rocket photograph? Take the median "
        "over the sky above the launch pad.",
        Choice(
            {
                "a": "a few metres, like a room's far wall",
                "b": "far beyond everything else in the picture (over 10 m)",
                "c": "less than 1 m",
            },
            correct="a",
        ),
        "(a): about 2.7 m. The course U-Net has only seen rooms, whose far walls lie a few metres "
        "away: it has no notion of very far. Sky has no depth at all, and no ground truth covers "
        "it (a Kinect or a LiDAR gets no return), so what a network says there is never checked "
        "in training. A metric network trained indoors answers sky with its largest room depths; "
        "one trained outdoors, with its largest distance.",
    ),
    Question(
        "11.P4",
        "What depth does the course U-Net give a cup seen from straight above, at arm's length? "
        "In the coffee photograph the cup is well under a metre from the camera; take the median "
        "over the cup.",
        Choice(
            {"a": "under 1 m", "b": "1 to 5 m", "c": "over 5 m"},
            correct="b",
        ),
        "(b): about 3.3 m. The course U-Net learnt its metres from rooms seen from head height, "
        "looking across a floor. A camera looking straight down from half a metre is a height "
        "and an angle it never saw, so it answers in a room's metres. A doll's house does the "
        "same to the priors on sizes: one image fixes depth only up to a factor.",
    ),
)
