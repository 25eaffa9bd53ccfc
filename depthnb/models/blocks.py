"""Building blocks shared by the depth networks: the model base class, input checks, padding,
normalisation, small conv blocks, and loading torchvision's ImageNet weights without hanging
offline.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from depthnb.encodings import Encoding, encoding_from_dict, get_encoding
from depthnb.errors import ModelError, ShapeError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_SIDE = 32
PAD_MULTIPLE = 32


def resolve_encoding(encoding: str | dict | Encoding) -> Encoding:
    """An ``Encoding`` object from a name ("metres", "inverse", "log"), a ``to_dict()`` dict or an
    ``Encoding`` (returned as is)."""
    if isinstance(encoding, (str, Encoding)):
        return get_encoding(encoding)
    if isinstance(encoding, dict):
        return encoding_from_dict(encoding)
    raise ModelError(
        f"encoding={encoding!r} is not an encoding: pass a name ('metres', 'inverse', 'log'), "
        "a dict from Encoding.to_dict(), or an Encoding object"
    )


def encoding_spec(encoding: str | dict | Encoding) -> str | dict:
    """What ``model.config`` stores for an encoding: its name if given by name, else its
    ``to_dict()``."""
    return encoding if isinstance(encoding, str) else resolve_encoding(encoding).to_dict()


class DepthModel(nn.Module):
    """Base of every registry model: what a depth model provides to training, evaluation and
    checkpoints.

    Attributes:
        name: the registry name (``build_model(name)``).
        config: the keyword arguments that rebuild the same architecture with
            ``build_model(model.name, **model.config)``; it never holds ``pretrained`` (weights come
            from a checkpoint or a fresh download, not from the config).
        encoding: how the network's depth output relates to metres (:mod:`depthnb.encodings`).
        input_size: (H, W) the model was trained at, or ``None`` (set by
            :func:`depthnb.predict.load_checkpoint`; inference runs at that size by default).
        output_stride: input pixels per output pixel of the depth head (1: full resolution).
    """

    name: str = ""
    output_stride: int = 1
    config: dict[str, Any]
    encoding: Encoding
    input_size: tuple[int, int] | None = None

    def __init__(self, config: dict[str, Any], encoding: Any) -> None:
        super().__init__()
        self.encoding = resolve_encoding(encoding)
        self.config = {**config, "encoding": encoding_spec(encoding)}

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, encoding={self.encoding.name!r}, "
            f"output_stride={self.output_stride}"
        )


def model_encoding(model: nn.Module, where: str) -> Encoding:
    """The ``encoding`` of a depth model (a :class:`DepthModel` or a module declaring one).

    Raises:
        ModelError: the module has no encoding, naming ``where`` it was needed.
    """
    encoding = getattr(model, "encoding", None)
    if not isinstance(encoding, Encoding):
        raise ModelError(
            f"{where}: {type(model).__name__} has no .encoding; build the model with "
            "depthnb.models.build_model, load it with depthnb.predict.load_checkpoint, or set "
            "model.encoding = depthnb.encodings.get_encoding('metres')"
        )
    return encoding


def check_input(x: torch.Tensor, channels: int, where: str) -> None:
    """Raise ShapeError unless ``x`` is a float (B,channels,H,W) tensor with H, W >= 32."""
    if not isinstance(x, torch.Tensor):
        raise ShapeError(
            f"{where} expects a torch.Tensor (B,{channels},H,W), got {type(x).__name__}"
        )
    if x.ndim != 4 or x.shape[1] != channels:
        raise ShapeError(
            f"{where} expects a (B,{channels},H,W) tensor, got shape {tuple(x.shape)}; "
            "add a batch axis with x[None] or check the channel count"
        )
    if not x.is_floating_point():
        raise ShapeError(
            f"{where} expects float values in [0,1], got dtype {x.dtype}; "
            "convert with x.float() / 255"
        )
    if x.shape[2] < MIN_SIDE or x.shape[3] < MIN_SIDE:
        raise ShapeError(
            f"{where} needs H and W >= {MIN_SIDE}, got {tuple(x.shape[2:])}; "
            "resize the image up first"
        )


def pad_to_multiple(
    x: torch.Tensor, multiple: int = PAD_MULTIPLE, mode: str = "reflect"
) -> torch.Tensor:
    """Pad (B,C,H,W) at the bottom and right to the next multiple of ``multiple``.

    The top-left pixel stays where it was, so cropping the output to its first rows and columns
    undoes the padding. Reflect padding needs H, W >= ``multiple`` (the pad is at most
    ``multiple - 1``).
    """
    height, width = x.shape[-2:]
    # Non-negative operands only: ONNX's integer Div and Mod truncate towards zero, Python floors.
    pad_h, pad_w = (
        (multiple - height % multiple) % multiple,
        (multiple - width % multiple) % multiple,
    )
    # While tracing or exporting, the sides are symbols: always pad (by 0 when they are multiples
    # already), so that the graph pads any size, not only the one it was traced at.
    if not is_tracing() and pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def is_tracing() -> bool:
    """True while ``torch.jit.trace`` (the TorchScript ONNX exporter) or ``torch.export`` records
    the model: Python branches on sizes would then be frozen into the graph."""
    exporting = getattr(torch.compiler, "is_exporting", None)  # torch >= 2.5
    return torch.jit.is_tracing() or bool(exporting is not None and exporting())


def ceil_div(size: int, stride: int) -> int:
    """ceil(size / stride): the output side of a model with this output stride.

    Written with non-negative operands so that it exports to ONNX unchanged (integer division
    there truncates towards zero, Python's floors).
    """
    return (size + stride - 1) // stride


class Normalize(nn.Module):
    """(x - mean) / std per channel; the statistics are buffers not saved in state dicts."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def imagenet_normalize() -> Normalize:
    """The ImageNet statistics of torchvision's encoders: (B,3,H,W) in [0, 1] -> normalised."""
    return Normalize(IMAGENET_MEAN, IMAGENET_STD)


class ConvBNLeaky(nn.Sequential):
    """conv3x3 (with bias, as in Keras) -> BatchNorm -> LeakyReLU(0.2); keeps H, W."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.2),
        )


class SeparableConv(nn.Sequential):
    """Depthwise-separable conv: depthwise 3x3 -> pointwise 1x1 -> BatchNorm -> ReLU; keeps H, W.

    Parameters: 9 * C_in + C_in * C_out + 2 * C_out (a plain 3x3 conv has 9 * C_in * C_out).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
