"""scripts/colab_twin.py: the constraints cut from Colab's freeze, the version check, the install
lines read from the lessons (the twin itself is built and run by .ci/run)."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_twin():
    spec = importlib.util.spec_from_file_location("colab_twin", ROOT / "scripts" / "colab_twin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


twin = _load_twin()

FREEZE = """# Do not modify this file directly
absl-py==1.4.0
cuda-toolkit==12.8.1
google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz
ImageIO==2.37.4
nvidia-cublas-cu12==12.8.4.1
nvidia-ml-py==13.610.43
torch==2.11.0+cu128
jupyter_kernel_gateway @ git+https://github.com/googlecolab/kernel_gateway@b134e99
"""
OS_INFO = "# generated\nUbuntu 22.04.5 LTS\nPython 3.13.15\nR version 4.6.1\n"


def _pins(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_cut_keeps_what_pypi_serves_at_colabs_versions():
    text = twin.cut(FREEZE, OS_INFO, "a" * 40, "2026-08-19")
    assert _pins(text) == [
        "absl-py==1.4.0",
        "ImageIO==2.37.4",
        "nvidia-ml-py==13.610.43",
        "torch==2.11.0",
    ]
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert f"commit {'a' * 40} (2026-08-19)" in header
    assert "Python 3.13.15" in header
    for left_out in (
        "google-colab",
        "jupyter_kernel_gateway",
        "cuda-toolkit",
        "nvidia-cublas-cu12",
    ):
        assert left_out in header


def test_cut_refuses_another_python():
    with pytest.raises(twin.TwinError, match="COLAB_PYTHON"):
        twin.cut(FREEZE, OS_INFO.replace("3.13.15", "3.14.2"), "a" * 40, "2026-09-01")


def test_the_committed_constraints_are_colabs_and_the_readme_says_its_python():
    text = (ROOT / ".ci" / "colab-constraints.txt").read_text()
    pins = dict(line.split("==") for line in _pins(text))
    assert all(re.fullmatch(r"[\w.-]+", name) and "+" not in v for name, v in pins.items())
    for name, version in {
        "torch": "2.11.0",
        "torchvision": "0.26.0",
        "numpy": "2.1.3",
        "ipywidgets": "7.7.1",
        "protobuf": "5.29.6",
    }.items():
        assert pins[name] == version
    python = re.search(r"^# Python (3\.\d+)\.\d+", text, re.MULTILINE).group(1)
    assert python == twin.COLAB_PYTHON
    assert f"Colab runs Python {python}" in (ROOT / "README.md").read_text()


def test_changed_lists_what_moved_or_went_not_what_came():
    before = {"protobuf": "5.29.6", "numpy": "2.1.3", "torch": "2.11.0"}
    after = {"protobuf": "7.34.0", "torch": "2.11.0", "onnx": "1.23.2"}
    assert twin.changed(before, after) == ["numpy: 2.1.3 -> removed", "protobuf: 5.29.6 -> 7.34.0"]
    assert twin.changed(before, {**before, "onnx": "1.22.0"}) == []


def test_install_lines_are_the_lessons_with_the_repository_here():
    lines = twin.install_lines(ROOT / "notebooks", ROOT)
    url = ROOT.as_uri()
    assert lines == [["-q", f"depthnb @ {url}"], ["-q", f"depthnb[deploy] @ {url}"]]
    pinned = '"depthnb @ git+https://github.com/a/b@v1.0"'  # set_repository.py OWNER/NAME@REF
    assert twin.GIT_URL.sub(url, pinned) == f'"depthnb @ {url}"'
