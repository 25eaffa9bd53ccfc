"""Google Drive links: from a share link to the URL that serves the file's bytes.

A Drive share link (``https://drive.google.com/file/d/<id>/view``) opens a viewer page, not the
file. The file comes from Drive's download endpoint (:data:`DRIVE_DOWNLOAD`,
``?id=<id>&export=download``), which serves small files at once and answers large ones (those
it cannot scan for viruses, such as a 165 MB ``nyu.h5``) with a warning page whose form carries
the fields of the real download (``id``, ``export``, ``confirm``, ``uuid``)::

    <form id="download-form" action="https://drive.usercontent.google.com/download" method="get">
      <input type="hidden" name="id" value="..."> <input type="hidden" name="confirm" value="t">
      <input type="hidden" name="uuid" value="..."> ...

Older pages carried the token in a link instead
(``href="/uc?export=download&confirm=XyZ1&id=..."``). :func:`confirmed_url` reads either. Nothing
here touches the network (the request is :func:`depthnb.hub.sources.resolve_source`'s), so the
parsing is tested on its own.

Why not ``gdown``: it scrapes the same page, and its transfers bypass the course's resumable
downloader (``.part`` files resumed with Range, the checks of :func:`~depthnb.data.download_url`);
the confirm flow is these few lines, held by a test against a local imitation of Drive.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from html.parser import HTMLParser

from depthnb.errors import DownloadError

DRIVE_DOWNLOAD = "https://drive.usercontent.google.com/download"
"""Drive's download endpoint; a module constant so that a test can point it at a local server."""

_DRIVE_HOSTS = ("drive.google.com", "docs.google.com", "drive.usercontent.google.com")
_ID_IN_PATH = re.compile(r"/d/([0-9A-Za-z_-]{10,})")
_CONFIRM_LINK = re.compile(r"""href="([^"]*confirm=[^"]+)\"""")


def drive_file_id(url: str) -> str | None:
    """The file id of a Google Drive link (``/file/d/<id>/...``, ``?id=<id>``); None otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in _DRIVE_HOSTS:
        return None
    match = _ID_IN_PATH.search(parts.path)
    if match:
        return match.group(1)
    ids = urllib.parse.parse_qs(parts.query).get("id")
    return ids[0] if ids else None


def drive_download_url(file_id: str) -> str:
    """The first request for a Drive file: ``DRIVE_DOWNLOAD?id=<id>&export=download``."""
    return f"{DRIVE_DOWNLOAD}?{urllib.parse.urlencode({'id': file_id, 'export': 'download'})}"


class _WarningPage(HTMLParser):
    """Collects a page's title and its download form (action and input fields)."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form" and self.action is None:
            self.action, self._in_form = values.get("action", ""), True
        elif tag == "input" and self._in_form and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def confirmed_url(page: str, base: str) -> str:
    """The URL of the file behind Drive's warning ``page`` (HTML), fetched from ``base``.

    Raises:
        DownloadError: the page has no download form or confirm link: Drive refused the file
            (over its download quota, private, or deleted); the message quotes the page's title.
    """
    parser = _WarningPage()
    parser.feed(page)
    if parser.action is not None and ("confirm" in parser.fields or "uuid" in parser.fields):
        action = urllib.parse.urljoin(base, parser.action)
        return f"{action}?{urllib.parse.urlencode(parser.fields)}"
    link = _CONFIRM_LINK.search(page)
    if link:
        return urllib.parse.urljoin(base, html.unescape(link.group(1)))
    title = " ".join(parser.title.split()) or "no title"
    raise DownloadError(
        f"{base}: Google Drive answered with a page ({title!r}) instead of the file: it is over "
        f"its download quota (try again in a day), private, or deleted."
    )
