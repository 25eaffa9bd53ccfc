"""A registry file and the places it can be had: tried in order, checked, or explained by hand.

>>> remote = RemoteFile("https://host/a/nyu.h5", "nyu.h5", mirrors=("https://other/nyu.h5",))
>>> remote.sources()
['https://host/a/nyu.h5', 'https://other/nyu.h5']

``fetch_remote(remote, "data/pretrained/nyu.h5")`` tries ``$DEPTHNB_MIRROR/<file name>`` first
when set (a class mirror), then the original, then each documented mirror, every one through the
resumable :func:`~depthnb.hub.transfer.download_url`. Google Drive links go through Drive's
confirm flow (:mod:`depthnb.hub.gdrive`). A source that answers with a web page or an S3/GCS error
document, sends a file without its length that the entry's check does not accept, or whose file
fails the entry's structural check, is dropped for the next. When all fail, the error lists every
source with its error and says where to put the file by hand.
"""

from __future__ import annotations

import http.client
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthnb.errors import DataError, DownloadError
from depthnb.hub.gdrive import confirmed_url, drive_download_url, drive_file_id
from depthnb.hub.transfer import DISK_ADVICE, _open, _Retry, _verify, download_url, served_instead
from depthnb.utils.files import PathLike, check_free_space

MIRROR_ENV = "DEPTHNB_MIRROR"
"""With ``DEPTHNB_MIRROR=URL`` set, every registry file is tried first at ``URL/<file name>``."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset (or of published weights): where it can be had and its name.

    ``url`` is the original source; ``mirrors`` are further sources known to serve the same file,
    tried in order after it (Google Drive share links included). ``pages`` are places where a
    person can get the file in a browser (a dataset page, a cloud-drive share that needs a
    login); they are never fetched, only named in the by-hand instructions.

    ``size`` is the published file's size in bytes, exact; ``approx_size`` an estimate where no
    exact figure is documented. Either informs the free-space check, the progress bar and
    ``python -m depthnb download --list``; neither is enforced on what arrives, so that a class
    mirror or a rehearsal may serve a stand-in in the real format: the entry's structural check
    judges the file instead. ``sha256`` (hex), when given, is enforced.
    """

    url: str
    filename: str
    size: int | None = None
    sha256: str | None = None
    mirrors: tuple[str, ...] = ()
    approx_size: int | None = None
    pages: tuple[str, ...] = ()

    def sources(self) -> list[str]:
        """The URLs to try, in order: ``$DEPTHNB_MIRROR/<filename>`` first when set."""
        mirror = os.environ.get(MIRROR_ENV, "").strip()
        first = [f"{mirror.rstrip('/')}/{self.filename}"] if mirror else []
        return first + [self.url, *self.mirrors]

    @property
    def expected_bytes(self) -> int | None:
        """``size`` if known, else ``approx_size`` (None when neither is)."""
        return self.size if self.size is not None else self.approx_size


def describe_size(remote: RemoteFile) -> str:
    """``"2.97 GB"``, ``"173 MB"``, ``"2,626 bytes"`` (exact), ``"about 4.1 GB"`` (approximate)
    or ``"size unknown"``."""
    number = remote.expected_bytes
    if number is None:
        return "size unknown"
    if number >= 1e9:
        shown = f"{number / 1e9:.3g} GB"
    elif number >= 1e6:
        shown = f"{number / 1e6:.3g} MB"
    else:
        shown = f"{number:,} bytes"
    return shown if remote.size is not None else f"about {shown}"


def resolve_source(url: str, timeout: float = 30.0) -> str:
    """The URL that serves ``url``'s bytes: itself, or for a Google Drive link the download
    endpoint, past Drive's "cannot scan for viruses" page when it shows one.

    Raises:
        DownloadError: Drive could not be reached, or refused the file (quota, private, gone).
    """
    file_id = drive_file_id(url)
    if file_id is None:
        return url
    first = drive_download_url(file_id)
    try:
        response = _open(first, timeout)
        with response:
            if response.headers.get_content_type() != "text/html":
                return first  # served at once: download_url asks again, resumably
            page = response.read(1 << 20).decode("utf-8", "replace")
            base = response.geturl()
    except (_Retry, OSError, http.client.HTTPException) as problem:
        raise DownloadError(f"{first}: {str(problem) or type(problem).__name__}") from problem
    return confirmed_url(page, base)


def _accept(path: Path, remote: RemoteFile, check: Callable[[Path], Any] | None, url: str) -> Path:
    """Return ``path`` if it is the file: not a web page or an error document, right SHA-256,
    passes ``check``."""
    instead = served_instead(path)
    if instead is not None:
        raise DownloadError(f"{url}: served {instead}, not {remote.filename}")
    _verify(path, None, remote.sha256, url)
    if check is not None:
        check(path)
    return path


def fetch_remote(
    remote: RemoteFile,
    dest: PathLike,
    check: Callable[[Path], Any] | None = None,
    progress: bool = True,
    relative: str | None = None,
    **download_kw: Any,
) -> Path:
    """Download ``remote`` to ``dest`` from the first of its sources that serves it; return dest.

    An existing ``dest`` that passes the checks is returned at once. Otherwise the disk must hold
    the file's size (:attr:`RemoteFile.expected_bytes`; with a class mirror set, the size that
    the mirror announces, checked by :func:`download_url`, since a rehearsal serves stand-ins),
    and each source goes through :func:`download_url` (resumable; ``download_kw``: retries,
    timeout, backoff, min_rate, stall_window, and ``proof``, the format check that judges a
    transfer without a Content-Length, ``check`` by default). A source that serves a web page
    instead of the file, or a file that fails ``check(path)`` (DataError), is dropped for the
    next; a transfer that broke leaves its
    ``.part`` for the next source, or the next run, to resume. ``relative`` is ``dest``'s path
    inside the data folder (e.g. ``"nyu/nyu_test.zip"``), named in the Colab instructions when
    everything fails.

    Raises:
        DownloadError: too little free disk, or no source served the file; the message lists each
            source with its error and how to put the file in place by hand.
    """
    dest = Path(dest)
    if dest.is_file():
        try:
            return _accept(dest, remote, check, str(dest))
        except (DownloadError, DataError):
            dest.unlink(missing_ok=True)  # stale or damaged: fetch it again
    part = dest.with_name(dest.name + ".part")
    if remote.expected_bytes and not os.environ.get(MIRROR_ENV, "").strip():
        have = part.stat().st_size if part.is_file() else 0
        check_free_space(
            dest.parent,
            max(remote.expected_bytes - have, 0),
            f"downloading {remote.filename} ({describe_size(remote)}) into {dest.parent}",
            DISK_ADVICE,
            spare=0,
            error=DownloadError,
        )
    tried = []
    timeout = float(download_kw.get("timeout", 30.0))
    for url in remote.sources():
        target = url
        try:
            target = resolve_source(url, timeout)
            path = download_url(
                target, dest, remote.sha256, progress=progress, **{"proof": check, **download_kw}
            )
            return _accept(path, remote, check, url)
        except (DownloadError, DataError) as error:
            reason = str(error)
            for prefix in (f"{target}: ", f"{url}: "):
                reason = reason.removeprefix(prefix)
            tried.append(f"  - {url}: {reason}")
            dest.unlink(missing_ok=True)
    raise DownloadError(_by_hand(remote, dest, tried, relative))


def _by_hand(remote: RemoteFile, dest: Path, tried: list[str], relative: str | None) -> str:
    """The message when every source failed: what was tried, and how to put the file in place."""
    from depthnb.utils.paths import drive_data_dir

    part = dest.with_name(dest.name + ".part")
    pages = "".join(f"\n     {page}" for page in remote.pages)
    count = f"any of its {len(tried)} sources" if len(tried) > 1 else "its only source"
    lines = [
        f"could not download {remote.filename} ({describe_size(remote)}) from {count}:",
        *tried,
        "Put it in place by hand:",
        "  1. Download it in a browser from one of the links above"
        + (f", or from:{pages}" if pages else "")
        + "\n     (or copy it from a classmate or your instructor).",
        f"  2. Save it as {dest.resolve()} and run the same command again: it is checked "
        f"there, not downloaded again.",
    ]
    if relative:
        on_drive = drive_data_dir() / relative
        shown = on_drive.relative_to(drive_data_dir().parents[1])  # MyDrive/depthnb_data/...
        lines.append(
            f"  In Colab, upload it to Google Drive as {shown} ({on_drive}) and start the "
            f"lesson with depthnb.notebook.setup(drive=True), so the course reads its data from "
            f"Drive (it stays there for the next session)."
        )
    if part.is_file():
        lines.append(
            f"{part.stat().st_size / 1e9:.2f} GB of it are already in {part}: running the same "
            f"command again resumes from there."
        )
    host = urllib.parse.urlsplit(remote.url).hostname
    lines.append(
        f"An instructor can serve every file of the course from one place: with {MIRROR_ENV}=URL "
        f"each download tries URL/{remote.filename} first (before {host})."
    )
    return "\n".join(lines)
