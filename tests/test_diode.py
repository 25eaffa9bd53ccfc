"""DIODE reader on a fixture in its folder layout (png + _depth.npy (H,W,1) + _depth_mask.npy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixture_writers import patterned_depths, patterned_images, write_diode_scan

from depthnb.data.diode import DIODE, DIODE_INTRINSICS
from depthnb.errors import DataError

H, W = 12, 16


@pytest.fixture
def diode_root(tmp_path):
    images, depths = patterned_images(2, H, W), patterned_depths(2, H, W)
    mask = np.ones((H, W), dtype=bool)
    mask[4:7, 10:14] = False
    depths[0, 0, 5] = np.nan
    write_diode_scan(
        tmp_path, "val", "indoors", "00019_00183_indoors_000_010", images[0], depths[0], mask
    )
    write_diode_scan(
        tmp_path,
        "val",
        "outdoor",
        "00022_00195_outdoor_000_000",
        images[1],
        depths[1],
        np.ones((H, W), dtype=bool),
    )
    return tmp_path


def test_diode_sample_is_metric_masked_and_upright(diode_root):
    dataset = DIODE(diode_root, split="val", domain="indoors")
    assert len(dataset) == 1
    sample = dataset[0]
    expected = torch.from_numpy(patterned_depths(2, H, W)[0])
    valid = sample["valid"][0]
    assert valid.shape == (H, W) and not valid[4:7, 10:14].any() and not valid[0, 5]
    assert int(valid.sum()) == H * W - 12 - 1
    torch.testing.assert_close(sample["depth"][0][valid], expected[valid])
    assert torch.all(sample["depth"][0][~valid] == 0)
    image = torch.from_numpy(patterned_images(2, H, W)[0].transpose(2, 0, 1).copy()).float() / 255
    torch.testing.assert_close(sample["image"], image)
    fx, fy, cx, cy = DIODE_INTRINSICS
    torch.testing.assert_close(
        sample["intrinsics"],
        torch.tensor(
            [fx * W / 1024, fy * H / 768, (cx + 0.5) * W / 1024 - 0.5, (cy + 0.5) * H / 768 - 0.5]
        ),
    )


def test_diode_domains(diode_root):
    assert len(DIODE(diode_root, domain="outdoor")) == 1
    both = DIODE(diode_root, domain="all", transform=lambda s: {**s, "depth": s["depth"] * 2})
    assert len(both) == 2
    assert both[1]["depth"][0, 0, 0] == pytest.approx(2 * 2.0)  # outdoor: 1 m + 1 m, doubled
    with pytest.raises(DataError, match="domain 'indoor' unknown"):
        DIODE(diode_root, domain="indoor")


def test_full_size_intrinsics(tmp_path):
    write_diode_scan(
        tmp_path,
        "val",
        "indoors",
        "a",
        patterned_images(1, 768, 1024)[0],
        patterned_depths(1, 768, 1024)[0],
        np.ones((768, 1024), dtype=bool),
    )
    assert DIODE(tmp_path)[0]["intrinsics"].tolist() == pytest.approx(list(DIODE_INTRINSICS))


def test_empty_and_incomplete_folders_raise_data_error(tmp_path, diode_root):
    with pytest.raises(DataError, match="download diode-val"):
        DIODE(tmp_path / "nothing")
    (tmp_path / "empty" / "val" / "indoors").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        DIODE(tmp_path / "empty")
    scan = diode_root / "val" / "indoors" / "scene_00001" / "scan_00001"
    (scan / "00019_00183_indoors_000_010_depth_mask.npy").unlink()
    with pytest.raises(DataError, match="_depth_mask.npy: missing"):
        DIODE(diode_root)


def test_bad_files_raise_data_error_naming_them(tmp_path):
    image, depth = patterned_images(1, H, W)[0], patterned_depths(1, H, W)[0]
    mask = np.ones((H, W), dtype=bool)
    cases = []
    png = write_diode_scan(
        tmp_path / "small", "val", "indoors", "a", image, depth[:, :-1], mask[:, :-1]
    )
    cases.append((tmp_path / "small", png.with_name("a_depth.npy"), r"has size \(12, 15\)"))
    png = write_diode_scan(tmp_path / "corrupt", "val", "indoors", "a", image, depth, mask)
    png.with_name("a_depth.npy").write_bytes(png.with_name("a_depth.npy").read_bytes()[:100])
    cases.append((tmp_path / "corrupt", png.with_name("a_depth.npy"), "truncated or corrupt"))
    png = write_diode_scan(tmp_path / "unreadable", "val", "indoors", "a", image, depth, mask)
    png.write_bytes(png.read_bytes()[:50])
    cases.append((tmp_path / "unreadable", png, "cannot be read as an image"))
    png = write_diode_scan(tmp_path / "shape", "val", "indoors", "a", image, depth, mask)
    np.save(png.with_name("a_depth.npy"), np.zeros((H, W, 2), np.float32))
    cases.append((tmp_path / "shape", png.with_name("a_depth.npy"), r"expected \(H,W,1\)"))
    for root, path, message in cases:
        with pytest.raises(DataError, match=message) as error:
            DIODE(root)[0]
        assert str(path) in str(error.value)
