"""Taking a model out of PyTorch: ONNX export checked in onnxruntime, int8 and fp16 variants, and
the measurements that compare them (``python -m depthnb export`` is :mod:`depthnb.cli.export`).

>>> model = depthnb.models.load("runs/main/best.pt")                     # doctest: +SKIP
>>> export_onnx(model, "unet.onnx", size=(120, 160))                      # doctest: +SKIP
>>> check_onnx(model, "unet.onnx", [(120, 160), (240, 320)])              # doctest: +SKIP
{(120, 160): 2.4e-07, (240, 320): 2.4e-07}
>>> images = calibration_images(32, (120, 160))                           # doctest: +SKIP
>>> quantize_int8("unet.onnx", "unet.int8.onnx", images)                  # doctest: +SKIP

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
