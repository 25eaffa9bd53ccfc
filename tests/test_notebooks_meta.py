"""Every lesson follows the course's conventions: badge, setup cell, no outputs, one repository."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LESSONS = [
    "01_depth_data",
    "02_augmentation",
    "03_architectures",
    "04_what_losses_see",
    "05_relative_depth",
    "06_training",
    "07_nyu_evaluation",
    "08_zero_shot",
    "09_point_clouds",
    "10_stereo_to_foundation_models",
    "11_interactive_explorer",
    "12_mask_and_depth",
    "13_video_depth",
    "14_deployment",
]


# Lessons a CPU runtime serves: data loading, and deployment (its latencies are CPU latencies).
CPU_LESSONS = {"01_depth_data", "02_augmentation", "14_deployment"}


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


def test_rewrite_pins_a_ref_and_back():
    readme = (ROOT / "README.md").read_text()
    lesson = (ROOT / "notebooks" / "14_deployment.ipynb").read_text()
    for text in (readme, lesson):
        pinned = set_repository.rewrite(text, "someone/elsewhere", "v2.1")
        assert set_repository.references_named(pinned) == {("someone/elsewhere", "v2.1")}
        assert "depthnb/depthnb" not in pinned
        assert set_repository.rewrite(pinned, set_repository.REPOSITORY) == text
    badge = "colab.research.google.com/github/someone/elsewhere/blob/v2.1/notebooks/14_deployment"
    assert badge in set_repository.rewrite(readme, "someone/elsewhere", "v2.1")
    install = 'git+https://github.com/someone/elsewhere@v2.1\\"'  # as stored in the JSON
    assert install in set_repository.rewrite(lesson, "someone/elsewhere", "v2.1")
    json.loads(set_repository.rewrite(lesson, "someone/elsewhere", "v2.1"))


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("someone/elsewhere", ("someone/elsewhere", "main")),
        ("some-one/else.where@v1.0.2", ("some-one/else.where", "v1.0.2")),
        ("a_b/c@spring-2027", ("a_b/c", "spring-2027")),
    ],
)
def test_set_repository_reads_owner_name_and_ref(spec, expected):
    assert set_repository.parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["elsewhere", "a/b/c", "a/b@", "a/b@release/1", "a b/c"])
def test_set_repository_refuses_what_is_not_a_repository(spec, capsys):
    with pytest.raises(ValueError, match="OWNER/NAME@REF"):
        set_repository.parse_spec(spec)
    assert set_repository.main([spec]) == 2
    assert "OWNER/NAME" in capsys.readouterr().err


def _install_lines(path: Path) -> list[str]:
    setup = next(c for c in _cells(path) if c["cell_type"] == "code")
    return [line.strip() for line in _source(setup).splitlines() if "%pip" in line]


# What each lesson's first cell installs in Colab: the package, and an extra only where Colab lacks
# what the lesson imports (scripts/colab_twin.py checks that it changes none of Colab's versions).
EXTRAS = {"14_deployment": "[deploy]"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cell_installs_the_package_and_nothing_else(path):
    extra = EXTRAS.get(path.stem, "")
    url = f"git+https://github.com/{set_repository.REPOSITORY}"
    assert _install_lines(path) == [f'%pip install -q "depthnb{extra} @ {url}"']


def test_the_deploy_extra_keeps_colabs_protobuf():
    # onnx 1.23 needs protobuf >= 6.31.1: pip would upgrade Colab's 5.29.6 (grpcio-status 1.71.2
    # then conflicts). The bound is checked in the Colab twin; here, that it is still there.
    pyproject = (ROOT / "pyproject.toml").read_text()
    deploy = pyproject.split("\ndeploy = [", 1)[1].split("]", 1)[0]
    assert '"onnx>=1.22,<1.23"' in deploy


def _registry_licences() -> dict[str, str]:
    from depthnb.cli.download import registry_licences

    return {name: licence for name, _, licence in registry_licences()}


def test_every_registry_entry_states_its_licence(capsys):
    from depthnb.cli.main import main

    licences = _registry_licences()
    assert all(licences.values()), [name for name, text in licences.items() if not text]
    assert main(["download", "--list"]) == 0
    table = capsys.readouterr().out.split("\n\n", 1)[0]
    for name, licence in licences.items():
        assert any(name in line and licence in line for line in table.splitlines()), name
    assert "CC BY-NC-SA 3.0" in licences["kitti-depth-selection"]
    assert licences["densedepth-nyu"].startswith("GPL-3.0")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_lesson_that_downloads_non_commercial_data_says_so(path):
    from depthnb.course.budgets import BUDGETS

    cells = _cells(path)
    code = "\n".join(_source(c) for c in cells if c["cell_type"] == "code")
    prose = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    fetched = set(BUDGETS[path.stem[:2]].downloads)
    fetched |= {name for name in _registry_licences() if f'"{name}"' in code}
    for name in fetched & set(_registry_licences()):
        licence = _registry_licences()[name]
        if "-NC" in licence:
            assert licence.split(":")[0] in prose, f"{path.stem} fetches {name} ({licence})"


def test_licence_and_citation_agree_with_pyproject():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = { text = "MIT" }' in pyproject
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    citation = (ROOT / "CITATION.cff").read_text()
    for key in ("cff-version: 1.2.0", "message:", "title:", "authors:", "license: MIT"):
        assert f"\n{key}" in f"\n{citation}", key
    assert f'repository-code: "https://github.com/{set_repository.REPOSITORY}"' in citation


LAB_WORDS = 2_100
"""The most words of prose in a lesson's main path: about 2,000, what a 90-minute lab holds."""


def _prose_words(text: str) -> int:
    """Words of Markdown a student reads: not the collapsed instructor note, not link targets."""
    text = re.sub(r"<details>.*?</details>", "", text, flags=re.DOTALL)
    text = re.sub(r"\(https?://[^)]*\)", "", text)
    return len(re.findall(r"[A-Za-z0-9][\w'’.-]*", text))


def _bullets(text: str) -> int:
    return len(re.findall(r"^[*-] ", text, re.MULTILINE))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_lesson_fits_a_lab(path):
    """Objectives at the top, at most about 2,000 words to the summary, five summary bullets, a
    predict-then-run question, and engineering only in appendices after the exercises."""
    texts = [(cell["cell_type"], _source(cell)) for cell in _cells(path)]
    objectives = texts[3][1]
    assert objectives.startswith("## What you will be able to do"), f"{path.name}: no objectives"
    assert 3 <= _bullets(objectives) <= 5, f"{path.name}: 3 to 5 objectives"
    headings = [text.split("\n")[0] for kind, text in texts if kind == "markdown"]
    summary = headings.index("## Summary")
    exercises = headings.index("## Exercises")
    appendices = [i for i, h in enumerate(headings) if h.startswith("## Appendix (engineering): ")]
    assert summary < exercises and all(i > exercises for i in appendices), path.name
    assert not any("Appendix" in h for h in headings[:exercises]), f"{path.name}: appendix early"
    main = [text for kind, text in texts if kind == "markdown"]
    words = sum(_prose_words(text) for text in main[:summary])
    assert words <= LAB_WORDS, f"{path.name}: {words} words of prose before the summary"
    assert _bullets(main[summary]) == 5, f"{path.name}: the summary has five bullets"
    ask = re.compile(r'\bask\("\d\d\.P\d')
    assert any(kind == "code" and ask.search(text) for kind, text in texts), (
        f"{path.name}: no predict-then-run question"
    )
