"""The outdoor protocol: KITTI's crops by hand, SILog against numpy, named protocols, and zero-shot
alignment in disparity."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import depthnb.metrics.protocols
from depthnb.errors import ArgumentError
from depthnb.metrics import (
    PROTOCOLS,
    DepthMetricAccumulator,
    align_in_disparity,
    crop_box,
    crop_mask,
    depth_metrics,
)
from depthnb.train.tasks.depth import DepthMeter


def test_doctests() -> None:
    assert doctest.testmod(depthnb.metrics.protocols).failed == 0


@pytest.mark.parametrize(
    ("size", "crop", "box"),
    [
        # 0.40810811 * 375 = 153.04, 0.99189189 * 375 = 371.96, 0.03594771 * 1242 = 44.65,
        # 0.96405229 * 1242 = 1197.35: truncated, as monodepth2 and BTS do.
        ((375, 1242), "kitti_garg", (153, 371, 44, 1197)),
        # 0.3324324 * 375 = 124.66, 0.91351351 * 375 = 342.57; columns as Garg's.
        ((375, 1242), "kitti_eigen", (124, 342, 44, 1197)),
        # The KB crop keeps rows 23:375 and columns 13:1229 of the 375x1242 frame.
        ((352, 1216), "kitti_garg", (153 - 23, 371 - 23, 44 - 13, 1197 - 13)),
        ((352, 1216), "kitti_eigen", (124 - 23, 342 - 23, 44 - 13, 1197 - 13)),
        # A 2011_10_03 frame, 376x1241: 153.45, 372.95, 44.61, 1196.39.
        ((376, 1241), "kitti_garg", (153, 372, 44, 1196)),
    ],
)
def test_kitti_crops_by_hand(size, crop, box) -> None:
    assert crop_box(size, crop) == box
    top, bottom, left, right = box
    mask = crop_mask(size, crop)
    assert mask.sum() == (bottom - top) * (right - left)
    assert mask[top, left] and mask[bottom - 1, right - 1]
    assert not mask[top - 1, left] and not mask[top, left - 1]
    assert not mask[bottom, right - 1] and not mask[bottom - 1, right]


def test_nyu_crops_unchanged_and_unknown_names() -> None:
    assert crop_box((480, 640), "densedepth") == (20, 460, 24, 616)
    assert crop_box((480, 640), "nyu_toolbox") == (44, 471, 40, 601)
    with pytest.raises(ArgumentError, match="kitti_garg"):
        crop_box((375, 1242), "garg")


def test_the_former_name_of_densedepths_crop_is_refused_with_the_new_one() -> None:
    """The name "eigen" was DenseDepth's crop. It scores nothing now, so it can never silently
    mean another region; the error says which name to use."""
    with pytest.raises(ArgumentError, match="now called 'densedepth'.*rows 20:460"):
        crop_box((480, 640), "eigen")
    with pytest.raises(ArgumentError, match="crop='densedepth'"):
        depth_metrics(torch.ones(1, 1, 48, 64), torch.ones(1, 1, 48, 64), crop="eigen")
    assert PROTOCOLS["nyu-densedepth"]["crop"] == "densedepth"


def _silog(pred: np.ndarray, gt: np.ndarray) -> float:
    e = np.log(pred) - np.log(gt)
    return float(np.sqrt(np.mean(e**2) - np.mean(e) ** 2) * 100)


def test_silog_against_numpy() -> None:
    rng = np.random.default_rng(0)
    gt = rng.uniform(2, 70, (3, 30, 40))
    pred = gt * np.exp(rng.normal(0.1, 0.2, gt.shape))
    gt[:, :10] = 0  # no LiDAR return above the horizon
    gt[1, 20:, 30:] = 0
    pred = np.clip(pred, 1e-3, 80.0)  # what depth_metrics does to pred under an 80 m cap
    per_image = [_silog(p[g > 0], g[g > 0]) for p, g in zip(pred, gt)]
    pooled = _silog(pred[gt > 0], gt[gt > 0])
    kwargs = {"max_depth": 80.0}
    assert depth_metrics(pred, gt, aggregate="per_image", **kwargs)["silog"] == pytest.approx(
        np.mean(per_image), rel=1e-9
    )
    assert depth_metrics(pred, gt, **kwargs)["silog"] == pytest.approx(pooled, rel=1e-9)
    assert 15 < pooled < 25  # 100 * the spread (0.2) of the log error
    # Scale-invariant: a global factor leaves it at 0, in float32 too.
    gt32 = torch.tensor(gt, dtype=torch.float32)
    assert depth_metrics(gt32 * 1.1, gt32, **kwargs)["silog"] == pytest.approx(0, abs=1e-3)
    # Streaming gives the same.
    acc = DepthMetricAccumulator(max_depth=80.0)
    for i in range(3):
        acc.update(pred[i : i + 1], gt[i : i + 1])
    assert acc.compute("per_image")["silog"] == pytest.approx(np.mean(per_image), rel=1e-9)


def test_kitti_protocol_caps_crops_and_averages_per_image() -> None:
    rng = np.random.default_rng(1)
    gt = rng.uniform(1, 100, (2, 375, 1242))  # some beyond the 80 m cap
    pred = gt * np.exp(rng.normal(0, 0.1, gt.shape))
    pred[:, :150] = 500.0  # wrong above the Garg crop: must not count
    named = depth_metrics(pred, gt, protocol="kitti-garg")
    spelled = depth_metrics(pred, gt, crop="kitti_garg", max_depth=80, aggregate="per_image")
    assert named == spelled
    top, bottom, left, right = 153, 371, 44, 1197
    g, p = gt[:, top:bottom, left:right], pred[:, top:bottom, left:right]
    rows = []
    for gi, pi in zip(g, np.clip(p, 1e-3, 80.0)):
        keep = (gi >= 1e-3) & (gi <= 80.0)
        rows.append(np.mean(np.abs(gi[keep] - pi[keep]) / gi[keep]))
    assert named["abs_rel"] == pytest.approx(np.mean(rows), rel=1e-9)
    assert depth_metrics(pred, gt, protocol="kitti-garg-50")["rmse"] < named["rmse"]
    assert PROTOCOLS["kitti-eigen"]["crop"] == "kitti_eigen"
    acc = DepthMetricAccumulator(protocol="kitti-garg")
    acc.update(pred, gt)
    assert acc.compute() == pytest.approx(named)  # the protocol's per-image mean by default
    meter = DepthMeter(protocol="kitti-garg")  # what a Trainer's task validates with
    meter.update({"depth": torch.tensor(pred)}, {"depth": torch.tensor(gt)})
    assert meter.compute() == pytest.approx(named)
    with pytest.raises(ArgumentError, match="fixes"):
        depth_metrics(pred, gt, protocol="kitti-garg", max_depth=50.0)
    with pytest.raises(ArgumentError, match="unknown protocol"):
        depth_metrics(pred, gt, protocol="kitti")


def test_align_in_disparity_recovers_depth_and_clamps() -> None:
    rng = np.random.default_rng(2)
    gt = rng.uniform(2, 60, (2, 1, 20, 24))
    valid = rng.uniform(size=gt.shape) > 0.4
    relative = np.array([0.4, 30.0]).reshape(2, 1, 1, 1) / gt + np.array([-2.0, 0.5]).reshape(
        2, 1, 1, 1
    )  # a relative model's disparity: any scale > 0 and shift per image
    aligned = align_in_disparity(torch.tensor(relative), torch.tensor(gt), valid, max_depth=80.0)
    assert aligned.shape == (2, 1, 20, 24) and aligned.dtype == torch.float64  # the shape given
    torch.testing.assert_close(aligned, torch.tensor(gt), rtol=1e-9, atol=0)
    # Ground truth outside the mask is never read.
    hidden = np.where(valid, gt, 1e6)
    torch.testing.assert_close(align_in_disparity(relative, hidden, valid, max_depth=80.0), aligned)
    # Against lstsq on noisy disparity, then the clamp to [1/80, 1/1e-3] before inverting.
    noisy = relative + rng.normal(0, 0.05, gt.shape)
    expected = []
    for p, g, m in zip(noisy[:, 0], gt[:, 0], valid[:, 0]):
        design = np.stack([p[m], np.ones(m.sum())], axis=1)
        (s, t), *_ = np.linalg.lstsq(design, 1 / g[m], rcond=None)
        expected.append(1 / np.clip(s * p + t, 1 / 80.0, 1 / 1e-3))
    result = align_in_disparity(noisy, gt, valid, max_depth=80.0).numpy()
    np.testing.assert_allclose(result, np.stack(expected)[:, None], rtol=1e-9)
    assert result.max() <= 80.0 and result.min() >= 1e-3
    sky = relative.copy()
    sky[:, :, 0] = -50.0  # far below any fitted disparity, outside the mask
    no_sky = valid.copy()
    no_sky[:, :, 0] = False
    far = align_in_disparity(sky, gt, no_sky, max_depth=80.0)
    assert torch.all(far[:, :, 0] == 80.0)  # negative aligned disparity: as far as the cap
    torch.testing.assert_close(far[:, :, 1:], aligned[:, :, 1:])


def test_zero_shot_scoring_through_depth_metrics() -> None:
    rng = np.random.default_rng(3)
    gt = rng.uniform(0.5, 9, (2, 48, 64))
    relative = 3.0 / gt + 1.0
    scored = depth_metrics(relative, gt, align="disparity", protocol="nyu-densedepth")
    assert scored["abs_rel"] == pytest.approx(0, abs=1e-9) and scored["delta1"] == 1.0
    # Fitting in depth instead cannot undo the inversion.
    assert depth_metrics(relative, gt, align="scale_shift")["abs_rel"] > 0.05
