"""A Colab twin: Colab's published package versions in a fresh virtual environment, the package
installed exactly as the lessons' first cells install it, and every lesson run there.

    python scripts/colab_twin.py cut FREEZE OS_INFO --commit SHA --date YYYY-MM-DD
        write .ci/colab-constraints.txt from Colab's pip-freeze.gpu.txt and os-info-gpu.txt
        (the repository googlecolab/backend-info)
    python scripts/colab_twin.py build VENV [--python PYTHON]
        a new virtual environment at VENV with Colab's versions; then the package as the lessons'
        first cells install it; fails, listing them, if that changed any of Colab's versions
    python scripts/colab_twin.py test VENV
        every lesson in quick mode under nbval, the full-mode rehearsal and the explorer's tests
    python scripts/colab_twin.py all VENV [--python PYTHON]
        build, then test (what .ci/run does)

Standard library only: it runs with whatever Python starts it and builds the twin with Python 3.13
(Colab's minor version; ``--python`` names an interpreter, otherwise python3.13 on PATH or pyenv's
newest 3.13.x).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / ".ci" / "colab-constraints.txt"
COLAB_PYTHON = "3.13"
SOURCE = "https://github.com/googlecolab/backend-info/blob/{commit}/pip-freeze.gpu.txt"
# What the course and its tests use that Colab preloads, installed at Colab's versions (their own
# dependencies come at Colab's versions too: the constraints pin the whole freeze).
COLAB_PACKAGES = [
    "pip",
    "setuptools",
    "torch",
    "torchvision",
    "numpy",
    "ipywidgets",
    "widgetsnbextension",
    "ipython",
    "ipykernel",
    "jupyter_client",
    "jupyter_core",
    "notebook",
    "traitlets",
    "matplotlib",
    "transformers",
    "tokenizers",
    "huggingface-hub",
    "safetensors",
    "plotly",
    "imageio",
    "scikit-image",
    "scipy",
    "h5py",
    "pillow",
    "protobuf",
    "grpcio-status",
    "tqdm",
    "requests",
    "nbformat",
    "nbclient",
    "psutil",
    "pytest",
]
# Test-only tools that Colab lacks, installed under the constraints (so none of Colab's versions
# can move); the rehearsal and the explorer's tests need nothing more.
TEST_TOOLS = ["nbval", "hypothesis"]
# The CUDA runtime that a torch build pins exactly: Colab's cu128 build and PyPI's build of the
# same version pin different ones, so these follow torch instead of Colab's freeze.
CUDA_BUILD = re.compile(r"^(cuda-toolkit|cuda-bindings|nvidia-[\w-]+-cu1\d)==", re.IGNORECASE)
INSTALL_LINE = re.compile(r"^\s*%pip install (.+)$", re.MULTILINE)
GIT_URL = re.compile(
    r"git\+https://github\.com/[\w.-]+/[\w.-]+?(?:\.git)?(?:@[\w./-]+)?(?=[\"'\s]|$)"
)


class TwinError(RuntimeError):
    """The twin could not be built, or installing the package changed Colab's versions."""


def _comment_list(names: Iterable[str]) -> list[str]:
    """``names``, sorted and comma-separated, wrapped as indented comment lines of the header."""
    text = ", ".join(sorted(names, key=str.lower)) + "."
    return textwrap.wrap(
        text, 96, initial_indent="#   ", subsequent_indent="#   ", break_on_hyphens=False
    )


def cut(freeze: str, os_info: str, commit: str, date: str) -> str:
    """The constraints file's text from Colab's ``pip freeze`` and ``os-info-gpu.txt``: every
    line installable from PyPI (``name @ url`` lines dropped), local version tags (``+cu128``)
    dropped."""
    python = re.search(r"^Python (\d+\.\d+\.\d+)$", os_info, re.MULTILINE)
    if python is None or not python.group(1).startswith(COLAB_PYTHON + "."):
        raise TwinError(
            f"os-info-gpu.txt names no Python {COLAB_PYTHON}.x: Colab moved to another Python;"
            " change COLAB_PYTHON in scripts/colab_twin.py and the README's Python with it"
        )
    kept: list[str] = []
    dropped: list[str] = []
    cuda: list[str] = []
    for line in freeze.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if " @ " in line or "==" not in line:
            dropped.append(line.split(" @ ")[0].split("==")[0])
            continue
        if CUDA_BUILD.match(line):
            cuda.append(line.split("==")[0])
            continue
        kept.append(line.split("+", 1)[0])
    header = [
        "# Colab's GPU runtime, as Google published it: pip-freeze.gpu.txt of",
        f"# googlecolab/backend-info at commit {commit} ({date}),",
        f"# {SOURCE.format(commit=commit)}",
        f"# Python {python.group(1)} (os-info-gpu.txt); the twin runs the newest"
        f" {COLAB_PYTHON}.x at hand.",
        "# Cut by scripts/colab_twin.py cut: every `name==version` line, with local version tags",
        "# dropped (torch==2.11.0+cu128 becomes torch==2.11.0, PyPI's build of that version: it",
        "# runs on a CPU; download.pytorch.org's CPU wheels are not used).",
        "# Left out, not installable from PyPI (`name @ url`):",
        *_comment_list(dropped),
        "# Left out, the CUDA libraries of Colab's torch build (PyPI's torch pins its own: 2.11.0",
        "# is built against CUDA 13, Colab's against 12.8):",
        *_comment_list(cuda),
        "# Regenerate, do not edit: see the course guide, 'When Colab changes'.",
    ]
    return "\n".join(header + sorted(kept, key=str.lower)) + "\n"


def colab_python(named: str | None) -> str:
    """The interpreter the twin is built with: ``named``, else python3.13 if it runs (pyenv's
    shims exist for versions that are not active), else pyenv's newest 3.13.x."""
    if named:
        return named
    found = shutil.which(f"python{COLAB_PYTHON}")
    if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
        return found
    if shutil.which("pyenv"):
        root = run_out(["pyenv", "root"]).strip()
        versions = sorted(
            (p for p in Path(root, "versions").glob(f"{COLAB_PYTHON}.*") if p.name[5:].isdigit()),
            key=lambda p: int(p.name.split(".")[2]),
        )
        if versions:
            return str(versions[-1] / "bin" / "python")
    raise TwinError(f"no Python {COLAB_PYTHON} found: pass --python /path/to/python{COLAB_PYTHON}")


def run(cmd: list[str], **kwargs) -> None:
    """Run ``cmd``, echoed, failing loudly."""
    print("+", shlex.join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)


def run_out(cmd: list[str]) -> str:
    """``cmd``'s standard output."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def versions(python: str) -> dict[str, str]:
    """Every installed distribution's version in the environment of ``python``, by PEP 503 name."""
    listed = json.loads(run_out([python, "-m", "pip", "list", "--format=json"]))
    return {re.sub(r"[-_.]+", "-", d["name"]).lower(): d["version"] for d in listed}


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Lines ``name: old -> new`` for each package of ``before`` that moved or went."""
    return [
        f"{name}: {old} -> {after.get(name, 'removed')}"
        for name, old in sorted(before.items())
        if after.get(name) != old
    ]


def install_lines(notebooks: Path, repository: Path) -> list[list[str]]:
    """The arguments of each distinct ``%pip install`` line in the lessons' first code cells,
    with the GitHub URL replaced by ``repository`` (a ``file://`` URL): what Colab runs."""
    seen: list[list[str]] = []
    for path in sorted(notebooks.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        first = next(c for c in cells if c["cell_type"] == "code")
        for line in INSTALL_LINE.findall("".join(first["source"])):
            args = shlex.split(GIT_URL.sub(repository.as_uri(), line))
            if args not in seen:
                seen.append(args)
    return seen


def build(venv: Path, python: str) -> None:
    """Colab's versions in a new environment at ``venv``, then the package the lessons' way."""
    if venv.exists():
        raise TwinError(f"{venv} exists: the twin is built fresh; remove it or name another")
    run([python, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    constraints = ["-c", str(CONSTRAINTS)]
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    run(pip + ["-q", *constraints, "pip"])  # Colab's own pip resolves what follows
    run(pip + [*constraints, *COLAB_PACKAGES])
    colab = versions(py)
    (venv / "colab-freeze.txt").write_text(run_out([py, "-m", "pip", "freeze"]))
    print(f"Colab's set: {len(colab)} distributions, frozen in {venv / 'colab-freeze.txt'}")
    for args in install_lines(ROOT / "notebooks", ROOT):
        run(pip + args)  # no constraints: Colab's %pip install has none
        moved = changed(colab, versions(py))
        if moved:
            raise TwinError(
                f"`pip install {shlex.join(args)}` changed Colab's versions:\n  "
                + "\n  ".join(moved)
            )
        print(f"`pip install {shlex.join(args)}` changed none of Colab's versions")
    run(pip + ["-q", *constraints, *TEST_TOOLS])
    moved = changed(colab, versions(py))
    if moved:
        raise TwinError("the test tools changed Colab's versions:\n  " + "\n  ".join(moved))
    (venv / "twin-freeze.txt").write_text(run_out([py, "-m", "pip", "freeze"]))


def test(venv: Path) -> int:
    """Every lesson in quick mode (nbval), the full-mode rehearsal and the explorer's tests, in
    the twin; prints each leg's wall time; returns the first failing exit status (0: all pass)."""
    py = str(venv / "bin" / "python")
    env = {**os.environ, "DEPTHNB_QUICK": "1", "VIRTUAL_ENV": str(venv)}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env.pop("PYTHONPATH", None)
    print(run_out([py, "--version"]).strip(), flush=True)
    legs = {
        "lessons, quick mode (nbval)": [
            "notebooks",
            "-p",
            "nbval",
            "--nbval-current-env",
            "--nbval-lax",
        ],
        "lessons, full-mode rehearsal": ["tests/test_rehearsal.py", "-p", "no:nbval"],
        "the explorer's tests": ["tests/test_explorer.py", "-p", "no:nbval"],
    }
    status = 0
    for name, args in legs.items():
        start = time.monotonic()
        cmd = [py, "-m", "pytest", *args, "-o", "addopts=-p no:cacheprovider", "-q"]
        print("+", shlex.join(cmd), flush=True)
        code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        print(f"twin: {name}: exit {code}, {time.monotonic() - start:.0f} s", flush=True)
        status = status or code
    return status


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cut_parser = sub.add_parser("cut", help="write the constraints from Colab's pip freeze")
    cut_parser.add_argument("freeze", type=Path, help="pip-freeze.gpu.txt")
    cut_parser.add_argument("os_info", type=Path, help="os-info-gpu.txt")
    cut_parser.add_argument("--commit", required=True, help="backend-info's commit")
    cut_parser.add_argument("--date", required=True, help="that commit's date, YYYY-MM-DD")
    for name in ("build", "test", "all"):
        leg = sub.add_parser(name)
        leg.add_argument("venv", type=Path, help="the twin's virtual environment")
        if name != "test":
            leg.add_argument("--python", help=f"a Python {COLAB_PYTHON} interpreter")
    args = parser.parse_args(argv)
    try:
        if args.command == "cut":
            tmp = CONSTRAINTS.with_suffix(".tmp")
            tmp.write_text(
                cut(args.freeze.read_text(), args.os_info.read_text(), args.commit, args.date)
            )
            tmp.replace(CONSTRAINTS)
            print(f"wrote {CONSTRAINTS.relative_to(ROOT)}")
            return 0
        if args.command in ("build", "all"):
            build(args.venv.resolve(), colab_python(args.python))
        if args.command in ("test", "all"):
            return test(args.venv.resolve())
    except (TwinError, subprocess.CalledProcessError) as failure:
        print(f"colab twin: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
