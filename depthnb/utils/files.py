"""Writing files and folders atomically: a temporary name beside the target, then one rename.

The package's one atomic writer, one verb: :func:`atomic_path` (a temporary path to write a file
or folder at, renamed into place when the block ends), :func:`atomic_write` (a binary file written
by a callable), :func:`atomic_write_bytes` and :func:`atomic_write_text`. Every file depthnb writes
goes through them (checkpoints, ONNX graphs, caches, datasets, figures, videos, point clouds,
metrics; a format's own writer such as :func:`depthnb.checkpoint.save_checkpoint` or
:func:`depthnb.viz.save_ply` is built on them), so a crash at any moment leaves either the
previous file or the new one, never a half-written one. Writers of large files (downloads,
caches) first ask :func:`check_free_space` whether they fit.

>>> atomic_write_text("runs/demo/notes.txt", "hello")     # the folder is made if missing
PosixPath('runs/demo/notes.txt')
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from depthnb.errors import DataError, DepthnbError


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op elsewhere)."""
    if hasattr(os, "O_DIRECTORY"):
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def current_umask() -> int:
    """The process's umask (e.g. ``0o022``), read without changing it.

    Linux reports it in ``/proc/self/status`` (line ``Umask:``, since kernel 4.7); elsewhere the
    only way is ``os.umask``, which sets a mask and returns the old one, so it is set to ``0o077``
    (the safest value, should another thread create a file in between) and at once set back.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o077)
    os.umask(old)
    return old


def _normal_mode(path: Path) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would: ``0o666 & ~umask`` for a file,
    ``0o777 & ~umask`` for a folder (writers such as ``tempfile.mkstemp`` create 0600)."""
    if path.is_symlink() or not path.exists():
        return
    base = 0o777 if path.is_dir() else 0o666
    os.chmod(path, base & ~current_umask())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, rename it to ``path``.

    The temporary name keeps ``path``'s suffix (writers such as ffmpeg pick the format from it).
    The block may create a file or a folder there; it gets the mode a plain ``open``/``mkdir``
    gives (``0o666`` or ``0o777`` less the umask, :func:`current_umask`), whatever the writer
    used. An existing file is replaced in one rename; an existing folder is first moved aside,
    then deleted. If the block raises, the temporary is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    temporary = temporary.with_name(temporary.name + target.suffix)
    try:
        yield temporary
        _normal_mode(temporary)
        if target.is_dir() and not target.is_symlink():
            aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            target.rename(aside)
            temporary.rename(target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(temporary, target)
        _fsync_folder(target.parent)
    finally:
        if temporary.exists():
            _remove(temporary)


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary binary file beside ``path``, fsync, rename into place."""
    target = Path(path)
    with atomic_path(target) as temporary:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda file: file.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def check_free_space(
    path: str | os.PathLike[str],
    needed: int,
    action: str,
    advice: str,
    spare: int = 1 << 30,
    error: type[DepthnbError] = DataError,
) -> None:
    """Raise ``error`` unless the disk holding ``path`` (or its nearest existing parent) has
    ``needed`` bytes free plus 5 % and ``spare`` bytes to spare.

    The message reads "``action`` needs about X GB of disk, and only Y GB is free there:
    ``advice``".
    """
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    wanted = int(needed * 1.05) + spare
    if free < wanted:
        raise error(
            f"{action} needs about {wanted / 1e9:.1f} GB of disk, and only {free / 1e9:.1f} GB "
            f"is free there: {advice}"
        )


PathLike = str | Path
"""A file or folder path."""
