"""Scoring a model over a test set, and printing scores as a table.

:func:`evaluate` runs a model (or a task) over a dataset and streams its predictions, in metres,
through :class:`~depthnb.metrics.depth.DepthMetricAccumulator` under a protocol (crops, depth range,
aggregation, alignment: see :mod:`depthnb.metrics`); :func:`format_table` prints rows of scores
beside the published ones (:data:`~depthnb.metrics.protocols.PUBLISHED`).
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral
from typing import Any

import torch

from depthnb.encodings import MAX_DEPTH, MIN_DEPTH
from depthnb.errors import ArgumentError, DataError
from depthnb.metrics.depth import (
    DepthMetricAccumulator,
)
from depthnb.metrics.protocols import (
    PUBLISHED,
    Crop,
    resolve_protocol,
)

__all__ = ["evaluate", "format_table"]


# ---------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    dataset: torch.utils.data.Dataset,
    batch_size: int = 8,
    flip_tta: bool = False,
    crop: Crop = None,
    min_depth: float = MIN_DEPTH,
    max_depth: float = MAX_DEPTH,
    aggregate: str = "pooled",
    device: torch.device | str | None = None,
    align: str | None = None,
    workers: int = 0,
    input_size: tuple[int, int] | None = None,
    inputs: Callable[[dict[str, Any]], torch.Tensor] | None = None,
    protocol: str | None = None,
) -> dict[str, float]:
    """Score a model on a dataset under a stated protocol; returns one row of metrics.

    For each batch: predict, decode to metres with ``model.encoding.decode``, upsample bilinearly to
    the ground truth's size, optionally average with the prediction for the mirrored image
    (``flip_tta``, mirrored back), then :class:`DepthMetricAccumulator` (align, clamp, crop, valid
    mask). DenseDepth's protocol on NYU: ``flip_tta=True, crop="densedepth", aggregate="pooled"``;
    the KITTI Eigen-split one: ``protocol="kitti-garg"`` (see :data:`PROTOCOLS`, which set crop,
    min_depth, max_depth and aggregate); a relative model that predicts disparity:
    ``align="disparity"``.

    Args:
        model: a depthnb model (``.encoding`` set) on one device; evaluated in eval mode on
            ``device``, then put back in its mode and on its device (also when scoring fails).
        dataset: yields samples with ``image`` (3,H,W), ``depth`` (1,H,W) metres, ``valid`` (1,H,W).
        device: where to compute (the model is moved there for the evaluation and back
            afterwards); defaults to the model's device.
        input_size: (H, W) to resize the images to before the network sees them (the size it
            was trained at, e.g. 228x304 for FCRN); None feeds them as they come.
        inputs: the network's input for a batch (default its ``image``), e.g. a task's
            ``inputs`` (:meth:`depthnb.train.tasks.maskdepth.MaskDepthTask.inputs`).

    Predictions come from :func:`depthnb.inference.predicted_batches`, the path predict and the
    Trainer's validation take too.

    Returns:
        dict of the metrics of :func:`depth_metrics` plus ``num_images``.
    """
    from depthnb.data.sample import DEPTH, IMAGE, VALID
    from depthnb.inference import predicted_batches, resize_images
    from depthnb.models.blocks import model_encoding

    model_encoding(model, "evaluate")
    _check_evaluate_args(dataset, batch_size, workers)
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    device = torch.device(device)
    home = _home_device(model, device)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
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

    try:
        model.to(device)
        for batch, prediction in predicted_batches(model, loader, network_input, device, flip_tta):
            accumulator.update(prediction[DEPTH], batch[DEPTH], batch.get(VALID))
    finally:
        model.to(home)
    return {**accumulator.compute(settings["aggregate"]), "num_images": accumulator.num_images}


def _home_device(model: torch.nn.Module, device: torch.device) -> torch.device:
    """The device of a model's parameters and buffers, to put it back on after evaluating it on
    ``device`` (``device`` itself for a model without any).

    Raises:
        ArgumentError: they are on several devices, not all ``device`` (a model split across
            devices cannot be moved and put back).
    """
    devices = {tensor.device for tensor in (*model.parameters(), *model.buffers())}
    if len(devices) > 1:
        names = sorted(str(place) for place in devices)
        raise ArgumentError(
            f"evaluate: the model's weights are on several devices {names}; move it to one "
            f"(model.to(device)) before evaluating it on {device}"
        )
    return devices.pop() if devices else device


def _check_evaluate_args(dataset: Any, batch_size: int, workers: int) -> None:
    """Raise :class:`ArgumentError` for a batch size below 1 or negative workers, and
    :class:`DataError` for an empty dataset (nothing to score)."""
    for name, value, least in (("batch_size", batch_size, 1), ("workers", workers, 0)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < least:
            raise ArgumentError(f"evaluate: {name}={value!r} must be a whole number >= {least}")
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
