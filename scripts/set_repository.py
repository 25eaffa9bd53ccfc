"""Rewrite the GitHub repository that the notebooks' Colab badges and install cells name.

    python scripts/set_repository.py OWNER/NAME

Every notebook and the README name one repository (``tests/test_notebooks_meta.py`` checks it);
run this once if the course moves.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "depthnb/depthnb"
# Matches the repository part of a Colab badge link or of a pip git URL.
REPOSITORY_PATTERN = re.compile(
    r"(colab\.research\.google\.com/github/|git\+https://github\.com/)([\w.-]+/[\w.-]+?)(/|\.git|\"|$)"
)


def repositories_named(text: str) -> set[str]:
    """The repositories that the badges and install URLs in ``text`` name."""
    return {match.group(2) for match in REPOSITORY_PATTERN.finditer(text)}


def rewrite(text: str, repository: str) -> str:
    """``text`` with every badge and install URL pointing at ``repository``."""
    return REPOSITORY_PATTERN.sub(lambda m: f"{m.group(1)}{repository}{m.group(3)}", text)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or "/" not in argv[0]:
        print(__doc__)
        return 2
    repository = argv[0]
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + [ROOT / "README.md"]
    for path in paths:
        text = path.read_text()
        new = rewrite(text, repository)
        if path.suffix == ".ipynb":
            json.loads(new)  # still a valid notebook
        if new != text:
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(new)
            tmp.replace(path)
            print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
