"""Each lesson's full-mode budget: stated at its top, within Colab's limits, warned on a CPU."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from depthnb.course import budgets, notebook
from depthnb.data.download import DATASETS
from depthnb.models import build_model, count_macs

NOTEBOOKS = sorted(
    (Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")
)


def test_every_lesson_has_a_budget_and_states_it_at_its_top():
    assert sorted(budgets.BUDGETS) == [path.name[:2] for path in NOTEBOOKS]
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"][:4]
        tops = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]
        assert budgets.budget_cell(path.name[:2]) in tops, f"{path.name}: budget not at its top"


def test_the_student_reads_one_line_and_the_instructor_the_details():
    line, cell = budgets.budget_line("06"), budgets.budget_cell("06")
    assert "\n" not in line and line.startswith("**Full mode:** about ")
    assert f"about {budgets.BUDGETS['06'].minutes()} min on a T4 GPU, downloads 4.2 GB" in line
    assert cell.startswith(line) and budgets.budget_markdown("06") in cell
    assert "<details>" in cell and "</details>" in cell
    assert "no downloads" in budgets.budget_line(
        "02"
    ) and "any Colab runtime" in budgets.budget_line("02")


@pytest.mark.parametrize("lesson", sorted(budgets.BUDGETS))
def test_budgets_fit_a_free_colab_t4(lesson):
    budget = budgets.BUDGETS[lesson]
    assert budget.minutes() <= 30, "at most about 30 minutes of compute after the downloads"
    assert budget.ram_gb < 10 and budget.disk_gb + budget.download_bytes() / 1e9 < 70


def test_downloads_are_the_registry_sizes():
    budget = budgets.BUDGETS["06"]
    expected = sum(f.expected_bytes for name in ("nyu-zip",) for f in DATASETS[name].files)
    assert budget.download_bytes() == expected + budgets.TORCHVISION_BYTES["densenet169"]
    assert "4.1 GB" not in budgets.budget_markdown(
        "04"
    ) and "no downloads" in budgets.budget_markdown("04")


def test_minutes_follow_the_workload():
    work = budgets.Work("x", macs=1e9, images=1000, train=True)
    assert work.seconds(1e12) == pytest.approx(3.0)
    budget = budgets.LessonBudget("99", (), (work,), fixed_minutes=2, ram_gb=1, disk_gb=1)
    assert budget.minutes(1e12) == 3 and budget.minutes(1e10) == 2 + 5


@pytest.mark.parametrize(
    "name, size, kwargs, macs",
    [
        ("unet", (120, 160), {}, budgets.UNET_120x160),
        ("unet", (240, 320), {}, budgets.UNET_240x320),
        ("unet", (120, 160), {"filters": (8, 16, 32, 64, 128)}, budgets.CLASS_UNET_120x160),
        ("maskdepth", (160, 160), {"in_channels": 6}, budgets.MASKDEPTH_160x160),
    ],
)
def test_the_stated_macs_are_the_networks(name, size, kwargs, macs):
    counted = count_macs(build_model(name, **kwargs), size)
    assert counted == pytest.approx(macs, rel=0.01)


def test_full_mode_on_a_cpu_warns_with_the_lessons_time(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPTHNB_DATA", str(tmp_path))
    monkeypatch.setattr(notebook, "default_device", lambda: torch.device("cpu"))
    with pytest.warns(
        UserWarning, match=r"lesson 06 needs about \d+ min on a T4 and about \d+ hours"
    ):
        notebook.setup(quick=False, lesson="06", verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        notebook.setup(quick=True, lesson="06", verbose=False)  # quick mode: no warning
        notebook.setup(quick=False, lesson="01", verbose=False)  # a CPU lesson: no warning
