"""FCRN's TensorFlow release: the restricted unpickler refuses code, and the converted model
computes what the release's own graph computes.

The reference (``ReleaseGraph`` in ``published_writers.py``) is an independent transcription of the
release's ``tensorflow/models/fcrn.py`` and ``network.py`` (iro-cp/FCRN-DepthPrediction) in NumPy,
NHWC, with TensorFlow's semantics: its ``conv`` (symmetric ``tf.pad`` by (k-1)//2 then a VALID
convolution; ``biased=True`` unless told), TF's SAME max-pool, ``batch_normalization`` (epsilon
1e-4), ``unpool_as_conv`` (its four ``tf.pad``s and ``interleave``) and ``up_project``. Run once
with a weight store that creates random arrays on request, it also writes the fixture file: every
layer and parameter name and shape is the one the graph asks for.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess

import numpy as np
import pytest
import torch
from published_writers import ReleaseGraph, Weights

from depthnb.errors import ModelError
from depthnb.models import build_model, count_parameters
from depthnb.models.convert import fcrn_release
from depthnb.models.convert.fcrn_release import (
    fcrn_from_release_dict,
    fcrn_from_tf_npy,
    read_release_npy,
    release_layout,
)
from depthnb.models.fcrn import FCRN
from depthnb.predict import predict_depth

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def release_layers() -> dict:
    """The release's layers with random weights (63.6M float32), created by the graph itself."""
    weights = Weights()
    ReleaseGraph(weights)(np.zeros((1, 32, 32, 3)))
    return weights.layers


@pytest.fixture(scope="module")
def release_file(release_layers, tmp_path_factory):
    path = tmp_path_factory.mktemp("fcrn") / "NYU_ResNet-UpProj.npy"
    np.save(path, release_layers, allow_pickle=True)
    yield path
    path.unlink()


def test_the_fixture_has_the_releases_layers(release_layers):
    assert len(release_layers) == 157 == len(release_layout())
    assert {name for name, _, _ in release_layout()} == set(release_layers)
    assert set(release_layers["conv1"]) == {"weights", "biases"}
    assert set(release_layers["res3a_branch2a"]) == {"weights"}
    assert release_layers["layer8x_br2_ConvB"]["weights"].shape == (2, 3, 256, 128)
    total = sum(a.size for p in release_layers.values() for a in p.values())
    assert total == 63_572_737 + 60_928  # parameters + BN running statistics


def test_the_layout_fills_every_parameter_and_statistic():
    with torch.device("meta"):
        model = FCRN(release=True)
    keys = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    mapped = set()
    for _, kind, ours in release_layout():
        params = ("weight", "bias", "running_mean", "running_var") if kind == "bn" else ("weight",)
        mapped |= {f"{ours}.{param}" for param in params}
    conv_biases = {f"{ours}.bias" for _, kind, ours in release_layout() if kind == "conv"}
    assert mapped <= keys and keys - mapped <= conv_biases
    assert len(keys - mapped) == 39  # conv1, layer1, 4 x (8 ConvA..D + Conv), ConvPred
    assert count_parameters(model)["total"] == 63_572_737  # 63,563,008 + 9,729 biases


@pytest.mark.parametrize("size", [(68, 84), (65, 97)], ids=["even", "odd"])
def test_the_converted_model_computes_the_release_graph(release_file, release_layers, size):
    """float64 on both sides, so a BN epsilon, a padding, a stride, an interleave order or a bias
    that differs from the release shows far above the rounding error."""
    model = fcrn_from_tf_npy(release_file).double()
    image = np.random.default_rng(1).uniform(0, 255, (2, *size, 3))
    expected = ReleaseGraph(Weights(release_layers))(image)
    with torch.no_grad():
        ours = model(torch.from_numpy(image / 255).permute(0, 3, 1, 2))
    ours = ours.permute(0, 2, 3, 1).numpy()
    assert ours.shape == expected.shape == (2, 16 * -(-size[0] // 32), 16 * -(-size[1] // 32), 1)
    scale = np.abs(expected).max()
    assert scale > 0 and np.abs(ours - expected).max() < 1e-10 * scale


def test_the_converted_model_is_an_fcrn_in_metres(release_file):
    model = fcrn_from_tf_npy(release_file)
    assert not model.training and model.encoding.name == "metres"
    assert model.input_size == (228, 304) and model.config["release"] is True
    rebuilt = build_model(model.name, **model.config)
    rebuilt.load_state_dict(model.state_dict())
    image = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(image), model(image))
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append((args[0], out)))
    photo = np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    depth = predict_depth(model, photo)
    assert depth.shape == (480, 640) and depth.dtype == np.float32 and (depth > 0).all()
    assert seen[0][0].shape[-2:] == (228, 304) and seen[0][1].shape[-2:] == (128, 160)


def _layers_with(layers: dict, layer: str, change) -> dict:
    copy = {name: dict(params) for name, params in layers.items()}
    change(copy, layer)
    return copy


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d, k: d.pop(k), "lacks layer 'layer4x_br1_ConvC'"),
        (lambda d, k: d[k].pop("biases"), "'layer4x_br1_ConvC' has parameters"),
        (lambda d, k: d[k].update(extra=np.zeros(1)), "'layer4x_br1_ConvC' has parameters"),
        (
            lambda d, k: d[k].update(weights=d["layer4x_br1_ConvB"]["weights"]),
            r"layer4x_br1_ConvC/weights has shape \(2, 3, 512, 256\).*\(3, 2, 512, 256\)",
        ),
        (lambda d, k: d.update(fc1000={"weights": np.zeros(1)}), "lacks, first 'fc1000'"),
        (
            lambda d, k: d[k].update(biases=d[k]["biases"].astype(np.int32)),
            "layer4x_br1_ConvC/biases has dtype int32",
        ),
    ],
    ids=["missing-layer", "missing-bias", "extra-param", "wrong-shape", "extra-layer", "int"],
)
def test_a_file_that_does_not_fit_names_the_layer(release_layers, change, match, monkeypatch):
    """Every layer is checked against a skeleton on the meta device first: a file that does not
    fit is refused before the 63.6M-parameter model is allocated."""
    devices = []

    def recording_fcrn(**kwargs):
        model = FCRN(**kwargs)
        devices.append(next(model.parameters()).device.type)
        return model

    monkeypatch.setattr(fcrn_release, "FCRN", recording_fcrn)
    with pytest.raises(ModelError, match=match):
        fcrn_from_release_dict(_layers_with(release_layers, "layer4x_br1_ConvC", change))
    assert devices == ["meta"]


def test_a_bias_where_the_release_has_none_is_refused(release_layers):
    def add_bias(d, k):
        d[k]["biases"] = np.zeros(256, np.float32)

    with pytest.raises(ModelError, match="'res2a_branch1' has parameters"):
        fcrn_from_release_dict(_layers_with(release_layers, "res2a_branch1", add_bias))


def test_release_needs_the_fast_form_and_no_imagenet_weights():
    with pytest.raises(ModelError, match="fast=True, pretrained=False"):
        FCRN(release=True, fast=False)
    with pytest.raises(ModelError, match="fast=True, pretrained=False"):
        FCRN(release=True, pretrained=True)


# --- the restricted unpickler -------------------------------------------------------------------


class RunsCode:
    """An object whose pickle calls ``function(argument)`` when loaded."""

    def __init__(self, function, argument) -> None:
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


@pytest.mark.parametrize("how", ["os.system", "builtins.eval", "subprocess.call"])
def test_a_pickle_that_runs_code_is_refused_and_runs_nothing(tmp_path, how):
    marker = tmp_path / "ran"
    payload = {
        "os.system": RunsCode(os.system, f"touch {marker}"),
        "builtins.eval": RunsCode(eval, f"open({str(marker)!r}, 'w').close()"),
        "subprocess.call": RunsCode(subprocess.call, ["touch", str(marker)]),
    }[how]
    path = tmp_path / "evil.npy"
    np.save(path, {"conv1": {"weights": np.zeros(3), "biases": payload}}, allow_pickle=True)
    with pytest.raises(ModelError, match="refusing to unpickle"):
        read_release_npy(path)
    with pytest.raises(ModelError, match="refusing to unpickle"):
        fcrn_from_tf_npy(path)
    assert not marker.exists()
    np.load(path, allow_pickle=True)  # the control: NumPy's own loader does run it
    assert marker.exists()


def test_a_dict_of_dicts_saved_by_numpy_loads(tmp_path):
    layers = {"conv1": {"weights": np.arange(6, dtype=np.float32).reshape(1, 2, 3)}, "x": {}}
    layers["bn"] = {"mean": np.float64([1.5, -2.0]), "scale": np.ones(0, np.float32)}
    path = tmp_path / "small.npy"
    np.save(path, layers, allow_pickle=True)
    loaded = read_release_npy(path)
    assert loaded.keys() == layers.keys() and loaded["x"] == {}
    for name, params in layers.items():
        for param, array in params.items():
            assert loaded[name][param].dtype == array.dtype
            np.testing.assert_array_equal(loaded[name][param], array)


def _py2_pickle(obj) -> bytes:
    """Protocol 2 as Python 2's NumPy wrote it: every string an 8-bit ``str`` (BINSTRING)."""
    if obj is None or isinstance(obj, bool):
        return {None: pickle.NONE, True: pickle.NEWTRUE, False: pickle.NEWFALSE}[obj]
    if isinstance(obj, int):
        return pickle.BININT + struct.pack("<i", obj)
    if isinstance(obj, (str, bytes)):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        return pickle.BINSTRING + struct.pack("<i", len(data)) + data
    if isinstance(obj, tuple):
        return pickle.MARK + b"".join(map(_py2_pickle, obj)) + pickle.TUPLE
    if isinstance(obj, list):
        return pickle.EMPTY_LIST + pickle.MARK + b"".join(map(_py2_pickle, obj)) + pickle.APPENDS
    if isinstance(obj, dict):
        items = b"".join(_py2_pickle(k) + _py2_pickle(v) for k, v in obj.items())
        return pickle.EMPTY_DICT + pickle.MARK + items + pickle.SETITEMS
    if obj is np.ndarray:
        return pickle.GLOBAL + b"numpy\nndarray\n"
    if isinstance(obj, (np.ndarray, np.dtype)):
        function, args, state = obj.__reduce__()
        name = (
            b"numpy\ndtype\n" if function is np.dtype else b"numpy.core.multiarray\n_reconstruct\n"
        )
        return (
            pickle.GLOBAL + name + _py2_pickle(args) + pickle.REDUCE + _py2_pickle(state)
        ) + pickle.BUILD
    raise TypeError(type(obj))


def test_a_python2_pickle_loads_with_latin1_strings(tmp_path):
    layers = {
        "res2a_branch1": {"weights": np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4)}
    }
    path = tmp_path / "py2.npy"
    with path.open("wb") as file:
        np.lib.format.write_array_header_1_0(
            file, {"descr": "|O", "fortran_order": False, "shape": ()}
        )
        file.write(
            pickle.PROTO + b"\x02" + _py2_pickle(np.array(layers, dtype=object)) + pickle.STOP
        )
    loaded = read_release_npy(path)
    np.testing.assert_array_equal(
        loaded["res2a_branch1"]["weights"], layers["res2a_branch1"]["weights"]
    )


def test_other_files_are_refused_with_what_they_are(tmp_path):
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros((2, 3), np.float32))
    with pytest.raises(ModelError, match=r"plain float32 array of shape \(2, 3\)"):
        read_release_npy(plain)
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"PK\x03\x04 not a numpy file")
    with pytest.raises(ModelError, match="not a readable .npy file"):
        read_release_npy(garbage)
    good = tmp_path / "good.npy"
    np.save(good, {"conv1": {"weights": np.zeros(1000, np.float32)}}, allow_pickle=True)
    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes(good.read_bytes()[:-500])
    with pytest.raises(ModelError, match="truncated or corrupt"):
        read_release_npy(truncated)
    listed = tmp_path / "flat.npy"
    np.save(listed, {"conv1": 1.0}, allow_pickle=True)
    with pytest.raises(ModelError, match="not a dict of layers"):
        read_release_npy(listed)
    with pytest.raises(ModelError, match="no file at"):
        fcrn_from_tf_npy(tmp_path / "absent.npy")


@pytest.mark.parametrize(
    ("opcode", "length"),
    [(b"\x8e", struct.pack("<Q", 10**12)), (b"B", struct.pack("<I", 2**31 - 1))],
    ids=["BINBYTES8 of 1 TB", "BINBYTES of 2 GB"],
)
def test_a_pickle_declaring_more_than_the_file_holds_allocates_nothing(tmp_path, opcode, length):
    """CPython's unpickler allocates a declared length before reading it: the opcodes are walked
    first, so a length past the end of the file is refused before anything of its size exists."""
    import tracemalloc

    from fixture_writers import npy_declaring

    path = tmp_path / "NYU_ResNet-UpProj.npy"
    path.write_bytes(npy_declaring((), "|O", b"\x80\x04" + opcode + length + bytes(64)))
    tracemalloc.start()
    try:
        with pytest.raises(ModelError, match=r"declares \d+ bytes where 64 are left.*truncated"):
            read_release_npy(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20
