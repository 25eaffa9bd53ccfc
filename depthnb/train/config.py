"""The training settings: one vocabulary from the command line to the checkpoint.

Every setting is a field of :class:`TrainConfig`; the CLI's ``train`` flags are generated from these
fields (:func:`field_help` gives each flag its help), a ``--config`` JSON file holds the same keys,
and checkpoints store :meth:`TrainConfig.to_dict` as ``train_config``.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import asdict, dataclass, fields
from numbers import Integral, Real
from typing import Any

from depthnb.errors import ConfigError
from depthnb.utils.device import PRECISIONS

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "poly", "step", "plateau", "onecycle")
#: The settings that take one of a fixed set of values.
CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "precision": PRECISIONS,
}


@dataclass
class TrainConfig:
    """Every training setting, in JSON types (the CLI's ``--config`` file holds these keys).

    Attributes:
        epochs: passes over the training set.
        batch_size: images per step per process (the global batch is ``batch_size * world_size``).
        lr: peak learning rate of the decoder (the encoder gets ``lr * encoder_lr_scale``).
        encoder_lr_scale: learning-rate factor of a pretrained encoder (0.1 is FCRN_pytorch's:
            encoder x1, decoder x10).
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
        seed: seeds the run's own generators (dropout and other draws without a generator
            argument, kept apart from the process's), the shuffle order (from ``(seed, epoch)``)
            and the augmentation; the model's initial weights are the caller's (build it under
            :func:`depthnb.utils.seed.seeded_rngs` to fix them).
        deterministic: ``torch.use_deterministic_algorithms`` and cuDNN's autotuner off (slower;
            bitwise repeatable on one GPU); ``False``: the autotuner on (CUDA). Set while the
            Trainer trains or validates only; the process's switches are put back after.
        monitor: history key that decides ``best.pt`` (``"auto"``: the task's headline metric,
            delta1 for depth and iou for mask-and-depth, with validation data; else train_loss).
        progress: tqdm progress bars for epochs and steps.
        tensorboard: also log to TensorBoard in ``out_dir`` (if the package is installed).
        out_dir: folder of ``last.pt`` / ``best.pt`` (``None``: no checkpoints).
        checkpoint_every: also write ``last.pt`` every n-th optimizer step inside an epoch (0: at
            the end of each epoch only), so that a run cut off mid-epoch (a Colab disconnect)
            resumes from its last such step, exactly; needs ``out_dir``.
        log_every: also record every n-th optimizer step's loss and loss parts in
            ``Trainer.steps`` (0: no per-step records; each record waits for the device).
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
    checkpoint_every: int = 0
    log_every: int = 0
    time_budget_s: float | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first setting of the wrong type, not finite, or
        out of range."""
        for field in fields(self):
            value, kind = getattr(self, field.name), str(field.type)
            if not fits_type(value, kind):
                raise ConfigError(
                    f"training setting {field.name}={value!r} ({type(value).__name__}) must be "
                    f"{kind.replace(' | None', ' or None')}"
                )
            if isinstance(value, Real) and not math.isfinite(value):
                raise ConfigError(
                    f"training setting {field.name}={value!r} must be a finite number"
                )
        checks = [
            ("epochs", self.epochs >= 1, "at least 1"),
            ("batch_size", self.batch_size >= 1, "at least 1"),
            ("lr", self.lr > 0, "positive (e.g. 1e-4)"),
            ("weight_decay", self.weight_decay >= 0, "0 or more"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("power", self.power > 0, "positive"),
            ("patience", self.patience >= 0, "0 or more"),
            ("seed", self.seed >= 0, "0 or more"),
            ("encoder_lr_scale", self.encoder_lr_scale >= 0, "0 or more"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}"),
            ("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            ("warmup", 0 <= self.warmup < 1, "a fraction in [0, 1)"),
            ("precision", self.precision in PRECISIONS, f"one of {PRECISIONS}"),
            ("accumulate", self.accumulate >= 1, "at least 1"),
            ("workers", self.workers >= 0, "0 or more"),
            ("log_every", self.log_every >= 0, "0 or more"),
            ("checkpoint_every", self.checkpoint_every >= 0, "0 or more"),
            (
                "checkpoint_every",
                not self.checkpoint_every or self.out_dir is not None,
                "0 without out_dir (the folder of last.pt)",
            ),
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

    def to_dict(self) -> dict[str, Any]:
        """The settings as a dict of JSON types (what checkpoints store as ``train_config``)."""
        return asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some settings changed (checked like any other)."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def fits_type(value: Any, kind: str) -> bool:
    """Whether ``value`` has the JSON type ``kind``: ``"int"``, ``"float"`` (an int will do),
    ``"str"``, ``"bool"``, ``"dict"``, ``"size"`` ([H, W], two ints), each possibly followed by
    ``" | None"``. NumPy scalars count as numbers; a bool is not a number."""
    if kind.endswith(" | None"):
        return value is None or fits_type(value, kind.removesuffix(" | None"))
    if kind == "size":
        return (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(fits_type(v, "int") for v in value)
        )
    if isinstance(value, bool):
        return kind == "bool"
    python = {"int": Integral, "float": Real, "str": str, "dict": dict, "bool": bool}[kind]
    return isinstance(value, python)


def field_help() -> dict[str, str]:
    """Each field's documentation, from the ``Attributes`` section of :class:`TrainConfig`'s
    docstring (the help of the generated CLI flags)."""
    doc = inspect.getdoc(TrainConfig) or ""
    section = doc.split("Attributes:", 1)[1]
    entries = re.split(r"\n    (?=[a-z_, ]+: )", "\n" + section)
    helps: dict[str, str] = {}
    for entry in entries:
        if ": " not in entry:
            continue
        names, text = entry.strip().split(": ", 1)
        for name in names.split(", "):
            helps[name.strip()] = " ".join(text.split())
    return helps


#: Settings of the main job (``python -m depthnb train``): a small U-Net on 1000 synthetic rooms at
#: 120x160 (how they were tuned: benchmarks/bench_main_job.py).
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


#: The keys of :data:`SYNTHETIC_UNET` that are not training settings (the model's and the data's).
MODEL_AND_DATA_KEYS = ("filters", "scenes")


#: What changes when training for a fixed time instead (the schedule cannot span unknown epochs).
TIMED_UNET: dict[str, Any] = {
    "epochs": 1_000_000,
    "schedule": "constant",
    "warmup": 0.0,
    "lr": 1e-3,
}


def synthetic_unet_config(seconds: float | None = None, **settings: Any) -> TrainConfig:
    """The :class:`TrainConfig` of :data:`SYNTHETIC_UNET` (with ``seconds``: :data:`TIMED_UNET` on
    top and ``time_budget_s=seconds``), ``settings`` overriding any field."""
    recipe = {k: v for k, v in SYNTHETIC_UNET.items() if k not in MODEL_AND_DATA_KEYS}
    if seconds is not None:
        recipe.update(TIMED_UNET, time_budget_s=float(seconds))
    recipe.update(settings)
    return TrainConfig.from_dict(recipe)
