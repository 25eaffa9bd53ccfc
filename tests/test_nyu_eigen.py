"""DenseDepth's nyu_test.zip reader, on zips written in the real layout (stored and deflated)."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
import torch
from fixture_writers import patterned_depths, patterned_images, write_eigen_test_zip

from depthnb.data import NYU_INTRINSICS
from depthnb.data.nyu_eigen import NYUEigenTest, check_eigen_test_zip
from depthnb.errors import DataError
from depthnb.geometry import scale_intrinsics

N, H, W = 3, 48, 64


@pytest.fixture(params=[zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def eigen_zip(request, tmp_path):
    images, depths = patterned_images(N, H, W), patterned_depths(N, H, W)
    depths[1, 5, 7] = 0.0  # a hole
    path = write_eigen_test_zip(
        tmp_path / "nyu_test.zip", images, depths, compression=request.param
    )
    return path, images, depths


def test_samples_are_upright_metres(eigen_zip):
    path, images, depths = eigen_zip
    dataset = NYUEigenTest(path)
    assert len(dataset) == N and dataset.image_size == (H, W)
    for i in range(N):
        sample = dataset[i]
        np.testing.assert_array_equal(
            (sample["image"] * 255).round().byte().permute(1, 2, 0).numpy(), images[i]
        )
        np.testing.assert_array_equal(sample["depth"][0].numpy(), depths[i])
        assert sample["valid"].shape == (1, H, W) and sample["valid"].dtype == torch.bool
    assert not dataset[1]["valid"][0, 5, 7] and dataset[1]["depth"][0, 5, 7] == 0
    expected = scale_intrinsics(NYU_INTRINSICS, (480, 640), (H, W))
    np.testing.assert_allclose(dataset[0]["intrinsics"].numpy(), expected, rtol=1e-6)
    assert dataset[-1]["depth"][0, 0, 0] == depths[-1, 0, 0]
    with pytest.raises(IndexError):
        dataset[N]


def test_crop_is_the_files_inclusive_bounds_as_slices(eigen_zip):
    path, _, _ = eigen_zip
    assert NYUEigenTest(path).crop == (20, 460, 24, 616)  # what metrics.CROPS["densedepth"] holds


def test_stored_members_are_read_in_place(tmp_path):
    path = write_eigen_test_zip(
        tmp_path / "nyu_test.zip", patterned_images(N, H, W), patterned_depths(N, H, W)
    )
    NYUEigenTest(path)[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nyu_test.zip"]  # nothing extracted


def test_deflated_members_are_extracted_once(tmp_path):
    path = write_eigen_test_zip(
        tmp_path / "nyu_test.zip",
        patterned_images(N, H, W),
        patterned_depths(N, H, W),
        compression=zipfile.ZIP_DEFLATED,
    )
    NYUEigenTest(path)
    extracted = tmp_path / "nyu_test_members" / "eigen_test_depth.npy"
    stamp = extracted.stat().st_mtime_ns
    assert NYUEigenTest(path)[2]["depth"].shape == (1, H, W)
    assert extracted.stat().st_mtime_ns == stamp
    names = sorted(p.name for p in extracted.parent.iterdir())  # no temporary left behind
    assert names == sorted(
        [*(f"eigen_test_{m}.npy" for m in ("crop", "depth", "rgb"))]
        + [f"eigen_test_{m}.npy.source.json" for m in ("crop", "depth", "rgb")]
    )
    record = json.loads((extracted.parent / "eigen_test_depth.npy.source.json").read_text())
    assert record["source"] == os.path.realpath(path) and record["size"] == path.stat().st_size
    assert record["mtime_ns"] == path.stat().st_mtime_ns


def _level0_zip(path, images, depths):
    """nyu_test.zip deflated at level 0: its size does not depend on the pixels."""
    members = {
        "eigen_test_rgb.npy": images,
        "eigen_test_depth.npy": depths,
        "eigen_test_crop.npy": np.array([20, 459, 24, 615]),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=0) as archive:
        for name, array in members.items():
            archive.writestr(name, _npy(array))
    return path


@pytest.mark.parametrize("same_mtime", [False, True], ids=["new-mtime", "mtime-copied"])
def test_a_replaced_zip_of_the_same_size_gives_its_own_images(tmp_path, capsys, same_mtime):
    """nyu_test.zip replaced by different content of exactly the same size (and, as ``cp -p``
    would leave it, even the same modification time): the members are extracted again, with a
    message, and the new images and depths come back."""
    images, depths = patterned_images(N, H, W), patterned_depths(N, H, W)
    path = _level0_zip(tmp_path / "nyu_test.zip", images, depths)
    first = NYUEigenTest(path)
    np.testing.assert_array_equal(first[1]["depth"][0].numpy(), depths[1])
    size, stamp = path.stat().st_size, path.stat().st_mtime_ns
    capsys.readouterr()
    replacement = _level0_zip(tmp_path / "new.zip", 255 - images, depths + 1.5)
    os.replace(replacement, path)
    assert path.stat().st_size == size
    if same_mtime:
        os.utime(path, ns=(stamp, stamp))
    again = NYUEigenTest(path)
    err = capsys.readouterr().err
    assert "eigen_test_depth.npy was extracted from another version of the zip" in err
    assert ("mtime_ns" in err) != same_mtime and "extracting it again from" in err
    np.testing.assert_array_equal(again[1]["depth"][0].numpy(), depths[1] + 1.5)
    got = (again[2]["image"] * 255).round().byte().permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(got, 255 - images[2])
    NYUEigenTest(path)
    assert capsys.readouterr().err == ""  # extracted once for this version


def test_an_extracted_member_without_a_record_is_extracted_again(tmp_path, capsys):
    path = _level0_zip(
        tmp_path / "nyu_test.zip", patterned_images(N, H, W), patterned_depths(N, H, W)
    )
    NYUEigenTest(path)
    (tmp_path / "nyu_test_members" / "eigen_test_rgb.npy.source.json").unlink()
    capsys.readouterr()
    NYUEigenTest(path)
    assert "eigen_test_rgb.npy has no readable record of its source" in capsys.readouterr().err


def test_extracted_members_get_the_umasks_mode(tmp_path):
    import stat

    path = _level0_zip(
        tmp_path / "nyu_test.zip", patterned_images(N, H, W), patterned_depths(N, H, W)
    )
    old = os.umask(0o022)
    try:
        NYUEigenTest(path)
    finally:
        os.umask(old)
    for member in (tmp_path / "nyu_test_members").iterdir():
        assert stat.S_IMODE(member.stat().st_mode) == 0o644, member.name


def test_an_archive_of_no_images_is_refused(tmp_path):
    empty = _level0_zip(
        tmp_path / "nyu_test.zip", np.zeros((0, 480, 640, 3), np.uint8), np.zeros((0, 480, 640))
    )
    with pytest.raises(DataError, match="holds no images"):
        check_eigen_test_zip(empty)


def test_works_in_dataloader_workers(eigen_zip):
    path, _, depths = eigen_zip
    loader = torch.utils.data.DataLoader(NYUEigenTest(path), batch_size=2, num_workers=2)
    batches = list(loader)
    got = torch.cat([b["depth"] for b in batches])[:, 0].numpy()
    np.testing.assert_array_equal(got, depths)


def test_reading_every_image_keeps_resident_memory_small(tmp_path):
    """200 frames of 480x640 (430 MB of arrays in a stored zip): reading them all, the process's
    resident memory (mapped file pages included) grows by a few MB, not by the file."""
    psutil = pytest.importorskip("psutil")
    n = 200
    images = np.zeros((n, 480, 640, 3), np.uint8)
    images[:, ::7] = 200
    depths = np.full((n, 480, 640), 2.5, np.float32)
    path = write_eigen_test_zip(tmp_path / "nyu_test.zip", images, depths)
    del images, depths
    process = psutil.Process()
    dataset = NYUEigenTest(path)
    dataset[0]
    before = process.memory_info().rss
    total, peak = 0.0, before
    for i in range(n):
        total += float(dataset[i]["depth"][0, 0, 0])
        peak = max(peak, process.memory_info().rss)
    assert total == pytest.approx(2.5 * n)
    grown_mb = (peak - before) / 1e6
    assert grown_mb < 80, f"resident memory grew by {grown_mb:.0f} MB reading {n} images"


def _zip_with(tmp_path, members: dict[str, bytes]):
    path = tmp_path / "nyu_test.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_bad_files_raise_data_errors(tmp_path):
    with pytest.raises(DataError, match="download nyu-eigen-test"):
        NYUEigenTest(tmp_path / "missing.zip")
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="cannot be read as a zip"):
        NYUEigenTest(tmp_path / "junk.zip")
    rgb = _npy(np.zeros((2, 8, 8, 3), np.uint8))
    depth = _npy(np.ones((2, 8, 8), np.float32))
    crop = _npy(np.array([0, 7, 0, 7]))
    with pytest.raises(DataError, match="lacks"):
        NYUEigenTest(_zip_with(tmp_path, {"eigen_test_rgb.npy": rgb}))
    bad_depth = _npy(np.ones((3, 8, 8), np.float32))
    with pytest.raises(DataError, match="to match the images"):
        NYUEigenTest(
            _zip_with(
                tmp_path,
                {
                    "eigen_test_rgb.npy": rgb,
                    "eigen_test_depth.npy": bad_depth,
                    "eigen_test_crop.npy": crop,
                },
            )
        )
    with pytest.raises(DataError, match="expected \\(480, 640\\)"):
        check_eigen_test_zip(
            _zip_with(
                tmp_path,
                {
                    "eigen_test_rgb.npy": rgb,
                    "eigen_test_depth.npy": depth,
                    "eigen_test_crop.npy": crop,
                },
            )
        )


class _Boom:
    def __reduce__(self):
        return (open, ("/tmp/depthnb-eigen-pwned", "w"))


def test_pickled_members_are_refused_without_running_them(tmp_path):
    marker = "/tmp/depthnb-eigen-pwned"
    objects = np.empty((1,), dtype=object)
    objects[0] = _Boom()
    payload = _npy(objects)
    assert b"depthnb-eigen-pwned" in payload  # the pickle is really in there
    path = _zip_with(
        tmp_path,
        {
            "eigen_test_rgb.npy": payload,
            "eigen_test_depth.npy": payload,
            "eigen_test_crop.npy": payload,
        },
    )
    with pytest.raises(DataError, match="allow_pickle=False"):
        NYUEigenTest(path)
    assert not os.path.exists(marker)
