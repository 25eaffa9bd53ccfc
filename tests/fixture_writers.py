"""Write small dataset files in the real formats, for the reader and download tests.

Each writer takes upright arrays (what a reader should return) and stores them the way the real
dataset does, so a reader that gets an axis, a flip or a scale wrong fails.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import scipy.io
from PIL import Image

from depthnb.data import kitti

MATLAB_HEADER = (
    b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2012 "
    b"HDF5 schema 1.00 ."
)


def patterned_images(n: int, height: int, width: int) -> np.ndarray:
    """Asymmetric RGB frames uint8 (n,H,W,3): red ramps left->right, green top->bottom, blue is
    the frame number, and a white 3x4 block marks the top-left corner."""
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    images = np.zeros((n, height, width, 3), dtype=np.uint8)
    images[..., 0] = (cols * 200 // max(width - 1, 1)).astype(np.uint8)
    images[..., 1] = np.broadcast_to(rows * 150 // max(height - 1, 1), (height, width))
    images[..., 2] = (np.arange(n) * 20 + 10)[:, None, None]
    images[:, :3, :4] = 255
    return images


def patterned_depths(n: int, height: int, width: int) -> np.ndarray:
    """Asymmetric depth maps float32 (n,H,W) metres: 1 m + 0.01 m per column + 0.1 m per row +
    1 m per frame, so every pixel's value says where it belongs."""
    rows = np.arange(height, dtype=np.float32)[:, None]
    cols = np.arange(width, dtype=np.float32)[None, :]
    frames = np.arange(n, dtype=np.float32)[:, None, None]
    return (1.0 + 0.01 * cols + 0.1 * rows + frames).astype(np.float32)


def write_nyu_mat(
    path: Path,
    images: np.ndarray,
    depths: np.ndarray,
    raw_depths: np.ndarray | None = None,
    skip: tuple[str, ...] = (),
    total: int | None = None,
) -> Path:
    """Write a labeled-NYU ``.mat`` as MATLAB v7.3 does: HDF5 with a 512-byte user block and every
    array stored with its axes reversed (upright images (N,H,W,3) -> dataset (N,3,W,H)).

    With ``total`` (1449, the real file's count), the datasets hold ``total`` frames, the first
    ``N`` of them these; the others are never written: stored one chunk per frame, they take no
    space and read as the fill values (mid grey at 2.5 m).
    """
    fill = {"images": 128, "depths": 2.5, "rawDepths": 2.5, "labels": 0}
    with h5py.File(path, "w", userblock_size=512) as f:
        arrays = {
            "images": images.transpose(0, 3, 2, 1),
            "depths": depths.transpose(0, 2, 1),
            "rawDepths": (depths if raw_depths is None else raw_depths).transpose(0, 2, 1),
            "labels": np.zeros(depths.shape, dtype=np.uint16).transpose(0, 2, 1),
        }
        for key, array in arrays.items():
            if key in skip:
                continue
            if total is None:
                f.create_dataset(key, data=np.ascontiguousarray(array))
                continue
            shape = (total, *array.shape[1:])
            dataset = f.create_dataset(
                key, shape, array.dtype, chunks=(1, *array.shape[1:]), fillvalue=fill[key]
            )
            dataset[: len(array)] = array
    with open(path, "r+b") as f:
        f.write(MATLAB_HEADER.ljust(116, b" "))
    return path


def write_splits_mat(path: Path, train: list[int], test: list[int]) -> Path:
    """Write NYU's ``splits.mat`` (MATLAB v5): 1-based ``trainNdxs`` and ``testNdxs`` columns."""
    scipy.io.savemat(
        path,
        {
            "trainNdxs": np.asarray(train, dtype=np.float64)[:, None],
            "testNdxs": np.asarray(test, dtype=np.float64)[:, None],
        },
    )
    return path


def png_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 (H,W[,3]) or uint16 (H,W) array as PNG bytes (uint16 -> 16-bit grey)."""
    buffer = io.BytesIO()
    if array.dtype == np.uint16:
        Image.fromarray(array.astype(np.uint16)).save(buffer, format="PNG")
    else:
        Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(array: np.ndarray, quality: int = 95) -> bytes:
    """Encode a uint8 (H,W,3) array as JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def write_nyu_zip(
    path: Path,
    train: list[tuple[np.ndarray, np.ndarray]],
    test: list[tuple[np.ndarray, np.ndarray]],
) -> Path:
    """Write DenseDepth's ``nyu_data.zip`` layout.

    ``train``: (rgb uint8 (H,W,3), depth uint8 (H,W) = metres / 10 * 255) pairs, stored as
    ``data/nyu2_train/<scene>/<i>.jpg`` and ``.png``; ``test``: (rgb, depth uint16 millimetres)
    as ``data/nyu2_test/<i>_colors.png`` and ``<i>_depth.png``. Each CSV ends with a blank line,
    as the real files do.
    """
    with zipfile.ZipFile(path, "w") as z:
        lines = []
        for i, (rgb, depth) in enumerate(train):
            stem = f"data/nyu2_train/living_room_0038_out/{i + 1}"
            z.writestr(f"{stem}.jpg", jpeg_bytes(rgb, quality=100))
            z.writestr(f"{stem}.png", png_bytes(depth))
            lines.append(f"{stem}.jpg,{stem}.png")
        z.writestr("data/nyu2_train.csv", "\n".join(lines) + "\n\n")
        lines = []
        for i, (rgb, depth) in enumerate(test):
            stem = f"data/nyu2_test/{i:05d}"
            z.writestr(f"{stem}_colors.png", png_bytes(rgb))
            z.writestr(f"{stem}_depth.png", png_bytes(depth))
            lines.append(f"{stem}_colors.png,{stem}_depth.png")
        z.writestr("data/nyu2_test.csv", "\r\n".join(lines) + "\r\n")
    return path


def write_diode_scan(
    root: Path,
    split: str,
    domain: str,
    name: str,
    image: np.ndarray,
    depth: np.ndarray,
    mask: np.ndarray,
) -> Path:
    """Write one DIODE scan: ``<name>.png``, ``<name>_depth.npy`` float32 (H,W,1) metres and
    ``<name>_depth_mask.npy`` float32 (H,W), under ``split/domain/scene_00001/scan_00001/``."""
    folder = root / split / domain / "scene_00001" / "scan_00001"
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / f"{name}.png")
    np.save(folder / f"{name}_depth.npy", depth.astype(np.float32)[..., None])
    np.save(folder / f"{name}_depth_mask.npy", mask.astype(np.float32))
    return folder / f"{name}.png"


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_eigen_test_zip(
    path: Path,
    images: np.ndarray,
    depths: np.ndarray,
    crop: tuple[int, int, int, int] = (20, 459, 24, 615),
    compression: int = zipfile.ZIP_STORED,
) -> Path:
    """Write DenseDepth's ``nyu_test.zip``: ``eigen_test_rgb.npy`` uint8 (N,H,W,3),
    ``eigen_test_depth.npy`` float32 (N,H,W) metres, ``eigen_test_crop.npy`` inclusive bounds."""
    members = {
        "eigen_test_rgb.npy": images.astype(np.uint8),
        "eigen_test_depth.npy": depths.astype(np.float32),
        "eigen_test_crop.npy": np.asarray(crop, dtype=np.int64),
    }
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, array in members.items():
            archive.writestr(name, _npy_bytes(array))
    return path


def write_kitti_selection(
    root: Path, n: int, height: int = 352, width: int = 1216
) -> dict[str, np.ndarray]:
    """Write KITTI's depth selection layout under ``root/depth_selection/`` with the package's
    writer (:func:`depthnb.data.kitti.write_kitti_selection`): ``n`` frames of each split.

    The ground truth is :func:`patterned_depths` (+ 4 m, rounded to 1/256 m) where a LiDAR-like
    pattern has a return (no return in the top third, the "sky", and on every other row), and
    ``velodyne_raw`` a sparser subset of it. Returns the upright arrays a reader must give back:
    ``images`` uint8 (n,H,W,3), ``depths`` and ``velodyne`` float32 (n,H,W) metres with zeros,
    ``intrinsics`` float64 (n,4) fx, fy, cx, cy; the test splits hold the same images and K.
    """
    images = patterned_images(n, height, width)
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    returns = (rows >= height // 3) & (rows % 2 == 0) & ((cols + rows) % 3 != 0)
    depths = np.round((patterned_depths(n, height, width) + 4.0) * 256) / 256
    depths = np.where(returns, depths, 0).astype(np.float32)
    velodyne = np.where((cols % 4 == 0) & returns, depths, 0).astype(np.float32)
    intrinsics = np.array(
        [[721.5377 + i, 721.5377 + i, 596.5593 + 0.25 * i, 149.854 - 0.5 * i] for i in range(n)]
    )
    kitti.write_kitti_selection(root, images, depths, intrinsics, velodyne, test_splits=True)
    return {"images": images, "depths": depths, "velodyne": velodyne, "intrinsics": intrinsics}


def png_declaring(width: int, height: int, bits: int = 8, colour: int = 0) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels (grey ``colour`` 0, RGB 2) but
    whose data holds one row: what a decompression bomb or a damaged header looks like."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, 0)
    row = b"\x00" + bytes(min(width, 64) * (bits // 8) * (3 if colour == 2 else 1))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row))
        + chunk(b"IEND", b"")
    )


def npy_declaring(shape: tuple[int, ...], dtype: str, payload: bytes = b"") -> bytes:
    """A ``.npy`` whose header declares ``shape`` and ``dtype`` followed by ``payload`` (a few
    bytes where the header promises terabytes)."""
    buffer = io.BytesIO()
    header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + payload


def declare_member_size(archive: bytes, member: str, size: int) -> bytes:
    """A zip's bytes with the uncompressed size that its central directory and local header
    declare for ``member`` replaced by ``size`` (below 4 GiB): a zip bomb's promise."""
    out = bytearray(archive)
    name = member.encode()
    for signature, field in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            name_at = start + (46 if signature == b"PK\x01\x02" else 30)
            if out[name_at : name_at + len(name)] == name:
                out[start + field : start + field + 4] = struct.pack("<I", size)
            start += 4
    return bytes(out)
