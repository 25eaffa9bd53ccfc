"""The Trainer: one loop for every task, on a CPU laptop, a Colab GPU or ``torchrun`` on many GPUs.

>>> from depthnb.data import SyntheticRooms
>>> from depthnb.models import build_model
>>> model = build_model("unet", filters=(4, 8, 8, 8, 8))
>>> train_set, val_set = SyntheticRooms(4, size=(32, 32)), SyntheticRooms(2, (32, 32), seed=1000)
>>> config = TrainConfig(epochs=1, batch_size=2, lr=1e-3, schedule="onecycle", progress=False,
...                      out_dir="runs/demo")
>>> history = Trainer(model, train_set, val_set, config).fit()
>>> 0.0 <= history[-1]["delta1"] <= 1.0
True

What it does each step (:meth:`Trainer.train_step`): move the batch to the device (pinned memory,
``non_blocking``), optionally augment it there (:class:`depthnb.data.augment.BatchAugment`), give
the task's input to the model under autocast (bf16 where the GPU supports it, else fp16 with a
gradient scaler; fp32 on the CPU unless asked), take the task's loss, accumulate gradients, clip
them, step the optimizer and the learning-rate schedule. Each epoch: validate (the task's loss and
metrics, predictions decoded by :mod:`depthnb.inference`), append a record to ``history``, call
``on_epoch_end(trainer, record)``, and write ``last.pt`` and ``best.pt`` atomically (``last.pt``
also every ``checkpoint_every`` steps). ``resume(path)`` continues a run exactly where it stopped,
inside an epoch too: the order of the samples and every random draw, the dataset's own transforms
included, derive from the seed and the position (:mod:`depthnb.train.sampling`), in whichever
process and with however many DataLoader workers. What the task is (depth regression by default,
:class:`depthnb.train.tasks.depth.DepthTask`) is all the loop knows of the problem.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
from torch import nn
from torch.utils.data import Dataset

from depthnb.checkpoint import FORMAT, VERSION, read_checkpoint, require_training_state
from depthnb.data.sample import DEPTH, IMAGE, Sample, to_float
from depthnb.errors import CheckpointError, ConfigError, TrainingError
from depthnb.inference import spatial_size
from depthnb.metrics.depth import HIGHER_IS_BETTER
from depthnb.train.config import TrainConfig
from depthnb.train.optim import build_optimizer, build_scheduler, monitor_key
from depthnb.train.sampling import EpochProgress
from depthnb.train.setup import (
    batch_augment,
    data_loaders,
    tensorboard_writer,
    wrap_model,
)
from depthnb.train.state import check_schedule, model_identity
from depthnb.train.tasks.base import Task, add_parts, reduce_means
from depthnb.train.tasks.depth import DepthTask, LossFn
from depthnb.utils import distributed
from depthnb.utils.device import resolve_device, resolve_precision
from depthnb.utils.seed import RunRandomness, algorithm_switches, derive_seed

EpochHook = Callable[["Trainer", dict], None]
Method = TypeVar("Method", bound=Callable[..., Any])


def _in_own_state(method: Method) -> Method:
    """Run a Trainer method inside :meth:`Trainer.own_state`."""

    @functools.wraps(method)
    def wrapper(self: Trainer, *args: Any, **kwargs: Any) -> Any:
        with self.own_state():
            return method(self, *args, **kwargs)

    return cast(Method, wrapper)


class DivergenceWatch:
    """Notes, on the device and without waiting for it, the first step whose loss was NaN or
    infinite; :meth:`Trainer.check_finite` reads it (one wait) before anything is written."""

    def __init__(self, device: torch.device) -> None:
        self.step = torch.full((), -1, dtype=torch.long, device=device)
        self.value = torch.zeros((), device=device)

    def watch(self, loss: torch.Tensor, step: int) -> None:
        """Remember ``step`` and the loss (a scalar) if it is the first non-finite one."""
        loss = loss.detach().float()
        first = ~torch.isfinite(loss) & (self.step < 0)
        self.step = torch.where(first, step, self.step)
        self.value = torch.where(first, loss, self.value)


class Trainer:
    """Train a depthnb model on a task (see the module docstring for what one step does).

    Args:
        model: a depthnb model (:class:`depthnb.models.blocks.DepthModel`: ``name``, ``config``
            and ``encoding``, stored in checkpoints); for the default task, image (B,3,H,W) in
            [0,1] -> (B,1,h,w) in ``model.encoding``'s space.
        train_data: a Dataset of samples (:mod:`depthnb.data.sample`).
        val_data: optional held-out Dataset, validated after every epoch.
        config: a :class:`TrainConfig`; or give its fields as keyword arguments.
        task: what the model learns (default :class:`DepthTask` of the model, with ``loss_fn``
            or the loss named by ``config.loss``).
        loss_fn: for the default task: ``(pred, target, valid) -> scalar`` on encoded (B,1,h,w)
            tensors, overriding ``config.loss`` (a name).
        on_epoch_end: called as ``on_epoch_end(trainer, record)`` after each epoch (rank 0 only),
            e.g. to redraw a plot of ``trainer.history``.

    The process's state is left as it was: constructing a Trainer seeds nothing global; its
    draws come from its own generators (loader, augmentation) and its own states of the global
    ones (:attr:`randomness`, put in place only while it trains or validates:
    :meth:`own_state`, with ``config.deterministic``'s switches).

    Attributes:
        history: one dict per epoch: epoch, step, lr, train_loss (and ``train_<part>`` for each
            of the task's loss parts), val_loss, the task's metrics on the validation set (depth:
            abs_rel, ..., delta1), seconds and images per second.
        steps: every ``config.log_every``-th step: epoch, step, lr, loss and the loss parts.
        epoch: completed epochs; step: optimizer steps taken; progress: how far the next epoch
            has got (:class:`~depthnb.train.sampling.EpochProgress`, after a mid-epoch resume).
        randomness: the run's random states (:class:`~depthnb.utils.seed.RunRandomness`, from
            ``config.seed``), saved in checkpoints and restored by :meth:`resume`.
    """

    def __init__(
        self,
        model: nn.Module,
        train_data: Dataset,
        val_data: Dataset | None = None,
        config: TrainConfig | None = None,
        *,
        task: Task | None = None,
        loss_fn: LossFn | None = None,
        on_epoch_end: EpochHook | None = None,
        **settings: Any,
    ) -> None:
        if config is not None and settings:
            raise ConfigError("give either config=TrainConfig(...) or keyword settings, not both")
        self.config = cfg = config if config is not None else TrainConfig.from_dict(settings)
        self.task: Task = (
            task if task is not None else DepthTask.for_model(model, cfg.loss, loss_fn)
        )
        self.encoding = self.task.encoding
        self.device = resolve_device(cfg.device)
        self.dist = distributed.init_from_env(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.randomness = RunRandomness(cfg.seed, self.device)
        self.amp_dtype = resolve_precision(cfg.precision, self.device)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = model.to(self.device).to(memory_format=self.memory_format)
        self.on_epoch_end = on_epoch_end
        self.augment = batch_augment(cfg)
        self.augment_generator = torch.Generator()

        self.train_data, self.val_data = train_data, val_data
        self.loader_generator = torch.Generator()
        self._build_loaders()
        self.batches_per_epoch = len(self.train_loader)
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / cfg.accumulate)

        self.network = wrap_model(self.model, cfg, self.dist, self.device)
        self.optimizer = build_optimizer(self.model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_per_epoch)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16
        )
        self.monitor = monitor_key(cfg, val_data is not None, self.task.monitor)
        self.best: float | None = None
        self.epoch = 0
        self.step = 0
        self.progress = EpochProgress()
        self.history: list[dict[str, Any]] = []
        self.steps: list[dict[str, float]] = []
        self.input_size: list[int] | None = None
        self.out_dir = Path(cfg.out_dir) if cfg.out_dir else None
        self.writer = (
            tensorboard_writer(cfg, self.out_dir) if cfg.tensorboard and self.is_main else None
        )
        self._deadline: float | None = None  # perf_counter() time at which fit() stops
        self.divergence = DivergenceWatch(self.device)

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes checkpoints (always, without torchrun)."""
        return self.dist.is_main

    def _build_loaders(self) -> None:
        """(Re)build the training sampler and the loaders. Dropping the previous loaders ends
        their persistent worker processes (their iterators shut the workers down when freed)."""
        self.train_sampler, self.train_loader, self.val_loader = data_loaders(
            self.train_data,
            self.val_data,
            self.config,
            self.dist,
            self.device,
            self.loader_generator,
        )

    @contextlib.contextmanager
    def own_state(self) -> Iterator[None]:
        """Inside the block, the run's random states (:attr:`randomness`) and algorithm switches
        (``config.deterministic``: :func:`~depthnb.utils.seed.algorithm_switches`) stand in for the
        process's; afterwards the caller's are back. :meth:`fit`, :meth:`train_epoch`,
        :meth:`train_step` and :meth:`validate` run inside it (nested: entered once)."""
        if self.randomness.is_active:
            yield
            return
        with self.randomness.active(), algorithm_switches(self.config.deterministic, self.device):
            yield

    # -- one step ---------------------------------------------------------------------------

    def to_device(self, batch: Sample) -> Sample:
        """Copy a collated batch's tensors to the device (non-blocking from pinned memory).

        A compact batch (uint8 images, float16 depth: the decode-once cache) becomes the float
        sample there (:func:`depthnb.data.sample.to_float`), so the bytes that cross from the
        loader's workers and over PCIe are the compact ones.
        """
        return to_float(batch, self.device)

    def inputs(self, batch: Sample) -> torch.Tensor:
        """The task's network input for a batch on the device, in the configured memory format."""
        inputs = self.task.inputs(batch)
        if inputs.ndim == 4:
            inputs = inputs.contiguous(memory_format=self.memory_format)
        return inputs

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast to the mixed-precision dtype, or nothing in fp32."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @_in_own_state
    def train_step(
        self, batch: Sample, stepping: bool = True
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """One micro-batch: to the device, augment, forward, the task's loss, backward; then, when
        ``stepping``, clip, step the optimizer and the schedule. Returns the loss (detached) and
        its parts. Callable on its own (e.g. to profile one step)."""
        if not self.network.training:
            self.network.train()
        batch = self.to_device(batch)
        if self.augment is not None:
            batch = self.augment(batch, self.augment_generator)
        inputs = self.inputs(batch)
        if self.input_size is None:
            self.input_size = list(inputs.shape[-2:])
        sync = contextlib.nullcontext()
        if not stepping and self.dist.enabled:
            sync = self.network.no_sync()  # type: ignore[operator]
        with sync:
            with self.autocast():
                outputs = self.network(inputs)
            loss, parts = self.task.loss(outputs, batch)
            self.divergence.watch(loss, self.step + 1)
            self.scaler.scale(loss / self.config.accumulate).backward()
        if stepping:
            self._log_step(loss, parts)
            self._optimizer_step()
        return loss.detach(), parts

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

    def _log_step(self, loss: torch.Tensor, parts: dict[str, float]) -> None:
        every = self.config.log_every
        if every and self.step % every == 0:
            lr = self.optimizer.param_groups[-1]["lr"]
            record = {"epoch": float(self.epoch + 1), "step": float(self.step), "lr": lr}
            self.steps.append({**record, "loss": float(loss.detach()), **parts})

    @_in_own_state
    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """One pass over the training set (the rest of it, after a mid-epoch resume: see
        :attr:`progress`); returns train_loss (and parts), images, seconds."""
        from tqdm.auto import tqdm

        cfg, progress, batches = self.config, self.progress, self.batches_per_epoch
        progress.sums.setdefault("train_loss", torch.zeros((), device=self.device))
        self.train_sampler.set_epoch(epoch)
        self.train_sampler.skip = progress.batches * cfg.batch_size  # done: not even loaded
        self.loader_generator.manual_seed(derive_seed(cfg.seed, "loader", epoch))
        self.network.train()
        started = time.perf_counter() - progress.seconds
        show = cfg.progress and self.is_main
        bar = tqdm(
            desc=f"epoch {epoch}",
            total=batches,
            initial=progress.batches,
            leave=False,
            disable=not show,
        )  # not holding the loader: once fit() drops it, its workers end (also on an error)
        self.optimizer.zero_grad(set_to_none=True)
        partial = False
        for index, batch in enumerate(self.train_loader, start=progress.batches):
            stepping = (index + 1) % cfg.accumulate == 0 or index + 1 == batches
            seed = derive_seed(cfg.seed, "augment", epoch, self.dist.rank, index)
            self.augment_generator.manual_seed(seed)
            loss, parts = self.train_step(batch, stepping)
            progress.add(loss, parts, len(batch[IMAGE]))
            bar.update()
            if show and index % 10 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
            if stepping:
                progress.batches = index + 1
                every = cfg.checkpoint_every
                if every and self.step % every == 0 and index + 1 < batches:
                    progress.seconds = time.perf_counter() - started
                    self._save_mid_epoch()
                if self._out_of_time():
                    partial = index + 1 < batches
                    break
        bar.close()
        self.progress = EpochProgress()
        means = reduce_means(progress.sums, float(progress.images))
        total = int(distributed.all_reduce_sum(torch.tensor([float(progress.images)]))[0])
        seconds = time.perf_counter() - started
        return {**means, "images": total, "seconds": seconds, "partial": partial}

    def _save_mid_epoch(self) -> None:
        """Write ``last.pt`` inside an epoch, with :attr:`progress`: a resume from it carries on
        with the next batch of the epoch."""
        from depthnb.checkpoint import save_checkpoint

        self.check_finite(self.epoch + 1)
        progress = self.progress.to_dict()  # on every process: it totals their sums
        if self.is_main and self.out_dir is not None:
            save_checkpoint(self.state_dict(progress=progress), self.out_dir / "last.pt")

    def _out_of_time(self) -> bool:
        """True once this fit() call has spent config.time_budget_s (all ranks agree)."""
        if self._deadline is None:
            return False
        late = time.perf_counter() >= self._deadline
        if self.dist.enabled:  # every process must stop after the same step
            late = bool(distributed.all_reduce_sum(torch.tensor([float(late)]))[0] > 0)
        return late

    @torch.no_grad()
    @_in_own_state
    def validate(self) -> dict[str, float]:
        """val_loss (and ``val_<part>``s) and the task's metrics on the validation set."""
        if self.val_loader is None:
            return {}
        self.network.eval()
        meter = self.task.meter()
        sums: dict[str, torch.Tensor] = {"val_loss": torch.zeros((), dtype=torch.float64)}
        count = 0
        for batch in self.val_loader:
            batch = self.to_device(batch)
            inputs = self.inputs(batch)
            with self.autocast():
                outputs = self.network(inputs)
            loss, parts = self.task.loss(outputs, batch)
            size = len(inputs)
            sums["val_loss"] += float(loss) * size
            add_parts(sums, "val", parts, size)
            count += size
            meter.update(self.task.predict(outputs, spatial_size(batch[DEPTH])), batch)
        meter.all_reduce()
        means = reduce_means(sums, float(count))
        return {**means, **meter.compute()}

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
        show = self.config.progress and self.is_main
        bar = tqdm(range(self.epoch + 1, last + 1), desc="training", unit="epoch", disable=not show)
        try:  # workers persist from epoch to epoch of one fit(), not after it
            self._fit_epochs(bar)
        finally:
            bar.close()
            self._build_loaders()  # the used loaders dropped: their workers end
            self._deadline = None
        return self.history

    @_in_own_state
    def _fit_epochs(self, bar: Any) -> None:
        """The epochs of :meth:`fit`, from ``bar`` (a progress bar over the epoch numbers)."""
        for epoch in bar:
            record = self._epoch_record(epoch)
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

    def _epoch_record(self, epoch: int) -> dict[str, Any]:
        """Train one epoch, validate, and return its history record."""
        train = self.train_epoch(epoch)
        self.check_finite(epoch)
        record: dict[str, Any] = {
            "epoch": epoch,
            "step": self.step,
            "lr": self.optimizer.param_groups[-1]["lr"],
        }
        record.update({k: v for k, v in train.items() if k.startswith("train_")})
        record.update(self.validate())
        record["seconds"] = train["seconds"]
        record["images_per_s"] = train["images"] / max(train["seconds"], 1e-9)
        if train["partial"]:
            record["partial"] = True
        return record

    def check_finite(self, epoch: int) -> None:
        """Raise :class:`~depthnb.errors.TrainingError` if a loss was NaN or infinite in this run
        (which step, which loss), or a weight is not finite: called before any checkpoint is
        written, so ``best.pt`` and ``last.pt`` keep the last good state. Waits for the device
        once; collective under ``torchrun`` (every process stops)."""
        first = int(self.divergence.step)
        weights = [p.detach() for p in self.model.parameters() if p.is_floating_point()]
        finite = not weights or bool(torch.stack([torch.isfinite(p).all() for p in weights]).all())
        bad = float(first >= 0 or not finite)
        if self.dist.enabled:
            bad = float(distributed.all_reduce_sum(torch.tensor([bad]))[0])
        if not bad:
            return
        loss_fn = getattr(self.task, "loss_fn", None)
        name = getattr(loss_fn, "__name__", None) or type(self.task).__name__
        if first >= 0:
            what = f"the training loss ({name}) was {float(self.divergence.value)} at step {first}"
        else:
            where = "" if not finite else " on another process"
            what = f"a weight became NaN or infinite{where} by step {self.step}"
        kept = ""
        if self.out_dir is not None:
            kept = f" before writing to {self.out_dir} (its checkpoints are from before then)"
        raise TrainingError(
            f"training diverged in epoch {epoch}: {what} (lr {self.config.lr:g}), so it was "
            f"stopped{kept}. "
            "Lower the learning rate (--lr), clip the gradients (--clip-grad-norm 1.0), or train "
            "in fp32 (--precision fp32)"
        )

    def _is_best(self, record: dict[str, Any]) -> bool:
        if self.monitor not in record:
            raise ConfigError(
                f"monitor {self.monitor!r} is not in the history record {sorted(record)}"
            )
        value = record[self.monitor]
        if not math.isfinite(value):
            return False  # a NaN score is never the best
        better = self.best is None or (
            value > self.best if self.monitor in HIGHER_IS_BETTER else value < self.best
        )
        if better:
            self.best = value
        return better

    def _log(self, record: dict[str, Any], bar: Any) -> None:
        keys = ("train_loss", "val_loss", "abs_rel", "delta1", "iou")
        bar.set_postfix({k: f"{record[k]:.4f}" for k in keys if k in record})
        if self.writer is not None:
            for key, value in record.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, record["epoch"])
            self.writer.flush()

    # -- checkpoints ------------------------------------------------------------------------

    def state_dict(
        self, metrics: dict[str, Any] | None = None, progress: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The checkpoint of the trainer's current state (every value weights_only-loadable; the
        format of :mod:`depthnb.checkpoint`); ``progress``: that of the epoch in progress, for a
        checkpoint written inside an epoch."""
        name, config = model_identity(self.model)
        return {
            "format": FORMAT,
            "version": VERSION,
            "model_name": name,
            "model_config": config,
            "state_dict": self.model.state_dict(),
            "encoding": self.encoding.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": self.randomness.to_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "steps_per_epoch": self.steps_per_epoch,
            "history": [dict(record) for record in self.history],
            "steps": [dict(record) for record in self.steps],
            "progress": progress,
            "metrics": dict(metrics or {}),
            "best": self.best,
            "input_size": self.input_size,
            "train_config": self.config.to_dict(),
        }

    def save_checkpoint(
        self, path: str | os.PathLike[str], metrics: dict[str, Any] | None = None
    ) -> Path:
        """Write the checkpoint atomically to ``path`` (temporary file, fsync, rename)."""
        from depthnb.checkpoint import save_checkpoint

        return save_checkpoint(self.state_dict(metrics), path)

    def resume(self, path: str | os.PathLike[str]) -> Trainer:
        """Load a checkpoint of the trainer's model: weights, optimizer, schedule, scaler, random
        states, epoch, step, history and step log, and the progress of an epoch stopped inside.

        With the same settings the run continues exactly as if never stopped (with any number of
        DataLoader workers: samples do not depend on them). With another ``epochs`` (extending a
        finished run) the schedule is rebuilt for the new length and advanced to the checkpoint's
        step.

        Raises:
            CheckpointError: unreadable file, a checkpoint of another model or architecture, one
                written inside an epoch with another ``batch_size`` (the batches done are not
                known), or one without the training state (optimizer, scheduler, scaler, rng,
                history).
            ConfigError: settings under which the saved schedule cannot carry on (see
                :func:`depthnb.train.state.check_schedule`), before anything is loaded.

        Returns ``self``.
        """
        checkpoint = read_checkpoint(path, map_location=self.device)
        require_training_state(checkpoint, path)
        name, config = model_identity(self.model)
        if checkpoint["model_name"] != name or checkpoint["model_config"] != config:
            raise CheckpointError(
                f"{path} holds model {checkpoint['model_name']!r} "
                f"{checkpoint['model_config']}, but this Trainer trains {name!r} {config}: build "
                "the same model to resume, or start afresh"
            )
        saved_config = checkpoint.get("train_config") or {}
        progress = checkpoint.get("progress")
        batch_size = saved_config.get("batch_size", self.config.batch_size)
        if progress is not None and batch_size != self.config.batch_size:
            raise CheckpointError(
                f"{path} was written inside epoch {checkpoint['epoch'] + 1} with batch_size="
                f"{batch_size}; resume it with batch_size={batch_size}, or from a checkpoint "
                "written at the end of an epoch"
            )
        check_schedule(self.config, self.steps_per_epoch, checkpoint, path)
        try:
            self.model.load_state_dict(checkpoint["state_dict"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self.scaler.load_state_dict(checkpoint["scaler"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(
                f"{path} does not fit this model or optimizer: {error}"
            ) from error
        self.step = int(checkpoint["step"])
        saved_epochs = saved_config.get("epochs", self.config.epochs)
        if saved_epochs == self.config.epochs or self.config.schedule == "plateau":
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        else:  # a longer or shorter run: the schedule spans the new length; replay it to here
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                for _ in range(self.step):
                    self.scheduler.step()
        self.randomness.load_dict(checkpoint["rng"], path)
        self.epoch = int(checkpoint["epoch"])
        self.history = list(checkpoint["history"])
        self.steps = list(checkpoint.get("steps", []))
        self.progress = (
            EpochProgress()
            if progress is None
            else EpochProgress.from_dict(progress, self.device, self.is_main)
        )
        self.best = checkpoint.get("best")
        self.input_size = checkpoint.get("input_size")
        return self
