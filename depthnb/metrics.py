"""The standard depth metrics, the evaluation protocols around them, and mask IoU.

Depth metrics compare metres with metres. Which pixels count, and how they are averaged, is the
*protocol*, and published numbers differ as much through it as through the models:

- valid pixels: ground truth > 0, inside [min_depth, max_depth], inside the ``valid`` mask and the
  crop; the prediction is clamped to [min_depth, max_depth];
- crops: ``"eigen"`` (DenseDepth's, rows 20:460 and cols 24:616 of 480x640) and ``"nyu_toolbox"``
  (rows 44:471, cols 40:601), scaled proportionally for other sizes; KITTI's ``"kitti_garg"`` and
  ``"kitti_eigen"``, fractions of the frame (:mod:`depthnb.protocols`);
- aggregation: ``"pooled"`` averages over all valid pixels of all images (DenseDepth),
  ``"per_image"`` computes each image's metrics and averages those (the KITTI papers);
- alignment for relative-depth models: ``"median"`` scaling or ``"scale_shift"`` (least squares),
  or ``"disparity"`` (least squares in disparity, for a model that predicts disparity), per
  image, before clamping;
- named protocols (:data:`PROTOCOLS`), ``protocol="kitti-garg"`` say: the crop, the depth range
  (KITTI caps at 80 m, Garg et al. at 50 m) and the aggregation at once.

The scoring itself (masks, alignment, :func:`depth_metrics`) lives in :mod:`depthnb.scoring`, the
crops and protocols in :mod:`depthnb.protocols`; both are re-exported here. This module streams the
scoring over a test set (:class:`DepthMetricAccumulator`, :func:`evaluate`), prints tables and
scores masks; :func:`uncertainty_calibration` (from :mod:`depthnb.uncertainty`) compares a
model's predicted error scale with its observed errors.

>>> gt = torch.tensor([[1.0, 2.0], [4.0, 0.0]])      # 0 = no reading
>>> m = depth_metrics(gt * 1.1, gt)
>>> round(m["abs_rel"], 6), m["delta1"]
(0.1, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral
from typing import Any

import torch

from depthnb.errors import ConfigError, DataError, ModelError, ShapeError
from depthnb.protocols import CROPS, KITTI_CROPS, PROTOCOLS, Crop, crop_box, resolve_protocol
from depthnb.scoring import (
    _AGGREGATES,
    METRIC_NAMES,
    N_SUMS,
    ArrayLike,
    _as_batch,
    _metrics_from_sums,
    _no_pixels_error,
    _prepare,
    align_in_disparity,
    align_scale_shift,
    crop_mask,
    depth_metrics,
    median_scale,
)
from depthnb.uncertainty import uncertainty_calibration

__all__ = [
    "CROPS",
    "KITTI_CROPS",
    "METRIC_NAMES",
    "PROTOCOLS",
    "PUBLISHED",
    "DepthMetricAccumulator",
    "align_in_disparity",
    "align_scale_shift",
    "crop_box",
    "crop_mask",
    "depth_metrics",
    "evaluate",
    "format_table",
    "mask_iou",
    "median_scale",
    "uncertainty_calibration",
]

# Published NYU Depth v2 results (654 test images), as printed in each paper's results table.
PUBLISHED: dict[str, dict[str, float]] = {
    "DenseDepth (paper)": {
        "delta1": 0.846,
        "delta2": 0.974,
        "delta3": 0.994,
        "abs_rel": 0.123,
        "rmse": 0.465,
        "log10": 0.053,
    },
    "DenseDepth (released weights, repo script)": {
        "delta1": 0.847,
        "delta2": 0.973,
        "delta3": 0.994,
        "abs_rel": 0.127,
        "rmse": 0.549,
        "log10": 0.054,
    },
    "DenseDepth (released weights, script's arguments in order)": {
        "delta1": 0.847,
        "delta2": 0.973,
        "delta3": 0.994,
        "abs_rel": 0.123,
        "rmse": 0.549,
        "log10": 0.054,
    },
    "FCRN (paper)": {
        "delta1": 0.811,
        "delta2": 0.953,
        "delta3": 0.988,
        "abs_rel": 0.127,
        "rmse": 0.573,
        "log10": 0.055,
    },
}


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
        min_depth: float = 1e-3,
        max_depth: float = 10.0,
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

    def update(self, pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None) -> None:
        """Add a batch: pred, gt in metres (B,1,H,W), (B,H,W) or (H,W); valid bool like them."""
        per_image = _prepare(pred, gt, valid, self.min_depth, self.max_depth, self.crop, self.align)
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
        from depthnb import distributed

        if self.state is not None:
            self.state = distributed.all_reduce_sum(self.state)

    def compute(self, aggregate: str | None = None) -> dict[str, float]:
        """The metrics of everything seen: ``"pooled"`` or ``"per_image"`` (see depth_metrics);
        None: the protocol's (``"pooled"`` without one)."""
        aggregate = self.aggregate if aggregate is None else aggregate
        if aggregate not in _AGGREGATES:
            raise ConfigError(f"unknown aggregate={aggregate!r}; choose one of {list(_AGGREGATES)}")
        if self.state is None or self.state[0] == 0:
            raise _no_pixels_error()
        if aggregate == "pooled":
            values = _metrics_from_sums(self.state[:N_SUMS])
        else:
            values = self.state[N_SUMS:-1] / self.state[-1]
        return dict(zip(METRIC_NAMES, values.tolist()))


# ------------------------------------------------------------------------------------ mask IoU
def mask_iou(
    pred: ArrayLike, target: ArrayLike, threshold: float = 0.5, from_logits: bool = False
) -> float:
    """Intersection over union of a predicted foreground mask and the true one, over the batch.

    ``pred`` holds probabilities in [0,1], thresholded at ``threshold``; with ``from_logits=True``
    it holds raw network outputs, and a pixel is foreground where ``sigmoid(logit) > threshold``
    (thresholding raw logits at 0.5 would be a different, wrong, cut). target: {0,1} or bool.
    Shapes (B,1,H,W), (B,H,W) or (H,W). Pooled over all pixels; 1.0 when both masks are empty.
    """
    pred_t = _as_batch(pred, "pred")
    target_t = _as_batch(target, "target").to(pred_t.device)
    if pred_t.shape != target_t.shape:
        raise ShapeError(
            f"mask_iou: pred {tuple(pred_t.shape)} and target {tuple(target_t.shape)} differ"
        )
    probabilities = torch.sigmoid(pred_t.float()) if from_logits else pred_t.float()
    if not from_logits and (probabilities.min() < 0 or probabilities.max() > 1):
        raise ModelError(
            "mask_iou: pred has values outside [0, 1]; pass probabilities, or from_logits=True "
            "for raw network outputs"
        )
    predicted = probabilities > threshold
    truth = target_t > 0.5 if target_t.dtype != torch.bool else target_t
    union = (predicted | truth).sum().item()
    if union == 0:
        return 1.0
    return (predicted & truth).sum().item() / union


# ---------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    dataset: torch.utils.data.Dataset,
    batch_size: int = 8,
    flip_tta: bool = False,
    crop: Crop = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    aggregate: str = "pooled",
    device: torch.device | str | None = None,
    align: str | None = None,
    num_workers: int = 0,
    input_size: tuple[int, int] | None = None,
    inputs: Callable[[dict[str, Any]], torch.Tensor] | None = None,
    protocol: str | None = None,
) -> dict[str, float]:
    """Score a model on a dataset under a stated protocol; returns one row of metrics.

    For each batch: predict, decode to metres with ``model.encoding.decode``, upsample bilinearly to
    the ground truth's size, optionally average with the prediction for the mirrored image
    (``flip_tta``, mirrored back), then :class:`DepthMetricAccumulator` (align, clamp, crop, valid
    mask). DenseDepth's protocol on NYU: ``flip_tta=True, crop="eigen", aggregate="pooled"``;
    the KITTI Eigen-split one: ``protocol="kitti-garg"`` (see :data:`PROTOCOLS`, which set crop,
    min_depth, max_depth and aggregate); a relative model that predicts disparity:
    ``align="disparity"``.

    Args:
        model: a depthnb model (``.encoding`` set); evaluated in eval mode, restored afterwards.
        dataset: yields samples with ``image`` (3,H,W), ``depth`` (1,H,W) metres, ``valid`` (1,H,W).
        device: defaults to the model's device.
        input_size: (H, W) to resize the images to before the network sees them (the size it
            was trained at, e.g. 228x304 for FCRN); None feeds them as they come.
        inputs: the network's input for a batch (default its ``image``), e.g. a task's
            ``inputs`` (:meth:`depthnb.maskdepth_task.MaskDepthTask.inputs`).

    Predictions come from :func:`depthnb.inference.predicted_batches`, the path predict and the
    Trainer's validation take too.

    Returns:
        dict of the metrics of :func:`depth_metrics` plus ``num_images``.
    """
    from depthnb.data.sample import DEPTH, IMAGE, VALID
    from depthnb.inference import predicted_batches, resize_images
    from depthnb.models.blocks import model_encoding

    model_encoding(model, "evaluate")
    _check_evaluate_args(dataset, batch_size, num_workers)
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    device = torch.device(device)
    model.to(device)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    settings = resolve_protocol(
        protocol, crop=crop, min_depth=min_depth, max_depth=max_depth, aggregate=aggregate
    )
    accumulator = DepthMetricAccumulator(
        settings["min_depth"], settings["max_depth"], settings["crop"], align
    )
    given = inputs if inputs is not None else (lambda batch: batch[IMAGE])

    def network_input(batch: dict[str, Any]) -> torch.Tensor:
        images = given(batch)
        return images if input_size is None else resize_images(images, input_size)

    for batch, prediction in predicted_batches(model, loader, network_input, device, flip_tta):
        accumulator.update(prediction[DEPTH], batch[DEPTH], batch.get(VALID))
    return {**accumulator.compute(settings["aggregate"]), "num_images": accumulator.num_images}


def _check_evaluate_args(dataset: Any, batch_size: int, num_workers: int) -> None:
    """Raise :class:`ConfigError` for a batch size below 1 or negative workers, and
    :class:`DataError` for an empty dataset (nothing to score)."""
    for name, value, least in (("batch_size", batch_size, 1), ("num_workers", num_workers, 0)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < least:
            raise ConfigError(f"evaluate: {name}={value!r} must be a whole number >= {least}")
    if hasattr(dataset, "__len__") and len(dataset) == 0:
        raise DataError("evaluate: the dataset is empty, so there is nothing to score")


def format_table(
    rows: dict[str, dict[str, Any]],
    published: bool = True,
    columns: tuple[str, ...] = ("delta1", "delta2", "delta3", "abs_rel", "rmse", "log10"),
) -> str:
    """A plain-text table of metric rows, beside the published NYU rows (:data:`PUBLISHED`).

    rows: name -> dict of metrics (e.g. the output of :func:`evaluate`). Higher is better for
    delta1..3, lower for the others; missing values print as "-".
    """
    all_rows = {**rows, **(PUBLISHED if published else {})}
    name_width = max(len(name) for name in all_rows)
    arrows = {c: "↑" if c.startswith("delta") else "↓" for c in columns}
    header = f"{'':<{name_width}}  " + "  ".join(f"{c + arrows[c]:>9}" for c in columns)
    lines = [header, "-" * len(header)]
    for name, metrics in all_rows.items():
        cells = []
        for c in columns:
            value = metrics.get(c)
            cells.append(f"{value:>9.3f}" if value is not None else f"{'-':>9}")
        lines.append(f"{name:<{name_width}}  " + "  ".join(cells))
    return "\n".join(lines)
