"""The Trainer: one loop for a CPU laptop, a Colab GPU and ``torchrun`` on several GPUs.

>>> trainer = Trainer(model, train_set, val_set, epochs=5, lr=1e-3, schedule="onecycle",
...                   out_dir="runs/demo")                                  # doctest: +SKIP
>>> history = trainer.fit()                                                 # doctest: +SKIP
>>> history[-1]["delta1"]                                                   # doctest: +SKIP

What it does each step: move the batch to the device (pinned memory, ``non_blocking``), optionally
augment it there (:class:`depthnb.gpu_augment.BatchAugment`), run the model under autocast
(bf16 where the GPU supports it, else fp16 with a gradient scaler; fp32 on the CPU unless asked),
compare prediction and target in the model's encoded space at the prediction's resolution (the
target is area-downsampled to it, as DenseDepth does at half resolution), accumulate gradients,
clip them, step the optimizer and the learning-rate schedule. Each epoch: validate with
:mod:`depthnb.metrics` (in metres, prediction upsampled to the target), append a record to
``history``, call ``on_epoch_end(trainer, record)``, and write ``last.pt`` and ``best.pt``
atomically. ``resume(path)`` continues a run exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from depthnb import distributed
from depthnb.checkpoint import (
    FORMAT,
    VERSION,
    atomic_save,
    read_checkpoint,
    rng_state,
    set_rng_state,
)
from depthnb.data.cache import to_float
from depthnb.errors import CheckpointError, ConfigError, ModelError
from depthnb.gpu_augment import BatchAugment

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "poly", "step", "plateau", "onecycle")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
HIGHER_IS_BETTER = ("delta1", "delta2", "delta3")

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class TrainConfig:
    """Every training setting, in JSON types (the CLI's ``--config`` file holds these keys).

    Attributes:
        epochs: passes over the training set.
        batch_size: images per step per process (the global batch is ``batch_size * world_size``).
        lr: peak learning rate of the decoder (the encoder gets ``lr * encoder_lr_scale``).
        encoder_lr_scale: learning-rate factor of a pretrained encoder (FCRN used 0.1).
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum ``momentum``).
        weight_decay: L2 (adam, sgd) or decoupled (adamw) weight decay.
        momentum: SGD momentum.
        amsgrad: Adam's AMSGrad variant (DenseDepth used it).
        schedule: ``"constant"``, ``"poly"`` (``(1 - t)^power``), ``"step"`` (``gamma`` every
            ``step_epochs``), ``"plateau"`` (halve when the monitored value stalls ``patience``
            epochs), ``"onecycle"`` (warm-up then cosine annealing).
        warmup: fraction of all steps spent warming up linearly (constant, poly, onecycle).
        power, step_epochs, gamma, patience: settings of the schedules above.
        loss: a name for :func:`depthnb.losses.get_loss`, used on encoded tensors (``"auto"``: the
            loss of the model's paper, e.g. keras for the U-Net, densedepth, fcrn).
        precision: ``"auto"`` (bf16/fp16 on CUDA, fp32 elsewhere), ``"fp32"``, ``"bf16"``,
            ``"fp16"``.
        channels_last: NHWC memory layout (faster convolutions on tensor cores).
        compile: wrap the model in ``torch.compile``.
        clip_grad_norm: clip the global gradient norm to this value (``None``: no clipping).
        accumulate: micro-batches per optimizer step.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
        workers: DataLoader worker processes (persistent between epochs).
        augment: batch-level augmentation on the device (flip, channel permutation).
        jitter: colour-jitter strength of that augmentation (0 = off).
        sync_bn: SyncBatchNorm across processes (CUDA only).
        seed: seeds the model's randomness, the shuffle order (from ``(seed, epoch)``) and the
            augmentation.
        deterministic: ``torch.use_deterministic_algorithms`` (slower; bitwise repeatable on one
            GPU).
        monitor: history key that decides ``best.pt`` (``"auto"``: delta1 with validation data,
            else train_loss).
        progress: tqdm progress bars for epochs and steps.
        tensorboard: also log to TensorBoard in ``out_dir`` (if the package is installed).
        out_dir: folder of ``last.pt`` / ``best.pt`` (``None``: no checkpoints).
        time_budget_s: wall-clock seconds one :meth:`Trainer.fit` call may spend training
            (``None``: no limit). When it runs out, the current epoch stops after the optimizer
            step in progress, is validated and recorded (``"partial": True`` in its history
            record), and ``fit`` returns. Handy for "train for N seconds, however fast this
            machine is"; set ``epochs`` high and ``schedule`` to ``"constant"`` for that.
    """

    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-4
    encoder_lr_scale: float = 1.0
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9
    amsgrad: bool = False
    schedule: str = "constant"
    warmup: float = 0.0
    power: float = 0.9
    step_epochs: int = 5
    gamma: float = 0.1
    patience: int = 2
    loss: str = "auto"
    precision: str = "auto"
    channels_last: bool = False
    compile: bool = False
    clip_grad_norm: float | None = None
    accumulate: int = 1
    device: str = "auto"
    workers: int = 0
    augment: bool = False
    jitter: float = 0.0
    sync_bn: bool = False
    seed: int = 0
    deterministic: bool = False
    monitor: str = "auto"
    progress: bool = True
    tensorboard: bool = False
    out_dir: str | None = None
    time_budget_s: float | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first setting out of range."""
        checks = [
            ("epochs", self.epochs >= 1, "at least 1"),
            ("batch_size", self.batch_size >= 1, "at least 1"),
            ("lr", self.lr > 0, "positive"),
            ("encoder_lr_scale", self.encoder_lr_scale >= 0, "0 or more"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}"),
            ("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            ("warmup", 0 <= self.warmup < 1, "a fraction in [0, 1)"),
            ("precision", self.precision in PRECISIONS, f"one of {PRECISIONS}"),
            ("accumulate", self.accumulate >= 1, "at least 1"),
            ("workers", self.workers >= 0, "0 or more"),
            ("step_epochs", self.step_epochs >= 1, "at least 1"),
            ("gamma", 0 < self.gamma <= 1, "in (0, 1]"),
            ("jitter", 0 <= self.jitter < 1, "in [0, 1)"),
            ("clip_grad_norm", self.clip_grad_norm is None or self.clip_grad_norm > 0, "positive"),
            ("time_budget_s", self.time_budget_s is None or self.time_budget_s > 0, "positive"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(
                    f"training setting {name}={getattr(self, name)!r} must be {expected}"
                )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict (e.g. a JSON file), rejecting unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown training settings {unknown}; known: {sorted(known)}")
        return cls(**values)


# ----------------------------------------------------------------------------------------------
# Devices, precision, seeds


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA, else MPS, else CPU; any other name is checked to exist."""
    if name == "auto":
        from depthnb.notebook import default_device

        return default_device()
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(
            f"device {name!r} is not a torch device name (try auto, cpu, cuda)"
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device {name!r} asked for, but torch sees no CUDA GPU here; use --device cpu"
        )
    return device


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (``None`` = fp32, no autocast).

    ``"auto"`` is bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU and MPS.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} must be one of {PRECISIONS}")
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; switch deterministic kernels on or off.

    ``deterministic=True`` makes torch use deterministic algorithms (warning where none exists) and
    turns off cuDNN's autotuner; ``False`` lets cuDNN pick the fastest kernels.
    """
    from depthnb.notebook import seed_everything as seed_all

    seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic and torch.cuda.is_available()


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A seed for one epoch of one process, derived from the run's seed (same after a resume)."""
    return (seed * 1_000_003 + epoch * 9_973 + rank) % (2**63)


# ----------------------------------------------------------------------------------------------
# Optimizers and schedules


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam / AdamW / SGD over the model's parameter groups (encoder: ``lr * encoder_lr_scale``)."""
    from depthnb.models import parameter_groups

    params = parameter_groups(model, config.lr, config.encoder_lr_scale)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            params, lr=config.lr, weight_decay=config.weight_decay, amsgrad=config.amsgrad
        )
    return torch.optim.Adam(
        params, lr=config.lr, weight_decay=config.weight_decay, amsgrad=config.amsgrad
    )


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau:
    """The learning-rate schedule of ``config.schedule``; all but plateau step every optimizer step.

    ``plateau`` is stepped once per epoch with the monitored value (see :meth:`Trainer.fit`).
    """
    total = max(1, config.epochs * steps_per_epoch)
    warmup_steps = int(config.warmup * total)

    def warm(step: int) -> float:
        return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0

    if config.schedule == "onecycle":
        max_lrs = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=max_lrs,
            total_steps=total,
            pct_start=max(config.warmup, 1e-3),
            cycle_momentum=config.optimizer == "sgd",
        )
    if config.schedule == "plateau":
        mode = "max" if _monitor(config, has_validation=True) in HIGHER_IS_BETTER else "min"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=0.5, patience=config.patience
        )
    if config.schedule == "poly":

        def factor(step: int) -> float:
            return warm(step) * max(0.0, 1.0 - step / total) ** config.power
    elif config.schedule == "step":

        def factor(step: int) -> float:
            return config.gamma ** (step // (config.step_epochs * steps_per_epoch))
    else:

        def factor(step: int) -> float:
            return warm(step)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def schedule_preview(
    schedule: str, epochs: int = 10, steps_per_epoch: int = 100, lr: float = 1e-3, **settings: Any
) -> list[float]:
    """The learning rate at every optimizer step of a schedule (for plots).

    ``plateau`` is shown as if the monitored value never improved.
    """
    config = TrainConfig(epochs=epochs, lr=lr, schedule=schedule, **settings)
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr, momentum=config.momentum)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    rates = []
    for step in range(epochs * steps_per_epoch):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if (step + 1) % steps_per_epoch == 0:
                scheduler.step(1.0)
        else:
            scheduler.step()
    return rates


def _monitor(config: TrainConfig, has_validation: bool) -> str:
    if config.monitor != "auto":
        return config.monitor
    return "delta1" if has_validation else "train_loss"


# ----------------------------------------------------------------------------------------------
# Targets, losses and metrics


def match_resolution(
    depth: torch.Tensor, valid: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Area-downsample a depth target (B,1,H,W) metres and its mask to ``size`` = (h, w).

    Only valid pixels are averaged; an output pixel is valid when at least half its area was.
    Unchanged when the size already matches.
    """
    if tuple(depth.shape[-2:]) == tuple(size):
        return depth, valid
    weight = F.interpolate(valid.float(), size=size, mode="area")
    total = F.interpolate(depth * valid, size=size, mode="area")
    return total / weight.clamp(min=1e-6), weight >= 0.5


def get_loss_function(name: str) -> LossFn:
    """The loss ``name`` from :mod:`depthnb.losses` as ``loss(pred, target, valid) -> scalar``."""
    from depthnb import losses

    return losses.get_loss(name)


class InMemoryDataset(Dataset):
    """Every sample of a dataset, computed once and kept in memory (images as uint8, depth float32).

    For procedural data (synthetic rooms render at about 100 images/s): render once, then every
    epoch reads tensors. Images are stored as uint8 and returned as float32 in [0,1].
    """

    def __init__(self, dataset: Dataset, progress: bool = False) -> None:
        from tqdm.auto import tqdm

        samples = [
            dataset[i] for i in tqdm(range(len(dataset)), desc="render", disable=not progress)
        ]
        if not samples:
            raise ConfigError("InMemoryDataset got an empty dataset")
        self.keys = [key for key in samples[0] if torch.is_tensor(samples[0][key])]
        self.tensors: dict[str, torch.Tensor] = {}
        for key in self.keys:
            stacked = torch.stack([sample[key] for sample in samples])
            if key in ("image", "background"):
                stacked = (stacked * 255).round().to(torch.uint8)
            self.tensors[key] = stacked

    def __len__(self) -> int:
        return len(self.tensors[self.keys[0]])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {key: tensor[index] for key, tensor in self.tensors.items()}
        for key in ("image", "background"):
            if key in item:
                item[key] = item[key].float() / 255
        return item


def median_depth(dataset: Any) -> float:
    """Median of the valid depths (metres) of every sample of a dataset: the constant baseline."""
    values = []
    for index in range(len(dataset)):
        sample = dataset[index]
        values.append(sample["depth"][sample["valid"]])
    return float(torch.cat(values).median())


class ConstantDepth(nn.Module):
    """The baseline: the same depth (metres) at every pixel, whatever the image."""

    def __init__(self, depth_m: float) -> None:
        super().__init__()
        from depthnb.encodings import get_encoding

        self.encoding = get_encoding("metres")
        self.depth = nn.Parameter(torch.tensor(float(depth_m)), requires_grad=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B,1,H,W) filled with the constant depth."""
        return self.depth.expand(image.shape[0], 1, *image.shape[-2:])


# ----------------------------------------------------------------------------------------------
# The Trainer


class Trainer:
    """Train a depthnb model (see the module docstring for what one step does).

    Args:
        model: a depthnb model: image (B,3,H,W) in [0,1] -> (B,1,h,w) in ``model.encoding``'s space;
            ``model.name`` and ``model.config`` are stored in checkpoints.
        train_data: a Dataset of samples (dict with ``image``, ``depth``, ``valid``, ...).
        val_data: optional held-out Dataset, validated after every epoch.
        config: a :class:`TrainConfig`; or give its fields as keyword arguments.
        loss_fn: a loss function ``(pred, target, valid) -> scalar`` on encoded (B,1,h,w) tensors,
            overriding ``config.loss`` (a name).
        on_epoch_end: called as ``on_epoch_end(trainer, record)`` after each epoch (rank 0 only),
            e.g. to redraw a plot of ``trainer.history``.

    Attributes:
        history: one dict per epoch: epoch, step, lr, train_loss, val_loss and the depth metrics
            (abs_rel, ..., delta1) of the validation set, seconds and images per second.
        epoch: completed epochs; step: optimizer steps taken.
    """

    def __init__(
        self,
        model: nn.Module,
        train_data: Dataset,
        val_data: Dataset | None = None,
        config: TrainConfig | None = None,
        *,
        loss_fn: LossFn | None = None,
        on_epoch_end: Callable[[Trainer, dict], None] | None = None,
        **settings: Any,
    ) -> None:
        if config is not None and settings:
            raise ConfigError("give either config=TrainConfig(...) or keyword settings, not both")
        self.config = config if config is not None else TrainConfig.from_dict(settings)
        if not hasattr(model, "encoding"):
            raise ModelError(
                f"{type(model).__name__} has no .encoding: the Trainer needs a depthnb model "
                "(depthnb.models.build_model) or a module with an encoding attribute"
            )
        cfg = self.config
        self.device = resolve_device(cfg.device)
        self.dist = distributed.init_from_env(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        seed_everything(cfg.seed, cfg.deterministic)
        self.amp_dtype = resolve_precision(cfg.precision, self.device)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format

        self.model = model.to(self.device, memory_format=self.memory_format)
        self.encoding = model.encoding
        self.loss_fn = (
            loss_fn
            if loss_fn is not None
            else get_loss_function(getattr(model, "name", "l1") if cfg.loss == "auto" else cfg.loss)
        )
        self.on_epoch_end = on_epoch_end
        self.augment = (
            BatchAugment(
                flip=0.5,
                permute_channels=0.5,
                brightness=cfg.jitter,
                contrast=cfg.jitter,
                saturation=cfg.jitter,
            )
            if cfg.augment
            else None
        )

        self.train_data, self.val_data = train_data, val_data
        self.loader_generator = torch.Generator()
        self.train_sampler = DistributedSampler(
            train_data,
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
            shuffle=True,
            seed=cfg.seed,
        )
        per_process = len(self.train_sampler)
        if per_process == 0:
            raise ConfigError("the training set is empty")
        self.train_loader = self._loader(
            train_data, self.train_sampler, drop_last=per_process >= cfg.batch_size
        )
        self.val_loader = (
            self._loader(val_data, list(range(self.dist.rank, len(val_data), self.dist.world_size)))
            if val_data is not None
            else None
        )
        self.steps_per_epoch = math.ceil(len(self.train_loader) / cfg.accumulate)

        self.network = self._wrap(self.model)
        self.optimizer = build_optimizer(self.model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_per_epoch)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16
        )
        self.monitor = _monitor(cfg, val_data is not None)
        self.best: float | None = None
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.input_size: list[int] | None = None
        self.out_dir = Path(cfg.out_dir) if cfg.out_dir else None
        self.writer = self._tensorboard() if cfg.tensorboard and self.dist.is_main else None
        self._deadline: float | None = None  # perf_counter() time at which fit() stops

    # -- setup helpers ----------------------------------------------------------------------

    def _loader(self, dataset: Dataset, sampler: Any, drop_last: bool = False) -> DataLoader:
        workers = self.config.workers
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=self.device.type == "cuda",
            generator=self.loader_generator,
        )

    def _wrap(self, model: nn.Module) -> nn.Module:
        network = model
        if self.dist.enabled:
            if self.config.sync_bn:
                if self.device.type == "cuda":
                    network = nn.SyncBatchNorm.convert_sync_batchnorm(network)
                else:
                    warnings.warn(
                        "sync_bn needs CUDA; BatchNorm statistics stay per process", stacklevel=3
                    )
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [self.device.index] if self.device.type == "cuda" else None
            network = DistributedDataParallel(network, device_ids=device_ids)
        if self.config.compile:
            network = torch.compile(network)
        return network

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn(
                "tensorboard is not installed (pip install tensorboard); not logging to it",
                stacklevel=3,
            )
            return None
        if self.out_dir is None:
            raise ConfigError("tensorboard logging needs out_dir")
        return SummaryWriter(log_dir=str(self.out_dir / "tensorboard"))

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes checkpoints (always, without torchrun)."""
        return self.dist.is_main

    # -- one step ---------------------------------------------------------------------------

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Copy a collated batch's tensors to the device (non-blocking from pinned memory).

        A raw batch of the decode-once cache (uint8 images, float16 depth) becomes the float
        sample there (:func:`depthnb.data.cache.to_float`), so the bytes that cross from the
        loader's workers and over PCIe are the compact ones.
        """
        tensors = to_float({k: v for k, v in batch.items() if torch.is_tensor(v)}, self.device)
        out = dict(batch)
        for key, value in tensors.items():
            if value.ndim == 4 and value.is_floating_point():
                value = value.contiguous(memory_format=self.memory_format)
            out[key] = value
        return out

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast to the mixed-precision dtype, or nothing in fp32."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def compute_loss(self, pred: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Loss of an encoded prediction (B,1,h,w) against the depth, at the prediction's size."""
        if not torch.is_tensor(pred):
            raise ModelError(
                f"the model returned a {type(pred).__name__}, not a depth tensor (B,1,h,w); the "
                "Trainer trains depth-only models (maskdepth has its own loop in lesson 08)"
            )
        depth, valid = match_resolution(batch["depth"], batch["valid"], tuple(pred.shape[-2:]))
        target = self.encoding.encode(depth)
        return self.loss_fn(pred.float(), target, valid)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training set; returns train_loss, images, seconds."""
        from tqdm.auto import tqdm

        cfg = self.config
        self.train_sampler.set_epoch(epoch)
        self.loader_generator.manual_seed(epoch_seed(cfg.seed, epoch))
        augment_generator = torch.Generator().manual_seed(
            epoch_seed(cfg.seed, epoch, self.dist.rank)
        )
        self.network.train()
        total_loss = torch.zeros((), device=self.device)
        images = 0
        start = time.perf_counter()
        batches = len(self.train_loader)
        bar = tqdm(
            self.train_loader,
            desc=f"epoch {epoch}",
            leave=False,
            disable=not (cfg.progress and self.is_main),
        )
        self.optimizer.zero_grad(set_to_none=True)
        partial = False
        for index, batch in enumerate(bar):
            batch = self.to_device(batch)
            if self.augment is not None:
                batch = self.augment(batch, augment_generator)
            if self.input_size is None:
                self.input_size = list(batch["image"].shape[-2:])
            stepping = (index + 1) % cfg.accumulate == 0 or index + 1 == batches
            sync = (
                contextlib.nullcontext()
                if stepping or not self.dist.enabled
                else self.network.no_sync()
            )
            with sync:
                with self.autocast():
                    pred = self.network(batch["image"])
                loss = self.compute_loss(pred, batch)
                self.scaler.scale(loss / cfg.accumulate).backward()
            if stepping:
                self._optimizer_step()
            total_loss += loss.detach() * len(batch["image"])
            images += len(batch["image"])
            if self.is_main and cfg.progress and index % 10 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
            if stepping and self._out_of_time():
                partial = index + 1 < batches
                break
        counts = distributed.all_reduce_sum(
            torch.stack(
                [total_loss.double().cpu(), torch.tensor(float(images), dtype=torch.float64)]
            )
        )
        seconds = time.perf_counter() - start
        bar.close()
        return {
            "train_loss": float(counts[0] / max(float(counts[1]), 1.0)),
            "images": int(counts[1]),
            "seconds": seconds,
            "partial": partial,
        }

    def _out_of_time(self) -> bool:
        """True once this fit() call has spent config.time_budget_s (all ranks agree)."""
        if self._deadline is None:
            return False
        late = time.perf_counter() >= self._deadline
        if self.dist.enabled:  # every process must stop after the same step
            late = bool(distributed.all_reduce_sum(torch.tensor([float(late)]))[0] > 0)
        return late

    def _optimizer_step(self) -> None:
        if self.config.clip_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if not isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step()
        self.step += 1

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """val_loss and the depth metrics (metres; prediction upsampled bilinearly to the gt)."""
        if self.val_loader is None:
            return {}
        from depthnb.metrics import DepthMetricAccumulator

        self.network.eval()
        accumulator = DepthMetricAccumulator()
        loss_sum = torch.zeros((), dtype=torch.float64)
        count = 0
        for batch in self.val_loader:
            batch = self.to_device(batch)
            with self.autocast():
                pred = self.network(batch["image"])
            loss_sum += float(self.compute_loss(pred, batch)) * len(batch["image"])
            count += len(batch["image"])
            metres = upsample_to(self.encoding.decode(pred.float()), batch["depth"].shape[-2:])
            accumulator.update(metres, batch["depth"], batch["valid"])
        accumulator.all_reduce()
        totals = distributed.all_reduce_sum(
            torch.stack([loss_sum, torch.tensor(float(count), dtype=torch.float64)])
        )
        return {"val_loss": float(totals[0] / totals[1]), **accumulator.compute()}

    # -- the loop ---------------------------------------------------------------------------

    def fit(self, until_epoch: int | None = None) -> list[dict[str, Any]]:
        """Train from ``self.epoch`` to ``until_epoch`` (default ``config.epochs``); return history.

        The schedule always spans ``config.epochs``; ``until_epoch`` stops early (as an interruption
        would), and a later ``fit()`` (or ``resume`` + ``fit()``) carries on.
        """
        from tqdm.auto import tqdm

        last = self.config.epochs if until_epoch is None else min(until_epoch, self.config.epochs)
        budget = self.config.time_budget_s
        self._deadline = None if budget is None else time.perf_counter() + budget
        bar = tqdm(
            range(self.epoch + 1, last + 1),
            desc="training",
            unit="epoch",
            disable=not (self.config.progress and self.is_main),
        )
        for epoch in bar:
            train = self.train_epoch(epoch)
            record: dict[str, Any] = {
                "epoch": epoch,
                "step": self.step,
                "lr": self.optimizer.param_groups[-1]["lr"],
                "train_loss": train["train_loss"],
            }
            record.update(self.validate())
            record["seconds"] = train["seconds"]
            record["images_per_s"] = train["images"] / max(train["seconds"], 1e-9)
            if train["partial"]:
                record["partial"] = True
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(record[self.monitor])
            self.epoch = epoch
            self.history.append(record)
            improved = self._is_best(record)
            if self.is_main:
                self._log(record, bar)
                if self.out_dir is not None:
                    self.save_checkpoint(self.out_dir / "last.pt", metrics=record)
                    if improved:
                        self.save_checkpoint(self.out_dir / "best.pt", metrics=record)
                if self.on_epoch_end is not None:
                    self.on_epoch_end(self, record)
            if self._out_of_time():
                break
        bar.close()
        self._deadline = None
        return self.history

    def _is_best(self, record: dict[str, Any]) -> bool:
        if self.monitor not in record:
            raise ConfigError(
                f"monitor {self.monitor!r} is not in the history record {sorted(record)}"
            )
        value = record[self.monitor]
        better = self.best is None or (
            value > self.best if self.monitor in HIGHER_IS_BETTER else value < self.best
        )
        if better:
            self.best = value
        return better

    def _log(self, record: dict[str, Any], bar: Any) -> None:
        shown = {
            k: record[k] for k in ("train_loss", "val_loss", "abs_rel", "delta1") if k in record
        }
        bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()})
        if self.writer is not None:
            for key, value in record.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, record["epoch"])
            self.writer.flush()

    # -- checkpoints ------------------------------------------------------------------------

    def state_dict(self, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        """The checkpoint dict of CONTRACT.md (weights_only-loadable)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "model_name": getattr(self.model, "name", type(self.model).__name__),
            "model_config": dict(getattr(self.model, "config", {})),
            "state_dict": self.model.state_dict(),
            "encoding": self.encoding.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "epoch": self.epoch,
            "step": self.step,
            "history": [dict(record) for record in self.history],
            "metrics": dict(metrics or {}),
            "best": self.best,
            "input_size": self.input_size,
            "train_config": asdict(self.config),
        }

    def save_checkpoint(
        self, path: str | os.PathLike, metrics: dict[str, Any] | None = None
    ) -> Path:
        """Write the checkpoint atomically to ``path`` (temporary file, fsync, rename)."""
        return atomic_save(self.state_dict(metrics), path)

    def resume(self, path: str | os.PathLike) -> Trainer:
        """Load a checkpoint of this model and continue from its epoch with its optimizer,
        schedule, scaler, random states and history. Returns ``self``.

        With the same ``epochs`` the run continues exactly as if never stopped. With another
        ``epochs`` (extending a finished run) the schedule is rebuilt for the new length and
        advanced to the checkpoint's step.

        Raises:
            CheckpointError: unreadable file, or a checkpoint of another model or architecture.
        """
        checkpoint = read_checkpoint(path, map_location=self.device)
        name = getattr(self.model, "name", type(self.model).__name__)
        config = dict(getattr(self.model, "config", {}))
        if checkpoint["model_name"] != name or checkpoint["model_config"] != config:
            raise CheckpointError(
                f"{path} holds model {checkpoint['model_name']!r} {checkpoint['model_config']}, "
                "but this "
                f"Trainer trains {name!r} {config}: build the same model to resume, or start afresh"
            )
        try:
            self.model.load_state_dict(checkpoint["state_dict"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self.scaler.load_state_dict(checkpoint["scaler"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(
                f"{path} does not fit this model or optimizer: {error}"
            ) from error
        self.step = int(checkpoint["step"])
        saved_epochs = (checkpoint.get("train_config") or {}).get("epochs", self.config.epochs)
        if saved_epochs == self.config.epochs or self.config.schedule == "plateau":
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        else:  # a longer or shorter run: the schedule spans the new length; replay it to here
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                for _ in range(self.step):
                    self.scheduler.step()
        set_rng_state(checkpoint["rng"])
        self.epoch = int(checkpoint["epoch"])
        self.history = list(checkpoint["history"])
        self.best = checkpoint.get("best")
        self.input_size = checkpoint.get("input_size")
        return self


# ----------------------------------------------------------------------------------------------
# The synthetic-rooms U-Net recipe (the main job, and the notebooks' "train for N seconds")

#: Settings of the main job (``python -m depthnb train``): a small U-Net on 1000 synthetic rooms at
#: 120x160, measured on 2 CPU cores (see benchmarks/bench_main_job.py).
SYNTHETIC_UNET: dict[str, Any] = {
    "filters": [8, 16, 32, 64, 128],
    "scenes": 1000,
    "epochs": 12,
    "batch_size": 8,
    "lr": 2e-3,
    "optimizer": "adamw",
    "weight_decay": 1e-4,
    "schedule": "onecycle",
    "warmup": 0.1,
    "loss": "l1",
    "augment": True,
    "jitter": 0.1,
    "channels_last": True,
}

#: What changes when training for a fixed time instead (the schedule cannot span unknown epochs).
TIMED_UNET: dict[str, Any] = {
    "epochs": 1_000_000,
    "schedule": "constant",
    "warmup": 0.0,
    "lr": 1e-3,
}


def set_output_depth(model: nn.Module, depth_m: float) -> nn.Module:
    """Start a model's output at ``depth_m`` metres: its last conv's bias = the encoded depth.

    An untrained network outputs about 0, i.e. 1 m in the log encoding; the first epoch would be
    spent just moving that bias towards the typical depth of the data (e.g. its median). Needs a
    ``model.head`` conv with a bias (the U-Net has one); returns the model.
    """
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Conv2d) or head.bias is None:
        raise ModelError(
            f"{type(model).__name__} has no .head conv with a bias to initialise "
            "(set_output_depth knows the U-Net's head)"
        )
    target = model.encoding.encode(torch.tensor([[[[float(depth_m)]]]]))
    with torch.no_grad():
        head.bias.fill_(float(target.flatten()[0]))
    return model


def synthetic_unet_trainer(
    size: tuple[int, int] = (120, 160),
    seconds: float | None = None,
    *,
    scenes: int | None = None,
    val_scenes: int = 0,
    seed: int = 0,
    val_seed: int = 1000,
    model_args: dict[str, Any] | None = None,
    progress: bool = False,
    on_epoch_end: Callable[[Trainer, dict], None] | None = None,
    **settings: Any,
) -> Trainer:
    """A :class:`Trainer` of a fresh U-Net on synthetic rooms, rendered once into memory.

    The recipe is :data:`SYNTHETIC_UNET` (the main job's); with ``seconds``, :data:`TIMED_UNET` on
    top (constant learning rate, ``time_budget_s=seconds``). ``settings`` override any
    :class:`TrainConfig` field; ``model_args`` the U-Net's (default ``filters`` of the recipe).
    The rooms are ``SyntheticRooms(scenes, size, seed)``; ``val_scenes`` > 0 adds held-out rooms of
    ``val_seed``. The output bias starts at the training rooms' median depth
    (:func:`set_output_depth`).
    """
    from depthnb.data import SyntheticRooms
    from depthnb.models import build_model

    recipe = {k: v for k, v in SYNTHETIC_UNET.items() if k not in ("filters", "scenes")}
    if seconds is not None:
        recipe.update(TIMED_UNET, time_budget_s=float(seconds))
    recipe.update(settings, seed=seed, progress=progress)
    config = TrainConfig.from_dict(recipe)
    n_train = SYNTHETIC_UNET["scenes"] if scenes is None else int(scenes)
    train = InMemoryDataset(SyntheticRooms(n_train, size=tuple(size), seed=seed), progress=progress)
    held_out = (
        InMemoryDataset(SyntheticRooms(val_scenes, size=tuple(size), seed=val_seed))
        if val_scenes
        else None
    )
    seed_everything(seed)  # the same initial weights for the same seed
    model = build_model("unet", **{"filters": SYNTHETIC_UNET["filters"], **(model_args or {})})
    set_output_depth(model, median_depth(train))
    return Trainer(model, train, held_out, config, on_epoch_end=on_epoch_end)


def train_synthetic_unet(
    size: tuple[int, int] = (120, 160),
    seconds: float | None = None,
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    **kwargs: Any,
) -> tuple[nn.Module, Trainer]:
    """Train a U-Net on synthetic rooms, for ``seconds`` of wall time (or the main job's epochs).

    >>> model, trainer = train_synthetic_unet((96, 128), seconds=20, scenes=16)  # doctest: +SKIP

    Keyword arguments go to :func:`synthetic_unet_trainer` (``scenes``, ``val_scenes``,
    ``model_args``, ``batch_size``, ``lr``, ``loss``, ...). Returns the model in eval mode and its
    trainer (``trainer.history``, ``trainer.step``, ``trainer.epoch``).
    """
    trainer = synthetic_unet_trainer(size, seconds, seed=seed, device=str(device), **kwargs)
    trainer.fit()
    return trainer.model.eval(), trainer


def upsample_to(pred: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinearly resize a prediction (B,1,h,w) to ``size`` = (H, W) (unchanged if equal)."""
    if tuple(pred.shape[-2:]) == tuple(size):
        return pred
    return F.interpolate(pred, size=tuple(size), mode="bilinear", align_corners=False)


def measure_throughput(
    model: nn.Module,
    batch_size: int = 8,
    size: tuple[int, int] = (120, 160),
    steps: int = 10,
    warmup: int = 3,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
) -> dict[str, Any]:
    """Training speed of a model on random images: forward, L1 loss, backward, Adam step.

    Returns ``images_per_s``, ``step_ms``, ``peak_memory_mb`` (CUDA only, else ``None``) and the
    ``precision`` actually used (``auto`` resolved).
    """
    device = torch.device(device)
    dtype = resolve_precision(precision, device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    network = torch.compile(model) if compile else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    image = torch.rand(batch_size, 3, *size, device=device).contiguous(memory_format=memory_format)
    autocast = (
        torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> None:
        with autocast:
            pred = network(image)
        loss = pred.float().abs().mean()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    name = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    return {
        "images_per_s": batch_size / seconds,
        "step_ms": 1000 * seconds,
        "peak_memory_mb": peak,
        "precision": name,
    }


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
