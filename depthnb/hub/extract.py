"""Archive extraction that cannot write outside its target, on any supported Python.

>>> with zipfile.ZipFile("demo.zip", "w") as archive:           # or a tar, any compression
...     archive.writestr("rgb/0001.txt", "hello")
>>> safe_extract("demo.zip", "staging")
PosixPath('...staging')
>>> Path("staging/rgb/0001.txt").read_text()
'hello'

:func:`safe_extract` never hands an archive to ``tarfile.extractall`` or ``ZipFile.extractall``:
their safety depends on the interpreter's release (which ones have ``tarfile``'s ``filter``, and
which can be bypassed: docs/notes.md). Instead, in two passes:

1. every member is checked before anything is written: a name must be relative, without ``..``,
   a drive letter or a NUL byte, and the member a regular file or a folder. Symbolic links and
   hard links (in a zip: members whose mode says ``S_IFLNK``), devices and fifos are refused; no
   dataset the course reads holds one. So is a file that another member needs as a folder.
2. folders are made first, then each file is written by this module: every folder on the way
   must be a real folder (``lstat``, never followed through a link), a file is opened with
   ``O_NOFOLLOW``, and the ``realpath`` of everything created is checked to lie inside the target.

Files get mode ``0o666 & ~umask`` and folders ``0o777 & ~umask`` (what ``open``/``mkdir`` give
by default); the archive's own mode bits are ignored.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from depthnb.errors import ArchiveError
from depthnb.utils.files import PathLike

_DRIVE = re.compile(r"^[A-Za-z]:")
_COPY = 1 << 20


@dataclass(frozen=True)
class _Entry:
    """One member to extract: its parts below the target, whether a folder, how to read it."""

    parts: tuple[str, ...]
    is_dir: bool
    open: Callable[[], AbstractContextManager[IO[bytes]]]


def _refuse(archive: Path, name: str, why: str) -> ArchiveError:
    return ArchiveError(
        f"{archive}: member {name!r} {why}; refusing to extract the archive. It is corrupt or "
        f"malicious: delete it (and download it again from the original source)."
    )


def _parts(archive: Path, name: str, target: Path) -> tuple[str, ...]:
    """The path components of member ``name`` (none for the target itself, ``./``); ArchiveError
    unless it stays below ``target``."""
    text = name.replace("\\", "/")
    pure = PurePosixPath(text)
    if "\x00" in text or pure.is_absolute() or _DRIVE.match(text) or ".." in pure.parts:
        raise _refuse(archive, name, f"would be written outside {target}")
    return tuple(part for part in pure.parts if part not in ("", "."))


def _tar_entries(archive: Path, tar: tarfile.TarFile, target: Path) -> Iterator[_Entry]:
    for member in tar.getmembers():
        parts = _parts(archive, member.name, target)
        if member.issym() or member.islnk():
            kind = "symbolic link" if member.issym() else "hard link"
            raise _refuse(archive, member.name, f"is a {kind} (to {member.linkname!r})")
        if not (member.isreg() or member.isdir()):
            raise _refuse(archive, member.name, "is a device, fifo or other special file")
        if not parts and member.isdir():
            continue  # "./", the target itself
        if not parts:
            raise _refuse(archive, member.name, "names no file")
        yield _Entry(parts, member.isdir(), _tar_opener(tar, member))


def _tar_opener(
    tar: tarfile.TarFile, member: tarfile.TarInfo
) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    def open_member() -> AbstractContextManager[IO[bytes]]:
        stream = tar.extractfile(member)
        if stream is None:  # folders, links and special files: never opened
            raise tarfile.ReadError(f"no data for {member.name}")
        return stream

    return open_member


def _zip_entries(archive: Path, z: zipfile.ZipFile, target: Path) -> Iterator[_Entry]:
    for info in z.infolist():
        parts = _parts(archive, info.filename, target)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise _refuse(archive, info.filename, "is a symbolic link")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _refuse(archive, info.filename, "is a device, fifo or other special file")
        is_dir = info.is_dir() or kind == stat.S_IFDIR
        if not parts and is_dir:
            continue  # "./", the target itself
        if not parts:
            raise _refuse(archive, info.filename, "names no file")
        yield _Entry(parts, is_dir, _zip_opener(z, info))


def _zip_opener(
    z: zipfile.ZipFile, info: zipfile.ZipInfo
) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    return lambda: z.open(info)


def _plan(archive: Path, entries: list[_Entry]) -> tuple[list[tuple[str, ...]], list[_Entry]]:
    """(every folder to make, parents first; the files), or ArchiveError where a file is also
    needed as a folder."""
    folders = {entry.parts for entry in entries if entry.is_dir}
    for entry in entries:
        folders.update(entry.parts[:i] for i in range(1, len(entry.parts)))
    files = [entry for entry in entries if not entry.is_dir]
    for entry in files:
        if entry.parts in folders:
            raise _refuse(archive, "/".join(entry.parts), "is a file and also a folder")
    return sorted(folders, key=lambda parts: (len(parts), parts)), files


def _inside(path: Path, target: Path, archive: Path, name: str) -> None:
    """ArchiveError unless the real path of ``path`` (now on disk) lies inside ``target``."""
    if not Path(os.path.realpath(path)).is_relative_to(target):
        raise _refuse(archive, name, f"resolves outside {target}")


def _make_folder(target: Path, parts: tuple[str, ...], archive: Path) -> None:
    path = target.joinpath(*parts)
    name = "/".join(parts)
    try:
        os.mkdir(path, 0o777)  # the umask applies
    except FileExistsError:
        mode = os.lstat(path).st_mode
        if not stat.S_ISDIR(mode):
            what = "a link" if stat.S_ISLNK(mode) else "a file"
            raise ArchiveError(
                f"{archive}: folder {name!r} meets {what} already at {path}; refusing to "
                f"extract through it. Extract into an empty folder."
            ) from None
    _inside(path, target, archive, name)


def _write_file(target: Path, entry: _Entry, archive: Path) -> None:
    path = target.joinpath(*entry.parts)
    name = "/".join(entry.parts)
    _inside(path.parent, target, archive, name)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise ArchiveError(
                f"{archive}: file {name!r} meets a folder already at {path}; refusing to extract "
                f"over it. Extract into an empty folder."
            )
        os.unlink(path)  # a file (or a link) left by an earlier run: replaced, never followed
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    handle = os.open(path, flags, 0o666)  # the umask applies
    with os.fdopen(handle, "wb") as out, entry.open() as stream:
        shutil.copyfileobj(stream, out, _COPY)
    _inside(path, target, archive, name)


def safe_extract(archive: PathLike, target: PathLike) -> Path:
    """Extract a tar (any compression) or zip ``archive`` into ``target``; return ``target``.

    Every member is checked before anything is written (see the module's docstring): absolute
    names, ``..``, drive letters, links of any kind, devices and fifos are refused, whatever the
    interpreter's ``tarfile`` filter would do. Folders are made first, then files, each written
    here with mode ``0o666 & ~umask`` and checked to lie inside ``target``.

    Raises:
        ArchiveError: a refused member (the message names the archive and the member), a member
            that meets an existing file, or an archive that cannot be read or written out.
    """
    archive, target = Path(archive), Path(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise ArchiveError(f"cannot extract {archive} into {target}: {error}") from error
    target = Path(os.path.realpath(target))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                _extract_entries(archive, list(_zip_entries(archive, z, target)), target)
        else:
            with tarfile.open(archive) as tar:
                _extract_entries(archive, list(_tar_entries(archive, tar, target)), target)
    except ArchiveError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ArchiveError(
            f"{archive}: cannot be extracted ({error}); it is truncated or corrupt. Delete it "
            f"and download it again."
        ) from error
    except OSError as error:
        raise ArchiveError(
            f"{archive}: extracting into {target} failed ({error}). Check the free space and "
            f"that the folder is writable, then run the same command again."
        ) from error
    return target


def _extract_entries(archive: Path, entries: list[_Entry], target: Path) -> None:
    folders, files = _plan(archive, entries)
    for parts in folders:
        _make_folder(target, parts, archive)
    for entry in files:
        _write_file(target, entry, archive)
