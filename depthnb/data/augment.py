"""Batch augmentation: flips, channel permutations and colour jitter of a whole collated batch.

Two CPU cores cannot run per-sample Python transforms fast enough to feed a GPU; these work on a
collated batch wherever it is (the main job runs them on the CPU, a GPU run on the GPU), with one
random draw per sample from a ``torch.Generator`` (so a run is reproducible and resumes exactly).

Each sample of the batch gets exactly what the per-sample transforms of
:mod:`depthnb.data.transforms` give it with the same draws: :func:`~depthnb.data.functional.hflip`,
then :func:`~depthnb.data.functional.permute_channels`, then
:func:`~depthnb.data.functional.jitter_colour` on ``image`` and ``background`` (the colour step is
the shared :func:`depthnb.data.colour.adjust_colour`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from depthnb.data.colour import adjust_colour
from depthnb.data.sample import COLOUR_KEYS, IMAGE, INTRINSICS, SPATIAL_KEYS, Sample
from depthnb.errors import ArgumentError


@dataclass
class AugmentDraw:
    """The random choices for a batch of B samples.

    Attributes:
        flip: (B,) bool, mirror left-right.
        order: (B,3) long, the new channel order of each sample (identity where not permuted).
        brightness, contrast, saturation: (B,) float factors, or ``None`` for no such step.
    """

    flip: torch.Tensor | None = None
    order: torch.Tensor | None = None
    brightness: torch.Tensor | None = None
    contrast: torch.Tensor | None = None
    saturation: torch.Tensor | None = None


@dataclass
class BatchAugment:
    """Augment a collated batch in place of per-sample transforms.

    Args:
        flip: probability of a horizontal flip per sample (image, depth, valid, mask, background;
            intrinsics ``cx -> W - 1 - cx``).
        permute_channels: probability of a random RGB channel permutation per sample (DenseDepth).
        brightness, contrast, saturation: colour jitter strengths; each factor is drawn from
            ``U(1 - s, 1 + s)`` per sample. 0 switches it off.

    Call ``augment(batch, generator)``; the batch is a dict of tensors as collated from the dataset.
    """

    flip: float = 0.5
    permute_channels: float = 0.5
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0

    def __post_init__(self) -> None:
        for name in ("flip", "permute_channels"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ArgumentError(
                    f"BatchAugment {name}={getattr(self, name)} is not a probability in [0, 1]"
                )
        for name in ("brightness", "contrast", "saturation"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ArgumentError(f"BatchAugment {name}={getattr(self, name)} must lie in [0, 1)")

    def draw(self, size: int, generator: torch.Generator | None = None) -> AugmentDraw:
        """The random choices for ``size`` samples, drawn on the CPU (the same on any device)."""
        draws = AugmentDraw()
        if self.flip > 0:
            draws.flip = torch.rand(size, generator=generator) < self.flip
        if self.permute_channels > 0:
            permute = torch.rand(size, generator=generator) < self.permute_channels
            order = torch.argsort(torch.rand((size, 3), generator=generator), dim=1)
            draws.order = torch.where(permute[:, None], order, torch.arange(3).expand(size, 3))
        for name in ("brightness", "contrast", "saturation"):
            strength = getattr(self, name)
            if strength:
                factor = 1 - strength + 2 * strength * torch.rand(size, generator=generator)
                setattr(draws, name, factor)
        return draws

    def __call__(self, batch: Sample, generator: torch.Generator | None = None) -> Sample:
        """Return a new batch dict; ``image`` (B,3,H,W) in [0,1], ``depth``/``valid`` (B,1,H,W)."""
        return apply_draw(batch, self.draw(batch[IMAGE].shape[0], generator))


def apply_draw(batch: Sample, draws: AugmentDraw) -> Sample:
    """Apply given choices to a batch: flip, then channel order, then colour (see the module)."""
    image = batch[IMAGE]
    device = image.device
    out = dict(batch)
    if draws.flip is not None:
        flip = draws.flip.to(device)
        for key in SPATIAL_KEYS:
            if key in out:
                flipped = out[key].clone()  # a new tensor; only the chosen samples are mirrored
                flipped[flip] = flipped[flip].flip(-1)
                out[key] = flipped
        if INTRINSICS in out:
            intrinsics = out[INTRINSICS].clone()
            mirrored = image.shape[-1] - 1 - intrinsics[:, 2]
            intrinsics[:, 2] = torch.where(flip, mirrored, intrinsics[:, 2])
            out[INTRINSICS] = intrinsics
    if draws.order is not None:
        order = draws.order.to(device)
        samples = torch.arange(order.shape[0], device=device)[:, None]
        for key in COLOUR_KEYS:
            if key in out:
                # advanced indexing: out[b, c] = in[b, order[b, c]]; on a CPU much faster than
                # the equivalent torch.gather (docs/notes.md)
                out[key] = out[key][samples, order]
    factors = [draws.brightness, draws.contrast, draws.saturation]
    if any(factor is not None for factor in factors):
        shaped = [
            1.0 if f is None else f.to(device=device, dtype=image.dtype).view(-1, 1, 1, 1)
            for f in factors
        ]
        for key in COLOUR_KEYS:
            if key in out:
                out[key] = adjust_colour(out[key], *shaped)
    return out
