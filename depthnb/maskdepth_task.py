"""Training and evaluating the two-head mask-and-depth network (the fg/bg seed), and what it costs.

The network (``build_model("maskdepth")``) sees a background image and the same scene with a
foreground object pasted on, stacked on the channel axis, and predicts two things at once: the
object's mask at input resolution (logits) and the scene's depth at half resolution.

- :class:`MaskDepthTask`: batch -> network input, the seed's loss ``2 * BCE + (1 - SSIM)``, and the
  metrics (mask IoU on probabilities, depth metrics in metres).
- :func:`train_maskdepth`: the seed's recipe (SGD lr 0.01, momentum 0.9, weight decay 1e-5,
  StepLR every 2 epochs by 0.1), timing every step's data wait and compute.
- :func:`evaluate_maskdepth`: IoU and depth metrics pooled over every pixel of a loader.
- :func:`seed_counts`: this network's parameters and MACs beside the seed's double-counted figures.

>>> task = MaskDepthTask.for_model(model)                     # doctest: +SKIP
>>> loss, parts = task.loss(model(task.inputs(batch)), batch)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from depthnb.encodings import Encoding
from depthnb.errors import ConfigError, DataError, ModelError
from depthnb.profiling import synchronize
from depthnb.train import match_resolution, upsample_to

Batch = Mapping[str, torch.Tensor]
Outputs = Mapping[str, torch.Tensor]

#: The seed's recipe (batch 100 at 160x160 on a GPU).
SEED_RECIPE: dict[str, float] = {
    "lr": 0.01,
    "momentum": 0.9,
    "weight_decay": 1e-5,
    "step_size": 2,
    "gamma": 0.1,
    "batch_size": 100,
}

#: The seed's published figures for its network at 2 x 160 x 160 input.
SEED_PARAMETERS = 748_000
SEED_MACS = 892_000_000


def _require(batch: Batch, keys: Iterable[str]) -> None:
    missing = [key for key in keys if key not in batch]
    if missing:
        raise DataError(
            f"a mask-and-depth batch needs {missing} but has only {sorted(batch)}; use a dataset "
            "with foreground masks and backgrounds (depthnb.data.FgBgDepth or SyntheticFgBg)"
        )


def stack_inputs(batch: Batch) -> torch.Tensor:
    """The network's input: background and fg-on-background stacked, (B,3,H,W) x 2 -> (B,6,H,W).

    Background first, then the composite (``batch["image"]``), both in [0,1].
    """
    _require(batch, ("background", "image"))
    background, image = batch["background"], batch["image"]
    if background.shape != image.shape:
        raise DataError(
            f"background {tuple(background.shape)} and image {tuple(image.shape)} differ in shape; "
            "resize both with the same transform"
        )
    return torch.cat([background, image], dim=1)


@dataclass
class MaskDepthTask:
    """What the fg/bg task adds to a plain depth loop: its input, its two-part loss, its metrics.

    Attributes:
        encoding: how the depth head's output relates to metres (the model's ``encoding``).
        ssim_range: SSIM's data range L in the encoded space (the spread of the targets).
        mask_weight: weight of the mask's BCE; the seed used 2.
        depth_weight: weight of ``1 - SSIM`` on depth; the seed used 1.
        threshold: probability above which a pixel counts as foreground for IoU.
    """

    encoding: Encoding
    ssim_range: float
    mask_weight: float = 2.0
    depth_weight: float = 1.0
    threshold: float = 0.5

    @classmethod
    def for_model(cls, model: nn.Module, **kwargs: Any) -> MaskDepthTask:
        """The task for ``model``: its encoding, and SSIM's range taken from the encoding.

        An encoding with a ``data_range`` (inverse depth) gives it; otherwise the range of the
        encoded values between ``min_depth`` and ``max_depth`` metres (the synthetic scenes' 10 m).
        """
        encoding = getattr(model, "encoding", None)
        if encoding is None:
            raise ModelError(
                f"{type(model).__name__} has no .encoding; build it with "
                "depthnb.models.build_model('maskdepth')"
            )
        return cls(encoding=encoding, ssim_range=encoding_range(encoding), **kwargs)

    def inputs(self, batch: Batch) -> torch.Tensor:
        """(B,6,H,W): background and fg-on-background stacked (see :func:`stack_inputs`)."""
        return stack_inputs(batch)

    def targets(
        self, batch: Batch, depth_size: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The loss's targets: mask (B,1,H,W) in {0,1}, encoded depth (B,1,h,w), valid (B,1,h,w)."""
        _require(batch, ("mask", "depth", "valid"))
        depth, valid = match_resolution(batch["depth"], batch["valid"], depth_size)
        return batch["mask"].float(), self.encoding.encode(depth), valid

    def loss(self, outputs: Outputs, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """``mask_weight * BCEWithLogits(mask) + depth_weight * (1 - SSIM(depth))``.

        The mask term compares logits (B,1,H,W) with the true mask; the depth term compares the
        half-resolution depth head (B,1,H/2,W/2) with the area-downsampled encoded ground truth
        (``depthnb.train.match_resolution``); SSIM windows touching invalid pixels do not count.

        Returns:
            the scalar loss (with gradient) and its parts as floats: ``mask_bce``,
            ``depth_ssim_loss``.
        """
        from depthnb.losses import ssim

        mask_logits, depth_pred = outputs["mask"].float(), outputs["depth"].float()
        mask, depth, valid = self.targets(batch, tuple(depth_pred.shape[-2:]))
        bce = F.binary_cross_entropy_with_logits(mask_logits, mask)
        ssim_loss = 1.0 - ssim(depth_pred, depth, data_range=self.ssim_range, valid=valid)
        total = self.mask_weight * bce + self.depth_weight * ssim_loss
        return total, {
            "mask_bce": float(bce.detach()),
            "depth_ssim_loss": float(ssim_loss.detach()),
        }

    def predict(self, outputs: Outputs, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Network outputs -> mask probability (B,1,H,W) in [0,1] and depth (B,1,H,W) metres.

        The depth head (H/2,W/2) is upsampled bilinearly to ``size`` = (H, W) before decoding, so
        metrics compare against the full-resolution ground truth (the standard protocol).
        """
        probability = torch.sigmoid(outputs["mask"].float())
        return probability, self.encoding.decode(upsample_to(outputs["depth"].float(), size))

    def metrics(self, outputs: Outputs, batch: Batch) -> dict[str, float]:
        """Mask IoU (probabilities thresholded at ``threshold``) and depth metrics for one batch.

        Returns:
            ``iou`` plus depth_metrics' keys (abs_rel, rmse, delta1, ...), metres.
        """
        from depthnb.metrics import depth_metrics, mask_iou

        _require(batch, ("mask", "depth", "valid"))
        probability, depth = self.predict(outputs, tuple(batch["depth"].shape[-2:]))
        scores = {"iou": float(mask_iou(probability, batch["mask"], threshold=self.threshold))}
        scores.update(depth_metrics(depth, batch["depth"], valid=batch["valid"]))
        return scores


def encoding_range(encoding: Encoding, min_depth: float = 0.1, max_depth: float = 10.0) -> float:
    """SSIM's data range for targets encoded with ``encoding``: its ``data_range`` if it has one,
    else ``|encode(max_depth) - encode(min_depth)|`` (metres: 9.9; log: 4.6)."""
    if hasattr(encoding, "data_range"):
        return float(encoding.data_range)
    ends = encoding.encode(torch.tensor([min_depth, max_depth]))
    return float((ends[1] - ends[0]).abs())


def to_device(batch: Batch, device: torch.device) -> dict[str, torch.Tensor]:
    """Every tensor of ``batch`` on ``device`` (non-blocking from pinned memory)."""
    return {
        key: value.to(device, non_blocking=True) if torch.is_tensor(value) else value
        for key, value in batch.items()
    }


def build_optimizer(
    model: nn.Module,
    lr: float = SEED_RECIPE["lr"],
    momentum: float = SEED_RECIPE["momentum"],
    weight_decay: float = SEED_RECIPE["weight_decay"],
    step_size: int = int(SEED_RECIPE["step_size"]),
    gamma: float = SEED_RECIPE["gamma"],
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.StepLR]:
    """The seed's optimiser: SGD(lr, momentum, weight_decay) and StepLR(step_size epochs, gamma)."""
    optimizer = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
    )
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


def make_train_step(
    model: nn.Module,
    task: MaskDepthTask,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str | None = None,
    channels_last: bool = False,
) -> Callable[[Batch], tuple[float, dict[str, float]]]:
    """One training step as a function of a batch: to device, forward, loss, backward, step.

    Puts ``model`` in training mode once, here.

    Args:
        channels_last: feed the input in NHWC memory order (the model should be converted with
            ``model.to(memory_format=torch.channels_last)`` too); faster convolutions on GPUs with
            tensor cores and on some CPUs.

    Returns:
        ``step(batch) -> (loss, parts)``, loss and parts as floats.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device

    model.train()  # evaluate_maskdepth and collect_predictions restore it when they finish

    def step(batch: Batch) -> tuple[float, dict[str, float]]:
        batch = to_device(batch, device)
        inputs = task.inputs(batch)
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        loss, parts = task.loss(model(inputs), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach()), parts

    return step


@dataclass
class TrainHistory:
    """What :func:`train_maskdepth` recorded.

    Attributes:
        steps: one dict per step: ``epoch``, ``step``, ``lr``, ``loss``, ``mask_bce``,
            ``depth_ssim_loss``, ``data_ms`` (waiting for the loader), ``compute_ms``.
        epochs: one dict per epoch: ``epoch``, ``train_loss`` (mean) and, with a validation
            loader, :func:`evaluate_maskdepth`'s metrics.
        seconds: wall-clock time of the whole run, validation included.
    """

    steps: list[dict[str, float]] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def series(self, key: str) -> list[float]:
        """One value per step, e.g. ``history.series("loss")``."""
        return [row[key] for row in self.steps]


def train_maskdepth(
    model: nn.Module,
    train_loader: Iterable[Batch],
    epochs: int,
    task: MaskDepthTask | None = None,
    val_loader: Iterable[Batch] | None = None,
    device: torch.device | str | None = None,
    time_budget_s: float | None = None,
    channels_last: bool = False,
    **recipe: float,
) -> TrainHistory:
    """Train ``model`` on the fg/bg task with the seed's recipe; evaluate after every epoch.

    Args:
        model: ``build_model("maskdepth", in_channels=6)``; moved to ``device``.
        train_loader: batches of fg/bg samples (mask, background, depth, valid, image).
        epochs: passes over ``train_loader``; StepLR steps once per epoch.
        task: defaults to ``MaskDepthTask.for_model(model)``.
        val_loader: evaluated (IoU, depth metrics) after every epoch when given.
        device: defaults to the model's device.
        time_budget_s: stop early, after the current step and that epoch's validation, once the run
            (validation included) has taken this many seconds.
        channels_last: NHWC memory order for the model and its input.
        **recipe: overrides of :data:`SEED_RECIPE`'s optimiser settings (lr, momentum,
            weight_decay, step_size, gamma).

    Returns:
        A :class:`TrainHistory`.
    """
    unknown = set(recipe) - (set(SEED_RECIPE) - {"batch_size"})
    if unknown:
        raise ConfigError(
            f"train_maskdepth got unknown recipe settings {sorted(unknown)}; it takes "
            "lr, momentum, weight_decay, step_size, gamma (batch size is the loader's)"
        )
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    task = task if task is not None else MaskDepthTask.for_model(model)
    optimizer, scheduler = build_optimizer(model, **recipe)
    step_fn = make_train_step(model, task, optimizer, device, channels_last=channels_last)
    history = TrainHistory()
    start = time.perf_counter()
    out_of_time = False
    for epoch in range(epochs):
        losses = []
        lr = optimizer.param_groups[0]["lr"]
        t_data = time.perf_counter()
        for batch in train_loader:
            t_compute = time.perf_counter()
            loss, parts = step_fn(batch)
            synchronize(device)
            t_done = time.perf_counter()
            losses.append(loss)
            history.steps.append(
                {
                    "epoch": float(epoch),
                    "step": float(len(history.steps)),
                    "lr": lr,
                    "loss": loss,
                    **parts,
                    "data_ms": 1000.0 * (t_compute - t_data),
                    "compute_ms": 1000.0 * (t_done - t_compute),
                }
            )
            if time_budget_s is not None and t_done - start > time_budget_s:
                out_of_time = True
                break
            t_data = time.perf_counter()
        scheduler.step()
        row = {"epoch": float(epoch), "train_loss": sum(losses) / max(len(losses), 1)}
        if val_loader is not None:
            row.update(evaluate_maskdepth(model, val_loader, task, device=device))
        history.epochs.append(row)
        if out_of_time:
            break
    history.seconds = time.perf_counter() - start
    return history


def _predicted_batches(
    model: nn.Module,
    loader: Iterable[Batch],
    task: MaskDepthTask | None,
    device: torch.device | str | None,
    max_batches: int | None,
) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]]:
    """Yield ``(batch on device, mask probability (B,1,H,W), depth (B,1,H,W) metres)`` per batch.

    The model runs in eval mode without gradients; its mode is restored afterwards (also when
    the loop stops early or fails).
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    task = task if task is not None else MaskDepthTask.for_model(model)
    was_training = model.training
    model.eval()
    try:
        for index, batch in enumerate(loader):
            if max_batches is not None and index >= max_batches:
                break
            batch = to_device(batch, device)
            with torch.no_grad():
                probability, depth = task.predict(
                    model(task.inputs(batch)), tuple(batch["depth"].shape[-2:])
                )
            yield batch, probability, depth
    finally:
        model.train(was_training)


@torch.no_grad()
def collect_predictions(
    model: nn.Module,
    loader: Iterable[Batch],
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
    for batch, probability, depth in _predicted_batches(model, loader, task, device, max_batches):
        for key, value in (
            ("background", batch["background"]),
            ("image", batch["image"]),
            ("mask", batch["mask"]),
            ("mask_probability", probability),
            ("depth", batch["depth"]),
            ("depth_pred", depth),
            ("valid", batch["valid"]),
        ):
            kept.setdefault(key, []).append(value.detach().cpu())
    if not kept:
        raise DataError("collect_predictions got an empty loader: give it at least one batch")
    return {key: torch.cat(values) for key, values in kept.items()}


@torch.no_grad()
def evaluate_maskdepth(
    model: nn.Module,
    loader: Iterable[Batch],
    task: MaskDepthTask | None = None,
    device: torch.device | str | None = None,
    max_batches: int | None = None,
) -> dict[str, float]:
    """Mask IoU and depth metrics over a whole loader, pooled over all its pixels.

    IoU is one intersection-over-union of every image's pixels together (not a mean of per-image
    IoUs). The depth metrics compare the depth head, upsampled bilinearly from (H/2, W/2), with the
    full-resolution ground truth in metres, pooled over all valid pixels
    (``depthnb.metrics.DepthMetricAccumulator``).

    Returns:
        ``iou`` plus depth_metrics' keys (abs_rel, sq_rel, rmse, rmse_log, log10, delta1..3).
    """
    from depthnb.metrics import DepthMetricAccumulator, mask_iou

    task = task if task is not None else MaskDepthTask.for_model(model)
    foreground: list[torch.Tensor] = []
    truth: list[torch.Tensor] = []
    pool = DepthMetricAccumulator()
    for batch, probability, depth in _predicted_batches(model, loader, task, device, max_batches):
        foreground.append((probability > task.threshold).cpu())
        truth.append(batch["mask"].bool().cpu())
        pool.update(depth, batch["depth"], batch["valid"])
    if not truth:
        raise DataError("evaluate_maskdepth got an empty loader: give it at least one batch")
    iou = mask_iou(torch.cat(foreground).float(), torch.cat(truth).float(), threshold=0.5)
    return {"iou": float(iou), **pool.compute()}


def seed_counts(model: nn.Module, input_size: tuple[int, int, int, int]) -> dict[str, int]:
    """This network's parameters and MACs, and the same counted the seed's way (decoder twice).

    The seed ran its decoder once per head, so its summary counted every decoder layer twice. Here
    the decoder runs once and both heads read its output; adding the decoder's own parameters and
    MACs once more reproduces the seed's figures.

    Args:
        model: a ``maskdepth`` model with a ``decoder`` submodule.
        input_size: (B,C,H,W), e.g. (1,6,160,160) (the seed: (1,2,160,160), grey images).

    Returns:
        ``parameters``, ``decoder_parameters``, ``seed_parameters`` (= parameters + decoder's),
        ``macs``, ``decoder_macs``, ``seed_macs`` (= macs + decoder's).
    """
    from depthnb.models import count_macs, count_parameters

    decoder = getattr(model, "decoder", None)
    if not isinstance(decoder, nn.Module):
        raise ModelError(f"{type(model).__name__} has no .decoder submodule to count twice")
    parameters = count_parameters(model)["total"]
    decoder_parameters = count_parameters(decoder)["total"]
    macs = count_macs(model, input_size)
    decoder_macs = module_macs(model, input_size)["decoder"]
    return {
        "parameters": parameters,
        "decoder_parameters": decoder_parameters,
        "seed_parameters": parameters + decoder_parameters,
        "macs": macs,
        "decoder_macs": decoder_macs,
        "seed_macs": macs + decoder_macs,
    }


def module_macs(model: nn.Module, input_size: tuple[int, ...]) -> dict[str, int]:
    """MACs (FLOPs / 2) of one forward pass per top-level child of ``model``, by name.

    Uses ``torch.utils.flop_counter.FlopCounterMode``'s per-module breakdown; a child that runs
    twice is counted twice.
    """
    from torch.utils.flop_counter import FlopCounterMode

    parameter = next(model.parameters())
    x = torch.zeros(input_size, dtype=parameter.dtype, device=parameter.device)
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    model.train(was_training)
    per_module = counter.get_flop_counts()  # keys: "<ClassName>.<child>.<grandchild>..."

    def inclusive(module: nn.Module, path: str) -> int:
        # a module that was called has its own (inclusive) entry; a container (ModuleList) that
        # never runs itself is the sum of its children's
        if path in per_module:
            return int(sum(per_module[path].values()))
        return sum(inclusive(child, f"{path}.{name}") for name, child in module.named_children())

    root = type(model).__name__
    return {name: inclusive(child, f"{root}.{name}") // 2 for name, child in model.named_children()}
