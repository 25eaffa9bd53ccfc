"""depthnb: the package behind a course in monocular depth estimation.

Submodules are imported on first use, so ``import depthnb`` stays fast and
``depthnb.data.SyntheticRooms`` works after a plain ``import depthnb``.

Conventions, the same in every module (DESIGN.md; ``tests/test_conventions.py`` checks them):

==============  ==================================================================================
what            one convention
==============  ==================================================================================
argument order  losses and metrics take ``(pred, target, valid)``, in that order, with those names
sizes           ``(H, W)`` everywhere: ``size=(H, W)``, ``input_size`` is an image's (H, W)
arrays          torch ``(B,1,H,W)`` inside the library (alignments return the shape they were
                given); NumPy only at the edges: photographs in, figures, PLY files and videos out
names           one name per setting in code, command line and config: ``batch_size``,
                ``workers``, ``steps``; ``valid`` for a mask of trusted pixels
units           metres outside a model (:mod:`depthnb.encodings` converts); pixels for
                intrinsics; degrees for fields of view
depth range     one default: ``MIN_DEPTH`` = 1 mm, ``MAX_DEPTH`` = 10 m
                (:mod:`depthnb.encodings`); DenseDepth's inverse encoding keeps its paper's 10 cm
files           one atomic writer, :mod:`depthnb.utils.files` (``atomic_path``, ``atomic_write``,
                ``atomic_write_bytes``, ``atomic_write_text``); a format's ``save_*`` writes
                through it; nothing half-written is left under the final name
errors          defined in :mod:`depthnb.errors` only, each also the builtin a user would catch
                (``ValueError``, ``OSError``, ``ImportError``, ...); all are ``DepthnbError``
state           no global side effects: the Trainer keeps its own random states and sets
                deterministic switches only while it trains; ``evaluate()`` leaves the model where
                it was
==============  ==================================================================================
"""

import importlib
from types import ModuleType

from depthnb.errors import (
    ArchiveError,
    ArgumentError,
    CheckpointError,
    ConfigError,
    DataError,
    DeployError,
    DepthnbError,
    DownloadError,
    ExerciseError,
    ImageError,
    MissingPackageError,
    ModelError,
    ShapeError,
    TrainingError,
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
    "ArchiveError",
    "ArgumentError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DepthnbError",
    "DeployError",
    "DownloadError",
    "ExerciseError",
    "ImageError",
    "MissingPackageError",
    "ModelError",
    "ShapeError",
    "TrainingError",
    "__version__",
    *sorted(_SUBMODULES),
]


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"depthnb.{name}")
    raise AttributeError(f"module 'depthnb' has no attribute {name!r}")
