"""Taking a model out of PyTorch: ONNX export checked in onnxruntime, int8 and fp16 variants, and
the measurements that compare them (``python -m depthnb export`` is :mod:`depthnb.cli.export`).

>>> from depthnb.deploy import calibration_images, check_onnx, export_onnx, quantize_int8
>>> from depthnb.models import build_model
>>> model = build_model("unet", filters=(4, 8, 8, 8, 8)).eval()  # or depthnb.models.load(spec)
>>> export_onnx(model, "unet.onnx", size=(64, 96))
PosixPath('unet.onnx')
>>> check_onnx(model, "unet.onnx", [(64, 96), (96, 128)])   # largest |difference|, metres
{(64, 96): ..., (96, 128): ...}
>>> images = calibration_images(4, (64, 96))                 # (N,3,H,W) float32 in [0,1]
>>> quantize_int8("unet.onnx", "unet.int8.onnx", images)
PosixPath('unet.int8.onnx')

onnx and onnxruntime are optional dependencies (``pip install 'depthnb[deploy]'``); without them
these functions raise :class:`~depthnb.errors.MissingPackageError` (an ``ImportError``) saying
so. Names are imported on first use, so the
command line can register ``export`` without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "export": (
        "DEFAULT_SIZE",
        "OPSET",
        "TOLERANCE_M",
        "TOLERANCE_RELATIVE",
        "DepthGraph",
        "allowed_difference",
        "check_onnx",
        "export_onnx",
        "reference_outputs",
    ),
    "quantize": ("calibration_images", "convert_fp16", "file_size_mb", "quantize_int8", "variants"),
    "session": ("fixed_input_shape", "median_latency_ms", "onnx_depth", "onnx_session", "run_onnx"),
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"depthnb.deploy.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'depthnb.deploy' has no attribute {name!r}")
