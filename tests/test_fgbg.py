"""FgBgDepth on the seed's folder layout, hand-written and rendered by write_fgbg_dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from depthnb.data.fgbg import FgBgDepth, write_fgbg_dataset
from depthnb.data.nyu import NYU_INTRINSICS
from depthnb.data.synthetic import render_room
from depthnb.errors import DataError

SIZE = (32, 40)


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=100, subsampling=0)


def write_seed_layout(root, size=(8, 12)):
    """Two backgrounds (flat grey 60 and 200) and one fg_bg picture on the second, without
    metadata: depth value v stands for v / 255 * 10 m."""
    h, w = size
    for number, grey in ((1, 60), (2, 200)):
        _save(root / "bg_jpg" / f"bg_{number:03d}.jpg", np.full((h, w, 3), grey, np.uint8))
    name = "bg_002_fg_007_13.jpg"
    picture = np.full((h, w, 3), 200, np.uint8)
    picture[2:6, 3:8] = (255, 0, 0)
    _save(root / "fg_bg_jpg" / name, picture)
    mask = np.zeros((h, w), np.uint8)
    mask[2:6, 3:8] = 255
    _save(root / "mask_black_jpg" / name, mask)
    _save(root / "depth_fg_bg_jpg" / name, np.full((h, w), 51, np.uint8))
    return root


def test_reader_pairs_files_by_name_and_scales_depth(tmp_path):
    sample = FgBgDepth(write_seed_layout(tmp_path))[0]
    assert set(sample) == {"image", "background", "mask", "depth", "valid", "intrinsics"}
    assert sample["background"].mean() == pytest.approx(200 / 255, abs=2 / 255)  # bg_002
    expected_mask = torch.zeros(1, 8, 12)
    expected_mask[0, 2:6, 3:8] = 1
    assert torch.equal(sample["mask"], expected_mask)
    torch.testing.assert_close(sample["depth"], torch.full((1, 8, 12), 2.0), atol=0.05, rtol=0)
    assert bool(sample["valid"].all())
    assert sample["image"][0, 3, 4] > 0.9 and sample["image"][1, 3, 4] < 0.1
    fx, fy, cx, cy = NYU_INTRINSICS  # scaled to 8x12 about pixel centres
    expected = [
        fx * 12 / 640,
        fy * 8 / 480,
        (cx + 0.5) * 12 / 640 - 0.5,
        (cy + 0.5) * 8 / 480 - 0.5,
    ]
    torch.testing.assert_close(sample["intrinsics"], torch.tensor(expected))


def test_written_dataset_round_trips_the_renders(tmp_path):
    root = write_fgbg_dataset(tmp_path / "fgbg", n_scenes=3, size=SIZE, seed=4)
    assert sorted(p.name for p in (root / "fg_bg_jpg").iterdir()) == [
        "bg_001_fg_001_01.jpg",
        "bg_002_fg_002_01.jpg",
        "bg_003_fg_003_01.jpg",
    ]
    assert sorted(p.name for p in (root / "bg_jpg").iterdir())[0] == "bg_001.jpg"
    assert [p.name for p in tmp_path.iterdir()] == ["fgbg"]  # no temporary folder left behind
    dataset = FgBgDepth(root)
    assert len(dataset) == 3
    for index in range(3):
        scene, sample = render_room(4, SIZE, index=index), dataset[index]
        assert sample["image"].shape == (3, *SIZE) and sample["depth"].shape == (1, *SIZE)
        error = (sample["depth"][0] - torch.from_numpy(scene["depth"])).abs()
        assert float(error.mean()) < 0.05 and float(error.max()) < 0.25  # 8-bit JPEG, 10 m range
        agree = (sample["mask"][0] > 0) == torch.from_numpy(scene["mask"])
        assert float(agree.float().mean()) > 0.98
        image = torch.from_numpy(scene["image"].transpose(2, 0, 1).copy()).float() / 255
        assert float((sample["image"] - image).abs().mean()) < 0.03
        background = torch.from_numpy(scene["background"].transpose(2, 0, 1).copy()).float() / 255
        assert float((sample["background"] - background).abs().mean()) < 0.03
        torch.testing.assert_close(sample["intrinsics"], torch.from_numpy(scene["intrinsics"]))
        assert bool(sample["valid"].all())
    meta = json.loads((root / "fgbg_meta.json").read_text())
    assert meta["max_depth"] == 10.0 and len(meta["intrinsics"]) == 3


def test_writer_reuses_same_arguments_and_refuses_others(tmp_path):
    root = write_fgbg_dataset(tmp_path / "fgbg", n_scenes=1, size=SIZE)
    stamp = (root / "fg_bg_jpg" / "bg_001_fg_001_01.jpg").stat().st_mtime_ns
    assert write_fgbg_dataset(tmp_path / "fgbg", n_scenes=1, size=SIZE) == root
    assert (root / "fg_bg_jpg" / "bg_001_fg_001_01.jpg").stat().st_mtime_ns == stamp
    with pytest.raises(DataError, match="already exists"):
        write_fgbg_dataset(tmp_path / "fgbg", n_scenes=2, size=SIZE)


def test_bad_layouts_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="bg_jpg: missing"):
        FgBgDepth(tmp_path / "nothing")
    empty = tmp_path / "empty"
    for folder in ("bg_jpg", "fg_bg_jpg", "mask_black_jpg", "depth_fg_bg_jpg"):
        (empty / folder).mkdir(parents=True)
    with pytest.raises(DataError, match="holds no images"):
        FgBgDepth(empty)
    root = write_seed_layout(tmp_path / "no_mask")
    (root / "mask_black_jpg" / "bg_002_fg_007_13.jpg").unlink()
    with pytest.raises(DataError, match="mask_black_jpg/bg_002_fg_007_13.jpg: missing"):
        FgBgDepth(root)
    root = write_seed_layout(tmp_path / "bad_name")
    (root / "fg_bg_jpg" / "bg_002_fg_007_13.jpg").rename(root / "fg_bg_jpg" / "picture.jpg")
    with pytest.raises(DataError, match="picture.jpg: name does not follow"):
        FgBgDepth(root)
    root = write_seed_layout(tmp_path / "bad_meta")
    for meta, message in [
        ('{"max_depth": "ten"}', "'max_depth' is 'ten'"),
        ('{"intrinsics": {"bg_002_fg_007_13": [1, 2, 3]}}', "'intrinsics' must map"),
        ("[1, 2]", "expected a JSON object"),
    ]:
        (root / "fgbg_meta.json").write_text(meta)
        with pytest.raises(DataError, match=message):
            FgBgDepth(root)
    with pytest.raises(DataError, match="n_scenes must be >= 1"):
        write_fgbg_dataset(tmp_path / "none", n_scenes=0)
    assert not (tmp_path / "none").exists()


def test_bad_files_raise_data_error_naming_them(tmp_path):
    small = write_seed_layout(tmp_path / "small")
    _save(small / "depth_fg_bg_jpg" / "bg_002_fg_007_13.jpg", np.zeros((8, 11), np.uint8))
    broken = write_seed_layout(tmp_path / "broken")
    picture = broken / "fg_bg_jpg" / "bg_002_fg_007_13.jpg"
    picture.write_bytes(picture.read_bytes()[:40])
    for root, name, message in [
        (small, "depth_fg_bg_jpg/bg_002_fg_007_13.jpg", r"has size \(8, 11\)"),
        (broken, "fg_bg_jpg/bg_002_fg_007_13.jpg", "cannot be read as an image"),
    ]:
        with pytest.raises(DataError, match=message) as error:
            FgBgDepth(root)[0]
        assert str(root / name) in str(error.value)
