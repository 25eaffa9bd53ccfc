"""The registry models: parameter counts, output sizes, odd inputs, gradients, configs, the
up-projection's two forms, the inspection helpers, and pretrained weights failing fast offline."""

from __future__ import annotations

import functools
import re
import socket
import time
from urllib.error import URLError

import pytest
import torch
from torch import nn

from depthnb.encodings import get_encoding
from depthnb.errors import ArgumentError, DepthnbError, DownloadError, ModelError, ShapeError
from depthnb.hub.torchvision import load_torchvision_weights
from depthnb.models import (
    build_model,
    count_macs,
    count_parameters,
    feature_maps,
    freeze_encoder,
    list_models,
    macs_by_module,
    parameter_groups,
)
from depthnb.models.fcrn import FastUpConv, UpProjection, fast_from_plain, unpool

ODD = (333, 517)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def densedepth() -> nn.Module:
    return build_model("densedepth")


@pytest.fixture(scope="module")
def fcrn() -> nn.Module:
    return build_model("fcrn")


@functools.cache
def _meta_model(name: str, kwargs: tuple) -> nn.Module:
    with torch.device("meta"):
        return build_model(name, **dict(kwargs))


def meta_model(name: str, **kwargs) -> nn.Module:
    """The model on the meta device (built once): shapes and MACs without computing anything."""
    return _meta_model(name, tuple(sorted(kwargs.items())))


def meta_forward(model: nn.Module, channels: int, size: tuple[int, int]):
    with torch.no_grad():
        return model(torch.zeros(1, channels, *size, device="meta"))


def test_registry_lists_the_models_and_rejects_others():
    assert list_models() == ["densedepth", "depth-anything-v2", "fcrn", "maskdepth", "unet"]
    with pytest.raises(ModelError, match="unknown model 'resnet'"):
        build_model("resnet")
    with pytest.raises(ModelError, match="bad arguments"):
        build_model("unet", widht=2)
    with pytest.raises(ModelError, match="bad arguments"):
        build_model("unet", filters=(16, 32, 64, 128, "many"))


def test_densedepth_parameter_counts(densedepth):
    assert count_parameters(densedepth) == {"total": 42_657_689, "trainable": 42_657_689}
    assert abs(count_parameters(densedepth)["total"] / 42.6e6 - 1) < 0.005
    assert count_parameters(densedepth.encoder)["total"] == 12_484_480
    assert count_parameters(meta_model("densedepth", width=0.5))["total"] == 21_365_405


def test_fcrn_parameter_count_plain_and_fast(fcrn):
    assert count_parameters(fcrn)["total"] == 63_563_008
    assert abs(count_parameters(fcrn)["total"] / 63.6e6 - 1) < 0.005
    assert count_parameters(meta_model("fcrn", fast=False))["total"] == 63_563_008


def test_densedepth_decoder_takes_the_published_skips(densedepth):
    """Up blocks 1-4 take transition2's, transition1's, pool0's and relu0's outputs (1/16 .. 1/2)
    and the 1x1 conv takes ReLU(norm5); widths 832, 416, 208, 104 at full width."""
    encoder_out, decoder_in = {}, {}
    hooks = [
        getattr(densedepth.encoder, name).register_forward_hook(
            lambda module, args, out, name=name: encoder_out.__setitem__(name, out)
        )
        for name in ("relu0", "pool0", "transition1", "transition2", "norm5")
    ]
    for name in ("conv", "up1", "up2", "up3", "up4"):
        hooks.append(
            getattr(densedepth.decoder, name).register_forward_hook(
                lambda module, args, out, name=name: decoder_in.__setitem__(name, (args, out))
            )
        )
    try:
        with torch.no_grad():
            densedepth.eval()(torch.rand(1, 3, 64, 96))
    finally:
        for hook in hooks:
            hook.remove()
    (conv_input,), _ = decoder_in["conv"]
    assert conv_input.min() >= 0 and torch.equal(conv_input, encoder_out["norm5"].relu())
    for block, tap, stride, width in [
        ("up1", "transition2", 16, 832),
        ("up2", "transition1", 8, 416),
        ("up3", "pool0", 4, 208),
        ("up4", "relu0", 2, 104),
    ]:
        (_, skip), out = decoder_in[block]
        assert skip is encoder_out[tap], block
        assert out.shape == (1, width, 64 // stride, 96 // stride), block


def test_small_model_parameter_counts():
    unet = count_parameters(build_model("unet"))["total"]
    assert unet == 1_964_545  # + 1,920 BN statistics in Keras's count: 1,966,465 ~ "1.97M"
    assert abs((unet + 1_920) / 1.97e6 - 1) < 0.005
    maskdepth = build_model("maskdepth")
    total = count_parameters(maskdepth)["total"]
    assert abs(total / 0.51e6 - 1) < 0.005
    encoder = count_parameters(maskdepth.encoder)["total"]
    double_counted = total + (total - encoder)  # the seed's way: the decoder counted twice
    assert abs(double_counted / 748e3 - 1) < 0.02


@pytest.mark.parametrize(
    "name, size, expected",
    [
        ("densedepth", (480, 640), (240, 320)),
        ("densedepth", ODD, (167, 259)),
        ("fcrn", (228, 304), (128, 160)),
        ("fcrn", ODD, (176, 272)),
        ("unet", (256, 256), (256, 256)),
        ("unet", ODD, ODD),
    ],
)
def test_output_size_at_published_and_odd_sizes(name, size, expected):
    out = meta_forward(meta_model(name), 3, size)
    assert out.shape == (1, 1, *expected)


def test_maskdepth_output_sizes():
    model = build_model("maskdepth").eval()
    with torch.no_grad():
        out = model(torch.rand(1, 6, 160, 160))
    assert out["mask"].shape == (1, 1, 160, 160) and out["depth"].shape == (1, 1, 80, 80)
    assert torch.isfinite(out["mask"]).all() and torch.isfinite(out["depth"]).all()
    out = meta_forward(meta_model("maskdepth"), 6, ODD)
    assert out["mask"].shape == (1, 1, *ODD) and out["depth"].shape == (1, 1, 167, 259)


def test_real_forward_at_a_small_odd_size_is_finite(densedepth, fcrn):
    image = torch.rand(1, 3, 37, 45)
    models = {"densedepth": densedepth, "fcrn": fcrn, "unet": build_model("unet")}
    expected = {"densedepth": (19, 23), "fcrn": (32, 32), "unet": (37, 45)}
    for name, model in models.items():
        with torch.no_grad():
            out = model.eval()(image)
        assert out.shape == (1, 1, *expected[name]), name
        assert torch.isfinite(out).all(), name


def test_padding_is_undone_so_the_top_left_agrees():
    """An odd-sized input's output equals the top-left of the output for its padded input."""
    model = build_model("unet").eval()
    image = torch.rand(1, 3, 45, 50)
    padded = torch.nn.functional.pad(image, (0, 14, 0, 19), mode="reflect")
    with torch.no_grad():
        torch.testing.assert_close(model(image), model(padded)[..., :45, :50])


@pytest.mark.parametrize("name", ["unet", "maskdepth", "densedepth", "fcrn"])
def test_gradients_reach_every_parameter(name, densedepth, fcrn):
    big = {"densedepth": densedepth, "fcrn": fcrn}
    model = big[name] if name in big else build_model(name)
    model.train().zero_grad()
    channels = model.config.get("in_channels", 3)
    out = model(torch.rand(2, channels, 32, 48))
    loss = sum(o.mean() for o in out.values()) if isinstance(out, dict) else out.mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    first = next(model.parameters())
    assert first.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize(
    "name, encoding",
    [("unet", "log"), ("densedepth", "inverse"), ("fcrn", "metres"), ("maskdepth", "metres")],
)
def test_default_encoding_and_rebuild_from_config(name, encoding):
    model = meta_model(name)
    assert model.name == name and model.encoding.name == encoding
    with torch.device("meta"):
        rebuilt = build_model(model.name, **model.config)
    assert rebuilt.config == model.config
    assert rebuilt.encoding == model.encoding
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }


def test_encoding_override_survives_the_config():
    model = build_model("unet", filters=(4, 8, 8, 8, 8), encoding="metres")
    assert model.encoding.name == "metres"
    custom = get_encoding("inverse", max_depth=20.0)
    model = build_model("maskdepth", in_channels=2, encoding=custom)
    rebuilt = build_model(model.name, **model.config)
    assert rebuilt.encoding == custom and rebuilt.config["in_channels"] == 2
    rebuilt.load_state_dict(model.state_dict())


def test_output_stride_matches_the_output_size():
    for name in ["unet", "densedepth", "fcrn", "maskdepth"]:
        model = meta_model(name)
        channels = model.config.get("in_channels", 3)
        out = meta_forward(model, channels, (224, 320))
        out = out["depth"] if isinstance(out, dict) else out
        assert out.shape[-2:] == (224 // model.output_stride, 320 // model.output_stride), name


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.rand(3, 64, 64), r"\(B,3,H,W\)"),
        (torch.rand(1, 1, 64, 64), r"\(B,3,H,W\)"),
        (torch.rand(1, 3, 16, 64), "H and W >= 32"),
        (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), "float"),
    ],
)
def test_bad_inputs_raise_shape_errors(bad, match):
    with pytest.raises(ShapeError, match=match):
        build_model("unet")(bad)


def randomise_batchnorm(module: nn.Module) -> None:
    """Give every BN layer non-trivial parameters and running statistics."""
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.normal_()
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (8, 3)])
def test_fast_up_convolution_equals_a_5x5_conv_of_the_unpooled_map(size):
    torch.manual_seed(0)
    weight = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    fast = FastUpConv(3, 4).double()
    fast.load_from_conv5x5(weight)
    plain = torch.nn.functional.conv2d(unpool(x), weight, padding=2)
    torch.testing.assert_close(fast(x), plain, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("train", [False, True])
def test_plain_and_fast_up_projection_compute_the_same_function(train):
    torch.manual_seed(1)
    plain = UpProjection(6, 5).double()
    randomise_batchnorm(plain)
    plain.train(train)
    fast = fast_from_plain(plain)
    x = torch.randn(3, 6, 9, 13, dtype=torch.float64)
    out = plain(x)
    assert out.shape == (3, 5, 18, 26)
    torch.testing.assert_close(fast(x), out, rtol=1e-10, atol=1e-10)
    with torch.no_grad():  # the check has teeth: one changed weight changes the output
        fast.conv1.convs["odd_odd"].weight[0, 0, 1, 1] += 1.0
    assert not torch.allclose(fast(x), out)


def test_unpool_puts_values_top_left():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = torch.tensor([[[[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]]]).float()
    assert torch.equal(unpool(x), expected)


def test_count_macs_of_layers_computed_by_hand():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, (10, 12), channels=3) == 8 * 3 * 9 * 10 * 12
    depthwise = nn.Conv2d(4, 4, 3, padding=1, groups=4)
    assert count_macs(depthwise, (10, 10), channels=4, batch_size=2) == 2 * 4 * 9 * 10 * 10
    strided = nn.Sequential(nn.Conv2d(3, 2, 5, stride=2, padding=2), nn.ReLU())
    assert count_macs(strided, (8, 8)) == 2 * 3 * 25 * 4 * 4


def test_count_macs_leaves_the_model_as_it_was():
    model = build_model("maskdepth", in_channels=2).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    macs = count_macs(model, (160, 160))  # (H, W): channels come from model.config
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert 4e8 < macs < 6e8
    with pytest.raises(ArgumentError, match="input_size"):
        count_macs(model, (1, 160, 160))
    with pytest.raises(ArgumentError, match=r"\(H, W\)"):  # a shape is not a size
        count_macs(model, (1, 2, 160, 160))


def test_macs_by_module_splits_encoder_decoder_and_heads():
    parts = macs_by_module(build_model("maskdepth", in_channels=2), (64, 64))
    assert parts["mask_head"] == 32 * 64 * 64 and parts["depth_head"] == 32 * 32 * 32
    assert (
        sum(parts[k] for k in ("encoder", "decoder", "mask_head", "depth_head")) == parts["total"]
    )


def test_fast_up_projection_needs_fewer_macs():
    plain, fast = meta_model("fcrn", fast=False), meta_model("fcrn", fast=True)
    ratio = count_macs(plain, (228, 304)) / count_macs(fast, (228, 304))
    assert ratio > 2.0


def test_freeze_encoder_and_parameter_groups(fcrn):
    total = count_parameters(fcrn)["total"]
    encoder = count_parameters(fcrn.encoder)["total"]
    freeze_encoder(fcrn)
    assert count_parameters(fcrn)["trainable"] == total - encoder
    freeze_encoder(fcrn, frozen=False)
    assert count_parameters(fcrn)["trainable"] == total

    groups = parameter_groups(fcrn, lr=0.1, encoder_lr_scale=0.1)
    assert [g["name"] for g in groups] == ["encoder", "decoder"]
    assert groups[0]["lr"] == pytest.approx(0.01) and groups[1]["lr"] == pytest.approx(0.1)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(fcrn.parameters()))
    torch.optim.SGD(groups, lr=0.1, momentum=0.9)

    unet = build_model("unet")
    assert len(parameter_groups(unet, lr=1e-3)) == 1
    with pytest.raises(ModelError, match="no .encoder"):
        freeze_encoder(unet)


def test_feature_maps_returns_each_stage_and_removes_its_hooks():
    model = build_model("unet")
    maps = feature_maps(model, torch.rand(1, 3, 64, 96))
    assert list(maps) == list(model.feature_layers)
    assert maps["down.0"].shape == (1, 16, 64, 96)
    assert maps["bottleneck"].shape == (1, 256, 4, 6)
    assert all(not m._forward_hooks for m in model.modules())
    chosen = feature_maps(model, torch.rand(1, 3, 64, 64), layers=["head"])
    assert list(chosen) == ["head"] and chosen["head"].shape == (1, 1, 64, 64)
    with pytest.raises(ModelError, match="no layers named"):
        feature_maps(model, torch.rand(1, 3, 64, 64), layers=["decoder.nothing"])


def test_maskdepth_runs_its_decoder_once():
    model = build_model("maskdepth")
    calls = []
    for stage in model.decoder.stages:
        stage.register_forward_hook(lambda *args: calls.append(1))
    model(torch.rand(1, 6, 64, 64))
    assert len(calls) == len(model.decoder.stages)


@pytest.fixture()
def offline(monkeypatch, tmp_path):
    """No cached weights, no network: connecting and downloading raise at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable (test)")

    def no_download(*args, **kwargs):
        raise URLError("network is unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)


@pytest.mark.parametrize("name", ["densedepth", "fcrn"])
def test_pretrained_offline_fails_fast_with_a_clear_error(name, offline):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="cannot download ImageNet weights .*pretrained=False"):
        build_model(name, pretrained=True)
    assert time.monotonic() - start < 10


def test_failed_download_after_a_connection_is_a_model_error(offline, monkeypatch):
    monkeypatch.setattr("depthnb.hub.torchvision.reachable", lambda url, timeout: None)
    with pytest.raises(DepthnbError, match="downloading ImageNet weights .* failed"):
        build_model("densedepth", pretrained=True)


def test_pretrained_weights_load_from_the_hub_cache_without_network(densedepth, offline, tmp_path):
    """torchvision's DenseNet file names layers "norm.1"; the loader renames them to "norm1"."""
    old_style = {
        "features." + re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", key): value
        for key, value in densedepth.encoder.state_dict().items()
        if not key.endswith("num_batches_tracked")  # the 2017 file predates these buffers
    }
    assert any(".norm.1." in key for key in old_style)
    old_style["classifier.weight"] = torch.zeros(1000, 1664)
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(old_style, cache / "densenet169-b2777c0a.pth")
    loaded = build_model("densedepth", pretrained=True).encoder.state_dict()
    for key, value in densedepth.encoder.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(loaded[key], value), key


def test_unreachable_weights_server_is_refused_quickly(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    class LocalWeights:
        url = "http://127.0.0.1:1/densenet169-b2777c0a.pth"

        def get_state_dict(self, **kwargs):
            return torch.hub.load_state_dict_from_url(self.url, **kwargs)

    start = time.monotonic()
    with pytest.raises(DownloadError, match="127.0.0.1:1"):
        load_torchvision_weights(LocalWeights(), timeout=2.0)
    assert time.monotonic() - start < 5
