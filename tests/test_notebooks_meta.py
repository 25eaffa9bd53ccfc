"""Every lesson follows the course's conventions: badge, setup cell, no outputs, one repository."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LESSONS = [
    "01_data_pipeline",
    "02_architectures",
    "03_loss_design",
    "04_gpu_training",
    "05_evaluation",
    "06_point_clouds",
    "07_interactive_explorer",
    "08_mask_and_depth",
    "09_video_depth",
    "10_deployment",
]


# Lessons a CPU runtime serves: data loading, and deployment (its latencies are CPU latencies).
CPU_LESSONS = {"01_data_pipeline", "10_deployment"}


def _load_set_repository():
    spec = importlib.util.spec_from_file_location(
        "set_repository", ROOT / "scripts" / "set_repository.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


set_repository = _load_set_repository()


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_every_lesson_exists():
    assert [p.stem for p in NOTEBOOKS] == LESSONS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_title_badge_and_setup_cell(path):
    cells = _cells(path)
    title, setup = cells[0], cells[1]
    assert title["cell_type"] == "markdown"
    assert _source(title).startswith(f"# {path.stem[:2]}")
    repository = set_repository.REPOSITORY
    badge = f"colab.research.google.com/github/{repository}/blob/main/notebooks/{path.name}"
    assert badge in _source(title)
    assert setup["cell_type"] == "code"
    assert "cfg = depthnb.notebook.setup(" in _source(setup)
    assert f"git+https://github.com/{set_repository.REPOSITORY}" in _source(setup)
    assert sum("depthnb.notebook.setup(" in _source(c) for c in cells) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_stripped(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_prose_between_code(path):
    cells = _cells(path)
    markdown = sum(c["cell_type"] == "markdown" for c in cells)
    code = sum(c["cell_type"] == "code" for c in cells)
    assert markdown >= code / 2, "a lesson explains between its code cells"
    longest = max(len(_source(c).splitlines()) for c in cells if c["cell_type"] == "code")
    assert longest <= 40, "code cells stay short"


def test_one_repository_everywhere():
    named = set()
    for path in [*NOTEBOOKS, ROOT / "README.md"]:
        named |= set_repository.repositories_named(path.read_text())
    assert named == {set_repository.REPOSITORY}


def test_rewrite_moves_every_reference():
    text = (ROOT / "README.md").read_text()
    moved = set_repository.rewrite(text, "someone/elsewhere")
    assert set_repository.repositories_named(moved) == {"someone/elsewhere"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lessons_that_need_a_gpu_open_on_a_gpu_runtime(path):
    metadata = json.loads(path.read_text())["metadata"]
    if path.stem in CPU_LESSONS:
        return
    assert metadata.get("accelerator") == "GPU" and metadata["colab"]["gpuType"] == "T4"
