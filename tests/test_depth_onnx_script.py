"""scripts/depth_onnx.py, run as a user would: a subprocess that cannot import torch or depthnb,
on an exported tiny U-Net and a synthetic-room JPEG. Its depth must be onnxruntime's, its PNG the
photograph's size, its PLY a valid binary cloud of the back-projected pixels. Its copy of the
photo rules is held to depthnb.data.photo.open_image; every user mistake is one line, no
traceback. Also run_onnx / onnx_depth checking images against the graph's declared input."""

import copy
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from photo_fixtures import BAD, GOOD, assert_matches, phone_jpeg, png16
from PIL import Image

ort = pytest.importorskip("onnxruntime")

from depthnb.data import load_image, open_image, render_room  # noqa: E402
from depthnb.data.photo import MAX_PIXELS  # noqa: E402
from depthnb.deploy import export_onnx, onnx_depth, onnx_session, run_onnx  # noqa: E402
from depthnb.errors import ImageError, ShapeError  # noqa: E402
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


def _run(blocked, *args, status=0):
    env = {"PYTHONPATH": str(blocked), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == status, result.stderr
    if status:
        assert "Traceback" not in result.stderr and result.stdout == ""
        return result.stderr.strip().splitlines()[-1]  # argparse prints its usage line first
    return result.stdout


def _script():
    """The script as a module (it imports neither torch nor depthnb, so importing it is safe)."""
    spec = importlib.util.spec_from_file_location("depth_onnx", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


# ---- the photograph: the script's copy of the rules, and photos through the script ------------


def test_the_scripts_photo_rules_are_open_images(tmp_path):
    script = _script()
    assert script.MAX_PIXELS == MAX_PIXELS
    for name, write in GOOD.items():
        path, expected = write(tmp_path)
        ours = np.asarray(script.open_photo(path))
        np.testing.assert_array_equal(ours, load_image(path), err_msg=name)
        assert_matches(ours, expected, name)
    for write, phrase in BAD.values():
        path, _ = write(tmp_path)
        with pytest.raises(ImageError, match=phrase):
            open_image(path)
        with pytest.raises(script.UserError, match=phrase):
            script.open_photo(path)
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)).convert(mode)
        for mode in ("RGBA", "LA", "PA", "P", "1", "L", "CMYK", "YCbCr", "HSV", "LAB")
    ]
    images += [
        Image.fromarray(rng.integers(0, 65536, (5, 7), dtype=np.uint16)),  # I;16
        Image.fromarray(rng.integers(-9, 99_999, (5, 7), dtype=np.int32)),  # I, own range
        Image.fromarray(rng.normal(size=(5, 7)).astype(np.float32)),  # F
    ]  # fmt: skip
    for image in images:
        ours, expected = np.asarray(script.to_rgb(image)), np.asarray(open_image(image))
        np.testing.assert_array_equal(ours, expected, err_msg=image.mode)


def test_photos_reach_the_model_upright_and_scaled(exported, tmp_path):
    folder, static, _, blocked = exported
    phone, upright = phone_jpeg(tmp_path, 6)
    npy, ply = tmp_path / "phone.npy", tmp_path / "phone.ply"
    out = _run(blocked, static, phone, "--npy", npy, "--ply", ply, "--stride", 4)
    assert f"photo {upright.shape[0]}x{upright.shape[1]}" in out
    assert np.load(npy).shape == upright.shape[:2] and len(_read_ply(ply)) == 12 * 16
    ramp, pixels = png16(tmp_path)
    _run(blocked, static, ramp, "--npy", npy)
    script = _script()
    session = ort.InferenceSession(str(static), providers=["CPUExecutionProvider"])
    expected = script.predict(session, Image.fromarray(pixels), (64, 96))  # the NumPy-made pixels
    np.testing.assert_allclose(np.load(npy), expected, rtol=1e-6)


def _no_depth_graph(path: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])
    features = helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 3, 8, 8])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["features"])], "no_depth", [image], [features]
    )
    # IR version 8 with opset 17, as the exporter writes: every supported onnxruntime reads it
    # (helper.make_model's default is the newest IR, which older onnxruntimes refuse).
    opset = [helper.make_opsetid("", 17)]
    onnx.save(helper.make_model(graph, opset_imports=opset, ir_version=8), path)
    return path


def test_every_mistake_is_one_line_and_writes_nothing(exported, tmp_path):
    folder, static, dynamic, blocked = exported
    photo = _photo(tmp_path, (64, 96))
    torch.manual_seed(0)
    broken = copy.deepcopy(set_output_depth(build_model("unet", filters=(4, 8, 8, 16, 16)), 3.0))
    with torch.no_grad():
        broken.head.bias.fill_(float("nan"))
    nan_model = export_onnx(broken.eval(), tmp_path / "nan.onnx", size=(64, 96), check=False)
    text = tmp_path / "notes.onnx"
    text.write_text("not a model")
    bad_files = {name: write(tmp_path) for name, (write, _) in BAD.items()}
    cases = [
        ((static, tmp_path / "missing.jpg"), 1, "missing.jpg: no such file"),
        ((tmp_path / "missing.onnx", photo), 1, "no such model file"),
        ((text, photo), 1, "onnxruntime cannot load it"),
        ((_no_depth_graph(tmp_path / "features.onnx"), photo), 1, "no output named 'depth'"),
        ((static, photo, "--png", tmp_path / "absent" / "d.png"), 1, "does not exist"),
        ((nan_model, photo), 1, "NaN or infinite depth"),
        ((dynamic, photo, "--size", 0, 0), 2, "at least 32"),
        ((static, photo, "--fov", 0), 2, "between 0 and 180"),
        ((static, photo, "--fov", 180), 2, "between 0 and 180"),
        ((static, photo, "--fov", "nan"), 2, "between 0 and 180"),
        ((static, photo, "--fx", 0), 2, "positive"),
        ((static, photo, "--stride", 0), 2, "at least 1"),
    ]
    cases += [((static, path), 1, BAD[name][1]) for name, (path, _) in bad_files.items()]
    for args, status, phrase in cases:
        message = _run(blocked, *args, status=status)
        assert phrase in message, (args, message)
    assert not list(tmp_path.glob("*_depth.*"))  # nothing half-done was written


def test_the_default_field_of_view_is_nyus_colour_camera(exported, tmp_path):
    """The script keeps its own copy of the course's one default field of view (it may not
    import depthnb): the copy equals depthnb.geometry.NYU_FOV_DEG, and both are NYU's fx."""
    from depthnb.geometry import NYU_FOV_DEG, NYU_INTRINSICS, NYU_SIZE

    script = _script()
    assert script.NYU_FOV == pytest.approx(NYU_FOV_DEG, abs=1e-12)
    assert (script.NYU_WIDTH, script.NYU_FX) == (NYU_SIZE[1], NYU_INTRINSICS[0])
    folder, static, _, blocked = exported
    out = _run(blocked, static, _photo(tmp_path, (64, 96)), "--ply", tmp_path / "fov.ply")
    fx = float(out.split("fx=")[1].split()[0])
    assert abs(np.degrees(2 * np.arctan(96 / 2 / fx)) - NYU_FOV_DEG) < 0.1


def test_run_onnx_checks_images_against_the_graphs_input(exported):
    folder, static, dynamic, _ = exported
    fixed, free = onnx_session(static), onnx_session(dynamic)
    assert run_onnx(fixed, np.zeros((1, 3, 64, 96), np.float32))["depth"].shape == (1, 1, 64, 96)
    wrong = [
        (fixed, np.zeros((1, 1, 64, 96), np.float32), r"\(1,3,64,96\).*\(1, 1, 64, 96\)"),
        (fixed, np.zeros((1, 3, 32, 32), np.float32), r"\(1,3,64,96\).*\(1, 3, 32, 32\)"),
        (free, np.zeros((2, 4, 64, 96), np.float32), r"\(\?,3,\?,\?\).*\(2, 4, 64, 96\)"),
        (free, np.zeros((3, 64, 96), np.float32), r"\(3, 64, 96\)"),
        (free, np.zeros((1, 3, 64, 96), np.uint8), "uint8"),
    ]
    for session, images, message in wrong:
        with pytest.raises(ShapeError, match=message):
            run_onnx(session, images)
    with pytest.raises(ShapeError, match="given"):
        onnx_depth(free, torch.zeros(2, 1, 64, 96))
