"""The mask-and-depth seed's folder layout: background, foreground-on-background, mask, depth.

Layout under ``root`` (every file a JPEG, as in the seed)::

    bg_jpg/bg_001.jpg                          background only
    fg_bg_jpg/bg_001_fg_001_01.jpg             foreground 001 pasted on background 001, placement 01
    mask_black_jpg/bg_001_fg_001_01.jpg        foreground mask: white (255) object on black (0)
    depth_fg_bg_jpg/bg_001_fg_001_01.jpg       8-bit greyscale depth of the fg_bg picture
    fgbg_meta.json                             optional: max_depth (m), intrinsics per fg_bg stem

Pairing: a fg_bg file ``<bg>_fg_<f>_<p>`` belongs to the background ``bg_jpg/<bg>.*``; its mask
and depth have the same stem in their folders (any image extension).

Depth scaling: metres = value / 255 * max_depth, linear, with ``max_depth`` from
``fgbg_meta.json`` (10 m, DenseDepth's range, when the file or key is missing); value 0 is
invalid. Masks are thresholded at 128 (JPEG blurs the edges). Intrinsics come from the metadata,
else NYU's camera scaled to the image size is assumed.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TypeGuard

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from depthnb.data.io import Transform, check_same_size, make_sample, read_grey, read_rgb
from depthnb.data.synthetic.render import render_room
from depthnb.errors import DataError
from depthnb.geometry import NYU_INTRINSICS, NYU_SIZE, scale_intrinsics
from depthnb.utils.files import atomic_path

FOLDERS = ("bg_jpg", "fg_bg_jpg", "mask_black_jpg", "depth_fg_bg_jpg")
META_FILE = "fgbg_meta.json"
DEFAULT_MAX_DEPTH = 10.0
"""Metres that depth value 255 stands for when the metadata does not say."""

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
_FG_BG_NAME = re.compile(r"^(?P<bg>.+?)_fg_[^_]+_[^_]+$")


def _images_by_stem(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}


def _is_number(value: object) -> TypeGuard[float]:
    """A finite JSON number (not a bool; JSON as Python writes it may hold NaN and Infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_meta(root: Path) -> dict:
    path = root / META_FILE
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not valid JSON ({error}); fix or delete it.") from error
    if not isinstance(meta, dict):
        raise DataError(f"{path}: expected a JSON object with 'max_depth' and 'intrinsics'.")
    max_depth = meta.get("max_depth", DEFAULT_MAX_DEPTH)
    if not _is_number(max_depth) or max_depth <= 0:
        raise DataError(
            f"{path}: 'max_depth' is {max_depth!r}; expected the metres that depth value 255 "
            f"stands for, a finite positive number. Fix or delete the file."
        )
    intrinsics = meta.get("intrinsics", {})
    if not isinstance(intrinsics, dict) or not all(
        isinstance(v, list) and len(v) == 4 and all(_is_number(x) for x in v)
        for v in intrinsics.values()
    ):
        raise DataError(
            f"{path}: 'intrinsics' must map each fg_bg file stem to [fx, fy, cx, cy] in pixels "
            f"(finite numbers). "
            f"Fix or delete the file."
        )
    return meta


class FgBgDepth(Dataset):
    """Foreground-on-background pictures with their background, mask and depth (see module doc).

    Args:
        root: the folder holding ``bg_jpg/``, ``fg_bg_jpg/``, ``mask_black_jpg/`` and
            ``depth_fg_bg_jpg/``.
        transform: applied to each sample.

    Each sample: ``image`` float32 (3,H,W) the fg-on-bg picture, ``background`` float32 (3,H,W),
    ``mask`` float32 (1,H,W) in {0,1}, ``depth`` float32 (1,H,W) metres, ``valid`` bool (1,H,W)
    (depth value > 0), ``intrinsics`` float32 (4,).
    """

    def __init__(self, root: Path | str, transform: Transform | None = None) -> None:
        self.root = Path(root)
        self.transform = transform
        for folder in FOLDERS:
            if not (self.root / folder).is_dir():
                raise DataError(
                    f"{self.root / folder}: missing; expected the folders {', '.join(FOLDERS)} "
                    f"under {self.root} (write_fgbg_dataset(root, n_scenes) makes them)."
                )
        fg_bg = _images_by_stem(self.root / "fg_bg_jpg")
        if not fg_bg:
            raise DataError(
                f"{self.root / 'fg_bg_jpg'}: holds no images; expected files such as "
                f"bg_001_fg_001_01.jpg."
            )
        backgrounds = _images_by_stem(self.root / "bg_jpg")
        masks = _images_by_stem(self.root / "mask_black_jpg")
        depths = _images_by_stem(self.root / "depth_fg_bg_jpg")
        self.items: list[tuple[Path, Path, Path, Path]] = []
        for stem in sorted(fg_bg):
            match = _FG_BG_NAME.match(stem)
            if match is None:
                raise DataError(
                    f"{fg_bg[stem]}: name does not follow <bg>_fg_<fg>_<placement> "
                    f"(e.g. bg_001_fg_001_01.jpg), so its background cannot be found."
                )
            for table, folder, name in (
                (backgrounds, "bg_jpg", match["bg"]),
                (masks, "mask_black_jpg", stem),
                (depths, "depth_fg_bg_jpg", stem),
            ):
                if name not in table:
                    raise DataError(
                        f"{self.root / folder / (name + '.jpg')}: missing; {fg_bg[stem]} needs it."
                    )
            self.items.append((fg_bg[stem], backgrounds[match["bg"]], masks[stem], depths[stem]))
        meta = _read_meta(self.root)
        self.max_depth = float(meta.get("max_depth", DEFAULT_MAX_DEPTH))
        self.intrinsics: dict[str, list[float]] = meta.get("intrinsics", {})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        fg_bg_path, bg_path, mask_path, depth_path = self.items[item]
        image = read_rgb(fg_bg_path, str(fg_bg_path))
        background = read_rgb(bg_path, str(bg_path))
        mask = read_grey(mask_path, str(mask_path))
        values = read_grey(depth_path, str(depth_path))
        for path, array in ((bg_path, background), (mask_path, mask), (depth_path, values)):
            check_same_size(array.shape, image.shape, f"{path} (paired with {fg_bg_path})")
        depth = values.astype(np.float32) * np.float32(self.max_depth / 255.0)
        intrinsics = self.intrinsics.get(fg_bg_path.stem) or scale_intrinsics(
            NYU_INTRINSICS, NYU_SIZE, image.shape[:2]
        )
        sample = make_sample(
            image, depth, values > 0, intrinsics, mask=mask >= 128, background=background
        )
        return self.transform(sample) if self.transform else sample


def write_fgbg_dataset(
    root: Path | str,
    n_scenes: int,
    size: tuple[int, int] = (160, 160),
    seed: int = 0,
    max_depth: float = DEFAULT_MAX_DEPTH,
) -> Path:
    """Render ``n_scenes`` synthetic rooms (:func:`render_room`) into the seed's layout at ``root``.

    Scene i (0-based) becomes background ``bg_{i+1:03d}.jpg`` and one fg-on-bg picture
    ``bg_{i+1:03d}_fg_{i+1:03d}_01.jpg`` (the room's objects are the foreground) with its mask and
    its depth ``round(depth / max_depth * 255)``, clipped to 1..255 so that every rendered pixel
    stays valid. ``fgbg_meta.json`` records max_depth, each picture's intrinsics, and the
    arguments. Everything is written into a temporary folder next to ``root``, then renamed.

    Returns:
        ``root``. If ``root`` already holds a dataset written with the same arguments, it is
        returned as is.

    Raises:
        DataError: ``root`` exists and holds something else.
    """
    root = Path(root)
    if int(n_scenes) < 1:
        raise DataError(f"write_fgbg_dataset: n_scenes must be >= 1, got {n_scenes!r}")
    params = {
        "n_scenes": int(n_scenes),
        "size": [int(s) for s in size],
        "seed": int(seed),
        "max_depth": float(max_depth),
    }
    if root.exists():
        if _read_meta(root).get("params") == params:
            return root
        raise DataError(
            f"{root}: already exists and was not written by write_fgbg_dataset with {params}; "
            f"delete it or choose another folder."
        )
    with atomic_path(root) as tmp:
        for folder in FOLDERS:
            (tmp / folder).mkdir(parents=True)
        intrinsics = {}
        for i in range(n_scenes):
            scene = render_room(seed, (int(size[0]), int(size[1])), index=i)
            bg, name = f"bg_{i + 1:03d}", f"bg_{i + 1:03d}_fg_{i + 1:03d}_01"
            values = np.clip(np.round(scene["depth"] / max_depth * 255.0), 1, 255).astype(np.uint8)
            Image.fromarray(scene["background"]).save(tmp / "bg_jpg" / f"{bg}.jpg", quality=95)
            Image.fromarray(scene["image"]).save(tmp / "fg_bg_jpg" / f"{name}.jpg", quality=95)
            mask = scene["mask"].astype(np.uint8) * 255
            Image.fromarray(mask).save(tmp / "mask_black_jpg" / f"{name}.jpg", quality=100)
            Image.fromarray(values).save(tmp / "depth_fg_bg_jpg" / f"{name}.jpg", quality=100)
            intrinsics[name] = [float(v) for v in scene["intrinsics"]]
        meta = {
            "format": "depthnb-fgbg",
            "depth_encoding": "metres = value / 255 * max_depth; value 0 = invalid",
            "max_depth": float(max_depth),
            "intrinsics": intrinsics,
            "params": params,
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1))
    return root
