"""FCRN's published NYU weights (the authors' TensorFlow release, ``NYU_ResNet-UpProj.npy``) as a
depthnb :class:`~depthnb.models.fcrn.FCRN`, read without running anything the file contains.

``fcrn_from_tf_npy("NYU_ResNet-UpProj.npy")`` returns the FCRN; for a (1,3,228,304) image it
predicts (1,1,128,160) metres.

The file is ``np.save`` of a dict ``{layer name: {param name: array}}`` written by Python 2: a
pickle. :class:`ReleaseUnpickler` rebuilds NumPy arrays and nothing else; dicts, strings, numbers,
lists and tuples are pickle opcodes that name no global, so no builtin is admitted either.

Names and layout, from the release's ``tensorflow/models/fcrn.py`` and ``network.py``:
convolutions hold ``weights`` (kh, kw, in, out) and, where the graph makes them ``biased``
(``conv1``, ``layer1``, every up-projection conv, ``ConvPred``), ``biases``; batch norms hold
``mean``, ``variance``, ``scale``, ``offset`` (epsilon 1e-4). Caffe's ResNet-50 (``conv1``,
``bn_conv1``, ``res2a_branch1``, ``bn2a_branch2a``, ... ``res5c_branch2c``), then ``layer1`` (1x1,
2048 -> 1024) and ``layer1_BN``, four up-projections ``layer{2x,4x,8x,16x}``: ``_br1_ConvA..D`` +
``_br1_BN``, ``_Conv`` (3x3) + ``_BN``, ``_br2_ConvA..D`` + ``_br2_BN``; then ``ConvPred`` (3x3 ->
1). Its ``unpool_as_conv`` puts ConvA (3x3) at pixel (2i, 2j), ConvB (2x3) at (2i+1, 2j), ConvC
(3x2) at (2i, 2j+1), ConvD (2x2) at (2i+1, 2j+1): our fast up-conv's ``even_even``, ``odd_even``,
``even_odd``, ``odd_odd``. The model is ``FCRN(release=True)``: kernels are only transposed to
PyTorch's (out, in, kh, kw); biases stay biases (ConvA..D's four differ, so they cannot be folded
into the batch norm that follows the interleave).
"""

from __future__ import annotations

import importlib
import os
import pickle
import pickletools
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import torch

from depthnb.errors import ModelError
from depthnb.models.fcrn import FCRN

RELEASE_INPUT_SIZE = (228, 304)
STAGES = ((2, 3), (3, 4), (4, 6), (5, 3))  # Caffe's stage number and its number of blocks
UP_IDS = ("2x", "4x", "8x", "16x")
UP_CONVS = {"ConvA": "even_even", "ConvB": "odd_even", "ConvC": "even_odd", "ConvD": "odd_odd"}
BN_PARAMS = {"mean": "running_mean", "variance": "running_var", "scale": "weight", "offset": "bias"}
CONV_PARAMS = {"weights": "weight", "biases": "bias"}


def _numpy_multiarray() -> Any:
    """NumPy's C module where ``_reconstruct`` and ``scalar`` live (``numpy._core`` since 2.0)."""
    try:
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:  # NumPy 1.x
        return importlib.import_module("numpy.core.multiarray")


def _allowed_globals() -> dict[tuple[str, str], Callable[..., Any]]:
    multiarray = _numpy_multiarray()
    allowed: dict[tuple[str, str], Callable[..., Any]] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # written by NumPy 1 or 2
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    return allowed


class ReleaseUnpickler(pickle.Unpickler):
    """An unpickler that admits only the globals a pickled NumPy array needs.

    Allowed: ``numpy.core.multiarray._reconstruct`` and ``numpy._core.multiarray._reconstruct``
    (an empty array of a type), ``numpy.ndarray``, ``numpy.dtype``, and
    ``numpy.core.multiarray.scalar`` / ``numpy._core.multiarray.scalar`` (a NumPy scalar from its
    bytes). Any other global (``os.system``, ``builtins.eval``, ``subprocess.Popen``, a class with
    ``__reduce__``...) raises ModelError when the pickle names it, before it could be called.
    """

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        target = self._allowed.get((module, name))
        if target is None:
            raise ModelError(
                f"refusing to unpickle {module}.{name}: this file asks to run code, and a "
                "weights file needs only NumPy arrays; do not open it with np.load(allow_pickle="
                "True) either"
            )
        return target


class _BoundedReader:
    """A file for :func:`pickletools.genops` that refuses a read longer than what is left of it.

    A pickle declares the length of each string and bytes object before its data; CPython's
    unpickler allocates that length before it reads. Walking the opcodes through this reader first
    refuses a declared length beyond the file's end (10^12 bytes in a 100-byte file) before anything
    of that size is allocated.
    """

    def __init__(self, file: IO[bytes], size: int) -> None:
        self._file = file
        self._size = size

    def tell(self) -> int:
        return self._file.tell()

    def read(self, n: int = -1) -> bytes:
        left = self._size - self._file.tell()
        if n > left:
            raise ModelError(
                f"its pickle declares {n} bytes where {left} are left in the file; the file is "
                "truncated or corrupt: download it again"
            )
        return self._file.read(n)

    def readline(self) -> bytes:
        return self._file.readline()


def _check_declared_lengths(file: IO[bytes]) -> None:
    """Walk the pickle at ``file``'s position without building anything, then come back to it.

    Raises:
        ModelError: a declared length runs past the end of the file.
        ValueError: an unknown opcode, or an argument cut short (from :func:`pickletools.genops`).
    """
    start = file.tell()
    bounded = _BoundedReader(file, os.fstat(file.fileno()).st_size)
    for _ in pickletools.genops(cast(IO[bytes], bounded)):  # genops calls read, readline, tell
        pass
    file.seek(start)


def read_release_npy(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """The release's dict ``{layer name: {param name: array}}`` from a ``.npy`` file, through
    :class:`ReleaseUnpickler` (Python 2 strings decoded as latin-1, as NumPy advises).

    Raises:
        ModelError: no such file; not a ``.npy`` file; a plain array instead of a pickled dict; a
            pickle that names any global besides NumPy's array machinery; a truncated or corrupt
            file; a dict of something other than dicts of arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"no file at {path}: download NYU_ResNet-UpProj.npy (the FCRN authors' TensorFlow "
            "weights, see REFERENCE.md) and pass its path"
        )
    with path.open("rb") as file:
        headers = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }
        try:
            version = np.lib.format.read_magic(file)
            read_header = headers.get(version)
            if read_header is not None:
                shape, _, dtype = read_header(file)
        except ValueError as error:
            raise ModelError(f"{path} is not a readable .npy file ({error})") from error
        if read_header is None:
            raise ModelError(
                f"{path} is not a readable .npy file (format version {version}, not 1.0 or 2.0)"
            )
        if dtype != np.dtype(object) or shape != ():
            raise ModelError(
                f"{path} holds a plain {dtype} array of shape {shape}, not the pickled dict of "
                "layers of FCRN's NYU_ResNet-UpProj.npy"
            )
        try:
            _check_declared_lengths(file)
            loaded = ReleaseUnpickler(file, encoding="latin1").load()
        except ModelError as error:
            raise ModelError(f"{path}: {error}") from None
        except Exception as error:  # a broken pickle raises EOFError, UnpicklingError, ...
            raise ModelError(
                f"{path}: its pickle could not be read ({type(error).__name__}: {error}); the "
                "file is truncated or corrupt: download it again"
            ) from error
    layers = loaded.item() if isinstance(loaded, np.ndarray) and loaded.shape == () else loaded
    if not isinstance(layers, dict) or not all(
        isinstance(params, dict) and all(isinstance(array, np.ndarray) for array in params.values())
        for params in layers.values()
    ):
        raise ModelError(
            f"{path} holds a {type(layers).__name__}, not a dict of layers each a dict of arrays: "
            "it is not FCRN's NYU_ResNet-UpProj.npy"
        )
    return layers


def release_layout() -> list[tuple[str, str, str]]:
    """(release layer name, "conv" or "bn", our module's name in ``FCRN(release=True)``) for all
    157 layers with parameters, in the order the release's graph builds them."""
    rows = [("conv1", "conv", "encoder.0"), ("bn_conv1", "bn", "encoder.1")]
    for stage_index, (stage, blocks) in enumerate(STAGES):
        for block in range(blocks):
            tag, ours = f"{stage}{'abcdef'[block]}", f"encoder.{4 + stage_index}.{block}"
            if block == 0:
                rows.append((f"res{tag}_branch1", "conv", f"{ours}.downsample.0"))
                rows.append((f"bn{tag}_branch1", "bn", f"{ours}.downsample.1"))
            for part, number in zip("abc", "123"):
                rows.append((f"res{tag}_branch2{part}", "conv", f"{ours}.conv{number}"))
                rows.append((f"bn{tag}_branch2{part}", "bn", f"{ours}.bn{number}"))
    rows += [("layer1", "conv", "decoder.conv"), ("layer1_BN", "bn", "decoder.bn")]
    for index, up in enumerate(UP_IDS):
        ours = f"decoder.up.{index}"
        for branch, conv, bn in (("br1", "conv1", "bn1"), ("br2", "conv3", "bn3")):
            for letter, phase in UP_CONVS.items():
                rows.append(
                    (f"layer{up}_{branch}_{letter}", "conv", f"{ours}.{conv}.convs.{phase}")
                )
            rows.append((f"layer{up}_{branch}_BN", "bn", f"{ours}.{bn}"))
            if branch == "br1":
                rows.append((f"layer{up}_Conv", "conv", f"{ours}.conv2"))
                rows.append((f"layer{up}_BN", "bn", f"{ours}.bn2"))
    rows.append(("ConvPred", "conv", "decoder.head"))
    return rows


def _check_array(array: np.ndarray, where: str, expected: torch.Size, param: str) -> None:
    """ModelError naming ``where`` unless the release's array is finite floats of our shape (a
    conv kernel in TF's (kh, kw, in, out) order)."""
    if not np.issubdtype(array.dtype, np.floating):
        raise ModelError(f"{where} has dtype {array.dtype}, not float: not FCRN's weights file")
    conv_weight = param == "weights"
    tf_shape = (*expected[2:], expected[1], expected[0]) if conv_weight else tuple(expected)
    if array.shape != tf_shape:
        raise ModelError(
            f"{where} has shape {array.shape}, FCRN's release has {tf_shape}"
            + (" (kh, kw, in, out)" if conv_weight else "")
            + ": the file is of another model"
        )
    if not np.isfinite(array).all():
        raise ModelError(f"{where} has NaN or infinite values: the file is corrupt")


def _tensor(array: np.ndarray, conv_weight: bool) -> torch.Tensor:
    """A checked release array as a float32 tensor of our layout (a conv kernel transposed from
    TF's (kh, kw, in, out) to (out, in, kh, kw))."""
    if conv_weight:
        array = array.transpose(3, 2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _release_parameters(
    layers: dict[str, dict[str, np.ndarray]], state: dict[str, torch.Tensor]
) -> list[tuple[str, str, str]]:
    """(layer, param, our state_dict key) for every parameter of the release, each checked
    against ``state`` (the model's tensors, possibly on the meta device) for name, dtype and
    shape; ModelError names the first that does not fit."""
    extra = sorted(set(layers) - {name for name, _, _ in release_layout()})
    if extra:
        raise ModelError(
            f"the weights file has layers FCRN's release lacks, first {extra[0]!r} "
            f"({len(extra)} in all): it is not FCRN's NYU_ResNet-UpProj.npy"
        )
    parameters = []
    for name, kind, ours in release_layout():
        if name not in layers:
            raise ModelError(
                f"the weights file lacks layer {name!r} of FCRN's release: it is truncated or of "
                "another model"
            )
        names = dict(BN_PARAMS if kind == "bn" else CONV_PARAMS)
        if kind == "conv" and f"{ours}.bias" not in state:
            del names["biases"]  # the release's graph builds this conv with biased=False
        given, wanted = set(layers[name]), set(names)
        if given != wanted:
            raise ModelError(
                f"layer {name!r} has parameters {sorted(given)}, FCRN's release has "
                f"{sorted(wanted)}: the file is of another model"
            )
        for param, attribute in names.items():
            key = f"{ours}.{attribute}"
            _check_array(layers[name][param], f"{name}/{param}", state[key].shape, param)
            parameters.append((name, param, key))
    return parameters


@torch.no_grad()
def fcrn_from_release_dict(layers: dict[str, dict[str, np.ndarray]]) -> FCRN:
    """``FCRN(release=True)`` in eval mode holding the release's weights, from the dict that
    :func:`read_release_npy` returns; ``input_size`` is the release's (228, 304).

    Every layer is checked against the architecture (built first on the meta device, which
    allocates nothing) before the model itself is built.

    Raises:
        ModelError: naming the first layer that is missing, unexpected, or has a missing,
            unexpected or wrongly shaped parameter.
    """
    with torch.device("meta"):
        skeleton = FCRN(release=True).state_dict()
    parameters = _release_parameters(layers, skeleton)
    model = FCRN(release=True)
    state = model.state_dict()  # tensors sharing the model's storage: filled in place below
    for name, param, key in parameters:
        state[key].copy_(_tensor(layers[name][param], param == "weights"))
    model.input_size = RELEASE_INPUT_SIZE
    return model.eval()


def fcrn_from_tf_npy(path: str | os.PathLike) -> FCRN:
    """FCRN with the authors' NYU weights from their TensorFlow release ``NYU_ResNet-UpProj.npy``.

    Returns ``FCRN(release=True)`` in eval mode: input (B,3,H,W) RGB in [0,1] (scaled inside to
    the release's 0..255, no mean subtraction), output (B,1,16*ceil(H/32),16*ceil(W/32)) depth in
    metres (encoding "metres"); at the release's 228x304 that is 128x160. ``model.input_size`` is
    (228, 304), so :func:`depthnb.predict.predict_depth` runs it at that size.

    Raises:
        ModelError: see :func:`read_release_npy` and :func:`fcrn_from_release_dict`.
    """
    layers = read_release_npy(path)
    try:
        return fcrn_from_release_dict(layers)
    except ModelError as error:
        raise ModelError(f"{path}: {error}") from None
