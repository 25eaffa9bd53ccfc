"""One call at the top of every lesson: where it runs, how big things should be, where data goes.

>>> cfg = setup()          # doctest: +SKIP
>>> cfg.quick, cfg.device  # doctest: +SKIP
(True, device(type='cpu'))

Lessons size their work with the configuration: ``cfg.quick`` picks synthetic data and small
sizes; in full mode, :meth:`NotebookConfig.count` gives the number of steps, epochs or images,
which ``DEPTHNB_REHEARSAL=1`` (the CI rehearsal of full mode, offline against fixture files)
cuts to a handful without changing the code path, the models or the image sizes:

>>> steps = cfg.count(3000, rehearsal=2)           # doctest: +SKIP
>>> budget = cfg.time_budget(25 * 60)   # seconds; None in the rehearsal  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from depthnb.runtime import default_device, seed_everything

QUICK_ENV = "DEPTHNB_QUICK"
REHEARSAL_ENV = "DEPTHNB_REHEARSAL"
"""``DEPTHNB_REHEARSAL=1``: full mode with only the step, epoch and image counts cut (CI)."""
DATA_ENV = "DEPTHNB_DATA"
DRIVE_MOUNT = Path("/content/drive")
"""Where Colab mounts Google Drive; the course keeps its data, caches and runs in
``<mount>/MyDrive/depthnb_data``, so that they outlive the VM."""
COLAB_VM_DATA = Path("/content/data")
"""The data folder on Colab's VM when Drive is not used (lost when the VM is recycled)."""
COLAB_VM_LOCAL = Path("/content/depthnb_local")
"""Copies of Drive files that training reads many times (:func:`local_copy`), on the VM's disk."""


@dataclass(frozen=True)
class NotebookConfig:
    """What a lesson needs to know about where it runs.

    Attributes:
        device: ``cuda`` when a GPU is visible, else ``mps`` on Apple silicon, else ``cpu``.
        quick: True when ``DEPTHNB_QUICK=1`` (the test suite, a CPU laptop): synthetic data, small
            sizes, few steps. False is full mode: the real dataset at the paper's sizes.
        data_dir: where downloads and caches go (created if missing).
        in_colab: True inside Google Colab.
        seed: the seed given to ``random``, NumPy and torch.
        rehearsal: True when ``DEPTHNB_REHEARSAL=1`` in full mode: everything as in full mode
            (the real file formats, models, image sizes and code paths) except the counts that
            :meth:`count` and :meth:`time_budget` give, cut so that CI can run every lesson.
    """

    device: torch.device
    quick: bool
    data_dir: Path
    in_colab: bool
    seed: int
    rehearsal: bool = False

    def count(self, full: int, rehearsal: int, quick: int | None = None) -> int:
        """A number of steps, epochs or images: ``full`` in full mode, ``rehearsal`` (at most
        ``full``) under ``DEPTHNB_REHEARSAL=1``, ``quick`` in quick mode (``full`` if not given).

        >>> cfg.count(200, rehearsal=4)    # doctest: +SKIP
        200
        """
        if self.quick:
            return full if quick is None else quick
        return min(full, rehearsal) if self.rehearsal else full

    def time_budget(self, seconds: float) -> float | None:
        """A training time budget in seconds: ``seconds``, or None under ``DEPTHNB_REHEARSAL=1``,
        where a run's length is fixed by its step counts (:meth:`count`), never by the clock."""
        return None if self.rehearsal else seconds


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


def default_data_dir(colab: bool | None = None) -> Path:
    """``$DEPTHNB_DATA`` if set; in Colab, the course's folder on Drive when Drive is mounted
    (:func:`drive_data_dir`), else :data:`COLAB_VM_DATA` (lost when the VM goes); elsewhere the
    repository's ``data/`` folder, or ``~/depthnb_data`` outside a checkout.
    """
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    if in_colab() if colab is None else colab:
        return drive_data_dir() if drive_mounted() else COLAB_VM_DATA
    repo_data = Path(__file__).resolve().parent.parent / "data"
    if repo_data.is_dir():
        return repo_data
    return Path.home() / "depthnb_data"


def choose_data_dir(colab: bool, quick: bool, drive: bool | None) -> Path:
    """Where a lesson keeps its downloads, caches and runs (see :func:`setup`'s ``drive``).

    ``$DEPTHNB_DATA`` wins. In Colab: ``drive=False`` keeps everything on the VM
    (:data:`COLAB_VM_DATA`); ``drive=True``, or ``None`` in full mode, mounts Google Drive
    (:func:`mount_drive`); ``None`` in quick mode, which downloads nothing, uses Drive only when
    it is mounted already. Elsewhere :func:`default_data_dir`.
    """
    if os.environ.get(DATA_ENV) or not colab:
        return default_data_dir(colab)
    if drive is False:
        return COLAB_VM_DATA
    if drive or not quick:
        return mount_drive()
    return default_data_dir(colab)


def local_copy(path: Path, folder: Path = COLAB_VM_LOCAL) -> Path:
    """``path`` copied to the VM's own disk when it lies on Google Drive; else ``path`` itself.

    Training reads an archive many times (every epoch, in random order); Drive serves each read
    over the network, the VM's disk at local speed. The copy (in ``folder``, lost with the VM)
    records the source's size and modification time beside it and is made again when they differ.
    Its size is in the lesson's disk budget.

    Args:
        path: the file, e.g. ``cfg.data_dir / "nyu" / "nyu_data.zip"``.
        folder: where copies go (:data:`COLAB_VM_LOCAL`).

    Returns:
        The path to read from.
    """
    import json
    import shutil

    from depthnb.files import atomic_write_text

    path = Path(path)
    if not path.resolve().is_relative_to(DRIVE_MOUNT.resolve()):
        return path
    source = path.stat()
    stamp = {"source": str(path), "size": source.st_size, "mtime_ns": source.st_mtime_ns}
    copy, record = folder / path.name, folder / f"{path.name}.source.json"
    if copy.is_file() and record.is_file() and json.loads(record.read_text()) == stamp:
        return copy
    folder.mkdir(parents=True, exist_ok=True)
    print(f"depthnb: copying {path.name} ({source.st_size / 1e9:.1f} GB) from Drive to {folder}")
    partial = copy.with_name(copy.name + ".part")
    shutil.copyfile(path, partial)
    partial.replace(copy)
    atomic_write_text(record, json.dumps(stamp))
    return copy


def warn_without_gpu(lesson: str) -> None:
    """Warn that ``lesson``'s full mode needs a GPU (a UserWarning naming the expected time)."""
    import warnings

    from depthnb.budgets import cpu_warning

    message = cpu_warning(lesson)
    if message is not None:
        warnings.warn(message, UserWarning, stacklevel=3)


def plot_defaults() -> None:
    """The course's matplotlib style: readable sizes, the plasma colour map, no top/right spines."""
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.figsize": (8.0, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 120,
            "savefig.bbox": "tight",
            "image.cmap": "plasma",
            "image.interpolation": "nearest",
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
        }
    )


def where_things_go(data_dir: Path) -> str:
    """What :func:`setup` prints in Colab: where downloads, caches and runs go, and whether they
    outlive the VM."""
    on_drive = Path(data_dir).resolve().is_relative_to(DRIVE_MOUNT.resolve())
    lines = [
        f"depthnb: downloads and caches go to {data_dir}/<dataset>, runs and checkpoints to "
        f"{data_dir}/runs; Hugging Face files to its own cache (HF_HOME, on the VM)",
    ]
    if on_drive:
        lines.append(
            f"depthnb: {data_dir} is on Google Drive: it outlives the VM; archives that training "
            f"reads many times are copied to {COLAB_VM_LOCAL} on the VM first"
        )
    else:
        lines.append(
            "depthnb: data and runs are on this Colab VM and vanish with it; "
            "setup(drive=True) keeps them on Google Drive"
        )
    return "\n".join(lines)


def setup(
    seed: int = 0,
    quick: bool | None = None,
    verbose: bool = True,
    drive: bool | None = None,
    lesson: str | None = None,
) -> NotebookConfig:
    """Detect Colab, the GPU and quick mode; seed everything; set plot defaults; make data_dir.

    Args:
        seed: seed for ``random``, NumPy and torch.
        quick: force quick mode on or off; ``None`` reads ``DEPTHNB_QUICK``. Quick mode wins
            over ``DEPTHNB_REHEARSAL`` (a rehearsal is of full mode).
        verbose: print a one-line summary.
        drive: in Colab, keep data, caches and runs on Google Drive, so that they outlive the VM.
            ``None`` (the default) mounts Drive in full mode (Colab asks for permission once) and,
            in quick mode (which downloads nothing), uses it only if it is mounted already; True
            always mounts it; False never does (everything is lost when the VM is recycled).
        lesson: the lesson's number ("04"); in full mode without a GPU, setup warns with that
            lesson's expected time (:func:`depthnb.budgets.cpu_warning`).

    Returns:
        A :class:`NotebookConfig` with ``device``, ``quick``, ``data_dir``, ``in_colab``, ``seed``
        and ``rehearsal``.
    """
    colab = in_colab()
    quick = is_quick() if quick is None else quick
    data_dir = choose_data_dir(colab, quick, drive)
    config = NotebookConfig(
        device=default_device(),
        quick=quick,
        data_dir=data_dir,
        in_colab=colab,
        seed=seed,
        rehearsal=is_rehearsal() and not quick,
    )
    config.data_dir.mkdir(parents=True, exist_ok=True)
    if lesson is not None and not config.quick and config.device.type != "cuda":
        warn_without_gpu(lesson)
    seed_everything(seed)
    plot_defaults()
    if verbose:
        mode = "quick (synthetic data, small sizes)" if config.quick else "full"
        if config.rehearsal:
            mode += " (rehearsal: step, epoch and image counts cut)"
        gpu = f" ({torch.cuda.get_device_name(0)})" if config.device.type == "cuda" else ""
        print(
            f"depthnb: device {config.device}{gpu}, mode {mode}, data in {config.data_dir}"
            f"{', Colab' if colab else ''}"
        )
        if colab:
            print(where_things_go(data_dir))
    return config
