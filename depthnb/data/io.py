"""Decoding and checking the files the real-dataset readers share: images, depth PNGs, samples.

Every function here turns a library's exception (PIL, NumPy) into a :class:`~depthnb.DataError`
that names the file, what was expected, and what to do about it.
"""

from __future__ import annotations

import io
import math
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from depthnb.errors import DataError

Source = str | Path | bytes
"""A file path, or the bytes of a file read from an archive."""


Transform = Callable[[dict], dict]
"""What datasets take as ``transform``: sample dict -> sample dict."""


MAX_MEMBER_BYTES = 1 << 28
"""The largest archive member (256 MiB uncompressed) that a reader decompresses into memory: a
member declaring more is damaged or a zip bomb (DenseDepth's largest image is under 1 MB)."""

# What PIL's decoders raise on damaged data besides OSError: a bad header (SyntaxError,
# struct.error, IndexError), a bad value (ValueError, TypeError), a cut stream (EOFError).
_PIL_ERRORS = (OSError, ValueError, SyntaxError, TypeError, IndexError, EOFError, struct.error)


def _open_image(source: Source, name: str, hint: str) -> Image.Image:
    """Open and fully decode an image with PIL, raising DataError if it cannot be read.

    The size the header declares is checked against PIL's pixel limit
    (``PIL.Image.MAX_IMAGE_PIXELS``) before any pixel is decoded.
    """
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        if limit and image.width * image.height > limit:
            raise Image.DecompressionBombError(f"{image.width}x{image.height} pixels")
        image.load()
    except Image.DecompressionBombError as error:
        raise DataError(
            f"{name}: its header declares more pixels than the limit of {limit} "
            f"(PIL.Image.MAX_IMAGE_PIXELS) ({error}); the file is damaged or a decompression "
            f"bomb. {hint}"
        ) from error
    except (UnidentifiedImageError, *_PIL_ERRORS) as error:
        raise DataError(
            f"{name}: cannot be read as an image ({error}); the file is probably truncated or "
            f"corrupt. {hint}"
        ) from error
    return image


ZIP_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    NotImplementedError,
    RuntimeError,
    ValueError,
    struct.error,
)
"""What :mod:`zipfile` raises on a damaged archive: a bad CRC or directory (BadZipFile), a cut or
corrupt stream (EOFError, zlib.error, lzma and bz2 errors are OSErrors or ValueErrors), a
compression method it lacks (NotImplementedError), an encrypted member (RuntimeError)."""


def read_member(archive: zipfile.ZipFile, member: str, name: str, hint: str = "") -> bytes:
    """The bytes of ``member`` of an open zip, refusing one that declares more than
    :data:`MAX_MEMBER_BYTES` before decompressing it; ``name`` (the zip's path) is in errors."""
    try:
        info = archive.getinfo(member)
        if info.file_size > MAX_MEMBER_BYTES:
            raise DataError(
                f"{name}: member {member} declares {info.file_size} bytes, over the "
                f"{MAX_MEMBER_BYTES} a reader unpacks; the zip is damaged or a zip bomb. {hint}"
            )
        return archive.read(info)
    except DataError:
        raise
    except KeyError as error:
        raise DataError(f"{name}: has no member {member!r}. {hint}") from error
    except ZIP_ERRORS as error:
        raise DataError(
            f"{name}: member {member} cannot be read ({type(error).__name__}: {error}); the zip "
            f"is truncated or corrupt. {hint}"
        ) from error


NUMERIC_KINDS = "biuf"
"""NumPy dtype kinds of plain numbers: bool, signed and unsigned integers, floats."""


def read_npy(path: Path, hint: str = "") -> np.ndarray:
    """Load a numeric ``.npy`` file, checking its header before anything is allocated.

    The header must declare a plain numeric dtype (no objects, which would need a pickle; no
    strings, records or complex numbers) and an array the file actually holds: a header declaring
    10^12 elements in a file of a few bytes is refused, not allocated.

    Raises:
        DataError: not a ``.npy``, a header that does not parse, another dtype, or fewer bytes
            than the header declares; the message names ``path``.
    """
    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
            header_end = file.tell()
        size = path.stat().st_size
    except Exception as error:  # numpy's header parser raises ValueError, TokenError, SyntaxError
        raise DataError(
            f"{path}: cannot be read as a .npy array ({type(error).__name__}: {error}); it is "
            f"truncated or corrupt. {hint}"
        ) from error
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise DataError(f"{path}: holds {dtype} values; expected plain numbers. {hint}")
    needed = math.prod(shape) * dtype.itemsize
    if header_end + needed > size:
        raise DataError(
            f"{path}: its header declares a {dtype} array of shape {shape} ({needed} bytes) but "
            f"the file holds {size - header_end}; it is truncated or damaged. {hint}"
        )
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{path}: cannot be read as a .npy array ({error}). {hint}") from error
    return array


def read_rgb(source: Source, name: str, hint: str = "") -> np.ndarray:
    """Read an RGB image (any format PIL reads; grey and RGBA are converted) -> uint8 (H,W,3)."""
    return np.asarray(_open_image(source, name, hint).convert("RGB"), dtype=np.uint8)


def read_grey(source: Source, name: str, hint: str = "") -> np.ndarray:
    """Read an 8-bit greyscale image (a mask or an 8-bit depth JPEG) -> uint8 (H,W)."""
    return np.asarray(_open_image(source, name, hint).convert("L"), dtype=np.uint8)


def read_depth_png(source: Source, name: str, hint: str = "") -> tuple[np.ndarray, int]:
    """Read a single-channel depth PNG at its stored bit depth -> (values (H,W), bits 8 or 16).

    The bit depth comes from the decoded image itself (PIL mode ``L`` is 8-bit; ``I;16``, its
    byte-order variants, and ``I`` are 16-bit), never from the file name.
    """
    image = _open_image(source, name, hint)
    if image.mode == "L":
        return np.asarray(image, dtype=np.uint8), 8
    if image.mode.startswith("I;16") or image.mode == "I":
        values = np.asarray(image).astype(np.int64)
        if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
            raise DataError(f"{name}: depth values outside 0..65535; expected a 16-bit PNG. {hint}")
        return values.astype(np.uint16), 16
    raise DataError(
        f"{name}: depth PNG has PIL mode {image.mode!r}; expected one channel, 8-bit ('L') or "
        f"16-bit ('I;16'). {hint}"
    )


def check_same_size(
    shape: Sequence[int], expected: Sequence[int], name: str, hint: str = ""
) -> None:
    """Raise DataError unless ``shape[:2]`` (H,W) equals ``expected[:2]``."""
    if tuple(shape[:2]) != tuple(expected[:2]):
        raise DataError(
            f"{name}: has size {tuple(shape[:2])} (H,W) but its image is {tuple(expected[:2])}; "
            f"each depth map must match its image pixel for pixel. {hint}"
        )


def make_sample(
    image: np.ndarray,
    depth: np.ndarray,
    valid: np.ndarray,
    intrinsics: Sequence[float] | np.ndarray,
    mask: np.ndarray | None = None,
    background: np.ndarray | None = None,
) -> dict[str, torch.Tensor]:
    """Numpy arrays -> the sample of tensors (:mod:`depthnb.data.sample`).

    Args:
        image: uint8 (H,W,3) RGB.
        depth: float (H,W) metres; set to 0 where ``valid`` is False.
        valid: bool (H,W).
        intrinsics: fx, fy, cx, cy in pixels at (H,W).
        mask: optional (H,W) foreground mask, anything > 0 is foreground.
        background: optional uint8 (H,W,3) background-only image.

    Returns:
        ``image`` float32 (3,H,W) in [0,1], ``depth`` float32 (1,H,W), ``valid`` bool (1,H,W),
        ``intrinsics`` float32 (4,), and ``mask`` float32 (1,H,W) / ``background`` float32 (3,H,W)
        when given.
    """
    valid = np.asarray(valid, dtype=bool)
    depth = np.where(valid, depth, 0).astype(np.float32)
    sample = {
        "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / 255.0,
        "depth": torch.from_numpy(np.ascontiguousarray(depth))[None],
        "valid": torch.from_numpy(np.ascontiguousarray(valid))[None],
        "intrinsics": torch.tensor([float(v) for v in intrinsics], dtype=torch.float32),
    }
    if mask is not None:
        sample["mask"] = torch.from_numpy(np.ascontiguousarray(mask > 0)).float()[None]
    if background is not None:
        sample["background"] = (
            torch.from_numpy(np.ascontiguousarray(background.transpose(2, 0, 1))).float() / 255.0
        )
    return sample


class PerProcessHandle:
    """A file handle opened on first use in each process, so datasets work with DataLoader workers.

    ``opener()`` returns the handle (an ``h5py.File``, a ``zipfile.ZipFile``). Each process opens
    its own (a handle inherited through ``fork`` is never reused), and pickling drops the handle,
    so a dataset holding one can be sent to spawned workers.
    """

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self._handle: Any = None
        self._pid: int | None = None

    def get(self) -> Any:
        """The handle of this process, opened now if needed."""
        if self._handle is None or self._pid != os.getpid():
            self._handle = self._opener()
            self._pid = os.getpid()
        return self._handle

    def __getstate__(self) -> dict[str, Any]:
        return {"_opener": self._opener, "_handle": None, "_pid": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
