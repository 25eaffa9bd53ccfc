"""Write the published depth networks' files in their release formats, with random weights.

DenseDepth's Keras ``nyu.h5`` (:func:`write_keras_h5` of a :func:`random_densedepth`), FCRN's
TensorFlow ``NYU_ResNet-UpProj.npy`` (:func:`write_fcrn_npy`: the release's layers, made by an
independent NumPy transcription of its graph, :class:`ReleaseGraph`), a Depth Anything V2 snapshot
(:func:`write_depth_anything_snapshot`) and torchvision's ImageNet weights under their real file
names in a torch hub cache (:func:`seed_torchvision_cache`). The converter tests check depthnb's
readers against these writers; the full-mode rehearsal serves them as the published files.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import h5py
import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from depthnb.models.convert.keras_densedepth import KERAS_BN_EPS
from depthnb.models.densedepth import DenseDepth

BN_NAMES = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}
TORCH_TO_KERAS = [  # (torch module prefix pattern, Keras layer name template)
    (r"encoder\.conv0", "conv1/conv"),
    (r"encoder\.norm0", "conv1/bn"),
    (r"encoder\.denseblock(\d+)\.denselayer(\d+)\.norm1", "conv{b}_block{i}_0_bn"),
    (r"encoder\.denseblock(\d+)\.denselayer(\d+)\.conv1", "conv{b}_block{i}_1_conv"),
    (r"encoder\.denseblock(\d+)\.denselayer(\d+)\.norm2", "conv{b}_block{i}_1_bn"),
    (r"encoder\.denseblock(\d+)\.denselayer(\d+)\.conv2", "conv{b}_block{i}_2_conv"),
    (r"encoder\.transition(\d+)\.norm", "pool{b}_bn"),
    (r"encoder\.transition(\d+)\.conv", "pool{b}_conv"),
    (r"encoder\.norm5", "bn"),
    (r"decoder\.conv", "conv2"),
    (r"decoder\.up(\d)\.conv_a", "up{n}_convA"),
    (r"decoder\.up(\d)\.conv_b", "up{n}_convB"),
    (r"decoder\.head", "conv3"),
]


def keras_name(module: str) -> str:
    """A torch module path -> its Keras layer name (torchvision block K is Keras's K+1)."""
    for pattern, template in TORCH_TO_KERAS:
        match = re.fullmatch(pattern, module)
        if match:
            groups = [int(g) for g in match.groups()]
            b = groups[0] + 1 if groups else 0
            i = groups[1] if len(groups) > 1 else 0
            return template.format(b=b, i=i, n=groups[0] if groups else 0)
    raise AssertionError(f"no Keras name for {module}")


def random_densedepth(width: float, seed: int) -> DenseDepth:
    """A Keras-semantics DenseDepth with random weights and BatchNorm statistics, eval mode."""
    torch.manual_seed(seed)
    model = DenseDepth(width=width, input_norm="none", bn_eps=KERAS_BN_EPS).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)
                module.running_mean.normal_(0.0, 0.5)
                module.running_var.uniform_(0.3, 2.0)
            elif isinstance(module, nn.Conv2d):  # He init keeps activations O(1) to the output
                module.weight.normal_(0.0, (2.0 / module.weight[0].numel()) ** 0.5)
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.1)
    return model


def write_keras_h5(model: DenseDepth, path: Path, style: str = "keras2.2") -> None:
    """Write ``model`` as Keras writes a whole model: root attrs, ``model_weights/layer_names``,
    per-layer ``weight_names`` and datasets at ``<layer>/<weight name>`` in Keras shapes.

    ``style="keras2.2"``: bytes attributes, weight names uniquified by the TF 1 graph
    (``conv1/conv_1/kernel:0``); ``"tf_keras"``: str attributes, plain names, and ``layer_names``
    split in two chunks as Keras does for long lists; ``"keras3"``: as tf_keras, but layer names
    without "/" (``conv1_conv``) and weight names without ":0".
    """
    as_bytes = style == "keras2.2"
    state = {k: v.numpy() for k, v in model.state_dict().items() if "num_batches" not in k}
    layers: dict[str, list[tuple[str, np.ndarray]]] = {}
    for key, value in state.items():
        module, param = key.rsplit(".", 1)
        layer = keras_name(module)
        if style == "keras3":
            layer = layer.replace("/", "_")
        if param == "weight" and value.ndim == 4:
            # torch (out,in,kh,kw) -> Keras (kh,kw,in,out)
            name, value = "kernel", np.transpose(value, (2, 3, 1, 0))
        else:
            name = BN_NAMES[param] if "norm" in module else param
        layers.setdefault(layer, []).append((name, value))
    names = ["input_1", "zero_padding2d"] + list(layers)[:2] + ["conv1/relu", "pool1"]
    names += list(layers)[2:] + ["relu"]
    config = {"class_name": "Model", "config": {"layers": [{"name": n} for n in names]}}

    def text(values: list[str]) -> np.ndarray:
        return np.array([v.encode() for v in values]) if as_bytes else np.array(values, object)

    with h5py.File(path, "w") as file:
        file.attrs["keras_version"] = b"2.2.4" if as_bytes else "2.21.0"
        file.attrs["backend"] = b"tensorflow" if as_bytes else "tensorflow"
        file.attrs["model_config"] = json.dumps(config).encode() if as_bytes else json.dumps(config)
        group = file.create_group("model_weights")
        if as_bytes:
            group.attrs["layer_names"] = text(names)
        else:
            group.attrs["layer_names0"] = text(names[:300])
            group.attrs["layer_names1"] = text(names[300:])
        for layer in names:
            layer_group = group.create_group(layer)
            scope = layer + ("_1" if as_bytes else "")
            suffix = "" if style == "keras3" else ":0"
            weight_names = [f"{scope}/{name}{suffix}" for name, _ in layers.get(layer, [])]
            layer_group.attrs["weight_names"] = text(weight_names) if weight_names else np.array([])
            for weight_name, (_, value) in zip(weight_names, layers.get(layer, [])):
                layer_group.create_dataset(weight_name, data=value)


RESNET50 = ((2, 3, 64, 1), (3, 4, 128, 2), (4, 6, 256, 2), (5, 3, 512, 2))  # stage, blocks, ...


class Weights:
    """The release's variables: looked up in ``layers``, or made (seeded, float32) on first use."""

    def __init__(self, layers: dict | None = None, seed: int = 0) -> None:
        self.layers = {} if layers is None else layers
        self.create = layers is None
        self.rng = np.random.default_rng(seed)

    def get(self, layer: str, param: str, shape: tuple[int, ...]) -> np.ndarray:
        if self.create:
            self.layers.setdefault(layer, {})[param] = self.random(param, shape)
        array = self.layers[layer][param]
        assert array.shape == shape, (layer, param)
        return array.astype(np.float64)

    def random(self, param: str, shape: tuple[int, ...]) -> np.ndarray:
        if param == "weights":
            fan_in = int(np.prod(shape[:-1]))
            return self.rng.standard_normal(shape, np.float32) * np.float32(fan_in**-0.5)
        if param in ("variance", "scale"):
            return self.rng.uniform(0.5, 1.5, shape).astype(np.float32)
        return self.rng.normal(0.0, 0.1, shape).astype(np.float32)  # biases, mean, offset


class ReleaseGraph:
    """``ResNet50UpProj.setup`` with network.py's layers, on NHWC float64 arrays."""

    def __init__(self, weights: Weights) -> None:
        self.w = weights

    def conv(self, x, name, kh, kw, c_out, stride=1, biased=True, relu=False, padding="SAME"):
        if padding == "SAME":  # network.py pads (k-1)//2 on both sides, then convolves VALID
            x = np.pad(x, [(0, 0), ((kh - 1) // 2,) * 2, ((kw - 1) // 2,) * 2, (0, 0)])
        kernel = self.w.get(name, "weights", (kh, kw, x.shape[-1], c_out))
        windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
        out = np.einsum("bhwckl,klco->bhwo", windows, kernel, optimize=True)
        if biased:
            out = out + self.w.get(name, "biases", (c_out,))
        return np.maximum(out, 0) if relu else out

    def bn(self, x, name, relu=False):
        shape = (x.shape[-1],)
        mean, var = self.w.get(name, "mean", shape), self.w.get(name, "variance", shape)
        scale, offset = self.w.get(name, "scale", shape), self.w.get(name, "offset", shape)
        out = (x - mean) / np.sqrt(var + 1e-4) * scale + offset
        return np.maximum(out, 0) if relu else out

    @staticmethod
    def max_pool_same(x, k=3, s=2):
        pads = []
        for size in x.shape[1:3]:  # tf.nn.max_pool(padding="SAME")
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=-np.inf)
        return sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s].max(axis=(-1, -2))

    @staticmethod
    def interleave(tensors, axis):  # network.py's interleave, verbatim in NumPy
        new_shape = [-1, *tensors[0].shape[1:]]
        new_shape[axis] *= len(tensors)
        return np.stack(tensors, axis + 1).reshape(new_shape)

    def unpool_as_conv(self, x, c_out, id, relu):
        out_a = self.conv(x, f"layer{id}_ConvA", 3, 3, c_out)
        pad_b = np.pad(x, [(0, 0), (1, 0), (1, 1), (0, 0)])
        out_b = self.conv(pad_b, f"layer{id}_ConvB", 2, 3, c_out, padding="VALID")
        pad_c = np.pad(x, [(0, 0), (1, 1), (1, 0), (0, 0)])
        out_c = self.conv(pad_c, f"layer{id}_ConvC", 3, 2, c_out, padding="VALID")
        pad_d = np.pad(x, [(0, 0), (1, 0), (1, 0), (0, 0)])
        out_d = self.conv(pad_d, f"layer{id}_ConvD", 2, 2, c_out, padding="VALID")
        left = self.interleave([out_a, out_b], axis=1)
        right = self.interleave([out_c, out_d], axis=1)
        y = self.bn(self.interleave([left, right], axis=2), f"layer{id}_BN")
        return np.maximum(y, 0) if relu else y

    def up_project(self, x, c_out, id):
        branch1 = self.unpool_as_conv(x, c_out, f"{id}_br1", relu=True)
        branch1 = self.bn(self.conv(branch1, f"layer{id}_Conv", 3, 3, c_out), f"layer{id}_BN")
        branch2 = self.unpool_as_conv(x, c_out, f"{id}_br2", relu=False)
        return np.maximum(branch1 + branch2, 0)

    def block(self, x, tag, width, stride, project):
        out = self.conv(x, f"res{tag}_branch2a", 1, 1, width, stride, biased=False)
        out = self.bn(out, f"bn{tag}_branch2a", relu=True)
        out = self.conv(out, f"res{tag}_branch2b", 3, 3, width, biased=False)
        out = self.bn(out, f"bn{tag}_branch2b", relu=True)
        out = self.conv(out, f"res{tag}_branch2c", 1, 1, 4 * width, biased=False)
        out = self.bn(out, f"bn{tag}_branch2c")
        if project:
            x = self.conv(x, f"res{tag}_branch1", 1, 1, 4 * width, stride, biased=False)
            x = self.bn(x, f"bn{tag}_branch1")
        return np.maximum(x + out, 0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """(B,H,W,3) RGB 0..255 -> (B,h,w,1) metres."""
        x = self.bn(self.conv(image, "conv1", 7, 7, 64, 2), "bn_conv1", relu=True)
        x = self.max_pool_same(x)
        for stage, blocks, width, stride in RESNET50:
            for index in range(blocks):
                tag = f"{stage}{'abcdef'[index]}"
                x = self.block(x, tag, width, stride if index == 0 else 1, project=index == 0)
        x = self.bn(self.conv(x, "layer1", 1, 1, 1024), "layer1_BN")
        for id, c_out in (("2x", 512), ("4x", 256), ("8x", 128), ("16x", 64)):
            x = self.up_project(x, c_out, id)
        return self.conv(x, "ConvPred", 3, 3, 1)  # dropout keep_prob=1 before it: identity


def write_fcrn_npy(path: Path, seed: int = 0) -> Path:
    """Write ``NYU_ResNet-UpProj.npy`` as the release does (``np.save`` of a dict of dicts of
    float32 arrays, a pickle): every layer the release's graph asks for, random (63.6M values),
    the prediction layer scaled so that depths come out near 2.5 m as the release's do."""
    weights = Weights(seed=seed)
    ReleaseGraph(weights)(np.zeros((1, 32, 32, 3)))
    prediction = weights.layers["ConvPred"]  # metres near NYU's median, as the release predicts
    prediction["weights"] *= np.float32(1e-3)
    prediction["biases"][:] = 2.5
    np.save(path, weights.layers, allow_pickle=True)
    return path


def write_depth_anything_snapshot(
    folder: Path, seed: int = 0, variant: str = "metric-indoor-small"
) -> Path:
    """Write a released Depth Anything V2 small architecture (24.8M parameters; ``variant`` as
    ``DepthAnythingV2`` takes it), random, as its Hugging Face repository holds it:
    ``config.json`` and ``model.safetensors``."""
    from depthnb.models import build_model

    torch.manual_seed(seed)
    net = build_model("depth-anything-v2", variant=variant).net
    with torch.no_grad():  # transformers' initialisation gives a constant depth: perturb it
        for parameter in net.parameters():
            parameter.add_(0.02 * torch.randn_like(parameter))
    net.save_pretrained(folder)
    return folder


def seed_torchvision_cache(torch_home: Path, weights: list | None = None) -> list[Path]:
    """Save random ImageNet weights where torchvision's ``weights.get_state_dict()`` looks first,
    ``<torch_home>/hub/checkpoints/<basename of weights.url>`` (the hash in the name is checked
    only when downloading). Default: DenseNet-169 and ResNet-50, DenseDepth's and FCRN's
    encoders."""
    from torchvision.models import (
        DenseNet169_Weights,
        ResNet50_Weights,
        densenet169,
        resnet50,
    )

    builders = {
        DenseNet169_Weights.IMAGENET1K_V1: densenet169,
        ResNet50_Weights.IMAGENET1K_V1: resnet50,
    }
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for weight in weights or list(builders):
        torch.manual_seed(0)
        path = folder / os.path.basename(urlparse(weight.url).path)
        torch.save(builders[weight](weights=None).state_dict(), path)
        written.append(path)
    return written
