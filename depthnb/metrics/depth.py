"""The standard depth metrics: the valid-pixel mask, the per-image sums of the nine metrics,
:func:`depth_metrics` over a batch and :class:`DepthMetricAccumulator` over a test set (one sums
core for both).

The protocol is described in :mod:`depthnb.metrics`; alignment is :mod:`depthnb.metrics.align`,
crops and named protocols :mod:`depthnb.metrics.protocols`.

>>> target = torch.tensor([[1.0, 2.0], [4.0, 0.0]])      # 0 = no reading
>>> m = depth_metrics(target * 1.1, target)
>>> round(m["abs_rel"], 6), m["delta1"]
(0.1, 1.0)
"""

from __future__ import annotations

import math

import torch

from depthnb.encodings import MAX_DEPTH, MIN_DEPTH
from depthnb.errors import ArgumentError, DataError, ShapeError
from depthnb.metrics.align import (
    ArrayLike,
    apply_alignment,
    as_batch,
)
from depthnb.metrics.protocols import Crop, crop_box, resolve_protocol

METRIC_NAMES = (
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",
    "log10",
    "delta1",
    "delta2",
    "delta3",
    "silog",
)
#: Columns of the per-image sums (:func:`_per_image_sums`): the count, then one per sum.
N_SUMS = 12

_AGGREGATES = ("pooled", "per_image")


def crop_mask(size: tuple[int, int], crop: str | tuple[int, int, int, int] | None) -> torch.Tensor:
    """A bool (H,W) mask, True inside the crop (everywhere for None); see :func:`crop_box`."""
    mask = torch.zeros(size, dtype=torch.bool)
    if crop is None:
        mask[:] = True
    else:
        top, bottom, left, right = crop_box(size, crop)
        mask[top:bottom, left:right] = True
    return mask


def _eval_mask(
    target: torch.Tensor, valid: torch.Tensor | None, min_depth: float, max_depth: float
) -> torch.Tensor:
    """Which pixels count: target in [min_depth, max_depth] (so > 0, not NaN) and valid. (B,H,W)."""
    mask = (target >= min_depth) & (target <= max_depth)
    return mask if valid is None else mask & valid


def _per_image_sums(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per image (B,12) float64: valid pixel count, then the sums of |d|/target, d^2/target, d^2,
    (ln ratio)^2, |log10 ratio| and the three delta counts (d = target - pred,
    ratio = target / pred); then for SILog, with e = ln ratio (its ln pred - ln target up to a
    sign, which only squares see),
    the sum of e, the sum of (e - mean e)^2 and ``n * (mean e)^2``.

    SILog's variance from the sums of e and e^2 would subtract two close numbers (a prediction off
    by a constant factor has e nearly constant); the centred sum keeps it exact per image, and the
    last column lets pooled sums recombine images (the parallel-variance formula, in float64).
    """
    # Invalid pixels become target = pred = 1: adding 0 to every error sum, 1 to every delta count.
    ones = torch.ones_like(target)
    g = torch.where(mask, target, ones).flatten(1)
    p = torch.where(mask, pred, ones).flatten(1)
    count = mask.flatten(1).sum(1)
    invalid = g.shape[1] - count
    diff = g - p
    sq = diff * diff
    ratio_gp = g / p
    log_ratio = torch.log(ratio_gp)
    ratio = torch.maximum(ratio_gp, p / g)
    # Sums within an image in the input's precision (torch sums pairwise), then float64.
    sums = [
        count,
        (diff.abs() / g).sum(1),
        (sq / g).sum(1),
        sq.sum(1),
        (log_ratio * log_ratio).sum(1),
        log_ratio.abs().sum(1) / math.log(10),
        (ratio < 1.25).sum(1) - invalid,
        (ratio < 1.25**2).sum(1) - invalid,
        (ratio < 1.25**3).sum(1) - invalid,
    ]
    # SILog only squares e = -ln ratio and its sums: the sign of ln ratio does not matter.
    sum_error = log_ratio.sum(1)
    n = count.clamp(min=1)
    centred = torch.where(mask.flatten(1), log_ratio - (sum_error / n)[:, None], 0.0)
    sums += [sum_error, (centred * centred).sum(1), sum_error.double() ** 2 / n]
    return torch.stack([v.to(torch.float64) for v in sums], dim=1)


def _metrics_from_sums(sums: torch.Tensor) -> torch.Tensor:
    """(..., N_SUMS) sums -> (..., 9) metrics in the order of :data:`METRIC_NAMES`."""
    n = sums[..., 0].clamp(min=1)
    mean = sums[..., 1:] / n[..., None]
    # Within-image squares + between-image spread of the means, over all pixels of the sums.
    squares = sums[..., 10] + sums[..., 11] - sums[..., 9] ** 2 / n
    silog = 100 * (squares / n).clamp(min=0).sqrt()
    return torch.cat(
        [mean[..., :2], mean[..., 2:4].sqrt(), mean[..., 4:8], silog[..., None]], dim=-1
    )


def _prepare(
    pred: ArrayLike,
    target: ArrayLike,
    valid: ArrayLike | None,
    min_depth: float,
    max_depth: float,
    crop: Crop,
    align: str | None,
    chunk: int = 8,
) -> torch.Tensor:
    """Check inputs, build the mask, align and clamp; return per-image sums (B, N_SUMS).

    Works through ``chunk`` images at a time, so a whole test set costs little extra memory.
    """
    if not 0 < min_depth < max_depth:
        raise ArgumentError(f"need 0 < min_depth < max_depth, got {min_depth} and {max_depth}")
    target_t = as_batch(target, "target")
    pred_t = as_batch(pred, "pred").to(target_t.device)
    dtype = torch.promote_types(pred_t.dtype, target_t.dtype)
    target_t, pred_t = target_t.to(dtype), pred_t.to(dtype)
    valid_t = None if valid is None else as_batch(valid, "valid").to(target_t.device, torch.bool)
    for name, t in (("pred", pred_t), ("valid", valid_t)):
        if t is not None and t.shape != target_t.shape:
            raise ShapeError(
                f"depth_metrics: {name} {tuple(t.shape)} and target {tuple(target_t.shape)} "
                "differ in size; "
                "upsample the prediction to the ground truth's size first (bilinear)"
            )
    if crop is not None:
        # Slicing is the same as masking the outside, and touches fewer pixels.
        top, bottom, left, right = crop_box(
            (int(target_t.shape[-2]), int(target_t.shape[-1])), crop
        )
        target_t, pred_t = target_t[:, top:bottom, left:right], pred_t[:, top:bottom, left:right]
        valid_t = None if valid_t is None else valid_t[:, top:bottom, left:right]
    sums = []
    for i in range(0, target_t.shape[0], chunk):
        g, p = target_t[i : i + chunk], pred_t[i : i + chunk]
        mask = _eval_mask(
            g, None if valid_t is None else valid_t[i : i + chunk], min_depth, max_depth
        )
        p = apply_alignment(p, g, mask, align, min_depth, max_depth).clamp(min_depth, max_depth)
        sums.append(_per_image_sums(p, g, mask))
    return torch.cat(sums)


def _no_pixels_error() -> DataError:
    return DataError(
        "depth_metrics: no valid pixel to score. Ground truth must be in metres (not millimetres), "
        "> 0 and inside [min_depth, max_depth]; check the valid mask and the crop."
    )


def _aggregate(per_image: torch.Tensor, aggregate: str) -> dict[str, float]:
    if aggregate not in _AGGREGATES:
        raise ArgumentError(f"unknown aggregate={aggregate!r}; choose one of {list(_AGGREGATES)}")
    if per_image[:, 0].sum() == 0:
        raise _no_pixels_error()
    if aggregate == "pooled":
        values = _metrics_from_sums(per_image.sum(0))
    else:
        scored = per_image[per_image[:, 0] > 0]
        values = _metrics_from_sums(scored).mean(0)
    return dict(zip(METRIC_NAMES, values.tolist()))


def depth_metrics(
    pred: ArrayLike,
    target: ArrayLike,
    valid: ArrayLike | None = None,
    min_depth: float = MIN_DEPTH,
    max_depth: float = MAX_DEPTH,
    crop: Crop = None,
    aggregate: str = "pooled",
    align: str | None = None,
    protocol: str | None = None,
) -> dict[str, float]:
    """The standard depth metrics and SILog, in metres; the order of arguments matters (pred first).

    Args:
        pred: predicted depth in metres, (B,1,H,W), (B,H,W) or (H,W), torch or numpy (with
            ``align="disparity"``: a relative model's disparity-like output instead).
        target: ground-truth depth in metres, same shape; 0 (or NaN) where unknown.
        valid: optional bool mask, same shape; pixels outside it are ignored.
        min_depth, max_depth: target outside this range is ignored; pred is clamped into it.
        crop: None, ``"densedepth"``, ``"nyu_toolbox"``, ``"kitti_garg"``, ``"kitti_eigen"`` or
            (top, bottom, left, right), see :func:`depthnb.metrics.protocols.crop_box`.
        aggregate: ``"pooled"`` (all valid pixels of all images at once) or ``"per_image"`` (each
            image's metrics, then their mean; images without a valid pixel are skipped).
        align: None, ``"median"`` (:func:`median_scale`), ``"scale_shift"``
            (:func:`align_scale_shift`) or ``"disparity"`` (:func:`align_in_disparity`: pred is
            disparity), per image, before clamping.
        protocol: a name of :data:`depthnb.metrics.protocols.PROTOCOLS` (``"kitti-garg"``:
            Garg crop, [1e-3, 80] m, per-image means; ``"nyu-densedepth"``, ...), which sets crop,
            min_depth, max_depth and aggregate; passing one of those too is an ArgumentError.

    Returns:
        dict of floats: ``abs_rel`` mean |target - pred| / target, ``sq_rel`` mean
        (target - pred)^2 / target, ``rmse`` (metres), ``rmse_log`` (natural log), ``log10`` mean
        |log10 target - log10 pred|, ``delta1..3`` the fraction with max(target/pred, pred/target)
        < 1.25^k, and ``silog`` the KITTI benchmark's ``100 * sqrt(mean(e^2) - mean(e)^2)``,
        e = ln pred - ln target (the benchmark averages it per image: ``aggregate="per_image"``;
        pooled, it is taken over all pixels).
    """
    settings = resolve_protocol(
        protocol, crop=crop, min_depth=min_depth, max_depth=max_depth, aggregate=aggregate
    )
    sums = _prepare(
        pred, target, valid, settings["min_depth"], settings["max_depth"], settings["crop"], align
    )
    return _aggregate(sums, settings["aggregate"])


class DepthMetricAccumulator:
    """Streams depth metrics over a test set: ``update`` per batch, ``compute`` at the end.

    The running sums stay on the batches' device (one small float64 tensor), so a GPU evaluation
    never copies depth maps to the CPU; pooled and per-image results come from the same pass and
    equal :func:`depth_metrics` on the whole set at once. ``protocol`` (a name of
    :data:`PROTOCOLS`) sets min_depth, max_depth, crop and the default of ``compute``'s
    ``aggregate``, as in :func:`depth_metrics`.

    >>> acc = DepthMetricAccumulator(crop=None)
    >>> acc.update(torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 4, 4), 2.5))
    >>> round(acc.compute()["abs_rel"], 6), acc.num_images
    (0.2, 2)
    """

    def __init__(
        self,
        min_depth: float = MIN_DEPTH,
        max_depth: float = MAX_DEPTH,
        crop: Crop = None,
        align: str | None = None,
        protocol: str | None = None,
    ) -> None:
        settings = resolve_protocol(
            protocol, min_depth=min_depth, max_depth=max_depth, crop=crop, aggregate="pooled"
        )
        self.min_depth: float = settings["min_depth"]
        self.max_depth: float = settings["max_depth"]
        self.crop: Crop = settings["crop"]
        self.aggregate: str = settings["aggregate"]
        self.align = align
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far."""
        # [pooled sums (N_SUMS) | sum of per-image metrics (9) | number of scored images (1)]
        self.state: torch.Tensor | None = None

    @property
    def num_images(self) -> int:
        """How many images had at least one valid pixel."""
        return 0 if self.state is None else int(self.state[-1].item())

    def update(self, pred: ArrayLike, target: ArrayLike, valid: ArrayLike | None = None) -> None:
        """Add a batch: pred, target in metres (B,1,H,W), (B,H,W) or (H,W); valid bool like them."""
        per_image = _prepare(
            pred, target, valid, self.min_depth, self.max_depth, self.crop, self.align
        )
        scored = per_image[per_image[:, 0] > 0]
        batch_state = torch.cat(
            [
                per_image.sum(0),
                _metrics_from_sums(scored).sum(0),
                torch.tensor([float(scored.shape[0])], dtype=torch.float64, device=scored.device),
            ]
        )
        self.state = batch_state if self.state is None else self.state + batch_state.to(self.state)

    def all_reduce(self) -> None:
        """Sum the state over the processes of ``torch.distributed`` (no-op otherwise)."""
        from depthnb.utils import distributed

        if self.state is not None:
            self.state = distributed.all_reduce_sum(self.state)

    def compute(self, aggregate: str | None = None) -> dict[str, float]:
        """The metrics of everything seen: ``"pooled"`` or ``"per_image"`` (see depth_metrics);
        None: the protocol's (``"pooled"`` without one)."""
        aggregate = self.aggregate if aggregate is None else aggregate
        if aggregate not in _AGGREGATES:
            raise ArgumentError(
                f"unknown aggregate={aggregate!r}; choose one of {list(_AGGREGATES)}"
            )
        if self.state is None or self.state[0] == 0:
            raise _no_pixels_error()
        if aggregate == "pooled":
            values = _metrics_from_sums(self.state[:N_SUMS])
        else:
            values = self.state[N_SUMS:-1] / self.state[-1]
        return dict(zip(METRIC_NAMES, values.tolist()))


#: History keys where a larger value is better (every other key: smaller is better).
HIGHER_IS_BETTER = ("delta1", "delta2", "delta3", "iou")
