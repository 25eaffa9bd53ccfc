"""Photographs a user might bring, written in their real formats, each with what it should become.

Each writer saves one file into ``folder`` and returns ``(path, expected)``: ``expected`` is the
upright uint8 (H,W,3) RGB image computed here with NumPy alone (never through Pillow's conversions
that the code under test uses), or ``None`` for a file that must be refused. JPEGs are lossy, so
their expectations are compared with a tolerance (``JPEG_TOLERANCE``).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

JPEG_TOLERANCE = 12  # grey levels; flat colour blocks at quality 95 stay well inside this
ORIENTATION = 0x0112  # the EXIF tag

# Displayed (upright) = stored turned by: 3 -> 180 degrees, 6 -> 90 clockwise, 8 -> 90 counter-
# clockwise (EXIF 2.32, table of Orientation). So stored = upright turned the other way; np.rot90
# turns counter-clockwise for k = 1.
STORED_TURNS = {1: 0, 3: 2, 6: 1, 8: -1}


def quadrants(height: int = 48, width: int = 64) -> np.ndarray:
    """An upright scene: red top-left, green top-right, blue bottom-left, white bottom-right."""
    rgb = np.zeros((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    rgb[:h, :w] = (255, 0, 0)
    rgb[:h, w:] = (0, 255, 0)
    rgb[h:, :w] = (0, 0, 255)
    rgb[h:, w:] = (255, 255, 255)
    return rgb


def phone_jpeg(folder: Path, orientation: int) -> tuple[Path, np.ndarray]:
    """A phone-style JPEG: the pixels stored sideways, the EXIF Orientation tag saying how."""
    upright = quadrants()
    stored = np.ascontiguousarray(np.rot90(upright, k=STORED_TURNS[orientation]))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = folder / f"phone_orientation_{orientation}.jpg"
    Image.fromarray(stored).save(path, format="JPEG", exif=exif, quality=95)
    return path, upright


def png16(folder: Path) -> tuple[Path, np.ndarray]:
    """A 16-bit greyscale PNG (PIL mode I;16): a left-to-right ramp over the whole 0..65535."""
    ramp = np.round(np.linspace(0, 65535, 256)).astype(np.uint16)
    values = np.tile(ramp, (16, 1))
    path = folder / "ramp16.png"
    Image.fromarray(values).save(path)
    grey = np.round(values / 65535.0 * 255.0).astype(np.uint8)
    return path, np.repeat(grey[..., None], 3, axis=-1)


def tiff_float(folder: Path) -> tuple[Path, np.ndarray]:
    """A 32-bit float TIFF (PIL mode F) from -1 to 3, with one NaN: stretched over -1..3, NaN 0."""
    values = np.tile(np.linspace(-1.0, 3.0, 40, dtype=np.float32), (10, 1))
    values[0, 5] = np.nan
    path = folder / "float.tif"
    Image.fromarray(values).save(path)
    fraction = np.nan_to_num((values.astype(np.float64) + 1.0) / 4.0, nan=0.0)
    grey = np.round(fraction * 255.0).astype(np.uint8)
    return path, np.repeat(grey[..., None], 3, axis=-1)


def palette_alpha_png(folder: Path) -> tuple[Path, np.ndarray]:
    """A palette PNG whose first entry is transparent, second half-transparent red, third blue."""
    indices = np.repeat(np.array([[0] * 10 + [1] * 10 + [2] * 10], np.uint8), 6, axis=0)
    image = Image.frombytes("P", (30, 6), indices.tobytes())
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    path = folder / "palette_alpha.png"
    image.save(path, transparency=bytes([0, 128, 255]))
    expected = np.empty((6, 30, 3), np.uint8)
    expected[:, :10] = 255  # transparent: the white it is composited over
    red_over_white = np.round(np.array([255, 0, 0]) * 128 / 255 + 255 * (1 - 128 / 255))
    expected[:, 10:20] = red_over_white.astype(np.uint8)
    expected[:, 20:] = (0, 0, 255)
    return path, expected


def la_png(folder: Path) -> tuple[Path, np.ndarray]:
    """A grey-with-alpha PNG (mode LA): black at alpha 0, 128 and 255 -> white, grey, black."""
    grey = np.zeros((4, 30), np.uint8)
    alpha = np.repeat(np.array([[0] * 10 + [128] * 10 + [255] * 10], np.uint8), 4, axis=0)
    path = folder / "grey_alpha.png"
    Image.frombytes("LA", (30, 4), np.dstack([grey, alpha]).tobytes()).save(path)
    level = np.round(255 * (1 - alpha / 255.0)).astype(np.uint8)
    return path, np.repeat(level[..., None], 3, axis=-1)


def cmyk_jpeg(folder: Path) -> tuple[Path, np.ndarray]:
    """A CMYK JPEG: cyan on the left, magenta in the middle, black (K) on the right."""
    inks = np.zeros((16, 48, 4), np.uint8)
    inks[:, :16, 0] = 255
    inks[:, 16:32, 1] = 255
    inks[:, 32:, 3] = 255
    path = folder / "cmyk.jpg"
    Image.frombytes("CMYK", (48, 16), inks.tobytes()).save(path, quality=95)
    expected = np.empty((16, 48, 3), np.uint8)
    expected[:, :16] = (0, 255, 255)
    expected[:, 16:32] = (255, 0, 255)
    expected[:, 32:] = (0, 0, 0)
    return path, expected


def not_an_image(folder: Path) -> tuple[Path, None]:
    """A text file with an image's name."""
    path = folder / "shopping_list.jpg"
    path.write_text("eggs\nmilk\nflour\n")
    return path, None


def truncated_jpeg(folder: Path) -> tuple[Path, None]:
    """A real JPEG of noise cut off at half its bytes: the header reads, the pixels do not."""
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    path = folder / "cut_short.jpg"
    Image.fromarray(noise).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, None


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(folder: Path, width: int = 10_000, height: int = 9_000) -> tuple[Path, None]:
    """A PNG whose header declares ``width`` x ``height`` RGB pixels (90 megapixels by default)
    and that holds almost nothing: under 100 bytes on disk, gigabytes if anyone decoded it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path = folder / f"huge_{width}x{height}.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _chunk(b"IEND", b"")
    )
    return path, None


GOOD = {
    "exif6": lambda folder: phone_jpeg(folder, 6),
    "exif3": lambda folder: phone_jpeg(folder, 3),
    "exif8": lambda folder: phone_jpeg(folder, 8),
    "png16": png16,
    "float-tiff": tiff_float,
    "palette-alpha": palette_alpha_png,
    "LA": la_png,
    "CMYK": cmyk_jpeg,
}
"""Files that open, with their upright RGB expectation."""

BAD = {
    "not-an-image": (not_an_image, "not an image Pillow can read"),
    "truncated": (truncated_jpeg, "damaged or cut short"),
    "over-limit": (huge_png, "over the limit"),
    "bomb": (lambda folder: huge_png(folder, 20_000, 20_000), "decompression-bomb"),
}
"""Files that must be refused, with a phrase the one-line error must contain."""


def assert_matches(result: np.ndarray, expected: np.ndarray, name: str) -> None:
    """``result`` (H,W,3) uint8 equals ``expected`` exactly, or for a JPEG within
    ``JPEG_TOLERANCE`` away from colour edges (chroma subsampling blurs 4 pixels either side)."""
    assert result.dtype == np.uint8 and result.shape == expected.shape, (result.shape, name)
    if not (name.startswith("exif") or name == "CMYK"):
        np.testing.assert_array_equal(result, expected, err_msg=name)
        return
    interior = np.ones(expected.shape[:2], bool)
    for axis in (0, 1):
        for shift in range(-4, 5):
            interior &= (np.roll(expected, shift, axis=axis) == expected).all(axis=-1)
    assert interior.mean() > 0.4, name  # most of the image is compared
    difference = np.abs(result.astype(int) - expected.astype(int))[interior]
    assert difference.max() <= JPEG_TOLERANCE, (name, difference.max())
