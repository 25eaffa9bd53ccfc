"""DenseDepth's published Keras model (``nyu.h5``, Keras 2.2 / TF 1.x) as a depthnb DenseDepth.

The file is read with h5py alone: no TensorFlow, nothing unpickled, deserialised as code or
evaluated; the ``model_config`` attribute is at most parsed as JSON for a sanity check.

``densedepth_from_keras("nyu.h5")`` returns the DenseDepth, ``model.config`` ``{'width': 1.0,
'input_norm': 'none', 'align_corners': True, 'bn_eps': 1.001e-05, ...}``;
``model.encoding.decode(model(rgb_01))`` is its depth, (B,1,H/2,W/2) metres.

Keras's semantics, and why this torch model reproduces them:

- Input RGB in [0,1] with no mean/std normalisation (``input_norm="none"``).
- Stem: Keras ``ZeroPadding2D(3)`` then a valid 7x7 stride-2 conv is torch's ``padding=3``. Keras
  ``ZeroPadding2D(1)`` then ``MaxPooling2D(3, 2)`` follows a ReLU, so its inputs are >= 0 and a
  zero pad never wins a max where torch's ``MaxPool2d(3, 2, padding=1)`` pads with -inf: the same
  output, of the same size.
- BatchNorm with Keras DenseNet's epsilon 1.001e-5 (``bn_eps``), inference statistics.
- The final ``bn`` is followed by a ReLU (Keras layer ``relu``); the decoder applies it to norm5.
- Bilinear x2 up-sampling with aligned corners (``align_corners=True``), LeakyReLU 0.2.
- Output in DepthNorm (encoding "inverse"): metres = clip(10 / x, 0.1, 10), as ``predict`` and
  ``evaluate.py`` compute it.
- Keras's model needs H, W multiples of 32 (its up-sampling is exactly x2); at those sizes the
  torch model pads nothing and the outputs agree (``scripts/verify_densedepth_keras.py``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import nn

from depthnb.errors import ModelError
from depthnb.models.densedepth import ENCODER_CHANNELS, DenseDepth

__all__ = ["KERAS_BN_EPS", "densedepth_from_keras", "keras_layer_map"]

KERAS_BN_EPS = 1.001e-5
MIN_FEATURES = 16
"""The fewest decoder filters DenseDepth builds (width 0.01)."""
_CONV = ("kernel", "bias")
_BN = ("gamma", "beta", "moving_mean", "moving_variance")
_BN_TO_TORCH = {
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}


def keras_layer_map(model: DenseDepth) -> dict[str, nn.Module]:
    """Keras layer name -> the torch ``Conv2d`` or ``BatchNorm2d`` holding its weights, in the
    Keras model's order (every conv and BatchNorm of ``model`` appears once)."""
    encoder, decoder = model.encoder, model.decoder
    layers: dict[str, Any] = {"conv1/conv": encoder.conv0, "conv1/bn": encoder.norm0}
    for name, child in encoder.named_children():
        if name.startswith("denseblock"):
            block = int(name[len("denseblock") :]) + 1  # torchvision's block 1 is Keras's conv2
            for layer_name, layer in child.named_children():
                index = int(layer_name[len("denselayer") :])
                prefix = f"conv{block}_block{index}"
                layers[f"{prefix}_0_bn"] = layer.norm1
                layers[f"{prefix}_1_conv"] = layer.conv1
                layers[f"{prefix}_1_bn"] = layer.norm2
                layers[f"{prefix}_2_conv"] = layer.conv2
        elif name.startswith("transition"):
            block = int(name[len("transition") :]) + 1
            layers[f"pool{block}_bn"] = child.norm
            layers[f"pool{block}_conv"] = child.conv
    layers["bn"] = encoder.norm5
    layers["conv2"] = decoder.conv
    for index, up in enumerate((decoder.up1, decoder.up2, decoder.up3, decoder.up4), start=1):
        layers[f"up{index}_convA"] = up.conv_a
        layers[f"up{index}_convB"] = up.conv_b
    layers["conv3"] = decoder.head
    return layers


def _text(value: Any) -> str:
    """An HDF5 attribute string (bytes, numpy bytes or str) as str."""
    return value.decode("utf8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def _string_list(group: h5py.Group, name: str) -> list[str] | None:
    """A Keras list-of-strings attribute, also when Keras split it into ``name0``, ``name1``...
    (it does above 64 KB); None when absent."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks = []
        while f"{name}{len(chunks)}" in group.attrs:
            chunks.append(group.attrs[f"{name}{len(chunks)}"])
        if not chunks:
            return None
    return [_text(item) for chunk in chunks for item in np.atleast_1d(chunk)]


def _fail(path: Path, what: str) -> ModelError:
    return ModelError(
        f"{path} is not DenseDepth's Keras model: {what}. Use the authors' nyu.h5 (or a file "
        "saved by their model.py, whole model or weights) or load_pretrained('densedepth-nyu')"
    )


def _weights_group(file: h5py.File, path: Path) -> h5py.Group:
    """``model_weights`` of a whole-model file, or the root of a ``save_weights`` file."""
    if "model_config" in file.attrs:
        try:
            config = json.loads(_text(file.attrs["model_config"]))
        except ValueError as error:
            raise _fail(path, f"its model_config is not JSON ({error})") from error
        inner = config.get("config") if isinstance(config, dict) else None
        layers = inner.get("layers") if isinstance(inner, dict) else None
        if isinstance(layers, list):
            names = {layer.get("name") for layer in layers if isinstance(layer, dict)}
            if "conv2" not in names or "conv3" not in names:
                raise _fail(path, "its model_config has no layers 'conv2' and 'conv3'")
    group = file["model_weights"] if "model_weights" in file else file
    if not isinstance(group, h5py.Group) or _string_list(group, "layer_names") is None:
        raise _fail(path, "no Keras weights (no 'model_weights' group with 'layer_names')")
    return group


def _layer_weights(group: h5py.Group, path: Path) -> dict[str, dict[str, h5py.Dataset]]:
    """{Keras layer: {"kernel" / "gamma" / ...: dataset}} for every layer with weights.

    A weight name is e.g. ``conv1/conv/kernel:0`` (Keras 2.2), possibly uniquified
    (``conv1/conv_1/kernel:0``) or bare (``kernel:0``); its dataset lies at that path inside the
    layer's group (h5py nests on "/"), and only its last part ("kernel") says what it is.
    """
    layers: dict[str, dict[str, h5py.Dataset]] = {}
    for layer in _string_list(group, "layer_names") or []:
        if layer not in group:
            raise _fail(path, f"layer {layer!r} is listed but has no group (truncated file?)")
        layer_group = group[layer]
        names = _string_list(layer_group, "weight_names") or []
        weights = {}
        for weight_name in names:
            try:
                dataset = layer_group[weight_name]
            except (KeyError, OSError, ValueError) as error:
                raise _fail(path, f"layer {layer!r} lacks its weight {weight_name!r}") from error
            weights[weight_name.split("/")[-1].split(":")[0]] = dataset
        if weights:
            layers[layer] = weights
    return layers


H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError)
"""What h5py raises on damaged metadata or data (a broken link or B-tree is a RuntimeError)."""


def _read(dataset: h5py.Dataset, layer: str, path: Path) -> np.ndarray:
    """A dataset as finite float32 numpy, or ModelError naming the layer."""
    try:
        array = np.asarray(dataset[()], dtype=np.float32)
    except H5_ERRORS as error:
        raise ModelError(
            f"{path}: layer {layer!r} could not be read ({error}); the file is truncated or "
            "corrupt: download it again"
        ) from error
    if not np.all(np.isfinite(array)):
        raise ModelError(
            f"{path}: layer {layer!r} holds NaN or inf values; the file is corrupt: download "
            "it again"
        )
    return array


def _width_for(features: int) -> float:
    """The ``width`` for which DenseDepth's decoder has exactly ``features`` filters (it takes
    ``int(1664 * width)``, so ``features / 1664`` may round one below)."""
    width = features / ENCODER_CHANNELS
    while int(ENCODER_CHANNELS * width) < features:
        width = math.nextafter(width, math.inf)
    return width


def _expected_weights(module: nn.Module) -> dict[str, str]:
    """Keras weight name -> the torch attribute it fills, for a Conv2d or a BatchNorm2d."""
    if isinstance(module, nn.BatchNorm2d):
        return {name: _BN_TO_TORCH[name] for name in _BN}
    return {"kernel": "weight", "bias": "bias"} if module.bias is not None else {"kernel": "weight"}


def _check_declared(
    layer: str, module: nn.Module, weights: dict[str, h5py.Dataset], path: Path
) -> None:
    """Check a layer's weight names, declared shapes and dtypes against ``module`` (which may
    live on the meta device) without reading any of their data."""
    expected = _expected_weights(module)
    if set(weights) != set(expected):
        raise ModelError(
            f"{path}: layer {layer!r} has weights {sorted(weights)}, DenseDepth's has "
            f"{sorted(expected)}; this file is another model: use DenseDepth's nyu.h5"
        )
    for keras_name, torch_name in expected.items():
        dataset = weights[keras_name]
        needed = _keras_shape(tuple(getattr(module, torch_name).shape))
        if tuple(dataset.shape) != needed:
            raise ModelError(
                f"{path}: layer {layer!r} {keras_name} has shape {tuple(dataset.shape)}, "
                f"DenseDepth (DenseNet-169, decoder width from conv2) needs {needed}; this file "
                "is another model (e.g. DenseNet-201 based) or damaged: use DenseDepth's nyu.h5"
            )
        if dataset.dtype.kind not in "iuf" or dataset.dtype.fields is not None:
            raise ModelError(
                f"{path}: layer {layer!r} {keras_name} holds {dataset.dtype}, not numbers; the "
                "file is damaged: download it again"
            )


def _torch_tensors(
    layer: str, module: nn.Module, weights: dict[str, h5py.Dataset], path: Path
) -> dict[str, torch.Tensor]:
    """The module's tensors {"weight": ..., "running_mean": ...} from its Keras weights (already
    checked by :func:`_check_declared`); conv kernels (kh,kw,in,out) become (out,in,kh,kw)."""
    tensors = {}
    for keras_name, torch_name in _expected_weights(module).items():
        array = _read(weights[keras_name], layer, path)
        if keras_name == "kernel" and array.ndim == 4:
            array = array.transpose(3, 2, 0, 1)
        tensors[torch_name] = torch.from_numpy(np.ascontiguousarray(array))
    return tensors


def _decoder_features(layers: dict[str, dict[str, h5py.Dataset]], path: Path) -> int:
    """The decoder's filter count from ``conv2``'s declared kernel (1,1,1664,features), checked
    against DenseDepth's range before anything is built."""
    conv2 = layers.get("conv2", {}).get("kernel")
    if conv2 is None or len(conv2.shape) != 4:
        raise _fail(path, "it has no 1x1 conv layer 'conv2' (the decoder's first layer)")
    features = int(conv2.shape[-1])
    if tuple(conv2.shape[:3]) != (1, 1, ENCODER_CHANNELS) or not (
        MIN_FEATURES <= features <= ENCODER_CHANNELS
    ):
        raise _fail(
            path,
            f"its 'conv2' kernel declares shape {tuple(conv2.shape)}; DenseDepth's is "
            f"(1, 1, {ENCODER_CHANNELS}, F) with F from {MIN_FEATURES} to {ENCODER_CHANNELS} "
            "(1664 in the released nyu.h5): the file is damaged or of another model",
        )
    return features


def _keras_shape(torch_shape: tuple[int, ...]) -> tuple[int, ...]:
    """A torch weight shape as Keras writes it: (out,in,kh,kw) -> (kh,kw,in,out)."""
    if len(torch_shape) == 4:
        out, cin, kh, kw = torch_shape
        return (kh, kw, cin, out)
    return torch_shape


def densedepth_from_keras(path: str | os.PathLike) -> DenseDepth:
    """Load DenseDepth's Keras HDF5 file (``nyu.h5``: whole model or ``save_weights``) into a
    depthnb DenseDepth in eval mode.

    The decoder width comes from ``conv2``'s kernel (1664 filters in the released file: width
    1.0, 42,657,689 parameters; the authors' code default gives 832, width 0.5). The model is
    built with ``input_norm="none"``, ``align_corners=True``, ``bn_eps=1.001e-5`` and encoding
    "inverse", all in ``model.config``, so ``build_model(model.name, **model.config)`` and
    depthnb checkpoints rebuild it. Input (B,3,H,W) RGB in [0,1]; output (B,1,H/2,W/2)
    DepthNorm, ``model.encoding.decode`` gives metres.

    Every layer's declared shape and dtype is checked against the architecture (built on the
    meta device first) before the model is built or any weight is read, so a damaged file that
    declares enormous widths is refused without allocating them.

    Raises:
        ModelError: no such file; not HDF5 or truncated; not a Keras file; a layer missing, with
            other weights, another shape or dtype (the first such layer is named).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no Keras model file at {path}: check the path (DenseDepth's nyu.h5)")
    try:
        file = h5py.File(path, "r")
    except H5_ERRORS as error:
        raise ModelError(
            f"{path} is not a readable HDF5 file ({error}); it is truncated or corrupt (165 MB "
            "for nyu.h5): download it again"
        ) from error
    with file:
        try:
            layers = _layer_weights(_weights_group(file, path), path)
            model = _load_checked(layers, path)
        except ModelError:
            raise
        except H5_ERRORS as error:  # h5py's answers to damaged metadata
            raise ModelError(
                f"{path}: its layers could not be read ({type(error).__name__}: {error}); the "
                "file is truncated or corrupt: download it again"
            ) from error
    return model.eval()


def _build(width: float) -> DenseDepth:
    return DenseDepth(
        width=width, encoding="inverse", input_norm="none", align_corners=True, bn_eps=KERAS_BN_EPS
    )


def _load_checked(layers: dict[str, dict[str, h5py.Dataset]], path: Path) -> DenseDepth:
    """Check every layer's declared weights against the architecture (a skeleton on the meta
    device, which allocates nothing), then build the model and fill it."""
    width = _width_for(_decoder_features(layers, path))
    with torch.device("meta"):
        skeleton = _build(width)
    found = {}
    for layer, module in keras_layer_map(skeleton).items():
        name = layer if layer in layers else layer.replace("/", "_")  # Keras 3: conv1_conv
        if name not in layers:
            raise _fail(path, f"it has no layer {layer!r} with weights")
        _check_declared(name, module, layers[name], path)
        found[layer] = name
    known = set(found.values())
    extra = [layer for layer in layers if layer not in known]
    if extra:
        raise _fail(path, f"it has layers DenseDepth lacks, first {extra[0]!r}")
    model = _build(width)
    with torch.no_grad():
        for layer, module in keras_layer_map(model).items():
            tensors = _torch_tensors(found[layer], module, layers[found[layer]], path)
            for name, tensor in tensors.items():
                getattr(module, name).copy_(tensor)
    return model
