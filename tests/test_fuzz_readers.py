"""Fuzzing the readers: every file format depthnb reads, damaged, gives a DepthnbError that names
the file: never another exception type, never a hang, never a huge allocation.

Damage is of two kinds. Bytes: truncation at any offset and random bytes flipped (half of the
flips in the first 4 KiB, where headers, HDF5 superblocks and zip directories' neighbours lie).
Structure: what a broken mirror or a hand-made file holds: wrong dtypes and shapes, missing keys
and members, text that is not UTF-8, and sizes declared far beyond the file (an HDF5 dataset or a
``.npy`` header of 10^12 elements, a PNG of 100000x100000 pixels, a zip member of 4 GB, a Keras
layer of enormous width), which the readers must refuse before allocating anything.

Each pristine file is written once per module in its real format (``fixture_writers``,
``published_writers``); each example writes its damaged copy into a fresh folder and reads it
through the public reader, every item. Byte damage may be harmless (a flipped pixel of an
uncompressed array reads); structural damage must raise.

Examples are derandomized (the same in CI every time) and bounded by a deadline.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from fixture_writers import (
    declare_member_size,
    jpeg_bytes,
    npy_declaring,
    patterned_depths,
    patterned_images,
    png_bytes,
    png_declaring,
    write_diode_scan,
    write_eigen_test_zip,
    write_kitti_selection,
    write_nyu_mat,
    write_nyu_zip,
    write_splits_mat,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from published_writers import write_keras_h5

from depthnb import DepthnbError
from depthnb.checkpoint import save_checkpoint
from depthnb.data import DIODE, FgBgDepth, NYUDepthZip, NYUEigenTest, NYUv2Labeled
from depthnb.data.fgbg import write_fgbg_dataset
from depthnb.data.kitti import KITTIDepth
from depthnb.models import build_model
from depthnb.models.checkpoints import model_checkpoint
from depthnb.models.convert.fcrn_release import fcrn_from_tf_npy
from depthnb.models.convert.keras_densedepth import KERAS_BN_EPS, densedepth_from_keras
from depthnb.models.densedepth import DenseDepth
from depthnb.predict import load_checkpoint
from depthnb.viz import read_ply, save_ply

pytestmark = pytest.mark.usefixtures("one_thread")

FUZZ = settings(
    max_examples=12,
    deadline=5000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW_FUZZ = settings(FUZZ, max_examples=6, deadline=30000)
STRUCTURE = settings(FUZZ, max_examples=12)
HUGE = st.sampled_from([10**5, 10**6, 10**9, 10**12])
"""Declared sizes (elements along one axis, or in all) no reader may try to allocate."""


def read_all(dataset) -> None:
    """Decode every item, as a DataLoader's epoch would."""
    for index in range(len(dataset)):
        dataset[index]


def expect_named_error(path: Path, read: Callable[[], object], must_fail: bool) -> str:
    """Run ``read``; any exception must be a DepthnbError whose message names ``path``.

    Returns the error's class name, or "read" when the damage left the file readable (allowed
    only when ``must_fail`` is False)."""
    try:
        read()
    except DepthnbError as error:
        assert str(path) in str(error), f"{type(error).__name__} does not name {path}: {error}"
        return type(error).__name__
    assert not must_fail, f"damaged {path} was read without an error"
    return "read"


# ---------------------------------------------------------------- the formats, pristine


@dataclass(frozen=True)
class Format:
    """A file format: how to write a pristine copy under a folder, which files in it to damage
    (relative paths), and how the package reads the folder (every item)."""

    write: Callable[[Path], None]
    targets: tuple[str, ...]
    read: Callable[[Path], object]


MAT = "nyu_depth_v2_labeled.mat"


def _write_nyu_labeled(root: Path) -> None:
    write_nyu_mat(root / MAT, patterned_images(3, 6, 8), patterned_depths(3, 6, 8))
    write_splits_mat(root / "splits.mat", [1, 2], [3])


def _read_nyu_labeled(root: Path) -> None:
    for split in ("train", "all"):
        read_all(NYUv2Labeled(root / MAT, split=split, raw_depth=True))


def _write_nyu_zip(root: Path) -> None:
    images = patterned_images(2, 6, 8)
    depths = patterned_depths(2, 6, 8)
    train = [(image, (depth * 25).astype(np.uint8)) for image, depth in zip(images, depths)]
    test = [(image, (depth * 1000).astype(np.uint16)) for image, depth in zip(images, depths)]
    write_nyu_zip(root / "nyu_data.zip", train, test)


def _read_nyu_zip(root: Path) -> None:
    for split in ("train", "test"):
        read_all(NYUDepthZip(root / "nyu_data.zip", split=split))


def _write_eigen(compression: int) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        images, depths = patterned_images(2, 6, 8), patterned_depths(2, 6, 8)
        write_eigen_test_zip(root / "nyu_test.zip", images, depths, compression=compression)

    return write


def _write_diode(root: Path) -> None:
    depth = patterned_depths(1, 6, 8)[0]
    write_diode_scan(
        root, "val", "indoors", "00000", patterned_images(1, 6, 8)[0], depth, depth > 1.2
    )


DIODE_SCAN = "val/indoors/scene_00001/scan_00001/00000"


def _read_kitti(root: Path) -> None:
    read_all(KITTIDepth(root, "val"))
    read_all(KITTIDepth(root, "val", depth="velodyne_raw"))


KITTI_VAL = "depth_selection/val_selection_cropped"
KITTI_STEM = "2011_09_26_drive_0002_sync_{}_0000000005_image_02"
FGBG_NAME = "bg_001_fg_001_01.jpg"


def _write_checkpoint(root: Path) -> None:
    torch.manual_seed(0)
    model = build_model("unet", filters=(2, 4, 8, 8, 8))
    save_checkpoint(model_checkpoint(model, (32, 48)), root / "best.pt")


def _write_fcrn(root: Path) -> None:
    """The release's format (np.save of a pickled dict of dicts of float32 arrays) with its first
    two layers only: the reader reads it, the converter names the first layer it lacks."""
    rng = np.random.default_rng(0)
    layers = {
        "conv1": {"weights": rng.random((7, 7, 3, 4), np.float32)},
        "bn_conv1": {k: rng.random(4, np.float32) for k in ("mean", "variance", "scale", "offset")},
    }
    np.save(root / "NYU_ResNet-UpProj.npy", layers, allow_pickle=True)


def _write_ply(root: Path) -> None:
    points = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    colors = np.arange(120, dtype=np.uint8).reshape(40, 3)
    save_ply(root / "binary.ply", points, colors, binary=True)
    save_ply(root / "ascii.ply", points, colors, binary=False)


FORMATS: dict[str, Format] = {
    "nyu-labeled": Format(_write_nyu_labeled, (MAT, "splits.mat"), _read_nyu_labeled),
    "nyu-zip": Format(_write_nyu_zip, ("nyu_data.zip",), _read_nyu_zip),
    "nyu-eigen-stored": Format(
        _write_eigen(zipfile.ZIP_STORED),
        ("nyu_test.zip",),
        lambda root: read_all(NYUEigenTest(root / "nyu_test.zip")),
    ),
    "nyu-eigen-deflated": Format(
        _write_eigen(zipfile.ZIP_DEFLATED),
        ("nyu_test.zip",),
        lambda root: read_all(NYUEigenTest(root / "nyu_test.zip")),
    ),
    "diode": Format(
        _write_diode,
        tuple(DIODE_SCAN + suffix for suffix in (".png", "_depth.npy", "_depth_mask.npy")),
        lambda root: read_all(DIODE(root, "val", "indoors")),
    ),
    "kitti": Format(
        lambda root: write_kitti_selection(root, 1, 8, 12) and None,
        (
            f"{KITTI_VAL}/image/{KITTI_STEM.format('image')}.png",
            f"{KITTI_VAL}/groundtruth_depth/{KITTI_STEM.format('groundtruth_depth')}.png",
            f"{KITTI_VAL}/velodyne_raw/{KITTI_STEM.format('velodyne_raw')}.png",
            f"{KITTI_VAL}/intrinsics/{KITTI_STEM.format('image')}.txt",
        ),
        _read_kitti,
    ),
    "fgbg": Format(
        lambda root: write_fgbg_dataset(root / "fgbg", 1, size=(16, 16)) and None,
        (
            "fgbg/bg_jpg/bg_001.jpg",
            f"fgbg/fg_bg_jpg/{FGBG_NAME}",
            f"fgbg/mask_black_jpg/{FGBG_NAME}",
            f"fgbg/depth_fg_bg_jpg/{FGBG_NAME}",
            "fgbg/fgbg_meta.json",
        ),
        lambda root: read_all(FgBgDepth(root / "fgbg")),
    ),
    "checkpoint": Format(
        _write_checkpoint, ("best.pt",), lambda root: load_checkpoint(root / "best.pt")
    ),
    "fcrn-npy": Format(
        _write_fcrn,
        ("NYU_ResNet-UpProj.npy",),
        lambda root: fcrn_from_tf_npy(root / "NYU_ResNet-UpProj.npy"),
    ),
    "ply": Format(
        _write_ply,
        ("binary.ply", "ascii.ply"),
        lambda root: (read_ply(root / "binary.ply"), read_ply(root / "ascii.ply")),
    ),
}
CASES = [(name, target) for name, fmt in FORMATS.items() for target in fmt.targets]


class Files(dict):
    """{format: {relative path: bytes}}, shown by its keys (hypothesis prints failing examples)."""

    def __repr__(self) -> str:
        return f"Files({sorted(self)})"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Files:
    """Every format's files as bytes: {format: {relative path: bytes}}, each read back clean."""
    files = Files()
    for name, fmt in FORMATS.items():
        root = tmp_path_factory.mktemp(name)
        fmt.write(root)
        if name != "fcrn-npy":  # the two-layer release file is refused by design
            fmt.read(root)
        files[name] = {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }
    return files


def materialise(files: dict[str, bytes], root: Path, replace: dict[str, bytes]) -> None:
    """Write ``files`` under ``root``, with ``replace``'s contents in place of theirs."""
    for relative, data in {**files, **replace}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# ---------------------------------------------------------------- byte damage


@st.composite
def byte_damage(draw, size: int) -> tuple:
    """("truncate", offset) or ("flip", ((offset, xor mask), ...)); offsets within ``size``."""
    if draw(st.booleans()):
        return ("truncate", draw(st.integers(0, size - 1)))
    offset = st.one_of(st.integers(0, min(size, 4096) - 1), st.integers(0, size - 1))
    flips = draw(st.lists(st.tuples(offset, st.integers(1, 255)), min_size=1, max_size=8))
    return ("flip", tuple(flips))


def damaged(data: bytes, damage: tuple) -> bytes:
    """``data`` truncated or with bytes flipped as ``damage`` says."""
    kind, argument = damage
    if kind == "truncate":
        return data[:argument]
    out = bytearray(data)
    for offset, mask in argument:
        out[offset] ^= mask
    return bytes(out)


def run_damaged(pristine, name: str, target: str, damage: tuple) -> str:
    """Write format ``name`` with ``target`` damaged into a fresh folder and read it."""
    files = pristine[name]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        materialise(files, root, {target: damaged(files[target], damage)})
        # a cut into the data must be noticed; one of a trailing chunk (a PNG's IEND, a JPEG's
        # end marker, a zlib checksum, a last newline) may leave every pixel whole
        must_fail = damage[0] == "truncate" and damage[1] < len(files[target]) - 24
        return expect_named_error(root / target, lambda: FORMATS[name].read(root), must_fail)


@pytest.mark.parametrize(("name", "target"), CASES, ids=[f"{n}:{Path(t).name}" for n, t in CASES])
@FUZZ
@given(data=st.data())
def test_damaged_bytes_give_a_named_error(pristine, name, target, data):
    damage = data.draw(byte_damage(len(pristine[name][target])), label="damage")
    run_damaged(pristine, name, target, damage)


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory) -> Path:
    """DenseDepth's Keras ``nyu.h5`` layout at decoder width 0.03 (52 MB), weights constant:
    built on the meta device and filled, so no initialisation is paid for."""
    with torch.device("meta"):
        model = DenseDepth(width=0.03, input_norm="none", bn_eps=KERAS_BN_EPS)
    model = model.to_empty(device="cpu").eval()
    with torch.no_grad():
        for key, value in model.state_dict().items():
            value.fill_(1.0 if key.endswith(("weight", "running_var")) else 0.0)
    path = tmp_path_factory.mktemp("keras") / "nyu.h5"
    write_keras_h5(model, path)
    densedepth_from_keras(path)
    return path


@SLOW_FUZZ
@given(data=st.data())
def test_damaged_keras_h5_gives_a_named_error(keras_file, data):
    keras_bytes = keras_file.read_bytes()
    damage = data.draw(byte_damage(len(keras_bytes)), label="damage")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nyu.h5"
        path.write_bytes(damaged(keras_bytes, damage))
        expect_named_error(path, lambda: densedepth_from_keras(path), damage[0] == "truncate")


# ---------------------------------------------------------------- structural damage
#
# Each case takes the folder holding its format's pristine files and hypothesis' data, damages
# the structure, and returns the damaged file; the format's reader must then refuse it.


def _h5_replace(path: Path, key: str, **dataset) -> None:
    """Replace dataset ``key`` of an HDF5 file by ``h5py.create_dataset(key, **dataset)``."""
    with h5py.File(path, "a") as f:
        del f[key]
        f.create_dataset(key, **dataset)


def labeled_missing_key(root: Path, data) -> Path:
    key = data.draw(st.sampled_from(["images", "depths", "rawDepths"]), label="key")
    images, depths = patterned_images(3, 6, 8), patterned_depths(3, 6, 8)
    return write_nyu_mat(root / MAT, images, depths, skip=(key,))


def labeled_wrong_dtype(root: Path, data) -> Path:
    key = data.draw(st.sampled_from(["images", "depths", "rawDepths"]), label="key")
    dtype = data.draw(
        st.sampled_from(["S4", "complex64", "f4,i2"] + (["f4", "u2"] if key == "images" else [])),
        label="dtype",
    )
    with h5py.File(root / MAT, "r") as f:
        shape = f[key].shape
    _h5_replace(root / MAT, key, data=np.ones(shape, dtype=np.dtype(dtype)))
    return root / MAT


def labeled_wrong_shape(root: Path, data) -> Path:
    key = data.draw(st.sampled_from(["images", "depths"]), label="key")
    shape = data.draw(
        st.sampled_from(
            [(3, 4, 8, 6), (3, 8, 6), (3, 3, 8, 6, 1)]
            if key == "images"
            else [(3, 9, 6), (2, 8, 6), (3, 8), (3, 8, 6, 2)]
        ),
        label="shape",
    )
    _h5_replace(root / MAT, key, data=np.ones(shape, dtype=np.uint8 if key == "images" else "f4"))
    return root / MAT


def labeled_huge(root: Path, data) -> Path:
    """Datasets declaring huge frames, or a huge count of frames (chunked, nothing written)."""
    huge = data.draw(HUGE, label="huge")
    if data.draw(st.booleans(), label="huge frames"):
        side = min(huge, 10**6)
        shapes = {
            "images": (3, 3, side, side),
            "depths": (3, side, side),
            "rawDepths": (3, side, side),
        }
    else:
        count = max(huge, 10**7)  # above the bound of 10^6 frames (the real file holds 1449)
        shapes = {"images": (count, 3, 8, 6), "depths": (count, 8, 6), "rawDepths": (count, 8, 6)}
    for key, shape in shapes.items():
        chunks = (1,) * (len(shape) - 2) + (8, 6)
        dtype = np.uint8 if key == "images" else np.float32
        _h5_replace(root / MAT, key, shape=shape, dtype=dtype, chunks=chunks, fillvalue=1)
    return root / MAT


def splits_wrong_content(root: Path, data) -> Path:
    content = data.draw(
        st.sampled_from(
            [
                {"trainNdxs": [[1], [2]]},
                {"trainNdxs": "12", "testNdxs": "3"},
                {"trainNdxs": [[1.5], [2]], "testNdxs": [[3]]},
                {"trainNdxs": [[np.nan], [2]], "testNdxs": [[3]]},
                {"trainNdxs": [[1], [2]], "testNdxs": [[np.inf]]},
                {"trainNdxs": [[0], [2]], "testNdxs": [[3]]},
                {"trainNdxs": [[1], [2]], "testNdxs": [[10**12]]},
                {"trainNdxs": np.array([[1, 2]], dtype=object), "testNdxs": [[3]]},
                {"trainNdxs": np.zeros((0, 1)), "testNdxs": np.zeros((0, 1))},
            ]
        ),
        label="content",
    )
    scipy.io.savemat(root / "splits.mat", content)
    return root / "splits.mat"


def _zip_with(path: Path, replace: dict[str, bytes | None]) -> None:
    """Rewrite the zip at ``path`` with members replaced (bytes) or removed (None)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for name, content in replace.items():
        members.pop(name, None)
        if content is not None:
            members[name] = content
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)


NYU_ZIP_MEMBERS = [
    "data/nyu2_train.csv",
    "data/nyu2_test.csv",
    "data/nyu2_train/living_room_0038_out/1.jpg",
    "data/nyu2_train/living_room_0038_out/2.png",
    "data/nyu2_test/00000_colors.png",
    "data/nyu2_test/00001_depth.png",
]


def zip_csv_not_utf8(root: Path, data) -> Path:
    csv = data.draw(st.sampled_from(["data/nyu2_train.csv", "data/nyu2_test.csv"]), label="csv")
    text = b"\xff\xfe" + data.draw(st.binary(max_size=40), label="bytes") + b"\xc3\x28,\x80\n"
    _zip_with(root / "nyu_data.zip", {csv: text})
    return root / "nyu_data.zip"


def zip_member_missing(root: Path, data) -> Path:
    member = data.draw(st.sampled_from(NYU_ZIP_MEMBERS), label="member")
    _zip_with(root / "nyu_data.zip", {member: None})
    return root / "nyu_data.zip"


def zip_member_declared_huge(root: Path, data) -> Path:
    member = data.draw(st.sampled_from(NYU_ZIP_MEMBERS), label="member")
    size = data.draw(st.sampled_from([2**31, 2**32 - 2]), label="declared size")
    path = root / "nyu_data.zip"
    path.write_bytes(declare_member_size(path.read_bytes(), member, size))
    return path


def zip_image_bomb(root: Path, data) -> Path:
    member = data.draw(st.sampled_from(NYU_ZIP_MEMBERS[2:]), label="member")
    side = data.draw(st.sampled_from([10_000, 30_000, 100_000]), label="side")
    colour = 2 if "colors" in member or member.endswith(".jpg") else 0
    bits = 16 if "test" in member and colour == 0 else 8
    _zip_with(root / "nyu_data.zip", {member: png_declaring(side, side, bits, colour)})
    return root / "nyu_data.zip"


def zip_depth_of_another_mode(root: Path, data) -> Path:
    member = data.draw(st.sampled_from(NYU_ZIP_MEMBERS[3::2]), label="member")
    picture = data.draw(
        st.sampled_from(
            [
                jpeg_bytes(patterned_images(1, 6, 8)[0]),
                png_bytes(np.zeros((6, 8, 3), np.uint8)),
                png_bytes(np.zeros((5, 8), np.uint8)),
                b"not an image",
            ]
        ),
        label="picture",
    )
    _zip_with(root / "nyu_data.zip", {member: picture})
    return root / "nyu_data.zip"


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=array.dtype.hasobject)
    return buffer.getvalue()


def eigen_wrong_members(root: Path, data) -> Path:
    images, depths = patterned_images(2, 6, 8), patterned_depths(2, 6, 8)
    member, content = data.draw(
        st.sampled_from(
            [
                ("eigen_test_rgb.npy", None),
                ("eigen_test_depth.npy", None),
                ("eigen_test_crop.npy", None),
                ("eigen_test_rgb.npy", _npy(images.astype(np.float64))),
                ("eigen_test_rgb.npy", _npy(images[..., 0])),
                ("eigen_test_rgb.npy", _npy(np.array([None, 1], dtype=object))),
                ("eigen_test_depth.npy", _npy(depths.astype(np.int32))),
                ("eigen_test_depth.npy", _npy(depths[:, :5])),
                ("eigen_test_depth.npy", _npy(np.asfortranarray(depths))),
                ("eigen_test_crop.npy", _npy(np.array([20, 459, 24]))),
                ("eigen_test_crop.npy", _npy(np.array([np.nan, 459, 24, 615]))),
                ("eigen_test_crop.npy", _npy(np.array(["a", "b", "c", "d"]))),
                ("eigen_test_crop.npy", _npy(np.array([400, 20, 24, 615]))),
                ("eigen_test_rgb.npy", b"\x93NUMPY\x01\x00"),
            ]
        ),
        label="member",
    )
    _zip_with(root / "nyu_test.zip", {member: content})
    return root / "nyu_test.zip"


def eigen_declared_huge(root: Path, data) -> Path:
    huge = data.draw(HUGE, label="huge")
    member = data.draw(st.sampled_from(["eigen_test_rgb.npy", "eigen_test_depth.npy"]), "member")
    shape = (huge, 6, 8, 3) if "rgb" in member else (huge, 6, 8)
    if data.draw(st.booleans(), label="huge frames"):
        shape = (2, huge, huge, 3) if "rgb" in member else (2, huge, huge)
    dtype = "u1" if "rgb" in member else "f4"
    _zip_with(root / "nyu_test.zip", {member: npy_declaring(shape, dtype, bytes(64))})
    return root / "nyu_test.zip"


DIODE_NPY = [DIODE_SCAN + "_depth.npy", DIODE_SCAN + "_depth_mask.npy"]


def diode_npy_declared_huge(root: Path, data) -> Path:
    huge = data.draw(HUGE, label="huge")
    shape = data.draw(st.sampled_from([(huge,), (huge, huge, 1), (6, 8, huge)]), label="shape")
    path = root / data.draw(st.sampled_from(DIODE_NPY), label="file")
    path.write_bytes(npy_declaring(shape, "<f4", bytes(96)))
    return path


def diode_npy_wrong(root: Path, data) -> Path:
    array = data.draw(
        st.sampled_from(
            [
                np.ones((6, 8, 1), np.complex64),
                np.full((6, 8), "ab"),
                np.ones((6, 8), "f4,i2"),
                np.array([[1.0]], dtype=object),
                np.ones((6, 8, 3), np.float32),
                np.ones((7, 8), np.float32),
                np.ones((6, 8, 1, 1), np.float32),
                np.ones((), np.float32),
            ]
        ),
        label="array",
    )
    path = root / data.draw(st.sampled_from(DIODE_NPY), label="file")
    path.write_bytes(_npy(array))
    return path


def image_bomb(files: list[str]) -> Callable[[Path, object], Path]:
    def case(root: Path, data) -> Path:
        path = root / data.draw(st.sampled_from(files), label="file")
        side = data.draw(st.sampled_from([10_000, 30_000, 100_000]), label="side")
        colour = 2 if "image" in path.parent.name or "bg_jpg" in str(path) else 0
        bits = 16 if "depth" in path.parent.name or "velodyne" in path.parent.name else 8
        path.write_bytes(png_declaring(side, side, bits, colour))
        return path

    return case


KITTI_TARGETS = list(FORMATS["kitti"].targets)
FGBG_TARGETS = list(FORMATS["fgbg"].targets)


def kitti_wrong(root: Path, data) -> Path:
    target, content = data.draw(
        st.sampled_from(
            [
                (KITTI_TARGETS[1], png_bytes(np.ones((8, 12), np.uint8))),
                (KITTI_TARGETS[1], png_bytes(np.ones((8, 12, 3), np.uint8))),
                (KITTI_TARGETS[2], png_bytes(np.ones((9, 12), np.uint16))),
                (KITTI_TARGETS[3], b"\xff\xfe 1 2 3"),
                (KITTI_TARGETS[3], b"1 0 2 0 1 2 0 0"),
                (KITTI_TARGETS[3], b"nan 0 2 0 1 2 0 0 1"),
                (KITTI_TARGETS[3], b"1 0 2 0 inf 2 0 0 1"),
                (KITTI_TARGETS[3], b"-1 0 2 0 1 2 0 0 1"),
                (KITTI_TARGETS[3], b""),
            ]
        ),
        label="content",
    )
    (root / target).write_bytes(content)
    return root / target


def fgbg_wrong(root: Path, data) -> Path:
    meta = json.loads((root / FGBG_TARGETS[4]).read_bytes())
    target, content = data.draw(
        st.sampled_from(
            [
                (FGBG_TARGETS[4], b"\xff\xfe{}"),
                (FGBG_TARGETS[4], b"[1, 2]"),
                (FGBG_TARGETS[4], json.dumps({**meta, "max_depth": float("nan")}).encode()),
                (FGBG_TARGETS[4], json.dumps({**meta, "max_depth": float("inf")}).encode()),
                (FGBG_TARGETS[4], json.dumps({**meta, "max_depth": "10"}).encode()),
                (
                    FGBG_TARGETS[4],
                    json.dumps({**meta, "intrinsics": {"bg_001_fg_001_01": [1, 2, 3]}}).encode(),
                ),
                (
                    FGBG_TARGETS[4],
                    json.dumps(
                        {**meta, "intrinsics": {"bg_001_fg_001_01": [float("nan"), 1, 2, 3]}}
                    ).encode(),
                ),
                (
                    FGBG_TARGETS[4],
                    json.dumps(
                        {**meta, "intrinsics": {"bg_001_fg_001_01": [True, 1, 2, 3]}}
                    ).encode(),
                ),
                (FGBG_TARGETS[2], jpeg_bytes(patterned_images(1, 8, 16)[0])),
                (FGBG_TARGETS[0], jpeg_bytes(patterned_images(1, 16, 8)[0])),
            ]
        ),
        label="content",
    )
    (root / target).write_bytes(content)
    return root / target


def _edit_checkpoint(path: Path, edit: Callable[[dict], None]) -> Path:
    checkpoint = torch.load(path, weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, path)
    return path


WRONG_VALUES = {
    "model_name": [3, None, "no-such-model", ["unet"]],
    "model_config": [["filters"], "x", {"filters": "abc"}, {"no_such_argument": 1}, None],
    "state_dict": ["x", [1], {"down.0.conv_a.weight": 3}, {}],
    "encoding": [None, "log", {"kind": 3}, {"name": "no-such-encoding"}],
    "epoch": ["x", None, 1.5],
    "step": ["x", -1, [2]],
    "input_size": [[0, -1], "ab", [32], [32.5, 48], [10**9, 10**9]],
    "format": ["other", None],
    "version": [2**40, "1", None],
}


def checkpoint_wrong_value(root: Path, data) -> Path:
    key = data.draw(st.sampled_from(sorted(WRONG_VALUES)), label="key")
    value = data.draw(st.sampled_from(WRONG_VALUES[key]), label="value")
    return _edit_checkpoint(root / "best.pt", lambda c: c.__setitem__(key, value))


def checkpoint_missing_key(root: Path, data) -> Path:
    key = data.draw(
        st.sampled_from(
            ["format", "model_name", "model_config", "state_dict", "encoding", "epoch", "step"]
        ),
        label="key",
    )
    return _edit_checkpoint(root / "best.pt", lambda c: c.pop(key))


def checkpoint_wrong_tensor(root: Path, data) -> Path:
    key = "down.0.conv_a.weight"
    tensor = data.draw(
        st.sampled_from(
            [
                torch.zeros(2, 3, 3),
                torch.zeros(1).expand(10**6, 10**6),
                torch.zeros(2, 3, 3, 3, dtype=torch.complex64),
                torch.zeros(2, 3, 3, 3, dtype=torch.bool),
            ]
        ),
        label="tensor",
    )
    return _edit_checkpoint(root / "best.pt", lambda c: c["state_dict"].__setitem__(key, tensor))


def checkpoint_not_a_dict(root: Path, data) -> Path:
    obj = data.draw(st.sampled_from([[1, 2], "checkpoint", torch.zeros(3), {"format": 1}]), "obj")
    torch.save(obj, root / "best.pt")
    return root / "best.pt"


def fcrn_wrong(root: Path, data) -> Path:
    path = root / "NYU_ResNet-UpProj.npy"
    huge = data.draw(HUGE, label="huge")
    content = data.draw(
        st.sampled_from(
            [
                npy_declaring((huge,), "<f4", bytes(64)),
                npy_declaring((huge, huge), "|O", b"\x80\x04K\x01."),
                npy_declaring((), "|O", b"\x80\x04\x8e" + struct.pack("<Q", huge) + bytes(64)),
                npy_declaring(
                    (), "|O", b"\x80\x04B" + struct.pack("<I", min(huge, 2**31)) + bytes(8)
                ),
                _npy(np.array({"conv1": [1, 2]}, dtype=object)),
                _npy(
                    np.array({"conv1": {"weights": np.ones((7, 7, 3, 64), np.int32)}}, dtype=object)
                ),
                _npy(np.array([{"conv1": {}}], dtype=object)),
                b"",
            ]
        ),
        label="content",
    )
    path.write_bytes(content)
    return path


def ply_wrong(root: Path, data) -> Path:
    huge = data.draw(HUGE, label="huge")
    name = data.draw(st.sampled_from(["binary.ply", "ascii.ply"]), label="file")
    fmt = "binary_little_endian" if name == "binary.ply" else "ascii"
    header = data.draw(
        st.sampled_from(
            [
                f"element vertex {huge}\nproperty float x\nproperty float y\nproperty float z\n",
                "element vertex abc\nproperty float x\nproperty float y\nproperty float z\n",
                "element vertex\nproperty float x\nproperty float y\nproperty float z\n",
                "element vertex 2\nproperty float\nproperty float y\nproperty float z\n",
                "element vertex -3\nproperty float x\nproperty float y\nproperty float z\n",
                "element vertex 2\nproperty float x\nproperty float y\n",
            ]
        ),
        label="header",
    )
    body = b"1 2 3\n4 5 x\n" if fmt == "ascii" else bytes(24)
    path = root / name
    path.write_bytes(f"ply\nformat {fmt} 1.0\n{header}end_header\n".encode() + body)
    return path


STRUCTURAL = {
    "labeled-missing-key": ("nyu-labeled", labeled_missing_key),
    "labeled-wrong-dtype": ("nyu-labeled", labeled_wrong_dtype),
    "labeled-wrong-shape": ("nyu-labeled", labeled_wrong_shape),
    "labeled-declared-huge": ("nyu-labeled", labeled_huge),
    "splits-wrong-content": ("nyu-labeled", splits_wrong_content),
    "zip-csv-not-utf8": ("nyu-zip", zip_csv_not_utf8),
    "zip-member-missing": ("nyu-zip", zip_member_missing),
    "zip-member-declared-huge": ("nyu-zip", zip_member_declared_huge),
    "zip-png-bomb": ("nyu-zip", zip_image_bomb),
    "zip-depth-of-another-mode": ("nyu-zip", zip_depth_of_another_mode),
    "eigen-wrong-members": ("nyu-eigen-stored", eigen_wrong_members),
    "eigen-declared-huge": ("nyu-eigen-stored", eigen_declared_huge),
    "eigen-deflated-declared-huge": ("nyu-eigen-deflated", eigen_declared_huge),
    "diode-npy-declared-huge": ("diode", diode_npy_declared_huge),
    "diode-npy-wrong": ("diode", diode_npy_wrong),
    "diode-png-bomb": ("diode", image_bomb([DIODE_SCAN + ".png"])),
    "kitti-png-bomb": ("kitti", image_bomb(KITTI_TARGETS[:3])),
    "kitti-wrong": ("kitti", kitti_wrong),
    "fgbg-jpeg-bomb": ("fgbg", image_bomb(FGBG_TARGETS[:4])),
    "fgbg-wrong": ("fgbg", fgbg_wrong),
    "checkpoint-wrong-value": ("checkpoint", checkpoint_wrong_value),
    "checkpoint-missing-key": ("checkpoint", checkpoint_missing_key),
    "checkpoint-wrong-tensor": ("checkpoint", checkpoint_wrong_tensor),
    "checkpoint-not-a-dict": ("checkpoint", checkpoint_not_a_dict),
    "fcrn-npy-wrong": ("fcrn-npy", fcrn_wrong),
    "ply-wrong-header": ("ply", ply_wrong),
}


def run_structural(pristine, case: str, data) -> str:
    """Write the case's format pristine into a fresh folder, damage it, read it."""
    name, damage = STRUCTURAL[case]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        materialise(pristine[name], root, {})
        path = damage(root, data)
        return expect_named_error(path, lambda: FORMATS[name].read(root), must_fail=True)


@pytest.mark.parametrize("case", sorted(STRUCTURAL))
@STRUCTURE
@given(data=st.data())
def test_damaged_structure_gives_a_named_error(pristine, case, data):
    run_structural(pristine, case, data)


def _keras_replace(path: Path, layer: str, weight: str, **dataset) -> None:
    """Replace ``layer``'s weight (``kernel``, ``gamma``...) in a Keras file by a new dataset
    (``h5py.create_dataset`` arguments), or delete the layer's group when none are given."""
    with h5py.File(path, "a") as f:
        group = f["model_weights"][layer]
        if not dataset:
            del f["model_weights"][layer]
            return
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        name = next(n for n in names if n.split("/")[-1].split(":")[0] == weight)
        del group[name]
        group.create_dataset(name, **dataset)


KERAS_CASES = {
    "conv2 of enormous width": lambda huge: ("conv2", "kernel", (1, 1, 1664, huge)),
    "conv1 of enormous size": lambda huge: ("conv1/conv", "kernel", (7, 7, 3, huge)),
    "a decoder conv of enormous size": lambda huge: ("up1_convA", "kernel", (3, 3, huge, huge)),
    "a batch norm of enormous size": lambda huge: ("conv2_block1_0_bn", "gamma", (huge,)),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
@settings(STRUCTURE, max_examples=2, deadline=30000)
@given(huge=HUGE)
def test_keras_declared_huge_is_refused_before_allocating(keras_file, case, huge):
    """A Keras file whose layers declare enormous shapes (chunked datasets: nothing stored) is
    refused before the model or any array of that size is built."""
    layer, weight, shape = KERAS_CASES[case](huge)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nyu.h5"
        shutil.copyfile(keras_file, path)
        chunks = tuple(min(s, 64) for s in shape)
        _keras_replace(path, layer, weight, shape=shape, dtype="f4", chunks=chunks)
        expect_named_error(path, lambda: densedepth_from_keras(path), must_fail=True)


@STRUCTURE
@given(
    layer=st.sampled_from(["conv1/conv", "conv2", "up4_convB", "conv3", "bn"]),
    damage=st.sampled_from(["missing", "strings", "compound", "wrong shape", "scalar"]),
)
def test_keras_missing_or_wrong_layers_are_refused(keras_file, layer, damage):
    weight = "gamma" if layer == "bn" else "kernel"
    arguments = {
        "missing": {},
        "strings": {"data": np.full((1, 1, 1, 1), b"ab")},
        "compound": {"data": np.ones((1, 1, 1, 1), "f4,i2")},
        "wrong shape": {"data": np.ones((3, 3, 5, 2), np.float32)},
        "scalar": {"data": np.float32(1.0)},
    }[damage]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nyu.h5"
        shutil.copyfile(keras_file, path)
        _keras_replace(path, layer, weight, **arguments)
        expect_named_error(path, lambda: densedepth_from_keras(path), must_fail=True)
