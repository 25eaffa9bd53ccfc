"""PLY point clouds that Open3D, MeshLab and CloudCompare open: float32 x, y, z and uchar r, g, b.

ply
format binary_little_endian 1.0      (or: format ascii 1.0)
comment written by depthnb
element vertex N
property float x
property float y
property float z
property uchar red                   (only with colours)
property uchar green
property uchar blue
end_header
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from depthnb.errors import DataError, ShapeError
from depthnb.utils.files import atomic_write

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip


def _colors_uint8(colors: np.ndarray, n: int) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.shape != (n, 3):
        raise ShapeError(f"colors have shape {colors.shape}; expected ({n}, 3) like the points.")
    if colors.dtype == np.uint8:
        return colors
    if np.issubdtype(colors.dtype, np.floating) and colors.size and colors.max() <= 1.0:
        colors = colors * 255.0
    return np.clip(np.rint(colors), 0, 255).astype(np.uint8)


def save_ply(
    path: str | os.PathLike,
    points: np.ndarray,
    colors: np.ndarray | None = None,
    binary: bool = True,
) -> Path:
    """Write a point cloud (N,3) metres, optionally coloured (N,3), as a PLY file; return the path.

    Colours may be uint8 (0-255) or float (0-1). ``binary=True`` writes binary_little_endian (small,
    fast); ``binary=False`` writes ASCII (readable in a text editor). The file appears complete or
    not at all: it is written to a temporary name in the same folder, then renamed.
    """
    path = Path(path)
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ShapeError(f"points have shape {points.shape}; expected (N,3) for {path}.")
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertices = np.empty(len(points), dtype=fields)
    vertices["x"], vertices["y"], vertices["z"] = points.T
    if colors is not None:
        rgb = _colors_uint8(colors, len(points))
        vertices["red"], vertices["green"], vertices["blue"] = rgb.T
    header = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment written by depthnb",
        f"element vertex {len(points)}",
        *(f"property {'float' if t == '<f4' else 'uchar'} {name}" for name, t in fields),
        "end_header",
    ]
    formats = ["%.9g"] * 3 + (["%d"] * 3 if colors is not None else [])

    def write(file: BinaryIO) -> None:
        file.write(("\n".join(header) + "\n").encode("ascii"))
        if binary:
            file.write(vertices.tobytes())
        else:
            np.savetxt(file, vertices.tolist(), fmt=formats)

    return atomic_write(path, write)


def read_ply(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Read the vertices of a PLY point cloud: points float32 (N,3) and colours uint8 (N,3) or None.

    Reads ASCII and binary (little or big endian) files whose first element is ``vertex`` with
    scalar properties (any other elements after it are ignored).
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            fmt, count, properties = _read_header(file, path)
            names = [name for name, _ in properties]
            columns = _read_vertices(file, path, fmt, count, properties)
    except DataError:
        raise
    except (OSError, ValueError, IndexError) as error:  # a missing file, a malformed line
        raise DataError(
            f"{path} cannot be read as a PLY point cloud ({type(error).__name__}: {error})."
        ) from error
    points = np.stack([columns["x"], columns["y"], columns["z"]], axis=-1).astype(np.float32)
    if {"red", "green", "blue"} <= set(names):
        colors = np.stack([columns["red"], columns["green"], columns["blue"]], axis=-1)
        return points, colors.astype(np.uint8)
    return points, None


def _read_header(file: BinaryIO, path: Path) -> tuple[str | None, int, list[tuple[str, str]]]:
    """The format, the vertex count and the vertex properties (name, NumPy type) of a header."""
    if file.readline().strip() != b"ply":
        raise DataError(f"{path} is not a PLY file (it does not start with 'ply').")
    fmt: str | None = None
    count, element = 0, None
    properties: list[tuple[str, str]] = []
    while True:
        line = file.readline()
        if not line:
            raise DataError(f"{path} has no 'end_header' line: the file is cut short.")
        words = line.decode("ascii", errors="replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            break
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            element = words[1]
            if element == "vertex":
                count = int(words[2])
            elif count == 0:
                raise DataError(f"{path}: element {element!r} precedes 'vertex'; unsupported.")
        elif words[0] == "property" and element == "vertex":
            properties.append(_vertex_property(words, path))
    names = [name for name, _ in properties]
    if not {"x", "y", "z"} <= set(names):
        raise DataError(f"{path}: the vertex element has no x, y, z properties ({names}).")
    return fmt, count, properties


def _vertex_property(words: list[str], path: Path) -> tuple[str, str]:
    """``property <type> <name>`` -> (name, NumPy type); list properties are refused."""
    if words[1] == "list" or words[1] not in _PLY_TYPES:
        raise DataError(f"{path}: vertex property {' '.join(words[1:])} unsupported.")
    return words[2], _PLY_TYPES[words[1]]


def _read_vertices(
    file: BinaryIO, path: Path, fmt: str | None, count: int, properties: list[tuple[str, str]]
) -> Any:
    """The vertex table after the header: name -> (N,) column (a dict or a structured array)."""
    names = [name for name, _ in properties]
    if count < 0:
        raise DataError(f"{path}: its header declares {count} vertices.")
    if fmt == "ascii":
        table = np.loadtxt(file, max_rows=count, ndmin=2) if count else np.zeros((0, len(names)))
        if table.shape != (count, len(names)):
            raise DataError(
                f"{path} holds a {table.shape} vertex table; its header promises "
                f"({count}, {len(names)})."
            )
        return {name: table[:, i] for i, name in enumerate(names)}
    if fmt in ("binary_little_endian", "binary_big_endian"):
        order = "<" if fmt == "binary_little_endian" else ">"
        dtype = np.dtype([(name, order + t) for name, t in properties])
        if dtype.itemsize * count > os.fstat(file.fileno()).st_size - file.tell():
            raise DataError(f"{path} holds fewer than the {count} vertices its header promises.")
        data = file.read(dtype.itemsize * count)
        if len(data) < dtype.itemsize * count:
            raise DataError(f"{path} holds fewer than the {count} vertices its header promises.")
        return np.frombuffer(data, dtype=dtype, count=count)
    raise DataError(f"{path}: unknown PLY format {fmt!r}.")
