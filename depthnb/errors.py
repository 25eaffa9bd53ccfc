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
| :class:`ModelError` | ``ValueError`` | a model name or its arguments do not fit |
| :class:`ShapeError` | ``ValueError`` | tensors or arrays of the wrong shape or dtype |
| :class:`ConfigError` | ``ValueError`` | a setting (command line, config, argument) is invalid |
| :class:`TrainingError` | ``RuntimeError`` | training diverged (NaN or inf) and was stopped |
| :class:`DeployError` | ``RuntimeError`` | an ONNX package is missing or an export fails |
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
    """A model name or its arguments do not fit."""


class ShapeError(DepthnbError, ValueError):
    """Tensors or arrays of the wrong shape, dtype or size were passed to a function."""


class ConfigError(DepthnbError, ValueError):
    """A training or command-line setting is invalid."""


class TrainingError(DepthnbError, RuntimeError):
    """Training diverged (a NaN or infinite loss or weight) and was stopped."""


class DeployError(DepthnbError, RuntimeError):
    """An optional deployment package (onnx, onnxruntime) is missing, or an export failed."""


class ExerciseError(DepthnbError, ValueError):
    """An exercise id is unknown, or an answer cannot be checked (wrong type, time limit)."""
