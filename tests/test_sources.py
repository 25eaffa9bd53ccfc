"""Registry files with several sources: tried in order, web pages refused, a class mirror first."""

from __future__ import annotations

import dataclasses
import socket

import numpy as np
import pytest
from fixture_writers import patterned_depths, patterned_images, write_eigen_test_zip
from test_download import FAST, PAYLOAD, SHA, Server

from depthnb.data import NYUEigenTest
from depthnb.data.download import DATASETS, download_dataset
from depthnb.errors import DownloadError
from depthnb.hub.sources import RemoteFile, fetch_remote


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_next_source_is_tried_when_one_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    with Server({"/b/f.bin": PAYLOAD}) as server:
        remote = RemoteFile(
            server.url("/a/f.bin"), "f.bin", sha256=SHA, mirrors=(server.url("/b/f.bin"),)
        )
        path = fetch_remote(remote, tmp_path / "f.bin", **FAST)
    assert path.read_bytes() == PAYLOAD


def test_a_web_page_instead_of_the_file_is_dropped(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    page = b"<!DOCTYPE html><html><body>Google Drive can't scan this file</body></html>"
    with Server({"/drive": page, "/s3/f.bin": PAYLOAD}) as server:
        remote = RemoteFile(server.url("/drive"), "f.bin", mirrors=(server.url("/s3/f.bin"),))
        path = fetch_remote(remote, tmp_path / "f.bin", **FAST)
    assert path.read_bytes() == PAYLOAD


def test_the_class_mirror_is_asked_first(tmp_path, monkeypatch):
    with Server({"/class/f.bin": PAYLOAD}) as server:
        monkeypatch.setenv("DEPTHNB_MIRROR", server.url("/class/"))
        remote = RemoteFile(f"http://127.0.0.1:{_closed_port()}/f.bin", "f.bin", sha256=SHA)
        assert remote.sources()[0] == server.url("/class/f.bin")
        fetch_remote(remote, tmp_path / "f.bin", **FAST)
    assert server.ranges == [None]  # one request, to the mirror


def test_when_every_source_fails_the_error_lists_them_and_the_manual_way(tmp_path, monkeypatch):
    """Through the registry: each source with its own error, the exact destination, the Drive
    folder of the course for Colab, and the class mirror."""
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    from depthnb.utils.paths import drive_data_dir

    refused = f"http://127.0.0.1:{_closed_port()}/nyu_test.zip"
    with Server({"/page": b"<!DOCTYPE html><html>moved</html>"}) as server:
        spec = DATASETS["nyu-eigen-test"]
        remote = dataclasses.replace(
            spec.files[0],
            url=refused,
            mirrors=(server.url("/gone/nyu_test.zip"), server.url("/page")),
            pages=("https://example.org/a-page-for-a-browser",),
        )
        monkeypatch.setitem(DATASETS, spec.name, dataclasses.replace(spec, files=(remote,)))
        with pytest.raises(DownloadError) as caught:
            download_dataset(spec.name, root=tmp_path / "data", **FAST)
    lines = str(caught.value).splitlines()
    assert lines[0] == "could not download nyu_test.zip (about 1.4 GB) from any of its 3 sources:"
    assert lines[1].startswith(f"  - {refused}: cannot connect")
    assert lines[2] == f"  - {server.url('/gone/nyu_test.zip')}: HTTP 404 Not Found."
    assert lines[3] == f"  - {server.url('/page')}: served a web page, not nyu_test.zip"
    message = "\n".join(lines)
    assert "https://example.org/a-page-for-a-browser" in message
    dest = (tmp_path / "data" / "nyu" / "nyu_test.zip").resolve()
    assert f"Save it as {dest} and run the same command again" in message
    on_drive = drive_data_dir() / "nyu" / "nyu_test.zip"
    assert f"upload it to Google Drive as MyDrive/depthnb_data/nyu/nyu_test.zip ({on_drive})" in (
        message
    )
    assert "setup(drive=True)" in message
    assert "DEPTHNB_MIRROR=URL each download tries URL/nyu_test.zip first" in message
    assert not (tmp_path / "data" / "nyu" / "nyu_test.zip").exists()


def test_a_broken_transfer_is_resumed_by_the_next_source(tmp_path, monkeypatch):
    """The first source breaks off (and gives up); the second continues the same .part with a
    Range request instead of starting over."""
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    with Server({"/a/f.bin": PAYLOAD, "/b/f.bin": PAYLOAD}, cut_after=120_000) as server:
        remote = RemoteFile(
            server.url("/a/f.bin"), "f.bin", sha256=SHA, mirrors=(server.url("/b/f.bin"),)
        )
        path = fetch_remote(remote, tmp_path / "f.bin", retries=0, **FAST)
    assert path.read_bytes() == PAYLOAD
    assert server.paths == ["/a/f.bin", "/b/f.bin"]
    assert server.ranges == [None, "bytes=120000-"]


def test_a_cut_transfer_keeps_its_part_and_the_message_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    with Server({"/f.bin": PAYLOAD}, cut_after=100_000) as server:
        remote = RemoteFile(server.url("/f.bin"), "f.bin", sha256=SHA)
        with pytest.raises(DownloadError, match=r"0\.00 GB of it are already in .*f\.bin\.part"):
            fetch_remote(remote, tmp_path / "f.bin", retries=0, **FAST)
        assert (tmp_path / "f.bin.part").stat().st_size == 100_000
        server.cut_after = None
        assert fetch_remote(remote, tmp_path / "f.bin", **FAST).read_bytes() == PAYLOAD
    assert server.ranges[-1] == "bytes=100000-"


def test_too_little_disk_is_refused_before_any_request(tmp_path, monkeypatch):
    from collections import namedtuple

    from depthnb.utils import files

    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: usage(0, 0, 1_000_000_000))
    with Server({"/f.bin": PAYLOAD}) as server:
        remote = RemoteFile(server.url("/f.bin"), "f.bin", size=2_972_037_809)
        with pytest.raises(DownloadError, match=r"needs about 3\.1 GB of disk, and only 1\.0 GB"):
            fetch_remote(remote, tmp_path / "f.bin", **FAST)
        assert server.ranges == []
        # no size in the registry: the size the server announces is checked before writing
        monkeypatch.setattr(files.shutil, "disk_usage", lambda path: usage(0, 0, 100_000))
        unknown = RemoteFile(server.url("/f.bin"), "f.bin")
        with pytest.raises(DownloadError, match=r"\(0\.3 MB to go\).*only 0\.0 GB is free"):
            fetch_remote(unknown, tmp_path / "f.bin", **FAST)
    assert not list(tmp_path.iterdir())


def test_download_the_eigen_test_archive_through_the_registry(tmp_path, monkeypatch):
    images, depths = patterned_images(2, 480, 640), patterned_depths(2, 480, 640)
    served = write_eigen_test_zip(tmp_path / "served.zip", images, depths).read_bytes()
    with Server({"/mirror/nyu_test.zip": served}) as server:
        monkeypatch.setenv("DEPTHNB_MIRROR", server.url("/mirror"))
        spec = DATASETS["nyu-eigen-test"]
        dead = dataclasses.replace(spec.files[0], url=f"http://127.0.0.1:{_closed_port()}/x")
        monkeypatch.setitem(DATASETS, "nyu-eigen-test", dataclasses.replace(spec, files=(dead,)))
        path = download_dataset("nyu-eigen-test", root=tmp_path / "data", **FAST)
    assert path == tmp_path / "data" / "nyu" / "nyu_test.zip"
    np.testing.assert_array_equal(NYUEigenTest(path)[1]["depth"][0].numpy(), depths[1])


def test_registry_knows_the_eigen_test_archive():
    remote = DATASETS["nyu-eigen-test"].files[0]
    assert remote.url == "https://s3-eu-west-1.amazonaws.com/densedepth/nyu_test.zip"
    assert remote.filename == "nyu_test.zip"


def test_the_class_mirror_serves_datasets_and_published_weights(tmp_path, monkeypatch):
    """DEPTHNB_MIRROR=URL puts URL/<file name> first for every registry file; a dataset (both
    files of nyu-labeled) and published weights (FCRN's .npy, Depth Anything's files in their
    folder) come from it alone, and the structural checks still run on what it serves."""
    from test_download import _nyu_labeled_files

    from depthnb.models.pretrained import PRETRAINED, check_format

    served = _nyu_labeled_files(tmp_path)
    array = tmp_path / "weights.npy"
    np.save(array, np.zeros(3, np.float32))
    da = PRETRAINED["depth-anything-v2-metric-indoor-small"].files
    files = {
        "/class/nyu_depth_v2_labeled.mat": served["/labeled.mat"],
        "/class/splits.mat": served["/splits.mat"],
        "/class/NYU_ResNet-UpProj.npy": array.read_bytes(),
        f"/class/{da[0].filename}": (8).to_bytes(8, "little") + b"{}      ",  # no tensors
        f"/class/{da[1].filename}": b'{"model_type": "depth_anything"}',
    }
    with Server(files) as server:
        mirror = server.url("/class")
        monkeypatch.setenv("DEPTHNB_MIRROR", mirror + "/")
        registry = [f for spec in DATASETS.values() for f in spec.files]
        registry += [f for spec in PRETRAINED.values() for f in spec.files]
        assert len(registry) >= 9
        for remote in registry:
            assert remote.sources() == [f"{mirror}/{remote.filename}", remote.url, *remote.mirrors]

        path = download_dataset("nyu-labeled", root=tmp_path / "data", **FAST)
        assert path == tmp_path / "data" / "nyu" / "nyu_depth_v2_labeled.mat"
        fcrn = PRETRAINED["fcrn-nyu"].files[0]
        got = fetch_remote(fcrn, tmp_path / "pretrained" / fcrn.filename, check_format, **FAST)
        np.testing.assert_array_equal(np.load(got), np.zeros(3))
        for remote in da:
            fetch_remote(remote, tmp_path / "pretrained" / remote.filename, check_format, **FAST)
        config = tmp_path / "pretrained" / da[1].filename
        assert config.read_bytes() == files[f"/class/{da[1].filename}"]
        assert server.paths == list(files)  # one request each, all to the mirror


def test_every_registry_file_knows_its_size_and_documented_sources():
    from depthnb.hub.gdrive import drive_file_id
    from depthnb.hub.sources import describe_size
    from depthnb.models.pretrained import PRETRAINED

    registry = {f.filename: f for spec in DATASETS.values() for f in spec.files}
    registry |= {f.filename: f for spec in PRETRAINED.values() for f in spec.files}
    for remote in registry.values():
        assert remote.expected_bytes and remote.expected_bytes > 0, remote.filename
        assert all(url.startswith(("http://", "https://")) for url in [remote.url, *remote.mirrors])
        assert len(set([remote.url, *remote.mirrors])) == 1 + len(remote.mirrors)
    # exact byte counts, each documented (see the comments in the registry)
    assert registry["nyu_depth_v2_labeled.mat"].size == 2_972_037_809
    assert registry["splits.mat"].size == 2_626
    assert registry["val.tar.gz"].size == 2_774_625_282
    assert registry["nyu.h5"].size == 172_897_376
    assert describe_size(registry["nyu.h5"]) == "173 MB"
    assert describe_size(registry["nyu_data.zip"]) == "about 4.1 GB"
    # the Google Drive copies their authors published, reached through the confirm flow
    assert drive_file_id(registry["nyu.h5"].mirrors[0]) == "19dfvGvDfCRYaqxVKypp1fRHwK7XtSjVu"
    assert (
        drive_file_id(registry["nyu_data.zip"].mirrors[-1]) == "1fdFu5NGXe4rTLYKD5wOqk9dl-eJOefXo"
    )
    assert registry["splits.mat"].mirrors[-1] == (
        "https://raw.githubusercontent.com/ankurhanda/nyuv2-meta-data/master/splits.mat"
    )


def test_download_list_shows_every_file_its_size_and_sources(capsys, monkeypatch):
    from depthnb.cli.main import main
    from depthnb.models.pretrained import PRETRAINED

    monkeypatch.setenv("DEPTHNB_MIRROR", "http://class.example/depthnb")
    assert main(["download", "--list"]) == 0
    out = capsys.readouterr().out
    for name in [*DATASETS, *PRETRAINED]:
        assert f"\n  {name}  " in out
    assert "  nyu-labeled  2.97 GB  " in out and "    splits.mat  2,626 bytes\n" in out
    assert "  diode-val  2.77 GB  " in out and "  nyu-zip  about 4.1 GB  " in out
    assert "  unet-synthetic  shipped with the package  " in out
    block = out[out.index("    nyu.h5  173 MB") :].splitlines()
    assert block[1:4] == [
        "      http://class.example/depthnb/nyu.h5",
        "      https://s3-eu-west-1.amazonaws.com/densedepth/nyu.h5",
        "      https://drive.google.com/file/d/19dfvGvDfCRYaqxVKypp1fRHwK7XtSjVu/view?usp=sharing",
    ]
    assert main(["download"]) == 2
    assert "pass --list" in capsys.readouterr().err
