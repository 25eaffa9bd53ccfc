"""download_url, download_dataset and safe_extract against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import h5py
import numpy as np
import pytest
from fixture_writers import (
    patterned_depths,
    patterned_images,
    write_diode_scan,
    write_nyu_zip,
    write_splits_mat,
)

from depthnb.data import download
from depthnb.data.diode import DIODE
from depthnb.data.download import DATASETS, download_dataset, download_url, safe_extract
from depthnb.errors import ArchiveError, DataError, DownloadError

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = {"backoff": 0.0, "timeout": 5.0, "progress": False}


class Server:
    """Serves ``files`` (path, query included -> bytes) with Range support; ``cut_after`` bytes
    ends response number ``cut_request`` (the first by default) early; ``ignore_range`` answers
    every request with 200 and the whole file; ``types`` (path -> Content-Type) sets that header.
    ``paths`` and ``ranges`` record what was asked."""

    def __init__(
        self,
        files: dict[str, bytes],
        cut_after: int | None = None,
        ignore_range: bool = False,
        types: dict[str, str] | None = None,
        cut_request: int = 1,
    ) -> None:
        self.files, self.cut_after, self.ignore_range = files, cut_after, ignore_range
        self.cut_request = cut_request
        self.types = types or {}
        self.ranges: list[str | None] = []
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.ranges.append(self.headers.get("Range"))
                server.paths.append(self.path)
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range") and not server.ignore_range:
                    start = int(self.headers["Range"][6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                if self.path in server.types:
                    self.send_header("Content-Type", server.types[self.path])
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if server.cut_after is not None and len(server.ranges) == server.cut_request:
                    body = body[: server.cut_after]  # then the connection closes
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_full_download_checks_size_and_sha(tmp_path):
    with Server({"/f.bin": PAYLOAD}) as server:
        dest = download_url(
            server.url("/f.bin"),
            tmp_path / "sub" / "f.bin",
            sha256=SHA,
            size=len(PAYLOAD),
            backoff=0.0,
        )
        assert dest.read_bytes() == PAYLOAD
        assert not (tmp_path / "sub" / "f.bin.part").exists()
        download_url(server.url("/f.bin"), dest, sha256=SHA, **FAST)  # already there: no request
        assert server.ranges == [None]


def test_cut_transfer_resumes_with_range(tmp_path):
    with Server({"/f.bin": PAYLOAD}, cut_after=100_000) as server:
        dest = download_url(server.url("/f.bin"), tmp_path / "f.bin", sha256=SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=100000-"]


def test_server_ignoring_range_restarts_from_zero(tmp_path):
    with Server({"/f.bin": PAYLOAD}, cut_after=100_000, ignore_range=True) as server:
        dest = download_url(server.url("/f.bin"), tmp_path / "f.bin", size=len(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=100000-"]


def test_wrong_bytes_leave_nothing_behind(tmp_path):
    wrong = PAYLOAD[:-1] + b"x"
    with Server({"/f.bin": wrong}) as server:
        with pytest.raises(DownloadError, match="SHA-256"):
            download_url(server.url("/f.bin"), tmp_path / "f.bin", sha256=SHA, **FAST)
        with pytest.raises(DownloadError, match="expected 12"):
            download_url(server.url("/f.bin"), tmp_path / "f.bin", size=12, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_404_fails_at_once(tmp_path):
    with Server({}) as server:
        with pytest.raises(DownloadError, match="HTTP 404"):
            download_url(server.url("/missing"), tmp_path / "f.bin", **FAST)
    assert len(server.ranges) == 1 and not (tmp_path / "f.bin").exists()


def test_refused_connection_fails_fast(tmp_path):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    start = time.monotonic()
    with pytest.raises(DownloadError, match="cannot connect"):
        download_url(f"http://127.0.0.1:{port}/f.bin", tmp_path / "f.bin", backoff=1.0)
    assert time.monotonic() - start < 2.0


def test_silent_server_times_out(tmp_path):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        start = time.monotonic()
        with pytest.raises(DownloadError, match="timed out"):
            download_url(
                f"http://127.0.0.1:{silent.getsockname()[1]}/f",
                tmp_path / "f",
                retries=1,
                timeout=0.3,
                backoff=0.0,
                progress=False,
            )
        assert time.monotonic() - start < 3.0


def _nyu_labeled_files(tmp_path, n_images: int = 1449) -> dict[str, bytes]:
    """A .mat with the real shapes (datasets declared, never written: a tiny file) + splits."""
    mat = tmp_path / "served.mat"
    with h5py.File(mat, "w", userblock_size=512) as f:
        f.create_dataset("images", shape=(n_images, 3, 640, 480), dtype=np.uint8)
        f.create_dataset("depths", shape=(n_images, 640, 480), dtype=np.float32)
        f.create_dataset("rawDepths", shape=(n_images, 640, 480), dtype=np.float32)
    splits = write_splits_mat(
        tmp_path / "served_splits.mat", list(range(1, 796)), list(range(796, 1450))
    )
    return {"/labeled.mat": mat.read_bytes(), "/splits.mat": splits.read_bytes()}


def _local(name: str, server: Server, monkeypatch) -> None:
    """Point DATASETS[name] at the local server (same file names, paths /<file name>)."""
    spec = DATASETS[name]
    files = tuple(dataclasses.replace(f, url=server.url("/" + f.filename)) for f in spec.files)
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(spec, files=files))


def test_download_nyu_labeled_checks_structure(tmp_path, monkeypatch):
    served = _nyu_labeled_files(tmp_path)
    files = {
        "/nyu_depth_v2_labeled.mat": served["/labeled.mat"],
        "/splits.mat": served["/splits.mat"],
    }
    with Server(files) as server:
        _local("nyu-labeled", server, monkeypatch)
        path = download_dataset("nyu-labeled", root=tmp_path / "data", **FAST)
        assert path == tmp_path / "data" / "nyu" / "nyu_depth_v2_labeled.mat"
        assert (path.parent / "splits.mat").is_file()
        assert download_dataset("nyu-labeled", root=tmp_path / "data", **FAST) == path
        assert len(server.ranges) == 2  # the second call found everything in place
        server.files["/nyu_depth_v2_labeled.mat"] = _nyu_labeled_files(tmp_path, 3)["/labeled.mat"]
        with pytest.raises(
            DataError, match=r"expected \(1449, 3, 640, 480\).*download nyu-labeled"
        ):
            download_dataset("nyu-labeled", root=tmp_path / "other", **FAST)


def test_download_nyu_zip_checks_csvs(tmp_path, monkeypatch):
    pair = (patterned_images(1, 4, 6)[0], np.full((4, 6), 9, np.uint8))
    good = write_nyu_zip(tmp_path / "good.zip", train=[pair], test=[pair])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("data/nyu2_train.csv", "")
    with Server({"/nyu_data.zip": good.read_bytes()}) as server:
        _local("nyu-zip", server, monkeypatch)
        path = download_dataset("nyu-zip", root=tmp_path / "data", **FAST)
        assert path.read_bytes() == good.read_bytes()
        server.files["/nyu_data.zip"] = buffer.getvalue()
        with pytest.raises(DataError, match="lists no images"):
            download_dataset("nyu-zip", root=tmp_path / "other", **FAST)


def test_download_diode_extracts_the_layout(tmp_path, monkeypatch):
    source = tmp_path / "source"
    for domain in ("indoors", "outdoor"):
        write_diode_scan(
            source,
            "val",
            domain,
            f"{domain}_a",
            patterned_images(1, 6, 8)[0],
            patterned_depths(1, 6, 8)[0],
            np.ones((6, 8), bool),
        )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(source / "val", arcname="val")
    with Server({"/val.tar.gz": buffer.getvalue()}) as server:
        _local("diode-val", server, monkeypatch)
        root = download_dataset("diode-val", root=tmp_path / "data", **FAST)
        assert root == tmp_path / "data" / "diode"
        assert sorted(p.name for p in root.iterdir()) == ["val"]  # archive and staging removed
        assert len(DIODE(root, domain="all")) == 2
        assert download_dataset("diode-val", root=tmp_path / "data", **FAST) == root
        assert len(server.ranges) == 1


def test_unknown_dataset():
    known = "known: " + ", ".join(sorted(DATASETS))  # diode-val, kitti-depth-selection, ...
    with pytest.raises(DownloadError, match=known):
        download_dataset("kitti")


def _tar(tmp_path, add) -> str:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tar:
        add(tar)
    return path


def _member(tar: tarfile.TarFile, name: str, link: str | None = None, symlink: bool = True):
    info = tarfile.TarInfo(name)
    if link is None:
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    else:
        info.type = tarfile.SYMTYPE if symlink else tarfile.LNKTYPE
        info.linkname = link
        tar.addfile(info)


@pytest.mark.parametrize(
    "add",
    [
        lambda tar: _member(tar, "../evil.txt"),
        lambda tar: _member(tar, "/tmp/depthnb_evil.txt"),
        lambda tar: _member(tar, "val/../../evil.txt"),
        lambda tar: _member(tar, "val/link", link="/etc/passwd"),
        lambda tar: _member(tar, "val/link", link="../../evil.txt"),
        lambda tar: _member(tar, "val/hard", link="../evil.txt", symlink=False),
    ],
)
def test_tar_members_outside_the_target_are_refused(tmp_path, add):
    archive = _tar(tmp_path, lambda tar: (_member(tar, "val/ok.txt"), add(tar)))
    with pytest.raises(DataError, match="refusing to extract"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "val").exists()


def test_zip_members_outside_the_target_are_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok.txt", "hi")
        z.writestr("../evil.txt", "hi")
    with pytest.raises(DataError, match="'../evil.txt' would be written outside"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_safe_extract_refuses_even_inner_links_and_rejects_corrupt_archives(tmp_path):
    """No dataset the course reads holds a link, so none is extracted, even one that stays
    inside (tests/test_extract.py tries every way out)."""
    for symlink, kind in ((True, "symbolic link"), (False, "hard link")):

        def add(tar, symlink=symlink):
            _member(tar, "val/a.txt")
            _member(tar, "val/b.txt", link="a.txt", symlink=symlink)

        with pytest.raises(ArchiveError, match=f"member 'val/b.txt' is a {kind}"):
            safe_extract(_tar(tmp_path, add), tmp_path / "out")
        assert not (tmp_path / "out" / "val").exists()
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b" + bytes(50))
    with pytest.raises(DataError, match="broken.tar.gz: cannot be extracted"):
        safe_extract(broken, tmp_path / "out2")


def test_registry_names_the_documented_urls():
    assert (
        DATASETS["nyu-zip"].files[0].url
        == "https://s3-eu-west-1.amazonaws.com/densedepth/nyu_data.zip"
    )
    assert DATASETS["diode-val"].files[0].url == "http://diode-dataset.s3.amazonaws.com/val.tar.gz"
    assert [f.filename for f in DATASETS["nyu-labeled"].files] == [
        "nyu_depth_v2_labeled.mat",
        "splits.mat",
    ]
    assert download.DATASETS is DATASETS
