"""Lesson 09's exercises: back-projection written from the pinhole formula, and intrinsics after
a resize."""

from __future__ import annotations

import torch

from depthnb.course.exercises.checker import Case, Exercise, Mistake
from depthnb.course.exercises.questions import Choice, Number, Question
from depthnb.geometry import backproject, scale_intrinsics


def _back_project(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """(H,W) metres, (4,) fx, fy, cx, cy -> (H,W,3) camera-frame points X, Y, Z."""
    return backproject(depth[None, None], intrinsics)[0].permute(1, 2, 0)


def _back_project_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (height, width) in (("a 48x64 map", (48, 64)), ("an odd size 7x5", (7, 5))):
        depth = 0.5 + 9.5 * torch.rand(height, width, generator=generator)
        fx, fy = 40 + 20 * torch.rand(2, generator=generator)
        cx, cy = (width - 1) / 2 + 3.0, (height - 1) / 2 - 2.0  # off-centre: catches a swap
        cases.append(Case(label, (depth, torch.tensor([fx, fy, cx, cy]))))
    holes = cases[0].args[0].clone()
    holes[::3, ::4] = 0.0  # no depth there: the point is (0, 0, 0), not dropped
    cases.append(Case("a map with invalid (zero) pixels", (holes, cases[0].args[1])))
    return cases


def _pixel_grid(depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """u (column) and v (row) of every pixel, (H,W) each."""
    v, u = torch.meshgrid(
        torch.arange(depth.shape[0], dtype=torch.float32),
        torch.arange(depth.shape[1], dtype=torch.float32),
        indexing="ij",
    )
    return u, v


def _mirrored(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    fx, fy, cx, cy = intrinsics.tolist()
    u, v = _pixel_grid(depth)
    return torch.stack([(cx - u) * depth / fx, (v - cy) * depth / fy, depth], dim=-1)


def _u_v_swapped(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    fx, fy, cx, cy = intrinsics.tolist()
    u, v = _pixel_grid(depth)
    return torch.stack([(v - cx) * depth / fx, (u - cy) * depth / fy, depth], dim=-1)


def _times_focal(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    fx, fy, cx, cy = intrinsics.tolist()
    u, v = _pixel_grid(depth)
    return torch.stack([(u - cx) * depth * fx, (v - cy) * depth * fy, depth], dim=-1)


def _no_depth(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    fx, fy, cx, cy = intrinsics.tolist()
    u, v = _pixel_grid(depth)
    return torch.stack([(u - cx) / fx, (v - cy) / fy, depth], dim=-1)


def _resized(intrinsics: torch.Tensor, old: tuple[int, int], new: tuple[int, int]) -> torch.Tensor:
    """fx, fy, cx, cy for an image resized from ``old`` (H, W) to ``new`` (H, W)."""
    return torch.tensor(scale_intrinsics(intrinsics.tolist(), old, new), dtype=torch.float32)


def _resized_cases(generator: torch.Generator) -> list[Case]:
    k = torch.tensor([518.9, 519.5, 325.6, 253.7])
    return [
        Case("480x640 to half size", (k, (480, 640), (240, 320))),
        Case("480x640 to 200x320 (another aspect)", (k, (480, 640), (200, 320))),
        Case("240x320 to twice the size", (k / 2, (240, 320), (480, 640))),
    ]


def _corner_rule(
    intrinsics: torch.Tensor, old: tuple[int, int], new: tuple[int, int]
) -> torch.Tensor:
    sy, sx = new[0] / old[0], new[1] / old[1]
    fx, fy, cx, cy = intrinsics.tolist()
    return torch.tensor([fx * sx, fy * sy, cx * sx, cy * sy])


def _one_factor(
    intrinsics: torch.Tensor, old: tuple[int, int], new: tuple[int, int]
) -> torch.Tensor:
    s = new[1] / old[1]
    fx, fy, cx, cy = intrinsics.tolist()
    return torch.tensor([fx * s, fy * s, (cx + 0.5) * s - 0.5, (cy + 0.5) * s - 0.5])


def _unchanged_focal(
    intrinsics: torch.Tensor, old: tuple[int, int], new: tuple[int, int]
) -> torch.Tensor:
    sy, sx = new[0] / old[0], new[1] / old[1]
    fx, fy, cx, cy = intrinsics.tolist()
    return torch.tensor([fx, fy, (cx + 0.5) * sx - 0.5, (cy + 0.5) * sy - 0.5])


EXERCISES = (
    Exercise(
        key="09.1",
        title="back-projection from the pinhole formula",
        difficulty="quick",
        reference=_back_project,
        hides=("depthnb.geometry.backproject",),
        cases=_back_project_cases,
        mistakes=(
            Mistake(
                "mirrored",
                _mirrored,
                "your points are mirrored in x: X = (u - cx) Z / fx, so a pixel right of the "
                "centre (u > cx) has X > 0; check the sign of (u - cx).",
            ),
            Mistake(
                "u-v swapped",
                _u_v_swapped,
                "u and v are swapped: u is the column (it goes with cx and fx), v the row "
                "(with cy and fy); torch.meshgrid(..., indexing='ij') returns rows first.",
            ),
            Mistake(
                "times focal",
                _times_focal,
                "X and Y are far too large: divide by the focal length, X = (u - cx) Z / fx; "
                "multiplying projects a point, it does not back-project a pixel.",
            ),
            Mistake(
                "no depth",
                _no_depth,
                "X and Y do not grow with depth: a pixel's ray scales with Z, so multiply "
                "(u - cx) / fx by the depth Z.",
            ),
        ),
    ),
    Exercise(
        key="09.2",
        title="intrinsics after a resize",
        difficulty="medium",
        reference=_resized,
        hides=("depthnb.geometry.scale_intrinsics",),
        cases=_resized_cases,
        mistakes=(
            Mistake(
                "corner rule",
                _corner_rule,
                "cx and cy are off by about half a pixel times (scale - 1): scale pixel centres, "
                "cx' = (cx + 0.5) kx - 0.5, the rule F.interpolate and PIL follow.",
            ),
            Mistake(
                "one factor",
                _one_factor,
                "a resize to another aspect ratio scales rows and columns differently: use "
                "ky = H'/H for fy and cy, kx = W'/W for fx and cx.",
            ),
            Mistake(
                "focal unchanged",
                _unchanged_focal,
                "the focal lengths did not change: in pixels they scale with the image, "
                "fx' = fx kx and fy' = fy ky.",
            ),
        ),
    ),
)

QUESTIONS = (
    Question(
        "09.P1",
        "How far right of the optical axis (x, in metres) is the point that the Motorcycle's "
        "pixel in column u = 611, row v = 340 sees on the front wheel, z = 2.39 m away? "
        "Middlebury's camera has fx = 995 px and its principal point at cx = 311 px.",
        Number(0.72, "m", abs_tol=0.03),
        "x = (u - cx) z / fx = 300 px * 2.39 m / 995 px = 0.72 m. The pixel is 300 px right of "
        "the principal point; at this focal length a pixel spans 2.39 m / 995 = 2.4 mm at that "
        "depth, so 300 of them span 0.72 m.",
    ),
    Question(
        "09.P2",
        "Seen from above, how wide is a cloud made with stale intrinsics, compared with one made "
        "with the updated intrinsics? The room is resized to half its size and cropped, and its "
        "cloud is made with the OLD intrinsics (the full-size focal length).",
        Choice(
            {"a": "half as wide", "b": "just as wide", "c": "twice as wide"},
            correct="a",
        ),
        "x = (u - cx) z / fx: the old fx is twice the one the halved pixels need, so every x (and "
        "y) comes out halved at every depth. z, the depth itself, does not change.",
    ),
)
