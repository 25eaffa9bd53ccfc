"""The exceptions depthnb raises: one family, so callers can catch ``DepthnbError``.

Every message says what was wrong, where (a file, a key, a shape) and what to do about it.
"""


class DepthnbError(Exception):
    """Base of every error that depthnb raises on purpose."""


class DataError(DepthnbError):
    """A dataset file or folder is missing, truncated, corrupt or not in the expected layout."""


class DownloadError(DepthnbError):
    """A download failed, was cut off for good, or delivered the wrong bytes."""


class CheckpointError(DepthnbError):
    """A checkpoint is missing, corrupt, or was not written by depthnb."""


class ModelError(DepthnbError):
    """A model name, its arguments or its input do not fit."""


class ConfigError(DepthnbError):
    """A training or command-line setting is invalid."""
