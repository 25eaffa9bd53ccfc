"""Optional packages: import one, or raise :class:`~depthnb.errors.DeployError` saying how to
install it."""

from __future__ import annotations

import importlib
from types import ModuleType

from depthnb.errors import DeployError


def require(module: str) -> ModuleType:
    """Import ``onnx``, ``onnxruntime``, ... on first use; DeployError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise DeployError(
            f"exporting and running ONNX models needs {module.split('.')[0]!r} ({error}); install "
            "it with pip install onnx onnxruntime onnxscript, or pip install 'depthnb[deploy]'"
        ) from error
