#!/usr/bin/env python
"""Depth from a photograph with an exported depthnb model: a depth PNG and a PLY point cloud.

Needs only numpy, Pillow and onnxruntime (``pip install numpy pillow onnxruntime``), not torch or
depthnb, so a model exported with ``python -m depthnb export`` can be handed to anyone::

    python depth_onnx.py unet.onnx kitchen.jpg                    # kitchen_depth.png + .ply
    python depth_onnx.py unet.onnx kitchen.jpg --fov 68 --npy kitchen_depth.npy  # a phone's lens
    python depth_onnx.py unet.onnx kitchen.jpg --fx 518.9 --fy 519.5 --cx 325.6 --cy 253.7

The photograph is opened by the rules of ``depthnb.data.photo.open_image`` (a copy below, held
to it by a test): EXIF orientation applied, 16-bit and float images scaled by their range, alpha
over white, at most 80 megapixels. The model runs at its fixed input size if it has one, else at
``--size`` H W, else at the size it was exported at (its metadata), else at the photograph's size
with the longer side at most 640. Depth (metres, the graph's ``depth`` output) is resized back to
the photograph's size. The PLY holds one point per ``--stride``-th pixel: X right, Y down, Z
forward, metres, with the pixel's colour. Intrinsics are in pixels of the photograph; without them
a pinhole camera with a horizontal field of view of ``--fov`` degrees (default 63.3: NYU Depth
v2's colour camera, fx 518.86 px at 640 px wide) and the principal point at the centre.

A mistake (a missing or damaged photo, a file that is not an ONNX depth model, a missing output
folder, a bad flag) is reported in one line and exits 1 (2 for a bad flag); nothing is written.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

NYU_FX, NYU_WIDTH = 518.8579, 640  # NYU Depth v2's colour camera: fx (pixels) at 640 wide
# Horizontal field of view, degrees (63.3): a copy of depthnb.geometry.NYU_FOV_DEG, which this
# script may not import (a test holds the two equal).
NYU_FOV = math.degrees(2 * math.atan((NYU_WIDTH / 2) / NYU_FX))
MAX_PIXELS = 80_000_000  # as depthnb.data.photo.MAX_PIXELS
MIN_SIDE = 32


class UserError(Exception):
    """A mistake the user can fix: reported as one line, never as a traceback."""


# ---- the photograph: a copy of depthnb.data.photo.open_image's rules (tests hold the two equal)

_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


def open_photo(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A photograph file -> PIL image, mode RGB, upright; UserError if it cannot be."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except FileNotFoundError as error:
        raise UserError(f"{path}: no such file; check the path") from error
    except IsADirectoryError as error:
        raise UserError(f"{path}: is a folder, not an image file") from error
    except UnidentifiedImageError as error:
        Image.init()
        raise UserError(
            f"{path}: is not an image Pillow can read (it reads {', '.join(sorted(Image.OPEN))});"
            " save it as JPEG or PNG (an iPhone's HEIC photo too)"
        ) from error
    except Image.DecompressionBombError as error:
        raise UserError(f"{path}: is over Pillow's decompression-bomb limit ({error})") from error
    except _DAMAGED as error:
        raise UserError(f"{path}: is damaged or cut short and cannot be read ({error})") from error
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise UserError(
                f"{path}: is {width}x{height} = {width * height:,} pixels, over the limit of "
                f"{max_pixels:,}; shrink it first (e.g. to 4000 pixels on its longer side)"
            )
        if width == 0 or height == 0:
            raise UserError(f"{path}: is {width}x{height} pixels, an empty image")
        try:
            image.load()
            upright = ImageOps.exif_transpose(image) or image
        except _DAMAGED as error:
            raise UserError(f"{path}: is damaged or cut short ({error})") from error
        return to_rgb(upright)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB: 16-bit by 65535, "I" by 65535 if it fits else its min..max, "F" by
    its finite min..max (NaN, -inf black, +inf white), LAB through ImageCms, alpha over white."""
    mode = image.mode
    if mode.startswith("I;16"):
        return _grey(np.asarray(image).astype(np.float64) / 65535.0)
    if mode == "I":
        values = np.asarray(image).astype(np.float64)
        low, high = (values.min(), values.max()) if values.size else (0.0, 0.0)
        inside = low >= 0 and high <= 65535
        return _grey(values / 65535.0 if inside else (values - low) / (high - low))
    if mode == "F":
        values = np.asarray(image).astype(np.float64)
        finite = values[np.isfinite(values)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
        if high > low:
            scaled = (values - low) / (high - low)
        else:
            scaled = np.where(np.isfinite(values), np.clip(values, 0.0, 1.0), values)
        return _grey(np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0))
    if mode == "LAB":
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        transform = ImageCms.buildTransform(lab, srgb, "LAB", "RGB")
        return ImageCms.applyTransform(image, transform)  # type: ignore[return-value]
    if "A" in mode or "a" in mode or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("LA" if mode == "La" else mode).convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as error:
        raise UserError(f"PIL mode {mode!r} has no RGB meaning here ({error})") from error


def _grey(fraction: np.ndarray) -> Image.Image:
    level = np.round(np.clip(fraction, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Image.fromarray(np.repeat(level[..., None], 3, axis=-1))


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


def load_model(path: str):
    """An onnxruntime session of a depthnb depth graph: one (B,3,H,W) input, a ``depth`` output."""
    try:
        import onnxruntime
    except ImportError as error:
        raise UserError(f"onnxruntime is missing ({error}): pip install onnxruntime") from error
    if not Path(path).is_file():
        raise UserError(f"{path}: no such model file; export one with python -m depthnb export")
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exception types (InvalidProtobuf, Fail, ...)
        raise UserError(
            f"{path}: onnxruntime cannot load it ({str(error).splitlines()[0]}); is it an .onnx "
            "file from python -m depthnb export?"
        ) from error
    inputs, outputs = session.get_inputs(), [output.name for output in session.get_outputs()]
    if "depth" not in outputs:
        raise UserError(
            f"{path}: the graph has no output named 'depth' (it has {', '.join(outputs)}); "
            "export a depth model with python -m depthnb export"
        )
    shape = inputs[0].shape if len(inputs) == 1 else []
    if len(shape) != 4 or (shape[1] != 3 and not isinstance(shape[1], str)):
        given = f"{len(inputs)} inputs" if len(inputs) != 1 else f"an input of shape {shape}"
        raise UserError(
            f"{path}: the graph takes {given}, not one RGB photograph (B,3,H,W); "
            "export a depth model with python -m depthnb export"
        )
    return session


def input_size(session, photo_size: tuple[int, int], wanted: list[int] | None) -> tuple[int, int]:
    """(H, W) to run the model at: its fixed size, else ``wanted``, else its export size, else
    the photograph's (longer side at most MAX_SIDE, at least 32)."""
    shape = session.get_inputs()[0].shape
    if isinstance(shape[2], int) and isinstance(shape[3], int):
        return shape[2], shape[3]
    if wanted:
        return wanted[0], wanted[1]
    exported = session.get_modelmeta().custom_metadata_map.get("export_size", "")
    parts = exported.split("x")
    if len(parts) == 2 and all(part.isdigit() and int(part) >= MIN_SIDE for part in parts):
        return int(parts[0]), int(parts[1])
    height, width = photo_size
    scale = min(1.0, MAX_SIDE / max(height, width))
    return max(MIN_SIDE, round(height * scale)), max(MIN_SIDE, round(width * scale))


def predict(session, photo: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Depth (H,W) float32 metres of an RGB photograph, at the photograph's size."""
    if photo.size == (size[1], size[0]):
        pixels = photo
    else:
        pixels = photo.resize(size[::-1], Image.Resampling.BILINEAR)
    image = np.asarray(pixels, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
    try:
        outputs = session.run(["depth"], {session.get_inputs()[0].name: image})
    except Exception as error:  # onnxruntime's own exception types
        raise UserError(
            f"onnxruntime cannot run the model at {size[0]}x{size[1]} "
            f"({str(error).splitlines()[0]}); try another --size"
        ) from error
    depth = np.asarray(outputs[0], dtype=np.float32)
    if depth.ndim != 4 or depth.shape[:2] != (1, 1):
        raise UserError(f"the model's depth output has shape {depth.shape}; expected (1,1,H,W)")
    depth = depth[0, 0]
    bad = int(np.count_nonzero(~np.isfinite(depth)))
    if bad:
        raise UserError(
            f"the model predicted NaN or infinite depth at {bad} of {depth.size} pixels: its "
            "weights or its export are broken; export it again from a good checkpoint"
        )
    if depth.shape != (photo.height, photo.width):
        resized = Image.fromarray(depth).resize(photo.size, Image.Resampling.BILINEAR)
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an .onnx file from python -m depthnb export")
    parser.add_argument("photo", help="a photograph (JPEG, PNG, ...)")
    parser.add_argument("--png", help="depth image to write (default PHOTO_depth.png)")
    parser.add_argument("--ply", help="point cloud to write (default PHOTO_depth.ply)")
    parser.add_argument("--npy", help="also write the depth in metres (H,W float32) here")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="inference size")
    parser.add_argument(
        "--fov",
        type=float,
        default=NYU_FOV,
        help=f"horizontal field of view, degrees, in (0, 180) (default {NYU_FOV:.1f}: NYU Depth "
        "v2's colour camera)",
    )
    for name in ("fx", "fy", "cx", "cy"):
        parser.add_argument(f"--{name}", type=float, help=f"intrinsics {name} in pixels")
    parser.add_argument("--stride", type=int, default=1, help="keep every n-th pixel in the PLY")
    return parser


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse values with no meaning (exit 2 with the reason): sizes, angles, focal lengths."""
    if args.size and min(args.size) < MIN_SIDE:
        parser.error(f"--size {args.size[0]} {args.size[1]}: each side must be at least {MIN_SIDE}")
    if not (math.isfinite(args.fov) and 0 < args.fov < 180):
        parser.error(f"--fov {args.fov}: a field of view is between 0 and 180 degrees, exclusive")
    for name in ("fx", "fy"):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            parser.error(f"--{name} {value}: a focal length is a positive number of pixels")
    for name in ("cx", "cy"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            parser.error(f"--{name} {value}: a principal point is a finite number of pixels")
    if args.stride < 1:
        parser.error(f"--stride {args.stride}: keep every n-th pixel with n at least 1")


def output_paths(args: argparse.Namespace) -> tuple[Path, Path, Path | None]:
    """The PNG, PLY and (optional) NPY to write; UserError if a folder for them is missing."""
    stem = Path(args.photo).with_suffix("")
    png = Path(args.png or f"{stem}_depth.png")
    ply = Path(args.ply or f"{stem}_depth.ply")
    npy = Path(args.npy) if args.npy else None
    for path in (png, ply, npy):
        if path is not None and not path.parent.is_dir():
            raise UserError(f"{path}: its folder {path.parent} does not exist; create it first")
        if path is not None and path.is_dir():
            raise UserError(f"{path}: is a folder; name a file to write")
    return png, ply, npy


def run(args: argparse.Namespace) -> int:
    """Predict, then write the PNG, the PLY and the NPY; prints what it did."""
    png, ply, npy = output_paths(args)
    session = load_model(args.model)
    photo = open_photo(args.photo)
    size = input_size(session, (photo.height, photo.width), args.size)
    depth = predict(session, photo, size)
    low, high = float(np.percentile(depth, 1)), float(np.percentile(depth, 99))
    fx = args.fx or photo.width / (2 * math.tan(math.radians(args.fov) / 2))
    fy = args.fy or fx
    cx = args.cx if args.cx is not None else (photo.width - 1) / 2
    cy = args.cy if args.cy is not None else (photo.height - 1) / 2
    points, (rows, cols) = back_project(depth, fx, fy, cx, cy, args.stride)
    try:
        write_atomically(png, _png(colorize(depth, low, high)))
        write_atomically(ply, ply_bytes(points, np.asarray(photo)[rows, cols]))
        if npy is not None:
            write_atomically(npy, _npy(depth))
    except OSError as error:
        where = error.filename or "the outputs"
        raise UserError(f"cannot write {where}: {error.strerror}") from error
    print(
        f"depth {depth.min():.2f} .. {depth.max():.2f} m (colours span {low:.2f} .. "
        f"{high:.2f} m), model input {size[0]}x{size[1]}, photo {photo.height}x{photo.width}"
    )
    print(f"wrote {png} and {ply} ({len(points)} points, fx={fx:.1f} fy={fy:.1f} px)")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (1 for a user error, with its one-line reason)."""
    parser = _parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    try:
        return run(args)
    except UserError as error:
        print(f"depth_onnx.py: error: {error}", file=sys.stderr)
        return 1


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
