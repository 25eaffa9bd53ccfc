"""The class U-Nets: small U-Nets trained from scratch during a lesson, in seconds.

Lessons 04 and 05 train the same network on the same synthetic rooms with different losses, and
compare each with the constant-depth baseline. Lesson 04 writes the training loop out once;
:func:`train_class_unet` is that loop, so that lesson 05 (and a student's experiment) can train
the same networks again without copying it.

- :func:`render_rooms`: synthetic rooms stacked into tensors, ready to index.
- :func:`inverse_from_log`: the network's log depth as DenseDepth's inverse depth (differentiable).
- :func:`train_class_unet`: a class U-Net trained with a given loss for a fixed number of steps.
- :func:`beats_constant`: whether a model's scores beat the best constant's on every metric given.

>>> from depthnb.losses import l1_loss
>>> rooms = render_rooms(4, (32, 48), seed=1)
>>> model, seconds = train_class_unet(rooms, l1_loss, steps=2, batch_size=2)
>>> model.training, model(rooms["image"][:1]).shape
(False, torch.Size([1, 1, 32, 48]))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import torch

from depthnb.encodings import InverseEncoding
from depthnb.errors import ArgumentError
from depthnb.models import build_model
from depthnb.models.blocks import DepthModel
from depthnb.utils.seed import seeded_rngs

#: The widths of a class U-Net, level by level (about 0.49 M parameters).
CLASS_UNET_FILTERS = (8, 16, 32, 64, 128)

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

_INVERSE = InverseEncoding()


def render_rooms(count: int, size: tuple[int, int], seed: int) -> dict[str, torch.Tensor]:
    """``SyntheticRooms(count, size, seed)`` stacked: ``image`` (N,3,H,W) in [0,1], ``depth``
    (N,1,H,W) metres (0 where unknown), ``valid`` (N,1,H,W) bool; float32 on the CPU."""
    from depthnb.data.synthetic.datasets import SyntheticRooms

    rooms = SyntheticRooms(count, size=size, seed=seed)
    samples = [rooms[i] for i in range(len(rooms))]
    return {key: torch.stack([s[key] for s in samples]) for key in ("image", "depth", "valid")}


def inverse_from_log(log_depth: torch.Tensor) -> torch.Tensor:
    """(B,1,H,W) log metres -> DenseDepth's inverse depth ``10 / clip(depth, 0.1, 10)``, in
    [1, 100]; differentiable (the gradient is zero where the clip holds)."""
    return _INVERSE.encode(torch.exp(log_depth))


def train_class_unet(
    rooms: Mapping[str, torch.Tensor],
    loss_fn: LossFn,
    *,
    steps: int,
    batch_size: int,
    output: Callable[[torch.Tensor], torch.Tensor] = inverse_from_log,
    target: Callable[[torch.Tensor], torch.Tensor] = _INVERSE.encode,
    lr: float = 3e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    model: DepthModel | None = None,
) -> tuple[DepthModel, float]:
    """Train a class U-Net (``build_model("unet", filters=CLASS_UNET_FILTERS)``, which outputs
    log depth) with Adam for exactly ``steps`` steps; return it in eval mode and the seconds taken.

    Each step draws ``batch_size`` rooms at random (a generator seeded with ``seed``, so every
    loss sees the same batches) and minimises ``loss_fn(output(net(image)), target(depth),
    valid)``. The learning rate follows a one-cycle schedule: up to ``lr`` over the first 20 % of
    the steps, then down to about zero, so the last weights are not a random point of a noisy
    path. The initial weights come from ``seed`` too; the caller's random generators are left as
    they were. On a CPU the same call gives the same weights, bit for bit (on a GPU, cuDNN may
    change the last bits).

    Args:
        rooms: ``image`` (N,3,H,W) in [0,1], ``depth`` (N,1,H,W) metres, ``valid`` (N,1,H,W) bool,
            as :func:`render_rooms` gives; each batch is moved to ``device``.
        loss_fn: ``(pred, target, valid) -> scalar``, e.g. ``depthnb.losses.l1_loss``.
        output: the network's (B,1,H,W) log depth -> the loss's space (default: DenseDepth's
            inverse depth, :func:`inverse_from_log`).
        target: the true (B,1,H,W) depth in metres -> the loss's space (default: the inverse
            encoding, ``10 / clip(depth, 0.1, 10)``).
        steps, batch_size: Adam steps, rooms per step.
        lr: the schedule's peak learning rate.
        seed: initial weights and batch order.
        device: where the network trains.
        model: a network to train instead of a fresh class U-Net (e.g. one whose head was
            replaced); its initial weights are the caller's, ``output`` maps what it outputs.

    Raises:
        ArgumentError: ``steps`` or ``batch_size`` below 1, or ``rooms`` without a key it needs.
    """
    if steps < 1 or batch_size < 1:
        raise ArgumentError(
            f"train_class_unet needs steps >= 1 and batch_size >= 1, got {steps} and {batch_size}"
        )
    missing = {"image", "depth", "valid"} - set(rooms)
    if missing:
        raise ArgumentError(
            f"train_class_unet: rooms has no {sorted(missing)}; pass render_rooms(count, size, "
            "seed) or a dict with image, depth and valid tensors"
        )
    device = torch.device(device)
    if model is None:
        with seeded_rngs(seed):  # the same initial weights for the same seed
            model = build_model("unet", filters=CLASS_UNET_FILTERS)
    model = model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.2)
    order = torch.Generator().manual_seed(seed)
    count = len(rooms["image"])
    start = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(count, (batch_size,), generator=order)
        image = rooms["image"][index].to(device)
        depth, valid = rooms["depth"][index].to(device), rooms["valid"][index].to(device)
        loss = loss_fn(output(model(image)), target(depth), valid)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval(), time.perf_counter() - start


def beats_constant(
    scores: Mapping[str, float],
    constants: Mapping[str, tuple[float, float]],
    metrics: tuple[str, ...] = ("abs_rel", "rmse", "delta1"),
) -> bool:
    """True when ``scores`` (``depth_metrics``' dict) beat the best constant on every one of
    ``metrics``: lower for the errors, higher for the delta accuracies. ``constants`` is
    :func:`depthnb.metrics.baseline.best_constants`' dict (metric -> (constant, its score))."""
    from depthnb.metrics.depth import HIGHER_IS_BETTER

    return all(
        scores[m] > constants[m][1] if m in HIGHER_IS_BETTER else scores[m] < constants[m][1]
        for m in metrics
    )
