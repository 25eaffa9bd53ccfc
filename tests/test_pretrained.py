"""Published networks by name: the shipped course U-Net, and the download-convert-cache mechanics
of load_pretrained against a local server (nothing leaves 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from fixture_writers import patterned_images, write_eigen_test_zip
from test_download import Server

from depthnb.checkpoint import atomic_save, model_checkpoint
from depthnb.cli import main
from depthnb.data import SyntheticRooms
from depthnb.data.download import RemoteFile, fetch_remote
from depthnb.errors import DataError, DownloadError, ModelError
from depthnb.metrics import evaluate
from depthnb.models import build_model, list_pretrained, load_pretrained
from depthnb.models import pretrained as registry
from depthnb.train import ConstantDepth, median_depth


def test_registry_names():
    assert {"unet-synthetic", "densedepth-nyu", "fcrn-nyu"} <= set(list_pretrained())
    assert registry.PRETRAINED["densedepth-nyu"].files[0].filename == "nyu.h5"
    assert registry.PRETRAINED["fcrn-nyu"].files[0].filename == "NYU_ResNet-UpProj.npy"
    with pytest.raises(ModelError, match="unknown pretrained network 'nope'"):
        load_pretrained("nope")


@pytest.fixture(scope="module")
def course_unet():
    return load_pretrained("unet-synthetic")


def test_the_shipped_course_unet_is_small_and_beats_the_constant(course_unet):
    shipped = registry.WEIGHTS_DIR / "unet-synthetic.pt"
    assert shipped.stat().st_size < 2_000_000  # fp16 weights of 0.49M parameters
    state = torch.load(shipped, weights_only=True)["state_dict"]
    assert {t.dtype for t in state.values() if t.is_floating_point()} == {torch.float16}
    record = json.loads(shipped.with_suffix(".json").read_text())
    assert record["made_by"].startswith("python scripts/make_course_unet.py")

    assert course_unet.input_size == (120, 160) and not course_unet.training
    held_out = SyntheticRooms(48, size=course_unet.input_size, seed=1000)
    scores = evaluate(course_unet, held_out, batch_size=16)
    constant = evaluate(
        ConstantDepth(median_depth(SyntheticRooms(48, (120, 160), seed=0))), held_out
    )
    assert scores["delta1"] >= 0.85, scores
    assert scores["abs_rel"] < constant["abs_rel"] and scores["delta1"] > constant["delta1"]


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A stand-in published network: a small U-Net checkpoint served from 127.0.0.1, registered
    as 'tiny-nyu' with the checkpoint reader as its converter."""
    net = build_model("unet", filters=(4, 8, 8, 8, 8)).eval()
    source = atomic_save(model_checkpoint(net), tmp_path / "served.pt")
    server = Server({"/files/tiny.pt": source.read_bytes()}).__enter__()
    spec = registry.PretrainedSpec(
        name="tiny-nyu",
        description="test",
        convert="depthnb.predict:load_checkpoint",
        files=(RemoteFile(server.url("/files/tiny.pt"), "tiny.pt"),),
        input_size=(48, 64),
    )
    monkeypatch.setitem(registry.PRETRAINED, "tiny-nyu", spec)
    yield net, server, spec
    server.__exit__()


def test_download_convert_cache_then_load_without_the_server(published, tmp_path):
    net, server, _ = published
    cache = tmp_path / "cache"
    model = load_pretrained("tiny-nyu", cache=cache, progress=False)
    assert server.ranges == [None]
    converted = cache / "tiny-nyu.pt"
    checkpoint = torch.load(converted, weights_only=True)
    assert checkpoint["pretrained"] == "tiny-nyu" and checkpoint["input_size"] == [48, 64]
    x = torch.rand(1, 3, 48, 64)
    torch.testing.assert_close(model(x), net(x))
    (cache / "tiny.pt").unlink()  # the published file may go: the converted checkpoint stays
    again = load_pretrained("tiny-nyu", cache=cache)
    assert server.ranges == [None] and again.input_size == (48, 64)


def test_path_takes_a_file_the_user_already_has(published, tmp_path):
    net, server, _ = published
    mine = tmp_path / "uploaded.pt"
    atomic_save(model_checkpoint(net), mine)
    model = load_pretrained("tiny-nyu", path=mine, cache=tmp_path / "cache")
    assert server.ranges == [] and model.name == "unet"


def test_unreachable_sources_fail_with_the_manual_way(published, tmp_path, monkeypatch):
    _, server, spec = published
    dead = dataclasses.replace(spec.files[0], url=server.url("/files/moved.pt"))
    monkeypatch.setitem(registry.PRETRAINED, "tiny-nyu", dataclasses.replace(spec, files=(dead,)))
    with pytest.raises(DownloadError, match="by hand"):
        load_pretrained("tiny-nyu", cache=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache" / "tiny-nyu.pt").exists()


def test_evaluate_a_published_name_on_the_eigen_test_archive(tmp_path, capsys):
    images = patterned_images(2, 480, 640)
    depths = np.full((2, 480, 640), 3.0, np.float32)
    path = write_eigen_test_zip(tmp_path / "nyu_test.zip", images, depths)
    code = main(
        [
            "evaluate",
            "unet-synthetic",
            "--data",
            "nyu-eigen-test",
            "--data-root",
            str(path),
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "2 images, DenseDepth's protocol" in out and "crop (20, 460, 24, 616)" in out
    assert "unet-synthetic" in out and "DenseDepth (paper)" in out and "FCRN (paper)" in out


def test_densedepth_nyu_from_its_keras_file_end_to_end(tmp_path, monkeypatch, capsys):
    """The real converter behind the name: served from a class mirror, converted, cached, scored
    on an archive in the Eigen test layout under DenseDepth's protocol."""
    from published_writers import random_densedepth, write_keras_h5

    source = random_densedepth(0.05, seed=3)
    write_keras_h5(source, tmp_path / "nyu.h5")
    monkeypatch.setenv("DEPTHNB_DATA", str(tmp_path / "data"))
    with Server({"/class/nyu.h5": (tmp_path / "nyu.h5").read_bytes()}) as server:
        monkeypatch.setenv("DEPTHNB_MIRROR", server.url("/class"))
        model = load_pretrained("densedepth-nyu", progress=False)
    assert model.input_size == (480, 640) and model.config["input_norm"] == "none"
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-5, rtol=1e-5)
    assert (tmp_path / "data" / "pretrained" / "densedepth-nyu.pt").is_file()

    zip_path = write_eigen_test_zip(
        tmp_path / "nyu_test.zip", patterned_images(1, 480, 640), np.full((1, 480, 640), 2.0)
    )
    argv = ["evaluate", "densedepth-nyu", "--data", "nyu-eigen-test", "--data-root", str(zip_path)]
    assert main([*argv, "--device", "cpu", "--batch", "1"]) == 0  # no server now: the cache
    out = capsys.readouterr().out
    assert "densedepth-nyu" in out and "DenseDepth (released weights, repo script)" in out
    assert "ours - DenseDepth (released weights, script's arguments in order): delta1" in out


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("depth-anything-v2-metric-indoor-small", "metric"),
        ("depth-anything-v2-relative-small", "relative"),
    ],
)
def test_depth_anything_from_its_hugging_face_files(tmp_path, monkeypatch, name, kind):
    """The Hugging Face repository's two files, served by a class mirror under the entry's file
    names, read by transformers itself, cached as a depthnb checkpoint that remembers whether
    the network is metric or relative."""
    transformers = pytest.importorskip("transformers")
    from test_depth_anything import tiny_config

    torch.manual_seed(0)
    config = transformers.DepthAnythingConfig.from_dict(tiny_config(kind))
    net = transformers.DepthAnythingForDepthEstimation(config).eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    snapshot = tmp_path / "snapshot"
    net.save_pretrained(snapshot)
    spec = registry.PRETRAINED[name]
    served = {
        f"/class/{f.filename}": (snapshot / f.filename.split("/")[-1]).read_bytes()
        for f in spec.files
    }
    with Server(served) as server:
        monkeypatch.setenv("DEPTHNB_MIRROR", server.url("/class"))
        model = load_pretrained(spec.name, cache=tmp_path / "cache", progress=False)
    image = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        expected = net(pixel_values=model.preprocess(image)).predicted_depth
        got = model(image)
    assert got.shape == (1, 1, 70, 90) and model.name == "depth-anything-v2"
    assert model.relative == (kind == "relative")
    resized = torch.nn.functional.interpolate(
        expected[:, None], size=(70, 90), mode="bilinear", align_corners=False
    )
    torch.testing.assert_close(got, resized)
    assert (tmp_path / "cache" / f"{spec.name}.pt").is_file()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"lacks \['config.json', 'model.safetensors'\]"):
        load_pretrained(spec.name, path=tmp_path / "empty", cache=tmp_path / "cache")


def test_a_source_serving_another_format_is_dropped_for_the_next(published, tmp_path):
    net, server, spec = published
    registry_file = dataclasses.replace(
        spec.files[0],
        url=server.url("/files/tiny.npy"),
        filename="tiny.npy",
        mirrors=(server.url("/files/real.npy"),),
    )
    array = tmp_path / "real.npy"
    np.save(array, np.zeros(3))
    server.files["/files/tiny.npy"] = b"PK\x03\x04 a zip, not an array"
    server.files["/files/real.npy"] = array.read_bytes()
    got = fetch_remote(
        registry_file, tmp_path / "dl" / "tiny.npy", check=registry.check_format, progress=False
    )
    assert got.read_bytes() == array.read_bytes()
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"<html>")
    with pytest.raises(DataError, match="is not a .h5 file"):
        registry.check_format(bad)
