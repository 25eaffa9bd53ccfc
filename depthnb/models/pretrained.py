"""Published depth networks by name: downloaded once, converted once, loaded as checkpoints.

>>> list_pretrained()
['densedepth-nyu', 'depth-anything-v2-metric-indoor-small',
 'depth-anything-v2-metric-outdoor-small', 'depth-anything-v2-relative-small', 'fcrn-nyu',
 'unet-synthetic']
>>> model = load_pretrained("unet-synthetic")   # shipped; "densedepth-nyu" downloads once
>>> model.input_size                             # (H, W) it was trained at
(120, 160)

Each name's weights come from the file its authors published, in its own format: DenseDepth's
Keras ``nyu.h5`` (read through h5py by :func:`~depthnb.models.densedepth_from_keras`), FCRN's
TensorFlow ``NYU_ResNet-UpProj.npy`` (a pickle, read by a restricted unpickler in
:func:`~depthnb.models.fcrn_from_tf_npy`). The first call downloads the file (every known source
in turn, resumable, checked; ``DEPTHNB_MIRROR`` first), converts it, and caches a depthnb
checkpoint in ``<data dir>/pretrained/``; later calls (and later Colab sessions, when the data
folder is on Drive) load that checkpoint with ``weights_only=True``. A download that cannot be
shown complete (its format check fails, or its size is not the published one) is never kept, and
a file the converter cannot read is deleted, so running the same call again downloads it again.

Depth Anything V2's files live on the Hugging Face Hub (:class:`HubFile`): they are fetched by
:func:`fetch_snapshot` (``DEPTHNB_MIRROR`` first, else ``huggingface_hub.hf_hub_download`` at the
commit pinned here, into the user's own Hugging Face cache, with their ``HF_*`` settings and
token) and loaded directly from ``config.json`` and ``model.safetensors``; no converted copy is
kept. ``path=`` takes the published file (or snapshot folder) from wherever the user has it
(uploaded to Drive, say). ``unet-synthetic`` is the course's own U-Net, shipped inside the package.
"""

from __future__ import annotations

import importlib
import json
import os
import pickletools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from depthnb.checkpoint import save_checkpoint
from depthnb.errors import DataError, DepthnbError, DownloadError, ModelError
from depthnb.hub.huggingface import HubFile, forget_hub_file, hub_file
from depthnb.hub.sources import MIRROR_ENV, RemoteFile, fetch_remote
from depthnb.hub.transfer import download_url
from depthnb.models.blocks import (
    DepthModel,
)
from depthnb.models.checkpoints import model_checkpoint

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
"""Where the package keeps the checkpoints it ships (``unet-synthetic.pt``)."""

# Depth Anything V2's variants: variant -> (Hugging Face repository, depth_estimation_type,
# max_depth in metres); the pinned revision of each repository is in HUB_REVISIONS below.
VARIANTS = {
    "metric-indoor-small": (
        "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf",
        "metric",
        20,
    ),
    "metric-outdoor-small": (
        "depth-anything/Depth-Anything-V2-Metric-Outdoor-Small-hf",
        "metric",
        80,
    ),
    "relative-small": ("depth-anything/Depth-Anything-V2-Small-hf", "relative", 1),
}


SNAPSHOT_FILES = ("config.json", "model.safetensors")
"""The files of a Depth Anything V2 repository that the model is built from."""


# Where each published file can be had; every URL is cited where it is documented. No sha256 is
# pinned: a class mirror or the CI rehearsal serves stand-ins in the real formats (check_format
# and the converters judge them).

# DenseDepth's Keras weights. ialhashim/DenseDepth's README linked the S3 URL until December 2020
# (its DenseDepth.ipynb fetches it with wget), then the Google Drive copy. 172,897,376 bytes: the
# length in that notebook's wget log.
_DENSEDEPTH_NYU = RemoteFile(
    "https://s3-eu-west-1.amazonaws.com/densedepth/nyu.h5",
    "nyu.h5",
    size=172_897_376,
    mirrors=("https://drive.google.com/file/d/19dfvGvDfCRYaqxVKypp1fRHwK7XtSjVu/view?usp=sharing",),
)
# FCRN's TensorFlow weights: iro-cp/FCRN-DepthPrediction's README links the authors' page at TUM,
# the only source documented. No size is published: about 254 MB is the network's 63.6M float32
# parameters (the pickle adds little).
_FCRN_NYU = RemoteFile(
    "http://campar.in.tum.de/files/rupprecht/depthpred/NYU_ResNet-UpProj.npy",
    "NYU_ResNet-UpProj.npy",
    approx_size=254_000_000,
)


HUB_REVISIONS = {
    "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf": (
        "8078d68a9c75a972131914f6afd0c1723be0da7f"
    ),
    "depth-anything/Depth-Anything-V2-Metric-Outdoor-Small-hf": (
        "fd2c22027eaf20374204f14099b8341e1925ad39"
    ),
    "depth-anything/Depth-Anything-V2-Small-hf": "5426e4f0f36572d16453bbda7a8389317b1bef99",
}
"""The commit of each Hugging Face repository that the course loads (``revision=``), so that a
later push to ``main`` cannot change a lesson's model. These are the commits that public projects
pin for these repositories (several independent ones agree on each, with the weights' SHA-256:
indoor e990eb82..., outdoor ad065c77..., relative 3152477c...; each ``model.safetensors`` is
99,173,660 bytes; docs/notes.md says how they were chosen)."""


def _depth_anything_files(variant: str, config_size: int) -> tuple[HubFile, ...]:
    """The files of a Depth Anything V2 variant's repository (``VARIANTS``) that the model is
    built from, weights first, at the pinned commit. Sizes as the same public records give them:
    99,173,660 bytes of weights (24.8M float32 parameters) for each small model; configs of
    1,063 bytes (metric) and 950 bytes (relative)."""
    repo = VARIANTS[variant][0]
    revision = HUB_REVISIONS[repo]
    folder = repo.split("/")[-1]
    sizes = {"model.safetensors": 99_173_660, "config.json": config_size}
    return tuple(
        HubFile(
            f"https://huggingface.co/{repo}/resolve/{revision}/{name}",
            f"{folder}/{name}",
            size=sizes[name],
            repo=repo,
            revision=revision,
        )
        for name in reversed(SNAPSHOT_FILES)
    )


@dataclass(frozen=True)
class PretrainedSpec:
    """One published network.

    ``files`` are the published files (none for a shipped checkpoint); ``convert`` is
    ``"module:function"``, the converter that turns the first of them into a depthnb model;
    ``input_size`` is the (H, W) the network was trained at (what ``predict_depth`` resizes to);
    ``published`` names its row in :data:`depthnb.metrics.PUBLISHED`.
    """

    name: str
    description: str
    convert: str
    files: tuple[RemoteFile, ...] = ()
    input_size: tuple[int, int] | None = None
    published: str | None = None
    licence: str = ""


PRETRAINED: dict[str, PretrainedSpec] = {
    spec.name: spec
    for spec in (
        PretrainedSpec(
            name="unet-synthetic",
            description="the course U-Net, trained by the main job on synthetic rooms (120x160)",
            convert="depthnb.models.pretrained:_shipped",
            input_size=(120, 160),
            licence="MIT (this course)",
        ),
        PretrainedSpec(
            name="densedepth-nyu",
            description="DenseDepth (Alhashim & Wonka 2018) trained on NYU Depth v2, 42.6M",
            convert="depthnb.models.convert.keras_densedepth:densedepth_from_keras",
            files=(_DENSEDEPTH_NYU,),
            input_size=(480, 640),
            published="DenseDepth (released weights, script's arguments in order)",
            licence="GPL-3.0 (ialhashim/DenseDepth)",
        ),
        PretrainedSpec(
            name="fcrn-nyu",
            description="FCRN ResNet-50 + up-projections (Laina et al. 2016) trained on NYU",
            convert="depthnb.models.convert.fcrn_release:fcrn_from_tf_npy",
            files=(_FCRN_NYU,),
            input_size=(228, 304),
            published="FCRN (paper)",
            licence="BSD-2-Clause (iro-cp/FCRN-DepthPrediction)",
        ),
        PretrainedSpec(
            name="depth-anything-v2-metric-indoor-small",
            description="Depth Anything V2 small, fine-tuned for metric indoor depth (Hypersim)",
            convert="depthnb.models.depth_anything:depth_anything_from_files",
            files=_depth_anything_files("metric-indoor-small", 1_063),
            input_size=None,
            licence="Apache-2.0",
        ),
        PretrainedSpec(
            name="depth-anything-v2-metric-outdoor-small",
            description="Depth Anything V2 small, fine-tuned for metric outdoor depth (Virtual "
            "KITTI, up to 80 m)",
            convert="depthnb.models.depth_anything:depth_anything_from_files",
            files=_depth_anything_files("metric-outdoor-small", 1_063),
            input_size=None,
            licence="Apache-2.0",
        ),
        PretrainedSpec(
            name="depth-anything-v2-relative-small",
            description="Depth Anything V2 small, relative: affine-invariant disparity, no unit",
            convert="depthnb.models.depth_anything:depth_anything_from_files",
            files=_depth_anything_files("relative-small", 950),
            input_size=None,
            licence="Apache-2.0",
        ),
    )
}
"""The names :func:`load_pretrained` knows."""


def list_pretrained() -> list[str]:
    """The names :func:`load_pretrained` takes, sorted."""
    return sorted(PRETRAINED)


def _converter(spec: PretrainedSpec) -> Callable[..., DepthModel]:
    module, function = spec.convert.split(":")
    return getattr(importlib.import_module(module), function)


def _shipped(path: os.PathLike | str | None = None) -> DepthModel:
    from depthnb.models.checkpoints import load_checkpoint

    return load_checkpoint(path or WEIGHTS_DIR / "unet-synthetic.pt")


def check_format(path: Path) -> None:
    """A check that a downloaded file is whole and of the format its name says, cheap enough to
    run on every load: HDF5 (h5py opens it: HDF5 records its end-of-file address), ``.npy`` (the
    header's shape times the item size, or for a pickled object array a pickle stream that ends
    where the file ends), safetensors (the header's last tensor ends where the file ends), JSON
    (parses). A source serving something else, or a transfer cut short, is dropped for the next.

    Raises:
        DataError: the file is not of its format, or is truncated.
    """
    suffix = path.suffix.lower()
    checks = {
        ".h5": _check_hdf5,
        ".npy": _check_npy,
        ".safetensors": _check_safetensors,
        ".json": _check_json,
    }
    if suffix not in checks:
        return
    try:
        with open(path, "rb") as f:
            problem = checks[suffix](f, path.stat().st_size)
    except (OSError, ValueError, EOFError) as error:
        problem = f"cannot be read ({type(error).__name__}: {error})"
    if problem:
        raise DataError(f"{path}: is not a complete {suffix} file: {problem}")


def _check_hdf5(f: Any, size: int) -> str | None:
    import h5py

    head = f.read(520)
    if b"\x89HDF\r\n\x1a\n" not in (head[:8], head[512:520]):  # at 0, or after a user block
        return f"it begins {head[:16]!r}"
    try:
        with h5py.File(f, "r"):
            return None
    except OSError as error:  # "truncated file: eof = ..., stored_eof = ..."
        return str(error)


def _check_npy(f: Any, size: int) -> str | None:
    from numpy.lib import format as npy

    version = npy.read_magic(f)
    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, _, dtype = read_header(f)
    if not dtype.hasobject:
        expected = f.tell() + int(np.prod(shape)) * dtype.itemsize
        return None if size == expected else f"{size} bytes, its header says {expected}"
    stops = [op for op, _, _ in pickletools.genops(f) if op.name == "STOP"]  # never executed
    left = size - f.tell()
    return None if stops and not left else f"its pickle stream ends early or {left} bytes late"


def _check_safetensors(f: Any, size: int) -> str | None:
    length = int.from_bytes(f.read(8), "little")
    if not 2 <= length <= min(size - 8, 100_000_000):
        return f"a header of {length} bytes in a file of {size}"
    header = json.loads(f.read(length))
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    expected = 8 + length + max(ends, default=0)
    return None if size == expected else f"{size} bytes, its header says {expected}"


def _check_json(f: Any, size: int) -> str | None:
    value = json.loads(f.read())
    return None if isinstance(value, dict) else f"a JSON {type(value).__name__}, not an object"


def _complete(remote: RemoteFile) -> Callable[[Path], None]:
    """The check of a downloaded ``remote``: :func:`check_format`, and its published size when
    one is known and no class mirror is set (a mirror may serve stand-ins in the real format)."""

    def check(path: Path) -> None:
        check_format(path)
        mirrored = os.environ.get(MIRROR_ENV, "").strip()
        if remote.size is not None and not mirrored and path.stat().st_size != remote.size:
            raise DataError(
                f"{path}: {path.stat().st_size:,} bytes, but {remote.filename} as published has "
                f"{remote.size:,}: incomplete or another file"
            )

    return check


def cache_dir() -> Path:
    """``<data dir>/pretrained``: converted checkpoints (and downloaded files) live here."""
    from depthnb.utils.paths import default_data_dir

    return default_data_dir() / "pretrained"


def _by_hand(spec: PretrainedSpec) -> str:
    folder = spec.files[0].filename.split("/")[0]
    return (
        f"run it once with network access (the files stay in your Hugging Face cache), or put "
        f"{' and '.join(SNAPSHOT_FILES)} from {spec.files[0].url.split('/resolve/')[0]} in a "
        f"folder and pass it: load_pretrained({spec.name!r}, path=FOLDER); an instructor can "
        f"serve them with {MIRROR_ENV}=URL (URL/{folder}/...); or build the model with "
        "pretrained=False"
    )


def _from_hub(spec: PretrainedSpec, timeout: float, hub_cache: str | os.PathLike | None) -> Path:
    paths = []
    for remote in spec.files:
        assert isinstance(remote, HubFile)
        path = hub_file(remote, timeout, hub_cache)
        try:
            check_format(path)
        except DataError as error:
            forget_hub_file(path)
            raise DownloadError(f"{error}; deleted it from the Hugging Face cache") from error
        paths.append(path)
    folders = {path.parent for path in paths}
    if len(folders) != 1:
        raise DownloadError(f"{spec.name}: its files arrived in different folders {folders}")
    return folders.pop()


def _from_mirror(spec: PretrainedSpec, folder: Path, progress: bool) -> Path:
    """The spec's files from ``$DEPTHNB_MIRROR/<filename>`` into ``folder/<filename>`` (kept
    there: a file already there that passes :func:`check_format` is not fetched again)."""
    mirror = os.environ.get(MIRROR_ENV, "").strip().rstrip("/")
    for remote in spec.files:
        dest = folder / remote.filename
        url = f"{mirror}/{remote.filename}"
        try:
            if not dest.is_file():
                download_url(url, dest, progress=progress)
            check_format(dest)
        except DataError as error:
            dest.unlink(missing_ok=True)
            raise DownloadError(f"{url}: {error}") from error
    return folder / spec.files[0].filename.rsplit("/", 1)[0]


def fetch_snapshot(
    spec: PretrainedSpec,
    folder: str | os.PathLike | None = None,
    progress: bool = True,
    timeout: float = 10.0,
    hub_cache: str | os.PathLike | None = None,
) -> Path:
    """The folder holding a Hugging Face entry's files (``config.json``, ``model.safetensors``),
    each checked complete (:func:`check_format`): with ``$DEPTHNB_MIRROR`` set, copies from the
    class mirror in ``folder`` (default :func:`cache_dir`); else, or when the mirror fails, the
    snapshot in the user's Hugging Face cache at the pinned revision (:func:`hub_file`).

    Raises:
        DownloadError: no source could serve every file; the message lists what was tried and
            what to do (within about ``timeout`` s when offline).
    """
    tried = []
    if os.environ.get(MIRROR_ENV, "").strip():
        try:
            return _from_mirror(spec, Path(folder) if folder else cache_dir(), progress)
        except DownloadError as error:
            tried.append(f"  - {MIRROR_ENV}: {error}")
    try:
        return _from_hub(spec, timeout, hub_cache)
    except DownloadError as error:
        tried.append(f"  - the Hugging Face Hub: {error}")
    raise DownloadError(
        f"could not get the files of {spec.name}:\n" + "\n".join(tried) + f"\n{_by_hand(spec)}"
    )


def load_pretrained(
    name: str,
    path: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    map_location: str = "cpu",
) -> nn.Module:
    """A published network by name (:func:`list_pretrained`), in eval mode, ready for
    :func:`depthnb.predict.predict_depth` (input (B,3,H,W) in [0,1]; metres out via
    ``model.encoding``).

    Args:
        path: the published file, if you have it already (e.g. ``nyu.h5`` uploaded to Drive; for
            Depth Anything V2 the folder of ``config.json`` and ``model.safetensors``);
            otherwise it is downloaded.
        cache: folder for the downloaded file and the converted checkpoint (default
            :func:`cache_dir`). A checkpoint there is loaded without converting again. Depth
            Anything V2 keeps no converted copy: its files stay in the Hugging Face cache (or,
            served by ``$DEPTHNB_MIRROR``, here) and are read directly.

    Raises:
        ModelError: an unknown name, or a file that is not the published network (a downloaded
            one is then deleted, so that running the same call again downloads it again).
        DownloadError: no source could serve the file (the message says how to get it by hand).
    """
    if name not in PRETRAINED:
        raise ModelError(f"unknown pretrained network {name!r}; choose one of {list_pretrained()}")
    spec = PRETRAINED[name]
    if not spec.files:
        return _converter(spec)(path).to(map_location).eval()
    folder = Path(cache) if cache else cache_dir()
    if isinstance(spec.files[0], HubFile):
        (folder / f"{name}.pt").unlink(missing_ok=True)  # an older version's converted copy
        files = Path(path) if path is not None else fetch_snapshot(spec, folder, progress)
        return _converter(spec)(files).to(map_location).eval()
    return _converted(spec, folder, path, progress, map_location)


def _converted(
    spec: PretrainedSpec,
    folder: Path,
    path: str | os.PathLike | None,
    progress: bool,
    map_location: str,
) -> nn.Module:
    """A non-Hub entry: the cached checkpoint, else the published file converted and cached."""
    from depthnb.models.checkpoints import load_checkpoint

    converted = folder / f"{spec.name}.pt"
    if converted.is_file() and path is None:
        if not _made_from_another(converted, folder / spec.files[0].filename):
            return load_checkpoint(converted, map_location)
        print(f"{spec.files[0].filename} changed since {converted} was made from it: converting")
    fetched = [
        fetch_remote(
            f,
            folder / f.filename,
            check=_complete(f),
            progress=progress,
            relative=None if folder != cache_dir() else f"pretrained/{f.filename}",
        )
        for f in (spec.files if path is None else ())
    ]
    source = fetched[0] if fetched else Path(path or "")
    if not source.exists():
        raise ModelError(f"{source}: no such file; pass the path of {spec.files[0].filename}")
    try:
        model = _converter(spec)(source)  # raises ModelError naming what disagrees
    except DepthnbError as error:
        if not fetched:
            raise
        for file in fetched:
            file.unlink(missing_ok=True)
        raise type(error)(
            f"{error}\nThe downloaded {source.name} cannot be read, so it was deleted: run the "
            "same command again to download it again."
        ) from error
    stat = source.stat()
    extra: dict[str, Any] = {
        "source": spec.files[0].filename,
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "pretrained": spec.name,
    }
    save_checkpoint(model_checkpoint(model, spec.input_size, **extra), converted)
    return load_checkpoint(converted, map_location)


def _made_from_another(converted: Path, published: Path) -> bool:
    """Whether the converted checkpoint was made from another version of the published file that
    lies beside it now (its recorded size and modification time differ), or cannot be read. A
    published file deleted after conversion leaves the checkpoint valid."""

    if not published.is_file():
        return False
    try:
        record = torch.load(converted, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # damaged or not a zip checkpoint: make it again
        return True
    stat = published.stat()
    made_from = (record.get("source_size"), record.get("source_mtime_ns"))
    return made_from != (stat.st_size, stat.st_mtime_ns)
