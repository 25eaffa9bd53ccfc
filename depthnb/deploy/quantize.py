"""int8 and fp16 versions of an exported graph, with onnxruntime's quantisation tools.

int8 stores each weight as ``round(w / scale) + zero_point`` in 8 bits (4x smaller than float32)
and, in the static form, computes convolutions in integers between quantise/dequantise pairs
(QDQ): activations uint8, weights int8 ("U8S8"), which ran faster than int8 activations ("S8S8")
at the same accuracy (docs/notes.md); onnxruntime notes that U8S8 can saturate on x86 CPUs
without VNNI (reduce_range helps).
Weights get one scale per output channel (``per_channel``): a layer's filters differ in size by
orders of magnitude, and one scale for all would round the small ones to a few levels.
Activations get one scale per tensor, measured on calibration images (``mode="static"``, min-max
over the images) or recomputed from each input at run time (``mode="dynamic"``, weights only
calibrated; onnxruntime then runs convolutions as ConvInteger with uint8 weights).

fp16 halves the file: onnxruntime's own ``transformers.float16.convert_float_to_float16`` (inputs
and outputs kept float32), which handles the graph's Cast nodes and needs no extra package (why
not onnxconverter-common's: docs/notes.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from depthnb.deploy.export import save_model_proto
from depthnb.errors import ArgumentError, DataError, DeployError
from depthnb.utils.files import atomic_write_bytes
from depthnb.utils.optional import require

CALIBRATION_SEED = 9000  # synthetic rooms of their own: neither training (0) nor held-out (1000)
MODES = ("static", "dynamic")


def calibration_images(
    count: int, size: tuple[int, int], channels: int = 3, seed: int = CALIBRATION_SEED
) -> np.ndarray:
    """``count`` synthetic rooms as float32 (N,C,H,W) in [0,1], what int8 calibration runs on.

    ``channels`` 3: RGB; 6: background RGB then the room with its objects (the mask-and-depth
    network's input). Rooms of their own seed, apart from the training and held-out ones.
    """
    from depthnb.data.synthetic.render import render_room

    if channels not in (3, 6) or count < 1:
        raise ArgumentError(f"calibration images: need count >= 1 and 3 or 6 channels, got "
                          f"count={count}, channels={channels}")  # fmt: skip
    images = []
    for index in range(count):
        room = render_room(seed, (size[0], size[1]), index=index)
        parts = [room["image"]] if channels == 3 else [room["background"], room["image"]]
        images.append(np.concatenate(parts, axis=-1).transpose(2, 0, 1))
    return np.stack(images).astype(np.float32) / 255.0


def folder_images(folder: str | os.PathLike, size: tuple[int, int], limit: int = 64) -> np.ndarray:
    """Up to ``limit`` photographs (jpg, jpeg, png) of a folder, resized to ``size`` = (H, W):
    float32 (N,3,H,W) in [0,1], to calibrate on real images instead of synthetic rooms."""
    from PIL import Image

    from depthnb.data.photo import open_image

    paths = sorted(
        p for p in Path(folder).glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    if not paths:
        raise DataError(f"no .jpg or .png images in {folder} to calibrate on")
    images = []
    for path in paths[:limit]:
        photo = open_image(path)  # upright (EXIF), RGB by its mode's range, a pixel limit
        resized = photo.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        images.append(np.asarray(resized, dtype=np.float32).transpose(2, 0, 1) / 255.0)
    return np.stack(images)


class _ImageReader:
    """onnxruntime's CalibrationDataReader protocol over an array of images, one per call."""

    def __init__(self, input_name: str, images: np.ndarray) -> None:
        self.input_name = input_name
        self.images = images
        self._iterator: Iterator[np.ndarray] = iter(images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self._iterator, None)
        return None if image is None else {self.input_name: image[None]}

    def rewind(self) -> None:
        self._iterator = iter(self.images)


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Mute the quantiser's per-tensor warnings (root logger), e.g. that a BatchNorm kept apart
    from its conv (the U-Net's additive skip reads the conv before the BN) has no channel axis."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def quantize_int8(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    images: np.ndarray | None = None,
    mode: str = "static",
    per_channel: bool = True,
) -> Path:
    """An int8 copy of the fp32 graph ``source`` at ``destination`` (atomically written).

    Args:
        images: (N,C,H,W) float32 in [0,1], the calibration set (``mode="static"``; e.g.
            :func:`calibration_images`); not used by ``mode="dynamic"``.
        mode: "static" (QDQ, int8 weights and activations, activation ranges from ``images``) or
            "dynamic" (int8 weights, activation ranges per input at run time).
        per_channel: one weight scale per output channel (else one per tensor).
    """
    quantization = require("onnxruntime.quantization")
    if mode not in MODES:
        raise ArgumentError(f"mode={mode!r}; choose one of {MODES}")
    if mode == "static" and (images is None or np.ndim(images) != 4 or len(images) == 0):
        raise ArgumentError("static int8 quantisation needs calibration images (N,C,H,W); pass "
                          "images=calibration_images(32, size)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, _quiet_logging():
        prepared, out = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        # Shape inference and graph fusions first (onnxruntime's recommended pre-processing).
        quantization.quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        if mode == "static":
            onnx = require("onnx")
            input_name = onnx.load(str(prepared), load_external_data=False).graph.input[0].name
            quantization.quantize_static(
                str(prepared), str(out), _ImageReader(input_name, np.asarray(images, np.float32)),
                quant_format=quantization.QuantFormat.QDQ, per_channel=per_channel,
                activation_type=quantization.QuantType.QUInt8,
                weight_type=quantization.QuantType.QInt8,
                calibrate_method=quantization.CalibrationMethod.MinMax,
            )  # fmt: skip
        else:
            quantization.quantize_dynamic(
                str(prepared), str(out), per_channel=per_channel,
                weight_type=quantization.QuantType.QUInt8,
            )  # fmt: skip
        return atomic_write_bytes(destination, out.read_bytes())


def convert_fp16(source: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """A float16 copy of the fp32 graph ``source`` (weights and arithmetic in fp16; input and
    outputs stay float32, so callers do not change), written atomically."""
    onnx = require("onnx")
    graph = require("onnxruntime.transformers.onnx_model").OnnxModel(onnx.load(str(source)))
    try:
        with _quiet_logging():
            graph.convert_float_to_float16(keep_io_types=True)  # and drops redundant Casts
        graph.topological_sort()  # the input's Cast is appended last; ONNX wants nodes in order
    except Exception as error:  # the converter raises plain exceptions on unsupported graphs
        raise DeployError(f"cannot convert {source} to float16: {error}") from error
    return save_model_proto(graph.model, destination)


def file_size_mb(path: str | os.PathLike) -> float:
    """Size of a file in megabytes (10^6 bytes)."""
    return Path(path).stat().st_size / 1e6


def variants(
    fp32_path: str | os.PathLike,
    folder: str | os.PathLike,
    images: np.ndarray,
    kinds: Sequence[str] = ("int8", "int8-dynamic", "fp16"),
) -> dict[str, Path]:
    """The fp32 graph and its quantised copies in ``folder``: {"fp32": ..., "int8": static QDQ
    per-channel, "int8-dynamic": dynamic, "fp16": float16} (the ``kinds`` asked for)."""
    folder = Path(folder)
    stem = Path(fp32_path).stem
    paths: dict[str, Any] = {"fp32": Path(fp32_path)}
    for kind in kinds:
        target = folder / f"{stem}.{kind}.onnx"
        if kind == "int8":
            paths[kind] = quantize_int8(fp32_path, target, images, mode="static")
        elif kind == "int8-dynamic":
            paths[kind] = quantize_int8(fp32_path, target, mode="dynamic")
        elif kind == "fp16":
            paths[kind] = convert_fp16(fp32_path, target)
        else:
            raise ArgumentError(f"unknown variant {kind!r}; choose from int8, int8-dynamic, fp16")
    return paths
