"""scripts/depth_onnx.py, run as a user would: a subprocess that cannot import torch or depthnb,
on an exported tiny U-Net and a synthetic-room JPEG. Its depth must be onnxruntime's, its PNG the
photograph's size, its PLY a valid binary cloud of the back-projected pixels."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ort = pytest.importorskip("onnxruntime")

from depthnb.data import render_room  # noqa: E402
from depthnb.deploy import export_onnx  # noqa: E402
from depthnb.models import build_model  # noqa: E402
from depthnb.train import set_output_depth  # noqa: E402

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "depth_onnx.py"
VERTEX = np.dtype([("xyz", "<f4", 3), ("rgb", "u1", 3)])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("script")
    torch.manual_seed(0)
    model = set_output_depth(build_model("unet", filters=(4, 8, 8, 16, 16)).eval(), 3.0)
    static = export_onnx(model, folder / "static.onnx", size=(64, 96), dynamic=False)
    dynamic = export_onnx(model, folder / "dynamic.onnx", size=(64, 96), check=False)
    blocked = folder / "blocked"  # packages that fail on import: the script must not need them
    for name in ("torch", "depthnb"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('{name} imported')\n")
    return folder, static, dynamic, blocked


def _photo(folder, size, seed=2):
    path = folder / f"room_{size[0]}x{size[1]}.jpg"
    Image.fromarray(render_room(seed, size)["image"]).save(path, quality=95)
    return path


def _run(blocked, *args):
    env = {"PYTHONPATH": str(blocked), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def _read_ply(path):
    data = path.read_bytes()
    header, _, body = data.partition(b"end_header\n")
    lines = header.decode("ascii").splitlines()
    assert lines[:2] == ["ply", "format binary_little_endian 1.0"]
    count = int(next(line for line in lines if line.startswith("element vertex")).split()[-1])
    assert [line for line in lines if line.startswith("property")] == [
        f"property {kind} {name}"
        for kind, name in [("float", "x"), ("float", "y"), ("float", "z"), ("uchar", "red"),
                           ("uchar", "green"), ("uchar", "blue")]
    ]  # fmt: skip
    assert len(body) == count * VERTEX.itemsize
    return np.frombuffer(body, dtype=VERTEX)


def test_static_model_depth_equals_onnxruntime(exported):
    folder, static, _, blocked = exported
    photo = _photo(folder, (64, 96))
    png, ply, npy = folder / "s.png", folder / "s.ply", folder / "s.npy"
    out = _run(blocked, static, photo, "--png", png, "--ply", ply, "--npy", npy)
    assert "model input 64x96" in out and " m " in out
    pixels = np.asarray(Image.open(photo).convert("RGB"), np.float32).transpose(2, 0, 1)[None]
    session = ort.InferenceSession(str(static), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"image": pixels / 255.0})[0][0, 0]
    depth = np.load(npy)
    assert depth.shape == (64, 96) and np.allclose(depth, expected, atol=1e-5)
    low, high = (float(v) for v in out.split("depth ")[1].split(" m")[0].split(" .. "))
    assert np.isclose(low, depth.min(), atol=0.01) and np.isclose(high, depth.max(), atol=0.01)
    assert Image.open(png).size == (96, 64) and Image.open(png).mode == "RGB"
    vertices = _read_ply(ply)
    assert len(vertices) == 64 * 96
    assert np.allclose(vertices["xyz"][:, 2], depth.reshape(-1))  # row-major, z = depth


def test_dynamic_model_at_another_size_with_intrinsics(exported):
    folder, _, dynamic, blocked = exported
    photo = _photo(folder, (120, 160), seed=3)
    png, ply, npy = folder / "d.png", folder / "d.ply", folder / "d.npy"
    fx, fy, cx, cy = 130.0, 128.0, 80.5, 60.5
    intrinsics = ["--fx", fx, "--fy", fy, "--cx", cx, "--cy", cy]
    out = _run(blocked, dynamic, photo, "--png", png, "--ply", ply, "--npy", npy,
               "--stride", 2, *intrinsics)  # fmt: skip
    assert "model input 64x96" in out  # the export size, from the model's metadata
    depth = np.load(npy)
    assert depth.shape == (120, 160) and Image.open(png).size == (160, 120)
    vertices = _read_ply(ply)
    assert len(vertices) == 60 * 80
    rows, cols = np.mgrid[0:120:2, 0:160:2]
    z = depth[rows, cols].reshape(-1)
    xyz = vertices["xyz"]
    assert np.allclose(xyz[:, 0], (cols.reshape(-1) - cx) * z / fx, atol=1e-5)
    assert np.allclose(xyz[:, 1], (rows.reshape(-1) - cy) * z / fy, atol=1e-5)
    colours = np.asarray(Image.open(photo).convert("RGB"))[rows, cols].reshape(-1, 3)
    assert np.array_equal(vertices["rgb"], colours)
    out = _run(blocked, dynamic, photo, "--size", 96, 128, "--npy", npy)
    assert "model input 96x128" in out and np.load(npy).shape == (120, 160)
