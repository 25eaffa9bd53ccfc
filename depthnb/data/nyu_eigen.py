"""DenseDepth's ``nyu_test.zip``: the 654 Eigen test images of NYU Depth v2, as NumPy arrays.

The zip holds three ``.npy`` members: ``eigen_test_rgb.npy`` (654,480,640,3) uint8,
``eigen_test_depth.npy`` (654,480,640) float32 metres (holes in-painted) and
``eigen_test_crop.npy`` (4,) inclusive bounds ``[20, 459, 24, 615]``. DenseDepth's ``evaluate.py``
loads all 1.4 GB into memory; this reader never does. A member stored without compression is
read where it lies inside the zip; a compressed one is streamed once into a plain ``.npy`` beside
the zip (``nyu_test_members/``) and read from there; beside it, ``<member>.source.json`` records
the zip it came from (real path, size, modification time, the member's CRC-32), and a member
whose zip changed is extracted again, with a message. Each item is one positioned read of its own
image (0.9 MB) and depth (1.2 MB), nothing is memory-mapped, so the reader's resident memory stays
a few MB whatever the number of images (``tests/test_nyu_eigen.py`` measures it).

``NYUEigenTest("data/nyu/nyu_test.zip")`` holds the 654 images of Eigen's test set, scored inside
its ``crop`` (20, 460, 24, 616).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import struct
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch.utils.data import Dataset

from depthnb.data.io import PerProcessHandle, Transform, make_sample
from depthnb.errors import DataError
from depthnb.geometry import NYU_INTRINSICS, NYU_SIZE, scale_intrinsics
from depthnb.utils.files import PathLike, atomic_path, atomic_write_text

EIGEN_TEST_COUNT = 654
MEMBERS = ("eigen_test_rgb.npy", "eigen_test_depth.npy", "eigen_test_crop.npy")
HINT = "Delete it and run `python -m depthnb download nyu-eigen-test`."
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra field length


def _npy_header(stream: Any, where: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, header bytes) of the ``.npy`` at the stream's start.

    Refuses object arrays: nothing in this file is ever unpickled (``allow_pickle=False``).
    """
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{where}: not a .npy array ({error}). {HINT}") from error
    if dtype.hasobject:
        raise DataError(
            f"{where}: holds Python objects (a pickle), not numbers; refusing to load it "
            f"(allow_pickle=False). {HINT}"
        )
    return tuple(shape), bool(fortran), dtype, stream.tell()


class _Member:
    """Where one ``.npy`` member's numbers lie on disk: a file, a byte offset, shape and dtype."""

    def __init__(self, archive: zipfile.ZipFile, zip_path: Path, name: str) -> None:
        where = f"{zip_path}:{name}"
        info = archive.getinfo(name)
        with archive.open(info) as stream:
            self.shape, fortran, self.dtype, header = _npy_header(stream, where)
        if fortran:
            raise DataError(f"{where}: is stored in Fortran order; expected C order. {HINT}")
        if info.compress_type == zipfile.ZIP_STORED:
            self.file = zip_path
            self.offset = _data_offset(zip_path, info) + header
        else:
            self.file = _extract_once(archive, info, zip_path)
            self.offset = header
        needed = self.offset + int(np.prod(self.shape)) * self.dtype.itemsize
        if self.file.stat().st_size < needed:
            raise DataError(f"{where}: ends before its {self.shape} array does. {HINT}")

    def read(self, handle: Any, index: int) -> np.ndarray:
        """Array ``index`` along the first axis, read from the open file ``handle`` with one
        positioned read (nothing else of the file is mapped or kept)."""
        item_shape = self.shape[1:]
        size = int(np.prod(item_shape)) * self.dtype.itemsize
        data = os.pread(handle.fileno(), size, self.offset + index * size)
        return np.frombuffer(data, dtype=self.dtype).reshape(item_shape)


def _data_offset(zip_path: Path, info: zipfile.ZipInfo) -> int:
    """Byte offset of a stored member's data: after its local header, name and extra field."""
    with open(zip_path, "rb") as f:
        f.seek(info.header_offset)
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise DataError(f"{zip_path}: {info.filename}'s local header is damaged. {HINT}")
    return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length


def _made_from(zip_path: Path, info: zipfile.ZipInfo) -> dict[str, Any]:
    """What an extracted member records about its source: the zip (real path, size,
    modification time in ns) and the member (name, CRC-32, size), as JSON values."""
    status = zip_path.stat()
    return {
        "source": os.path.realpath(zip_path),
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "member": info.filename,
        "crc32": info.CRC,
        "member_size": info.file_size,
    }


def _stale(target: Path, record: Path, wanted: dict[str, Any]) -> str | None:
    """Why the extracted ``target`` cannot be reused (None when it can)."""
    try:
        found = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"has no readable record of its source ({record.name})"
    changed = [k for k in wanted if not isinstance(found, dict) or found.get(k) != wanted[k]]
    if changed:
        return f"was extracted from another version of the zip ({', '.join(changed)} differ)"
    if target.stat().st_size != wanted["member_size"]:
        return "is incomplete"
    return None


def _extract_once(archive: zipfile.ZipFile, info: zipfile.ZipInfo, zip_path: Path) -> Path:
    """Stream a compressed member into ``<zip folder>/nyu_test_members/`` once, with a record of
    the zip it came from (``<member>.source.json``); extract it again, saying why, when the zip
    changed (size, modification time, or the member's CRC-32)."""
    folder = zip_path.parent / f"{zip_path.stem}_members"
    target = folder / info.filename
    record = folder / f"{info.filename}.source.json"
    wanted = _made_from(zip_path, info)
    if target.is_file():
        why = _stale(target, record, wanted)
        if why is None:
            return target
        print(f"{target} {why}; extracting it again from {zip_path}", file=sys.stderr)
    record.unlink(missing_ok=True)  # no record while the member is being replaced
    with atomic_path(target) as temporary, open(temporary, "wb") as out:
        with archive.open(info) as stream:
            shutil.copyfileobj(stream, out, 1 << 22)
    atomic_write_text(record, json.dumps(wanted, indent=2))
    return target


class NYUEigenTest(Dataset):
    """The 654 Eigen test images of NYU Depth v2 from DenseDepth's ``nyu_test.zip``, lazily.

    Args:
        path: ``nyu_test.zip`` (1.4 GB, never loaded whole).
        transform: applied to each sample.

    Each sample: ``image`` float32 (3,480,640) in [0,1], ``depth`` float32 (1,480,640) metres,
    ``valid`` bool (1,480,640) (depth > 0), ``intrinsics`` :data:`NYU_INTRINSICS`.
    ``crop`` is the file's evaluation crop as (top, bottom, left, right) slice bounds, the
    ``crop=`` that :func:`depthnb.metrics.evaluate` takes ((20, 460, 24, 616): DenseDepth's).

    Raises:
        DataError: the zip is missing or corrupt, lacks a member, holds pickled objects, or the
            arrays disagree in shape.
    """

    def __init__(self, path: PathLike, transform: Transform | None = None) -> None:
        self.path = Path(path)
        self.transform = transform
        if not self.path.is_file():
            raise DataError(
                f"{self.path}: DenseDepth's nyu_test.zip not found. Run `python -m depthnb "
                f"download nyu-eigen-test`, or upload the file and pass its path."
            )
        try:
            with zipfile.ZipFile(self.path) as archive:
                missing = [m for m in MEMBERS if m not in archive.namelist()]
                if missing:
                    raise DataError(
                        f"{self.path}: lacks {missing}; expected DenseDepth's nyu_test.zip with "
                        f"{list(MEMBERS)}. {HINT}"
                    )
                rgb, depth, crop = (_Member(archive, self.path, m) for m in MEMBERS)
                crop_values = np.load(archive.open(MEMBERS[2]), allow_pickle=False)
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise DataError(f"{self.path}: cannot be read as a zip ({error}). {HINT}") from error
        self._check_shapes(rgb, depth)
        if not (
            crop_values.shape == (4,)
            and crop_values.dtype.kind in "iu"
            and 0 <= crop_values[0] <= crop_values[1]
            and 0 <= crop_values[2] <= crop_values[3]
        ):
            raise DataError(
                f"{self.path}: eigen_test_crop.npy is {crop_values!r}; expected 4 whole inclusive "
                f"bounds, 0 <= top <= bottom and 0 <= left <= right. {HINT}"
            )
        top, bottom, left, right = (int(v) for v in crop_values)
        self.crop = (top, bottom + 1, left, right + 1)  # the file's bounds are inclusive
        self._count = rgb.shape[0]
        self.image_size: tuple[int, int] = (rgb.shape[1], rgb.shape[2])
        self._rgb, self._depth = rgb, depth
        self._files = PerProcessHandle(functools.partial(_open_both, rgb, depth))
        self.intrinsics = scale_intrinsics(NYU_INTRINSICS, NYU_SIZE, self.image_size)

    def _check_shapes(self, rgb: _Member, depth: _Member) -> None:
        if len(rgb.shape) != 4 or rgb.shape[3] != 3 or rgb.dtype != np.uint8:
            raise DataError(
                f"{self.path}: eigen_test_rgb.npy is {rgb.dtype} {rgb.shape}; expected uint8 "
                f"(N,480,640,3). {HINT}"
            )
        if rgb.shape[0] < 1:
            raise DataError(f"{self.path}: eigen_test_rgb.npy holds no images. {HINT}")
        if depth.shape != rgb.shape[:3] or depth.dtype.kind != "f":
            raise DataError(
                f"{self.path}: eigen_test_depth.npy is {depth.dtype} {depth.shape}; expected float "
                f"{rgb.shape[:3]} to match the images. {HINT}"
            )

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= item < len(self):
            raise IndexError(f"NYUEigenTest: index {item} out of range for {len(self)} images")
        item = item % len(self)
        rgb_file, depth_file = self._files.get()
        image = self._rgb.read(rgb_file, item)
        metres = self._depth.read(depth_file, item).astype(np.float32)
        valid = np.isfinite(metres) & (metres > 0)
        sample = make_sample(image, metres, valid, self.intrinsics)
        return self.transform(sample) if self.transform else sample


def _open_both(rgb: _Member, depth: _Member) -> tuple[BinaryIO, BinaryIO]:
    return open(rgb.file, "rb"), open(depth.file, "rb")


def check_eigen_test_zip(path: PathLike) -> Path:
    """Check that ``path`` has the layout of ``nyu_test.zip`` with 480x640 frames; return it.

    The structure, the shapes, that every array is whole and holds at least one image are
    checked; the count (654 in the real file) is not, so that a few frames in the real layout can
    stand in for it offline.
    """
    dataset = NYUEigenTest(path)
    if dataset.image_size != NYU_SIZE:
        raise DataError(
            f"{path}: holds images of {dataset.image_size}; expected {NYU_SIZE} (H, W). {HINT}"
        )
    return Path(path)
