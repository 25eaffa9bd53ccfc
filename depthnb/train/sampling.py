"""Where a run's randomness comes from, so that a resumed run draws what the first one would have.

Every random number of a training run is derived from the run's seed and *where it is used*, never
from a generator's history:

- the order of an epoch: a permutation of ``(seed, epoch)`` (:class:`EpochSampler`, this
  process's share of it under ``torchrun``);
- a sample's own random transforms (a flip, a crop, colour jitter drawn by the dataset): the global
  generators (torch's CPU one, NumPy's, Python's) are seeded from ``(seed, epoch, index)`` just for
  the time the dataset computes that item (:class:`SeededSamples`), whatever process computes it;
- batch augmentation: a generator seeded from ``(seed, epoch, rank, batch)`` (see the Trainer).

So a sample is the same in the main process and in any DataLoader worker, with 0, 2 or 8 workers,
persistent or not, and after a resume (fresh workers, fresh generators). An epoch interrupted
after ``k`` batches resumes by skipping the first ``k`` batches of its permutation without
loading them (:attr:`EpochSampler.skip`). A transform that was given its *own* generator object
(``RandomHorizontalFlip(generator=g)``) is outside this scheme (each worker holds a copy of ``g``):
inside a training set, leave ``generator=None``.

>>> seed = derive_seed(0, "sample", 1, 5)
>>> seed == derive_seed(0, "sample", 1, 5), seed == derive_seed(0, "sample", 2, 5)
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import Dataset, get_worker_info
from torch.utils.data.distributed import DistributedSampler

from depthnb.data.sample import Sample
from depthnb.train.tasks.base import add_parts
from depthnb.utils import distributed
from depthnb.utils.seed import derive_seed, seed_rngs, seeded_rngs

#: The stream of the validation samples (the same draws every epoch, so epochs compare).
VALIDATION = "val"


class SeededSamples(Dataset):
    """A dataset read by ``(stream, index)`` keys: item ``index`` computed with the global
    generators seeded from ``(seed, "sample", stream, index)`` (the stream is the epoch, or
    :data:`VALIDATION`).

    The dataset's own random transforms (drawing from the global generators, as the transforms
    of :mod:`depthnb.data.transforms` do with ``generator=None``) then depend only on the key.

    >>> from depthnb.data import SyntheticRooms, transforms
    >>> rooms = SyntheticRooms(4, size=(24, 32), transform=transforms.RandomHorizontalFlip())
    >>> seeded = SeededSamples(rooms, seed=0)
    >>> bool((seeded[1, 2]["image"] == seeded[1, 2]["image"]).all())
    True
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int | str, int]) -> Sample:
        stream, index = key
        seed = derive_seed(self.seed, "sample", stream, index)
        if get_worker_info() is not None:  # a worker's generators serve its samples only
            seed_rngs(seed)
            return self.dataset[index]
        with seeded_rngs(seed):  # the training process's own draws carry on undisturbed
            return self.dataset[index]


class EpochSampler(DistributedSampler):
    """This process's share of the permutation of ``(seed, epoch)``, as ``(epoch, index)`` keys
    for :class:`SeededSamples`, from sample :attr:`skip` on.

    ``set_epoch(epoch)`` chooses the permutation (as for ``DistributedSampler``); ``skip`` is the
    number of this process's samples already trained on in that epoch (a mid-epoch resume), left
    out without being loaded.
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.skip = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = list(super().__iter__())[self.skip :]
        return iter([(self.epoch, index) for index in order])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.skip)


@dataclass
class EpochProgress:
    """How far the epoch in progress has got: what a mid-epoch checkpoint stores.

    Attributes:
        batches: the epoch's batches trained on (all its optimizer steps are complete).
        images: images seen by this process in those batches.
        seconds: time spent on them.
        sums: running sums of the loss and its parts (``train_loss``, ``train_<part>``), scalars.
    """

    batches: int = 0
    images: int = 0
    seconds: float = 0.0
    sums: dict[str, torch.Tensor] = field(default_factory=dict)

    def add(self, loss: torch.Tensor, parts: dict[str, float], count: int) -> None:
        """Count a batch of ``count`` images: its loss (a scalar on the device) and loss parts."""
        self.sums["train_loss"] += loss * count
        add_parts(self.sums, "train", parts, count)
        self.images += count

    def to_dict(self) -> dict[str, Any]:
        """weights_only-safe dict, the sums and images totalled over processes (collective under
        ``torchrun``: every process calls it at the same step)."""
        names = sorted(self.sums)
        totals = distributed.all_reduce_sum(
            torch.stack(
                [
                    *(self.sums[n].detach().double().cpu() for n in names),
                    torch.tensor(float(self.images), dtype=torch.float64),
                ]
            )
        )
        sums = {n: totals[i].to(self.sums[n].dtype) for i, n in enumerate(names)}
        return {
            "batches": self.batches,
            "images": int(totals[-1]),
            "seconds": self.seconds,
            "sums": sums,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any], device: torch.device, main: bool) -> EpochProgress:
        """The progress of :meth:`to_dict` on ``device``; the totals go to the main process only
        (the others start from zero, and the epoch's all-reduce adds them up again)."""
        sums = {
            name: (value if main else torch.zeros_like(value)).to(device)
            for name, value in saved["sums"].items()
        }
        images = int(saved["images"]) if main else 0
        return cls(int(saved["batches"]), images, float(saved["seconds"]), sums)
