"""Datasets, transforms, downloads and the decode-once cache.

Every dataset yields the sample of :mod:`depthnb.data.sample`: a dict with ``image`` (3,H,W)
float32 in [0,1], ``depth`` (1,H,W) float32 metres (0 = unknown), ``valid`` (1,H,W) bool,
``intrinsics`` (4,) float32 fx, fy, cx, cy, and for the fg/bg lessons ``mask`` (1,H,W) and
``background`` (3,H,W).

Names are imported from their modules on first use.
"""

import importlib
from typing import Any

_NAMES = {
    # synthetic/: procedural RGB-D rooms
    "render_room": "synthetic",
    "render_camera_path": "synthetic",
    "render_street": "synthetic",
    "SyntheticRooms": "synthetic",
    "SyntheticFgBg": "synthetic",
    "SyntheticCameraPath": "synthetic",
    "to_sample": "synthetic",
    "synthetic_intrinsics": "synthetic",
    # nyu.py: NYU Depth v2
    "NYU_INTRINSICS": "nyu",
    "NYUv2Labeled": "nyu",
    "NYUDepthZip": "nyu",
    "NYUEigenTest": "nyu_eigen",
    # diode.py, fgbg.py
    "DIODE": "diode",
    "DIODE_INTRINSICS": "diode",
    "FgBgDepth": "fgbg",
    "write_fgbg_dataset": "fgbg",
    # kitti.py: KITTI's depth selection (outdoor, sparse LiDAR)
    "KITTIDepth": "kitti",
    "KITTI_SPLITS": "kitti",
    "write_kitti_selection": "kitti",
    # middlebury.py: Middlebury 2014's Motorcycle (scikit-image): real stereo and depth
    "StereoCalibration": "middlebury",
    "StereoPair": "middlebury",
    "MOTORCYCLE": "middlebury",
    "disparity_to_depth": "middlebury",
    "depth_to_disparity": "middlebury",
    "motorcycle_pair": "middlebury",
    "motorcycle_sample": "middlebury",
    # real_scenes.py: scikit-image's photographs, and composites on the Motorcycle's wall
    "PHOTOGRAPHS": "real_scenes",
    "photograph": "real_scenes",
    "photo_sample": "real_scenes",
    "window_composite": "real_scenes",
    "mirror_composite": "real_scenes",
    # download.py
    "download_url": "download",
    "download_dataset": "download",
    "DATASETS": "download",
    "safe_extract": "download",
    "fetch_remote": "download",
    "RemoteFile": "download",
    # cache.py, memory.py: decoded once, on disk or in memory
    "DepthCache": "cache",
    "build_cache": "cache",
    "InMemoryDataset": "memory",
    "median_depth": "memory",
    # sample.py: the sample's keys and checks; augment.py: batch augmentation
    "check_sample": "sample",
    "to_float": "sample",
    "BatchAugment": "augment",
    # photo.py: a user's own image, upright and RGB, within a pixel limit
    "open_image": "photo",
    "load_image": "photo",
}
_SUBMODULES = {
    "augment",
    "cache",
    "colour",
    "diode",
    "download",
    "fgbg",
    "functional",
    "io",
    "kitti",
    "memory",
    "middlebury",
    "nyu",
    "nyu_eigen",
    "photo",
    "real_scenes",
    "sample",
    "synthetic",
    "transforms",
}

__all__ = sorted(_NAMES) + sorted(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"depthnb.data.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"depthnb.data.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'depthnb.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
