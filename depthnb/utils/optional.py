"""Optional packages: import one, or raise :class:`~depthnb.errors.MissingPackageError` saying
how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType

from depthnb.errors import MissingPackageError

ONNX_INSTALL = "pip install onnx onnxruntime onnxscript, or pip install 'depthnb[deploy]'"


def require(module: str, install: str = ONNX_INSTALL) -> ModuleType:
    """Import ``module`` (``onnx``, ``onnxruntime.quantization``, ...) on first use.

    Raises :class:`~depthnb.errors.MissingPackageError` (an ``ImportError``) naming the package
    and the ``install`` command when it is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingPackageError(
            f"this needs {module.split('.')[0]!r} ({error}); install it with {install}"
        ) from error
