"""KITTI's depth selection: the reader on a fixture in the real layout, and its download entry."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import numpy as np
import pytest
import torch
from fixture_writers import KITTI_DRIVE, write_kitti_selection
from PIL import Image
from test_download import FAST, Server

from depthnb.data import KITTIDepth
from depthnb.data.download import DATASETS, download_dataset
from depthnb.data.sample import check_sample
from depthnb.errors import DataError

H, W = 24, 40
VAL = "depth_selection/val_selection_cropped"
FIRST = f"{KITTI_DRIVE}_groundtruth_depth_0000000005_image_02.png"


@pytest.fixture
def kitti(tmp_path):
    return tmp_path, write_kitti_selection(tmp_path, 2, H, W)


def test_val_sample_is_sparse_metric_depth_with_the_frames_intrinsics(kitti):
    root, written = kitti
    dataset = KITTIDepth(root, "val")
    assert len(dataset) == 2
    assert [p.name for p in dataset.images] == [
        f"{KITTI_DRIVE}_image_0000000005_image_02.png",
        f"{KITTI_DRIVE}_image_0000000006_image_03.png",
    ]
    for i in range(2):
        sample = dataset[i]
        assert check_sample(sample) == (H, W)
        depth = torch.from_numpy(written["depths"][i])
        torch.testing.assert_close(sample["depth"][0], depth, rtol=0, atol=0)  # value / 256
        assert torch.equal(sample["valid"][0], depth > 0)
        assert 0.1 < sample["valid"].float().mean() < 0.5 and not sample["valid"][0, : H // 3].any()
        image = torch.from_numpy(written["images"][i].transpose(2, 0, 1).copy()).float() / 255
        torch.testing.assert_close(sample["image"], image)
        torch.testing.assert_close(
            sample["intrinsics"], torch.tensor(written["intrinsics"][i], dtype=torch.float32)
        )
    assert sample["intrinsics"][0] == pytest.approx(722.5377)  # fx of frame 1: K[0, 0]
    assert sample["intrinsics"][3] == pytest.approx(149.354)  # cy: K[1, 2], row by row


def test_velodyne_raw_the_test_splits_and_the_root_itself(kitti):
    root, written = kitti
    raw = KITTIDepth(root, "val", depth="velodyne_raw")[1]
    assert torch.equal(raw["depth"][0], torch.from_numpy(written["velodyne"][1]))
    assert raw["valid"].sum() < KITTIDepth(root, "val")[1]["valid"].sum()
    test = KITTIDepth(root / "depth_selection", "test")  # the depth_selection folder works too
    assert [p.name for p in test.images] == ["0000000000.png", "0000000001.png"]
    sample = test[0]
    assert check_sample(sample) == (H, W)
    assert not sample["valid"].any() and not sample["depth"].any()  # no ground truth
    torch.testing.assert_close(
        sample["intrinsics"], torch.tensor(written["intrinsics"][0], dtype=torch.float32)
    )
    completion = KITTIDepth(root, "test_completion", depth="velodyne_raw")[0]
    assert torch.equal(completion["depth"][0], torch.from_numpy(written["velodyne"][0]))
    with pytest.raises(DataError, match="no velodyne_raw/ folder"):
        KITTIDepth(root, "test", depth="velodyne_raw")
    batch = next(iter(torch.utils.data.DataLoader(KITTIDepth(root), batch_size=2)))
    assert batch["depth"].shape == (2, 1, H, W) and batch["valid"].dtype == torch.bool


def test_the_real_size_with_a_transform(tmp_path):
    written = write_kitti_selection(tmp_path, 1)
    sample = KITTIDepth(tmp_path, transform=lambda s: {**s, "depth": s["depth"] * 2})[0]
    assert sample["image"].shape == (3, 352, 1216)
    torch.testing.assert_close(sample["depth"][0], 2 * torch.from_numpy(written["depths"][0]))


def test_missing_layout_names_what_and_how_to_get_it(tmp_path, kitti):
    with pytest.raises(
        DataError, match="no depth_selection/val_selection_cropped/.*download kitti"
    ):
        KITTIDepth(tmp_path / "nowhere")
    with pytest.raises(DataError, match="split 'train' unknown"):
        KITTIDepth(tmp_path, "train")
    with pytest.raises(DataError, match="depth='lidar' unknown"):
        KITTIDepth(tmp_path, depth="lidar")
    root, _ = kitti
    (root / VAL / "groundtruth_depth" / FIRST).unlink()
    with pytest.raises(DataError, match=f"{FIRST}: missing"):
        KITTIDepth(root)
    KITTIDepth(root, depth="velodyne_raw")  # the raw scans are all there
    for path in (root / VAL / "groundtruth_depth").iterdir():
        path.unlink()
    (root / VAL / "groundtruth_depth").rmdir()
    with pytest.raises(DataError, match=r"no groundtruth_depth/ folder \(it has \['image', 'intr"):
        KITTIDepth(root)
    for path in (root / VAL / "image").iterdir():
        path.unlink()
    with pytest.raises(DataError, match="holds no .png images"):
        KITTIDepth(root, depth="velodyne_raw")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("intrinsics-8", "holds 8 numbers; expected the 9"),
        ("intrinsics-text", "cannot be read as 9 numbers"),
        ("intrinsics-row", "is not a camera matrix"),
        ("intrinsics-skew", "is not a camera matrix"),
        ("depth-8bit", "is an 8-bit PNG; KITTI depth maps are 16-bit"),
        ("depth-size", r"has size \(24, 39\)"),
        ("depth-truncated", "cannot be read as an image"),
    ],
)
def test_bad_files_raise_data_error_naming_them(kitti, damage, message):
    root, _ = kitti
    intrinsics = root / VAL / "intrinsics" / f"{KITTI_DRIVE}_image_0000000005_image_02.txt"
    depth = root / VAL / "groundtruth_depth" / FIRST
    numbers = intrinsics.read_text().split()
    if damage == "intrinsics-8":
        intrinsics.write_text(" ".join(numbers[:8]))
    elif damage == "intrinsics-text":
        intrinsics.write_text("fx fy cx cy")
    elif damage == "intrinsics-row":
        intrinsics.write_text(" ".join(numbers[:6] + ["0", "5", "1"]))
    elif damage == "intrinsics-skew":
        intrinsics.write_text(" ".join(numbers[:1] + ["0.5"] + numbers[2:]))
    elif damage == "depth-8bit":
        Image.fromarray(np.zeros((H, W), np.uint8)).save(depth)
    elif damage == "depth-size":
        Image.fromarray(np.zeros((H, W - 1), np.uint16)).save(depth)
    else:
        depth.write_bytes(depth.read_bytes()[:40])
    path = intrinsics if damage.startswith("intrinsics") else depth
    with pytest.raises(DataError, match=message) as error:
        KITTIDepth(root)[0]
    assert str(path) in str(error.value)
    KITTIDepth(root)[1]  # the other frame is unharmed


def _zip(root) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((root / "depth_selection").rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def test_download_extracts_the_selection_and_checks_it(tmp_path, monkeypatch):
    source = tmp_path / "source"
    write_kitti_selection(source, 2, H, W)
    good = _zip(source)
    for path in (source / VAL / "groundtruth_depth").iterdir():
        path.unlink()
    incomplete = _zip(source)
    spec = DATASETS["kitti-depth-selection"]
    with Server({"/data_depth_selection.zip": good}) as server:
        files = (dataclasses.replace(spec.files[0], url=server.url("/data_depth_selection.zip")),)
        monkeypatch.setitem(DATASETS, spec.name, dataclasses.replace(spec, files=files))
        root = download_dataset("kitti-depth-selection", root=tmp_path / "data", **FAST)
        assert root == tmp_path / "data" / "kitti" / "depth_selection"
        assert [p.name for p in root.parent.iterdir()] == ["depth_selection"]  # zip removed
        assert len(KITTIDepth(root)) == 2 and len(KITTIDepth(root.parent, "test")) == 2
        assert download_dataset("kitti-depth-selection", root=tmp_path / "data", **FAST) == root
        assert len(server.ranges) == 1  # the second call found it in place
        server.files["/data_depth_selection.zip"] = incomplete
        with pytest.raises(DataError, match="no groundtruth_depth/ folder"):
            download_dataset("kitti-depth-selection", root=tmp_path / "other", **FAST)


def test_registry_entry():
    spec = DATASETS["kitti-depth-selection"]
    assert spec.files[0].url == (
        "https://s3.eu-central-1.amazonaws.com/avg-kitti/data_depth_selection.zip"
    )
    assert (spec.folder, spec.extract) == ("kitti", "data_depth_selection.zip")
