"""One call at the top of every lesson: where it runs, how big things should be, where data goes.

>>> cfg = setup(quick=True, verbose=False)   # quick=None (the default) reads DEPTHNB_QUICK
>>> cfg.quick, cfg.device
(True, device(type=...))

Lessons size their work with the configuration: ``cfg.quick`` picks synthetic data and small
sizes; in full mode, :meth:`NotebookConfig.count` gives the number of steps, epochs or images,
which ``DEPTHNB_REHEARSAL=1`` (the CI rehearsal of full mode, offline against fixture files)
cuts to a handful without changing the code path, the models or the image sizes:

>>> cfg.count(3000, rehearsal=2, quick=20)     # full mode 3000, the rehearsal 2, quick mode 20
20
>>> cfg.time_budget(25 * 60)                  # seconds; None in the rehearsal
1500
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from depthnb.utils.device import default_device
from depthnb.utils.paths import (
    COLAB_VM_DATA,
    DATA_ENV,
    default_data_dir,
    in_colab,
    is_quick,
    is_rehearsal,
    mount_drive,
    on_drive,
)
from depthnb.utils.seed import seed_everything

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
        ``full``) under ``DEPTHNB_REHEARSAL=1``, ``quick`` in quick mode (``full`` if not given)."""
        if self.quick:
            return full if quick is None else quick
        return min(full, rehearsal) if self.rehearsal else full

    def time_budget(self, seconds: float) -> float | None:
        """A training time budget in seconds: ``seconds``, or None under ``DEPTHNB_REHEARSAL=1``,
        where a run's length is fixed by its step counts (:meth:`count`), never by the clock."""
        return None if self.rehearsal else seconds


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

    from depthnb.utils.files import atomic_write_text

    path = Path(path)
    if not on_drive(path):
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

    from depthnb.course.budgets import cpu_warning

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
    kept = on_drive(data_dir)
    lines = [
        f"depthnb: downloads and caches go to {data_dir}/<dataset>, runs and checkpoints to "
        f"{data_dir}/runs; Hugging Face files to its own cache (HF_HOME, on the VM)",
    ]
    if kept:
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
            lesson's expected time (:func:`depthnb.course.budgets.cpu_warning`).

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
