"""Where things go and how big they are: the data folder (``DEPTHNB_DATA``, Colab's Drive, the
repository's ``data/``), quick mode (``DEPTHNB_QUICK``) and the rehearsal (``DEPTHNB_REHEARSAL``).

Read by the downloaders (:mod:`depthnb.data.download`, :mod:`depthnb.models.pretrained`) and the
lessons' setup (:mod:`depthnb.course.notebook`) alike, so none of them imports another for a path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

QUICK_ENV = "DEPTHNB_QUICK"


REHEARSAL_ENV = "DEPTHNB_REHEARSAL"
"""``DEPTHNB_REHEARSAL=1``: full mode with only the step, epoch and image counts cut (CI)."""


DATA_ENV = "DEPTHNB_DATA"


DRIVE_MOUNT = Path("/content/drive")
"""Where Colab mounts Google Drive; the course keeps its data, caches and runs in
``<mount>/MyDrive/depthnb_data``, so that they outlive the VM."""


COLAB_VM_DATA = Path("/content/data")
"""The data folder on Colab's VM when Drive is not used (lost when the VM is recycled)."""


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def is_quick() -> bool:
    """True when ``DEPTHNB_QUICK`` is set to a true value (1, true, yes)."""
    return _env_true(QUICK_ENV)


def is_rehearsal() -> bool:
    """True when ``DEPTHNB_REHEARSAL`` is set to a true value (1, true, yes)."""
    return _env_true(REHEARSAL_ENV)


def drive_data_dir() -> Path:
    """The course's folder on Google Drive: ``<DRIVE_MOUNT>/MyDrive/depthnb_data``."""
    return DRIVE_MOUNT / "MyDrive" / "depthnb_data"


def drive_mounted() -> bool:
    """True when Google Drive is mounted (Colab's ``drive.mount``): ``MyDrive`` is there."""
    return drive_data_dir().parent.is_dir()


def default_data_dir(colab: bool | None = None) -> Path:
    """``$DEPTHNB_DATA`` if set; in Colab, the course's folder on Drive when Drive is mounted
    (:func:`drive_data_dir`), else :data:`COLAB_VM_DATA` (lost when the VM goes); elsewhere the
    repository's ``data/`` folder, or ``~/depthnb_data`` outside a checkout.
    """
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    if in_colab() if colab is None else colab:
        return drive_data_dir() if drive_mounted() else COLAB_VM_DATA
    repo_data = Path(__file__).resolve().parents[2] / "data"
    if repo_data.is_dir():
        return repo_data
    return Path.home() / "depthnb_data"


def mount_drive() -> Path:
    """Mount Google Drive in Colab (asks for permission once); return the course's folder on it.

    Raises:
        ConfigError: not in Colab, or the mount failed.
    """
    from depthnb.errors import ConfigError

    mount = DRIVE_MOUNT
    if not drive_mounted():
        try:
            from google.colab import drive
        except ImportError as error:
            raise ConfigError(
                "Google Drive can only be mounted inside Colab; elsewhere set DEPTHNB_DATA to a "
                "folder that persists"
            ) from error
        drive.mount(str(mount))
    if not drive_mounted():
        raise ConfigError(f"Google Drive did not appear at {mount}; run the setup cell again")
    return drive_data_dir()


def on_drive(path: str | Path) -> bool:
    """True when ``path`` lies under the Google Drive mount (:data:`DRIVE_MOUNT`)."""
    return Path(path).resolve().is_relative_to(DRIVE_MOUNT.resolve())
