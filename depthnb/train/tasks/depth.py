"""Depth regression, the default task: the image in, a loss on the encoded depth, depth metrics.

>>> from torch.utils.data import default_collate
>>> from depthnb.data import SyntheticRooms
>>> from depthnb.models import build_model
>>> model = build_model("unet", filters=(4, 8, 8, 8, 8))
>>> batch = default_collate([SyntheticRooms(2, size=(32, 32))[i] for i in range(2)])
>>> task = DepthTask.for_model(model)
>>> loss, parts = task.loss(model(task.inputs(batch)), batch)   # parts: {} for one term
>>> loss.shape, loss.item() > 0
(torch.Size([]), True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from depthnb.data.sample import DEPTH, IMAGE, VALID, Sample
from depthnb.encodings import Encoding
from depthnb.errors import ModelError
from depthnb.inference import Outputs, Size, decode_outputs, spatial_size
from depthnb.metrics.depth import DepthMetricAccumulator
from depthnb.models.blocks import model_encoding
from depthnb.train.tasks.base import Meter, match_resolution, require

#: A depth loss on encoded tensors: ``loss(pred (B,1,h,w), target (B,1,h,w), valid) -> scalar``.
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def get_loss_function(name: str) -> LossFn:
    """The loss ``name`` from :mod:`depthnb.losses` as ``loss(pred, target, valid) -> scalar``."""
    from depthnb.losses import composite as losses

    return losses.get_loss(name)


class DepthMeter:
    """Depth metrics pooled over every valid pixel (a ``DepthMetricAccumulator``).

    ``crop``, ``align``, ``min_depth``, ``max_depth``: the evaluation protocol (see
    :func:`depthnb.metrics.depth_metrics`), or ``protocol`` by name; ``aggregate``: ``"pooled"``
    or ``"per_image"`` (None: the protocol's, pooled without one).
    """

    def __init__(self, aggregate: str | None = None, **protocol: Any) -> None:
        self.accumulator = DepthMetricAccumulator(**protocol)
        self.aggregate = aggregate

    def update(self, prediction: Mapping[str, torch.Tensor], batch: Sample) -> None:
        """Add the predicted depth (B,1,H,W) metres against ``batch``'s depth and valid mask."""
        self.accumulator.update(prediction[DEPTH], batch[DEPTH], batch.get(VALID))

    def all_reduce(self) -> None:
        """Sum the sums over processes."""
        self.accumulator.all_reduce()

    def compute(self) -> dict[str, float]:
        """abs_rel, sq_rel, rmse, rmse_log, log10, delta1..3 (metres), silog."""
        return self.accumulator.compute(self.aggregate)


class DepthTask:
    """Depth regression: image (B,3,H,W) -> encoded depth (B,1,h,w), a loss on encoded tensors.

    Args:
        encoding: the model's encoding (targets are encoded with it; outputs decoded).
        loss_fn: ``(pred, target, valid) -> scalar`` on encoded tensors at the prediction's size
            (the target is area-downsampled to it, as DenseDepth does at half resolution).
    """

    monitor = "delta1"

    def __init__(self, encoding: Encoding, loss_fn: LossFn) -> None:
        self.encoding = encoding
        self.loss_fn = loss_fn

    @classmethod
    def for_model(
        cls, model: nn.Module, loss: str = "auto", loss_fn: LossFn | None = None
    ) -> DepthTask:
        """The task of ``model``: its encoding, and the loss ``loss`` (``"auto"``: the loss of the
        model's paper, by ``model.name``) unless ``loss_fn`` is given."""
        encoding = model_encoding(model, "DepthTask")
        if loss_fn is None:
            loss_fn = get_loss_function(getattr(model, "name", "l1") if loss == "auto" else loss)
        return cls(encoding, loss_fn)

    def inputs(self, batch: Sample) -> torch.Tensor:
        """The image (B,3,H,W) in [0,1]."""
        require(batch, (IMAGE,), "use a depthnb dataset (depthnb.data)")
        return batch[IMAGE]

    def targets(self, batch: Sample, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoded depth (B,1,h,w) and valid (B,1,h,w), area-downsampled to ``size`` = (h, w)."""
        require(batch, (DEPTH, VALID), "use a depthnb dataset (depthnb.data)")
        depth, valid = match_resolution(batch[DEPTH], batch[VALID], size)
        return self.encoding.encode(depth), valid

    def loss(self, outputs: Outputs, batch: Sample) -> tuple[torch.Tensor, dict[str, float]]:
        """``loss_fn`` of the encoded prediction (B,1,h,w) against the depth at its size."""
        if not isinstance(outputs, torch.Tensor):
            raise ModelError(
                f"the model returned {type(outputs).__name__} {sorted(outputs)}, not a depth "
                "tensor (B,1,h,w); train a model with several heads with its own task "
                "(e.g. depthnb.train.tasks.maskdepth.MaskDepthTask)"
            )
        target, valid = self.targets(batch, spatial_size(outputs))
        return self.loss_fn(outputs.float(), target, valid), {}

    def predict(self, outputs: Outputs, size: Size) -> dict[str, torch.Tensor]:
        """Depth metres (B,1,H,W) at ``size`` (see :func:`depthnb.inference.decode_outputs`)."""
        return decode_outputs(self.encoding, outputs, size)

    def meter(self) -> Meter:
        """Pooled depth metrics."""
        return DepthMeter()
