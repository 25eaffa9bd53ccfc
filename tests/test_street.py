"""The synthetic street: geometry of the road, LiDAR-like sparsity, and the round trip through
KITTI's layout (the package's writer, then the reader)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthnb.data import KITTIDepth, render_street, write_kitti_selection
from depthnb.data.synthetic.street import CAMERA_HEIGHT, LIDAR_RANGE
from depthnb.errors import DataError


@pytest.fixture(scope="module")
def street():
    return render_street(seed=3, size=(176, 608))


def test_the_road_lies_at_the_camera_height(street):
    fx, fy, cx, cy = street["intrinsics"]
    assert fx == pytest.approx(721.5377 / 2) and cy == pytest.approx((149.854 + 0.5) / 2 - 0.5)
    bottom = street["depth"][-1]  # the last row sees the road (or a car's side, nearer)
    road = CAMERA_HEIGHT * fy / (street["depth"].shape[0] - 1 - cy)
    assert np.median(bottom) == pytest.approx(road, rel=1e-5) and bottom.max() <= road * 1.0001
    assert street["image"].dtype == np.uint8 and street["image"].shape == (176, 608, 3)


def test_lidar_is_sparse_and_sees_no_sky_nor_the_top_rows(street):
    lidar, depth = street["lidar"], street["depth"]
    returns = lidar > 0
    assert np.array_equal(lidar[returns], depth[returns])  # a return measures the surface
    assert 0.1 < returns.mean() < 0.4
    assert not returns[:40].any()  # above +2 degrees of elevation
    assert (depth == 0).any() and not returns[depth == 0].any()  # sky: no return
    assert lidar.max() <= LIDAR_RANGE


def test_written_in_kitti_layout_it_reads_back(tmp_path, street):
    frames = [street, render_street(seed=4, size=(176, 608))]
    images = np.stack([f["image"] for f in frames])
    lidar = np.stack([f["lidar"] for f in frames])
    k = np.stack([f["intrinsics"] for f in frames])
    root = write_kitti_selection(tmp_path, images, lidar, k)
    assert root == tmp_path / "depth_selection"
    dataset = KITTIDepth(tmp_path)
    assert len(dataset) == 2
    sample = dataset[1]
    expected = torch.from_numpy(np.round(lidar[1] * 256) / 256).float()
    torch.testing.assert_close(sample["depth"][0], expected, rtol=0, atol=0)
    assert torch.equal(sample["valid"][0], torch.from_numpy(lidar[1] > 0))
    torch.testing.assert_close(sample["intrinsics"], torch.from_numpy(k[1]), rtol=1e-6, atol=0)
    with pytest.raises(DataError, match="test"):
        KITTIDepth(tmp_path, "test")  # test splits only when asked for
    write_kitti_selection(tmp_path, images[:1], lidar[:1], k[:1])
    assert len(KITTIDepth(tmp_path)) == 1  # replaced, not added to


def test_writer_refuses_what_kitti_cannot_store(tmp_path, street):
    images, lidar, k = street["image"][None], street["lidar"][None], street["intrinsics"][None]
    with pytest.raises(DataError, match="disagree"):
        write_kitti_selection(tmp_path, images, lidar[:, :-1], k)
    with pytest.raises(DataError, match=r"outside \[0, 256\) m"):
        write_kitti_selection(tmp_path, images, lidar + 300, k)
    assert not (tmp_path / "depth_selection").exists()
