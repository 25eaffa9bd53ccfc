"""Evaluation protocols: the crops of NYU and KITTI, and the named protocols that fix which pixels
count (crop, depth range) and how they are averaged.

NYU crops are slice bounds on a 480x640 image, scaled to other sizes. KITTI's are fractions of
the frame, as in the evaluation code of the Eigen-split papers (monodepth2's, BTS's), which
truncate ``fraction * size`` to an integer:

==============  ===========================  ===========================
crop            rows                         columns
==============  ===========================  ===========================
``kitti_garg``  0.40810811 H to 0.99189189 H  0.03594771 W to 0.96405229 W
``kitti_eigen`` 0.3324324 H to 0.91351351 H   0.0359477 W to 0.96405229 W
==============  ===========================  ===========================

The fractions are of the original 375x1242 frame. The 352x1216 images of KITTI's depth selection
(the "KB crop": the bottom 352 rows, the centred 1216 columns) are taken as cut from a 375x1242
frame (rows 23:375, cols 13:1229), so their crop is the frame's, moved into the cut: Garg rows
130:348, cols 31:1184 (the frame's 153:371, 44:1197). Any other size is taken as a whole frame.
Code that applies the fractions to the 352x1216 array itself (ZoeDepth's, for instance) gets rows
143:349, cols 43:1172 instead; pass those bounds explicitly to reproduce it.

>>> crop_box((375, 1242), "kitti_garg"), crop_box((352, 1216), "kitti_garg")
((153, 371, 44, 1197), (130, 348, 31, 1184))
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

from depthnb.errors import ArgumentError, ShapeError

# Crops as (top, bottom, left, right) Python slice bounds on a 480x640 image: DenseDepth's (its
# evaluate.py's eigen_test_crop.npy) and the NYU toolbox's valid projection area.
CROPS: dict[str, tuple[int, int, int, int]] = {
    "densedepth": (20, 460, 24, 616),
    "nyu_toolbox": (44, 471, 40, 601),
}
#: Former crop names and the name each has now. A former name is refused with a pointer to the
#: new one, so no old call silently scores another region.
RENAMED_CROPS: dict[str, str] = {"eigen": "densedepth"}
_CROP_REFERENCE_SIZE = (480, 640)

#: KITTI's crops as (top, bottom, left, right) fractions of the frame's height and width.
KITTI_CROPS: dict[str, tuple[float, float, float, float]] = {
    "kitti_garg": (0.40810811, 0.99189189, 0.03594771, 0.96405229),
    "kitti_eigen": (0.3324324, 0.91351351, 0.0359477, 0.96405229),
}
#: (H, W) of the KITTI frame the fractions refer to, and of the depth selection's KB crop of it.
KITTI_FRAME_SIZE = (375, 1242)
KB_CROP_SIZE = (352, 1216)

#: Named protocols: the settings of :func:`depthnb.metrics.depth_metrics` each one fixes.
PROTOCOLS: dict[str, dict[str, Any]] = {
    name: {"crop": crop, "min_depth": 1e-3, "max_depth": cap, "aggregate": aggregate}
    for name, crop, cap, aggregate in (
        # DenseDepth's NYU scoring (evaluate.py; its flip averaging is evaluate's flip_tta).
        ("nyu-densedepth", "densedepth", 10.0, "pooled"),
        # The Eigen-split KITTI protocols (monodepth2, BTS): 80 m cap, per-image means.
        ("kitti-garg", "kitti_garg", 80.0, "per_image"),
        ("kitti-eigen", "kitti_eigen", 80.0, "per_image"),
        # Garg et al.'s own cap, 50 m.
        ("kitti-garg-50", "kitti_garg", 50.0, "per_image"),
        ("kitti-eigen-50", "kitti_eigen", 50.0, "per_image"),
    )
}

#: The settings a protocol fixes, and their defaults when no protocol is named.
PROTOCOL_DEFAULTS: dict[str, Any] = {
    "crop": None,
    "min_depth": 1e-3,
    "max_depth": 10.0,
    "aggregate": "pooled",
}

Crop = str | tuple[int, int, int, int] | None


def _kitti_box(size: tuple[int, int], name: str) -> tuple[int, int, int, int]:
    """A KITTI crop's bounds on ``size``: on the 375x1242 frame moved into the KB crop for
    352x1216, otherwise on ``size`` itself (see the module)."""
    height, width = size
    if (height, width) == KB_CROP_SIZE:
        frame_h, frame_w = KITTI_FRAME_SIZE
        top0, left0 = frame_h - height, (frame_w - width) // 2
    else:
        frame_h, frame_w, top0, left0 = height, width, 0, 0
    top, bottom, left, right = KITTI_CROPS[name]
    return (
        min(max(int(top * frame_h) - top0, 0), height),
        min(max(int(bottom * frame_h) - top0, 0), height),
        min(max(int(left * frame_w) - left0, 0), width),
        min(max(int(right * frame_w) - left0, 0), width),
    )


def crop_box(
    size: tuple[int, int], crop: str | tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) slice bounds of a crop on an image of ``size`` (H, W) pixels.

    ``crop``: a name of :data:`CROPS` (defined on 480x640 and scaled to ``size`` proportionally,
    rounding to the nearest pixel), a name of :data:`KITTI_CROPS` (fractions, see the module), or
    explicit (top, bottom, left, right) bounds, returned as given.

    Raises:
        ArgumentError: an unknown name, a former name (:data:`RENAMED_CROPS`: the message
            gives the new one), or bounds that are not four integers.
        ShapeError: bounds that do not keep a non-empty region inside the image
            (``0 <= top < bottom <= H`` and ``0 <= left < right <= W``).
    """
    if not isinstance(crop, str):
        if (
            not isinstance(crop, (tuple, list))
            or len(crop) != 4
            or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in crop)
        ):
            raise ArgumentError(
                f"crop {crop!r} is not (top, bottom, left, right) slice bounds; pass four "
                f"integers or a name of {sorted(CROPS) + sorted(KITTI_CROPS)}"
            )
        top, bottom, left, right = (int(v) for v in crop)
        return _inside(size, crop, (top, bottom, left, right))
    if crop in KITTI_CROPS:
        return _inside(size, crop, _kitti_box(size, crop))
    if crop in RENAMED_CROPS:
        raise ArgumentError(renamed_crop_message(crop))
    if crop not in CROPS:
        raise ArgumentError(
            f"unknown crop {crop!r}; choose one of {sorted(CROPS) + sorted(KITTI_CROPS)} or None"
        )
    h, w = size
    ref_h, ref_w = _CROP_REFERENCE_SIZE
    top, bottom, left, right = CROPS[crop]
    box = (
        round(top * h / ref_h),
        round(bottom * h / ref_h),
        round(left * w / ref_w),
        round(right * w / ref_w),
    )
    return _inside(size, crop, box)


def renamed_crop_message(name: str) -> str:
    """What to do about a former crop name of :data:`RENAMED_CROPS`."""
    new = RENAMED_CROPS[name]
    top, bottom, left, right = CROPS[new]
    return (
        f"crop {name!r} is now called {new!r}: it is DenseDepth's crop (rows {top}:{bottom}, "
        f"columns {left}:{right} of 480x640), not Eigen et al.'s own; pass crop={new!r}"
    )


def _inside(
    size: tuple[int, int], crop: object, box: tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    """``box``, checked to keep a non-empty region of an image of ``size`` (H, W)."""
    height, width = size
    top, bottom, left, right = box
    if not (0 <= top < bottom <= height and 0 <= left < right <= width):
        raise ShapeError(
            f"crop {crop!r} gives rows {top}:{bottom}, columns {left}:{right}, which is not a "
            f"non-empty region of a {height}x{width} image; pass bounds with 0 <= top < bottom "
            f"<= {height} and 0 <= left < right <= {width}, or no crop"
        )
    return box


def resolve_protocol(protocol: str | None, **given: Any) -> dict[str, Any]:
    """The settings ``crop``, ``min_depth``, ``max_depth``, ``aggregate`` to score with.

    ``given`` holds the caller's values of those settings. Without a protocol they are returned as
    given; with one, the protocol's values are returned, and a given value other than its default
    (:data:`PROTOCOL_DEFAULTS`) is an ArgumentError: a protocol fixes them all.
    """
    if protocol is None:
        return given
    if protocol not in PROTOCOLS:
        raise ArgumentError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    clashes = {
        k: v for k, v in given.items() if k in PROTOCOLS[protocol] and v != PROTOCOL_DEFAULTS[k]
    }
    if clashes:
        raise ArgumentError(
            f"protocol {protocol!r} fixes {PROTOCOLS[protocol]}; do not also pass {clashes} "
            "(leave the protocol out and pass every setting yourself to change one)"
        )
    return {**given, **PROTOCOLS[protocol]}


# Published NYU Depth v2 results (654 test images), as printed in each paper's results table.
PUBLISHED: dict[str, dict[str, float]] = {
    "DenseDepth (paper)": {
        "delta1": 0.846,
        "delta2": 0.974,
        "delta3": 0.994,
        "abs_rel": 0.123,
        "rmse": 0.465,
        "log10": 0.053,
    },
    "DenseDepth (released weights, repo script)": {
        "delta1": 0.847,
        "delta2": 0.973,
        "delta3": 0.994,
        "abs_rel": 0.127,
        "rmse": 0.549,
        "log10": 0.054,
    },
    "DenseDepth (released weights, script's arguments in order)": {
        "delta1": 0.847,
        "delta2": 0.973,
        "delta3": 0.994,
        "abs_rel": 0.123,
        "rmse": 0.549,
        "log10": 0.054,
    },
    "FCRN (paper)": {
        "delta1": 0.811,
        "delta2": 0.953,
        "delta3": 0.988,
        "abs_rel": 0.127,
        "rmse": 0.573,
        "log10": 0.055,
    },
}
