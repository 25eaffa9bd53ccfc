"""The checks that keep the package's contracts: the type checker is clean on the package, and ruff
(lint, formatting-sensitive rules and the complexity limit of 12, with no exceptions) passes."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_mypy_is_clean_on_the_package():
    result = _run("mypy")  # settings and files: [tool.mypy] in pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_passes_with_the_complexity_limit():
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "max-complexity = 12" in (ROOT / "pyproject.toml").read_text()
    assert "C901" not in (ROOT / "pyproject.toml").read_text(), "no per-file exceptions"
