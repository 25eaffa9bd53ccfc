"""Resumable downloads of the course's datasets, with a check of what arrived.

>>> download_dataset("nyu-labeled")   # doctest: +SKIP
PosixPath('data/nyu/nyu_depth_v2_labeled.mat')

``download_url`` streams into ``<dest>.part`` with a progress bar, resumes an interrupted
transfer with an HTTP Range request (and starts over when the server ignores it), retries with
backoff, checks size and SHA-256 when given, and renames to ``dest`` only when everything fits.
``download_dataset`` fetches a whole entry of :data:`DATASETS` and checks its structure (the
HDF5 keys and shapes, the zip's CSVs, the extracted folders).

This module holds the registry (:data:`DATASETS`) and :func:`download_dataset`; the transfer code
lives in :mod:`depthnb.data.transfer`, whose public names are re-exported here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthnb.data.diode import find_diode_images
from depthnb.data.io import PathLike
from depthnb.data.kitti import check_depth_selection
from depthnb.data.nyu import NYU_LABELED_COUNT, check_labeled_mat, load_splits, read_zip_csv
from depthnb.data.nyu_eigen import check_eigen_test_zip
from depthnb.data.transfer import CHUNK as CHUNK
from depthnb.data.transfer import MIRROR_ENV as MIRROR_ENV
from depthnb.data.transfer import USER_AGENT as USER_AGENT
from depthnb.data.transfer import RemoteFile as RemoteFile
from depthnb.data.transfer import download_url as download_url
from depthnb.data.transfer import fetch_remote as fetch_remote
from depthnb.data.transfer import safe_extract as safe_extract
from depthnb.errors import DataError, DownloadError


@dataclass(frozen=True)
class DatasetSpec:
    """An entry of :data:`DATASETS`.

    ``check(folder)`` raises DataError unless the downloaded (and extracted) files have the
    expected structure, and returns the path a reader takes. ``extract`` names the file of
    ``files`` to unpack into the folder (then deleted), if any.
    """

    name: str
    description: str
    folder: str
    files: tuple[RemoteFile, ...]
    check: Callable[[Path], Path]
    extract: str | None = None


def _check_nyu_labeled(folder: Path) -> Path:
    mat = folder / "nyu_depth_v2_labeled.mat"
    check_labeled_mat(mat, n_images=NYU_LABELED_COUNT, raw_depth=True)
    splits = load_splits(folder / "splits.mat")
    if (len(splits["train"]), len(splits["test"])) != (795, 654):
        raise DataError(
            f"{folder / 'splits.mat'}: has {len(splits['train'])} train and "
            f"{len(splits['test'])} test indices; expected 795 and 654. Delete it and run "
            f"`python -m depthnb download nyu-labeled`."
        )
    return mat


def _check_nyu_zip(folder: Path) -> Path:
    path = folder / "nyu_data.zip"
    for split in ("train", "test"):
        read_zip_csv(path, split)
    return path


def _check_nyu_eigen_test(folder: Path) -> Path:
    return check_eigen_test_zip(folder / "nyu_test.zip")


def _check_diode_val(folder: Path) -> Path:
    for domain in ("indoors", "outdoor"):
        find_diode_images(folder, "val", domain)
    return folder


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="nyu-labeled",
            description="NYU Depth v2 labeled subset: 1449 RGB-D frames (2.8 GB) + official split",
            folder="nyu",
            files=(
                RemoteFile(
                    "http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat",
                    "nyu_depth_v2_labeled.mat",
                ),
                RemoteFile(
                    "http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/splits.mat",
                    "splits.mat",
                ),
            ),
            check=_check_nyu_labeled,
        ),
        DatasetSpec(
            name="nyu-zip",
            description="DenseDepth's nyu_data.zip: 50,688 train + 654 test pairs (4.1 GB)",
            folder="nyu",
            files=(
                RemoteFile(
                    "https://s3-eu-west-1.amazonaws.com/densedepth/nyu_data.zip", "nyu_data.zip"
                ),
            ),
            check=_check_nyu_zip,
        ),
        DatasetSpec(
            name="nyu-eigen-test",
            description="DenseDepth's nyu_test.zip: the 654 Eigen test images as .npy (1.4 GB)",
            folder="nyu",
            files=(
                RemoteFile(
                    "https://s3-eu-west-1.amazonaws.com/densedepth/nyu_test.zip",
                    "nyu_test.zip",
                    approx_size=1_400_000_000,
                ),
            ),
            check=_check_nyu_eigen_test,
        ),
        DatasetSpec(
            name="diode-val",
            description="DIODE validation split, indoors and outdoor (2.6 GB)",
            folder="diode",
            files=(RemoteFile("http://diode-dataset.s3.amazonaws.com/val.tar.gz", "val.tar.gz"),),
            check=_check_diode_val,
            extract="val.tar.gz",
        ),
        DatasetSpec(
            name="kitti-depth-selection",
            description="KITTI depth selection: 1,000 val frames with LiDAR depth + test (2 GB)",
            folder="kitti",
            files=(
                RemoteFile(
                    "https://s3.eu-central-1.amazonaws.com/avg-kitti/data_depth_selection.zip",
                    "data_depth_selection.zip",
                    approx_size=2_000_000_000,
                ),
            ),
            check=check_depth_selection,
            extract="data_depth_selection.zip",
        ),
    )
}
"""The datasets ``python -m depthnb download NAME`` knows, by name."""


def download_dataset(
    name: str, root: PathLike | None = None, progress: bool = True, **download_kw: Any
) -> Path:
    """Download dataset ``name`` of :data:`DATASETS` into ``root/<folder>``; check it; return it.

    The returned path is what the reader takes: the ``.mat`` for "nyu-labeled", the zip for
    "nyu-zip", the folder holding ``val/`` for "diode-val". A dataset already in place and
    complete is not downloaded again. ``root`` defaults to
    :func:`depthnb.notebook.default_data_dir`. ``download_kw`` (retries, timeout, backoff) go to
    :func:`download_url`.

    Raises:
        DownloadError: an unknown name, or a failed transfer.
        DataError: what arrived does not have the expected structure.
    """
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}.")
    spec = DATASETS[name]
    if root is None:
        from depthnb.notebook import default_data_dir

        root = default_data_dir()
    folder = Path(root) / spec.folder
    if spec.extract:
        try:
            return spec.check(folder)
        except DataError:
            pass  # not there yet (or incomplete): download and extract below
    for remote in spec.files:
        fetch_remote(remote, folder / remote.filename, progress=progress, **download_kw)
    if spec.extract:
        archive = folder / spec.extract
        staging = folder / f".extract-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            safe_extract(archive, staging)
            for entry in staging.iterdir():
                if (folder / entry.name).exists():
                    shutil.rmtree(folder / entry.name)
                os.replace(entry, folder / entry.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        result = spec.check(folder)
        archive.unlink()
        return result
    return spec.check(folder)
