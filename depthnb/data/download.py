"""Resumable downloads of the course's datasets, with a check of what arrived.

``download_dataset("nyu-labeled")`` (``python -m depthnb download nyu-labeled`` in a shell)
fetches NYU Depth v2's labeled subset into ``<data dir>/nyu/`` and returns the file's path.

``download_url`` streams into ``<dest>.part`` with a progress bar, resumes an interrupted
transfer with an HTTP Range request whose If-Range carries the ETag (or Last-Modified) the server
first sent (and starts over when the file changed, or the server ignores Range), retries with
backoff, gives up on a server that trickles bytes, checks size and SHA-256 when given, and renames
to ``dest`` only when the file provably arrived whole: all of its announced length, or, without
one, a size, SHA-256 or the file's format check (:data:`FILE_CHECKS`) that says so.
``download_dataset`` fetches a whole entry of :data:`DATASETS` and checks its structure (the
HDF5 keys and shapes, the zip's CSVs, the extracted folders).

This module holds the registry (:data:`DATASETS`) and :func:`download_dataset`. Each file lists
every source known to serve it (the original, then documented mirrors, each cited where it is
documented) and its size; :func:`~depthnb.hub.sources.fetch_remote` tries them in order
(``$DEPTHNB_MIRROR`` first) and explains how to put the file in place by hand when all fail. The
transfer code lives in :mod:`depthnb.hub.transfer` and :mod:`depthnb.hub.sources`, whose public
names are re-exported here.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthnb.data.diode import find_diode_images
from depthnb.data.kitti import check_depth_selection
from depthnb.data.nyu import (
    NYU_LABELED_COUNT,
    NYUDepthZip,
    check_labeled_mat,
    load_splits,
    read_zip_csv,
)
from depthnb.data.nyu_eigen import check_eigen_test_zip
from depthnb.errors import ArchiveError, DataError, DownloadError
from depthnb.hub.extract import safe_extract as safe_extract
from depthnb.hub.sources import MIRROR_ENV as MIRROR_ENV
from depthnb.hub.sources import RemoteFile as RemoteFile
from depthnb.hub.sources import fetch_remote as fetch_remote
from depthnb.hub.transfer import CHUNK as CHUNK
from depthnb.hub.transfer import USER_AGENT as USER_AGENT
from depthnb.hub.transfer import download_url as download_url
from depthnb.utils.files import PathLike


@dataclass(frozen=True)
class DatasetSpec:
    """An entry of :data:`DATASETS`.

    ``check(folder)`` raises DataError unless the downloaded (and extracted) files have the
    expected structure, and returns the path a reader takes. ``extract`` names the file of
    ``files`` to unpack into the folder (then deleted), if any. ``licence`` is the terms the data
    comes under, as its authors state them (``python -m depthnb download --list`` prints it).
    """

    name: str
    description: str
    folder: str
    files: tuple[RemoteFile, ...]
    check: Callable[[Path], Path]
    extract: str | None = None
    licence: str = ""


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


def check_nyu_zip(path: Path) -> Path:
    """DenseDepth's ``nyu_data.zip``: both CSVs list images the zip holds, and the first pair
    of each split decodes (a zip of no images, or of empty members, is refused)."""
    for split in ("train", "test"):
        read_zip_csv(path, split)
        NYUDepthZip(path, split=split)[0]
    return path


def _check_nyu_zip(folder: Path) -> Path:
    return check_nyu_zip(folder / "nyu_data.zip")


def _check_nyu_eigen_test(folder: Path) -> Path:
    return check_eigen_test_zip(folder / "nyu_test.zip")


def _check_diode_val(folder: Path) -> Path:
    for domain in ("indoors", "outdoor"):
        find_diode_images(folder, "val", domain)
    return folder


def check_archive(path: Path) -> Path:
    """A zip whose central directory (at its end) lists a member, or a tar (any compression)
    whose first member header reads: the cheap proof that an archive arrived whole enough to
    extract (extracting reads the rest, and refuses what is cut short)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                found = bool(archive.namelist())
        else:
            with tarfile.open(path) as archive:
                found = archive.next() is not None
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise DataError(f"{path}: not a readable zip or tar archive ({error}).") from error
    if not found:
        raise DataError(f"{path}: the archive holds no files.")
    return path


FILE_CHECKS: dict[str, Callable[[Path], Any]] = {
    "nyu_depth_v2_labeled.mat": lambda path: check_labeled_mat(
        path, n_images=NYU_LABELED_COUNT, raw_depth=True
    ),
    "splits.mat": load_splits,
    "nyu_data.zip": check_nyu_zip,
    "nyu_test.zip": check_eigen_test_zip,
    "val.tar.gz": check_archive,
    "data_depth_selection.zip": check_archive,
}
"""The format check of each registry file by name: what judges a transfer whose server did not
announce its length (:func:`~depthnb.hub.transfer.download_url`'s ``proof``)."""


# Where each file can be had. Every URL is cited where it is documented; sizes are exact where a
# byte count is documented, else ``approx_size`` with the figure's source. No sha256 is pinned:
# a class mirror or the CI rehearsal serves stand-ins in the real formats, judged by the checks.

# NYU Depth v2, labeled subset. The dataset page (https://cs.nyu.edu/~silberman/datasets/
# nyu_depth_v2.html) links the http URL, whose host has been reported refusing connections
# (docs/notes.md). The https URL, same host, is what several public download scripts use.
# 2,972,037,809 bytes: the byte count those scripts check. The Kaggle copy needs a Kaggle login:
# a page for a browser, not a source.
_NYU_LABELED = RemoteFile(
    "http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat",
    "nyu_depth_v2_labeled.mat",
    size=2_972_037_809,
    mirrors=("https://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat",),
    pages=(
        "https://cs.nyu.edu/~silberman/datasets/nyu_depth_v2.html",
        "https://www.kaggle.com/datasets/rmzhang0526/nyu-depth-v2-labeled",
    ),
)
# The official split, linked from the same page's host; ankurhanda/nyuv2-meta-data commits a copy
# (master, 2017), identical: 2,626 bytes, SHA-256 6e081404...80cee for both.
_NYU_SPLITS = RemoteFile(
    "http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/splits.mat",
    "splits.mat",
    size=2_626,
    mirrors=(
        "https://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/splits.mat",
        "https://raw.githubusercontent.com/ankurhanda/nyuv2-meta-data/master/splits.mat",
    ),
)
# DenseDepth's training archive: the S3 URL and https://tinyurl.com/nyu-data-zip, each linked by
# ialhashim/DenseDepth's README, and the Google Drive copy its author posted (docs/notes.md).
# "4.1 GB" is the README's figure.
_NYU_ZIP = RemoteFile(
    "https://s3-eu-west-1.amazonaws.com/densedepth/nyu_data.zip",
    "nyu_data.zip",
    approx_size=4_100_000_000,
    mirrors=(
        "https://tinyurl.com/nyu-data-zip",
        "https://drive.google.com/file/d/1fdFu5NGXe4rTLYKD5wOqk9dl-eJOefXo/view?usp=drivesdk",
    ),
)
# DenseDepth's Eigen test archive: the README's S3 link is the only one its authors give (it has
# been reported failing: docs/notes.md). "1.4 GB" is the README's figure.
_NYU_EIGEN_TEST = RemoteFile(
    "https://s3-eu-west-1.amazonaws.com/densedepth/nyu_test.zip",
    "nyu_test.zip",
    approx_size=1_400_000_000,
)
# DIODE's validation split: diode-dataset/diode-devkit's README links the S3 URL (and a Baidu
# share, for a browser), MD5 5c895d09201b88973c8fe4552a67dd85. The bucket also answers over
# https. 2,774,625,282 bytes: the total Keras's get_file printed for it in keras-team/keras-io
# examples/vision/md/depth_estimation.md.
_DIODE_VAL = RemoteFile(
    "http://diode-dataset.s3.amazonaws.com/val.tar.gz",
    "val.tar.gz",
    size=2_774_625_282,
    mirrors=("https://diode-dataset.s3.amazonaws.com/val.tar.gz",),
    pages=("https://pan.baidu.com/s/18IoX7f9W3F7acP0hjl7NSA",),
)

# NYU Depth v2's page states no licence; its data is offered for research, citing Silberman et
# al. (ECCV 2012). DenseDepth's README states none for its two archives either.
_NYU_TERMS = "none stated: research use, cite Silberman et al. 2012"

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="nyu-labeled",
            description="NYU Depth v2 labeled subset: 1449 RGB-D frames (2.8 GB) + official split",
            folder="nyu",
            files=(_NYU_LABELED, _NYU_SPLITS),
            check=_check_nyu_labeled,
            licence=_NYU_TERMS,
        ),
        DatasetSpec(
            name="nyu-zip",
            description="DenseDepth's nyu_data.zip: 50,688 train + 654 test pairs (4.1 GB)",
            folder="nyu",
            files=(_NYU_ZIP,),
            check=_check_nyu_zip,
            licence="as NYU Depth v2, which it converts",
        ),
        DatasetSpec(
            name="nyu-eigen-test",
            description="DenseDepth's nyu_test.zip: the 654 Eigen test images as .npy (1.4 GB)",
            folder="nyu",
            files=(_NYU_EIGEN_TEST,),
            check=_check_nyu_eigen_test,
            licence="as NYU Depth v2, which it converts",
        ),
        DatasetSpec(
            name="diode-val",
            description="DIODE validation split, indoors and outdoor (2.6 GB)",
            folder="diode",
            files=(_DIODE_VAL,),
            check=_check_diode_val,
            extract="val.tar.gz",
            licence="MIT (diode-dataset/diode-devkit's LICENSE)",
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
            licence="CC BY-NC-SA 3.0: non-commercial use only (KITTI's pages)",
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
    :func:`depthnb.utils.paths.default_data_dir`. ``download_kw`` (retries, timeout, backoff) go to
    :func:`download_url`.

    Raises:
        DownloadError: an unknown name, or a failed transfer.
        DataError: what arrived does not have the expected structure.
    """
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}.")
    spec = DATASETS[name]
    if root is None:
        from depthnb.utils.paths import default_data_dir

        root = default_data_dir()
    folder = Path(root) / spec.folder
    if spec.extract:
        try:
            return spec.check(folder)
        except DataError:
            pass  # not there yet (or incomplete): download and extract below
    for remote in spec.files:
        relative = f"{spec.folder}/{remote.filename}"
        fetch_remote(
            remote,
            folder / remote.filename,
            progress=progress,
            relative=relative,
            **{"proof": FILE_CHECKS[remote.filename], **download_kw},
        )
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
        except ArchiveError as error:
            archive.unlink(missing_ok=True)  # refused once, refused again: fetch it anew
            raise ArchiveError(f"{error} ({archive.name} was deleted.)") from error
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        result = spec.check(folder)
        archive.unlink()
        return result
    return spec.check(folder)
