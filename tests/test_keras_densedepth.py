"""DenseDepth's Keras HDF5 file -> depthnb DenseDepth, without TensorFlow.

The fixture (``published_writers.py``) writes a torch DenseDepth (random weights and BatchNorm
statistics, decoder at reduced width; the encoder is the full DenseNet-169) in the layout Keras uses
for a whole-model ``.h5``, through its own mapping (torch state-dict keys -> Keras layer names,
numpy transposes), so that a converter that misnames, mistransposes or misconfigures anything
disagrees with the source model. ``scripts/verify_densedepth_keras.py`` checks the same conversion
against Keras itself.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from published_writers import random_densedepth, write_keras_h5
from torch import nn

from depthnb.checkpoint import FORMAT, VERSION, save_checkpoint
from depthnb.encodings import get_encoding
from depthnb.errors import ModelError
from depthnb.models import build_model, densedepth_from_keras
from depthnb.models.convert.keras_densedepth import KERAS_BN_EPS, _width_for, keras_layer_map
from depthnb.models.densedepth import DenseDepth
from depthnb.predict import load_checkpoint

WIDTH = 0.05  # conv2 has int(1664 * 0.05) = 83 filters


@pytest.fixture(scope="module")
def source() -> DenseDepth:
    return random_densedepth(WIDTH, seed=0)


@pytest.fixture(scope="module")
def keras_file(source, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keras") / "densedepth.h5"
    write_keras_h5(source, path)
    return path


@pytest.fixture(scope="module")
def converted(keras_file) -> DenseDepth:
    return densedepth_from_keras(keras_file)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))


def outputs(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(images)


def test_converted_model_computes_what_the_source_does(source, converted, images):
    expected = outputs(source, images)
    assert expected.std() > 0.1  # random BN statistics, so a wrong mapping shows
    torch.testing.assert_close(outputs(converted, images), expected, atol=1e-5, rtol=1e-5)


def test_keras_semantics_are_in_the_config(converted):
    assert converted.config == {
        "width": _width_for(83),
        "input_norm": "none",
        "align_corners": True,
        "bn_eps": KERAS_BN_EPS,
        "encoding": "inverse",
    }
    assert converted.decoder.conv.out_channels == 83 and converted.decoder.up4.align_corners
    assert isinstance(converted.normalize, nn.Identity) and not converted.training
    norms = [m for m in converted.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 1 + 2 * (6 + 12 + 32 + 32) + 3 + 1  # stem, dense layers, transitions, bn
    assert all(m.eps == pytest.approx(1.001e-5, rel=1e-12) for m in norms)


def test_mapping_covers_every_conv_and_batchnorm(converted):
    mapped = list(keras_layer_map(converted).values())
    weighted = [m for m in converted.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    assert len(mapped) == len(weighted) == len({id(m) for m in mapped})


@pytest.mark.parametrize(
    ("style", "width", "filters"), [("tf_keras", 0.03, [49, 24, 3]), ("keras3", 0.1, [166, 83, 10])]
)
def test_other_widths_and_the_tf_keras_and_keras3_layouts(tmp_path, images, style, width, filters):
    source = random_densedepth(width, seed=2)  # conv2 has int(1664 * width) filters
    path = tmp_path / f"{style}.h5"
    write_keras_h5(source, path, style=style)
    model = densedepth_from_keras(path)
    decoder = model.decoder
    assert [
        decoder.conv.out_channels,
        decoder.up1.conv_a.out_channels,
        decoder.up4.conv_a.out_channels,
    ] == filters
    torch.testing.assert_close(outputs(model, images), outputs(source, images), atol=1e-5, rtol=0)


def test_a_save_weights_file_loads_too(keras_file, converted, tmp_path):
    path = tmp_path / "weights.h5"  # Keras's model.save_weights: the layers at the root
    with h5py.File(keras_file, "r") as source, h5py.File(path, "w") as target:
        weights = source["model_weights"]
        for key, value in weights.attrs.items():
            target.attrs[key] = value
        for layer in weights:
            source.copy(weights[layer], target, name=layer)
    loaded = densedepth_from_keras(path)
    for key, value in converted.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_width_inference_hits_every_filter_count():
    assert _width_for(1664) == 1.0 and _width_for(832) == 0.5
    assert all(int(1664 * _width_for(f)) == f for f in range(16, 1665))


def test_config_round_trips_through_build_model_and_a_checkpoint(converted, images, tmp_path):
    rebuilt = build_model(converted.name, **converted.config)
    rebuilt.load_state_dict(converted.state_dict())
    assert rebuilt.config == converted.config
    expected = outputs(converted, images)
    torch.testing.assert_close(outputs(rebuilt, images), expected, atol=0, rtol=0)
    checkpoint = {
        "format": FORMAT,
        "version": VERSION,
        "model_name": converted.name,
        "model_config": converted.config,
        "state_dict": converted.state_dict(),
        "encoding": converted.encoding.to_dict(),
        "epoch": 0,
        "step": 0,
    }
    loaded = load_checkpoint(save_checkpoint(checkpoint, tmp_path / "densedepth-nyu.pt"))
    assert loaded.config == converted.config
    assert {m.eps for m in loaded.modules() if isinstance(m, nn.BatchNorm2d)} == {KERAS_BN_EPS}
    torch.testing.assert_close(outputs(loaded, images), expected, atol=0, rtol=0)


def test_defaults_keep_torchvision_semantics():
    model = DenseDepth(width=0.05)
    assert model.config["input_norm"] == "imagenet" and model.config["bn_eps"] == 1e-5
    assert model.config["align_corners"] is True and model.encoder.norm0.eps == 1e-5
    with pytest.raises(ModelError, match="input_norm"):
        DenseDepth(width=0.05, input_norm="caffe")


def test_decode_is_densedepths_predict():
    x = torch.tensor([-3.0, -0.0, 0.0, 0.05, 0.5, 1.0, 7.3, 99.0, 250.0])
    # utils.predict: clip(1000 / x, 10, 1000) / 1000, then evaluate.py's * 10 -> metres
    with np.errstate(divide="ignore"):
        expected = np.clip(1000 / x.numpy(), 10, 1000) / 1000 * 10.0
    decoded = get_encoding("inverse").decode(x)
    np.testing.assert_allclose(decoded.numpy(), expected, rtol=1e-6)


def test_zero_padded_max_pool_after_relu_is_torchs_padded_pool(converted):
    x = torch.relu(torch.randn(1, 4, 17, 22))
    keras = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2)  # ZeroPadding2D(1) + MaxPooling2D(3, 2)
    torch.testing.assert_close(converted.encoder.pool0(x), keras, atol=0, rtol=0)


def edited(keras_file: Path, tmp_path: Path, edit) -> Path:
    path = tmp_path / "edited.h5"
    shutil.copy(keras_file, path)
    with h5py.File(path, "r+") as file:
        edit(file)
    return path


def drop_layer(file: h5py.File, layer: str) -> None:
    group = file["model_weights"]
    del group[layer]
    group.attrs["layer_names"] = np.array(
        [n for n in group.attrs["layer_names"] if n != layer.encode()]
    )


@pytest.mark.parametrize("layer", ["conv2", "conv4_block7_1_bn", "up3_convB"])
def test_a_missing_layer_is_named(keras_file, tmp_path, layer):
    path = edited(keras_file, tmp_path, lambda file: drop_layer(file, layer))
    with pytest.raises(ModelError, match=re.escape(repr(layer))):
        densedepth_from_keras(path)


def test_a_kernel_of_another_shape_is_named(keras_file, tmp_path):
    def widen(file: h5py.File) -> None:
        group = file["model_weights/up2_convA"]
        name = group.attrs["weight_names"][0].decode()
        del group[name]
        group.create_dataset(name, data=np.zeros((3, 3, 999, 20), np.float32))

    with pytest.raises(ModelError, match=r"'up2_convA' kernel has shape \(3, 3, 999, 20\)"):
        densedepth_from_keras(edited(keras_file, tmp_path, widen))


def test_a_layer_densedepth_lacks_is_named(keras_file, tmp_path):
    def add(file: h5py.File) -> None:
        group = file["model_weights"]
        group.attrs["layer_names"] = np.append(group.attrs["layer_names"], b"conv4_block33_0_bn")
        layer = group.create_group("conv4_block33_0_bn")
        layer.attrs["weight_names"] = np.array([b"conv4_block33_0_bn/gamma:0"])
        layer.create_dataset("conv4_block33_0_bn/gamma:0", data=np.ones(1280, np.float32))

    with pytest.raises(ModelError, match="conv4_block33_0_bn"):
        densedepth_from_keras(edited(keras_file, tmp_path, add))


def test_a_truncated_file_raises_model_error(keras_file, tmp_path):
    path = tmp_path / "truncated.h5"
    path.write_bytes(keras_file.read_bytes()[: keras_file.stat().st_size // 2])
    with pytest.raises(ModelError, match="truncated"):
        densedepth_from_keras(path)


def test_other_files_raise_model_error(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as file:
        file.create_dataset("depths", data=np.zeros((2, 3)))
    with pytest.raises(ModelError, match="not DenseDepth's Keras model"):
        densedepth_from_keras(other)
    classifier = tmp_path / "classifier.h5"
    with h5py.File(classifier, "w") as file:
        file.attrs["model_config"] = json.dumps({"config": {"layers": [{"name": "fc1000"}]}})
        file.create_group("model_weights").attrs["layer_names"] = np.array([b"fc1000"])
    with pytest.raises(ModelError, match="'conv2'"):
        densedepth_from_keras(classifier)
    with pytest.raises(ModelError, match="no Keras model file"):
        densedepth_from_keras(tmp_path / "missing.h5")
