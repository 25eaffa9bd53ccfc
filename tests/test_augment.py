"""Batch augmentation: it flips, permutes and jitters, and each sample of a batch gets exactly what
the per-sample transforms give it with the same draws."""

import pytest
import torch

from depthnb.data import transforms as T
from depthnb.data.augment import AugmentDraw, BatchAugment, apply_draw
from depthnb.errors import ArgumentError


def test_batch_augment_flips_permutes_and_jitters():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(6, 3, 4, 5, generator=generator)
    batch = {
        "image": image,
        "depth": image[:, :1] + 1,
        "valid": image[:, :1] > 0.5,
        "intrinsics": torch.tensor([[10.0, 10.0, 1.0, 2.0]]).repeat(6, 1),
    }
    flipped = BatchAugment(flip=1.0, permute_channels=0.0)(batch, generator)
    assert torch.equal(flipped["image"], image.flip(-1)) and torch.equal(
        flipped["valid"], batch["valid"].flip(-1)
    )
    assert torch.equal(flipped["intrinsics"][:, 2], torch.full((6,), 5 - 1 - 1.0))
    permuted = BatchAugment(flip=0.0, permute_channels=1.0)(batch, generator)["image"]
    assert torch.equal(permuted.sort(dim=1).values, image.sort(dim=1).values)
    assert not torch.equal(permuted, image)
    mixed = BatchAugment(flip=0.5, permute_channels=0.0)(batch, torch.Generator().manual_seed(1))
    chosen = mixed["intrinsics"][:, 2] != batch["intrinsics"][:, 2]
    assert 0 < int(chosen.sum()) < 6, "seed 1 flips some samples, not all"
    for index, was_flipped in enumerate(chosen.tolist()):
        expected = image[index].flip(-1) if was_flipped else image[index]
        assert torch.equal(mixed["image"][index], expected)
        assert torch.equal(mixed["depth"][index], expected[:1] + 1)
    untouched = BatchAugment(flip=0.0, permute_channels=0.0)(batch, generator)
    assert untouched["image"] is image
    jittered = BatchAugment(
        flip=0.0, permute_channels=0.0, brightness=0.5, contrast=0.5, saturation=0.5
    )
    out = jittered(batch, torch.Generator().manual_seed(1))["image"]
    again = jittered(batch, torch.Generator().manual_seed(1))["image"]
    assert (
        torch.equal(out, again)
        and out.min() >= 0
        and out.max() <= 1
        and not torch.equal(out, image)
    )
    with pytest.raises(ArgumentError, match="probability"):
        BatchAugment(flip=1.5)


def _fgbg_sample(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(3, 12, 17, generator=g)
    depth = 1 + 4 * torch.rand(1, 12, 17, generator=g)
    return {
        "image": image,
        "background": torch.rand(3, 12, 17, generator=g),
        "depth": depth,
        "valid": depth > 2,
        "mask": (torch.rand(1, 12, 17, generator=g) > 0.5).float(),
        "intrinsics": torch.tensor([20.0, 21.0, 7.5, 6.0]),
    }


@pytest.mark.parametrize("flip", [True, False])
def test_a_batch_of_one_equals_the_per_sample_transforms(flip):
    sample = _fgbg_sample()
    order = [2, 0, 1]
    brightness, contrast, saturation = 1.3, 0.7, 1.4
    expected = T.hflip(sample) if flip else dict(sample)
    expected = T.permute_channels(expected, order)
    for key in ("image", "background"):
        expected[key] = T.jitter_colour(expected[key], brightness, contrast, saturation)
    batch = {key: value[None] for key, value in sample.items()}
    draws = AugmentDraw(
        flip=torch.tensor([flip]),
        order=torch.tensor([order]),
        brightness=torch.tensor([brightness]),
        contrast=torch.tensor([contrast]),
        saturation=torch.tensor([saturation]),
    )
    out = apply_draw(batch, draws)
    assert set(out) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(out[key][0], value, rtol=0, atol=1e-6, msg=key)
    # the colour steps clamp at every step, as torchvision does: saturated pixels exist here
    assert float(out["image"].max()) == 1.0


def test_drawn_factors_lie_in_their_ranges_and_repeat_with_the_seed():
    augment = BatchAugment(flip=0.5, permute_channels=0.5, brightness=0.2, saturation=0.1)
    draws = augment.draw(64, torch.Generator().manual_seed(3))
    again = augment.draw(64, torch.Generator().manual_seed(3))
    assert torch.equal(draws.order, again.order) and torch.equal(draws.flip, again.flip)
    assert draws.contrast is None and 0 < int(draws.flip.sum()) < 64
    assert float(draws.brightness.min()) >= 0.8 and float(draws.brightness.max()) <= 1.2
    assert torch.equal(draws.order.sort(dim=1).values, torch.arange(3).expand(64, 3))
