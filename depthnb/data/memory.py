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
    (:func:`depthnb.data.sample.to_float`).
    """

    def __init__(self, dataset: Dataset, progress: bool = False) -> None:
        from tqdm.auto import tqdm

        count = len(dataset)  # type: ignore[arg-type]
        samples = [dataset[i] for i in tqdm(range(count), desc="render", disable=not progress)]
        if not samples:
            raise ConfigError("InMemoryDataset got an empty dataset")
        self.keys = [key for key in samples[0] if torch.is_tensor(samples[0][key])]
        self.tensors: dict[str, torch.Tensor] = {}
        for key in self.keys:
            stacked = torch.stack([sample[key] for sample in samples])
            self.tensors[key] = to_uint8(stacked) if key in COLOUR_KEYS else stacked

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
