"""A dataset rendered or decoded once and kept in memory, and the median depth of a dataset."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset

from depthnb.data.sample import DEPTH, VALID, Sample, to_compact, to_float
from depthnb.errors import DataError


class InMemoryDataset(Dataset):
    """Every sample of a dataset, computed once and kept in memory in the compact types.

    For procedural data (synthetic rooms, slower to render than to read) or a small decoded set:
    compute once, then every epoch reads tensors. Stored as :func:`depthnb.data.sample.to_compact`
    makes them: colour uint8, depth float16 (0 where unknown), valid bool, mask uint8, i.e. 6 bytes
    a pixel against 17 for float samples (4000 rooms at 240x320 take 1.8 GB instead of 5.2 GB).
    Each item is converted back to the float sample when it is read
    (:func:`depthnb.data.sample.to_float`; what float16 and uint8 round away is said there), then
    passed through ``transform``. The tensors are allocated once, from the first sample's shapes,
    and filled sample by sample: no list of samples and no copies while stacking, so the peak
    memory is that of the stored tensors.

    Args:
        dataset: any dataset of samples (:mod:`depthnb.data.sample`).
        progress: show a progress bar while filling.
        transform: applied to each float sample when read (e.g. a random flip), as the datasets'
            ``transform`` (a Trainer seeds its draws per sample: :mod:`depthnb.train.sampling`).

    Attributes:
        tensors: key -> (N, ...) tensor of the stored samples.
    """

    def __init__(
        self,
        dataset: Dataset,
        progress: bool = False,
        transform: Callable[[Sample], Sample] | None = None,
    ) -> None:
        from tqdm.auto import tqdm

        count = len(dataset)  # type: ignore[arg-type]
        if count == 0:
            raise DataError("InMemoryDataset got an empty dataset")
        self.transform = transform
        first = to_compact(dataset[0])
        self.keys = [key for key in first if torch.is_tensor(first[key])]
        self.tensors: dict[str, torch.Tensor] = {
            key: torch.empty((count, *first[key].shape), dtype=first[key].dtype)
            for key in self.keys
        }
        for index in tqdm(range(count), desc="render", disable=not progress):
            sample = first if index == 0 else to_compact(dataset[index])
            for key in self.keys:
                self.tensors[key][index] = sample[key]

    def __len__(self) -> int:
        return len(self.tensors[self.keys[0]])

    def __getitem__(self, index: int) -> Sample:
        sample = to_float({key: tensor[index] for key, tensor in self.tensors.items()})
        return self.transform(sample) if self.transform is not None else sample


# The histogram behind :func:`median_depth`: log-spaced bins over 1 mm to 10 km. Each bin spans
# a ratio of 10 ** (7 / 2 ** 17), so the median, interpolated inside its bin, is within 0.013% of
# the exact one. Depths outside the range are counted in the first or last bin.
MEDIAN_RANGE_M = (1e-3, 1e4)
MEDIAN_BINS = 2**17


def median_depth(dataset: Any) -> float:
    """Median of the valid depths (metres) of every sample of a dataset: the constant baseline.

    Computed in bounded memory, one sample at a time: a histogram of log depth
    (:data:`MEDIAN_BINS` bins over :data:`MEDIAN_RANGE_M`, 1 MB of counts) instead of a float
    copy of every valid pixel (benchmarks/bench_memory.py compares the two). The result is
    interpolated inside the bin of the lower median (``torch.median``'s convention), so its
    relative error is at most one bin's width, 0.013%.

    Args:
        dataset: any dataset of samples with ``depth`` (1,H,W) metres and ``valid`` (1,H,W) bool.

    Raises:
        DataError: the dataset has no valid depth pixel.
    """
    low, high = (math.log(value) for value in MEDIAN_RANGE_M)
    scale = MEDIAN_BINS / (high - low)
    counts = torch.zeros(MEDIAN_BINS, dtype=torch.int64)
    for index in range(len(dataset)):
        sample = dataset[index]
        values = sample[DEPTH][sample[VALID]].double()
        bins = ((values.log() - low) * scale).floor().clamp_(0, MEDIAN_BINS - 1).long()
        counts += torch.bincount(bins, minlength=MEDIAN_BINS)
    total = int(counts.sum())
    if total == 0:
        raise DataError(
            "median_depth: the dataset has no valid depth pixel; nothing to take the "
            "median of (check its `valid` masks)"
        )
    rank = (total - 1) // 2  # 0-based rank of the lower median
    cumulative = counts.cumsum(0)
    bin_index = int(
        torch.searchsorted(cumulative, torch.tensor(rank, dtype=torch.int64), right=True)
    )
    before = int(cumulative[bin_index - 1]) if bin_index > 0 else 0
    inside = (rank - before + 0.5) / int(counts[bin_index])
    return math.exp(low + (bin_index + inside) / scale)
