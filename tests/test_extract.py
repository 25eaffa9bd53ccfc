"""safe_extract against every known way out of a target folder, with tarfile's filter removed.

Each attack is built in the real formats (tar, zip) and run as an interpreter without
``tarfile.data_filter`` would run it (3.10.0-3.10.11, 3.11.0-3.11.3): the extraction must raise an
ArchiveError naming the archive and the member, and nothing may appear outside the target.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fixture_writers import patterned_depths, patterned_images, write_diode_scan
from test_download import Server

from depthnb.errors import ArchiveError, DataError
from depthnb.hub.extract import safe_extract


@pytest.fixture(autouse=True)
def no_tar_filter(monkeypatch):
    """Extract as an interpreter without PEP 706's filters would."""
    for name in ("data_filter", "tar_filter"):
        monkeypatch.delattr(tarfile, name, raising=False)


def _file(tar: tarfile.TarFile, name: str, data: bytes = b"pwned\n", mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _link(tar: tarfile.TarFile, name: str, target: str, hard: bool = False) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def _folder(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)


def _everything_under(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (links not followed): file contents, None for the rest."""
    found: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        plain = path.is_file() and not path.is_symlink()
        found[str(path.relative_to(folder))] = path.read_bytes() if plain else None
    return found


class Scene:
    """A victim folder holding ``outside.txt`` (which no extraction may change) and the target
    ``victim/target`` below it; ``before`` records what the victim folder holds."""

    def __init__(self, tmp_path: Path) -> None:
        self.victim = tmp_path / "victim"
        self.target = self.victim / "target"
        self.outside = self.victim / "outside.txt"
        self.victim.mkdir()
        self.outside.write_bytes(b"precious\n")
        self.archive = tmp_path / "attack.tar"
        self.before = _everything_under(self.victim)

    def assert_untouched(self) -> None:
        """Nothing outside the target changed or appeared (the target itself may exist)."""
        after = _everything_under(self.victim)
        after = {k: v for k, v in after.items() if k != "target" and not k.startswith("target/")}
        assert after == self.before


def _symlink_chain(tar: tarfile.TarFile, scene: Scene) -> None:
    _link(tar, "a", ".")
    _link(tar, "a/b", "..")
    _file(tar, "b/outside.txt")


def _hard_link_absolute(tar: tarfile.TarFile, scene: Scene) -> None:
    _link(tar, "h", str(scene.outside), hard=True)
    _file(tar, "h")


def _hard_link_relative(tar: tarfile.TarFile, scene: Scene) -> None:
    _link(tar, "h", "../outside.txt", hard=True)
    _file(tar, "h")


def _path_max_chain(tar: tarfile.TarFile, scene: Scene) -> None:
    """CVE-2025-4517's pattern: symlinks whose resolved path exceeds PATH_MAX, so that
    ``os.path.realpath`` stops resolving and the filter's check passes; then a link out and a
    hard link through it to a file outside, overwritten by a file of the same name."""
    component = "d" * 247
    steps = "abcdefghijklmnop"
    path = ""
    for step in steps:
        _folder(tar, os.path.join(path, component))
        _link(tar, os.path.join(path, step), component)
        path = os.path.join(path, component)
    chain = os.path.join(*steps)
    _link(tar, chain, "../" * (len(steps) - 1))  # back to the target, 16 links deep
    _link(tar, "escape", chain + "/..")  # the target's parent
    _link(tar, "flaglink", "escape/outside.txt", hard=True)
    _file(tar, "flaglink")


def _extract_unchecked(scene: Scene) -> None:
    """What an interpreter without the filter does (tarfile's "fully_trusted" where it has
    filters, so that 3.14's "data" default does not step in)."""
    unchecked = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    with tarfile.open(scene.archive) as tar:
        tar.extractall(scene.target, **unchecked)


ATTACKS = {
    "relative ../": lambda tar, scene: _file(tar, "../outside.txt"),
    "nested ../": lambda tar, scene: _file(tar, "val/../../outside.txt"),
    "absolute": lambda tar, scene: _file(tar, str(scene.outside)),
    "drive letter": lambda tar, scene: _file(tar, "C:/outside.txt"),
    "backslashes": lambda tar, scene: _file(tar, "..\\outside.txt"),
    "symlink out": lambda tar, scene: (_link(tar, "s", ".."), _file(tar, "s/outside.txt")),
    "absolute symlink": lambda tar, scene: _link(tar, "s", str(scene.victim)),
    "symlink chain a->., a/b->.., b/file": _symlink_chain,
    "hard link, absolute": _hard_link_absolute,
    "hard link, relative": _hard_link_relative,
    "PATH_MAX chain (CVE-2025-4517)": _path_max_chain,
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_tar_attacks_are_refused_and_nothing_lands_outside(tmp_path, attack):
    scene = Scene(tmp_path)
    with tarfile.open(scene.archive, "w") as tar:
        _file(tar, "val/ok.txt", b"fine\n")
        ATTACKS[attack](tar, scene)
    assert not hasattr(tarfile, "data_filter")
    with pytest.raises(ArchiveError, match=r"attack\.tar: member .* refusing to extract") as caught:
        safe_extract(scene.archive, scene.target)
    assert isinstance(caught.value, DataError) and isinstance(caught.value, ValueError)
    scene.assert_untouched()
    assert _everything_under(scene.target) == {}  # refused before anything was written


@pytest.mark.parametrize("attack", ["symlink chain a->., a/b->.., b/file", "hard link, relative"])
def test_the_attacks_are_real_escapes_for_a_plain_extractall(tmp_path, attack):
    """The fixtures above do escape when extracted without checks: the test would notice a
    safe_extract that let them through."""
    scene = Scene(tmp_path)
    with tarfile.open(scene.archive, "w") as tar:
        ATTACKS[attack](tar, scene)
    _extract_unchecked(scene)
    assert scene.outside.read_bytes() == b"pwned\n"


def test_the_path_max_chain_is_a_real_escape_for_a_plain_extractall(tmp_path):
    scene = Scene(tmp_path)
    with tarfile.open(scene.archive, "w") as tar:
        _path_max_chain(tar, scene)
    _extract_unchecked(scene)
    assert scene.outside.read_bytes() == b"pwned\n"


def test_tar_special_files_are_refused(tmp_path):
    scene = Scene(tmp_path)
    with tarfile.open(scene.archive, "w") as tar:
        device = tarfile.TarInfo("val/null")
        device.type, device.devmajor, device.devminor = tarfile.CHRTYPE, 1, 3
        tar.addfile(device)
    with pytest.raises(ArchiveError, match="'val/null' is a device, fifo or other special file"):
        safe_extract(scene.archive, scene.target)


def _zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for info, data in members:
            z.writestr(info, data)
    return path


def test_zip_attacks_are_refused(tmp_path):
    scene = Scene(tmp_path)
    link = zipfile.ZipInfo("val/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16  # how Info-ZIP stores a symlink
    attacks = {
        "../outside.txt": [("../outside.txt", b"pwned\n")],
        str(scene.outside): [(str(scene.outside), b"pwned\n")],
        "val/link": [(link, b"../../outside.txt"), ("val/link/x", b"pwned\n")],
    }
    for number, (member, entries) in enumerate(attacks.items()):
        archive = _zip(tmp_path / f"attack{number}.zip", [("val/ok.txt", b"fine\n"), *entries])
        with pytest.raises(ArchiveError, match=f"attack{number}.zip: member '{member}'"):
            safe_extract(archive, scene.target)
        scene.assert_untouched()
        assert _everything_under(scene.target) == {}


def test_a_file_meeting_an_existing_file_is_an_archive_error(tmp_path):
    scene = Scene(tmp_path)
    scene.target.mkdir()
    (scene.target / "val").write_bytes(b"a file, not a folder")
    with tarfile.open(scene.archive, "w") as tar:
        _file(tar, "val/ok.txt")
    with pytest.raises(ArchiveError, match="folder 'val' meets a file already at"):
        safe_extract(scene.archive, scene.target)
    within = _zip(tmp_path / "within.zip", [("a", b"file"), ("a/b", b"below a file")])
    with pytest.raises(ArchiveError, match="member 'a' is a file and also a folder"):
        safe_extract(within, tmp_path / "other")
    assert not (tmp_path / "other" / "a").exists()
    with pytest.raises(ArchiveError, match="cannot extract"):
        safe_extract(within, scene.outside / "below")


def test_regular_archives_extract_with_the_umasks_modes(tmp_path):
    scene = Scene(tmp_path)
    with tarfile.open(scene.archive, "w:gz") as tar:
        _folder(tar, "./")
        _file(tar, "./val/a.txt", b"a\n", mode=0o600)
        _file(tar, "val/deep/b.bin", bytes(range(256)) * 9000, mode=0o777)
        _folder(tar, "val/empty")
    zipped = _zip(tmp_path / "z.zip", [("val/c.txt", b"c\n"), ("val/sub/", b"")])
    old = os.umask(0o027)
    try:
        safe_extract(scene.archive, scene.target)
        safe_extract(zipped, scene.target)
    finally:
        os.umask(old)
    assert _everything_under(scene.target) == {
        "val": None,
        "val/a.txt": b"a\n",
        "val/c.txt": b"c\n",
        "val/deep": None,
        "val/deep/b.bin": bytes(range(256)) * 9000,
        "val/empty": None,
        "val/sub": None,
    }
    for name in ("val/a.txt", "val/c.txt", "val/deep/b.bin"):
        assert stat.S_IMODE((scene.target / name).stat().st_mode) == 0o640, name
    for name in ("val", "val/deep", "val/empty", "val/sub"):
        assert stat.S_IMODE((scene.target / name).stat().st_mode) == 0o750, name
    with tarfile.open(scene.archive, "w") as tar:  # extracting again replaces the files
        _file(tar, "val/a.txt", b"new\n")
    safe_extract(scene.archive, scene.target)
    assert (scene.target / "val" / "a.txt").read_bytes() == b"new\n"


def test_corrupt_archives_are_archive_errors(tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b" + bytes(50))
    with pytest.raises(ArchiveError, match="broken.tar.gz: cannot be extracted"):
        safe_extract(broken, tmp_path / "out")


def test_download_diode_val_from_a_mirror_serving_an_attack_exits_non_zero(tmp_path):
    """``python -m depthnb download diode-val`` with DEPTHNB_MIRROR at a local server whose
    val.tar.gz holds a real DIODE scan and the symlink chain: exit 1, one message, the archive
    deleted, nothing outside the data folder. (A subprocess: tarfile's filter is present there,
    and does not matter.)"""
    source = tmp_path / "source"
    write_diode_scan(
        source,
        "val",
        "indoors",
        "scan",
        patterned_images(1, 6, 8)[0],
        patterned_depths(1, 6, 8)[0],
        np.ones((6, 8), bool),
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(source / "val", arcname="val")
        _link(tar, "a", ".")
        _link(tar, "a/b", "..")
        _file(tar, "b/escaped.txt")
    data = tmp_path / "data"
    with Server({"/mirror/val.tar.gz": buffer.getvalue()}) as server:
        env = {
            **os.environ,
            "DEPTHNB_MIRROR": server.url("/mirror"),
            "DEPTHNB_DATA": str(data),
            "DEPTHNB_QUICK": "1",
        }
        done = subprocess.run(
            [sys.executable, "-m", "depthnb", "download", "diode-val", "--root", str(data)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "member 'a' is a symbolic link" in done.stderr
    assert "refusing to extract" in done.stderr
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not [p for p in tmp_path.rglob("*") if p.is_symlink()]
    assert not (data / "diode" / "val.tar.gz").exists()  # deleted: it would fail again
    assert server.paths == ["/mirror/val.tar.gz"]
