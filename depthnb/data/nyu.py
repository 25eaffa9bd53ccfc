"""NYU Depth v2 readers: the official labeled ``.mat`` and DenseDepth's ``nyu_data.zip``.

Both read their file in place and lazily: each process (each DataLoader worker) opens its own
handle on its first ``__getitem__``, and only the requested image is decoded.

``NYUv2Labeled("data/nyu/nyu_depth_v2_labeled.mat", split="test")`` holds the 654 test images of
the official split, each ``image`` (3,480,640) and ``depth`` (1,480,640).
"""

from __future__ import annotations

import csv
import functools
import io
import zipfile
from pathlib import Path

import h5py
import numpy as np
import scipy.io
import torch
from torch.utils.data import Dataset

from depthnb.data.io import (
    NUMERIC_KINDS,
    ZIP_ERRORS,
    PerProcessHandle,
    Transform,
    check_same_size,
    make_sample,
    read_depth_png,
    read_member,
    read_rgb,
)
from depthnb.errors import DataError
from depthnb.geometry import NYU_INTRINSICS, NYU_SIZE, scale_intrinsics
from depthnb.utils.files import PathLike

NYU_LABELED_COUNT = 1449
"""Number of images in ``nyu_depth_v2_labeled.mat``."""

MAX_FRAMES = 1_000_000
"""The most frames a labeled file may declare (the real one holds 1449)."""

MAX_FRAME_PIXELS = 1 << 24
"""The most pixels (W*H) a labeled file's frame may declare (the real one's are 640*480)."""

H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError)
"""What h5py raises on a damaged file: OSError (unreadable), RuntimeError (a broken link or
B-tree), KeyError (a missing object), ValueError / TypeError (a dtype it cannot convert)."""

LABELED_HINT = "Delete it and run `python -m depthnb download nyu-labeled`."
ZIP_HINT = "Delete it and run `python -m depthnb download nyu-zip`."


def _require_file(path: Path, what: str, dataset: str) -> None:
    if not path.is_file():
        raise DataError(f"{path}: {what} not found. Run `python -m depthnb download {dataset}`.")


def check_labeled_mat(path: PathLike, n_images: int | None = None, raw_depth: bool = False) -> int:
    """Check that ``path`` is the labeled NYU ``.mat`` (MATLAB v7.3 = HDF5); return its image count.

    Expects the datasets ``images`` uint8 (N,3,W,H) and ``depths`` (N,W,H) (MATLAB's axes
    reversed, as h5py shows them), plus ``rawDepths`` (N,W,H) when ``raw_depth``. With
    ``n_images`` given (1449 for the real file), N must equal it and (W,H) must be (640,480).

    Raises:
        DataError: the file is missing, not HDF5 (truncated, corrupt, or MATLAB v5), lacks a key,
            or has the wrong shapes; the message names the file and what was expected.
    """
    path = Path(path)
    _require_file(path, "NYU labeled .mat", "nyu-labeled")
    keys = ["images", "depths"] + (["rawDepths"] if raw_depth else [])
    try:
        with h5py.File(path, "r") as f:
            for key in keys:
                if not isinstance(f.get(key), h5py.Dataset):
                    raise DataError(
                        f"{path}: has no {key!r} dataset (found {sorted(f.keys())}); expected the "
                        f"labeled NYU Depth v2 file. The download was probably cut short. "
                        f"{LABELED_HINT}"
                    )
            datasets = {key: (f[key].shape, f[key].dtype) for key in keys}
    except DataError:
        raise
    except H5_ERRORS as error:
        raise DataError(
            f"{path}: cannot be opened as HDF5 (MATLAB v7.3) ({type(error).__name__}: {error}); "
            f"the file is truncated or corrupt. {LABELED_HINT}"
        ) from error
    images = _check_labeled_datasets(path, datasets)
    if n_images is not None and images != (n_images, 3, NYU_SIZE[1], NYU_SIZE[0]):
        raise DataError(
            f"{path}: 'images' has shape {images}; expected ({n_images}, 3, 640, 480). "
            f"{LABELED_HINT}"
        )
    return images[0]


def _check_labeled_datasets(
    path: Path, datasets: dict[str, tuple[tuple[int, ...], np.dtype]]
) -> tuple[int, ...]:
    """Check the (shape, dtype) of ``images`` and the depth datasets; return images' shape.

    Shapes are checked against bounds before anything is read, so a file declaring 10^12 frames
    or frames of 10^12 pixels is refused, not allocated."""
    images, dtype = datasets.pop("images")
    if len(images) != 4 or images[1] != 3 or images[0] == 0:
        raise DataError(
            f"{path}: 'images' has shape {images}; expected (N,3,W,H) with N >= 1, "
            f"(1449,3,640,480) in the real file. {LABELED_HINT}"
        )
    if dtype != np.uint8:
        raise DataError(f"{path}: 'images' holds {dtype}; expected uint8 RGB. {LABELED_HINT}")
    n, _, width, height = images
    if n > MAX_FRAMES or width * height > MAX_FRAME_PIXELS:
        raise DataError(
            f"{path}: 'images' declares {n} frames of {width}x{height} pixels; the file is "
            f"damaged (the real one holds 1449 of 640x480). {LABELED_HINT}"
        )
    for key, (shape, dtype) in datasets.items():
        if shape != (n, width, height):
            raise DataError(
                f"{path}: {key!r} has shape {shape}; expected {(n, width, height)} "
                f"to match 'images' {images}. {LABELED_HINT}"
            )
        if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None:
            raise DataError(f"{path}: {key!r} holds {dtype}; expected metres. {LABELED_HINT}")
    return tuple(images)


def load_splits(path: PathLike) -> dict[str, np.ndarray]:
    """Read the official split ``splits.mat`` (MATLAB v5) -> {"train": idx, "test": idx}, 0-based.

    The file stores ``trainNdxs`` (795) and ``testNdxs`` (654) as MATLAB's 1-based indices into
    the labeled file; this returns them minus one, as int64 arrays.

    Raises:
        DataError: the file is missing, unreadable, or lacks either key.
    """
    path = Path(path)
    _require_file(path, "NYU splits.mat", "nyu-labeled")
    try:
        mat = scipy.io.loadmat(path)
    except Exception as error:  # scipy raises MatReadError, ValueError, IndexError... on bad files
        raise DataError(
            f"{path}: cannot be read as a MATLAB v5 .mat ({error}); expected NYU's splits.mat. "
            f"{LABELED_HINT}"
        ) from error
    splits = {}
    for split, key in (("train", "trainNdxs"), ("test", "testNdxs")):
        if key not in mat:
            raise DataError(
                f"{path}: has no {key!r}; expected NYU's splits.mat with 'trainNdxs' and "
                f"'testNdxs'. {LABELED_HINT}"
            )
        splits[split] = _split_indices(path, key, mat[key])
    return splits


def _split_indices(path: Path, key: str, value: object) -> np.ndarray:
    """MATLAB's 1-based indices -> int64 0-based, refusing anything but whole numbers >= 1."""
    values = np.asarray(value)
    if values.dtype.kind not in "iuf" or values.size == 0:
        raise DataError(
            f"{path}: {key!r} holds {values.dtype} {values.shape}; expected a column of image "
            f"numbers (1-based). {LABELED_HINT}"
        )
    values = values.reshape(-1)
    if not (np.isfinite(values).all() and (values == np.round(values)).all() and values.min() >= 1):
        raise DataError(
            f"{path}: {key!r} holds values that are not image numbers (whole, 1-based) between "
            f"{values.min()} and {values.max()}. {LABELED_HINT}"
        )
    return values.astype(np.int64) - 1


class NYUv2Labeled(Dataset):
    """The 1449 densely labeled NYU Depth v2 frames, read lazily from ``nyu_depth_v2_labeled.mat``.

    Args:
        path: the ``.mat`` file (MATLAB v7.3, i.e. HDF5, about 2.8 GB).
        split: ``"train"`` (795 images), ``"test"`` (654, the test set of nearly every NYU paper)
            or ``"all"`` (1449), the official split of ``splits.mat``.
        splits_path: ``splits.mat``; by default the one next to ``path``. Not needed for "all".
        raw_depth: use ``rawDepths`` (the sensor's depth with holes, 0 = no reading) instead of
            ``depths`` (holes in-painted).
        transform: applied to each sample.

    Each sample: ``image`` float32 (3,480,640) in [0,1], ``depth`` float32 (1,480,640) metres,
    ``valid`` bool (1,480,640) (depth > 0), ``intrinsics`` = :data:`NYU_INTRINSICS`.

    The file shows MATLAB's arrays with their axes reversed: ``images`` is (N,3,640,480), so
    image i upright is ``images[i].transpose(2, 1, 0)`` -> (480,640,3), and depth i is
    ``depths[i].T`` -> (480,640).
    """

    def __init__(
        self,
        path: PathLike,
        split: str = "train",
        splits_path: PathLike | None = None,
        raw_depth: bool = False,
        transform: Transform | None = None,
    ) -> None:
        if split not in ("train", "test", "all"):
            raise DataError(f"NYUv2Labeled: split {split!r} unknown; use 'train', 'test' or 'all'.")
        self.path = Path(path)
        self.split = split
        self.raw_depth = raw_depth
        self.transform = transform
        n = check_labeled_mat(self.path, raw_depth=raw_depth)
        if split == "all":
            self.indices = np.arange(n)
        else:
            splits_file = Path(splits_path) if splits_path else self.path.with_name("splits.mat")
            if not splits_file.is_file():
                raise DataError(
                    f"{splits_file}: the official split file is missing (needed for split="
                    f"{split!r}). Run `python -m depthnb download nyu-labeled`, or pass "
                    f"splits_path=, or use split='all'."
                )
            splits = load_splits(splits_file)
            for name, indices in splits.items():  # both: a wrong file is wrong whatever is read
                if indices.min() < 0 or indices.max() >= n:
                    raise DataError(
                        f"{splits_file}: {name} indices span {indices.min() + 1}.."
                        f"{indices.max() + 1} (1-based) but {self.path} holds {n} images; "
                        f"the two files do not belong together. {LABELED_HINT}"
                    )
            self.indices = splits[split]
        self._file = PerProcessHandle(functools.partial(h5py.File, self.path, "r"))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        index = int(self.indices[item])
        key = "rawDepths" if self.raw_depth else "depths"
        try:
            f = self._file.get()
            image = np.asarray(f["images"][index]).transpose(2, 1, 0)
            depth = np.asarray(f[key][index], dtype=np.float32).T
        except H5_ERRORS as error:
            raise DataError(
                f"{self.path}: reading image {index} failed ({type(error).__name__}: {error}); "
                f"the file is truncated or corrupt. {LABELED_HINT}"
            ) from error
        valid = np.isfinite(depth) & (depth > 0)
        size = (int(image.shape[0]), int(image.shape[1]))
        intrinsics = scale_intrinsics(NYU_INTRINSICS, NYU_SIZE, size)
        sample = make_sample(image, depth, valid, intrinsics)
        return self.transform(sample) if self.transform else sample


def _zip_error(path: Path, error: Exception) -> DataError:
    return DataError(
        f"{path}: cannot be read as a zip ({error}); the file is truncated or corrupt. {ZIP_HINT}"
    )


def read_zip_csv(path: PathLike, split: str) -> list[tuple[str, str]]:
    """The (rgb_path, depth_path) rows of ``data/nyu2_{split}.csv`` inside DenseDepth's zip.

    Blank lines (the real files end with one) and surrounding whitespace are skipped; every path
    must name a member of the zip.

    Raises:
        DataError: the zip is missing or corrupt, lacks the CSV, a row has not two columns, or a
            row names a file the zip does not hold.
    """
    path = Path(path)
    _require_file(path, "DenseDepth nyu_data.zip", "nyu-zip")
    member = f"data/nyu2_{split}.csv"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if member not in names:
                raise DataError(
                    f"{path}: has no {member!r}; expected DenseDepth's nyu_data.zip with "
                    f"data/nyu2_train.csv and data/nyu2_test.csv. {ZIP_HINT}"
                )
            content = read_member(archive, member, str(path), ZIP_HINT)
    except DataError:
        raise
    except ZIP_ERRORS as error:
        raise _zip_error(path, error) from error
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: {member} is not UTF-8 text ({error}); the file is damaged. {ZIP_HINT}"
        ) from error
    rows = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        fields = [field.strip() for field in row]
        if not any(fields):
            continue
        if len(fields) != 2 or not all(fields):
            raise DataError(
                f"{path}: {member} line {number} is {row!r}; expected 'rgb_path,depth_path'. "
                f"{ZIP_HINT}"
            )
        for name in fields:
            if name not in names:
                raise DataError(
                    f"{path}: {member} line {number} names {name!r}, which the zip does not "
                    f"hold. {ZIP_HINT}"
                )
        rows.append((fields[0], fields[1]))
    if not rows:
        raise DataError(f"{path}: {member} lists no images. {ZIP_HINT}")
    return rows


def depth_png_to_metres(values: np.ndarray, bits: int) -> np.ndarray:
    """DenseDepth's depth PNG values -> float32 metres, by the PNG's bit depth.

    8-bit (the train set): ``value / 255 * 10`` m. 16-bit (the test set): millimetres, ``/ 1000``.
    """
    scale = 10.0 / 255.0 if bits == 8 else 1.0 / 1000.0
    return values.astype(np.float32) * np.float32(scale)


class NYUDepthZip(Dataset):
    """DenseDepth's ``nyu_data.zip`` (50,688 train / 654 test pairs), read in place.

    Args:
        path: ``nyu_data.zip`` (4.1 GB; never extracted).
        split: ``"train"`` (rows of ``data/nyu2_train.csv``) or ``"test"`` (``nyu2_test.csv``).
        transform: applied to each sample.

    Each sample: ``image`` float32 (3,H,W) in [0,1], ``depth`` float32 (1,H,W) metres, ``valid``
    (depth > 0), ``intrinsics`` :data:`NYU_INTRINSICS` scaled to (H,W) (480x640 in the real zip).

    Depth scaling follows each PNG's bit depth, read from the decoded file, not from the split:
    8-bit PNGs (the train set) hold ``value / 255 * 10`` metres, 16-bit PNGs (the test set)
    hold millimetres. Mixing the two up gives all-black or 25x-wrong depth.
    """

    def __init__(self, path: PathLike, split: str = "train", transform: Transform | None = None):
        if split not in ("train", "test"):
            raise DataError(f"NYUDepthZip: split {split!r} unknown; use 'train' or 'test'.")
        self.path = Path(path)
        self.split = split
        self.transform = transform
        self.rows = read_zip_csv(self.path, split)
        self._zip = PerProcessHandle(functools.partial(zipfile.ZipFile, self.path))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        rgb_name, depth_name = self.rows[item]
        try:
            archive = self._zip.get()
        except ZIP_ERRORS as error:
            raise _zip_error(self.path, error) from error
        rgb_bytes = read_member(archive, rgb_name, str(self.path), ZIP_HINT)
        depth_bytes = read_member(archive, depth_name, str(self.path), ZIP_HINT)
        image = read_rgb(rgb_bytes, f"{self.path}:{rgb_name}", ZIP_HINT)
        values, bits = read_depth_png(depth_bytes, f"{self.path}:{depth_name}", ZIP_HINT)
        check_same_size(values.shape, image.shape, f"{self.path}:{depth_name}", ZIP_HINT)
        depth = depth_png_to_metres(values, bits)
        intrinsics = scale_intrinsics(NYU_INTRINSICS, NYU_SIZE, image.shape[:2])
        sample = make_sample(image, depth, depth > 0, intrinsics)
        return self.transform(sample) if self.transform else sample
