"""Lesson 13's exercises: flicker against ground truth, a relative depth video aligned to its first
frame's scale, and the warp of a source frame into the target view."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from depthnb.course.exercises.checker import Accepted, Case, Exercise, Mistake
from depthnb.course.exercises.questions import Number, Question
from depthnb.geometry import warp_source
from depthnb.video import align_to_first, flicker


def _flicker(pred: np.ndarray, target: np.ndarray, static_threshold: float) -> float:
    """(T,H,W) predicted and true depth, metres -> mean |d_t - d_{t-1}| over the pixel pairs whose
    true depth is known (> 0) in both frames and changed by less than ``static_threshold`` of
    it."""
    return flicker(pred, target, static_threshold)


def _flicker_case(generator: torch.Generator, frames: int, height: int, width: int) -> tuple:
    base = 1.0 + 4.0 * torch.rand(height, width, generator=generator)
    drift = 1 + 0.016 * (torch.rand(frames, height, width, generator=generator) - 0.5)
    share = torch.rand(frames, 1, 1, generator=generator)  # how much moves differs per frame
    moving = torch.rand(frames, height, width, generator=generator) < share
    target = base * (drift * torch.where(moving, 0.95, 1.0)).cumprod(0)  # moving: 5 % closer
    noise = 0.01 + 0.05 * torch.rand(frames, 1, 1, generator=generator)  # noisier on some frames
    pred = target * (1 + noise * torch.randn(frames, height, width, generator=generator))
    return pred.numpy(), target.numpy()


def _flicker_cases(generator: torch.Generator) -> list[Case]:
    pred, target = _flicker_case(generator, 6, 12, 16)
    odd_pred, odd_target = _flicker_case(generator, 3, 7, 5)
    holes = target.copy()
    holes[:, ::3, ::2] = 0.0  # no ground truth there, in every frame
    return [
        Case("6 frames of 12x16", (pred, target, 0.01)),
        Case("3 frames of an odd size 7x5", (odd_pred, odd_target, 0.01)),
        Case("6 frames with invalid (zero) ground truth", (pred, holes, 0.01)),
        Case("a threshold of 2 %", (pred, target, 0.02)),
    ]


def _every_pixel(pred: np.ndarray, target: np.ndarray, static_threshold: float) -> float:
    return float(np.abs(pred[1:] - pred[:-1]).mean())


def _absolute_threshold(pred: np.ndarray, target: np.ndarray, static_threshold: float) -> float:
    known = (target[1:] > 0) & (target[:-1] > 0)
    static = known & (np.abs(target[1:] - target[:-1]) < static_threshold)
    return float(np.abs(pred[1:] - pred[:-1])[static].mean())


def _unknown_counted(pred: np.ndarray, target: np.ndarray, static_threshold: float) -> float:
    static = np.abs(target[1:] - target[:-1]) <= static_threshold * target[:-1]
    return float(np.abs(pred[1:] - pred[:-1])[static].mean())


def _pairs_flicker(pred: np.ndarray, target: np.ndarray, static_threshold: float) -> float:
    """The flicker written out (the mistakes run as answers while :func:`flicker` is hidden)."""
    known = (target[1:] > 0) & (target[:-1] > 0)
    static = known & (np.abs(target[1:] - target[:-1]) < static_threshold * target[:-1])
    return float(np.abs(pred[1:] - pred[:-1])[static].mean())


def _mean_of_pairs(pred: np.ndarray, target: np.ndarray, static_threshold: float) -> float:
    means = [
        _pairs_flicker(pred[t - 1 : t + 1], target[t - 1 : t + 1], static_threshold)
        for t in range(1, len(pred))
    ]
    return float(np.mean(means))


def _align(depths: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T,H,W) depth right up to a scale per frame, (T,H,W) bool valid -> (T,H,W): frame t times
    s_t = median(depths[0] / depths[t]) over the pixels valid in both frames (s_t = 1 where they
    share none)."""
    return align_to_first(depths, valid)


def _relative_video(
    generator: torch.Generator, frames: int, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """A relative model on a still camera: the truth times a scale per frame (20 %) and pixel
    noise (5 %); about a quarter of the pixels invalid in each frame, holding nonsense there (3 to
    10 times too far), so a median over them moves."""
    truth = 1.0 + 4.0 * torch.rand(height, width, generator=generator)
    scale = torch.exp(0.2 * torch.randn(frames, 1, 1, generator=generator))
    noise = torch.exp(0.05 * torch.randn(frames, height, width, generator=generator))
    valid = torch.rand(frames, height, width, generator=generator) > 0.25
    nonsense = 3.0 + 7.0 * torch.rand(frames, height, width, generator=generator)
    depths = truth * scale * noise * torch.where(valid, 1.0, nonsense)
    return depths.numpy(), valid.numpy()


def _align_cases(generator: torch.Generator) -> list[Case]:
    depths, valid = _relative_video(generator, 8, 10, 12)
    odd_depths, odd_valid = _relative_video(generator, 5, 7, 5)
    apart = valid.copy()
    apart[3] = ~apart[0]  # frame 3 shares no valid pixel with the first: s_3 = 1
    return [
        Case("8 frames of 10x12 with invalid pixels", (depths, valid)),
        Case("5 frames of an odd size 7x5", (odd_depths, odd_valid)),
        Case("a frame sharing no valid pixel with the first", (depths, apart)),
        Case("a single frame", (depths[:1], valid[:1])),
    ]


# The mistakes are written out (they run as answers while align_to_first is hidden): each takes
# the scale of frame t from (frame 0 or the previous aligned frame, frame t, the pixels to use).

Scaler = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def _aligned_by(scale_of: Scaler, mask: str = "both", to: str = "first") -> Callable[..., Any]:
    """An alignment to the first frame (or, ``to="previous"``, to the previous aligned frame)
    with the scale computed by ``scale_of(reference, frame, used)``; ``mask`` says which pixels
    are used: "both" frames' valid pixels, frame t's "own", or "all"."""

    def align(depths: np.ndarray, valid: np.ndarray) -> np.ndarray:
        out = np.array(depths, dtype=np.float64)
        for t in range(1, len(out)):
            before = 0 if to == "first" else t - 1
            used = {
                "both": valid[before] & valid[t],
                "own": valid[t],
                "all": np.ones_like(valid[t]),
            }[mask]
            if used.any():
                out[t] = out[t] * scale_of(out[before], out[t], used)
        return out

    return align


def _median_ratio(reference: np.ndarray, frame: np.ndarray, used: np.ndarray) -> float:
    return float(np.median(reference[used] / frame[used]))


_mean_ratio = _aligned_by(lambda ref, frame, used: float(np.mean(ref[used] / frame[used])))
_to_previous = _aligned_by(_median_ratio, to="previous")
_mask_ignored = _aligned_by(_median_ratio, mask="all")
_own_mask = _aligned_by(_median_ratio, mask="own")
_inverted = _aligned_by(lambda ref, frame, used: float(np.median(frame[used] / ref[used])))
_ratio_of_medians = _aligned_by(
    lambda ref, frame, used: float(np.median(ref[used]) / np.median(frame[used]))
)


def _warp(
    source: torch.Tensor, depth: torch.Tensor, pose: torch.Tensor, intrinsics: torch.Tensor
) -> torch.Tensor:
    """(B,C,H,W) source frame, (B,1,H,W) target depth in metres, (4,4) T_{s<-t}, (4,) fx, fy, cx,
    cy -> (B,C,H,W) the source sampled bilinearly where each target pixel lands in it (border
    values outside)."""
    return warp_source(source, depth, pose, intrinsics)[0]


def _pose(yaw: float, translation: tuple[float, float, float]) -> torch.Tensor:
    c, s = math.cos(yaw), math.sin(yaw)
    pose = torch.eye(4)
    pose[:3, :3] = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    pose[:3, 3] = torch.tensor(translation)
    return pose


def _warp_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, (batch, height, width), pose in (
        ("one 12x16 image, the camera moving right", (1, 12, 16), _pose(0.05, (0.3, 0.0, 0.1))),
        ("a batch of 2 at an odd size 7x9, turning", (2, 7, 9), _pose(-0.08, (-0.1, 0.05, -0.2))),
    ):
        source = torch.rand(batch, 3, height, width, generator=generator)
        depth = 2.0 + 3.0 * torch.rand(batch, 1, height, width, generator=generator)
        k = torch.tensor([1.1 * width, 1.0 * width, width / 2 + 0.7, height / 2 - 0.6])
        cases.append(Case(label, (source, depth, pose, k)))
    return cases


def _project(
    depth: torch.Tensor, pose: torch.Tensor, intrinsics: torch.Tensor, by_moved_z: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each target pixel lands in the source: u_s, v_s (B,H,W)."""
    fx, fy, cx, cy = intrinsics.tolist()
    b, _, h, w = depth.shape
    v, u = torch.meshgrid(torch.arange(float(h)), torch.arange(float(w)), indexing="ij")
    z = depth[:, 0]
    points = torch.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], dim=1).flatten(2)
    moved = (pose[:3, :3] @ points + pose[:3, 3:]).view(b, 3, h, w)
    divide = moved[:, 2] if by_moved_z else z
    return fx * moved[:, 0] / divide + cx, fy * moved[:, 1] / divide + cy


def _sample(
    source: torch.Tensor, u: torch.Tensor, v: torch.Tensor, padding: str = "border"
) -> torch.Tensor:
    h, w = source.shape[-2:]
    grid = torch.stack([2 * u / (w - 1) - 1, 2 * v / (h - 1) - 1], dim=-1)
    return F.grid_sample(source, grid, padding_mode=padding, align_corners=True)


def _inverse_pose(
    source: torch.Tensor, depth: torch.Tensor, pose: torch.Tensor, intrinsics: torch.Tensor
) -> torch.Tensor:
    return _sample(source, *_project(depth, torch.linalg.inv(pose), intrinsics))


def _target_z(
    source: torch.Tensor, depth: torch.Tensor, pose: torch.Tensor, intrinsics: torch.Tensor
) -> torch.Tensor:
    return _sample(source, *_project(depth, pose, intrinsics, by_moved_z=False))


def _grid_swapped(
    source: torch.Tensor, depth: torch.Tensor, pose: torch.Tensor, intrinsics: torch.Tensor
) -> torch.Tensor:
    u, v = _project(depth, pose, intrinsics)
    h, w = source.shape[-2:]
    grid = torch.stack([2 * v / (h - 1) - 1, 2 * u / (w - 1) - 1], dim=-1)
    return F.grid_sample(source, grid, padding_mode="border", align_corners=True)


def _zeros_outside(
    source: torch.Tensor, depth: torch.Tensor, pose: torch.Tensor, intrinsics: torch.Tensor
) -> torch.Tensor:
    return _sample(source, *_project(depth, pose, intrinsics), padding="zeros")


EXERCISES = (
    Exercise(
        key="13.1",
        title="flicker against ground truth",
        difficulty="quick",
        reference=_flicker,
        hides=("depthnb.video.flicker",),
        cases=_flicker_cases,
        mistakes=(
            Mistake(
                "every pixel",
                _every_pixel,
                "you averaged the change of every pixel: count only the pairs where the true "
                "depth barely changed, there any change is the model's.",
            ),
            Mistake(
                "absolute threshold",
                _absolute_threshold,
                "your threshold is in metres: 'static' means a change of less than 1 % of the "
                "true depth, |target_t - target_{t-1}| < threshold * target_{t-1}.",
            ),
            Mistake(
                "unknown counted",
                _unknown_counted,
                "pixels without ground truth (0 in both frames) count as static in yours: keep "
                "only the pairs where target > 0 in both frames.",
            ),
            Mistake(
                "mean of pairs",
                _mean_of_pairs,
                "you averaged one mean per pair of frames: pool the static pixels of all pairs "
                "into one mean, so every pixel pair weighs the same.",
            ),
        ),
    ),
    Exercise(
        key="13.2",
        title="a relative depth video aligned to its first frame",
        difficulty="medium",
        reference=_align,
        hides=("depthnb.video.align_to_first", "depthnb.metrics.median_scale"),
        cases=_align_cases,
        accepted=(
            Accepted(
                "ratio of medians",
                _ratio_of_medians,
                "You divided the two frames' medians, median(depths[0]) / median(depths[t]), as "
                "lesson 07's median scaling does; the reference takes the median of the "
                "per-pixel ratios, which compares each pixel with itself. Both are used: they "
                "agree when two frames differ by a scale alone, and differ with pixel noise.",
            ),
        ),
        mistakes=(
            Mistake(
                "mean ratio",
                _mean_ratio,
                "a mean of the per-pixel ratios follows the pixels the model got badly wrong: "
                "take their median, as lesson 07's median scaling does.",
            ),
            Mistake(
                "aligned to the previous frame",
                _to_previous,
                "you aligned each frame to the one before it: every step's small error then "
                "carries on into all later frames, and the scale drifts. Align every frame to the "
                "first one directly, s_t = median(depths[0] / depths[t]).",
            ),
            Mistake(
                "valid mask ignored",
                _mask_ignored,
                "you used every pixel: the invalid ones hold no trustworthy depth (here, nonsense "
                "several times too far). Take the median over the pixels valid in both frames, "
                "valid[0] & valid[t].",
            ),
            Mistake(
                "one frame's mask",
                _own_mask,
                "a pixel must be valid in both frames, the first and frame t: use "
                "valid[0] & valid[t], not frame t's mask alone.",
            ),
            Mistake(
                "ratio inverted",
                _inverted,
                "your ratio is upside down: s_t = median(depths[0] / depths[t]) brings frame t to "
                "the first frame's scale (depths[t] * s_t); median(depths[t] / depths[0]) squares "
                "the scale error instead of removing it.",
            ),
        ),
    ),
    Exercise(
        key="13.3",
        title="warp a source frame into the target view",
        difficulty="substantial",
        reference=_warp,
        hides=("depthnb.geometry.warp_source",),
        cases=_warp_cases,
        mistakes=(
            Mistake(
                "inverse pose",
                _inverse_pose,
                "you moved the points the wrong way: T_{s<-t} takes target-camera points to the "
                "source camera, apply it as it is (R X + t), not its inverse.",
            ),
            Mistake(
                "target depth",
                _target_z,
                "you divided by the target's depth: project the moved point with its own depth, "
                "u_s = fx X' / Z' + cx, Z' the third coordinate after the pose.",
            ),
            Mistake(
                "grid swapped",
                _grid_swapped,
                "grid_sample's grid holds (x, y) in its last axis: x from u (columns, width), "
                "then y from v (rows, height).",
            ),
            Mistake(
                "zeros outside",
                _zeros_outside,
                "pixels that land outside the source came out 0: sample with "
                "padding_mode='border', the package's rule (the mask 'inside' says where the "
                "warp is defined).",
            ),
        ),
    ),
)

QUESTIONS = (
    Question(
        "13.P1",
        "How many times the truth's own flicker is the flicker of a model that predicts the true "
        "depth times 1.2 in every frame (its scale 20 % off, but the same 20 % each time)?",
        Number(1.2, "", rel_tol=0.05),
        "Flicker measures change between frames, not error: 1.2 z_t - 1.2 z_(t-1) = "
        "1.2 (z_t - z_(t-1)), so its flicker is exactly 1.2 times the truth's own, which is tiny "
        "on the static pixels (about a centimetre per frame here). Its abs_rel is 0.2 all the "
        "same. A scale error that stays put does not flicker; only one that changes from frame to "
        "frame does. That is why flicker is read beside accuracy.",
    ),
)
