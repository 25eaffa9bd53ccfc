"""Colab's Google Drive: used when mounted, mounted on request, so lesson output outlives the VM.
Colab is simulated: a fake ``google.colab`` module whose ``drive.mount`` makes the folder."""

from __future__ import annotations

import sys
import types

import pytest

from depthnb import notebook
from depthnb.errors import ConfigError


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
    monkeypatch.setattr(notebook, "DRIVE_MOUNT", mount)
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
    assert notebook.default_data_dir() == mount / "MyDrive" / "depthnb_data"
    assert calls == []


def test_mounting_outside_colab_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", None)
    monkeypatch.setattr(notebook, "DRIVE_MOUNT", notebook.Path("/nonexistent-drive"))
    with pytest.raises(ConfigError, match="only be mounted inside Colab"):
        notebook.mount_drive()
