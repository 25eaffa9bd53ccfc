#!/usr/bin/env python
"""Depth from a photograph with an exported depthnb model: a depth PNG and a PLY point cloud.

Needs only numpy, Pillow and onnxruntime (``pip install numpy pillow onnxruntime``), not torch or
depthnb, so a model exported with ``python -m depthnb export`` can be handed to anyone::

    python depth_onnx.py unet.onnx kitchen.jpg                    # kitchen_depth.png + .ply
    python depth_onnx.py unet.onnx kitchen.jpg --fov 60 --npy kitchen_depth.npy
    python depth_onnx.py unet.onnx kitchen.jpg --fx 518.9 --fy 519.5 --cx 325.6 --cy 253.7

The model runs at its fixed input size if it has one, else at ``--size`` H W, else at the size it
was exported at (its metadata), else at the photograph's size with the longer side at most 640.
Depth (metres, the graph's output) is resized back to the photograph's size. The PLY holds one
point per ``--stride``-th pixel: X right, Y down, Z forward, metres, with the pixel's colour.
Intrinsics are in pixels of the photograph; without them a pinhole camera with a horizontal field
of view of ``--fov`` degrees (default 58, NYU's Kinect) and the principal point at the centre.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

# Matplotlib's "plasma" at 9 evenly spaced points (near = dark blue-purple, far = yellow).
PLASMA = np.array(
    [
        [13, 8, 135], [75, 3, 161], [125, 3, 168], [168, 34, 150], [203, 70, 121],
        [229, 107, 93], [248, 148, 65], [253, 195, 40], [240, 249, 33],
    ],
    dtype=np.float64,
)  # fmt: skip
MAX_SIDE = 640


def colorize(depth: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Depth (H,W) metres -> uint8 (H,W,3): the plasma colour map between vmin and vmax."""
    t = np.clip((depth - vmin) / max(vmax - vmin, 1e-6), 0.0, 1.0) * (len(PLASMA) - 1)
    low = np.minimum(t.astype(np.int64), len(PLASMA) - 2)
    frac = (t - low)[..., None]
    return np.round(PLASMA[low] * (1 - frac) + PLASMA[low + 1] * frac).astype(np.uint8)


def input_size(session, photo_size: tuple[int, int], wanted: list[int] | None) -> tuple[int, int]:
    """(H, W) to run the model at: its fixed size, else ``wanted``, else its export size, else
    the photograph's (longer side at most MAX_SIDE, at least 32)."""
    shape = session.get_inputs()[0].shape
    if isinstance(shape[2], int) and isinstance(shape[3], int):
        return shape[2], shape[3]
    if wanted:
        return wanted[0], wanted[1]
    exported = session.get_modelmeta().custom_metadata_map.get("export_size", "")
    if "x" in exported:
        height, width = (int(v) for v in exported.split("x"))
        return height, width
    height, width = photo_size
    scale = min(1.0, MAX_SIDE / max(height, width))
    return max(32, round(height * scale)), max(32, round(width * scale))


def predict(session, photo: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Depth (H,W) float32 metres of an RGB photograph, at the photograph's size."""
    channels = session.get_inputs()[0].shape[1]
    if channels != 3:
        sys.exit(f"this model takes {channels}-channel input, not one RGB photograph")
    pixels = photo if photo.size == (size[1], size[0]) else photo.resize(size[::-1], Image.BILINEAR)
    image = np.asarray(pixels, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
    outputs = session.run(["depth"], {session.get_inputs()[0].name: image})
    depth = outputs[0][0, 0].astype(np.float32)
    if depth.shape != (photo.height, photo.width):
        resized = Image.fromarray(depth).resize(photo.size, Image.BILINEAR)
        depth = np.asarray(resized, dtype=np.float32)
    return depth


def back_project(depth: np.ndarray, fx: float, fy: float, cx: float, cy: float, stride: int):
    """Pixels (every ``stride``-th) -> points (N,3) float32 metres and their (row, col) index."""
    rows, cols = np.mgrid[0 : depth.shape[0] : stride, 0 : depth.shape[1] : stride]
    z = depth[rows, cols]
    keep = np.isfinite(z) & (z > 0)
    rows, cols, z = rows[keep], cols[keep], z[keep]
    points = np.stack([(cols - cx) * z / fx, (rows - cy) * z / fy, z], axis=-1)
    return points.astype(np.float32), (rows, cols)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file next to ``path``, then rename it into place."""
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ply_bytes(points: np.ndarray, colors: np.ndarray) -> bytes:
    """A binary little-endian PLY of points (N,3) float32 and colours (N,3) uint8."""
    vertices = np.empty(len(points), dtype=[("xyz", "<f4", 3), ("rgb", "u1", 3)])
    vertices["xyz"], vertices["rgb"] = points, colors
    header = "\n".join([
        "ply", "format binary_little_endian 1.0", "comment written by depth_onnx.py",
        f"element vertex {len(points)}", "property float x", "property float y",
        "property float z", "property uchar red", "property uchar green", "property uchar blue",
        "end_header",
    ])  # fmt: skip
    return (header + "\n").encode("ascii") + vertices.tobytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an .onnx file from python -m depthnb export")
    parser.add_argument("photo", help="a photograph (JPEG, PNG, ...)")
    parser.add_argument("--png", help="depth image to write (default PHOTO_depth.png)")
    parser.add_argument("--ply", help="point cloud to write (default PHOTO_depth.ply)")
    parser.add_argument("--npy", help="also write the depth in metres (H,W float32) here")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="inference size")
    parser.add_argument("--fov", type=float, default=58.0, help="horizontal field of view, deg")
    for name in ("fx", "fy", "cx", "cy"):
        parser.add_argument(f"--{name}", type=float, help=f"intrinsics {name} in pixels")
    parser.add_argument("--stride", type=int, default=1, help="keep every n-th pixel in the PLY")
    args = parser.parse_args(argv)
    import onnxruntime

    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    photo = Image.open(args.photo).convert("RGB")
    size = input_size(session, (photo.height, photo.width), args.size)
    depth = predict(session, photo, size)
    stem = Path(args.photo).with_suffix("")
    png = Path(args.png or f"{stem}_depth.png")
    ply = Path(args.ply or f"{stem}_depth.ply")
    low, high = float(np.percentile(depth, 1)), float(np.percentile(depth, 99))
    write_atomically(png, _png(colorize(depth, low, high)))
    fx = args.fx or photo.width / (2 * np.tan(np.radians(args.fov) / 2))
    fy = args.fy or fx
    cx = args.cx if args.cx is not None else (photo.width - 1) / 2
    cy = args.cy if args.cy is not None else (photo.height - 1) / 2
    points, (rows, cols) = back_project(depth, fx, fy, cx, cy, max(1, args.stride))
    write_atomically(ply, ply_bytes(points, np.asarray(photo)[rows, cols]))
    if args.npy:
        write_atomically(Path(args.npy), _npy(depth))
    print(
        f"depth {depth.min():.2f} .. {depth.max():.2f} m (colours span {low:.2f} .. "
        f"{high:.2f} m), model input {size[0]}x{size[1]}, photo {photo.height}x{photo.width}"
    )
    print(f"wrote {png} and {ply} ({len(points)} points, fx={fx:.1f} fy={fy:.1f} px)")  # fmt: skip
    return 0


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(main())
