"""The standard depth metrics, the evaluation protocols around them, and mask IoU.

Depth metrics compare metres with metres. Which pixels count, and how they are averaged, is the
*protocol*, and published numbers differ as much through it as through the models:

- valid pixels: ground truth > 0, inside [min_depth, max_depth], inside the ``valid`` mask and the
  crop; the prediction is clamped to [min_depth, max_depth];
- crops: ``"densedepth"`` (DenseDepth's, rows 20:460 and cols 24:616 of 480x640; formerly
  ``"eigen"``, a name now refused with a pointer to the new one) and ``"nyu_toolbox"`` (rows
  44:471, cols 40:601), scaled proportionally for other sizes; KITTI's ``"kitti_garg"`` and
  ``"kitti_eigen"``, fractions of the frame (:mod:`depthnb.metrics.protocols`);
- aggregation: ``"pooled"`` averages over all valid pixels of all images (DenseDepth),
  ``"per_image"`` computes each image's metrics and averages those (the KITTI papers);
- alignment for relative-depth models: ``"median"`` scaling or ``"scale_shift"`` (least squares),
  or ``"disparity"`` (least squares in disparity, for a model that predicts disparity), per
  image, before clamping (:mod:`depthnb.metrics.align`);
- named protocols (:data:`PROTOCOLS`), ``protocol="kitti-garg"`` say: the crop, the depth range
  (KITTI caps at 80 m, Garg et al. at 50 m) and the aggregation at once.

=========================  =======================================================================
module                     what it holds
=========================  =======================================================================
``metrics.depth``          :func:`depth_metrics`, the streaming :class:`DepthMetricAccumulator`
``metrics.align``          median, scale-and-shift, disparity alignment; the one least-squares fit
``metrics.protocols``      the crops, the named protocols, the published NYU rows
``metrics.evaluation``     :func:`evaluate` (a model over a test set), :func:`format_table`
``metrics.mask``           :func:`mask_iou`, pooled over pixels
``metrics.calibration``    :func:`uncertainty_calibration`: predicted error scale against observed
``metrics.baseline``       :class:`ConstantDepth` and the best constants: the bar to beat
``metrics.stereo``         end-point error and bad-pixel rate of disparities (stereo benchmarks)
=========================  =======================================================================

Names are imported from their modules on first use.
"""

import importlib
from typing import Any

_NAMES = {
    "depth": (
        "HIGHER_IS_BETTER",
        "METRIC_NAMES",
        "DepthMetricAccumulator",
        "crop_mask",
        "depth_metrics",
    ),
    "align": ("align_in_disparity", "align_scale_shift", "fit_scale_shift", "median_scale"),
    "protocols": ("CROPS", "KITTI_CROPS", "PROTOCOLS", "PUBLISHED", "RENAMED_CROPS", "crop_box"),
    "evaluation": ("evaluate", "format_table"),
    "mask": ("mask_iou",),
    "calibration": ("uncertainty_calibration",),
    "baseline": ("ConstantDepth", "best_constants"),
    "stereo": ("bad_pixel_rate", "best_constant_disparity", "end_point_error", "stereo_metrics"),
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"depthnb.metrics.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'depthnb.metrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
