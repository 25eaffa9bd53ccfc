"""The lesson configuration's modes: quick, full, and the rehearsal of full mode with counts cut."""

from __future__ import annotations

import pytest

from depthnb.course import notebook


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment (the root conftest sets DEPTHNB_QUICK=1) with data in tmp_path."""
    monkeypatch.delenv("DEPTHNB_QUICK", raising=False)
    monkeypatch.delenv("DEPTHNB_REHEARSAL", raising=False)
    monkeypatch.setenv("DEPTHNB_DATA", str(tmp_path / "data"))
    return monkeypatch


def test_full_mode_counts_are_the_full_ones(env, capsys):
    cfg = notebook.setup()
    assert not cfg.quick and not cfg.rehearsal
    assert cfg.count(3000, rehearsal=2) == 3000
    assert cfg.count(3000, rehearsal=2, quick=80) == 3000
    assert cfg.time_budget(1500) == 1500
    assert "mode full," in capsys.readouterr().out


def test_the_rehearsal_cuts_only_counts(env, capsys):
    env.setenv("DEPTHNB_REHEARSAL", "1")
    cfg = notebook.setup()
    assert not cfg.quick and cfg.rehearsal
    assert cfg.count(3000, rehearsal=2) == 2
    assert cfg.count(3, rehearsal=8) == 3  # never more than full mode would do
    assert cfg.time_budget(1500) is None  # fixed step counts, never the clock
    assert "rehearsal" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "", "no"])
def test_other_values_do_not_rehearse(env, value):
    env.setenv("DEPTHNB_REHEARSAL", value)
    assert not notebook.setup(verbose=False).rehearsal


def test_quick_mode_wins_over_the_rehearsal(env):
    env.setenv("DEPTHNB_REHEARSAL", "1")
    env.setenv("DEPTHNB_QUICK", "1")
    cfg = notebook.setup(verbose=False)
    assert cfg.quick and not cfg.rehearsal
    assert cfg.count(3000, rehearsal=2, quick=80) == 80
    assert cfg.count(3000, rehearsal=2) == 3000
    assert cfg.time_budget(1500) == 1500
    forced = notebook.setup(quick=False, verbose=False)
    assert forced.rehearsal and forced.count(3000, rehearsal=2) == 2
