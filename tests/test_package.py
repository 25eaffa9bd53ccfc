"""The package skeleton: errors, lazy submodules, and the notebook setup."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import depthnb
from depthnb.course import notebook


def test_error_family():
    for error in (
        depthnb.DataError,
        depthnb.DownloadError,
        depthnb.CheckpointError,
        depthnb.ModelError,
        depthnb.ConfigError,
    ):
        assert issubclass(error, depthnb.DepthnbError)
    with pytest.raises(depthnb.DepthnbError, match="broken"):
        raise depthnb.DataError("broken")


def test_submodules_load_on_first_use():
    code = (
        "import sys, depthnb; assert 'depthnb.notebook' not in sys.modules; "
        "depthnb.notebook.setup; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        depthnb.no_such_thing  # noqa: B018


def test_setup_reads_quick_mode_and_seeds(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPTHNB_QUICK", "1")
    monkeypatch.setenv("DEPTHNB_DATA", str(tmp_path / "data"))
    cfg = notebook.setup(seed=3, verbose=False)
    assert cfg.quick is True
    assert cfg.data_dir == tmp_path / "data" and cfg.data_dir.is_dir()
    assert cfg.in_colab is False
    assert isinstance(cfg.device, torch.device)
    first = (torch.rand(3), np.random.rand(3))
    notebook.setup(seed=3, verbose=False)
    again = (torch.rand(3), np.random.rand(3))
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])


def test_setup_full_mode_when_quick_is_unset(monkeypatch, tmp_path):
    monkeypatch.delenv("DEPTHNB_QUICK", raising=False)
    monkeypatch.setenv("DEPTHNB_DATA", str(tmp_path))
    assert notebook.setup(verbose=False).quick is False
    assert notebook.setup(quick=True, verbose=False).quick is True


def test_colab_data_dir(monkeypatch):
    monkeypatch.delenv("DEPTHNB_DATA", raising=False)
    assert str(notebook.default_data_dir(colab=True)) == "/content/data"


def test_requirements_have_lower_bounds_only():
    from pathlib import Path

    lines = [
        line.strip()
        for line in (Path(__file__).resolve().parent.parent / "requirements.txt")
        .read_text()
        .splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[-1] == "-e ."
    for line in lines[:-1]:
        assert "==" not in line and "<" not in line, f"{line}: exact pins break Colab's torch"
        assert ">=" in line, f"{line}: give a lower bound"
