"""NYU Depth v2 readers on fixtures in the real formats (MATLAB v7.3 HDF5, DenseDepth zip)."""

from __future__ import annotations

import pickle
import zipfile

import h5py
import numpy as np
import pytest
import torch
from fixture_writers import (
    jpeg_bytes,
    patterned_depths,
    patterned_images,
    png_bytes,
    write_nyu_mat,
    write_nyu_zip,
    write_splits_mat,
)

from depthnb.data.nyu import NYU_INTRINSICS, NYUDepthZip, NYUv2Labeled, check_labeled_mat
from depthnb.errors import DataError

H, W, N = 12, 16, 3


@pytest.fixture
def labeled(tmp_path):
    """A 3-frame 12x16 labeled .mat with splits.mat (train: frames 1 and 3, test: frame 2)."""
    path = write_nyu_mat(
        tmp_path / "nyu_depth_v2_labeled.mat", patterned_images(N, H, W), patterned_depths(N, H, W)
    )
    write_splits_mat(tmp_path / "splits.mat", train=[1, 3], test=[2])
    return path


def upright(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.transpose(2, 0, 1).copy()).float() / 255


def test_fixture_is_stored_the_matlab_way(labeled):
    with h5py.File(labeled, "r") as f:
        assert f["images"].shape == (N, 3, W, H) and f["depths"].shape == (N, W, H)
    assert labeled.read_bytes()[:10] == b"MATLAB 7.3"


def test_labeled_images_are_upright_and_split_is_one_based(labeled):
    images, depths = patterned_images(N, H, W), patterned_depths(N, H, W)
    train = NYUv2Labeled(labeled, split="train")
    test = NYUv2Labeled(labeled, split="test")
    assert (len(train), len(test), len(NYUv2Labeled(labeled, split="all"))) == (2, 1, 3)
    for dataset, frames in ((train, [0, 2]), (test, [1])):
        for item, frame in enumerate(frames):
            sample = dataset[item]
            assert sample["image"].shape == (3, H, W) and sample["image"].dtype == torch.float32
            torch.testing.assert_close(sample["image"], upright(images[frame]))
            torch.testing.assert_close(sample["depth"][0], torch.from_numpy(depths[frame]))
            assert sample["valid"].dtype == torch.bool and bool(sample["valid"].all())
    first = train[0]
    assert torch.all(first["image"][:, 0, 0] == 1.0)  # white marker at the top-left
    assert first["image"][0, 5, -1] > first["image"][0, 5, 0]  # red grows left -> right
    assert first["image"][1, -1, 5] > first["image"][1, 0, 5]  # green grows top -> bottom
    assert first["depth"][0, 0, 1] - first["depth"][0, 0, 0] == pytest.approx(0.01)
    fx, fy, cx, cy = NYU_INTRINSICS  # scaled about pixel centres: cx' = (cx + 0.5) W'/W - 0.5
    expected = [fx * W / 640, fy * H / 480, (cx + 0.5) * W / 640 - 0.5, (cy + 0.5) * H / 480 - 0.5]
    torch.testing.assert_close(first["intrinsics"], torch.tensor(expected))


def test_full_size_frame_and_transform(tmp_path):
    path = write_nyu_mat(
        tmp_path / "x.mat", patterned_images(1, 480, 640), patterned_depths(1, 480, 640)
    )
    dataset = NYUv2Labeled(path, split="all", transform=lambda s: {**s, "seen": torch.ones(1)})
    sample = dataset[0]
    assert sample["image"].shape == (3, 480, 640) and sample["depth"].shape == (1, 480, 640)
    assert sample["intrinsics"].tolist() == pytest.approx(list(NYU_INTRINSICS))
    assert "seen" in sample


def test_raw_depth_zero_is_invalid(tmp_path):
    depths = patterned_depths(1, H, W)
    raw = depths.copy()
    raw[0, 2:5, 3:9] = 0
    path = write_nyu_mat(tmp_path / "x.mat", patterned_images(1, H, W), depths, raw_depths=raw)
    sample = NYUv2Labeled(path, split="all", raw_depth=True)[0]
    assert not sample["valid"][0, 2:5, 3:9].any()
    assert int(sample["valid"].sum()) == H * W - 18
    assert torch.all(sample["depth"][0, 2:5, 3:9] == 0)
    assert bool(NYUv2Labeled(path, split="all")[0]["valid"].all())


def test_lazy_handle_survives_pickling_and_workers(labeled):
    dataset = NYUv2Labeled(labeled, split="all")
    dataset[0]
    clone = pickle.loads(pickle.dumps(dataset))
    torch.testing.assert_close(clone[2]["image"], dataset[2]["image"])
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=1)
    batch = next(iter(loader))
    assert batch["image"].shape == (3, 3, H, W)
    torch.testing.assert_close(batch["depth"][1], dataset[1]["depth"])


def test_split_without_splits_file_says_what_to_do(tmp_path):
    path = write_nyu_mat(tmp_path / "x.mat", patterned_images(1, H, W), patterned_depths(1, H, W))
    with pytest.raises(DataError, match="python -m depthnb download nyu-labeled"):
        NYUv2Labeled(path, split="test")
    with pytest.raises(DataError, match="split 'val' unknown"):
        NYUv2Labeled(path, split="val")


def test_bad_mat_files_raise_data_error(tmp_path, labeled):
    images, depths = patterned_images(N, H, W), patterned_depths(N, H, W)
    truncated = tmp_path / "truncated.mat"
    truncated.write_bytes(labeled.read_bytes()[: labeled.stat().st_size // 2])
    garbage = tmp_path / "garbage.mat"
    garbage.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(300))
    no_depths = write_nyu_mat(tmp_path / "no_depths.mat", images, depths, skip=("depths",))
    wrong = tmp_path / "wrong.mat"
    with h5py.File(wrong, "w") as f:
        f["images"] = images.transpose(0, 3, 2, 1)
        f["depths"] = np.zeros((N, W + 1, H), dtype=np.float32)
    cases = [
        (truncated, "truncated or corrupt"),
        (garbage, "cannot be opened as HDF5"),
        (no_depths, "no 'depths'"),
        (wrong, r"expected \(3, 16, 12\)"),
        (tmp_path / "absent.mat", "not found"),
    ]
    for path, message in cases:
        with pytest.raises(DataError, match=message) as error:
            NYUv2Labeled(path, split="all")
        assert str(path) in str(error.value)
    with pytest.raises(DataError, match=r"expected \(1449, 3, 640, 480\)"):
        check_labeled_mat(labeled, n_images=1449)


def test_bad_splits_raise_data_error(tmp_path, labeled):
    write_splits_mat(tmp_path / "far.mat", train=[1, 9], test=[2])
    with pytest.raises(DataError, match="do not belong together"):
        NYUv2Labeled(labeled, split="train", splits_path=tmp_path / "far.mat")
    import scipy.io

    scipy.io.savemat(tmp_path / "nokey.mat", {"trainNdxs": np.array([[1.0]])})
    with pytest.raises(DataError, match="no 'testNdxs'"):
        NYUv2Labeled(labeled, split="test", splits_path=tmp_path / "nokey.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DataError, match="junk.mat"):
        NYUv2Labeled(labeled, split="test", splits_path=tmp_path / "junk.mat")


@pytest.fixture
def densedepth_zip(tmp_path):
    """Two 8-bit train pairs and one 16-bit millimetre test pair, 12x16."""
    images = patterned_images(3, H, W)
    train_depth = (np.arange(H * W) * 255 // (H * W - 1)).reshape(H, W).astype(np.uint8)
    test_depth = (1000 + 10 * np.arange(W)[None, :] + 100 * np.arange(H)[:, None]).astype(np.uint16)
    test_depth[0, 0] = 0
    return (
        write_nyu_zip(
            tmp_path / "nyu_data.zip",
            train=[(images[0], train_depth), (images[1], train_depth[::-1].copy())],
            test=[(images[2], test_depth)],
        ),
        train_depth,
        test_depth,
    )


def test_zip_train_depth_is_8bit_over_ten_metres(densedepth_zip):
    path, train_depth, _ = densedepth_zip
    dataset = NYUDepthZip(path, split="train")
    assert len(dataset) == 2  # the CSV's trailing blank lines are not rows
    sample = dataset[0]
    expected = torch.from_numpy(train_depth.astype(np.float32) / 255 * 10)
    torch.testing.assert_close(sample["depth"][0], expected)
    assert sample["depth"].max() == pytest.approx(10.0)
    assert not sample["valid"][0, 0, 0] and int(sample["valid"].sum()) == H * W - 1
    torch.testing.assert_close(
        sample["image"], upright(patterned_images(3, H, W)[0]), atol=6 / 255, rtol=0
    )  # JPEG, quality 100
    torch.testing.assert_close(dataset[1]["depth"][0], expected.flip(0))


def test_zip_test_depth_is_16bit_millimetres(densedepth_zip):
    path, _, test_depth = densedepth_zip
    sample = NYUDepthZip(path, split="test")[0]
    torch.testing.assert_close(sample["depth"][0], torch.from_numpy(test_depth / 1000.0).float())
    assert sample["depth"][0, 1, 2] == pytest.approx(1.0 + 0.02 + 0.1)
    assert not sample["valid"][0, 0, 0] and bool(sample["valid"][0, 1:].all())
    torch.testing.assert_close(sample["image"], upright(patterned_images(3, H, W)[2]))
    assert sample["intrinsics"][0] == pytest.approx(NYU_INTRINSICS[0] * W / 640)
    assert sample["intrinsics"][2] == pytest.approx((NYU_INTRINSICS[2] + 0.5) * W / 640 - 0.5)


def test_zip_scaling_follows_bit_depth_not_split(tmp_path):
    millimetres = np.full((H, W), 2500, dtype=np.uint16)
    path = write_nyu_zip(
        tmp_path / "z.zip", train=[(patterned_images(1, H, W)[0], millimetres)], test=[]
    )
    assert float(NYUDepthZip(path, split="train")[0]["depth"].mean()) == pytest.approx(2.5)


def _rewrite(source, target, replace: dict[str, bytes | None]):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = replace.get(name, old.read(name))
            if data is not None:
                new.writestr(name, data)
    return target


def test_bad_zip_files_raise_data_error(tmp_path, densedepth_zip):
    path, _, _ = densedepth_zip
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(path.read_bytes()[:-200])
    no_csv = _rewrite(path, tmp_path / "no_csv.zip", {"data/nyu2_train.csv": None})
    missing = _rewrite(
        path, tmp_path / "missing.zip", {"data/nyu2_train/living_room_0038_out/2.png": None}
    )
    bad_row = _rewrite(path, tmp_path / "bad_row.zip", {"data/nyu2_train.csv": b"a.jpg\n"})
    for zip_path, message in [
        (truncated, "cannot be read as a zip"),
        (no_csv, "no 'data/nyu2_train.csv'"),
        (missing, "line 2 names 'data/nyu2_train/living_room_0038_out/2.png'"),
        (bad_row, "expected 'rgb_path,depth_path'"),
        (tmp_path / "absent.zip", "download nyu-zip"),
    ]:
        with pytest.raises(DataError, match=message) as error:
            NYUDepthZip(zip_path, split="train")
        assert str(zip_path) in str(error.value)


def test_bad_members_raise_data_error_naming_them(tmp_path, densedepth_zip):
    path, _, _ = densedepth_zip
    rgb = "data/nyu2_train/living_room_0038_out/1.jpg"
    depth = "data/nyu2_train/living_room_0038_out/1.png"
    unreadable = _rewrite(
        path, tmp_path / "u.zip", {rgb: jpeg_bytes(patterned_images(1, H, W)[0])[:60]}
    )
    small = _rewrite(path, tmp_path / "s.zip", {depth: png_bytes(np.zeros((H, W - 1), np.uint8))})
    colour = _rewrite(path, tmp_path / "c.zip", {depth: png_bytes(patterned_images(1, H, W)[0])})
    for zip_path, member, message in [
        (unreadable, rgb, "cannot be read as an image"),
        (small, depth, r"has size \(12, 15\)"),
        (colour, depth, "expected one channel"),
    ]:
        with pytest.raises(DataError, match=message) as error:
            NYUDepthZip(zip_path, split="train")[0]
        assert member in str(error.value)
