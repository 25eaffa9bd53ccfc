"""Decode once, train many times: a dataset stored at training resolution in memory-mapped arrays.

Decoding a 640x480 PNG pair and resizing it costs tens of milliseconds, about what two CPU cores
(a Colab VM) cannot afford per sample while a GPU waits. :func:`build_cache` runs the dataset once,
resizes every sample to the training size and writes it to ``.npy`` files:

==================  ==================  =====================================
file                dtype, shape        contents
==================  ==================  =====================================
``image.npy``       uint8 (N,H,W,3)     RGB, 0..255
``depth.npy``       float16 (N,H,W)     metres, 0 where unknown
``valid.npy``       bool (N,H,W)        where depth may be trusted
``intrinsics.npy``  float32 (N,4)       fx, fy, cx, cy at (H, W), pixels
``mask.npy``        uint8 (N,H,W)       optional foreground mask 0/1
``background.npy``  uint8 (N,H,W,3)     optional background-only image
``meta.json``       -                   format, version, size, length, source, keys,
                                        made_from (the files read, the settings)
==================  ==================  =====================================

:class:`DepthCache` reads them back as memory maps (the operating system pages in what is used;
nothing is loaded into RAM up front) and yields the usual sample, so augmentations still run at
training time. float16 keeps depth to about 4 mm at 10 m (relative 5e-4), far below sensor noise.

A cache knows what it was made from: ``made_from`` in ``meta.json`` lists every file or folder the
dataset reads (:func:`source_files`: its real path, size and modification time in ns; for a
folder, the count, bytes and newest time of the files below it) and the settings the caller
passed. :func:`build_cache` rebuilds, with a message, a cache whose sources or settings changed
(another ``--data-root``, a replaced archive) instead of handing back the old images.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from depthnb.data.functional import resize
from depthnb.data.sample import (
    COLOUR_KEYS,
    INTRINSICS,
    NEAREST_KEYS,
    check_sample,
    to_compact,
    to_float,
)
from depthnb.errors import DataError
from depthnb.utils.files import atomic_path, check_free_space

FORMAT = "depthnb-cache"
VERSION = 1
_REQUIRED = ("image", "depth", "valid", "intrinsics")
_OPTIONAL = ("mask", "background")

__all__ = ["DepthCache", "build_cache", "source_files"]


def _layout(key: str, length: int, height: int, width: int) -> tuple[np.dtype, tuple[int, ...]]:
    """dtype and shape of one cached array."""
    layouts: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
        "image": (np.dtype(np.uint8), (length, height, width, 3)),
        "depth": (np.dtype(np.float16), (length, height, width)),
        "valid": (np.dtype(np.bool_), (length, height, width)),
        "intrinsics": (np.dtype(np.float32), (length, 4)),
        "mask": (np.dtype(np.uint8), (length, height, width)),
        "background": (np.dtype(np.uint8), (length, height, width, 3)),
    }
    return layouts[key]


def cache_bytes(length: int, size: tuple[int, int], keys: tuple[str, ...] = ()) -> int:
    """Bytes a cache of ``length`` samples at ``size`` (H, W) takes on disk: the required arrays
    (uint8 image, float16 depth, bool valid, intrinsics) plus the optional ``keys`` ("mask",
    "background"). At 480x640, 50,688 NYU frames take 93 GB; at 240x320, 23 GB."""
    total = 0
    for key in (*_REQUIRED, *keys):
        dtype, shape = _layout(key, length, *size)
        total += dtype.itemsize * int(np.prod(shape))
    return total


class DepthCache(Dataset):
    """The samples of a cache folder written by :func:`build_cache`.

    Args:
        path: the cache folder (holds ``meta.json`` and the ``.npy`` files).
        transform: applied to each sample, e.g. ``transforms.densedepth_augmentation()``.

        raw: deliver the stored types instead: ``image``/``background`` uint8 (3,H,W) and
            ``depth`` float16 (1,H,W), a quarter and a half of the bytes. Worker processes then
            hand the main process far less to copy; :func:`to_float` converts the collated batch
            on the training device, where batch augmentation (``depthnb.data.augment``) follows.

    Each item is the sample of :mod:`depthnb.data.sample`: ``image`` (3,H,W) float32 in [0,1],
    ``depth`` (1,H,W) float32 metres, ``valid`` (1,H,W) bool, ``intrinsics`` (4,) float32, and
    ``mask`` (1,H,W) and ``background`` (3,H,W) float32 when the source had them. Pickling (for
    ``DataLoader`` workers) copies only the path and the metadata; each worker opens its own
    memory maps on first use.

    Raises:
        DataError: if the folder is not a complete cache of this format and version.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        transform: Callable[[dict], dict] | None = None,
        raw: bool = False,
    ):
        if raw and transform is not None:
            raise DataError(
                "DepthCache: raw=True delivers uint8 images, which the per-sample transforms do "
                "not take; convert batches with to_float() and augment them with "
                "depthnb.data.augment.BatchAugment instead"
            )
        self.path = Path(path)
        self.transform = transform
        self.raw = raw
        self.meta = _read_meta(self.path)
        self.size: tuple[int, int] = tuple(self.meta["size"])
        self.keys: list[str] = list(self.meta["keys"])
        self._arrays: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.meta["length"])

    def __repr__(self) -> str:
        height, width = self.size
        return (
            f"DepthCache({str(self.path)!r}, {len(self)} samples of {height}x{width} "
            f"from {self.meta['source']!r}, keys {self.keys})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_arrays"] = None  # memory maps are reopened in each worker process
        return state

    def _open(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = {
                key: np.load(self.path / f"{key}.npy", mmap_mode="r") for key in self.keys
            }
        return self._arrays

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a cache of {len(self)} samples")
        arrays = self._open()
        sample = {
            "image": _channels_first(arrays["image"][index]),
            "depth": torch.from_numpy(np.array(arrays["depth"][index]))[None],
            "valid": torch.from_numpy(np.array(arrays["valid"][index]))[None],
            "intrinsics": torch.from_numpy(np.array(arrays["intrinsics"][index])),
        }
        if "mask" in arrays:
            sample["mask"] = torch.from_numpy(np.array(arrays["mask"][index]))[None]
        if "background" in arrays:
            sample["background"] = _channels_first(arrays["background"][index])
        if self.raw:
            return sample
        sample = to_float(sample)
        return self.transform(sample) if self.transform is not None else sample


def _channels_first(image: np.ndarray) -> torch.Tensor:
    """uint8 (H,W,3) memory-mapped rows -> a contiguous uint8 tensor (3,H,W)."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()


def _read_meta(path: Path) -> dict[str, Any]:
    """Read and check ``meta.json`` and the arrays' headers; raise DataError if anything is off."""
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise DataError(
            f"{path} is not a depthnb cache (no meta.json); build it with "
            "depthnb.data.build_cache(dataset, path, size=(H, W))"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(
            f"{meta_path} is unreadable ({error}); delete {path} and rebuild it"
        ) from error
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DataError(
            f"{meta_path} describes format {meta.get('format')!r} version {meta.get('version')!r}, "
            f"expected {FORMAT!r} version {VERSION}; rebuild with build_cache(..., overwrite=True)"
        )
    fields = ("size", "length", "source", "keys")
    if any(field not in meta for field in fields) or not (
        set(_REQUIRED) <= set(meta["keys"]) <= set(_REQUIRED + _OPTIONAL)
    ):
        raise DataError(
            f"{meta_path} does not list {fields} with the arrays {_REQUIRED} (+ {_OPTIONAL}); "
            "the cache is damaged: rebuild with build_cache(..., overwrite=True)"
        )
    height, width = meta["size"]
    for key in meta["keys"]:
        dtype, shape = _layout(key, meta["length"], height, width)
        file = path / f"{key}.npy"
        try:
            array = np.load(file, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise DataError(
                f"{file} is missing or unreadable ({error}); "
                "rebuild with build_cache(..., overwrite=True)"
            ) from error
        if array.dtype != dtype or array.shape != shape:
            raise DataError(
                f"{file} holds {array.dtype} {array.shape}, expected {dtype} {shape} as meta.json "
                "says; the cache is damaged: rebuild with build_cache(..., overwrite=True)"
            )
    return meta


def source_files(dataset: Any) -> list[Path]:
    """The files and folders ``dataset`` reads: the ``path`` and ``root`` of every reader found
    through wrappers (``Subset`` and the like: ``.dataset``; ``ConcatDataset``: ``.datasets``),
    each once, in the order found."""
    found: list[Path] = []
    pending, seen = [dataset], set()
    while pending:
        item = pending.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        for name in ("path", "root"):
            value = getattr(item, name, None)
            if isinstance(value, (str, os.PathLike)) and os.path.exists(value):
                real = Path(os.path.realpath(value))
                if real not in found:
                    found.append(real)
        inner = getattr(item, "dataset", None)
        pending += [inner] if inner is not None else []
        pending += list(getattr(item, "datasets", None) or [])
    return found


def _fingerprint(path: Path) -> dict[str, Any]:
    """Real path, size and modification time (ns) of a file; of a folder, the count, bytes and
    newest modification time of the files below it."""
    if not path.is_dir():
        status = path.stat()
        return {"path": str(path), "size": status.st_size, "mtime_ns": status.st_mtime_ns}
    count = total = newest = 0
    for folder, _, names in os.walk(path):
        for name in names:
            status = os.lstat(os.path.join(folder, name))
            count, total = count + 1, total + status.st_size
            newest = max(newest, status.st_mtime_ns)
    return {"path": str(path), "files": count, "bytes": total, "mtime_ns": newest}


def _made_from(dataset: Any, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """What ``meta.json`` records as the cache's origin, as JSON values."""
    record = {
        "files": [_fingerprint(path) for path in source_files(dataset)],
        "settings": dict(settings or {}),
    }
    return json.loads(json.dumps(record, default=str))


def _why_stale(found: Any, wanted: dict[str, Any]) -> str | None:
    """Why a cache that records ``found`` as its origin does not fit ``wanted`` (None if it
    does)."""
    if not isinstance(found, dict):
        return "it records no source (made by an older depthnb)"
    old_files = {entry.get("path"): entry for entry in found.get("files", [])}
    new_files = {entry["path"]: entry for entry in wanted["files"]}
    if set(old_files) != set(new_files):
        return f"it was made from {sorted(old_files)}, not {sorted(new_files)}"
    for name, entry in new_files.items():
        changed = [key for key in entry if old_files[name].get(key) != entry[key]]
        if changed:
            return f"{name} changed since ({', '.join(changed)} differ)"
    old_settings, new_settings = found.get("settings", {}), wanted["settings"]
    if old_settings != new_settings:
        keys = set(old_settings) | set(new_settings)
        changed = sorted(k for k in keys if old_settings.get(k) != new_settings.get(k))
        return f"it was made with other settings ({', '.join(changed)} differ)"
    return None


class _Resized(Dataset):
    """A dataset's samples resized to ``size`` (nearest depth), as numpy arrays in cache layout."""

    def __init__(self, dataset: Any, size: tuple[int, int]):
        self.dataset = dataset
        self.size = size

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        sample = self.dataset[index]
        try:
            check_sample(sample)
        except DataError as error:
            raise DataError(f"item {index} of {type(self.dataset).__name__}: {error}") from error
        compact = to_compact(resize(sample, self.size))
        arrays = {"intrinsics": compact[INTRINSICS].numpy()}
        for key in COLOUR_KEYS:  # (3,H,W) -> (H,W,3)
            if key in compact:
                arrays[key] = compact[key].permute(1, 2, 0).numpy()
        for key in NEAREST_KEYS:  # (1,H,W) -> (H,W)
            if key in compact:
                arrays[key] = compact[key][0].numpy()
        return arrays


def _unchanged(item: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Collate function that keeps numpy arrays as they are."""
    return item


def _iterate(dataset: Any, workers: int) -> Iterator[dict[str, np.ndarray]]:
    """The items of ``dataset`` in order, decoded by ``workers`` processes (0: here)."""
    if workers == 0:
        return (dataset[i] for i in range(len(dataset)))
    loader = DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        collate_fn=_unchanged,  # type: ignore[arg-type]  # unbatched: one item, not a list
    )
    return iter(loader)


def build_cache(
    dataset: Dataset,
    path: str | os.PathLike,
    size: tuple[int, int] = (240, 320),
    workers: int = 0,
    overwrite: bool = False,
    source: str | None = None,
    transform: Callable[[dict], dict] | None = None,
    progress: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> DepthCache:
    """Decode ``dataset`` once, resize every sample to ``size`` and store it under ``path``.

    Args:
        dataset: any dataset yielding the sample of :mod:`depthnb.data.sample` (no random
            transform on it: the cache would freeze one draw of the augmentation).
        path: the cache folder, e.g. ``cfg.data_dir / "cache" / "nyu-train-240x320"``.
        size: (H, W) training resolution, pixels. Depth is resized with nearest neighbour.
        workers: processes decoding in parallel (0: this process).
        overwrite: rebuild even if a matching cache exists.
        source: a name recorded in ``meta.json`` (default: the dataset's class name); a cache with
            another source, size or length at ``path`` raises unless ``overwrite``.
        transform: given to the returned :class:`DepthCache` (applied at read time).
        progress: show a tqdm progress bar.
        settings: what else decided the samples (e.g. the data root, the limit), JSON values,
            recorded in ``meta.json`` beside the files the dataset reads (:func:`source_files`).

    Returns:
        The :class:`DepthCache` over the folder. An existing complete cache with the same source,
        size and length, made from the same files (path, size, modification time) with the same
        ``settings``, is reused without decoding anything; one whose files or settings changed
        is rebuilt, with a message on stderr. Files are written to a temporary
        folder next to ``path`` and renamed when complete, so an interrupted build leaves no
        half-written cache; a damaged cache at ``path`` is rebuilt.

    Raises:
        DataError: if ``path`` holds a different cache (and ``overwrite`` is False), or the dataset
            is empty or yields samples that break the contract.
    """
    path = Path(path)
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise DataError(f"cache size must be (H, W) in pixels, both >= 1, got {tuple(size)}")
    source = source if source is not None else type(dataset).__name__
    length = len(dataset)  # type: ignore[arg-type]  # a map-style dataset has a length
    if length == 0:
        raise DataError(f"cannot cache an empty dataset ({source}) into {path}")
    made_from = _made_from(dataset, settings)
    if path.exists() and not overwrite:
        try:
            cache = DepthCache(path, transform)
        except DataError:
            cache = None  # damaged or partial: rebuild below
        stale = None if cache is None else _why_stale(cache.meta.get("made_from"), made_from)
        if stale is not None:
            print(f"{path}: rebuilding the cache, since {stale}", file=sys.stderr)
        elif cache is not None:
            wanted = {"source": source, "size": [height, width], "length": length}
            found = {key: cache.meta[key] for key in wanted}
            if found != wanted:
                raise DataError(
                    f"{path} holds a cache of {found}, not {wanted}; pass overwrite=True to "
                    "replace it or choose another path"
                )
            return cache

    optional = tuple(key for key in _OPTIONAL if key in dataset[0])
    check_free_space(
        path.parent,
        cache_bytes(length, (height, width), optional),
        f"caching into {path}",
        "choose a smaller --size (bytes grow with H*W), fewer images (--limit), or a folder on "
        "a larger disk",
    )
    with atomic_path(path) as temporary:
        temporary.mkdir()
        about = {"source": source, "made_from": made_from}
        _write(_Resized(dataset, (height, width)), temporary, workers, progress, about)
    return DepthCache(path, transform)


def _write(
    resized: _Resized, folder: Path, workers: int, progress: bool, about: dict[str, Any]
) -> None:
    """Fill ``folder`` with the arrays and, last, ``meta.json`` (``about``: source, made_from)."""
    from tqdm.auto import tqdm

    length = len(resized)
    height, width = resized.size
    source = about["source"]
    arrays: dict[str, np.memmap] = {}
    items = _iterate(resized, workers)
    bar = tqdm(
        items, total=length, desc=f"caching {source} at {height}x{width}", disable=not progress
    )
    for index, item in enumerate(bar):
        if index == 0:
            keys = list(_REQUIRED) + [key for key in _OPTIONAL if key in item]
            for key in keys:
                dtype, shape = _layout(key, length, height, width)
                arrays[key] = np.lib.format.open_memmap(
                    folder / f"{key}.npy", mode="w+", dtype=dtype, shape=shape
                )
        if set(item) != set(arrays):
            raise DataError(
                f"item {index} of {source} has keys {sorted(item)}, item 0 had {sorted(arrays)}; "
                "every sample of a cached dataset must carry the same keys"
            )
        for key, value in item.items():
            arrays[key][index] = value
    for array in arrays.values():
        array.flush()
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "size": [height, width],
        "length": length,
        "source": source,
        "keys": list(arrays),
        "made_from": about["made_from"],
    }
    arrays.clear()
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
