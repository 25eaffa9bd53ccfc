"""A dataset rendered or decoded once and kept in memory, and the median depth of a dataset."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from depthnb.data.sample import COLOUR_KEYS, DEPTH, VALID, Sample, to_float, to_uint8
from depthnb.errors import ConfigError


class InMemoryDataset(Dataset):
    """Every sample of a dataset, computed once and kept in memory (colour as uint8, depth float32).

    For procedural data (synthetic rooms render at about 100 images/s): render once, then every
    epoch reads tensors. Colour is stored as uint8 and returned as float32 in [0,1]
    (:func:`depthnb.data.sample.to_float`). The tensors are allocated once, from the first
    sample's shapes, and filled sample by sample: no list of float samples and no copies while
    stacking, so the peak memory is that of the stored tensors (8 bytes a pixel: 4000 rooms at
    240x320 take 2.5 GB).
    """

    def __init__(self, dataset: Dataset, progress: bool = False) -> None:
        from tqdm.auto import tqdm

        count = len(dataset)  # type: ignore[arg-type]
        if count == 0:
            raise ConfigError("InMemoryDataset got an empty dataset")
        first = dataset[0]
        self.keys = [key for key in first if torch.is_tensor(first[key])]
        self.tensors: dict[str, torch.Tensor] = {}
        for key in self.keys:
            dtype = torch.uint8 if key in COLOUR_KEYS else first[key].dtype
            self.tensors[key] = torch.empty((count, *first[key].shape), dtype=dtype)
        for index in tqdm(range(count), desc="render", disable=not progress):
            sample = first if index == 0 else dataset[index]
            for key in self.keys:
                value = sample[key]
                self.tensors[key][index] = to_uint8(value) if key in COLOUR_KEYS else value

    def __len__(self) -> int:
        return len(self.tensors[self.keys[0]])

    def __getitem__(self, index: int) -> Sample:
        return to_float({key: tensor[index] for key, tensor in self.tensors.items()})


def median_depth(dataset: Any) -> float:
    """Median of the valid depths (metres) of every sample of a dataset: the constant baseline."""
    values = []
    for index in range(len(dataset)):
        sample = dataset[index]
        values.append(sample[DEPTH][sample[VALID]])
    return float(torch.cat(values).median())
