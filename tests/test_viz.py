"""Depth pictures: colour maps, robust ranges, error maps, histograms, the comparison grid."""

import matplotlib
import numpy as np
import pytest
import torch

from depthnb import DepthnbError
from depthnb.viz import abs_rel_map, colorize, comparison_grid, depth_histogram, depth_range

matplotlib.use("Agg")


def _ramp(h=16, w=20):
    return np.tile(np.linspace(1.0, 5.0, w, dtype=np.float32), (h, 1))


@pytest.mark.parametrize("cmap", ["plasma", "jet", "magma", "turbo"])
def test_colorize_matches_matplotlib_and_blackens_invalid(cmap):
    depth = _ramp()
    depth[0, 0], depth[1, 1], depth[2, 2] = 0.0, np.nan, -1.0
    valid = np.ones_like(depth, dtype=bool)
    valid[3, 3] = False
    rgb = colorize(depth, cmap, vmin=1.0, vmax=5.0, valid=valid)
    assert rgb.dtype == np.uint8 and rgb.shape == (16, 20, 3)
    for y, x in [(0, 0), (1, 1), (2, 2), (3, 3)]:
        assert (rgb[y, x] == 0).all()
    expected = matplotlib.colormaps[cmap]((depth[5, 7] - 1.0) / 4.0)[:3]
    assert np.allclose(rgb[5, 7] / 255.0, expected, atol=1 / 255)


def test_colorize_accepts_tensors_and_channel_axis():
    depth = _ramp()
    a = colorize(depth, vmin=1, vmax=5)
    b = colorize(torch.from_numpy(depth)[None], vmin=1, vmax=5)
    assert np.array_equal(a, b)
    with pytest.raises(DepthnbError, match="one depth map"):
        colorize(np.zeros((2, 3, 4, 5)))
    with pytest.raises(DepthnbError, match="colour map"):
        colorize(depth, cmap="no-such-map")


def test_robust_range_ignores_outliers_and_invalid():
    depth = np.full((50, 50), 2.0, np.float32)
    depth[:25] = 4.0
    depth[0, 0] = 1000.0  # one far outlier
    depth[0, 1] = 0.0
    vmin, vmax = depth_range(depth)
    assert vmin == pytest.approx(2.0) and vmax == pytest.approx(4.0)
    rgb = colorize(depth)
    assert (rgb[30, 30] == colorize(depth, vmin=2, vmax=4)[30, 30]).all()
    assert depth_range(np.zeros((4, 4))) == (0.0, 1.0)


def test_abs_rel_map():
    gt = _ramp()
    gt[0, 0] = 0.0
    error = abs_rel_map(gt * 1.1, gt)
    assert np.isnan(error[0, 0])
    assert np.allclose(error[1:], 0.1, atol=1e-6)
    with pytest.raises(DepthnbError, match="differ in size"):
        abs_rel_map(gt[:8], gt)


def test_comparison_grid_shares_a_range_per_row():
    images = torch.rand(2, 3, 16, 20)
    gts = torch.from_numpy(np.stack([_ramp()[None], 2 * _ramp()[None]]))
    preds = gts * torch.tensor([1.0, 0.5]).view(2, 1, 1, 1)
    fig = comparison_grid(images, gts, preds, row_titles=["a", "b"])
    axes = np.array(fig.axes[:8]).reshape(2, 4)
    # row 0: perfect prediction -> the gt and pred images are identical
    assert np.array_equal(axes[0, 1].images[0].get_array(), axes[0, 2].images[0].get_array())
    # row 1: half the depth -> drawn darker/lower on the *same* scale, so the pictures differ
    assert not np.array_equal(axes[1, 1].images[0].get_array(), axes[1, 2].images[0].get_array())
    assert "0.500" in axes[1, 3].get_title()
    assert all(ax.get_xlabel() == "u (pixels)" for ax in axes.flat)
    with pytest.raises(DepthnbError, match="same number"):
        comparison_grid(images, gts[:1], preds)


def test_depth_histogram_labels():
    ax = depth_histogram({"gt": _ramp(), "pred": _ramp() * 1.2}, bins=10)
    assert ax.get_xlabel() == "depth (m)" and len(ax.patches) == 2
