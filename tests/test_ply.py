"""PLY files: binary and ASCII round trips, a header standard tools accept, atomic writes."""

import numpy as np
import pytest

from depthnb import DataError, DepthnbError
from depthnb.viz import read_ply, save_ply


def _cloud(n=257):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(n, 3)).astype(np.float32) * [1.0, 0.5, 3.0]
    colors = rng.integers(0, 256, (n, 3), dtype=np.uint8)
    return points.astype(np.float32), colors


@pytest.mark.parametrize("binary", [True, False])
def test_round_trip_with_and_without_colours(tmp_path, binary):
    points, colors = _cloud()
    path = save_ply(tmp_path / "cloud.ply", points, colors, binary=binary)
    back, back_colors = read_ply(path)
    assert back.dtype == np.float32 and np.array_equal(back, points)
    assert back_colors.dtype == np.uint8 and np.array_equal(back_colors, colors)
    save_ply(tmp_path / "plain.ply", points, binary=binary)
    back, none = read_ply(tmp_path / "plain.ply")
    assert none is None and np.array_equal(back, points)
    assert [p.name for p in tmp_path.iterdir()] != [] and not list(tmp_path.glob(".*tmp"))


def test_header_is_the_standard_one(tmp_path):
    points, colors = _cloud(5)
    save_ply(tmp_path / "b.ply", points, colors)
    raw = (tmp_path / "b.ply").read_bytes()
    header, body = raw.split(b"end_header\n", 1)
    lines = header.decode("ascii").splitlines()
    assert lines[:2] == ["ply", "format binary_little_endian 1.0"]
    assert "element vertex 5" in lines
    assert lines[-6:] == [
        "property float x", "property float y", "property float z",
        "property uchar red", "property uchar green", "property uchar blue",
    ]  # fmt: skip
    assert len(body) == 5 * (3 * 4 + 3)  # packed little-endian records, no padding
    assert np.frombuffer(body[:4], "<f4")[0] == points[0, 0]
    save_ply(tmp_path / "a.ply", points, colors, binary=False)
    text = (tmp_path / "a.ply").read_text().splitlines()
    assert text[1] == "format ascii 1.0" and len(text) == text.index("end_header") + 6
    assert text[-1].split()[-3:] == [str(c) for c in colors[-1]]


def test_float_colours_are_scaled(tmp_path):
    points, colors = _cloud(4)
    save_ply(tmp_path / "f.ply", points, colors / 255.0)
    assert np.array_equal(read_ply(tmp_path / "f.ply")[1], colors)


def test_failed_write_leaves_nothing(tmp_path):
    points, _ = _cloud(4)
    with pytest.raises(DepthnbError, match="colors"):
        save_ply(tmp_path / "x.ply", points, np.zeros((3, 3), np.uint8))
    with pytest.raises(DepthnbError, match=r"\(N,3\)"):
        save_ply(tmp_path / "x.ply", points[:, :2])
    assert list(tmp_path.iterdir()) == []


def test_reader_errors(tmp_path):
    (tmp_path / "no.ply").write_bytes(b"solid cube\n")
    with pytest.raises(DataError, match="not a PLY"):
        read_ply(tmp_path / "no.ply")
    points, _ = _cloud(10)
    save_ply(tmp_path / "cut.ply", points)
    data = (tmp_path / "cut.ply").read_bytes()
    (tmp_path / "cut.ply").write_bytes(data[:-5])
    with pytest.raises(DataError, match="fewer than the 10"):
        read_ply(tmp_path / "cut.ply")
