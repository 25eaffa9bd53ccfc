"""ONNX export: every registered model's graph returns PyTorch's metres in onnxruntime at several
sizes; int8 and fp16 copies stay close and small; checkpoints, names and the CLI load; failures
leave nothing half-written and say what to install."""

import sys
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnx  # noqa: E402

import depthnb.models as models  # noqa: E402
from depthnb.checkpoint import FORMAT, VERSION, save_checkpoint  # noqa: E402
from depthnb.cli.main import main  # noqa: E402
from depthnb.deploy import (
    TOLERANCE_M,
    calibration_images,
    check_onnx,
    convert_fp16,
    export_onnx,
    fixed_input_shape,
    onnx_session,
    quantize_int8,
    reference_outputs,
    run_onnx,
)
from depthnb.deploy import export as export_module  # noqa: E402
from depthnb.errors import ArgumentError, DeployError, DepthnbError, MissingPackageError, ModelError
from depthnb.models import load
from depthnb.train import set_output_depth  # noqa: E402

EXPORT_SIZE = (64, 96)
SIZES = [(96, 128), (65, 99)]  # another size, and one that is not a multiple of 32
# Small settings where a model has them; every architecture, both FCRN up-projections.
SMALL = {
    "unet": {"filters": (4, 8, 8, 16, 16)},
    "densedepth": {"width": 0.05},
    "maskdepth": {"filters": (4, 8, 8, 16, 16)},
}
if "depth-anything-v2" in models.list_models():  # a tiny random configuration (transformers)
    from test_depth_anything import tiny_config  # noqa: E402

    SMALL["depth-anything-v2"] = {"hf_config": tiny_config()}
CASES = [(name, SMALL.get(name, {})) for name in models.list_models()]
CASES += [("fcrn", {"fast": False})] if "fcrn" in models.list_models() else []
COURSE_MODELS = {"unet", "densedepth", "fcrn", "maskdepth"}


def _case_id(case):
    name, kwargs = case
    return name + ("-plain" if kwargs.get("fast") is False else "")


def _realistic(model):
    """Random BatchNorm statistics (so that folding them into convs is exercised) and a depth
    head biased into its encoding's working range (an untrained DenseDepth would sit at the
    clamp of its inverse encoding, where every graph agrees)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.1 * torch.randn(n, generator=generator))
        for owner in (model, getattr(model, "decoder", None)):
            for name in ("head", "depth_head"):
                head = getattr(owner, name, None)
                if isinstance(head, torch.nn.Conv2d) and head.bias is not None:
                    head.weight.mul_(5.0)  # a map that varies, not a near-constant one
                    head.bias.fill_(float(model.encoding.encode(torch.tensor(2.0))))
        if model.name == "depth-anything-v2":  # transformers' initialisation: a constant 10 m
            for parameter in model.parameters():
                parameter.normal_(0.0, 0.1, generator=generator)
    return model.eval()


@pytest.fixture(scope="module")
def unet_onnx(tmp_path_factory):
    torch.manual_seed(0)
    model = _realistic(models.build_model("unet", filters=(8, 16, 32, 64, 128)))  # 2 MB
    path = export_onnx(model, tmp_path_factory.mktemp("unet") / "unet.onnx", size=EXPORT_SIZE)
    return model, path


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_every_model_matches_pytorch_in_onnxruntime(case, tmp_path):
    name, kwargs = case
    torch.manual_seed(0)
    model = _realistic(models.build_model(name, **kwargs))
    with warnings.catch_warnings():  # a model whose graph has a fixed size is exported so, warned
        warnings.simplefilter("ignore")
        path = export_onnx(
            model, tmp_path / f"{name}.onnx", size=EXPORT_SIZE, check=name not in COURSE_MODELS
        )
    differences = check_onnx(model, path, [EXPORT_SIZE, *SIZES])
    assert max(differences.values()) <= TOLERANCE_M, differences
    session = onnx_session(path)
    channels = model.config.get("in_channels", 3)
    if name in COURSE_MODELS:  # all four follow any batch, height and width
        assert fixed_input_shape(session) == [None, channels, None, None]
        run_size = SIZES[1]
    else:  # a graph of a fixed size (Depth Anything V2: its resize is computed in Python)
        assert fixed_input_shape(session)[2:] == list(EXPORT_SIZE)
        run_size = EXPORT_SIZE
    images = torch.rand(1, channels, *run_size)
    got, expected = run_onnx(session, images), reference_outputs(model, images)
    assert sorted(got) == sorted(expected)
    depth = expected["depth"]
    assert depth.std() > 1e-3, "the comparison must not be between two constant maps"
    with torch.no_grad():
        raw = model(images)
    if isinstance(raw, dict):  # the mask-and-depth network: metres and a probability
        assert sorted(got) == ["depth", "mask"]
        assert np.allclose(got["mask"], torch.sigmoid(raw["mask"]).numpy(), atol=1e-5)
        raw = raw["depth"]
    assert got["depth"].shape == tuple(raw.shape)
    assert np.allclose(got["depth"], model.encoding.decode(raw).numpy(), atol=TOLERANCE_M)


@pytest.mark.parametrize("encoding", ["log", "inverse", "metres"])
def test_the_graph_decodes_each_encoding_to_metres(encoding, tmp_path):
    model = models.build_model("unet", filters=(4, 8, 8, 16, 16), encoding=encoding).eval()
    set_output_depth(model, 3.0)
    path = export_onnx(model, tmp_path / "unet.onnx", size=(32, 64), check=False)
    images = torch.rand(2, 3, 32, 64)
    depth = run_onnx(onnx_session(path), images)["depth"]
    with torch.no_grad():
        expected = model.encoding.decode(model(images)).numpy()
    assert np.allclose(depth, expected, atol=TOLERANCE_M)
    assert 2.0 < np.median(depth) < 4.5  # metres, not the encoded values


def test_check_onnx_notices_a_graph_that_differs(unet_onnx):
    model, path = unet_onnx
    assert max(check_onnx(model, path, [EXPORT_SIZE]).values()) <= TOLERANCE_M
    changed = models.build_model("unet", **model.config).eval()
    changed.load_state_dict(model.state_dict())
    changed.encoding = model.encoding
    with torch.no_grad():
        changed.head.bias += 0.01  # log depth +0.01: about 2 cm at 2 m
    assert min(check_onnx(changed, path, [EXPORT_SIZE]).values()) > 10 * TOLERANCE_M


def test_static_export_fixes_batch_height_and_width(tmp_path):
    model = _realistic(models.build_model("unet", **SMALL["unet"])).train()
    path = export_onnx(model, tmp_path / "static.onnx", size=(64, 96), dynamic=False)
    assert model.training  # traced in eval mode, then given back as it came
    session = onnx_session(path)
    assert fixed_input_shape(session) == [1, 3, 64, 96]
    assert max(check_onnx(model, path, [(96, 128)]).values()) <= TOLERANCE_M  # runs at 64x96
    with pytest.raises(Exception, match="(?i)dimension"):  # onnxruntime's InvalidArgument
        session.run(None, {"image": np.zeros((1, 3, 96, 128), np.float32)})
    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert metadata["depthnb_model"] == "unet" and metadata["dynamic"] == "False"
    assert '"name": "log"' in metadata["encoding"]


def test_a_graph_frozen_at_its_size_is_exported_again_with_fixed_sides(tmp_path):
    class FrozenCrop(torch.nn.Module):
        """Crops with Python ints, which tracing freezes: right at one size only."""

        def __init__(self, model):
            super().__init__()
            self.model, self.encoding, self.name = model, model.encoding, "frozen"

        def forward(self, image):
            height = int(image.shape[2])
            return self.model(image)[..., : height // 2, :]

    model = FrozenCrop(_realistic(models.build_model("unet", **SMALL["unet"])))
    with pytest.warns(UserWarning, match="fixed size"):
        path = export_onnx(model, tmp_path / "frozen.onnx", size=EXPORT_SIZE)
    assert fixed_input_shape(onnx_session(path)) == [None, 3, *EXPORT_SIZE]
    assert max(check_onnx(model, path, [EXPORT_SIZE], batch_size=3).values()) <= TOLERANCE_M


def test_a_failed_export_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous")
    model = models.build_model("unet", **SMALL["unet"]).eval()

    def broken(*args, **kwargs):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(export_module, "_trace", broken)
    with pytest.raises(RuntimeError, match="crashed"):
        export_onnx(model, path, size=EXPORT_SIZE)
    assert path.read_bytes() == b"previous"
    monkeypatch.undo()

    def invalid(*args, **kwargs):
        raise onnx.checker.ValidationError("a node without inputs")

    monkeypatch.setattr(onnx.checker, "check_model", invalid)
    with pytest.raises(DeployError, match="invalid"):
        export_onnx(model, path, size=EXPORT_SIZE)
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_missing_onnx_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    model = models.build_model("unet", **SMALL["unet"])
    with pytest.raises(MissingPackageError, match="pip install") as caught:
        export_onnx(model, tmp_path / "x.onnx", size=EXPORT_SIZE)
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, DepthnbError)


def test_bad_sizes_and_models_raise_depthnb_errors(tmp_path):
    model = models.build_model("unet", **SMALL["unet"])
    with pytest.raises(ArgumentError, match="32"):
        export_onnx(model, tmp_path / "x.onnx", size=(16, 96))
    with pytest.raises(DepthnbError, match="encoding"):
        export_onnx(torch.nn.Conv2d(3, 1, 1), tmp_path / "x.onnx", size=EXPORT_SIZE)
    assert not (tmp_path / "x.onnx").exists()


def test_int8_and_fp16_copies_are_smaller_and_close(unet_onnx, tmp_path):
    model, path = unet_onnx
    images = calibration_images(8, EXPORT_SIZE)
    held_out = calibration_images(4, EXPORT_SIZE, seed=1)
    assert images.shape == (8, 3, *EXPORT_SIZE) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    fp32 = run_onnx(onnx_session(path), held_out)["depth"]
    copies = {
        "int8": quantize_int8(path, tmp_path / "s.onnx", images, mode="static"),
        "int8-dynamic": quantize_int8(path, tmp_path / "d.onnx", mode="dynamic"),
        "fp16": convert_fp16(path, tmp_path / "h.onnx"),
    }
    size = path.stat().st_size
    for kind, copy in copies.items():
        depth = run_onnx(onnx_session(copy), held_out)["depth"]
        relative = np.abs(depth - fp32).mean() / fp32.mean()
        assert relative < (0.002 if kind == "fp16" else 0.05), (kind, relative)
        assert copy.stat().st_size < (0.6 if kind == "fp16" else 0.45) * size, kind
    graph = onnx.load(str(copies["int8"])).graph
    weights = {t.name: t for t in graph.initializer}
    per_channel = [
        node for node in graph.node
        if node.op_type == "DequantizeLinear" and weights.get(node.input[1]) is not None
        and len(weights[node.input[1]].dims) == 1 and weights[node.input[1]].dims[0] > 1
    ]  # fmt: skip
    assert per_channel, "static int8 stores one weight scale per output channel"
    with pytest.raises(ArgumentError, match="calibration"):
        quantize_int8(path, tmp_path / "x.onnx", None, mode="static")


def test_calibration_images_for_the_mask_and_depth_network():
    images = calibration_images(2, (32, 48), channels=6)
    assert images.shape == (2, 6, 32, 48)
    background, composite = images[:, :3], images[:, 3:]
    assert not np.array_equal(background, composite)  # objects only in the second
    with pytest.raises(ArgumentError):
        calibration_images(2, (32, 48), channels=4)


def _checkpoint(model, path):
    return save_checkpoint(
        {
            "format": FORMAT, "version": VERSION, "model_name": model.name,
            "model_config": model.config, "state_dict": model.state_dict(),
            "encoding": model.encoding.to_dict(), "epoch": 1, "step": 10,
            "input_size": list(EXPORT_SIZE),
        },
        path,
    )  # fmt: skip


def test_load_reads_checkpoints_names_and_published_weights(unet_onnx, tmp_path):
    model, _ = unet_onnx
    loaded = load(_checkpoint(model, tmp_path / "best.pt"))
    assert loaded.input_size == EXPORT_SIZE and not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    with pytest.warns(UserWarning, match="untrained"):
        assert load("unet").name == "unet"
    with pytest.raises(ModelError, match="not a checkpoint"):
        load("no-such-model")
    shipped = load("unet-synthetic")  # a published-weights name: the shipped U-Net
    assert shipped.input_size == (120, 160) and not shipped.training


def test_export_command(unet_onnx, tmp_path, capsys):
    model, _ = unet_onnx
    checkpoint = _checkpoint(model, tmp_path / "best.pt")
    out = tmp_path / "unet.onnx"
    assert main(["export", str(checkpoint), str(out)]) == 0  # at the training size
    assert max(check_onnx(model, out, [EXPORT_SIZE, (96, 128)]).values()) <= TOLERANCE_M
    assert "traced at 64x96" in capsys.readouterr().out
    static = tmp_path / "static.int8.onnx"
    argv = ["export", str(checkpoint), str(static), "--static", "--quantize", "int8"]
    assert main([*argv, "--size", "32", "64", "--calibration", "4"]) == 0
    assert fixed_input_shape(onnx_session(static)) == [1, 3, 32, 64]
    assert "int8 vs fp32" in capsys.readouterr().out
    assert main(["export", str(checkpoint), str(tmp_path / "x.txt")]) == 2
    assert main(["export", "no-such-model", str(tmp_path / "y.onnx")]) == 2
    assert "not a checkpoint" in capsys.readouterr().err


def test_the_dynamo_exporter_gives_the_same_graph_outputs(unet_onnx, tmp_path):
    model, _ = unet_onnx
    path = export_onnx(model, tmp_path / "dynamo.onnx", size=EXPORT_SIZE, exporter="dynamo")
    assert max(check_onnx(model, path, [EXPORT_SIZE, (96, 128)]).values()) <= TOLERANCE_M
    with pytest.raises(ArgumentError, match="exporter"):
        export_onnx(model, tmp_path / "x.onnx", size=EXPORT_SIZE, exporter="tflite")


def test_export_refuses_a_graph_that_disagrees_with_pytorch(tmp_path, monkeypatch):
    model = _realistic(models.build_model("unet", **SMALL["unet"]))
    other = models.build_model("unet", **SMALL["unet"]).eval()  # other weights, same graph
    wrong = export_module._trace(other, EXPORT_SIZE, True, True, "torchscript")
    monkeypatch.setattr(export_module, "_trace", lambda *args: wrong)
    with pytest.raises(DeployError, match="disagrees with PyTorch"):
        export_onnx(model, tmp_path / "wrong.onnx", size=EXPORT_SIZE)
    assert export_module.allowed_difference(40.0) == pytest.approx(
        TOLERANCE_M + 40.0 * export_module.TOLERANCE_RELATIVE
    )
