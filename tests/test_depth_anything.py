"""Depth Anything V2 as a depthnb model: the real ``transformers`` classes on a tiny random
configuration (nothing is downloaded), the processor's resize rule, predict_depth, checkpoints, and
``pretrained=True`` failing fast offline."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from depthnb.checkpoint import FORMAT, VERSION, save_checkpoint
from depthnb.errors import DownloadError, MissingPackageError, ModelError
from depthnb.metrics import evaluate
from depthnb.models import build_model, freeze_encoder
from depthnb.models.depth_anything import processed_size
from depthnb.predict import load_checkpoint, predict_depth

try:
    import transformers
except ImportError:  # an optional extra: depthnb[models]
    transformers = None
needs_transformers = pytest.mark.skipif(transformers is None, reason="needs depthnb[models]")

METRIC_REPO = "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf"


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_config(kind: str = "metric") -> dict:
    """A DINOv2 of hidden size 32 and four layers (one per DPT feature map: out_indices may not
    repeat) and a narrow DPT head: ~0.1M parameters."""
    backbone = transformers.Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=14,
        image_size=518,
        out_indices=[1, 2, 3, 4],
        reshape_hidden_states=False,
    )
    config = transformers.DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=32,
        neck_hidden_sizes=[8, 16, 16, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        depth_estimation_type=kind,
        max_depth=20 if kind == "metric" else 1,
    )
    return json.loads(config.to_json_string())


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    if transformers is None:
        pytest.skip("needs depthnb[models]")
    torch.manual_seed(0)
    model = build_model("depth-anything-v2", hf_config=tiny_config()).eval()
    with torch.no_grad():  # transformers' initialisation gives a constant 10 m: perturb it
        for param in model.parameters():
            param.normal_(0.0, 0.1)
    return model


def rgb(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


@needs_transformers
@pytest.mark.parametrize(
    "size, expected",
    [((480, 640), (518, 686)), ((240, 320), (392, 518)), ((37, 53), (364, 518))]
    + [((333, 517), (336, 518)), ((518, 518), (518, 518)), ((1000, 700), (742, 518))],
)
def test_processed_size_is_the_processors_rule(size, expected):
    from transformers.models.dpt.image_processing_dpt import get_resize_output_image_size

    hf = get_resize_output_image_size(torch.zeros(3, *size), (518, 518), True, 14)
    assert processed_size(*size) == (hf.height, hf.width) == expected


def test_preprocessing_matches_the_hugging_face_processor(model):
    processor = transformers.DPTImageProcessor(
        size={"height": 518, "width": 518},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        resample=3,  # bicubic, as the released preprocessor_config.json says
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    photo = rgb(61, 83)
    expected = processor(images=photo, return_tensors="pt")["pixel_values"]
    ours = model.preprocess(torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255)
    assert ours.shape == expected.shape == (1, 3, 378, 518)
    # the processor rounds to uint8 after each pass: at most about one grey level / std = 0.02
    assert (ours - expected).abs().max() < 1.5 / 255 / 0.224
    grey = np.full((61, 83, 3), 128, np.uint8)  # here both give the same pixels exactly
    pixels = processor(images=grey, return_tensors="pt")["pixel_values"]
    with torch.no_grad():  # the whole wrapper: processor, network, bilinear resize
        hf = model.net(pixel_values=pixels).predicted_depth[:, None]
        hf = torch.nn.functional.interpolate(hf, size=(61, 83), mode="bilinear")
        wrapped = model(torch.from_numpy(grey).permute(2, 0, 1)[None].float() / 255)
    assert hf.std() > 1e-3 and (wrapped - hf).abs().max() < 1e-4


@pytest.mark.parametrize("size", [(37, 53), (64, 33)])
def test_forward_at_odd_sizes_gives_positive_metres_at_that_size(model, size):
    with torch.no_grad():
        out = model(torch.rand(2, 3, *size))
    assert out.shape == (2, 1, *size)
    assert torch.isfinite(out).all() and (out > 0).all() and (out < 20).all() and out.std() > 0
    assert model.encoding.name == "metres" and not model.relative


def test_predict_depth_and_evaluate_work_unchanged(model):
    depth = predict_depth(model, rgb(45, 67))
    assert depth.shape == (45, 67) and depth.dtype == np.float32 and (depth > 0).all()
    sample = {
        "image": torch.rand(3, 40, 52),
        "depth": torch.full((1, 40, 52), 3.0),
        "valid": torch.ones(1, 40, 52, dtype=torch.bool),
    }
    row = evaluate(model, [sample, sample], batch_size=2, max_depth=20.0)
    assert row["num_images"] == 2 and np.isfinite(row["rmse"])


def test_a_checkpoint_rebuilds_without_a_download(model, tmp_path):
    path = tmp_path / "da.pt"
    save_checkpoint(
        {
            "format": FORMAT,
            "version": VERSION,
            "model_name": model.name,
            "model_config": model.config,
            "state_dict": model.state_dict(),
            "encoding": model.encoding.to_dict(),
            "epoch": 0,
            "step": 0,
        },
        path,
    )
    loaded = load_checkpoint(path)
    assert loaded.config == model.config and loaded.config["variant"] == "metric-indoor-small"
    image = torch.rand(1, 3, 40, 50)
    with torch.no_grad():
        assert torch.equal(loaded(image), model(image))


@needs_transformers
def test_the_relative_model_says_so_and_variants_must_match():
    relative = build_model(
        "depth-anything-v2", variant="relative-small", hf_config=tiny_config("relative")
    )
    assert relative.relative and relative.config["hf_config"]["depth_estimation_type"] == "relative"
    with pytest.raises(ModelError, match="variant 'metric-indoor-small' is metric depth"):
        build_model("depth-anything-v2", hf_config=tiny_config("relative"))
    with pytest.raises(ModelError, match="unknown variant 'large'"):
        build_model("depth-anything-v2", variant="large")
    with pytest.raises(ModelError, match="hf_config must be a DepthAnythingConfig"):
        build_model("depth-anything-v2", hf_config={"model_type": "dpt"})


@needs_transformers
def test_the_released_architecture_builds_offline():
    with torch.device("meta"):
        model = build_model("depth-anything-v2")
    config = model.net.config
    assert config.backbone_config.out_indices == [3, 6, 9, 12] and config.max_depth == 20
    total = sum(p.numel() for p in model.parameters())
    assert 24e6 < total < 25.5e6  # the released small model: 24.8M parameters (99 MB float32)
    encoder = sum(p.numel() for p in model.encoder.parameters())
    assert 21e6 < encoder < 23e6  # DINOv2 ViT-S/14
    freeze_encoder(model)
    assert not any(p.requires_grad for p in model.encoder.parameters())


@needs_transformers
@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}])
def test_pretrained_fails_fast_and_clearly_offline(monkeypatch, tmp_path, env):
    """Offline, or a Hub that does not answer (huggingface_hub reads HF_ENDPOINT at import, so
    its constant is set as the variable would have set it), with nothing in the given cache."""
    from huggingface_hub import constants

    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if "HF_ENDPOINT" in env:
        monkeypatch.setattr(constants, "ENDPOINT", env["HF_ENDPOINT"])
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.monotonic()
    with pytest.raises(DownloadError, match="pretrained=False") as error:
        build_model("depth-anything-v2", pretrained=True, cache_dir=tmp_path, timeout=2.0)
    assert time.monotonic() - start < 10
    assert METRIC_REPO in str(error.value) and not any(tmp_path.rglob("*.safetensors"))


def test_without_transformers_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(MissingPackageError, match=r"pip install 'depthnb\[models\]'"):
        build_model("depth-anything-v2")


def test_depthnb_models_imports_without_transformers():
    code = (
        "import sys; sys.modules['transformers'] = None; import depthnb.models as m; "
        "assert 'depth-anything-v2' in m.list_models(); print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_macs_count_the_attention_on_the_cpu_as_on_meta():
    """count_macs sees a ViT's attention products on the CPU (whose fused attention kernel the
    flop counter does not count) as it does on the meta device, and macs_by_module(level=2)
    splits the wrapped network into backbone, neck and head."""
    from depthnb.models import count_macs, macs_by_module

    model = build_model("depth-anything-v2", hf_config=tiny_config(), target_side=56).eval()
    with torch.device("meta"):
        shapes_only = build_model("depth-anything-v2", hf_config=tiny_config(), target_side=56)
    assert count_macs(model, (56, 56)) == count_macs(shapes_only, (56, 56))
    parts = macs_by_module(model, (56, 56), level=2)
    assert {"net.backbone", "net.neck", "net.head"} <= set(parts)
    assert sum(v for k, v in parts.items() if k != "total") == parts["total"]
