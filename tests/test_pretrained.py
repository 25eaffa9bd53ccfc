"""Published networks by name: the shipped course U-Net, and the download-convert-cache mechanics
of load_pretrained against a local server (nothing leaves 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fixture_writers import patterned_images, write_eigen_test_zip
from test_download import Server

from depthnb.checkpoint import save_checkpoint
from depthnb.cli.main import main
from depthnb.data import SyntheticRooms
from depthnb.errors import DataError, DepthnbError, DownloadError, ModelError
from depthnb.hub.sources import RemoteFile, fetch_remote
from depthnb.metrics import evaluate
from depthnb.models import build_model, list_pretrained, load_pretrained
from depthnb.models import pretrained as registry
from depthnb.models.checkpoints import model_checkpoint
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
    source = save_checkpoint(model_checkpoint(net), tmp_path / "served.pt")
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
    save_checkpoint(model_checkpoint(net), mine)
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
    assert main([*argv, "--device", "cpu", "--batch-size", "1"]) == 0  # no server now: the cache
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
    names, kept in the cache folder as served (no converted copy) and read directly; the model
    knows whether it is metric or relative."""
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
    kept = {p.relative_to(tmp_path / "cache").as_posix() for p in (tmp_path / "cache").rglob("*")}
    assert kept == {f.filename for f in spec.files} | {spec.files[0].filename.split("/")[0]}
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
    with pytest.raises(DataError, match="is not a complete .h5 file"):
        registry.check_format(bad)


# ---- Depth Anything V2 through huggingface_hub, and downloads that cannot be shown complete ----


class HubServer:
    """A Hugging Face Hub on 127.0.0.1 for ``hf_hub_download``: ``HEAD`` and ``GET`` of
    ``/<repo>/resolve/<revision>/<file>`` answer with ``X-Repo-Commit`` (the commit served),
    ``ETag`` (the file's SHA-256, as the Hub gives LFS files) and ``Content-Length``. ``paths``
    records every request as ``METHOD path``. With ``cut`` set, it serves any path as a truncated
    body of ``files[path]`` with no Content-Length (HTTP/1.0: the connection just closes)."""

    def __init__(self, files: dict[str, bytes], commit: str = "", cut: int | None = None):
        import hashlib
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.files, self.paths = files, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def answer(self, body: bool) -> None:
                server.paths.append(f"{self.command} {self.path}")
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if cut is None:
                    self.send_header("X-Repo-Commit", commit)
                    self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                    self.send_header("Content-Length", str(len(data)))
                else:
                    data = data[:cut]
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:
                self.answer(body=False)

            def do_GET(self) -> None:
                self.answer(body=True)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


DA_NAME = "depth-anything-v2-metric-indoor-small"


@pytest.fixture(scope="module")
def tiny_snapshot(tmp_path_factory):
    """A tiny random Depth Anything V2 (metric) saved as its Hugging Face repository holds it:
    ``{file name: bytes}``, and the transformers network itself."""
    transformers = pytest.importorskip("transformers")
    from test_depth_anything import tiny_config

    torch.manual_seed(0)
    net = transformers.DepthAnythingForDepthEstimation(
        transformers.DepthAnythingConfig.from_dict(tiny_config("metric"))
    ).eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    folder = tmp_path_factory.mktemp("snapshot")
    net.save_pretrained(folder)
    files = {name: (folder / name).read_bytes() for name in ("config.json", "model.safetensors")}
    return files, net


def write_hf_cache(hub: Path, repo: str, revision: str, files: dict[str, bytes]) -> Path:
    """Files in the Hugging Face cache's own layout under ``hub`` (``$HF_HOME/hub``):
    ``models--ORG--NAME/blobs/<sha256>``, ``snapshots/<revision>/<name>`` linking to the blob,
    ``refs/main`` holding the revision. Returns the snapshot folder."""
    import hashlib

    storage = hub / ("models--" + repo.replace("/", "--"))
    snapshot = storage / "snapshots" / revision
    for name, data in files.items():
        blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        snapshot.mkdir(parents=True, exist_ok=True)
        (snapshot / name).symlink_to(Path("..", "..", "blobs", blob.name))
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    (storage / "refs" / "main").write_text(revision)
    return snapshot


def same_depth(model, net) -> None:
    image = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        expected = net(pixel_values=model.preprocess(image)).predicted_depth[:, None]
        got = model(image)
    resized = torch.nn.functional.interpolate(expected, size=(70, 90), mode="bilinear")
    torch.testing.assert_close(got, resized)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache in ``tmp_path/hf/hub`` that huggingface_hub uses (its
    constants are read at import, so the test sets them as HF_HUB_CACHE would have), no
    class mirror, the data folder in ``tmp_path/data``."""
    from huggingface_hub import constants

    hub = tmp_path / "hf" / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    monkeypatch.setenv("DEPTHNB_DATA", str(tmp_path / "data"))
    return hub


def test_the_registry_pins_a_commit_of_each_hugging_face_repository():
    for name in list_pretrained():
        if name.startswith("depth-anything-v2"):
            for remote in registry.PRETRAINED[name].files:
                assert isinstance(remote, registry.HubFile)
                assert len(remote.revision) == 40 and int(remote.revision, 16) >= 0
                assert registry.HUB_REVISIONS[remote.repo] == remote.revision
                assert remote.sources()[-1] == remote.url and "hf-mirror" not in str(remote)
                assert f"/resolve/{remote.revision}/" in remote.url
    names = {n for n in list_pretrained() if n.startswith("depth-anything-v2-metric")}
    assert names == {DA_NAME, "depth-anything-v2-metric-outdoor-small"}


def test_offline_with_a_filled_cache_loads_without_a_request(
    tiny_snapshot, hf_cache, monkeypatch, tmp_path
):
    """HF_HUB_OFFLINE=1 and the files in the Hugging Face cache at the pinned commit: every way
    in loads them, and no socket is connected."""
    import socket

    from huggingface_hub import constants

    files, net = tiny_snapshot
    spec = registry.PRETRAINED[DA_NAME]
    snapshot = write_hf_cache(hf_cache, spec.files[0].repo, spec.files[0].revision, files)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    attempts = []

    def no_network(sock, address):  # recorded, so that a caught exception cannot hide it
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    model = load_pretrained(DA_NAME, progress=False)
    same_depth(model, net)
    assert model.input_size is None and not model.training
    built = build_model("depth-anything-v2", pretrained=True)
    from depthnb.models.depth_anything import depth_anything_from_files

    by_path = depth_anything_from_files(snapshot)
    for other in (built, by_path):
        assert other.config == model.config
        torch.testing.assert_close(other.state_dict(), model.state_dict())
    assert attempts == []
    assert not (tmp_path / "data" / "pretrained").exists()  # no converted copy, no download


@pytest.mark.parametrize("offline", [True, False])
def test_an_empty_cache_offline_fails_fast_saying_what_to_do(hf_cache, monkeypatch, offline):
    import socket
    import time

    from huggingface_hub import constants

    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:  # a Hub that does not answer: nothing listens on that port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.monotonic()
    with pytest.raises(DownloadError) as error:
        load_pretrained(DA_NAME, progress=False)
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert ("HF_HUB_OFFLINE is set" in message) == offline
    assert "network access" in message and "path=FOLDER" in message and "DEPTHNB_MIRROR" in message
    assert not any(hf_cache.rglob("*.safetensors"))


def test_the_class_mirror_comes_first_and_leaves_the_hugging_face_cache_alone(
    tiny_snapshot, hf_cache, monkeypatch, tmp_path
):
    files, net = tiny_snapshot
    spec = registry.PRETRAINED[DA_NAME]
    served = {f"/class/{f.filename}": files[f.name] for f in spec.files}
    with HubServer(served) as server:
        monkeypatch.setenv("DEPTHNB_MIRROR", f"{server.url}/class")
        model = build_model("depth-anything-v2", pretrained=True)
        again = load_pretrained(DA_NAME, progress=False)  # the mirror's copy, not fetched again
    same_depth(model, net)
    torch.testing.assert_close(again.state_dict(), model.state_dict())
    assert server.paths == [f"GET {path}" for path in served]
    folder = tmp_path / "data" / "pretrained" / spec.files[0].filename.split("/")[0]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert not hf_cache.exists() and not list((tmp_path / "data" / "pretrained").glob("*.pt"))


def test_hf_home_and_hf_endpoint_are_honoured_at_the_pinned_revision(tiny_snapshot, tmp_path):
    """In a fresh interpreter with HF_HOME and HF_ENDPOINT set (huggingface_hub reads them at
    import): the files come from that endpoint at the pinned commit into HF_HOME's cache; then,
    with HF_HUB_OFFLINE=1 and sockets refused, the same call loads them from there."""
    import os
    import subprocess
    import sys

    files, _ = tiny_snapshot
    spec = registry.PRETRAINED[DA_NAME]
    remote = spec.files[0]
    resolve = f"/{remote.repo}/resolve/{remote.revision}"
    served = {f"{resolve}/{f.name}": files[f.name] for f in spec.files}
    script = (
        "import socket, sys\n"
        "attempts = []\n"
        "def refuse(sock, address):\n"
        "    attempts.append(address)\n"
        "    raise OSError('no network')\n"
        "if sys.argv[1] == 'offline':\n"
        "    socket.socket.connect = socket.socket.connect_ex = refuse\n"
        "from depthnb.models import load_pretrained\n"
        f"model = load_pretrained({DA_NAME!r}, progress=False)\n"
        "print(model.name, model.config['variant'], len(attempts))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "DEPTHNB_MIRROR"))}
    env |= {"HF_HOME": str(tmp_path / "hf"), "DEPTHNB_DATA": str(tmp_path / "data")}
    with HubServer(served, commit=remote.revision) as server:
        env["HF_ENDPOINT"] = server.url
        online = subprocess.run(
            [sys.executable, "-c", script, "online"], env=env, capture_output=True, text=True
        )
        assert online.returncode == 0, online.stderr[-3000:]
        resolved = sorted(path for path in server.paths if "/resolve/" in path)
        assert resolved == sorted(f"{m} {path}" for path in served for m in ("HEAD", "GET"))
    storage = "models--depth-anything--Depth-Anything-V2-Metric-Indoor-Small-hf"
    snapshot = tmp_path / "hf" / "hub" / storage / "snapshots" / remote.revision
    assert {p.name: p.read_bytes() for p in snapshot.iterdir()} == files
    env["HF_HUB_OFFLINE"] = "1"
    offline = subprocess.run(
        [sys.executable, "-c", script, "offline"], env=env, capture_output=True, text=True
    )
    assert offline.returncode == 0, offline.stderr[-3000:]
    assert offline.stdout.split() == ["depth-anything-v2", "metric-indoor-small", "0"]
    assert not (tmp_path / "data" / "pretrained").exists()


def _complete_files(folder: Path) -> dict[str, bytes]:
    """One small file of each format check_format knows, written by its own library."""
    import h5py
    from safetensors.torch import save_file

    with h5py.File(folder / "w.h5", "w") as f:
        f["layer/kernel"] = np.arange(4000, dtype=np.float32)
    np.save(folder / "plain.npy", np.arange(3000, dtype=np.float32))
    weights = {"conv1": {"weights": np.ones((3, 3, 3, 8), np.float32)}}
    np.save(folder / "pickled.npy", weights, allow_pickle=True)  # FCRN's release is such a dict
    save_file({"a": torch.zeros(64, 32), "b": torch.ones(10)}, folder / "m.safetensors")
    (folder / "config.json").write_text(json.dumps({"model_type": "depth_anything"}))
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_check_format_refuses_every_truncated_file_and_passes_whole_ones(tmp_path):
    for name, data in _complete_files(tmp_path).items():
        registry.check_format(tmp_path / name)
        for cut in (len(data) // 2, len(data) - 1):
            damaged = tmp_path / "cut" / name
            damaged.parent.mkdir(exist_ok=True)
            damaged.write_bytes(data[:cut])
            with pytest.raises(DataError, match=f"is not a complete {damaged.suffix} file"):
                registry.check_format(damaged)
    (tmp_path / "page.h5").write_bytes(b"<html>")
    with pytest.raises(DataError, match="it begins b'<html>'"):
        registry.check_format(tmp_path / "page.h5")


@pytest.mark.parametrize("published_size", [False, True])
def test_a_download_cut_short_without_content_length_is_deleted_then_fetched_again(
    published, tmp_path, monkeypatch, published_size
):
    """A mirror that sends no Content-Length and closes early: with the file's published size in
    the registry the download is refused at once; without it, the converter cannot read the file.
    Either way nothing is kept, the error says to run it again, and running it again works."""
    net, server, spec = published
    good = server.files["/files/tiny.pt"]
    cache = tmp_path / "cache"
    with HubServer({"/cut/tiny.pt": good}, cut=len(good) // 2) as cutting:
        remote = RemoteFile(
            cutting.url + "/cut/tiny.pt", "tiny.pt", size=len(good) if published_size else None
        )
        monkeypatch.setitem(
            registry.PRETRAINED, "tiny-nyu", dataclasses.replace(spec, files=(remote,))
        )
        expected = DownloadError if published_size else DepthnbError
        with pytest.raises(expected, match="again") as error:
            load_pretrained("tiny-nyu", cache=cache, progress=False)
        assert cutting.paths == ["GET /cut/tiny.pt"]
    assert ("but tiny.pt as published has" in str(error.value)) == published_size
    assert sorted(p.name for p in cache.iterdir()) == []  # no tiny.pt, no .part, no checkpoint
    remote = dataclasses.replace(remote, url=server.url("/files/tiny.pt"))
    monkeypatch.setitem(registry.PRETRAINED, "tiny-nyu", dataclasses.replace(spec, files=(remote,)))
    model = load_pretrained("tiny-nyu", cache=cache, progress=False)  # "run it again" works
    assert server.ranges == [None]  # a whole new transfer, nothing resumed from the cut one
    x = torch.rand(1, 3, 48, 64)
    torch.testing.assert_close(model(x), net(x))


def test_a_cached_file_of_the_wrong_size_is_replaced(published, tmp_path, monkeypatch):
    """A file already in the cache folder that is not the published size (an older, cut-short
    download) is deleted and downloaded again instead of being converted."""
    net, server, spec = published
    good = server.files["/files/tiny.pt"]
    remote = dataclasses.replace(spec.files[0], size=len(good))
    monkeypatch.setitem(registry.PRETRAINED, "tiny-nyu", dataclasses.replace(spec, files=(remote,)))
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tiny.pt").write_bytes(good[: len(good) // 3])
    model = load_pretrained("tiny-nyu", cache=cache, progress=False)
    assert server.ranges == [None] and (cache / "tiny.pt").read_bytes() == good
    x = torch.rand(1, 3, 48, 64)
    torch.testing.assert_close(model(x), net(x))


def test_a_converted_checkpoint_is_made_again_when_its_published_file_changes(
    published, tmp_path, capsys
):
    net, server, _ = published
    cache = tmp_path / "cache"
    load_pretrained("tiny-nyu", cache=cache, progress=False)
    other = build_model("unet", filters=(4, 8, 8, 8, 8)).eval()
    save_checkpoint(model_checkpoint(other), cache / "tiny.pt")  # the user replaced the file
    capsys.readouterr()
    model = load_pretrained("tiny-nyu", cache=cache, progress=False)
    assert "tiny.pt changed since" in capsys.readouterr().out and server.ranges == [None]
    x = torch.rand(1, 3, 48, 64)
    torch.testing.assert_close(model(x), other(x))
    again = load_pretrained("tiny-nyu", cache=cache, progress=False)  # now up to date: no message
    assert capsys.readouterr().out == ""
    torch.testing.assert_close(again(x), other(x))
    (cache / "tiny-nyu.pt").write_bytes(b"damaged")
    torch.testing.assert_close(load_pretrained("tiny-nyu", cache=cache)(x), other(x))
