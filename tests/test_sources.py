"""Registry files with several sources: tried in order, web pages refused, a class mirror first."""

from __future__ import annotations

import dataclasses
import socket

import numpy as np
import pytest
from fixture_writers import patterned_depths, patterned_images, write_eigen_test_zip
from test_download import FAST, PAYLOAD, SHA, Server

from depthnb.data import NYUEigenTest
from depthnb.data.download import DATASETS, RemoteFile, download_dataset, fetch_remote
from depthnb.errors import DownloadError


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
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    first = f"http://127.0.0.1:{_closed_port()}/nyu.h5"
    with Server({}) as server:
        remote = RemoteFile(
            first, "nyu.h5", mirrors=(server.url("/nyu.h5"),), approx_size=165_000_000
        )
        with pytest.raises(DownloadError) as caught:
            fetch_remote(remote, tmp_path / "nyu.h5", **FAST)
    message = str(caught.value)
    assert first in message and server.url("/nyu.h5") in message and "404" in message
    assert "by hand" in message and "DEPTHNB_MIRROR" in message and "0.2 GB" in message
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
