"""The two-head mask-and-depth network (the fg/bg seed) as a task of the one Trainer.

The network (``build_model("maskdepth")``) sees a background image and the same scene with a
foreground object pasted on, stacked on the channel axis, and predicts two things at once: the
object's mask at input resolution (logits) and the scene's depth at half resolution.

- :class:`MaskDepthTask`: batch -> network input, the seed's loss ``2 * BCE + (1 - SSIM)``, and the
  metrics (mask IoU on probabilities, depth metrics in metres). :class:`depthnb.train.Trainer`
  trains it (checkpoints, resume, AMP, DDP as for any task).
- :data:`MASKDEPTH_SEED`: the seed's recipe as :class:`~depthnb.train.TrainConfig` settings (SGD
  lr 0.01, momentum 0.9, weight decay 1e-5, the rate times 0.1 every 2 epochs);
  :func:`maskdepth_trainer` builds the Trainer with it.
- :func:`evaluate_maskdepth`, :func:`collect_predictions`: IoU and depth metrics pooled over every
  pixel of a loader, and the predictions themselves (through :mod:`depthnb.inference`).
- :func:`seed_counts`: this network's parameters and MACs beside the seed's double-counted figures.

>>> from depthnb.data import SyntheticFgBg
>>> from depthnb.models import build_model
>>> train_set, val_set = SyntheticFgBg(4, size=(32, 32)), SyntheticFgBg(2, (32, 32), seed=1000)
>>> trainer = maskdepth_trainer(build_model("maskdepth"), train_set, val_set, epochs=1,
...                             batch_size=2)            # the seed's recipe: epochs=6
>>> history = trainer.fit()
>>> 0.0 <= history[-1]["iou"] <= 1.0
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from depthnb.data.sample import BACKGROUND, DEPTH, IMAGE, MASK, VALID, Sample
from depthnb.encodings import DEPTHNORM_MIN_DEPTH, MAX_DEPTH, Encoding
from depthnb.errors import ArgumentError, DataError, ModelError, ShapeError
from depthnb.inference import Outputs, predicted_batches, spatial_size
from depthnb.metrics.mask import iou_from_counts, mask_counts
from depthnb.models.blocks import model_encoding
from depthnb.train.config import TrainConfig
from depthnb.train.tasks.base import Meter, require
from depthnb.train.tasks.depth import DepthMeter, DepthTask
from depthnb.train.trainer import Trainer
from depthnb.utils import distributed

#: The seed's recipe (batch 100 at 160x160 on a GPU), in :class:`TrainConfig`'s keys.
MASKDEPTH_SEED: dict[str, Any] = {
    "optimizer": "sgd",
    "lr": 0.01,
    "momentum": 0.9,
    "weight_decay": 1e-5,
    "schedule": "step",
    "step_epochs": 2,
    "gamma": 0.1,
    "batch_size": 100,
    "loss": "maskdepth",
}

#: The seed's published figures for its network at 2 x 160 x 160 input.
SEED_PARAMETERS = 748_000
SEED_MACS = 892_000_000

_FGBG_HINT = (
    "use a dataset with foreground masks and backgrounds (depthnb.data.FgBgDepth or SyntheticFgBg)"
)


def stack_inputs(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The network's input: background and fg-on-background stacked, (B,3,H,W) x 2 -> (B,6,H,W).

    Background first, then the composite (``batch["image"]``), both in [0,1].
    """
    require(dict(batch), (BACKGROUND, IMAGE), _FGBG_HINT)
    background, image = batch[BACKGROUND], batch[IMAGE]
    if background.shape != image.shape:
        raise ShapeError(
            f"background {tuple(background.shape)} and image {tuple(image.shape)} differ in shape; "
            "resize both with the same transform"
        )
    return torch.cat([background, image], dim=1)


def encoding_range(
    encoding: Encoding, min_depth: float = DEPTHNORM_MIN_DEPTH, max_depth: float = MAX_DEPTH
) -> float:
    """SSIM's data range for targets encoded with ``encoding``: its ``data_range`` if it has one,
    else ``|encode(max_depth) - encode(min_depth)|`` over DepthNorm's 0.1 .. 10 m (metres: 9.9;
    log: 4.6), the range DenseDepth's SSIM is taken over."""
    data_range = getattr(encoding, "data_range", None)
    if data_range is not None:
        return float(data_range)
    ends = encoding.encode(torch.tensor([min_depth, max_depth]))
    return float((ends[1] - ends[0]).abs())


class MaskDepthMeter(DepthMeter):
    """Depth metrics (metres, pooled) and the mask IoU pooled over every pixel of every image.

    IoU is one intersection-over-union of all pixels together (not a mean of per-image IoUs); a
    pixel is foreground where its probability exceeds ``threshold``; 1.0 when both are empty.
    """

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__()
        self.threshold = threshold
        self.counts = torch.zeros(2, dtype=torch.float64)  # intersection, union

    def update(self, prediction: Mapping[str, torch.Tensor], batch: Sample) -> None:
        """Add the predicted mask probability and depth against the batch's mask and depth."""
        super().update(prediction, batch)
        self.counts += mask_counts(prediction[MASK], batch[MASK], self.threshold)

    def all_reduce(self) -> None:
        """Sum depth sums and mask counts over processes."""
        super().all_reduce()
        self.counts = distributed.all_reduce_sum(self.counts)

    def compute(self) -> dict[str, float]:
        """``iou`` plus the depth metrics (abs_rel, rmse, delta1, ...)."""
        intersection, union = self.counts.tolist()
        return {"iou": iou_from_counts(intersection, union), **super().compute()}


class MaskDepthTask(DepthTask):
    """The fg/bg task: its input, its two-part loss, its metrics; the rest is the Trainer's.

    Args:
        encoding: how the depth head's output relates to metres (the model's ``encoding``).
        ssim_range: SSIM's data range L in the encoded space (the spread of the targets).
        mask_weight: weight of the mask's BCE; the seed used 2.
        depth_weight: weight of ``1 - SSIM`` on depth; the seed used 1.
        threshold: probability above which a pixel counts as foreground for IoU.
    """

    monitor = "iou"

    def __init__(
        self,
        encoding: Encoding,
        ssim_range: float,
        mask_weight: float = 2.0,
        depth_weight: float = 1.0,
        threshold: float = 0.5,
    ) -> None:
        super().__init__(encoding, loss_fn=_unused_loss)
        self.ssim_range = ssim_range
        self.mask_weight = mask_weight
        self.depth_weight = depth_weight
        self.threshold = threshold

    @classmethod
    def for_model(cls, model: nn.Module, **kwargs: Any) -> MaskDepthTask:  # type: ignore[override]
        """The task for ``model``: its encoding, and SSIM's range taken from the encoding.

        An encoding with a ``data_range`` (inverse depth) gives it; otherwise the range of the
        encoded values between ``min_depth`` and ``max_depth`` metres (the synthetic scenes' 10 m).
        """
        encoding = model_encoding(model, "MaskDepthTask")
        return cls(encoding=encoding, ssim_range=encoding_range(encoding), **kwargs)

    def inputs(self, batch: Sample) -> torch.Tensor:
        """(B,6,H,W): background and fg-on-background stacked (see :func:`stack_inputs`)."""
        return stack_inputs(batch)

    def loss(self, outputs: Outputs, batch: Sample) -> tuple[torch.Tensor, dict[str, float]]:
        """``mask_weight * BCEWithLogits(mask) + depth_weight * (1 - SSIM(depth))``.

        The mask term compares logits (B,1,H,W) with the true mask; the depth term compares the
        half-resolution depth head (B,1,H/2,W/2) with the area-downsampled encoded ground truth
        (:func:`depthnb.train.match_resolution`); SSIM windows touching invalid pixels do not
        count.

        Returns:
            the scalar loss (with gradient) and its parts as floats: ``mask_bce``,
            ``depth_ssim_loss``.
        """
        from depthnb.losses.terms import ssim

        require(batch, (MASK, DEPTH, VALID), _FGBG_HINT)
        if isinstance(outputs, torch.Tensor):
            raise ModelError("MaskDepthTask needs a model with mask and depth heads (maskdepth)")
        mask_logits, depth_pred = outputs[MASK].float(), outputs[DEPTH].float()
        depth, valid = self.targets(batch, spatial_size(depth_pred))
        bce = F.binary_cross_entropy_with_logits(mask_logits, batch[MASK].float())
        ssim_loss = 1.0 - ssim(depth_pred, depth, data_range=self.ssim_range, valid=valid)
        total = self.mask_weight * bce + self.depth_weight * ssim_loss
        return total, {
            "mask_bce": float(bce.detach()),
            "depth_ssim_loss": float(ssim_loss.detach()),
        }

    def meter(self) -> Meter:
        """Mask IoU (at ``threshold``) and pooled depth metrics."""
        return MaskDepthMeter(self.threshold)

    def metrics(self, outputs: Outputs, batch: Sample) -> dict[str, float]:
        """Mask IoU and depth metrics of one batch (``iou`` plus abs_rel, rmse, delta1, ...)."""
        require(batch, (MASK, DEPTH, VALID), _FGBG_HINT)
        meter = self.meter()
        meter.update(self.predict(outputs, spatial_size(batch[DEPTH])), batch)
        return meter.compute()


def _unused_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """MaskDepthTask computes its own two-part loss; a single-tensor loss does not apply."""
    raise ArgumentError("MaskDepthTask.loss combines the mask and depth terms; it has no loss_fn")


def maskdepth_trainer(
    model: nn.Module,
    train_data: Dataset,
    val_data: Dataset | None = None,
    task: MaskDepthTask | None = None,
    **settings: Any,
) -> Trainer:
    """A :class:`~depthnb.train.Trainer` of ``model`` on the fg/bg task with the seed's recipe
    (:data:`MASKDEPTH_SEED`); ``settings`` override any :class:`TrainConfig` field (``epochs``,
    ``batch_size``, ``device``, ``channels_last``, ``time_budget_s``, ``log_every``, ...)."""
    config = TrainConfig.from_dict({**MASKDEPTH_SEED, "progress": False, **settings})
    task = task if task is not None else MaskDepthTask.for_model(model)
    return Trainer(model, train_data, val_data, config, task=task)


def _fgbg_predictions(
    model: nn.Module,
    loader: Iterable[Sample],
    task: MaskDepthTask | None,
    device: torch.device | str | None,
    max_batches: int | None,
) -> Iterator[tuple[Sample, dict[str, torch.Tensor]]]:
    task = task if task is not None else MaskDepthTask.for_model(model)
    batches = predicted_batches(model, loader, task.inputs, device, max_batches=max_batches)
    for batch, prediction in batches:
        require(batch, (MASK, DEPTH, VALID), _FGBG_HINT)
        yield batch, prediction


@torch.no_grad()
def collect_predictions(
    model: nn.Module,
    loader: Iterable[Sample],
    task: MaskDepthTask | None = None,
    device: torch.device | str | None = None,
    max_batches: int | None = None,
) -> dict[str, torch.Tensor]:
    """Run ``model`` over (the first ``max_batches`` of) ``loader`` in eval mode, kept on the CPU.

    Returns:
        ``background``, ``image`` (N,3,H,W); ``mask``, ``mask_probability`` (N,1,H,W);
        ``depth``, ``depth_pred`` (N,1,H,W) metres (prediction upsampled from H/2); ``valid``.
    """
    kept: dict[str, list[torch.Tensor]] = {}
    for batch, prediction in _fgbg_predictions(model, loader, task, device, max_batches):
        values = {key: batch[key] for key in (BACKGROUND, IMAGE, MASK, DEPTH, VALID)}
        values.update(mask_probability=prediction[MASK], depth_pred=prediction[DEPTH])
        for key, value in values.items():
            kept.setdefault(key, []).append(value.detach().cpu())
    if not kept:
        raise DataError("collect_predictions got an empty loader: give it at least one batch")
    return {key: torch.cat(values) for key, values in kept.items()}


@torch.no_grad()
def evaluate_maskdepth(
    model: nn.Module,
    loader: Iterable[Sample],
    task: MaskDepthTask | None = None,
    device: torch.device | str | None = None,
    max_batches: int | None = None,
) -> dict[str, float]:
    """Mask IoU and depth metrics over a whole loader, pooled over all its pixels
    (:class:`MaskDepthMeter`; depth: the depth head upsampled bilinearly from (H/2, W/2) to the
    full-resolution ground truth, metres).

    Returns:
        ``iou`` plus depth_metrics' keys (abs_rel, sq_rel, rmse, rmse_log, log10, delta1..3).
    """
    task = task if task is not None else MaskDepthTask.for_model(model)
    meter = task.meter()
    seen = 0
    for batch, prediction in _fgbg_predictions(model, loader, task, device, max_batches):
        meter.update(prediction, batch)
        seen += 1
    if not seen:
        raise DataError("evaluate_maskdepth got an empty loader: give it at least one batch")
    return meter.compute()


def seed_counts(model: nn.Module, input_size: tuple[int, int]) -> dict[str, int]:
    """This network's parameters and MACs, and the same counted the seed's way (decoder twice).

    The seed ran its decoder once per head, so its summary counted every decoder layer twice. Here
    the decoder runs once and both heads read its output; adding the decoder's own parameters and
    MACs once more reproduces the seed's figures.

    Args:
        model: a ``maskdepth`` model with a ``decoder`` submodule; its ``in_channels`` (6, or 2
            for the seed's grey images) set the input's channels.
        input_size: (H, W) of one input, e.g. (160, 160).

    Returns:
        ``parameters``, ``decoder_parameters``, ``seed_parameters`` (= parameters + decoder's),
        ``macs``, ``decoder_macs``, ``seed_macs`` (= macs + decoder's).
    """
    from depthnb.models.summary import count_macs, count_parameters, macs_by_module

    decoder = getattr(model, "decoder", None)
    if not isinstance(decoder, nn.Module):
        raise ModelError(f"{type(model).__name__} has no .decoder submodule to count twice")
    parameters = count_parameters(model)["total"]
    decoder_parameters = count_parameters(decoder)["total"]
    macs = count_macs(model, input_size)
    decoder_macs = macs_by_module(model, input_size)["decoder"]
    return {
        "parameters": parameters,
        "decoder_parameters": decoder_parameters,
        "seed_parameters": parameters + decoder_parameters,
        "macs": macs,
        "decoder_macs": decoder_macs,
        "seed_macs": macs + decoder_macs,
    }
