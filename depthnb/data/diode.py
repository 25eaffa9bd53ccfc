"""DIODE (Vasiljevic et al. 2019): RGB-D scans of indoor and outdoor scenes, from its folder layout.

Layout under ``root`` (the folder holding ``val/`` after ``python -m depthnb download diode-val``)::

    {train,val}/{indoors,outdoor}/scene_*/scan_*/<name>.png             RGB, 1024x768
                                                <name>_depth.npy        float32 (H,W,1) metres
                                                <name>_depth_mask.npy   (H,W), 1 = valid
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from depthnb.data.io import Transform, check_same_size, make_sample, read_npy, read_rgb
from depthnb.errors import DataError
from depthnb.geometry import scale_intrinsics

DIODE_INTRINSICS: tuple[float, float, float, float] = (886.81, 927.06, 512.0, 384.0)
"""fx, fy, cx, cy (pixels) of DIODE's scanner images at 1024x768 (W,H)."""

DIODE_SIZE = (768, 1024)
"""(H,W) of DIODE images."""

DOMAINS = ("indoors", "outdoor")
HINT = "Delete the folder and run `python -m depthnb download diode-val`."


def find_diode_images(root: Path | str, split: str = "val", domain: str = "indoors") -> list[Path]:
    """The sorted ``<name>.png`` files of one split and domain ("indoors", "outdoor" or "all").

    Raises:
        DataError: an unknown split or domain, a missing folder, no images at all, or an image
            whose ``_depth.npy`` or ``_depth_mask.npy`` is missing.
    """
    root = Path(root)
    if split not in ("train", "val"):
        raise DataError(f"DIODE: split {split!r} unknown; use 'train' or 'val'.")
    if domain not in (*DOMAINS, "all"):
        raise DataError(f"DIODE: domain {domain!r} unknown; use 'indoors', 'outdoor' or 'all'.")
    folders = [root / split / d for d in (DOMAINS if domain == "all" else (domain,))]
    if not any(folder.is_dir() for folder in folders):
        raise DataError(
            f"{root}: has no {split}/{'{indoors,outdoor}' if domain == 'all' else domain} folder; "
            f"expected DIODE's layout {split}/<domain>/scene_*/scan_*/<name>.png. "
            f"Run `python -m depthnb download diode-{split}`."
        )
    images = sorted(
        path
        for folder in folders
        if folder.is_dir()
        for path in folder.glob("scene_*/scan_*/*.png")
    )
    if not images:
        raise DataError(
            f"{root}: no images in {', '.join(str(f) for f in folders)}; expected "
            f"scene_*/scan_*/<name>.png with <name>_depth.npy and <name>_depth_mask.npy. {HINT}"
        )
    for image in images:
        for suffix in ("_depth.npy", "_depth_mask.npy"):
            companion = image.with_name(image.stem + suffix)
            if not companion.is_file():
                raise DataError(f"{companion}: missing; every DIODE image needs it. {HINT}")
    return images


def _load_npy(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """Load a DIODE ``.npy`` -> (H,W), accepting (H,W,1) or (H,W); check it matches ``shape``.

    The header is checked first (:func:`~depthnb.data.io.read_npy`): plain numbers only, and no
    more than the file holds."""
    array = read_npy(path, HINT)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise DataError(f"{path}: has shape {array.shape}; expected (H,W,1) or (H,W). {HINT}")
    check_same_size(array.shape, shape, str(path), HINT)
    return array


class DIODE(Dataset):
    """DIODE's RGB images with metric depth and validity masks.

    Args:
        root: the folder that holds ``train/`` and/or ``val/``.
        split: ``"val"`` (the 2.6 GB validation split) or ``"train"``.
        domain: ``"indoors"``, ``"outdoor"`` or ``"all"``.
        transform: applied to each sample.

    Each sample: ``image`` float32 (3,H,W) in [0,1], ``depth`` float32 (1,H,W) metres, 0 where
    invalid, ``valid`` bool (1,H,W) = mask is 1 and depth > 0, ``intrinsics``
    :data:`DIODE_INTRINSICS` scaled from 1024x768 to the image's size.
    """

    def __init__(
        self,
        root: Path | str,
        split: str = "val",
        domain: str = "indoors",
        transform: Transform | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.domain = domain
        self.transform = transform
        self.images = find_diode_images(self.root, split, domain)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        path = self.images[item]
        image = read_rgb(path, str(path), HINT)
        depth = _load_npy(path.with_name(path.stem + "_depth.npy"), image.shape[:2])
        mask = _load_npy(path.with_name(path.stem + "_depth_mask.npy"), image.shape[:2])
        depth = depth.astype(np.float32)
        valid = (mask > 0) & np.isfinite(depth) & (depth > 0)
        intrinsics = scale_intrinsics(DIODE_INTRINSICS, DIODE_SIZE, image.shape[:2])
        sample = make_sample(image, depth, valid, intrinsics)
        return self.transform(sample) if self.transform else sample
