"""Colab's Google Drive: used when mounted, mounted on request, so lesson output outlives the VM.
Colab is simulated: a fake ``google.colab`` module whose ``drive.mount`` makes the folder."""

from __future__ import annotations

import sys
import types

import pytest

from depthnb.course import notebook
from depthnb.errors import ConfigError
from depthnb.utils import paths


@pytest.fixture
def colab(monkeypatch, tmp_path):
    mount = tmp_path / "drive"
    calls = []

    def fake_mount(path: str) -> None:
        calls.append(path)
        (tmp_path / "drive" / "MyDrive").mkdir(parents=True)

    package = types.ModuleType("google.colab")
    package.drive = types.SimpleNamespace(mount=fake_mount)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", package)
    monkeypatch.setattr(paths, "DRIVE_MOUNT", mount)
    monkeypatch.delenv("DEPTHNB_DATA", raising=False)
    return mount, calls


def test_without_drive_colab_data_stays_on_the_vm_and_says_so(colab, monkeypatch, capsys):
    monkeypatch.setattr(notebook.Path, "mkdir", lambda *a, **k: None)  # no /content here
    config = notebook.setup(quick=True)
    assert str(config.data_dir) == "/content/data" and config.in_colab
    assert "setup(drive=True)" in capsys.readouterr().out


def test_drive_true_mounts_it_and_puts_data_there(colab, capsys):
    mount, calls = colab
    config = notebook.setup(quick=True, drive=True)
    assert calls == [str(mount)]
    assert config.data_dir == mount / "MyDrive" / "depthnb_data" and config.data_dir.is_dir()
    assert "vanish" not in capsys.readouterr().out


def test_an_already_mounted_drive_is_used_without_asking(colab):
    mount, calls = colab
    (mount / "MyDrive").mkdir(parents=True)
    assert notebook.setup(quick=True, verbose=False).data_dir == mount / "MyDrive" / "depthnb_data"
    assert paths.default_data_dir() == mount / "MyDrive" / "depthnb_data"
    assert calls == []


def test_mounting_outside_colab_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", None)
    monkeypatch.setattr(paths, "DRIVE_MOUNT", paths.Path("/nonexistent-drive"))
    with pytest.raises(ConfigError, match="only be mounted inside Colab"):
        paths.mount_drive()


def test_full_mode_in_colab_mounts_drive_by_default(colab, capsys):
    mount, calls = colab
    config = notebook.setup(quick=False)
    assert calls == [str(mount)] and config.data_dir == mount / "MyDrive" / "depthnb_data"
    out = capsys.readouterr().out
    assert "outlives the VM" in out and f"{config.data_dir}/runs" in out


def test_drive_false_keeps_full_mode_on_the_vm_without_asking(colab, monkeypatch, capsys):
    _, calls = colab
    monkeypatch.setattr(notebook.Path, "mkdir", lambda *a, **k: None)  # no /content here
    config = notebook.setup(quick=False, drive=False)
    assert calls == [] and config.data_dir == paths.COLAB_VM_DATA
    assert "vanish" in capsys.readouterr().out


def test_local_copy_copies_a_drive_file_once_and_again_when_it_changes(colab, tmp_path, capsys):
    mount, _ = colab
    source = mount / "MyDrive" / "depthnb_data" / "nyu" / "nyu_data.zip"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"first version")
    vm = tmp_path / "vm"
    copy = notebook.local_copy(source, vm)
    assert copy == vm / "nyu_data.zip" and copy.read_bytes() == b"first version"
    assert "copying nyu_data.zip" in capsys.readouterr().out
    assert notebook.local_copy(source, vm) == copy and "copying" not in capsys.readouterr().out
    source.write_bytes(b"second version, longer")
    assert notebook.local_copy(source, vm).read_bytes() == b"second version, longer"
    assert not list(vm.glob("*.part"))


def test_local_copy_leaves_a_file_off_drive_where_it_is(colab, tmp_path):
    path = tmp_path / "nyu_data.zip"
    path.write_bytes(b"x")
    assert notebook.local_copy(path, tmp_path / "vm") == path
    assert not (tmp_path / "vm").exists()
