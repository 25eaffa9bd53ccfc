"""Stereo matching, written plainly: a cost volume, winner-take-all, sub-pixel, left-right check.

Two rectified views see a point on the same row; the left pixel ``(v, u)`` matches the right pixel
``(v, u - d)``, ``d`` the disparity in pixels (Middlebury's convention, :mod:`depthnb.data.
middlebury`; ``z = f B / (d + doffs)`` turns it into metres). A local matcher tries every candidate
``d = 0 .. D-1`` at every left pixel and keeps the one whose neighbourhood looks most alike:

- :func:`sad_cost_volume`: (B,D,H,W), the mean absolute difference over a window (SAD);
  :func:`census_cost_volume`: the Hamming distance of census signatures (robust to a gain);
- :func:`winner_take_all`: the cheapest candidate, (B,1,H,W) integer pixels;
- :func:`subpixel_refine`: a parabola through the cost at ``d-1, d, d+1``, to a fraction of a pixel;
- :func:`right_cost_volume`, :func:`left_right_check`: the right view's disparity from the same
  volume, and the pixels whose two disparities agree (occlusions and mismatches do not);
- :func:`match_stereo`: the four in one call;
- :func:`nonoccluded`: where a ground-truth disparity map is seen by the right view too (the
  pixels a stereo benchmark scores).

Images are tensors (B,C,H,W) (any C: the cost averages the channels); disparities (B,1,H,W) in
pixels at the images' resolution. Unknown ground truth is any non-finite value (scikit-image's
*Motorcycle* has ``inf``). The measures (end-point error, bad-pixel rate) are in
:mod:`depthnb.metrics.stereo`.

>>> import torch
>>> left = torch.rand(1, 1, 8, 32, generator=torch.Generator().manual_seed(0))
>>> right = torch.roll(left, -3, dims=-1)          # every pixel 3 columns to the left
>>> cost = sad_cost_volume(left, right, num_disparities=6, window=3)
>>> cost.shape
torch.Size([1, 6, 8, 32])
>>> winner_take_all(cost)[0, 0, :, 10:14]          # the candidate d = 3 costs nothing
tensor([[3, 3, 3, 3],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [3, 3, 3, 3]])
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from depthnb.errors import ArgumentError, ShapeError


class StereoMatch(NamedTuple):
    """What :func:`match_stereo` found for the left view."""

    disparity: torch.Tensor
    """float32 (B,1,H,W) pixels: winner-take-all, refined to a fraction of a pixel if asked."""
    consistent: torch.Tensor
    """bool (B,1,H,W): passed the left-right check (all True without it)."""
    cost: torch.Tensor
    """float32 (B,D,H,W): the cost volume the disparity was read from."""


def _check_pair(left: torch.Tensor, right: torch.Tensor, num_disparities: int, window: int) -> None:
    if not (isinstance(left, torch.Tensor) and isinstance(right, torch.Tensor)):
        raise ShapeError("stereo: pass the two views as tensors (B,C,H,W)")
    if left.dim() != 4 or left.shape != right.shape:
        raise ShapeError(
            f"stereo: left {tuple(left.shape)} and right {tuple(right.shape)} must be two "
            "(B,C,H,W) tensors of one shape (a rectified pair at one resolution); add the batch "
            "and channel dimensions with image[None, None] for an (H,W) grey image"
        )
    if not isinstance(num_disparities, int) or not 1 <= num_disparities <= left.shape[-1]:
        raise ArgumentError(
            f"num_disparities={num_disparities!r}: the number of candidates 0 .. D-1, an int "
            f"from 1 to the image width {left.shape[-1]}"
        )
    if not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ArgumentError(f"window={window!r}: an odd number of pixels (1, 3, 5, ...)")


def window_sum(values: torch.Tensor, window: int) -> torch.Tensor:
    """The sum over the ``window`` x ``window`` neighbourhood of every pixel, (B,C,H,W) -> the same
    shape; pixels outside the image count as 0 (``window`` odd)."""
    b, c, h, w = values.shape
    flat = values.reshape(b * c, 1, h, w)
    pad = window // 2
    rows = F.avg_pool2d(flat, (1, window), stride=1, padding=(0, pad), count_include_pad=True)
    both = F.avg_pool2d(rows, (window, 1), stride=1, padding=(pad, 0), count_include_pad=True)
    return (both * (window * window)).reshape(b, c, h, w)


def _aggregate(per_pixel: torch.Tensor, present: torch.Tensor, window: int) -> torch.Tensor:
    """Mean of ``per_pixel`` (B,D,H,W), 0 where a term is absent, over each window, counting only
    the ``present`` terms (1,D,1,W: a candidate exists or not by column); ``inf`` where the
    centre itself is absent."""
    height = per_pixel.shape[-2]
    total = window_sum(per_pixel, window)
    columns = window_sum(present.to(per_pixel.dtype), window)  # present terms in a row
    rows = window_sum(per_pixel.new_ones(1, 1, height, 1), window)  # rows inside the image
    count = rows * columns
    return torch.where(present, total / count.clamp(min=1e-12), torch.inf)


def sad_cost_volume(
    left: torch.Tensor, right: torch.Tensor, num_disparities: int, window: int = 9
) -> torch.Tensor:
    """The sum-of-absolute-differences cost of every candidate disparity at every left pixel.

    ``cost[b, d, v, u]`` is the mean, over the ``window`` x ``window`` pixels ``(v', u')`` around
    ``(v, u)`` and over the channels, of ``|left[v', u'] - right[v', u' - d]|``. A window term
    counts only where both pixels lie inside the images (so the mean is over fewer terms at the
    borders), and ``cost = inf`` where ``u - d < 0`` (the right view cannot show it).

    Args:
        left, right: (B,C,H,W) float, the rectified views (grey levels or RGB, any range).
        num_disparities: D, the candidates 0 .. D-1 pixels.
        window: the odd side of the square window (1: single pixels).

    Returns:
        float (B,D,H,W), in the images' units (grey levels).
    """
    _check_pair(left, right, num_disparities, window)
    b, _, h, w = left.shape
    per_pixel = left.new_zeros(b, num_disparities, h, w)
    present = torch.zeros(1, num_disparities, 1, w, dtype=torch.bool, device=left.device)
    for d in range(num_disparities):
        per_pixel[:, d, :, d:] = (left[..., d:] - right[..., : w - d]).abs().mean(1)
        present[:, d, :, d:] = True
    return _aggregate(per_pixel, present, window)


def census_transform(image: torch.Tensor, window: int = 5) -> torch.Tensor:
    """Census signatures: for each pixel, one bit per neighbour in the ``window`` (centre
    excluded), True where the neighbour is darker than the centre. (B,1,H,W) -> bool
    (B,window*window-1,H,W); neighbours outside the image are replicated from the border."""
    if image.dim() != 4 or image.shape[1] != 1:
        raise ShapeError(f"census_transform takes (B,1,H,W) grey images, got {tuple(image.shape)}")
    pad = window // 2
    padded = F.pad(image, (pad, pad, pad, pad), mode="replicate")
    h, w = image.shape[-2:]
    bits = [
        padded[..., i : i + h, j : j + w] < image
        for i in range(window)
        for j in range(window)
        if (i, j) != (pad, pad)
    ]
    return torch.cat(bits, dim=1)


def census_cost_volume(
    left: torch.Tensor,
    right: torch.Tensor,
    num_disparities: int,
    window: int = 9,
    census_window: int = 5,
) -> torch.Tensor:
    """Like :func:`sad_cost_volume`, with the Hamming distance of census signatures
    (:func:`census_transform`, ``census_window``) in place of the absolute difference: the share
    of the neighbours whose order against the centre differs, averaged over ``window``. It
    depends only on which neighbours are darker, so a gain or offset between the views changes
    nothing. (B,1,H,W) grey views -> float (B,D,H,W) in [0, 1], ``inf`` where ``u - d < 0``."""
    _check_pair(left, right, num_disparities, window)
    if left.shape[1] != 1:
        raise ShapeError(f"census_cost_volume takes (B,1,H,W) grey views, got {tuple(left.shape)}")
    signature_left = _packed(census_transform(left, census_window))
    signature_right = _packed(census_transform(right, census_window))
    ones = _ONES_IN_BYTE.to(left.device)
    bits = census_window * census_window - 1
    b, _, h, w = left.shape
    per_pixel = left.new_zeros(b, num_disparities, h, w)
    present = torch.zeros(1, num_disparities, 1, w, dtype=torch.bool, device=left.device)
    for d in range(num_disparities):
        differ = signature_left[..., d:] ^ signature_right[..., : w - d]  # Hamming, 8 bits a byte
        per_pixel[:, d, :, d:] = ones[differ.long()].sum(1).to(per_pixel.dtype) / bits
        present[:, d, :, d:] = True
    return _aggregate(per_pixel, present, window)


_ONES_IN_BYTE = torch.tensor([bin(value).count("1") for value in range(256)], dtype=torch.uint8)
"""How many bits are set in each byte 0 .. 255."""


def _packed(bits: torch.Tensor) -> torch.Tensor:
    """bool (B,K,H,W) -> uint8 (B,ceil(K/8),H,W), eight bits a byte."""
    b, k, h, w = bits.shape
    padded = F.pad(bits.to(torch.uint8), (0, 0, 0, 0, 0, -k % 8)).reshape(b, -1, 8, h, w)
    weights = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8, device=bits.device)
    return (padded * weights.view(1, 1, 8, 1, 1)).sum(2, dtype=torch.uint8)


def winner_take_all(cost: torch.Tensor) -> torch.Tensor:
    """The cheapest candidate at every pixel: (B,D,H,W) -> int64 (B,1,H,W) pixels (the first of
    equal costs)."""
    if cost.dim() != 4:
        raise ShapeError(f"winner_take_all takes a cost volume (B,D,H,W), got {tuple(cost.shape)}")
    return cost.argmin(dim=1, keepdim=True)


def subpixel_refine(cost: torch.Tensor, disparity: torch.Tensor) -> torch.Tensor:
    """Refine integer disparities with the parabola through the costs at ``d-1, d, d+1``.

    The parabola's lowest point lies ``(c[d-1] - c[d+1]) / (2 (c[d-1] - 2 c[d] + c[d+1]))`` from
    ``d``, clamped to [-0.5, 0.5]. Where ``d`` is the first or last candidate, a neighbour's cost
    is infinite, or the three costs do not curve upwards, ``d`` is kept.

    Args:
        cost: (B,D,H,W) float.
        disparity: (B,1,H,W) integer candidates, e.g. :func:`winner_take_all`'s.

    Returns:
        float32 (B,1,H,W) pixels.
    """
    index = disparity.long()
    d_count = cost.shape[1]
    below, above = (index - 1).clamp(0, d_count - 1), (index + 1).clamp(0, d_count - 1)
    c_minus, c_zero, c_plus = (cost.gather(1, i) for i in (below, index, above))
    curvature = c_minus - 2 * c_zero + c_plus
    usable = (
        (index > 0)
        & (index < d_count - 1)
        & torch.isfinite(c_minus)
        & torch.isfinite(c_plus)
        & (curvature > 0)
    )
    safe = torch.where(usable, curvature, torch.ones_like(curvature))
    offset = torch.where(usable, (c_minus - c_plus) / (2 * safe), torch.zeros_like(curvature))
    return index.float() + offset.clamp(-0.5, 0.5).float()


def right_cost_volume(cost: torch.Tensor) -> torch.Tensor:
    """The right view's cost volume, read from the left's: the right pixel ``(v, u)`` and the left
    pixel ``(v, u + d)`` are the same candidate, so ``right[b, d, v, u] = cost[b, d, v, u + d]``
    (``inf`` where ``u + d`` leaves the image). (B,D,H,W) -> (B,D,H,W)."""
    width = cost.shape[-1]
    right = torch.full_like(cost, torch.inf)
    for d in range(cost.shape[1]):
        right[:, d, :, : width - d] = cost[:, d, :, d:]
    return right


def left_right_check(
    left_disparity: torch.Tensor, right_disparity: torch.Tensor, tolerance: float = 1.0
) -> torch.Tensor:
    """Where the left view's disparity is confirmed by the right view's.

    The left pixel ``(v, u)`` with disparity ``d`` lands on the right pixel ``(v, round(u - d))``;
    it passes where that pixel lies inside the image and its own disparity is within
    ``tolerance`` pixels of ``d``. Occluded pixels (seen by one view only) and mismatches fail.

    Args:
        left_disparity, right_disparity: (B,1,H,W) pixels, each of its own view.
        tolerance: pixels.

    Returns:
        bool (B,1,H,W).
    """
    if left_disparity.shape != right_disparity.shape or left_disparity.dim() != 4:
        raise ShapeError(
            f"left_right_check: {tuple(left_disparity.shape)} and "
            f"{tuple(right_disparity.shape)} must be (B,1,H,W) disparities of one shape"
        )
    width = left_disparity.shape[-1]
    u = torch.arange(width, device=left_disparity.device, dtype=torch.float32)
    target = torch.round(u - left_disparity.float())
    inside = (target >= 0) & (target <= width - 1)
    seen = right_disparity.float().gather(-1, target.clamp(0, width - 1).long())
    return inside & ((left_disparity.float() - seen).abs() <= tolerance)


def match_stereo(
    left: torch.Tensor,
    right: torch.Tensor,
    num_disparities: int,
    window: int = 9,
    subpixel: bool = True,
    lr_check: bool = True,
    tolerance: float = 1.0,
    cost: str = "sad",
) -> StereoMatch:
    """A local stereo matcher: :func:`sad_cost_volume` (or ``cost="census"``:
    :func:`census_cost_volume`, grey views), :func:`winner_take_all`, :func:`subpixel_refine` if
    ``subpixel``, and :func:`left_right_check` (against :func:`right_cost_volume`'s
    winner-take-all) if ``lr_check``.

    Args:
        left, right: (B,C,H,W) rectified views.
        num_disparities: candidates 0 .. D-1 pixels.
        window: odd side of the aggregation window.
        subpixel, lr_check, tolerance: as above.
        cost: "sad" or "census".

    Returns:
        :class:`StereoMatch` (disparity (B,1,H,W) float32, consistent (B,1,H,W) bool, cost).
    """
    if cost == "sad":
        volume = sad_cost_volume(left, right, num_disparities, window)
    elif cost == "census":
        volume = census_cost_volume(left, right, num_disparities, window)
    else:
        raise ArgumentError(f"cost={cost!r}: choose 'sad' or 'census'")
    best = winner_take_all(volume)
    disparity = subpixel_refine(volume, best) if subpixel else best.float()
    consistent = torch.ones_like(best, dtype=torch.bool)
    if lr_check:
        right_disparity = winner_take_all(right_cost_volume(volume)).float()
        consistent = left_right_check(best.float(), right_disparity, tolerance)
    return StereoMatch(disparity, consistent, volume)


def nonoccluded(disparity: torch.Tensor, tolerance: float = 1.0) -> torch.Tensor:
    """Where a left view's ground-truth disparity is seen by the right view as well.

    Each known left pixel ``(v, u)`` is carried to the right pixel ``(v, round(u - d))``; where
    several land on one right pixel, the right camera sees the nearest (the largest disparity), and
    the others are occluded. A pixel passes where it is known (finite), lands inside the image, and
    its disparity is within ``tolerance`` pixels of the largest that lands there (neighbours on a
    slanted surface round onto one column without hiding each other).

    Args:
        disparity: (B,1,H,W) pixels; unknown where not finite.
        tolerance: pixels.

    Returns:
        bool (B,1,H,W): the pixels a benchmark's "non-occluded" measures count.
    """
    if disparity.dim() != 4 or disparity.shape[1] != 1:
        raise ShapeError(f"nonoccluded takes (B,1,H,W) disparities, got {tuple(disparity.shape)}")
    width = disparity.shape[-1]
    u = torch.arange(width, device=disparity.device, dtype=torch.float32)
    known = torch.isfinite(disparity)
    target = torch.round(u - torch.where(known, disparity.float(), torch.zeros_like(u)))
    lands = known & (target >= 0) & (target <= width - 1)
    column = target.clamp(0, width - 1).long()
    values = torch.where(lands, disparity.float(), torch.full_like(u, -torch.inf))
    nearest = torch.full_like(values, -torch.inf).scatter_reduce(
        -1, column, values, reduce="amax", include_self=True
    )
    return lands & (values >= nearest.gather(-1, column) - tolerance)
