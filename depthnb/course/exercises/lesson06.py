"""Lesson 06's exercises: the poly learning-rate schedule with its linear warm-up, and each
process's share of an epoch under ``torchrun``, held against
:func:`depthnb.train.schedule_preview` and ``DistributedSampler``."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DistributedSampler, TensorDataset

from depthnb.course.exercises.checker import Case, Exercise, Mistake, compare_values
from depthnb.train.optim import schedule_preview


# -------------------------------------------------------------------- 04.1 poly with a warm-up
def _poly_rates(
    lr: float, epochs: int, steps_per_epoch: int, warmup: float, power: float
) -> torch.Tensor:
    """Floats and ints -> (epochs * steps_per_epoch,) float64, the rate at every optimizer step."""
    rates = schedule_preview(
        "poly", epochs=epochs, steps_per_epoch=steps_per_epoch, lr=lr, warmup=warmup, power=power
    )
    return torch.tensor(rates, dtype=torch.float64)


def _poly_cases(generator: torch.Generator) -> list[Case]:
    return [
        Case("10 epochs of 20 steps with 10% warm-up", (1e-3, 10, 20, 0.1, 0.9)),
        Case("3 epochs of 7 steps without warm-up", (3e-3, 3, 7, 0.0, 0.9)),
        Case("one epoch of 50 steps with 20% warm-up and power 2", (1e-4, 1, 50, 0.2, 2.0)),
    ]


def _compare_rates(got: Any, expected: torch.Tensor) -> str | None:
    """Relative agreement only: learning rates are small numbers."""
    return compare_values(got, expected, rtol=1e-5, atol=1e-12)


def _poly_formula(
    lr: float,
    epochs: int,
    steps_per_epoch: int,
    warmup: float,
    power: float,
    warm_from_zero: bool = False,
    per_epoch: bool = False,
    power_inside: bool = True,
) -> torch.Tensor:
    """The poly schedule with one of the mistakes below switched on."""
    total = epochs * steps_per_epoch
    warmup_steps = int(warmup * total)
    step = torch.arange(total, dtype=torch.float64)
    warm = torch.ones_like(step)
    if warmup_steps:
        warm = ((step if warm_from_zero else step + 1) / warmup_steps).clamp(max=1.0)
    progress = (step // steps_per_epoch) / epochs if per_epoch else step / total
    decay = (1 - progress) ** power if power_inside else 1 - progress**power
    return lr * warm * decay


def _warm_from_zero(
    lr: float, epochs: int, steps_per_epoch: int, warmup: float, power: float
) -> torch.Tensor:
    return _poly_formula(lr, epochs, steps_per_epoch, warmup, power, warm_from_zero=True)


def _decay_per_epoch(
    lr: float, epochs: int, steps_per_epoch: int, warmup: float, power: float
) -> torch.Tensor:
    return _poly_formula(lr, epochs, steps_per_epoch, warmup, power, per_epoch=True)


def _power_outside(
    lr: float, epochs: int, steps_per_epoch: int, warmup: float, power: float
) -> torch.Tensor:
    return _poly_formula(lr, epochs, steps_per_epoch, warmup, power, power_inside=False)


# ------------------------------------------------------------ 04.2 one process's share of an epoch
def _rank_share(order: list[int], world_size: int, rank: int) -> list[int]:
    """A list of N dataset indices (the epoch's shuffled order), ints -> this rank's indices."""
    positions: DistributedSampler[int] = DistributedSampler(
        TensorDataset(torch.arange(len(order))), num_replicas=world_size, rank=rank, shuffle=False
    )
    return [order[i] for i in positions]


def _rank_cases(generator: torch.Generator) -> list[Case]:
    cases = []
    for label, n, world_size, rank in (
        ("10 samples on 4 processes (rank 1)", 10, 4, 1),
        ("10 samples on 4 processes (rank 3)", 10, 4, 3),
        ("8 samples on 2 processes (rank 1)", 8, 2, 1),
        ("7 samples on 3 processes (rank 2)", 7, 3, 2),
        ("a single sample on 2 processes (rank 1)", 1, 2, 1),
    ):
        order = torch.randperm(n, generator=generator).tolist()
        cases.append(Case(label, (order, world_size, rank)))
    return cases


def _padded(order: list[int], world_size: int) -> list[int]:
    """The order, repeated from its start until its length divides by ``world_size``."""
    padded = list(order)
    while len(padded) % world_size:
        padded += order[: world_size - len(padded) % world_size]
    return padded


def _contiguous_blocks(order: list[int], world_size: int, rank: int) -> list[int]:
    padded = _padded(order, world_size)
    share = len(padded) // world_size
    return padded[rank * share : (rank + 1) * share]


def _tail_dropped(order: list[int], world_size: int, rank: int) -> list[int]:
    kept = len(order) // world_size * world_size
    return order[:kept][rank::world_size]


def _uneven_shares(order: list[int], world_size: int, rank: int) -> list[int]:
    return order[rank::world_size]


def _padded_with_last(order: list[int], world_size: int, rank: int) -> list[int]:
    missing = -len(order) % world_size
    return (order + order[-1:] * missing)[rank::world_size]


EXERCISES = (
    Exercise(
        key="06.1",
        title="the poly learning-rate schedule with a linear warm-up",
        difficulty="quick",
        reference=_poly_rates,
        hides=("depthnb.train.schedule_preview", "depthnb.train.optim.build_scheduler"),
        cases=_poly_cases,
        compare=_compare_rates,
        mistakes=(
            Mistake(
                "warm-up from zero",
                _warm_from_zero,
                "the first step has a rate of 0, a step that learns nothing: the warm-up factor "
                "is (step + 1) / warmup_steps, so it reaches 1 at the last warm-up step.",
            ),
            Mistake(
                "decay per epoch",
                _decay_per_epoch,
                "the rate falls in steps, once an epoch: t = step / total_steps, counted in "
                "optimizer steps, so it decays at every step.",
            ),
            Mistake(
                "power outside",
                _power_outside,
                "the power applies to what is left, (1 - t)^power, not 1 - t^power.",
            ),
        ),
    ),
    Exercise(
        key="06.2",
        title="one process's share of an epoch under torchrun",
        difficulty="quick",
        reference=_rank_share,
        hides=("torch.utils.data.DistributedSampler", "depthnb.train.sampling.EpochSampler"),
        cases=_rank_cases,
        mistakes=(
            Mistake(
                "contiguous blocks",
                _contiguous_blocks,
                "each rank takes a block of the order: DistributedSampler deals the order out "
                "like cards, rank r takes positions r, r + world_size, r + 2 world_size, ...",
            ),
            Mistake(
                "tail dropped",
                _tail_dropped,
                "the last samples are dropped: DistributedSampler pads the order by repeating its "
                "first samples until its length divides by world_size (drop_last=False).",
            ),
            Mistake(
                "uneven shares",
                _uneven_shares,
                "ranks get different numbers of samples, so one would wait for a gradient "
                "average the others never join: pad the order first, from its start.",
            ),
            Mistake(
                "padded with the last",
                _padded_with_last,
                "the padding repeats the last sample: DistributedSampler repeats the first ones, "
                "order[:padding].",
            ),
        ),
    ),
)
