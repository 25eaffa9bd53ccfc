"""Middlebury 2014's Motorcycle from scikit-image (depthnb.data.middlebury): its depth, its
calibration after a resize, the disparity <-> depth rule both ways, and the errors when
scikit-image or its files are missing. Expectations are derived here by hand from the calibration
in scikit-image's docstring, not by calling the code under test."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from depthnb.data import (
    MOTORCYCLE,
    depth_to_disparity,
    disparity_to_depth,
    motorcycle_pair,
    motorcycle_sample,
)
from depthnb.data.middlebury import MOTORCYCLE_SIZE, StereoCalibration
from depthnb.data.sample import check_sample
from depthnb.errors import DataError, MissingPackageError

# help(skimage.data.stereo_motorcycle), scikit-image 0.26
FOCAL, CX, CY, DOFFS, BASELINE = 994.978, 311.193, 254.877, 31.086, 0.193001


@pytest.fixture(scope="module")
def pair():
    pytest.importorskip("skimage")
    return motorcycle_pair()


@pytest.fixture(scope="module")
def sample():
    pytest.importorskip("skimage")
    return motorcycle_sample()


def test_calibration_is_the_docstrings():
    assert MOTORCYCLE == StereoCalibration(FOCAL, CX, CY, DOFFS, BASELINE)
    assert MOTORCYCLE.intrinsics == (FOCAL, FOCAL, CX, CY)
    # the principal point lies inside the 741-wide, 500-high image, x along the width
    assert 0 < CX < MOTORCYCLE_SIZE[1] and 0 < CY < MOTORCYCLE_SIZE[0]


def test_pair_shapes_and_types(pair):
    assert pair.left.shape == pair.right.shape == (500, 741, 3)
    assert pair.left.dtype == pair.right.dtype == np.uint8
    assert pair.disparity.shape == (500, 741) and pair.disparity.dtype == np.float32
    assert pair.calibration is MOTORCYCLE


def test_sample_follows_the_convention(sample):
    assert check_sample(sample) == (500, 741)
    assert sample["image"].dtype == torch.float32
    assert 0.0 <= float(sample["image"].min()) and float(sample["image"].max()) <= 1.0
    assert sample["depth"].dtype == torch.float32 and sample["valid"].dtype == torch.bool
    assert torch.equal(sample["valid"], sample["depth"] > 0)
    assert torch.equal(sample["intrinsics"], torch.tensor([FOCAL, FOCAL, CX, CY]))


def test_depth_range_is_the_measured_one(sample):
    depth = sample["depth"][sample["valid"]].double()
    low, median, high = (float(q) for q in depth.quantile(torch.tensor([0.0, 0.5, 1.0]).double()))
    print(
        f"valid {depth.numel() / sample['depth'].numel():.4f}, depth m: min {low:.4f} "
        f"median {median:.4f} max {high:.4f}"
    )
    # Measured (scikit-image 0.26): 92.65% valid; min 2.1104 m (disparity 59.91 px), median
    # 2.7504 m, max 5.0168 m (disparity 7.19 px, the back wall). A camera 2-5 m from a
    # motorcycle in a room; bounds kept loose around those numbers.
    assert 0.92 < depth.numel() / sample["depth"].numel() < 0.93
    assert 2.0 < low < 2.2
    assert 2.6 < median < 2.9
    assert 4.9 < high < 5.1


def test_depth_times_shifted_disparity_is_focal_times_baseline(pair, sample):
    known = np.isfinite(pair.disparity)
    depth = sample["depth"][0].numpy().astype(np.float64)
    product = depth[known] * (pair.disparity[known].astype(np.float64) + DOFFS)
    # float32 depth: equal to f * B up to float32's rounding of the depth (2**-24 relative)
    np.testing.assert_allclose(product, FOCAL * BASELINE, rtol=1e-7)
    wide = pair.disparity.astype(np.float64)
    exact = disparity_to_depth(wide, MOTORCYCLE)
    assert exact.dtype == np.float64
    np.testing.assert_allclose(exact[known] * (wide[known] + DOFFS), FOCAL * BASELINE, rtol=1e-15)


def test_unknown_disparities_are_invalid(pair, sample):
    unknown = ~np.isfinite(pair.disparity)
    assert np.isinf(pair.disparity).sum() == unknown.sum() == 27226  # inf, not NaN, in 0.26
    assert np.array_equal(~sample["valid"][0].numpy(), unknown)
    assert (sample["depth"][0].numpy()[unknown] == 0).all()


def test_disparity_rule_on_its_edges():
    disparity = np.array([np.nan, np.inf, -np.inf, -DOFFS, -DOFFS - 1, 0.0, 10.0])
    depth = disparity_to_depth(disparity, MOTORCYCLE)
    assert (depth[:5] == 0).all()  # not finite, or at/behind infinity (d + doffs <= 0)
    # a disparity of 0 is a real depth here (Middlebury's doffs), not a hole as in KITTI
    np.testing.assert_allclose(depth[5:], FOCAL * BASELINE / (np.array([0.0, 10.0]) + DOFFS))
    back = depth_to_disparity(np.array([0.0, -1.0, np.nan, np.inf, 2.0]), MOTORCYCLE)
    assert np.isinf(back[:4]).all() and back[4] == pytest.approx(FOCAL * BASELINE / 2.0 - DOFFS)
    counts = disparity_to_depth(np.array([20], np.int64), MOTORCYCLE)
    assert counts.dtype == np.float32


def test_round_trip_numpy_and_torch(pair):
    disparity = pair.disparity
    known = np.isfinite(disparity)
    back = depth_to_disparity(disparity_to_depth(disparity, MOTORCYCLE), MOTORCYCLE)
    assert back.dtype == np.float32 and back.shape == disparity.shape
    np.testing.assert_allclose(back[known], disparity[known], rtol=1e-5, atol=1e-4)
    assert np.isinf(back[~known]).all()

    tensor = torch.from_numpy(disparity)[None, None]  # (B,1,H,W)
    depth = disparity_to_depth(tensor, MOTORCYCLE)
    assert isinstance(depth, torch.Tensor) and depth.shape == (1, 1, 500, 741)
    assert depth.dtype == torch.float32
    np.testing.assert_array_equal(depth[0, 0].numpy(), disparity_to_depth(disparity, MOTORCYCLE))
    back_tensor = depth_to_disparity(depth, MOTORCYCLE)
    assert torch.allclose(back_tensor[0, 0][known], tensor[0, 0][known], rtol=1e-5, atol=1e-4)


def test_right_view_matches_at_u_minus_disparity(pair):
    """Left (v, u) is right (v, u - d): what a stereo lesson's matcher must assume."""
    grey_left = pair.left.mean(-1)
    grey_right = pair.right.mean(-1)
    rows, cols = np.nonzero(np.isfinite(pair.disparity))
    errors = {}
    for sign in (-1, 1):
        match = np.rint(cols + sign * pair.disparity[rows, cols]).astype(int)
        inside = (match >= 0) & (match < pair.disparity.shape[1])
        difference = grey_left[rows[inside], cols[inside]] - grey_right[rows[inside], match[inside]]
        errors[sign] = np.abs(difference).mean()
    # measured: 7.8 grey levels at u - d, 45.0 at u + d
    assert errors[-1] < 10 and errors[1] > 4 * errors[-1]


@pytest.mark.parametrize("size", [(250, 370), (333, 500), (500, 741), (640, 960)])
def test_resized_sample_intrinsics_and_depth(sample, size):
    height, width = size
    resized = motorcycle_sample(size=size)
    assert check_sample(resized) == size
    # re-derived: pixel centres map as u' + 0.5 = (u + 0.5) * W'/W, so f scales by the ratio
    # and the principal point about the image's corner at (-0.5, -0.5)
    sx, sy = width / 741, height / 500
    expected = [FOCAL * sx, FOCAL * sy, (CX + 0.5) * sx - 0.5, (CY + 0.5) * sy - 0.5]
    np.testing.assert_allclose(resized["intrinsics"].numpy(), expected, rtol=1e-6)
    # depth resampled by nearest neighbour: metres unchanged, values of the original, holes kept
    depth, valid = resized["depth"], resized["valid"]
    assert torch.equal(valid, depth > 0)
    # each output pixel copies the input pixel under its centre, ties (u + 0.5 on an edge) up
    rows = np.floor((np.arange(height) + 0.5) / sy).astype(int).clip(0, 499)
    cols = np.floor((np.arange(width) + 0.5) / sx).astype(int).clip(0, 740)
    source = sample["depth"][0].numpy()[rows[:, None], cols[None, :]]
    np.testing.assert_array_equal(depth[0].numpy(), source)


def test_missing_scikit_image_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage.data", None)  # import fails as if not installed
    with pytest.raises(MissingPackageError, match="pip install scikit-image"):
        motorcycle_pair()
    with pytest.raises(ImportError):
        motorcycle_sample()


@pytest.mark.parametrize(
    "failure",
    [
        FileNotFoundError("motorcycle_disp.npz"),
        ModuleNotFoundError("requires the installation of an optional dependency, pooch"),
        ConnectionError("no internet connection"),
    ],
)
def test_missing_data_files_say_what_to_do(monkeypatch, failure):
    skimage_data = pytest.importorskip("skimage.data")

    def broken():
        raise failure

    monkeypatch.setattr(skimage_data, "stereo_motorcycle", broken)
    with pytest.raises(DataError, match="pip install --force-reinstall scikit-image"):
        motorcycle_sample()


def test_a_pair_of_another_size_is_refused(monkeypatch):
    skimage_data = pytest.importorskip("skimage.data")
    small = np.zeros((497, 741, 3), np.uint8)
    monkeypatch.setattr(
        skimage_data, "stereo_motorcycle", lambda: (small, small, np.zeros((497, 741)))
    )
    with pytest.raises(DataError, match=r"\(500, 741\)"):
        motorcycle_pair()
