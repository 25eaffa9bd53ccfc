"""Transfers behind every download (:mod:`depthnb.data.download`, :mod:`depthnb.models.pretrained`):
resumable, retried, verified downloads of one URL (:func:`download_url`), archive extraction that
stays inside its target (:func:`safe_extract`) and whether a server answers (:func:`reachable`).
Trying a file at each of its sources is :mod:`depthnb.hub.sources`' job."""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tqdm.auto import tqdm

from depthnb.errors import DataError, DownloadError
from depthnb.hub.extract import safe_extract as safe_extract
from depthnb.utils.files import PathLike, check_free_space

CHUNK = 1 << 20
MIN_RATE = 1024.0
"""Bytes per second a transfer must average over every :data:`STALL_WINDOW` seconds."""
STALL_WINDOW = 60.0
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_BOM = rb"(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*"  # a byte-order mark, white space, comments
_PAGE = re.compile(_BOM + rb"<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_XML_ERROR = re.compile(_BOM + rb"<\?xml[^>]*\?>\s*(?:<!--.*?-->\s*)*<Error>", re.S)
_TAGS = (b"Code", b"Message")
USER_AGENT = "depthnb (https://github.com/depthnb/depthnb)"
DISK_ADVICE = (
    "free some space, or use a data folder on a larger disk (DEPTHNB_DATA=folder; in Colab, "
    "Google Drive: depthnb.notebook.setup(drive=True))"
)


class _Retry(Exception):
    """A transfer failed in a way that another attempt (resuming) may fix."""


class _Restart(_Retry):
    """The ``.part`` cannot be continued (HTTP 416): another attempt starts from byte 0."""


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/200`` -> (100, 200); None for what is absent or malformed (``*``)."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    try:
        start = int(span.split("-", 1)[0])
    except ValueError:
        return None, None
    return start, int(total) if total.strip().isdigit() else None


def _open(url: str, timeout: float, headers: dict[str, str] | None = None) -> Any:
    """Open ``url`` with the extra request ``headers`` (Range, If-Range).

    Raises:
        _Restart: HTTP 416, the server does not recognise what we hold as a prefix.
        _Retry: a failure worth another attempt (timeouts, resets, 408/429/5xx).
        DownloadError: a failure that retrying cannot fix (404, refused connection, unknown host).
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and headers and "Range" in headers:
            raise _Restart(f"HTTP 416 for a resume ({headers['Range']})") from error
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


def _state_file(part: Path) -> Path:
    """``<dest>.part.json``: the version of the file that ``<dest>.part`` holds the start of."""
    return part.with_name(part.name + ".json")


def _discard(part: Path) -> None:
    """Delete ``part`` and its state file."""
    part.unlink(missing_ok=True)
    _state_file(part).unlink(missing_ok=True)


def _validator(part: Path) -> str | None:
    """What ``If-Range`` may carry for ``part``: the strong ETag the server sent with its first
    byte, else its Last-Modified; None when neither was sent (then ``part`` cannot be resumed)."""
    try:
        state = json.loads(_state_file(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    etag = state.get("etag")
    if isinstance(etag, str) and etag and not etag.startswith("W/"):
        return etag  # weak ETags are not allowed in If-Range (RFC 9110, 13.1.5)
    modified = state.get("last_modified")
    return modified if isinstance(modified, str) and modified else None


def _resume_headers(part: Path) -> tuple[int, dict[str, str]]:
    """(bytes held, request headers): a Range from the end of ``part`` with If-Range, or
    (0, {}) after deleting a ``part`` whose version is unknown."""
    have = part.stat().st_size if part.exists() else 0
    validator = _validator(part) if have else None
    if validator is None:
        _discard(part)
        return 0, {}
    return have, {"Range": f"bytes={have}-", "If-Range": validator}


def _served_instead(head: bytes) -> str | None:
    """What a server sent in place of a file, judged from its first bytes: "a web page"
    (HTML, also after a byte-order mark, white space or comments), "an error document (Code:
    message)" (S3's or Google Cloud Storage's XML error, served with status 200), or None."""
    if _PAGE.match(head):
        return "a web page"
    if not _XML_ERROR.match(head):
        return None
    code, message = (re.search(rb"<%s>(.*?)</%s>" % (tag, tag), head, re.S) for tag in _TAGS)
    detail = ": ".join(
        found.group(1).decode("utf-8", "replace").strip() for found in (code, message) if found
    )
    return f"an error document ({detail or 'no details'})"


def served_instead(path: Path) -> str | None:
    """:func:`_served_instead` on the first 64 KB of the file ``path``."""
    with open(path, "rb") as file:
        return _served_instead(file.read(1 << 16))


def _disk_full(url: str, part: Path, written: int, total: int | None) -> DownloadError:
    """Delete ``part`` and say how much space the file needs."""
    _discard(part)
    needed = (
        f"{total / 1e9:.2f} GB in all"
        if total
        else f"more than the {written / 1e9:.2f} GB that fitted (the server did not say how much)"
    )
    return DownloadError(
        f"{url}: the disk holding {part.parent} filled up after {written / 1e9:.2f} GB; the file "
        f"needs {needed}. Deleted {part.name}: {DISK_ADVICE}."
    )


@dataclass
class _Pace:
    """A transfer's minimum rate: at least ``min_rate`` bytes/s over every ``window`` seconds."""

    min_rate: float
    window: float
    start: float = 0.0
    bytes: int = 0

    def __post_init__(self) -> None:
        self.start = time.monotonic()

    def add(self, count: int) -> None:
        """Count ``count`` bytes; raise _Retry when a window ends below the minimum rate."""
        self.bytes += count
        elapsed = time.monotonic() - self.start
        if elapsed < self.window:
            return
        if self.bytes < self.min_rate * elapsed:
            raise _Retry(
                f"too slow: {self.bytes} bytes in {elapsed:.1f} s, under the minimum of "
                f"{self.min_rate:.0f} bytes/s"
            )
        self.start, self.bytes = time.monotonic(), 0


def _start(
    url: str, part: Path, response: Any, have: int, size: int | None
) -> tuple[int, int | None]:
    """Check a response before its body: (bytes of ``part`` kept, the file's total size if
    announced). A new ``part`` (``have`` 0) gets a state file recording the version served.

    Raises:
        _Retry: a resume that the server answered from another byte or for another length.
        DownloadError: the announced length is not ``size``.
    """
    headers = response.headers
    start, total = _parse_content_range(headers.get("Content-Range"))
    if have and response.status == 206:
        if start != have:
            _discard(part)
            raise _Retry(f"server resumed at byte {start}, not {have}")
    else:
        have = 0  # 200: the whole file again (another version, or Range unsupported)
    length = headers.get("Content-Length")
    if length is not None and length.strip().isdigit():
        total = have + int(length)
    if size is not None and total is not None and total != size:
        _discard(part)
        raise DownloadError(
            f"{url}: the server announces {total} bytes, expected {size}: another file or "
            f"version. Nothing was kept."
        )
    if not have:
        state = {"url": url, "etag": headers.get("ETag"), "total": total}
        state["last_modified"] = headers.get("Last-Modified")
        try:
            _state_file(part).write_text(json.dumps(state), encoding="utf-8")
        except OSError as error:
            raise _cannot_write(url, part, error, 0, total) from error
    return have, total


def _cannot_write(
    url: str, part: Path, error: OSError, written: int, total: int | None
) -> DownloadError:
    """The error for a failed write to ``part``: a full disk deletes it and says how much the
    file needs; anything else (a read-only or vanished folder) says what to check."""
    if error.errno in _DISK_FULL:
        return _disk_full(url, part, written, total)
    return DownloadError(
        f"{url}: cannot write {part} ({error}); check that the folder exists and is writable, "
        f"or choose another data folder (DEPTHNB_DATA=folder)."
    )


def _body(
    url: str,
    part: Path,
    response: Any,
    sizes: tuple[int, int | None],
    pace: _Pace,
    label: str | None,
) -> int:
    """Append the response's body to ``part`` (which holds ``sizes[0]`` bytes of ``sizes[1]``);
    return the bytes received. A progress bar is shown when ``label`` is given.

    Raises:
        _Retry: reading broke, timed out or stalled; ``part`` keeps what arrived.
        DownloadError: writing failed (a full disk deletes ``part``).
    """
    have, total = sizes
    received = 0
    try:
        out = open(part, "ab" if have else "wb", buffering=0)  # nothing left to flush at close
    except OSError as error:
        raise _cannot_write(url, part, error, have, total) from error
    bar = tqdm(
        total=total,
        initial=have,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=label,
        disable=label is None,
    )
    read = getattr(response, "read1", response.read)  # read1: what has arrived, not CHUNK bytes
    with out, bar:
        while True:
            try:
                chunk = read(CHUNK)
            except (OSError, http.client.HTTPException) as error:
                raise _Retry(str(error) or type(error).__name__) from error
            if not chunk:
                return received
            try:
                view = memoryview(chunk)
                while view:
                    view = view[out.write(view) or 0 :]
            except OSError as error:
                raise _cannot_write(url, part, error, have + received, total) from error
            received += len(chunk)
            bar.update(len(chunk))
            pace.add(len(chunk))


def _transfer(
    url: str, part: Path, timeout: float, progress: bool, label: str, size: int | None, pace: _Pace
) -> bool:
    """One attempt: write what the server sends to ``part``, resuming from its end when the
    server confirms (If-Range) that it still serves the version ``part`` holds the start of.

    Returns:
        Whether the transfer is provably complete: the server announced a length (and all of it
        arrived) or ended a chunked body properly.

    Raises:
        _Retry: the connection broke, timed out, stalled or ended short; ``part`` keeps what came.
        DownloadError: a failure that retrying cannot fix (404, a wrong length, a full disk).
    """
    have, headers = _resume_headers(part)
    try:
        response = _open(url, timeout, headers)
    except _Restart:
        _discard(part)
        raise
    with response:
        have, total = _start(url, part, response, have, size)
        to_go = None if total is None else total - have
        if to_go:  # before a byte is written: the file must fit
            action = f"downloading {label} ({to_go / 1e6:.1f} MB to go) into {part.parent}"
            try:
                check_free_space(part.parent, to_go, action, DISK_ADVICE, 0, DownloadError)
            except DownloadError:
                _discard(part)
                raise
        received = _body(url, part, response, (have, total), pace, label if progress else None)
        chunked = bool(getattr(response, "chunked", False))
    if to_go is not None and received < to_go:
        raise _Retry(f"connection closed after {have + received} of {total} bytes")
    return to_go is not None or chunked


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


def _prove(url: str, dest: Path, part: Path, proof: Callable[[Path], Any] | None) -> None:
    """Move ``part``, a transfer without an announced length, to ``dest`` only if ``proof(dest)``
    (a format check) judges it whole.

    Raises:
        DownloadError: there is no ``proof`` (``part`` is kept, to resume or inspect, never
            used), or ``proof`` refused it (then nothing is kept).
    """
    if proof is None:
        raise DownloadError(
            f"{url}: the server did not say how long the file is (no Content-Length) and no "
            f"size, SHA-256 or format check was given, so the {part.stat().st_size:,} bytes "
            f"that arrived cannot be shown to be the whole file; they are left in {part}, not "
            f"used. Try another source, or pass size= or sha256=."
        )
    os.replace(part, dest)
    try:
        proof(dest)
    except (DataError, DownloadError) as error:
        dest.unlink(missing_ok=True)
        raise DownloadError(
            f"{url}: the server did not say how long the file is (no Content-Length), and what "
            f"arrived fails the file's check, so it is incomplete or the wrong file; deleted. "
            f"({error})"
        ) from error


def download_url(
    url: str,
    dest: PathLike,
    sha256: str | None = None,
    size: int | None = None,
    retries: int = 5,
    timeout: float = 30.0,
    backoff: float = 2.0,
    progress: bool = True,
    *,
    proof: Callable[[Path], Any] | None = None,
    min_rate: float = MIN_RATE,
    stall_window: float = STALL_WINDOW,
) -> Path:
    """Download ``url`` to ``dest`` (a file path), resumably; return ``dest``.

    Bytes go to ``dest + ".part"``; the validator the server sent with the first byte (its ETag,
    else Last-Modified) goes to ``dest + ".part.json"``. An interrupted transfer resumes with a
    Range request carrying that validator in ``If-Range``, so the server sends the rest only if
    the file is still the same version, and the whole file otherwise; a ``.part`` with no
    validator starts again. Broken, timed-out or stalled transfers (under ``min_rate`` bytes/s
    over any ``stall_window`` seconds, so a server trickling bytes cannot hold it forever) are
    retried ``retries`` times, waiting ``backoff * 2**attempt`` seconds. A refused connection,
    an unknown host, an HTTP 4xx, an announced length other than ``size``, a web page or an
    S3/GCS error document served with status 200, or a full disk fail at once (a full disk
    deletes the ``.part`` and says how much space the file needs).

    A transfer is complete when all of an announced length arrived (or a chunked body ended
    properly); one without a length must pass the ``size`` or ``sha256`` check, or
    ``proof(dest)`` (a format check, raising DataError), to be kept. The size and SHA-256 are
    checked when given, then the file is renamed to ``dest``. An existing ``dest`` that passes
    the checks is returned without downloading.

    Args:
        timeout: seconds to wait for the connection and for each read, so nothing hangs.
        progress: show a tqdm progress bar (bytes).

    Raises:
        DownloadError: the transfer failed for good, or delivered the wrong bytes (then nothing
            is left at ``dest``; a ``.part`` stays only where a rerun may resume it).
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
            complete = _transfer(
                url, part, timeout, progress, dest.name, size, _Pace(min_rate, stall_window)
            )
            break
        except _Retry as problem:
            if attempt == retries:
                raise DownloadError(
                    f"{url}: gave up after {retries + 1} attempts ({problem}). Run the same "
                    f"command again to resume from {part}."
                ) from problem
            time.sleep(backoff * 2**attempt)
    instead = served_instead(part)
    if instead is not None:
        _discard(part)
        raise DownloadError(f"{url}: served {instead}, not {dest.name}")
    _state_file(part).unlink(missing_ok=True)
    _verify(part, size, sha256, url)
    if complete or size is not None or sha256 is not None:
        os.replace(part, dest)
    else:
        _prove(url, dest, part, proof)
    return dest


def reachable(url: str, timeout: float) -> str | None:
    """None if a TCP connection to the URL's host opens within ``timeout`` s, else the reason.

    Runs in a daemon thread so that a stalled DNS lookup cannot hang the caller.
    """
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(f"{type(error).__name__}: {error}")

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return outcome[0] if outcome else f"no answer from {parsed.hostname}:{port} in {timeout:g} s"
