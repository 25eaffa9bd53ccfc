"""The exceptions depthnb raises: one family, so callers can catch ``DepthnbError``.

Every message says what was wrong, where (a file, a key, a shape) and what to do about it.

Each class also derives from the builtin exception a Python user would catch for the same
mistake, so ``except ValueError`` or ``except OSError`` works as well as ``except DepthnbError``:

| class | also a | raised when |
|---|---|---|
| :class:`DataError` | ``ValueError`` | a dataset file or folder has the wrong content or layout |
| :class:`ImageError` | ``ValueError`` | a user's image is not an image, or is too large to open |
| :class:`ArchiveError` | ``ValueError`` | a member would land outside its folder, or is a link |
| :class:`DownloadError` | ``OSError`` | a download failed or delivered the wrong bytes |
| :class:`CheckpointError` | ``ValueError`` | a checkpoint is missing, corrupt or not depthnb's |
| :class:`ModelError` | ``ValueError`` | a model name, its arguments or its weights do not fit |
| :class:`ShapeError` | ``ValueError`` | tensors or arrays of the wrong shape or dtype |
| :class:`ArgumentError` | ``ValueError`` | a function's argument is out of range or not a choice |
| :class:`ConfigError` | ``ValueError`` | a setting (flag, config file, environment) is invalid |
| :class:`TrainingError` | ``RuntimeError`` | training diverged (NaN or inf) and was stopped |
| :class:`DeployError` | ``RuntimeError`` | an ONNX export fails or disagrees with PyTorch |
| :class:`MissingPackageError` | ``ImportError`` | an optional package is not installed |
| :class:`ExerciseError` | ``ValueError`` | an exercise id is unknown or an answer can't be run |
"""


class DepthnbError(Exception):
    """Base of every error that depthnb raises on purpose."""


class DataError(DepthnbError, ValueError):
    """A dataset file or folder is missing, truncated, corrupt or not in the expected layout."""


class ImageError(DataError):
    """A user's image cannot be opened: not an image, damaged, or over the pixel limit."""


class ArchiveError(DataError):
    """An archive holds a member that would be written outside its folder, or a link."""


class DownloadError(DepthnbError, OSError):
    """A download failed, was cut off for good, or delivered the wrong bytes."""


class CheckpointError(DepthnbError, ValueError):
    """A checkpoint is missing, corrupt, or was not written by depthnb."""


class ModelError(DepthnbError, ValueError):
    """A model name, its arguments or its weights file do not fit, or a model lacks a part
    (an encoder, a head) that a function needs."""


class ShapeError(DepthnbError, ValueError):
    """Tensors or arrays of the wrong shape, dtype or size were passed to a function."""


class ArgumentError(DepthnbError, ValueError):
    """A library function's argument is out of its range or not one of its choices (a loss's
    weight, a transform's range, a metric's depth range, an alignment's name)."""


class ConfigError(DepthnbError, ValueError):
    """A setting of a run is invalid: a training setting, a command-line flag, a config file's
    entry or an environment variable."""


class TrainingError(DepthnbError, RuntimeError):
    """Training diverged (a NaN or infinite loss or weight) and was stopped."""


class DeployError(DepthnbError, RuntimeError):
    """An ONNX export failed, is invalid, or disagrees with the PyTorch model."""


class MissingPackageError(DepthnbError, ImportError):
    """An optional package (onnx, onnxruntime, transformers, imageio, plotly) is not installed;
    the message says how to install it."""


class ExerciseError(DepthnbError, ValueError):
    """An exercise id is unknown, or an answer cannot be checked (wrong type, time limit)."""
