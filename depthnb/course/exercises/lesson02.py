"""Lesson 02's exercises: a horizontal flip that keeps the intrinsics right, and FCRN's scale
augmentation (zoom, crop, depth / k) with its intrinsics; and its questions: the principal point
after a flip, and the 3D points after a zoom."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Choice, Number, Question
from depthnb.data.functional import hflip, scale
from depthnb.geometry import scale_intrinsics


def _flip(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(3,H,W) image, (1,H,W) depth, (4,) fx, fy, cx, cy -> the same three, mirrored left-right."""
    sample = {"image": image, "depth": depth, "valid": depth > 0, "intrinsics": intrinsics}
    flipped = hflip(sample)
    return flipped["image"], flipped["depth"], flipped["intrinsics"]


def _flip_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (height, width) in (("a 24x32 sample", (24, 32)), ("an odd size 7x5", (7, 5))):
        image = torch.rand(3, height, width, generator=generator)
        depth = 0.5 + 9.5 * torch.rand(1, height, width, generator=generator)
        fx, fy = (40 + 20 * torch.rand(2, generator=generator)).tolist()
        cx, cy = (width - 1) / 2 + 2.5, (height - 1) / 2 - 1.5  # off-centre: a flip moves it
        cases.append(Case(label, (image, depth, torch.tensor([fx, fy, cx, cy]))))
    image, depth, intrinsics = cases[0].args
    holes = depth.clone()
    holes[:, ::3, ::4] = 0.0  # unknown depth: it moves with its pixel, still 0
    cases.append(Case("a sample with invalid (zero) depth", (image, holes, intrinsics)))
    return cases


def _cx_unchanged(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return image.flip(-1), depth.flip(-1), intrinsics.clone()


def _cx_from_edge(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    fx, fy, cx, cy = intrinsics.tolist()
    return image.flip(-1), depth.flip(-1), torch.tensor([fx, fy, image.shape[-1] - cx, cy])


def _upside_down(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    fx, fy, cx, cy = intrinsics.tolist()
    return image.flip(-2), depth.flip(-2), torch.tensor([fx, fy, image.shape[-1] - 1 - cx, cy])


def _depth_not_flipped(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    fx, fy, cx, cy = intrinsics.tolist()
    return image.flip(-1), depth, torch.tensor([fx, fy, image.shape[-1] - 1 - cx, cy])


Triple = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _zoom(image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor, k: float) -> Triple:
    """(3,H,W) image, (1,H,W) depth (0 = unknown), (4,) fx, fy, cx, cy, factor k >= 1 -> the
    sample enlarged by k, centre-cropped back to (H,W), depth / k: the same three shapes."""
    sample = {"image": image, "depth": depth, "valid": depth > 0, "intrinsics": intrinsics}
    zoomed = scale(sample, k)
    return zoomed["image"], zoomed["depth"], zoomed["intrinsics"]


def _zoom_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (height, width), k in (
        ("a 24x32 sample, k = 1.4", (24, 32), 1.4),
        ("an odd size 7x5, k = 1.5", (7, 5), 1.5),
    ):
        image = torch.rand(3, height, width, generator=generator)
        depth = 0.5 + 9.5 * torch.rand(1, height, width, generator=generator)
        fx, fy = (40 + 20 * torch.rand(2, generator=generator)).tolist()
        cx, cy = (width - 1) / 2 + 2.5, (height - 1) / 2 - 1.5
        cases.append(Case(label, (image, depth, torch.tensor([fx, fy, cx, cy]), k)))
    image, depth, intrinsics, _ = cases[0].args
    holes = depth.clone()
    holes[:, 4:9, 6:12] = 0.0  # a hole: its zeros must not blend into the depths around it
    cases.append(
        Case("a sample with a hole (zero depth), k = 1.25", (image, holes, intrinsics, 1.25))
    )
    return cases


def _zoom_parts(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor, k: float, depth_mode: str
) -> tuple[Triple, tuple[int, int]]:
    """The zoom written out: image, depth resampled with ``depth_mode`` (not yet / k) and the
    intrinsics before the crop, and the crop's (top, left); each mistake gets one step wrong."""
    height, width = image.shape[-2:]
    big = max(height, round(height * k)), max(width, round(width * k))
    enlarged = F.interpolate(image[None], size=big, mode="bilinear", align_corners=False)[0]
    resampled = F.interpolate(depth[None], size=big, mode=depth_mode)[0]
    scaled = torch.tensor(scale_intrinsics(intrinsics.tolist(), (height, width), big))
    top, left = (big[0] - height) // 2, (big[1] - width) // 2
    window = (slice(None), slice(top, top + height), slice(left, left + width))
    return (enlarged[window], resampled[window], scaled), (top, left)


def _shifted(intrinsics: torch.Tensor, top: int, left: int) -> torch.Tensor:
    return intrinsics - torch.tensor([0.0, 0.0, left, top])


def _depth_not_divided(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor, k: float
) -> Triple:
    (picture, resampled, scaled), (top, left) = _zoom_parts(
        image, depth, intrinsics, k, "nearest-exact"
    )
    return picture, resampled, _shifted(scaled, top, left)


def _bilinear_depth(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor, k: float
) -> Triple:
    (picture, resampled, scaled), (top, left) = _zoom_parts(image, depth, intrinsics, k, "bilinear")
    return picture, resampled / k, _shifted(scaled, top, left)


def _crop_offset_forgotten(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor, k: float
) -> Triple:
    (picture, resampled, scaled), _ = _zoom_parts(image, depth, intrinsics, k, "nearest-exact")
    return picture, resampled / k, scaled


def _intrinsics_unchanged(
    image: torch.Tensor, depth: torch.Tensor, intrinsics: torch.Tensor, k: float
) -> Triple:
    (picture, resampled, _), _ = _zoom_parts(image, depth, intrinsics, k, "nearest-exact")
    return picture, resampled / k, intrinsics.clone()


EXERCISES = (
    Exercise(
        key="02.1",
        title="a horizontal flip that keeps the geometry",
        difficulty="medium",
        reference=_flip,
        hides=("depthnb.data.functional.hflip",),
        cases=_flip_cases,
        mistakes=(
            Mistake(
                "cx unchanged",
                _cx_unchanged,
                "the pictures are right but cx did not move: the principal point is mirrored "
                "too, cx' = W - 1 - cx (fx, fy and cy stay).",
            ),
            Mistake(
                "cx from the edge",
                _cx_from_edge,
                "cx is one pixel off: pixel centres run from u = 0 to u = W - 1, so the mirror "
                "maps cx to W - 1 - cx, not W - cx.",
            ),
            Mistake(
                "upside down",
                _upside_down,
                "the sample was flipped upside down: a horizontal flip reverses the columns, the "
                "last axis of a (C,H,W) tensor (flip(-1)), not the rows (flip(-2)).",
            ),
            Mistake(
                "depth not flipped",
                _depth_not_flipped,
                "only the image moved: the depth map (and valid) must be mirrored with it, or "
                "every pixel's depth belongs to the pixel on the other side.",
            ),
        ),
    ),
    Exercise(
        key="02.2",
        title="FCRN's scale augmentation with its intrinsics",
        difficulty="substantial",
        reference=_zoom,
        hides=("depthnb.data.functional.scale",),
        cases=_zoom_cases,
        mistakes=(
            Mistake(
                "depth not divided",
                _depth_not_divided,
                "the depths are k times too large: Eigen et al.'s scale augmentation labels the "
                "enlarged picture as a scene k times nearer, so divide the depth by k.",
            ),
            Mistake(
                "bilinear depth",
                _bilinear_depth,
                "your depths are blended: resample depth with mode='nearest-exact', so every "
                "output depth is a depth of the input (bilinear mixes a surface with a hole's 0 "
                "and invents depths between two surfaces).",
            ),
            Mistake(
                "crop offset forgotten",
                _crop_offset_forgotten,
                "fx and fy are right but cx and cy are too large: the centre crop moves the "
                "principal point by its offset, cx' = (cx + 0.5) sx - 0.5 - left (cy' likewise, "
                "with sy and top).",
            ),
            Mistake(
                "intrinsics unchanged",
                _intrinsics_unchanged,
                "the pictures are right but the intrinsics did not change: enlarging scales the "
                "focal lengths (fx' = fx sx) and the principal point, and the crop moves it.",
            ),
        ),
    ),
)

QUESTIONS = (
    Question(
        "02.P1",
        "Motorcycle at scikit-image's size is 741 px wide, with its principal point at cx = "
        "311.19 px: what is cx after a horizontal flip, in pixels?",
        Number(428.81, "px", abs_tol=0.5),
        "Pixel centres run from u = 0 to u = W - 1, so a flip sends column u to column W - 1 - u, "
        "and the principal point with it: cx' = 741 - 1 - 311.19 = 428.81 px. W - cx = 429.81 px "
        "is one pixel off. A cx left at 311.19 px would put the optical axis on the wrong side "
        "of the centre, and every back-projected point would move.",
    ),
    Question(
        "02.P2",
        "After T.scale(sample, k), how does the 3D point seen at a pixel of the result compare "
        "with the point seen at the pixel of the original it came from?",
        Choice(
            {
                "a": "they are the same point (a zoom changes no depth)",
                "b": "the zoomed one is the original divided by k",
                "c": "the zoomed one is the original times k",
            },
            correct="b",
        ),
        "The depth z is divided by k (Eigen et al.'s labelling). In x = (u - cx) z / fx, the "
        "pixel's offset u - cx grows by k and so does fx, so x shrinks by k as z does (y too): "
        "every point is divided by k. The labelled scene is the room shrunk by k, seen through a "
        "lens k times longer. (a) holds for a real zoom, which leaves depth as it was; the "
        "labelling changes it.",
    ),
)
