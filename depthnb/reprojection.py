"""Self-supervised depth from video: warp a neighbouring frame into the target view through the
predicted depth, and compare it with the target (the photometric reprojection loss).

Zhou, Brown, Snavely and Lowe, "Unsupervised Learning of Depth and Ego-Motion from Video" (CVPR
2017), and Godard, Mac Aodha, Firman and Brostow, "Digging Into Self-Supervised Monocular Depth
Estimation" (Monodepth2, ICCV 2019), train a depth network without depth labels: if the target
frame's depth ``D`` and the camera motion are right, every target pixel ``p`` can be found in a
source frame at::

    p_s ~ K T_{s<-t} D(p) K^-1 p          (homogeneous pixels, K the intrinsics)

so sampling the source there rebuilds the target. The loss per pixel is Monodepth2's::

    pe = 0.85 * (1 - SSIM) / 2 + 0.15 * |target - warped|          (3x3 SSIM, images in [0,1])

and with several sources its per-pixel **minimum** over them (a pixel hidden in one neighbour is
usually seen in the other, so occlusions cost less), averaged over the pixels that land inside a
source. Zhou et al. average over the sources instead (``reduce="mean"``).

Scale: with the true relative pose (as here, from the renderer), the depth's scale is fixed: a
depth k times too large moves the source pixel by only about 1/k of the true parallax, and the
loss rises. A network that also *predicts* the pose (as in both papers) cannot tell ``(k D, k t)``
from ``(D, t)``: scaling depth and translation together gives the same warp for every k, so the
depth of self-supervised monocular training is known only up to one scale per sequence (papers
median-scale it to the ground truth at evaluation).

Conventions: pixel ``(u, v)`` is the centre of column ``u``, row ``v`` (as in
:func:`depthnb.data.io.scale_intrinsics`); camera frame X right, Y down, Z forward, metres;
``intrinsics`` (fx, fy, cx, cy) pixels at the images' size. Back-projection is
:func:`depthnb.viz.points.point_map`'s formula, in torch so that gradients reach the depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from depthnb.errors import ConfigError, ShapeError
from depthnb.loss_terms import _float, _no_autocast

__all__ = [
    "backproject",
    "photometric_error",
    "photometric_reprojection_loss",
    "relative_pose",
    "warp_source",
]

SSIM_WEIGHT = 0.85  # Monodepth2's alpha


def _intrinsics(intrinsics: torch.Tensor, batch: int, like: torch.Tensor) -> torch.Tensor:
    """(4,) or (B,4) fx, fy, cx, cy -> (B,4,1,1) in ``like``'s dtype and device."""
    k = torch.as_tensor(intrinsics).to(device=like.device, dtype=like.dtype)
    if k.shape[-1:] != (4,) or k.dim() > 2:
        raise ShapeError(
            f"intrinsics have shape {tuple(k.shape)}; pass (4,) or (B,4) fx, fy, cx, cy in pixels"
        )
    return k.expand(batch, 4)[..., None, None]


def backproject(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Every pixel to a camera-frame point: depth (B,1,H,W) metres, intrinsics (4,) or (B,4)
    -> points (B,3,H,W) metres, X = (u - cx) Z / fx, Y = (v - cy) Z / fy, Z = depth."""
    if depth.dim() != 4 or depth.shape[1] != 1:
        raise ShapeError(f"backproject: depth has shape {tuple(depth.shape)}; pass (B,1,H,W)")
    b, _, h, w = depth.shape
    fx, fy, cx, cy = _intrinsics(intrinsics, b, depth).unbind(1)
    v, u = torch.meshgrid(
        torch.arange(h, dtype=depth.dtype, device=depth.device),
        torch.arange(w, dtype=depth.dtype, device=depth.device),
        indexing="ij",
    )
    z = depth[:, 0]
    return torch.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], dim=1)


def relative_pose(world_from_target: torch.Tensor, world_from_source: torch.Tensor) -> torch.Tensor:
    """``T_{s<-t}`` (...,4,4): maps target-camera points to source-camera points, from the two
    cameras' world-from-camera poses (...,4,4), e.g. ``render_camera_path(...)["pose"]``."""
    return torch.linalg.inv(world_from_source) @ world_from_target


def warp_source(
    source: torch.Tensor, depth: torch.Tensor, pose: torch.Tensor, intrinsics: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The source image seen from the target camera, and where that view is defined.

    Args:
        source: (B,C,H,W) the source frame.
        depth: (B,1,H,W) the target frame's depth, metres.
        pose: (B,4,4) or (4,4) ``T_{s<-t}`` (:func:`relative_pose`), metres.
        intrinsics: (4,) or (B,4), shared by both frames.

    Returns:
        warped (B,C,H,W), bilinear samples of ``source`` (border values outside it), and
        inside (B,1,H,W) bool: the point lies in front of the source camera and projects inside
        the source image (``-0.5 <= u <= W - 0.5``, the same for v; past the last pixel
        centre the border value is taken).
    """
    b, _, h, w = depth.shape
    if source.dim() != 4 or source.shape[0] != b or source.shape[-2:] != depth.shape[-2:]:
        raise ShapeError(
            f"warp_source: source {tuple(source.shape)} must be (B,C,H,W) with the batch and "
            f"size of depth {tuple(depth.shape)}"
        )
    pose = torch.as_tensor(pose).to(device=depth.device, dtype=depth.dtype)
    if pose.shape[-2:] != (4, 4):
        raise ShapeError(f"warp_source: pose has shape {tuple(pose.shape)}; pass (B,4,4) or (4,4)")
    points = backproject(depth, intrinsics).flatten(2)  # (B,3,HW)
    moved = pose.expand(b, 4, 4)[:, :3, :3] @ points + pose.expand(b, 4, 4)[:, :3, 3:]
    fx, fy, cx, cy = _intrinsics(intrinsics, b, depth)[..., 0].unbind(1)  # (B,1) each
    z = moved[:, 2]
    in_front = z > 1e-3
    z = torch.where(in_front, z, torch.ones_like(z))
    u, v = fx * moved[:, 0] / z + cx, fy * moved[:, 1] / z + cy
    # Inside the image: its edges are half a pixel beyond the first and last centres.
    inside = in_front & (u >= -0.5) & (u <= w - 0.5) & (v >= -0.5) & (v <= h - 0.5)
    # align_corners=True: -1 and +1 are the centres of the first and last pixels.
    grid = torch.stack([2 * u / max(w - 1, 1) - 1, 2 * v / max(h - 1, 1) - 1], dim=-1)
    warped = F.grid_sample(
        source.to(depth.dtype),
        grid.view(b, h, w, 2),
        mode="bilinear",
        padding_mode="border",
        align_corners=True,
    )
    return warped, inside.view(b, 1, h, w)


def _ssim_3x3(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Monodepth2's per-pixel SSIM: 3x3 box windows, reflection padding, C1 = 0.01^2,
    C2 = 0.03^2 (values in [0,1]); (B,C,H,W) -> (B,C,H,W)."""
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    var_x = F.avg_pool2d(x * x, 3, 1) - mu_x**2
    var_y = F.avg_pool2d(y * y, 3, 1) - mu_y**2
    cov = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )


def photometric_error(target: torch.Tensor, warped: torch.Tensor) -> torch.Tensor:
    """Monodepth2's per-pixel error, (B,C,H,W) images in [0,1] -> (B,1,H,W):
    ``0.85 * clamp((1 - SSIM) / 2, 0, 1) + 0.15 * |target - warped|``, both averaged over
    channels."""
    structure = ((1 - _ssim_3x3(target, warped)) / 2).clamp(0, 1).mean(1, keepdim=True)
    l1 = (target - warped).abs().mean(1, keepdim=True)
    return SSIM_WEIGHT * structure + (1 - SSIM_WEIGHT) * l1


def photometric_reprojection_loss(
    target: torch.Tensor,
    source: torch.Tensor | Sequence[torch.Tensor],
    depth: torch.Tensor,
    pose: torch.Tensor | Sequence[torch.Tensor],
    intrinsics: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    reduce: str = "min",
) -> torch.Tensor:
    """The photometric reprojection loss of self-supervised depth (see the module docstring).

    Args:
        target: (B,3,H,W) the frame whose depth is judged, values in [0,1].
        source: (B,3,H,W) a neighbouring frame, or a sequence of them.
        depth: (B,1,H,W) the target's depth in metres (a network's, decoded), > 0.
        pose: ``T_{s<-t}`` (B,4,4) or (4,4) for each source (:func:`relative_pose`), in the order
            of ``source``; its translation is in metres, the depth's unit.
        intrinsics: (4,) or (B,4) fx, fy, cx, cy in pixels at this size.
        valid: optional (B,1,H,W) bool, target pixels that may count.
        reduce: with several sources, ``"min"`` (Monodepth2's per-pixel minimum) or ``"mean"``.

    Returns:
        a float32 scalar (float64 for float64 input): the mean over the valid pixels that land
        inside at least one source (with ``"mean"``: inside every source) of the per-pixel
        error; 0 when no pixel does. With the true depth and pose it is zero up to resampling,
        occlusions and what changes with the viewpoint; it is differentiable in ``depth``.
    """
    sources = [source] if isinstance(source, torch.Tensor) else list(source)
    poses = [pose] if isinstance(pose, torch.Tensor) else list(pose)
    if len(sources) != len(poses) or not sources:
        raise ShapeError(
            f"photometric_reprojection_loss: {len(sources)} source(s) and {len(poses)} pose(s); "
            "pass one pose T_{s<-t} per source frame"
        )
    if reduce not in ("min", "mean"):
        raise ConfigError(f"photometric_reprojection_loss: reduce={reduce!r}; use 'min' or 'mean'")
    if target.dim() != 4 or depth.dim() != 4 or target.shape[-2:] != depth.shape[-2:]:
        raise ShapeError(
            f"photometric_reprojection_loss: target {tuple(target.shape)} and depth "
            f"{tuple(depth.shape)} must be (B,3,H,W) and (B,1,H,W) of one size"
        )
    with _no_autocast(depth.device):
        target, depth = _float(target, depth)
        errors, insides = [], []
        for image, relative in zip(sources, poses):
            warped, inside = warp_source(image, depth, relative, intrinsics)
            errors.append(photometric_error(target, warped))
            insides.append(inside)
        error, inside = torch.stack(errors), torch.stack(insides)  # (S,B,1,H,W)
        if reduce == "min":
            per_pixel = torch.where(inside, error, torch.full_like(error, torch.inf)).amin(0)
            counted = inside.any(0)
        else:
            per_pixel, counted = error.mean(0), inside.all(0)
        if valid is not None:
            counted = counted & valid.to(device=counted.device, dtype=torch.bool)
        total = torch.where(counted, per_pixel, torch.zeros_like(per_pixel)).sum()
        return total / counted.sum().clamp(min=1)
