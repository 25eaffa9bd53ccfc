"""KITTI's depth selection (Uhrig et al. 2017): outdoor frames with sparse LiDAR depth, from the
layout of ``data_depth_selection.zip``.

Layout under ``root`` (the folder holding ``depth_selection/`` after ``python -m depthnb download
kitti-depth-selection``, or ``depth_selection/`` itself)::

    depth_selection/val_selection_cropped/            1,000 frames of 352x1216 (split "val")
        image/<drive>_sync_image_<frame>_image_0X.png                    RGB
        groundtruth_depth/<drive>_sync_groundtruth_depth_<frame>_image_0X.png   uint16
        velodyne_raw/<drive>_sync_velodyne_raw_<frame>_image_0X.png            uint16
        intrinsics/<drive>_sync_image_<frame>_image_0X.txt        K, 9 numbers row by row
    depth_selection/test_depth_prediction_anonymous/  (split "test") image/, intrinsics/
    depth_selection/test_depth_completion_anonymous/  (split "test_completion") image/,
        velodyne_raw/, intrinsics/; the test splits name every file <index>.png / .txt

e.g. ``2011_09_26_drive_0002_sync_image_0000000005_image_02.png`` pairs with
``2011_09_26_drive_0002_sync_groundtruth_depth_0000000005_image_02.png``. A depth PNG holds
metres * 256 as uint16; 0 means no LiDAR return. ``groundtruth_depth`` accumulates 11 scans
around the frame, checked against stereo (about 15-30% of pixels valid); ``velodyne_raw`` is the
single scan the depth-completion task starts from (about 4-5%). The test splits have no ground
truth: their samples have ``depth`` 0 and ``valid`` False everywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from depthnb.data.io import Transform, check_same_size, make_sample, read_depth_png, read_rgb
from depthnb.errors import DataError
from depthnb.utils.files import atomic_path

KITTI_SPLITS: dict[str, str] = {
    "val": "val_selection_cropped",
    "test": "test_depth_prediction_anonymous",
    "test_completion": "test_depth_completion_anonymous",
}
"""Split name -> its folder under ``depth_selection/``."""

DEPTH_SOURCES = ("groundtruth_depth", "velodyne_raw")
"""Which folder fills a sample's ``depth``: the annotated ground truth, or the raw LiDAR scan."""

DEPTH_SCALE = 256.0
"""A depth PNG's value per metre."""

KITTI_DRIVE = "2011_09_26_drive_0002_sync"
"""The drive :func:`write_kitti_selection` names its frames after."""

HINT = (
    "Run `python -m depthnb download kitti-depth-selection`, or unzip data_depth_selection.zip "
    "(KITTI's depth prediction benchmark) into this folder."
)


def _split_folder(root: Path, split: str) -> Path:
    if split not in KITTI_SPLITS:
        raise DataError(f"KITTI: split {split!r} unknown; use one of {sorted(KITTI_SPLITS)}.")
    for base in (root / "depth_selection", root):
        if (base / KITTI_SPLITS[split]).is_dir():
            return base / KITTI_SPLITS[split]
    name = KITTI_SPLITS[split]
    raise DataError(
        f"{root}: has no depth_selection/{name}/ folder (nor {name}/); expected KITTI's depth "
        f"selection layout depth_selection/{name}/{{image,groundtruth_depth,velodyne_raw,"
        f"intrinsics}}/. {HINT}"
    )


def companion(image: Path, folder: str, suffix: str = ".png") -> Path:
    """The file of ``folder`` (``groundtruth_depth``, ``velodyne_raw``, ``intrinsics``) that pairs
    with ``image`` (``.../<split>/image/<stem>.png``): its name swaps ``_sync_image_`` for
    ``_sync_<folder>_`` (intrinsics keep the image's stem), the test splits' names are shared."""
    stem = image.stem
    if folder != "intrinsics" and "_sync_image_" in stem:
        stem = stem.replace("_sync_image_", f"_sync_{folder}_", 1)
    return image.parent.parent / folder / (stem + suffix)


def find_kitti_frames(root: Path | str, split: str = "val", depth: str | None = None) -> list[Path]:
    """The sorted image files of one split, each checked to have its intrinsics (and its
    ``depth`` folder's PNG, when given).

    Raises:
        DataError: an unknown split, a missing folder, no images, or an image whose companion file
            is missing; the message names it and how to get it.
    """
    folder = _split_folder(Path(root), split)
    needed = ["image", "intrinsics"] + ([depth] if depth else [])
    present = sorted(p.name for p in folder.iterdir() if p.is_dir())
    for name in needed:
        if name not in present:
            raise DataError(
                f"{folder}: has no {name}/ folder (it has {present or 'no folders'}); the "
                f"{split!r} split needs {needed}. {HINT}"
            )
    images = sorted((folder / "image").glob("*.png"))
    if not images:
        raise DataError(f"{folder / 'image'}: holds no .png images. {HINT}")
    for image in images:
        for name in needed[1:]:
            path = companion(image, name, ".txt" if name == "intrinsics" else ".png")
            if not path.is_file():
                raise DataError(f"{path}: missing; {image.name} needs it. {HINT}")
    return images


def read_intrinsics(path: Path) -> tuple[float, float, float, float]:
    """fx, fy, cx, cy (pixels) from a depth selection ``.txt``: the 3x3 K as 9 numbers, row by row.

    Raises:
        DataError: not 9 numbers, or not a pinhole camera matrix (K = [[fx, 0, cx], [0, fy, cy],
            [0, 0, 1]] with fx, fy > 0).
    """
    try:
        numbers = [float(v) for v in path.read_text().split()]
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{path}: cannot be read as 9 numbers ({error}). {HINT}") from error
    if len(numbers) != 9:
        raise DataError(
            f"{path}: holds {len(numbers)} numbers; expected the 9 of a 3x3 K, row by row. {HINT}"
        )
    k = np.asarray(numbers).reshape(3, 3)
    if not (np.isfinite(k).all() and k[0, 0] > 0 and k[1, 1] > 0) or not np.allclose(
        [k[0, 1], k[1, 0], k[2, 0], k[2, 1], k[2, 2]], [0, 0, 0, 0, 1]
    ):
        raise DataError(
            f"{path}: {numbers} is not a camera matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]. "
            f"{HINT}"
        )
    return float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])


def read_kitti_depth(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A 16-bit depth PNG -> float32 (H,W) metres (value / 256), 0 where there is no return;
    its size must be ``size`` (H, W), the image's."""
    values, bits = read_depth_png(path, str(path), HINT)
    if bits != 16:
        raise DataError(
            f"{path}: is an {bits}-bit PNG; KITTI depth maps are 16-bit (metres * 256). {HINT}"
        )
    check_same_size(values.shape, size, str(path), HINT)
    return values.astype(np.float32) / DEPTH_SCALE


def check_depth_selection(folder: Path) -> Path:
    """Raise DataError unless ``folder`` holds the depth selection's validation split, complete;
    return its ``depth_selection/`` folder (what :class:`KITTIDepth` takes)."""
    find_kitti_frames(folder, "val", "groundtruth_depth")
    return folder / "depth_selection" if (folder / "depth_selection").is_dir() else folder


class KITTIDepth(Dataset):
    """KITTI's depth selection: outdoor RGB frames with sparse metric LiDAR depth.

    Args:
        root: the folder holding ``depth_selection/`` (or that folder itself).
        split: ``"val"`` (1,000 annotated frames), ``"test"`` (the depth prediction benchmark's
            test images, without ground truth) or ``"test_completion"`` (the completion
            benchmark's, with ``velodyne_raw`` but no ground truth).
        depth: the folder that fills ``depth``: ``"groundtruth_depth"`` (default; absent from the
            test splits, whose depth is then unknown everywhere) or ``"velodyne_raw"``.
        transform: applied to each sample.

    Each sample: ``image`` float32 (3,H,W) in [0,1], ``depth`` float32 (1,H,W) metres (0 = no
    LiDAR return), ``valid`` bool (1,H,W) = depth > 0, ``intrinsics`` (4,) fx, fy, cx, cy from
    the frame's K (already that of the 352x1216 crop).
    """

    def __init__(
        self,
        root: Path | str,
        split: str = "val",
        depth: str = "groundtruth_depth",
        transform: Transform | None = None,
    ) -> None:
        if depth not in DEPTH_SOURCES:
            raise DataError(f"KITTI: depth={depth!r} unknown; use one of {list(DEPTH_SOURCES)}.")
        self.root = Path(root)
        self.split = split
        self.depth = depth
        self.transform = transform
        # Only "val" has ground truth; asking a test split for velodyne_raw needs its folder.
        self.has_depth = split == "val" or depth == "velodyne_raw"
        self.images = find_kitti_frames(self.root, split, depth if self.has_depth else None)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        path = self.images[item]
        image = read_rgb(path, str(path), HINT)
        size = image.shape[:2]
        if self.has_depth:
            depth = read_kitti_depth(companion(path, self.depth), size)
        else:
            depth = np.zeros(size, dtype=np.float32)
        intrinsics = read_intrinsics(companion(path, "intrinsics", ".txt"))
        sample = make_sample(image, depth, depth > 0, intrinsics)
        return self.transform(sample) if self.transform else sample


def kitti_stem(split: str, index: int, folder: str) -> str:
    """The file stem of frame ``index`` in ``folder`` of a split's folder (``KITTI_SPLITS``' values)
    as :func:`write_kitti_selection` names it: the val split's ``<drive>_<folder>_<frame>_image_0X``
    (frame 5 + index, camera 2 or 3 in turn; intrinsics share the image's stem), the test splits'
    ``<index>`` (10 digits)."""
    if split != KITTI_SPLITS["val"]:
        return f"{index:010d}"
    kind = "image" if folder == "intrinsics" else folder
    return f"{KITTI_DRIVE}_{kind}_{5 + index:010d}_image_0{2 + index % 2}"


def write_kitti_selection(
    root: Path | str,
    images: np.ndarray,
    depths: np.ndarray,
    intrinsics: np.ndarray,
    velodyne: np.ndarray | None = None,
    test_splits: bool = False,
) -> Path:
    """Write frames in the depth selection's layout under ``root/depth_selection/`` (replacing what
    is there, through a temporary folder); returns that folder, what :class:`KITTIDepth` reads.

    Args:
        images: uint8 (N,H,W,3) RGB.
        depths: float32 (N,H,W) metres, 0 = no return; stored as uint16 PNGs of round(metres * 256)
            (so below 256 m, to 1/256 m).
        intrinsics: (N,4) fx, fy, cx, cy in pixels; stored as the 3x3 K, 9 numbers row by row.
        velodyne: optional float32 (N,H,W) metres for ``velodyne_raw/`` (the sparser raw scans).
        test_splits: also write the two test splits (the same images and K, no ground truth; the
            completion split gets ``velodyne_raw`` when given).

    Raises:
        DataError: arrays whose counts or sizes disagree, or depths outside [0, 256) m.
    """
    images, depths = np.asarray(images), np.asarray(depths, dtype=np.float64)
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    arrays = {"groundtruth_depth": depths}
    if velodyne is not None:
        arrays["velodyne_raw"] = np.asarray(velodyne, dtype=np.float64)
    n, height, width = depths.shape if depths.ndim == 3 else (0, 0, 0)
    shapes_agree = images.shape == (n, height, width, 3) and intrinsics.shape == (n, 4)
    if n == 0 or not shapes_agree or any(a.shape != depths.shape for a in arrays.values()):
        raise DataError(
            f"write_kitti_selection: images {images.shape}, depths {depths.shape}, intrinsics "
            f"{intrinsics.shape}, velodyne {None if velodyne is None else np.shape(velodyne)} "
            "disagree; pass (N,H,W,3), (N,H,W), (N,4) and (N,H,W) for the same N frames"
        )
    for name, values in arrays.items():
        if not (np.isfinite(values).all() and values.min() >= 0 and values.max() * 256 < 65535.5):
            raise DataError(
                f"write_kitti_selection: {name} holds values outside [0, 256) m (or NaN); KITTI "
                "stores metres * 256 as uint16, 0 for no return"
            )
    layout = {"val": ("image", *arrays)}
    if test_splits:
        layout["test"] = ("image",)
        layout["test_completion"] = (
            ("image", "velodyne_raw") if velodyne is not None else ("image",)
        )
    target = Path(root) / "depth_selection"
    with atomic_path(target) as tmp:
        for split, folders in layout.items():
            base = tmp / KITTI_SPLITS[split]
            for folder in (*folders, "intrinsics"):
                (base / folder).mkdir(parents=True)
            for i in range(n):
                pictures = {"image": Image.fromarray(images[i].astype(np.uint8))}
                for name, values in arrays.items():
                    pictures[name] = Image.fromarray(np.round(values[i] * 256).astype(np.uint16))
                for folder in folders:
                    pictures[folder].save(base / folder / f"{kitti_stem(base.name, i, folder)}.png")
                fx, fy, cx, cy = intrinsics[i]
                k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
                path = base / "intrinsics" / f"{kitti_stem(base.name, i, 'intrinsics')}.txt"
                path.write_text(" ".join(f"{v:.6e}" for v in k) + "\n")
    return target
