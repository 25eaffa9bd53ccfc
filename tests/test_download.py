"""download_url, download_dataset and safe_extract against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import json
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
from depthnb.data.download import DATASETS, download_dataset
from depthnb.errors import ArchiveError, DataError, DownloadError
from depthnb.hub.extract import safe_extract
from depthnb.hub.transfer import download_url

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = {"backoff": 0.0, "timeout": 5.0, "progress": False}


class Server:
    """Serves ``files`` (path, query included -> bytes) on 127.0.0.1, as S3 does: an ETag (the
    content's hash), Range requests answered 206 when their If-Range (if any) still matches.

    ``cut_after`` bytes ends response number ``cut_request`` (the first by default) early;
    ``ignore_range`` answers every request with 200 and the whole file; ``types`` (path ->
    Content-Type) sets that header; ``etag=False`` sends no ETag; ``last_modified`` sends that
    Last-Modified (and accepts it in If-Range); ``length=False`` sends no Content-Length (the
    body ends when the connection closes); ``trickle`` (seconds) sends one byte at a time, that
    long apart. ``paths``, ``ranges`` and ``if_ranges`` record what was asked. Threads are
    daemons and every response is bounded, so the server stops by itself."""

    def __init__(
        self,
        files: dict[str, bytes],
        cut_after: int | None = None,
        ignore_range: bool = False,
        types: dict[str, str] | None = None,
        cut_request: int = 1,
        etag: bool = True,
        length: bool = True,
        trickle: float | None = None,
        last_modified: str | None = None,
    ) -> None:
        self.files, self.cut_after, self.ignore_range = files, cut_after, ignore_range
        self.cut_request, self.etag, self.length, self.trickle = cut_request, etag, length, trickle
        self.last_modified = last_modified
        self.types = types or {}
        self.ranges: list[str | None] = []
        self.if_ranges: list[str | None] = []
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.ranges.append(self.headers.get("Range"))
                server.if_ranges.append(self.headers.get("If-Range"))
                server.paths.append(self.path)
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                tag = f'"{hashlib.md5(data).hexdigest()}"'
                fresh = self.headers.get("If-Range") in (None, tag, server.last_modified)
                start = 0
                if self.headers.get("Range") and not server.ignore_range and fresh:
                    start = int(self.headers["Range"][6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                if self.path in server.types:
                    self.send_header("Content-Type", server.types[self.path])
                if server.etag:
                    self.send_header("ETag", tag)
                if server.last_modified:
                    self.send_header("Last-Modified", server.last_modified)
                if server.length:
                    self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if server.cut_after is not None and len(server.ranges) == server.cut_request:
                    body = body[: server.cut_after]  # then the connection closes
                if server.trickle is None:
                    self.wfile.write(body)
                    return
                for index in range(len(body)):
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                    time.sleep(server.trickle)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
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


def test_a_part_of_another_version_starts_again(tmp_path):
    """A .part is resumed with If-Range carrying the ETag the server first sent; when the file
    changed meanwhile (same length, other bytes) the server sends it whole: never spliced."""
    with Server({"/f.bin": PAYLOAD}, cut_after=100_000) as server:
        with pytest.raises(DownloadError, match="resume from"):
            download_url(server.url("/f.bin"), tmp_path / "f.bin", retries=0, **FAST)
        state = json.loads((tmp_path / "f.bin.part.json").read_text())
        assert state["etag"] == f'"{hashlib.md5(PAYLOAD).hexdigest()}"'
        newer = PAYLOAD[::-1]
        server.files["/f.bin"], server.cut_after = newer, None
        dest = download_url(server.url("/f.bin"), tmp_path / "f.bin", **FAST)
    assert dest.read_bytes() == newer
    assert server.ranges == [None, "bytes=100000-"] and server.if_ranges == [None, state["etag"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_a_part_whose_version_is_unknown_starts_again(tmp_path):
    with Server({"/f.bin": PAYLOAD}, cut_after=100_000, etag=False) as server:
        dest = download_url(server.url("/f.bin"), tmp_path / "f.bin", sha256=SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, None]  # no ETag or Last-Modified to confirm it with


def test_last_modified_confirms_a_resume_when_there_is_no_etag(tmp_path):
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    with Server({"/f.bin": PAYLOAD}, cut_after=100_000, etag=False, last_modified=stamp) as server:
        dest = download_url(server.url("/f.bin"), tmp_path / "f.bin", sha256=SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=100000-"] and server.if_ranges == [None, stamp]


def test_without_content_length_only_a_check_can_complete_a_download(tmp_path):
    """No Content-Length: the bytes are kept only when a size, a SHA-256 or the format check
    (``proof``) says they are the whole file."""
    with Server({"/f.bin": PAYLOAD}, length=False) as server:
        url = server.url("/f.bin")
        with pytest.raises(
            DownloadError, match="no Content-Length.*left in .*f.bin.part, not used"
        ):
            download_url(url, tmp_path / "f.bin", **FAST)
        assert not (tmp_path / "f.bin").exists()
        assert (tmp_path / "f.bin.part").read_bytes() == PAYLOAD
        assert download_url(url, tmp_path / "a.bin", size=len(PAYLOAD), **FAST).is_file()
        assert download_url(url, tmp_path / "b.bin", sha256=SHA, **FAST).is_file()
        seen = []
        assert download_url(url, tmp_path / "c.bin", proof=seen.append, **FAST).is_file()
        assert seen == [tmp_path / "c.bin"]

        def refuse(path):
            raise DataError(f"{path}: not the format")

        with pytest.raises(DownloadError, match="fails the file's check.*not the format"):
            download_url(url, tmp_path / "d.bin", proof=refuse, **FAST)
        with pytest.raises(DownloadError, match="got 300000 bytes, expected 12"):
            download_url(url, tmp_path / "e.bin", size=12, **FAST)
    assert not [p for p in tmp_path.iterdir() if p.name[0] in "de"]


def test_a_cut_archive_without_content_length_fails_the_registrys_check(tmp_path, monkeypatch):
    from fixture_writers import write_eigen_test_zip

    images, depths = patterned_images(2, 480, 640), patterned_depths(2, 480, 640)
    served = write_eigen_test_zip(tmp_path / "served.zip", images, depths).read_bytes()
    with Server({"/m/nyu_test.zip": served}, length=False, cut_after=len(served) // 2) as server:
        monkeypatch.setenv("DEPTHNB_MIRROR", server.url("/m"))
        spec = DATASETS["nyu-eigen-test"]
        dead = dataclasses.replace(spec.files[0], url=server.url("/gone/nyu_test.zip"))
        monkeypatch.setitem(DATASETS, spec.name, dataclasses.replace(spec, files=(dead,)))
        with pytest.raises(DownloadError, match="no Content-Length.*fails the file's check"):
            download_dataset(spec.name, root=tmp_path / "data", retries=0, **FAST)
        assert not (tmp_path / "data" / "nyu" / "nyu_test.zip").exists()
        server.cut_after = None
        path = download_dataset(spec.name, root=tmp_path / "data", **FAST)
    assert path.read_bytes() == served


def test_registry_files_each_have_a_format_check():
    files = {remote.filename for spec in DATASETS.values() for remote in spec.files}
    assert files == set(download.FILE_CHECKS)


def test_an_announced_length_that_disagrees_fails_at_once(tmp_path):
    with Server({"/f.bin": PAYLOAD}) as server:
        with pytest.raises(DownloadError, match="announces 300000 bytes, expected 300001"):
            download_url(server.url("/f.bin"), tmp_path / "f.bin", size=300_001, **FAST)
    assert len(server.paths) == 1 and list(tmp_path.iterdir()) == []


S3_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
)
GCS_ERROR = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code><Message>The "
    b"specified key does not exist.</Message></Error>"
)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"\n\n  <!-- served by nginx -->\n<!DOCTYPE html><html>moved</html>", "a web page"),
        (b"\xef\xbb\xbf<!--a-->\n<!--b-->  <html><body>quota</body></html>", "a web page"),
        (b"   <HTML><HEAD><TITLE>404</TITLE></HEAD></HTML>", "a web page"),
        (S3_ERROR, r"an error document \(AccessDenied: Access Denied\)"),
        (GCS_ERROR, r"an error document \(NoSuchKey: The specified key does not exist.\)"),
    ],
)
def test_pages_and_error_documents_served_with_200_are_refused(tmp_path, body, said):
    with Server({"/f.bin": body}) as server:
        with pytest.raises(DownloadError, match=f"served {said}, not f.bin"):
            download_url(server.url("/f.bin"), tmp_path / "f.bin", **FAST)
    assert list(tmp_path.iterdir()) == []


def test_a_server_trickling_bytes_is_given_up(tmp_path):
    """One byte every 20 ms never trips a 2 s read timeout; the minimum rate stops it."""
    with Server({"/f.bin": PAYLOAD[:2000]}, trickle=0.02) as server:
        start = time.monotonic()
        with pytest.raises(DownloadError, match="too slow: .* under the minimum of 1000 bytes/s"):
            download_url(
                server.url("/f.bin"),
                tmp_path / "f.bin",
                retries=1,
                backoff=0.0,
                timeout=2.0,
                progress=False,
                min_rate=1000,
                stall_window=0.4,
            )
        assert time.monotonic() - start < 3.0
    assert len(server.paths) == 2


class _FullDisk:
    """A binary file that raises ENOSPC once ``room`` bytes were written to it."""

    def __init__(self, file, room: int) -> None:
        self.file, self.room = file, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.file.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


@pytest.mark.parametrize("length", [True, False], ids=["length", "no-length"])
def test_a_full_disk_stops_at_once_and_deletes_the_part(tmp_path, monkeypatch, length):
    from depthnb.hub import transfer

    real_open = open

    def full_disk_open(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        return _FullDisk(file, 150_000) if mode in ("wb", "ab") else file

    monkeypatch.setattr(transfer, "open", full_disk_open, raising=False)
    needs = "needs 0.00 GB in all" if length else "needs more than the 0.00 GB that fitted"
    with Server({"/f.bin": PAYLOAD}, length=length) as server:
        start = time.monotonic()
        with pytest.raises(DownloadError, match=f"filled up after 0.00 GB; the file {needs}"):
            download_url(server.url("/f.bin"), tmp_path / "f.bin", backoff=5.0, progress=False)
        assert time.monotonic() - start < 2.0
    assert len(server.paths) == 1 and list(tmp_path.iterdir()) == []


def test_a_read_only_folder_fails_at_once(tmp_path, monkeypatch):
    from depthnb.hub import transfer

    def read_only(path, mode="r", *args, **kwargs):
        if mode in ("wb", "ab"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(transfer, "open", read_only, raising=False)
    with Server({"/f.bin": PAYLOAD}) as server:
        start = time.monotonic()
        with pytest.raises(DownloadError, match="cannot write .*Read-only file system.*writable"):
            download_url(server.url("/f.bin"), tmp_path / "f.bin", backoff=5.0, progress=False)
        assert time.monotonic() - start < 2.0
    assert len(server.paths) == 1


def test_a_zip_of_no_images_fails_the_download_check(tmp_path, monkeypatch):
    """The CSVs name members that hold no image (empty files): refused, not kept as data."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for split in ("train", "test"):
            z.writestr(f"data/{split}/0.png", b"")
            z.writestr(f"data/{split}/0_depth.png", b"")
            z.writestr(f"data/nyu2_{split}.csv", f"data/{split}/0.png,data/{split}/0_depth.png\n")
    with Server({"/nyu_data.zip": buffer.getvalue()}) as server:
        _local("nyu-zip", server, monkeypatch)
        with pytest.raises(DataError, match="nyu_data.zip:data/train/0.png"):
            download_dataset("nyu-zip", root=tmp_path / "data", **FAST)
