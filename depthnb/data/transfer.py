"""Transfers behind :mod:`depthnb.data.download`: resumable, retried, verified downloads of one
URL (:func:`download_url`) and archive extraction that stays inside its target
(:func:`safe_extract`). Trying a file at each of its sources is :mod:`depthnb.data.sources`' job."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from depthnb.data.extract import safe_extract as safe_extract
from depthnb.data.io import PathLike
from depthnb.errors import DownloadError
from depthnb.files import check_free_space

CHUNK = 1 << 20
USER_AGENT = "depthnb (https://github.com/depthnb/depthnb)"
DISK_ADVICE = (
    "free some space, or use a data folder on a larger disk (DEPTHNB_DATA=folder; in Colab, "
    "Google Drive: depthnb.notebook.setup(drive=True))"
)


class _Retry(Exception):
    """A transfer failed in a way that another attempt (resuming) may fix."""


def _parse_content_range_start(value: str | None) -> int | None:
    """``bytes 100-199/200`` -> 100; None when absent or malformed."""
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _open(url: str, timeout: float, part: Path | None = None, have: int = 0) -> Any:
    """Open ``url``, asking for the bytes from ``have`` on when ``part`` holds that many.

    Raises:
        _Retry: a failure worth another attempt (timeouts, resets, 408/429/5xx, a 416 resume).
        DownloadError: a failure that retrying cannot fix (404, refused connection, unknown host).
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and part is not None and have:
            part.unlink()  # what we hold is not a prefix the server recognises: start over
            raise _Retry(f"HTTP 416 for a resume from byte {have}") from error
        if error.code in (408, 429) or error.code >= 500:
            raise _Retry(f"HTTP {error.code} {error.reason}") from error
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}.") from error
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise _Retry(f"timed out after {timeout} s") from error
        if isinstance(reason, (ConnectionResetError, ConnectionAbortedError)):
            raise _Retry(str(reason)) from error
        raise DownloadError(
            f"{url}: cannot connect ({reason}). Check the network connection (offline?) and the "
            f"address."
        ) from error
    except (OSError, http.client.HTTPException) as error:
        raise _Retry(str(error) or type(error).__name__) from error


def _transfer(url: str, part: Path, timeout: float, progress: bool, label: str) -> None:
    """One attempt: append what the server sends to ``part``, resuming from its current size.

    Raises:
        _Retry: the connection broke, timed out, or ended short; ``part`` keeps what arrived.
        DownloadError: a failure that retrying cannot fix (404, refused connection, unknown host).
    """
    have = part.stat().st_size if part.exists() else 0
    response = _open(url, timeout, part, have)
    with response:
        if have and response.status == 206:
            start = _parse_content_range_start(response.headers.get("Content-Range"))
            if start != have:
                part.unlink()
                raise _Retry(f"server resumed at byte {start}, not {have}")
        elif have:
            have = 0  # the server ignored Range (200): it sends everything again
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if expected:  # before a byte is written: the file must fit
            action = f"downloading {label} ({expected / 1e6:.1f} MB to go) into {part.parent}"
            check_free_space(part.parent, expected, action, DISK_ADVICE, 0, DownloadError)
        received = 0
        try:
            with (
                open(part, "ab" if have else "wb") as out,
                tqdm(
                    total=have + expected if expected is not None else None,
                    initial=have,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=label,
                    disable=not progress,
                ) as bar,
            ):
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as error:
            raise _Retry(str(error) or type(error).__name__) from error
    if expected is not None and received < expected:
        raise _Retry(f"connection closed after {have + received} of {have + expected} bytes")


def _verify(path: Path, size: int | None, sha256: str | None, url: str) -> None:
    """Raise DownloadError (and delete ``path``) unless its size and SHA-256 are as given."""
    if size is not None and path.stat().st_size != size:
        actual = path.stat().st_size
        path.unlink()
        raise DownloadError(f"{url}: got {actual} bytes, expected {size}; deleted. Try again.")
    if sha256 is not None:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                digest.update(block)
        if digest.hexdigest() != sha256.lower():
            path.unlink()
            raise DownloadError(
                f"{url}: SHA-256 is {digest.hexdigest()}, expected {sha256.lower()}: the server "
                f"sent the wrong bytes; deleted. Try again later or report the broken link."
            )


def download_url(
    url: str,
    dest: PathLike,
    sha256: str | None = None,
    size: int | None = None,
    retries: int = 5,
    timeout: float = 30.0,
    backoff: float = 2.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (a file path), resumably; return ``dest``.

    Bytes go to ``dest + ".part"``; an interrupted transfer resumes from there with an HTTP Range
    request (a server that ignores Range and answers 200 makes it start over). Broken or timed-out
    transfers are retried ``retries`` times, waiting ``backoff * 2**attempt`` seconds; a refused
    connection, an unknown host, an HTTP 4xx, or a size (Content-Length) that the disk cannot
    hold fail at once. When complete, the size and SHA-256
    (hex) are checked if given, and the file is renamed to ``dest``. An existing ``dest`` that
    passes the checks is returned without downloading.

    Args:
        timeout: seconds to wait for the connection and for each read, so nothing hangs.
        progress: show a tqdm progress bar (bytes).

    Raises:
        DownloadError: the transfer failed for good, or delivered the wrong bytes (then nothing
            is left at ``dest`` or ``dest.part``).
    """
    dest = Path(dest)
    if dest.is_file():
        try:
            _verify(dest, size, sha256, url)
            return dest
        except DownloadError:
            pass  # _verify deleted the stale file; download it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout, progress, dest.name)
            break
        except _Retry as problem:
            if attempt == retries:
                raise DownloadError(
                    f"{url}: gave up after {retries + 1} attempts ({problem}). Run the same "
                    f"command again to resume from {part}."
                ) from problem
            time.sleep(backoff * 2**attempt)
    _verify(part, size, sha256, url)
    os.replace(part, dest)
    return dest
