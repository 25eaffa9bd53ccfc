"""In-memory datasets keep the compact types (uint8 colour, float16 depth, uint8 mask), hand back
exactly their float conversion, and lose no more than float16 and uint8 round away."""

import pytest
import torch

from depthnb import DataError
from depthnb.data import SyntheticRooms
from depthnb.data import transforms as T
from depthnb.data.sample import FLOAT16_TINY, to_compact, to_float
from depthnb.train import InMemoryDataset, median_depth

SIZE = (32, 48)


def float_sample(seed: int) -> dict:
    """A sample as NYU or a resize gives it: colour off the 256 levels, a hole, a mask."""
    g = torch.Generator().manual_seed(seed)
    depth = 0.5 + 9.5 * torch.rand(1, *SIZE, generator=g)
    depth[0, :4] = 0.0  # a hole
    depth[0, 5, 5] = 1e-9  # valid, but below float16's smallest positive value
    return {
        "image": torch.rand(3, *SIZE, generator=g),
        "depth": depth,
        "valid": depth > 0,
        "intrinsics": torch.tensor([40.0, 40.0, 23.5, 15.5]),
        "mask": (torch.rand(1, *SIZE, generator=g) > 0.5).float(),
        "background": torch.rand(3, *SIZE, generator=g),
    }


def test_stored_tensors_are_compact_and_samples_are_their_float_conversion():
    source = [float_sample(seed) for seed in range(3)]
    memory = InMemoryDataset(source)
    dtypes = {key: tensor.dtype for key, tensor in memory.tensors.items()}
    assert dtypes == {
        "image": torch.uint8,
        "depth": torch.float16,
        "valid": torch.bool,
        "intrinsics": torch.float32,
        "mask": torch.uint8,
        "background": torch.uint8,
    }
    stored = sum(t.numel() * t.element_size() for t in memory.tensors.values())
    pixels = len(source) * SIZE[0] * SIZE[1]
    assert stored == pixels * (3 + 2 + 1 + 1 + 3) + len(source) * 16
    for index, original in enumerate(source):
        sample = memory[index]
        expected = to_float(to_compact(original))
        assert set(sample) == set(original)
        for key, value in expected.items():
            assert sample[key].dtype == original[key].dtype, key
            assert torch.equal(sample[key], value), key
        for key in ("image", "background"):  # rounded to the nearest of 256 levels
            assert (sample[key] - original[key]).abs().max() <= 0.5 / 255 + 1e-7
        valid = original["valid"]
        assert torch.equal(sample["valid"], valid) and torch.equal(sample["mask"], original["mask"])
        assert bool((sample["depth"][~valid] == 0).all()) and bool(
            (sample["depth"][valid] > 0).all()
        )
        relative = (sample["depth"] - original["depth"]).abs() / original["depth"].clamp(min=1e-3)
        assert float(relative[valid & (original["depth"] > 1e-3)].max()) <= 2.0**-11
        assert float(sample["depth"][0, 5, 5]) == FLOAT16_TINY  # a valid depth never becomes 0


def test_rendered_rooms_keep_their_pixels_and_metres_within_float16():
    rooms = SyntheticRooms(3, size=SIZE, seed=4)
    memory = InMemoryDataset(rooms)
    for index in range(3):
        original, sample = rooms[index], memory[index]
        assert torch.equal(sample["image"], original["image"])  # rendered as uint8: exact
        assert torch.equal(sample["valid"], original["valid"])
        torch.testing.assert_close(sample["depth"], original["depth"], rtol=2.0**-11, atol=0)


def test_transform_applies_to_each_float_sample():
    rooms = SyntheticRooms(2, size=SIZE, seed=4)
    flipped = InMemoryDataset(rooms, transform=T.RandomHorizontalFlip(p=1.0))
    plain = InMemoryDataset(rooms)
    assert torch.equal(flipped[1]["image"], plain[1]["image"].flip(-1))
    assert float(flipped[1]["intrinsics"][2]) == pytest.approx(
        SIZE[1] - 1 - plain[1]["intrinsics"][2]
    )


def test_depth_beyond_float16_is_refused():
    sample = float_sample(0)
    sample["depth"] = sample["depth"] * 1e4  # millimetres by mistake
    with pytest.raises(DataError, match="millimetres"):
        InMemoryDataset([sample])


class _DepthList(torch.utils.data.Dataset):
    """Samples holding given depth maps (1,H,W), valid where depth > 0."""

    def __init__(self, depths: list[torch.Tensor]) -> None:
        self.depths = depths

    def __len__(self) -> int:
        return len(self.depths)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        depth = self.depths[index]
        return {"depth": depth, "valid": depth > 0}


@pytest.mark.parametrize("count", [1, 2, 7, 1000, 4097])
def test_median_depth_agrees_with_torch_median_within_a_bin(count):
    generator = torch.Generator().manual_seed(count)
    depth = torch.rand(count, generator=generator).mul(8).add(0.3).exp().div(20)  # skewed
    depth[torch.rand(count, generator=generator) < 0.2] = 0.0  # unknown pixels
    depth[0] = max(float(depth[0]), 0.5)  # at least one valid pixel
    pieces = [chunk.view(1, 1, -1) for chunk in depth.split(97)]
    exact = float(depth[depth > 0].median())
    assert median_depth(_DepthList(pieces)) == pytest.approx(exact, rel=1.3e-4)


def test_median_depth_of_synthetic_rooms_matches_the_float_copy():
    rooms = SyntheticRooms(6, size=(48, 64), seed=3)
    exact = float(torch.cat([rooms[i]["depth"][rooms[i]["valid"]] for i in range(6)]).median())
    assert median_depth(rooms) == pytest.approx(exact, rel=1.3e-4)


def test_median_depth_refuses_a_dataset_without_valid_pixels():
    with pytest.raises(DataError, match="no valid depth pixel"):
        median_depth(_DepthList([torch.zeros(1, 4, 4)]))
