"""depthnb: the package behind a course in monocular depth estimation.

Submodules are imported on first use, so ``import depthnb`` stays fast and
``depthnb.data.SyntheticRooms`` works after a plain ``import depthnb``.
"""

import importlib
from types import ModuleType

from depthnb.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DepthnbError,
    DownloadError,
    ModelError,
)

__version__ = "0.1.0"

_SUBMODULES = {
    "checkpoint",
    "cli",
    "course",
    "data",
    "deploy",
    "encodings",
    "exercises",
    "geometry",
    "hub",
    "inference",
    "losses",
    "metrics",
    "models",
    "notebook",
    "predict",
    "train",
    "utils",
    "video",
    "viz",
}

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DepthnbError",
    "DownloadError",
    "ModelError",
    "__version__",
    *sorted(_SUBMODULES),
]


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"depthnb.{name}")
    raise AttributeError(f"module 'depthnb' has no attribute {name!r}")
