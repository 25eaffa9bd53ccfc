"""A user's own image, opened one way everywhere: upright, RGB by its range, within a pixel limit.

>>> import io
>>> from PIL import Image
>>> upload = io.BytesIO()
>>> Image.new("RGB", (64, 48), "grey").save(upload, "JPEG")   # a photograph's bytes, say
>>> open_image(upload)                        # or a path: PIL image, mode "RGB", upright
<PIL.Image.Image image mode=RGB size=64x48 at ...>
>>> load_image(upload.getvalue()).shape       # uint8 (H,W,3)
(48, 64, 3)

Every path by which a photograph enters the package (:func:`depthnb.predict.predict_depth`, the
``predict`` command, the explorer, the lessons) calls :func:`open_image`. Its rules:

- **Orientation.** Phones store the camera's rotation in the EXIF ``Orientation`` tag instead of
  rotating the pixels; :func:`PIL.ImageOps.exif_transpose` applies it, so the image is upright.
- **Size.** The width and height are read from the file's header (``Image.open`` decodes nothing)
  and an image over ``max_pixels`` is refused before a byte of it is decoded. Pillow's own
  decompression-bomb warning is silenced for this one call, and its error (over twice
  ``PIL.Image.MAX_IMAGE_PIXELS``) becomes an :class:`~depthnb.errors.ImageError`; the global
  ``MAX_IMAGE_PIXELS`` is never changed.
- **Modes**, each mapped to RGB by its own range:

  | PIL mode | becomes |
  |---|---|
  | ``RGB``, ``1``, ``L``, ``CMYK``, ``YCbCr``, ``HSV``, ``RGBX``, ``P`` | ``convert("RGB")`` |
  | ``LAB`` | CIE L*a*b* to sRGB through Pillow's colour management (ImageCms) |
  | ``RGBA``, ``LA``, ``PA``, ``RGBa``, ``La``, ``P`` with transparency | over **white** |
  | ``I;16``, ``I;16L``, ``I;16B``, ``I;16N`` | grey, value / 65535 (the 16-bit range) |
  | ``I`` (32-bit integer) | grey; value / 65535 when every value is in 0..65535 (how Pillow |
  | | holds 16-bit data after most operations), else stretched over its own min..max |
  | ``F`` (32-bit float) | grey, stretched over its own finite min..max; NaN and -inf become |
  | | black, +inf white; a constant image keeps its value clipped to 0..1 |

  Alpha is composited over white (a transparent background reads as a plain white wall, not as
  black, which a depth network would take for a hole); 16-bit values are scaled, never clipped
  at 255.

- **Errors.** A file that is not an image, a damaged or truncated one, and one over the pixel
  limit raise :class:`~depthnb.errors.ImageError` (also a ``ValueError``) naming the file and
  saying what to do.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from typing import IO, Any, Union

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from depthnb.errors import ArgumentError, ImageError

MAX_PIXELS = 80_000_000
"""The largest image :func:`open_image` decodes, in pixels (80 megapixels).

Large enough for the full resolution of a 64-megapixel phone sensor (9248 x 6936 = 64.1 MP; the
usual 12 to 50 MP photographs are far below it), and below Pillow's own decompression-bomb
warning (``PIL.Image.MAX_IMAGE_PIXELS``, 89.5 MP) so the two never disagree. At the limit the
decoded RGB image is 240 MB and ``predict_depth``'s float copies about 2 GB, within Colab's
12.7 GB. Pass ``max_pixels`` for larger images, or shrink them first.
"""

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Image.Image]
"""What :func:`open_image` takes: a path, the bytes of a file, a binary file object, a PIL image."""

_RANGE_16 = 65535.0
_WHITE = (255, 255, 255, 255)
# Pillow's exceptions for a damaged file: truncated data (OSError), a bad header (SyntaxError,
# ValueError, EOFError), a decoder that gives up (struct errors are ValueErrors too).
_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


def open_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A user's image -> a PIL image, mode ``"RGB"``, upright, decoded and detached from its file.

    Args:
        source: a path (``str`` or ``os.PathLike``), the bytes of an image file (``bytes``,
            ``bytearray``, ``memoryview``), a binary file object (left open), or a PIL image
            (left unchanged; a lazily opened one is size-checked before it is decoded).
        max_pixels: refuse images with more pixels than this (width x height).

    Returns:
        A new ``PIL.Image.Image`` in mode ``"RGB"`` with the EXIF orientation applied and the
        mode mapped to RGB as the table in :mod:`depthnb.data.photo` says.

    Raises:
        ImageError: a missing file, a file that is not an image, a damaged one, one over
            ``max_pixels``, or a PIL mode with no RGB meaning; the message names the source.
        ArgumentError: ``max_pixels`` is not a positive integer.
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ArgumentError(f"max_pixels={max_pixels!r}: use a positive whole number of pixels")
    if isinstance(source, Image.Image):
        return _decode(source, _describe(source), max_pixels)
    name = _describe(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _open_and_decode(io.BytesIO(bytes(source)), name, max_pixels)
    if isinstance(source, (str, os.PathLike)):
        return _open_and_decode(os.fspath(source), name, max_pixels)
    if hasattr(source, "read"):
        return _open_and_decode(source, name, max_pixels)
    raise ImageError(
        f"open_image got a {type(source).__name__}; pass a file path, the bytes of an image "
        "file, a binary file object or a PIL image"
    )


def load_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A user's image -> uint8 NumPy array (H,W,3), RGB, upright: :func:`open_image` as an array.

    Raises:
        ImageError: as :func:`open_image`.
    """
    return np.array(open_image(source, max_pixels), dtype=np.uint8)


def _describe(source: Any) -> str:
    """How an error message names the source: the path, the file's name, or what it is."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"the image bytes given ({len(bytes(source))} bytes)"
    if isinstance(source, Image.Image):
        filename = getattr(source, "filename", "")
        return str(filename) if filename else f"the PIL image given (mode {source.mode})"
    return str(getattr(source, "name", "") or f"the {type(source).__name__} given")


def _open_and_decode(file: str | IO[bytes], name: str, max_pixels: int) -> Image.Image:
    """Open ``file`` with Pillow (header only), check it, decode it, close it if we opened it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(file)
    except FileNotFoundError as error:
        raise ImageError(f"{name}: no such file; check the path") from error
    except IsADirectoryError as error:
        raise ImageError(f"{name}: is a folder, not an image file; name one image") from error
    except UnidentifiedImageError as error:
        raise ImageError(
            f"{name}: is not an image Pillow can read (it reads {', '.join(_formats())}); "
            "save it as JPEG or PNG (an iPhone's HEIC photo too) and try again"
        ) from error
    except Image.DecompressionBombError as error:
        raise ImageError(
            f"{name}: is over Pillow's decompression-bomb limit ({error}); refused before "
            "decoding. Shrink it first, e.g. to 4000 pixels on its longer side"
        ) from error
    except PermissionError as error:
        raise ImageError(f"{name}: cannot be read ({error.strerror}); check its permissions") from (
            error
        )
    except _DAMAGED as error:
        raise ImageError(
            f"{name}: is damaged or cut short and cannot be read as an image ({error}); copy or "
            "download it again"
        ) from error
    with image:
        return _decode(image, name, max_pixels)


def _decode(image: Image.Image, name: str, max_pixels: int) -> Image.Image:
    """Check the size (from the header), decode, apply the EXIF orientation, map to RGB."""
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,}; shrink it first (e.g. to 4000 pixels on its longer side) or pass "
            "a larger max_pixels if it really is a photograph"
        )
    if width == 0 or height == 0:
        raise ImageError(f"{name}: is {width}x{height} pixels, an empty image")
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except _DAMAGED as error:
        raise ImageError(
            f"{name}: is damaged or cut short and cannot be decoded ({error}); copy or download "
            "it again"
        ) from error
    if upright is None:  # only for in_place=True; keeps the type checker informed
        upright = image
    return _to_rgb(upright, name)


def _formats() -> list[str]:
    """The names of the image formats this Pillow opens (JPEG, PNG, TIFF, WEBP, ...)."""
    Image.init()
    return sorted(Image.OPEN)


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    """Any PIL mode -> a new mode-"RGB" image, by the rules in the table of this module."""
    mode = image.mode
    if mode in _CONVERTERS:
        return _CONVERTERS[mode](image)
    if mode.startswith("I;16"):
        return _grey(np.asarray(image).astype(np.float64) / _RANGE_16)
    if "A" in mode or "a" in mode or (mode == "P" and "transparency" in image.info):
        return _over_white(image)
    try:
        return image.convert("RGB")
    except ValueError as error:
        raise ImageError(
            f"{name}: has PIL mode {mode!r}, which has no RGB meaning here ({error}); save it as "
            "an RGB JPEG or PNG"
        ) from error


def _over_white(image: Image.Image) -> Image.Image:
    """An image with alpha (RGBA, LA, PA, La, RGBa, P with transparency) composited over white."""
    rgba = image.convert("LA" if image.mode == "La" else image.mode).convert("RGBA")
    background = Image.new("RGBA", rgba.size, _WHITE)
    return Image.alpha_composite(background, rgba).convert("RGB")


def _lab(image: Image.Image) -> Image.Image:
    """CIE L*a*b* (Pillow's 8-bit encoding) -> sRGB through Pillow's colour management."""
    transform = ImageCms.buildTransform(
        ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
    )
    return ImageCms.applyTransform(image, transform)  # type: ignore[return-value]


def _int32(image: Image.Image) -> Image.Image:
    """Mode ``I``: by the 16-bit range when every value fits in 0..65535, else its own range."""
    values = np.asarray(image).astype(np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if low >= 0 and high <= _RANGE_16:
        return _grey(values / _RANGE_16)
    return _grey((values - low) / (high - low))


def _float(image: Image.Image) -> Image.Image:
    """Mode ``F``: stretched over its own finite min..max; NaN, -inf black and +inf white."""
    values = np.asarray(image).astype(np.float64)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if high > low:
        scaled = (values - low) / (high - low)
    else:  # a constant image: its value, read as 0..1
        scaled = np.where(np.isfinite(values), np.clip(values, 0.0, 1.0), values)
    return _grey(np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0))


def _grey(fraction: np.ndarray) -> Image.Image:
    """Grey values in [0, 1] (H,W) -> an RGB image with three equal channels, rounded."""
    level = np.round(np.clip(fraction, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Image.fromarray(np.repeat(level[..., None], 3, axis=-1))


_CONVERTERS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "LAB": _lab,
    "I": _int32,
    "F": _float,
}
