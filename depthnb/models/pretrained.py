"""Published depth networks by name: downloaded once, converted once, loaded as checkpoints.

>>> list_pretrained()                                   # doctest: +SKIP
['densedepth-nyu', 'depth-anything-v2-metric-indoor-small', 'depth-anything-v2-relative-small',
 'fcrn-nyu', 'unet-synthetic']
>>> model = load_pretrained("densedepth-nyu")           # doctest: +SKIP
>>> depth = depthnb.predict.predict_depth(model, photo)  # metres  # doctest: +SKIP

Each name's weights come from the file its authors published, in its own format: DenseDepth's
Keras ``nyu.h5`` (read through h5py by :func:`~depthnb.models.densedepth_from_keras`), FCRN's
TensorFlow ``NYU_ResNet-UpProj.npy`` (a pickle, read by a restricted unpickler in
:func:`~depthnb.models.fcrn_from_tf_npy`), Depth Anything V2 through ``transformers``. The first
call downloads the file (every known source in turn, resumable, checked; ``DEPTHNB_MIRROR`` first),
converts it, and caches a depthnb checkpoint in ``<data dir>/pretrained/``; later calls (and later
Colab sessions, when the data folder is on Drive) load that checkpoint with ``weights_only=True``.
``path=`` takes the published file from wherever the user has it (uploaded to Drive, say).
``unet-synthetic`` is the course's own U-Net, shipped inside the package.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from depthnb.checkpoint import atomic_save, model_checkpoint
from depthnb.data.download import RemoteFile, fetch_remote
from depthnb.errors import ModelError
from depthnb.models.blocks import DepthModel
from depthnb.models.depth_anything import VARIANTS

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
"""Where the package keeps the checkpoints it ships (``unet-synthetic.pt``)."""


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


def _hugging_face(repo: str, name: str, approx_size: int) -> RemoteFile:
    """File ``name`` of the Hugging Face repository ``repo`` (``owner/<folder>``): Hugging Face,
    then hf-mirror.com, the mirror that Hugging Face's clients reach with
    ``HF_ENDPOINT=https://hf-mirror.com`` (same paths). It lands in ``<folder>/<name>``, the
    snapshot the converter reads."""
    path = f"{repo}/resolve/main/{name}"
    folder = repo.split("/")[-1]
    return RemoteFile(
        f"https://huggingface.co/{path}",
        f"{folder}/{name}",
        approx_size=approx_size,
        mirrors=(f"https://hf-mirror.com/{path}",),
    )


def _depth_anything_files(variant: str, config_size: int) -> tuple[RemoteFile, ...]:
    """The snapshot of a Depth Anything V2 variant (its repository: ``VARIANTS``): weights, then
    config. Sizes: the repository's file listing (huggingface.co/<repo>/tree/main), which rounds
    the weights of both small models (24.8M float32 parameters) to 99.2 MB; the configs are
    1.06 kB (metric) and 950 bytes (relative)."""
    repo = VARIANTS[variant][0]
    return (
        _hugging_face(repo, "model.safetensors", 99_200_000),
        _hugging_face(repo, "config.json", config_size),
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
            convert="depthnb.models.keras_densedepth:densedepth_from_keras",
            files=(_DENSEDEPTH_NYU,),
            input_size=(480, 640),
            published="DenseDepth (released weights, script's arguments in order)",
            licence="GPL-3.0 (ialhashim/DenseDepth)",
        ),
        PretrainedSpec(
            name="fcrn-nyu",
            description="FCRN ResNet-50 + up-projections (Laina et al. 2016) trained on NYU",
            convert="depthnb.models.fcrn_release:fcrn_from_tf_npy",
            files=(_FCRN_NYU,),
            input_size=(228, 304),
            published="FCRN (paper)",
            licence="BSD-2-Clause (iro-cp/FCRN-DepthPrediction)",
        ),
        PretrainedSpec(
            name="depth-anything-v2-metric-indoor-small",
            description="Depth Anything V2 small, fine-tuned for metric indoor depth (Hypersim)",
            convert="depthnb.models.depth_anything:depth_anything_from_files",
            files=_depth_anything_files("metric-indoor-small", 1_060),
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
    from depthnb.predict import load_checkpoint

    return load_checkpoint(path or WEIGHTS_DIR / "unet-synthetic.pt")


def check_format(path: Path) -> None:
    """A cheap check that a downloaded file is of the format its name says (HDF5, ``.npy``,
    safetensors, JSON), so that a source serving something else is dropped for the next one.

    Raises:
        DataError: the file's first bytes are not those of its format.
    """
    from depthnb.errors import DataError

    signatures = {".h5": b"\x89HDF\r\n\x1a\n", ".npy": b"\x93NUMPY"}
    with open(path, "rb") as f:
        head = f.read(512)
    suffix = path.suffix.lower()
    if suffix == ".h5":  # HDF5's signature sits at byte 0, or after a 512-byte user block
        good = head.startswith(signatures[".h5"]) or _hdf5_after_user_block(path)
    elif suffix == ".npy":
        good = head.startswith(signatures[".npy"])
    elif suffix == ".safetensors":  # 8-byte little-endian header length, then a JSON header
        good = len(head) > 9 and head[8:9] == b"{"
    elif suffix == ".json":
        good = head.lstrip()[:1] == b"{"
    else:
        good = True
    if not good:
        raise DataError(f"{path}: is not a {suffix} file (it begins {head[:16]!r})")


def _hdf5_after_user_block(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(512)
        return f.read(8) == b"\x89HDF\r\n\x1a\n"


def cache_dir() -> Path:
    """``<data dir>/pretrained``: converted checkpoints (and downloaded files) live here."""
    from depthnb.notebook import default_data_dir

    return default_data_dir() / "pretrained"


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
        path: the published file, if you have it already (e.g. ``nyu.h5`` uploaded to Drive);
            otherwise it is downloaded into ``cache``.
        cache: folder for the downloaded file and the converted checkpoint (default
            :func:`cache_dir`). A checkpoint there is loaded without converting again.

    Raises:
        ModelError: an unknown name, or a file that is not the published network.
        DownloadError: no source could serve the file (the message says how to get it by hand).
    """
    from depthnb.predict import load_checkpoint

    if name not in PRETRAINED:
        raise ModelError(f"unknown pretrained network {name!r}; choose one of {list_pretrained()}")
    spec = PRETRAINED[name]
    if not spec.files:
        return _converter(spec)(path).to(map_location).eval()
    folder = Path(cache) if cache else cache_dir()
    converted = folder / f"{name}.pt"
    if converted.is_file() and path is None:
        return load_checkpoint(converted, map_location)
    if path is None:
        fetched = [
            fetch_remote(
                f,
                folder / f.filename,
                check=check_format,
                progress=progress,
                relative=None if cache else f"pretrained/{f.filename}",
            )
            for f in spec.files
        ]
        source = fetched[0]
    else:
        source = Path(path)
    if not source.exists():
        raise ModelError(f"{source}: no such file; pass the path of {spec.files[0].filename}")
    model = _converter(spec)(source)  # raises ModelError naming what disagrees
    extra: dict[str, Any] = {"source": spec.files[0].filename, "pretrained": name}
    atomic_save(model_checkpoint(model, spec.input_size, **extra), converted)
    return load_checkpoint(converted, map_location)
