"""Running exported graphs: an onnxruntime session on the CPU, depth in metres out, latency.

>>> import torch
>>> from depthnb.deploy import export_onnx
>>> from depthnb.models import build_model
>>> model = build_model("unet", filters=(4, 8, 8, 8, 8)).eval()
>>> session = onnx_session(export_onnx(model, "unet.onnx", size=(64, 96)))
>>> onnx_depth(session, torch.rand(2, 3, 64, 96)).shape       # (B,1,H,W) metres
torch.Size([2, 1, 64, 96])
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from depthnb.errors import DeployError, ShapeError
from depthnb.utils.optional import require


def onnx_session(path: str | os.PathLike, threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU (``threads`` intra-op threads; None: as
    many as torch uses, so the two are timed alike)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: the quantised graphs warn about each QDQ pair
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime's own exception types
        raise DeployError(
            f"onnxruntime cannot load {path}: {str(error).splitlines()[0]}; is it an .onnx file "
            "from export_onnx?"
        ) from error


def fixed_input_shape(session: Any) -> list[int | None]:
    """The graph input's shape, with ``None`` for each symbolic axis: [None, 3, None, None] for a
    dynamic export, [1, 3, 240, 320] for a fixed one."""
    return [dim if isinstance(dim, int) else None for dim in session.get_inputs()[0].shape]


def check_onnx_input(session: Any, images: np.ndarray) -> None:
    """Raise ShapeError unless ``images`` fit the graph's declared input (B,C,H,W): four axes, and
    every axis the graph fixes (channels, a fixed batch or size) equal to it."""
    declared = session.get_inputs()[0]
    expected = fixed_input_shape(session)
    shown = "(" + ",".join("?" if dim is None else str(dim) for dim in expected) + ")"
    if images.ndim != len(expected) or any(
        dim is not None and dim != given for dim, given in zip(expected, images.shape)
    ):
        raise ShapeError(
            f"the ONNX graph's input {declared.name!r} takes {shown} (B,C,H,W; ? = any), but "
            f"was given {tuple(images.shape)}; pass RGB images (B,3,H,W) in [0,1] at the "
            "graph's fixed size, or export it with dynamic=True"
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise ShapeError(
            f"the ONNX graph's input {declared.name!r} takes float pixel values in [0,1], but "
            f"was given {images.dtype}; divide uint8 images by 255"
        )


def run_onnx(session: Any, images: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
    """The graph's outputs for images (B,C,H,W) float in [0,1]: {"depth": (B,1,h,w) metres, ...}.

    Raises:
        ShapeError: ``images`` do not fit the graph's declared input (:func:`check_onnx_input`).
    """
    if torch.is_tensor(images):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    check_onnx_input(session, images)
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(images, dtype=np.float32)}
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, feed)))


def onnx_depth(
    session: Any, images: torch.Tensor, size: tuple[int, int] | None = None, batch_size: int = 8
) -> torch.Tensor:
    """Depth (B,1,H,W) metres of images (B,C,H,W) in [0,1], resized bilinearly to ``size`` (default
    the images' own), as ``predict_depth`` does; runs ``batch_size`` images at a time (one at a
    time for a graph with a fixed batch).

    Raises:
        ShapeError: images with the wrong number of channels, or not of a fixed graph's size.
    """
    fixed_batch = fixed_input_shape(session)[0]
    step = fixed_batch or batch_size
    target = tuple(size or images.shape[-2:])
    parts = []
    for start in range(0, len(images), step):
        depth = torch.from_numpy(run_onnx(session, images[start : start + step])["depth"])
        if tuple(depth.shape[-2:]) != target:
            depth = F.interpolate(depth, size=target, mode="bilinear", align_corners=False)
        parts.append(depth)
    return torch.cat(parts)


def median_latency_ms(run: Callable[[], Any], repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``run()`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))
