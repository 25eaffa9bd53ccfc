"""Rewrite the GitHub repository (and the branch or tag) that the notebooks' Colab badges and
install cells name.

    python scripts/set_repository.py OWNER/NAME            # follow the branch main
    python scripts/set_repository.py OWNER/NAME@REF        # freeze on a tag or branch, e.g. @v1.0

A badge then opens ``colab.research.google.com/github/OWNER/NAME/blob/REF/notebooks/...`` and the
install cell installs ``git+https://github.com/OWNER/NAME@REF`` (no ``@REF`` for ``main``), so a
semester can run on a tag while the repository moves on. Every notebook and the README name one
repository (``tests/test_notebooks_meta.py`` checks it); ``CITATION.cff``'s link follows. Run this
once if the course moves, and before tagging a semester's release.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "depthnb/depthnb"
DEFAULT_REF = "main"
_NAME = r"[\w.-]+/[\w.-]+?"
_REF = r"[\w.-]+"
# A Colab badge link: .../github/OWNER/NAME/blob/REF/...
BADGE_PATTERN = re.compile(rf"(colab\.research\.google\.com/github/)({_NAME})/blob/({_REF})/")
# A pip git URL: git+https://github.com/OWNER/NAME[.git][@REF], then a quote, a space or the end.
INSTALL_PATTERN = re.compile(
    rf"(git\+https://github\.com/)({_NAME})(?:\.git)?(?:@({_REF}))?(?=[\\\"'\s]|$)"
)
# Any other link to a repository on GitHub (its page, or a file at a ref): rewritten only where
# it names the course's repository (one that the badges or install URLs name).
LINK_PATTERN = re.compile(
    rf"(?<!git\+)(https://github\.com/)({_NAME})(/(?:blob|tree)/{_REF})?(?=[/\\\"'\s)]|$)"
)
SPEC_PATTERN = re.compile(rf"^({_NAME})(?:@({_REF}))?$")


def references_named(text: str) -> set[tuple[str, str]]:
    """The (repository, ref) pairs that the badges and install URLs in ``text`` name; an install
    URL without ``@REF`` names ``main``."""
    badges = {(m.group(2), m.group(3)) for m in BADGE_PATTERN.finditer(text)}
    installs = {(m.group(2), m.group(3) or DEFAULT_REF) for m in INSTALL_PATTERN.finditer(text)}
    return badges | installs


def repositories_named(text: str) -> set[str]:
    """The repositories that the badges and install URLs in ``text`` name."""
    return {repository for repository, _ in references_named(text)}


def rewrite(
    text: str, repository: str, ref: str = DEFAULT_REF, course: set[str] | None = None
) -> str:
    """``text`` with every badge and install URL pointing at ``repository`` at ``ref``, and every
    other GitHub link to the course's repository (``course``, by default those that ``text``'s
    badges and install URLs name) pointing at ``repository`` (files at ``ref``)."""
    pin = "" if ref == DEFAULT_REF else f"@{ref}"
    course = repositories_named(text) if course is None else course

    def link(match: re.Match[str]) -> str:
        if match.group(2) not in course:
            return match.group(0)
        at = match.group(3) and match.group(3).rsplit("/", 1)[0] + f"/{ref}"
        return f"{match.group(1)}{repository}{at or ''}"

    text = LINK_PATTERN.sub(link, text)
    text = BADGE_PATTERN.sub(lambda m: f"{m.group(1)}{repository}/blob/{ref}/", text)
    return INSTALL_PATTERN.sub(lambda m: f"{m.group(1)}{repository}{pin}", text)


def parse_spec(spec: str) -> tuple[str, str]:
    """``OWNER/NAME`` or ``OWNER/NAME@REF`` -> (repository, ref).

    Raises:
        ValueError: ``spec`` is neither form.
    """
    match = SPEC_PATTERN.match(spec)
    if match is None:
        raise ValueError(
            f"{spec!r} is not OWNER/NAME or OWNER/NAME@REF (letters, digits, '.', '-', '_'; a ref "
            "without '/'): e.g. depthnb/depthnb@v1.0"
        )
    return match.group(1), match.group(2) or DEFAULT_REF


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    try:
        repository, ref = parse_spec(argv[0])
    except ValueError as error:
        print(f"set_repository: {error}", file=sys.stderr)
        return 2
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + [ROOT / "README.md"]
    course = set().union(*(repositories_named(path.read_text()) for path in paths))
    for path in [*paths, ROOT / "CITATION.cff"]:
        text = path.read_text()
        new = rewrite(text, repository, ref, course)
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
