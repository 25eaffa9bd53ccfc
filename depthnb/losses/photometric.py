"""Self-supervised depth from video: warp a neighbouring frame into the target view through the
predicted depth, and compare it with the target (the photometric reprojection loss).

Zhou, Brown, Snavely and Lowe, "Unsupervised Learning of Depth and Ego-Motion from Video" (CVPR
2017), and Godard, Mac Aodha, Firman and Brostow, "Digging Into Self-Supervised Monocular Depth
Estimation" (Monodepth2, ICCV 2019), train a depth network without depth labels: if the target
frame's depth ``D`` and the camera motion are right, every target pixel ``p`` can be found in a
source frame at::

    p_s ~ K T_{s<-t} D(p) K^-1 p          (homogeneous pixels, K the intrinsics)

so sampling the source there rebuilds the target. Zhou et al. compare the two with L1 alone. The
loss per pixel here mixes in SSIM, as Monodepth did (Godard, Mac Aodha and Brostow, CVPR 2017, on
stereo pairs) and Monodepth2 kept::

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
:func:`depthnb.geometry.scale_intrinsics`); camera frame X right, Y down, Z forward, metres;
``intrinsics`` (fx, fy, cx, cy) pixels at the images' size. Back-projection is
:func:`depthnb.geometry.backproject`, in torch so that gradients reach the depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from depthnb.errors import ArgumentError, ShapeError
from depthnb.geometry import warp_source
from depthnb.utils.tensors import full_precision, no_autocast

__all__ = ["photometric_error", "photometric_reprojection_loss"]

SSIM_WEIGHT = 0.85  # Monodepth's alpha (Godard et al. 2017), kept by Monodepth2


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


def photometric_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Monodepth2's per-pixel error between ``pred`` (a source frame warped into the target view)
    and the ``target`` frame, (B,C,H,W) images in [0,1] -> (B,1,H,W):
    ``0.85 * clamp((1 - SSIM) / 2, 0, 1) + 0.15 * |pred - target|``, both averaged over
    channels (symmetric in its two images)."""
    structure = ((1 - _ssim_3x3(pred, target)) / 2).clamp(0, 1).mean(1, keepdim=True)
    l1 = (pred - target).abs().mean(1, keepdim=True)
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
        raise ArgumentError(
            f"photometric_reprojection_loss: reduce={reduce!r}; use 'min' or 'mean'"
        )
    if target.dim() != 4 or depth.dim() != 4 or target.shape[-2:] != depth.shape[-2:]:
        raise ShapeError(
            f"photometric_reprojection_loss: target {tuple(target.shape)} and depth "
            f"{tuple(depth.shape)} must be (B,3,H,W) and (B,1,H,W) of one size"
        )
    with no_autocast(depth.device):
        target, depth = full_precision(target, depth)
        errors, insides = [], []
        for image, relative in zip(sources, poses):
            warped, inside = warp_source(image, depth, relative, intrinsics)
            errors.append(photometric_error(warped, target))
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
