"""Google Drive links: ids from share links, the virus-scan warning page's confirm flow, against a
local server that imitates Drive's download endpoint (nothing leaves 127.0.0.1)."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from test_download import FAST, PAYLOAD, SHA, Server

from depthnb.errors import DownloadError
from depthnb.hub import gdrive
from depthnb.hub.sources import RemoteFile, fetch_remote, resolve_source

FILE_ID = "19dfvGvDfCRYaqxVKypp1fRHwK7XtSjVu"
SHARE_LINK = f"https://drive.google.com/file/d/{FILE_ID}/view?usp=sharing"


def warning_page(action: str, uuid: str = "5d6c-uuid") -> bytes:
    """Drive's page for a file too large to scan (the shape of drive.usercontent.google.com's)."""
    return f"""<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>
<body><div class="uc-main"><p class="uc-warning-caption">Google Drive can't scan this file
for viruses.</p><p>nyu.h5 (165M) is too large for Google to scan.</p>
<form id="download-form" action="{action}" method="get">
<input type="submit" id="uc-download-link" class="jfk-button" value="Download anyway"/>
<input type="hidden" name="id" value="{FILE_ID}">
<input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="{uuid}">
</form></div></body></html>""".encode()


def first_request() -> str:
    return f"/download?id={FILE_ID}&export=download"


@pytest.mark.parametrize(
    "url",
    [
        SHARE_LINK,
        f"https://drive.google.com/file/d/{FILE_ID}/view?usp=drivesdk",
        f"https://drive.google.com/uc?id={FILE_ID}&export=download",
        f"https://drive.usercontent.google.com/download?id={FILE_ID}&export=download&confirm=t",
        f"https://docs.google.com/uc?export=download&id={FILE_ID}",
    ],
)
def test_drive_links_give_their_file_id(url):
    assert gdrive.drive_file_id(url) == FILE_ID


def test_other_links_are_not_drive_links():
    assert gdrive.drive_file_id("https://s3-eu-west-1.amazonaws.com/densedepth/nyu.h5") is None
    assert gdrive.drive_file_id(f"https://example.org/file/d/{FILE_ID}/view") is None
    assert resolve_source("http://127.0.0.1:9/nyu.h5") == "http://127.0.0.1:9/nyu.h5"  # no request


def test_the_warning_form_gives_the_confirmed_url():
    page = warning_page("https://drive.usercontent.google.com/download").decode()
    url = gdrive.confirmed_url(page, "https://drive.usercontent.google.com/download?id=x")
    parts = urllib.parse.urlsplit(url)
    assert (parts.netloc, parts.path) == ("drive.usercontent.google.com", "/download")
    assert urllib.parse.parse_qs(parts.query) == {
        "id": [FILE_ID],
        "export": ["download"],
        "confirm": ["t"],
        "uuid": ["5d6c-uuid"],
    }


def test_the_older_confirm_link_gives_the_confirmed_url():
    page = (
        '<html><body><a id="uc-download-link" href="/uc?export=download&amp;confirm=XyZ1&amp;'
        f'id={FILE_ID}">Download anyway</a></body></html>'
    )
    url = gdrive.confirmed_url(page, "https://drive.google.com/uc?export=download&id=x")
    assert url == f"https://drive.google.com/uc?export=download&confirm=XyZ1&id={FILE_ID}"


def test_a_page_without_a_form_says_drive_refused():
    page = (
        "<html><head><title>Google Drive - Quota exceeded</title></head><body>Sorry</body></html>"
    )
    with pytest.raises(DownloadError, match=r"'Google Drive - Quota exceeded'.*quota"):
        gdrive.confirmed_url(page, "https://drive.usercontent.google.com/download?id=x")


def test_a_large_drive_file_is_fetched_past_the_warning_and_resumed(tmp_path, monkeypatch):
    """Share link -> download endpoint -> warning page -> the form's URL, which serves the file;
    its transfer is cut once and resumed with Range at the confirmed URL."""
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    confirmed = f"{first_request()}&confirm=t&uuid=5d6c-uuid"
    html = {first_request(): "text/html; charset=utf-8"}
    with Server({confirmed: PAYLOAD}, cut_after=100_000, cut_request=2, types=html) as drive:
        drive.files[first_request()] = warning_page(drive.url("/download"))
        monkeypatch.setattr(gdrive, "DRIVE_DOWNLOAD", drive.url("/download"))
        remote = RemoteFile(SHARE_LINK, "nyu.h5", sha256=SHA)
        path = fetch_remote(remote, tmp_path / "nyu.h5", **FAST)
    assert path.read_bytes() == PAYLOAD
    assert drive.paths == [first_request(), confirmed, confirmed]
    assert drive.ranges == [None, None, "bytes=100000-"]


def test_a_small_drive_file_served_at_once_needs_no_confirm(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    with Server(
        {first_request(): PAYLOAD}, types={first_request(): "application/octet-stream"}
    ) as drive:
        monkeypatch.setattr(gdrive, "DRIVE_DOWNLOAD", drive.url("/download"))
        path = fetch_remote(RemoteFile(SHARE_LINK, "f.bin", sha256=SHA), tmp_path / "f.bin", **FAST)
    assert path.read_bytes() == PAYLOAD
    assert drive.paths == [first_request(), first_request()]  # resolved, then fetched resumably


def test_a_drive_over_its_quota_is_dropped_for_the_next_source(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    quota = b"<html><head><title>Google Drive - Quota exceeded</title></head></html>"
    files = {first_request(): quota, "/s3/f.bin": PAYLOAD}
    with Server(files, types={first_request(): "text/html"}) as server:
        monkeypatch.setattr(gdrive, "DRIVE_DOWNLOAD", server.url("/download"))
        remote = RemoteFile(SHARE_LINK, "f.bin", sha256=SHA, mirrors=(server.url("/s3/f.bin"),))
        assert fetch_remote(remote, tmp_path / "f.bin", **FAST).read_bytes() == PAYLOAD
        remote = RemoteFile(SHARE_LINK, "f.bin", sha256=SHA)
        with pytest.raises(DownloadError, match=rf"{re.escape(SHARE_LINK)}: .*Quota exceeded"):
            fetch_remote(remote, tmp_path / "g.bin", **FAST)
