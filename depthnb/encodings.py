"""Depth encodings: what a model predicts, and how to get metres back.

A network rarely regresses metres directly. DenseDepth predicts inverse depth ("DepthNorm",
``max_depth / depth``), the Keras example log depth. An :class:`Encoding` converts both ways, so the
rest of the package (losses in encoded space, metrics in metres) never has to know which one a
model uses.

>>> enc = get_encoding("inverse")
>>> enc.encode(torch.tensor([0.5, 2.0, 10.0]))
tensor([20.,  5.,  1.])
>>> enc.decode(enc.encode(torch.tensor([0.5, 2.0]))).tolist()
[0.5, 2.0]
>>> encoding_from_dict(enc.to_dict()) == enc
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from depthnb.errors import ArgumentError

#: The package's one depth range, in metres: the nearest depth a prediction is clamped to and a
#: metric scores, and the indoor cap (NYU Depth v2's 10 m) of metrics and the inverse encoding.
MIN_DEPTH = 1e-3
MAX_DEPTH = 10.0
#: DenseDepth's "DepthNorm" clips depth to 10 cm before inverting (``1000 / clip(cm, 10, 1000)``),
#: so its targets lie in [1, 100]; the paper's value, kept for :class:`InverseEncoding`.
DEPTHNORM_MIN_DEPTH = 0.1

__all__ = [
    "DEPTHNORM_MIN_DEPTH",
    "ENCODINGS",
    "MAX_DEPTH",
    "MIN_DEPTH",
    "Encoding",
    "InverseEncoding",
    "LogEncoding",
    "MetresEncoding",
    "encoding_from_dict",
    "get_encoding",
]


@dataclass(frozen=True)
class Encoding:
    """Base class: ``encode`` maps metres to what a model predicts, ``decode`` maps it back.

    Subclasses are frozen dataclasses whose fields are their settings, so ``to_dict`` and
    :func:`encoding_from_dict` round-trip them (checkpoints store ``to_dict()``).
    """

    name = "base"

    def encode(self, depth_m: torch.Tensor) -> torch.Tensor:
        """Metres (any shape, e.g. (B,1,H,W)) -> encoded values, same shape."""
        raise NotImplementedError

    def decode(self, encoded: torch.Tensor) -> torch.Tensor:
        """Encoded values (any shape) -> float32 metres, same shape."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (``name`` plus settings) that :func:`encoding_from_dict` rebuilds."""
        return {"name": self.name, **asdict(self)}


def _check_min_depth(encoding: Encoding) -> None:
    """Raise ArgumentError unless ``encoding.min_depth`` > 0 (0 encodes to -inf, decodes to 0)."""
    min_depth = float(getattr(encoding, "min_depth", 0.0))
    if not min_depth > 0:
        raise ArgumentError(
            f"{encoding.name} encoding needs min_depth > 0 (metres), got "
            f"min_depth={min_depth}; pass e.g. get_encoding({encoding.name!r}, "
            "min_depth=1e-3)"
        )


@dataclass(frozen=True)
class MetresEncoding(Encoding):
    """The identity: the model predicts metres. ``decode`` clamps at ``min_depth`` (> 0)."""

    min_depth: float = MIN_DEPTH
    name = "metres"

    def __post_init__(self) -> None:
        _check_min_depth(self)

    def encode(self, depth_m: torch.Tensor) -> torch.Tensor:
        """Metres -> metres (unchanged)."""
        return depth_m

    def decode(self, encoded: torch.Tensor) -> torch.Tensor:
        """Predicted metres -> float32 metres, at least ``min_depth``."""
        return encoded.float().clamp(min=self.min_depth)


@dataclass(frozen=True)
class InverseEncoding(Encoding):
    """DenseDepth's "DepthNorm": ``max_depth / depth`` with depth clipped to [min_depth, max_depth].

    With the defaults (0.1 m .. 10 m, :data:`DEPTHNORM_MIN_DEPTH` .. :data:`MAX_DEPTH`: the
    paper's clip, not the package's :data:`MIN_DEPTH`) targets lie in [1, 100]: near things get
    large values, far walls small ones. DenseDepth's code writes it in centimetres,
    ``1000 / clip(depth_cm, 10, 1000)``; the ratio is the same.
    """

    min_depth: float = DEPTHNORM_MIN_DEPTH
    max_depth: float = MAX_DEPTH
    name = "inverse"

    def __post_init__(self) -> None:
        if not 0 < self.min_depth < self.max_depth:
            raise ArgumentError(
                "inverse encoding needs 0 < min_depth < max_depth, got "
                f"min_depth={self.min_depth}, "
                f"max_depth={self.max_depth}; pass e.g. get_encoding('inverse', min_depth=0.1, "
                "max_depth=10.0)"
            )

    @property
    def data_range(self) -> float:
        """The largest encoded value, ``max_depth / min_depth`` (100 for 0.1..10 m).

        DenseDepth passes this as SSIM's data range L.
        """
        return self.max_depth / self.min_depth

    def encode(self, depth_m: torch.Tensor) -> torch.Tensor:
        """Metres -> ``max_depth / clip(depth, min_depth, max_depth)``, in [1, max/min]."""
        return self.max_depth / depth_m.clamp(self.min_depth, self.max_depth)

    def decode(self, encoded: torch.Tensor) -> torch.Tensor:
        """Encoded -> float32 metres ``max_depth / encoded``, clipped to [min_depth, max_depth].

        Exactly DenseDepth's ``predict`` (``clip(1000 / x, 10, 1000)`` cm): 0 decodes to
        ``max_depth`` (1/0 = inf), a negative prediction to ``min_depth``.
        """
        return (self.max_depth / encoded.float()).clamp(self.min_depth, self.max_depth)


@dataclass(frozen=True)
class LogEncoding(Encoding):
    """Natural log of metres, clamped at ``min_depth`` first so 0 (unknown) stays finite."""

    min_depth: float = MIN_DEPTH
    name = "log"

    def __post_init__(self) -> None:
        _check_min_depth(self)

    def encode(self, depth_m: torch.Tensor) -> torch.Tensor:
        """Metres -> ``ln(max(depth, min_depth))``."""
        return torch.log(depth_m.clamp(min=self.min_depth))

    def decode(self, encoded: torch.Tensor) -> torch.Tensor:
        """Log depth -> float32 metres ``exp(encoded)``."""
        return torch.exp(encoded.float())


ENCODINGS: dict[str, type[Encoding]] = {
    "metres": MetresEncoding,
    "inverse": InverseEncoding,
    "log": LogEncoding,
}


def get_encoding(name: str | Encoding, **kwargs: float) -> Encoding:
    """Build an encoding by name, ``"metres"``, ``"inverse"`` or ``"log"``, with its settings.

    An :class:`Encoding` passed in is returned unchanged (so ``encoding=`` arguments take either).
    """
    if isinstance(name, Encoding):
        if kwargs:
            raise ArgumentError(f"got an Encoding object {name!r} and settings {kwargs}; pass one")
        return name
    if not isinstance(name, str) or name not in ENCODINGS:
        raise ArgumentError(f"unknown depth encoding {name!r}; choose one of {sorted(ENCODINGS)}")
    try:
        return ENCODINGS[name](**kwargs)
    except TypeError as error:
        raise ArgumentError(f"bad settings {kwargs} for encoding {name!r}: {error}") from error


def encoding_from_dict(d: dict[str, Any]) -> Encoding:
    """Rebuild an encoding from :meth:`Encoding.to_dict` output (as stored in a checkpoint)."""
    if not isinstance(d, dict) or "name" not in d:
        raise ArgumentError(
            f"an encoding dict needs a 'name' key (e.g. {{'name': 'inverse'}}), got {d!r}"
        )
    settings = {key: value for key, value in d.items() if key != "name"}
    return get_encoding(d["name"], **settings)
