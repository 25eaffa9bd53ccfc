"""Running exported graphs: an onnxruntime session on the CPU, depth in metres out, latency.

>>> session = onnx_session("unet.onnx")                                  # doctest: +SKIP
>>> depth = onnx_depth(session, images)          # (B,1,H,W) metres       # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from depthnb.deploy.export import DeployError, require


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


def run_onnx(session: Any, images: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
    """The graph's outputs for images (B,C,H,W) float in [0,1]: {"depth": (B,1,h,w) metres, ...}."""
    if torch.is_tensor(images):
        images = images.detach().cpu().numpy()
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(images, dtype=np.float32)}
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, feed)))


def onnx_depth(
    session: Any, images: torch.Tensor, size: tuple[int, int] | None = None, batch_size: int = 8
) -> torch.Tensor:
    """Depth (B,1,H,W) metres of images (B,C,H,W) in [0,1], resized bilinearly to ``size`` (default
    the images' own), as ``predict_depth`` does; runs ``batch_size`` images at a time (one at a
    time for a graph with a fixed batch)."""
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
