"""Every docstring example of the package runs: each module's examples as one doctest, in an empty
folder (so files the examples write land there, and the data folder too), with the global random
generators seeded and matplotlib's settings put back afterwards. Modules whose examples need an
optional extra skip when it is missing."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import matplotlib
import pytest

import depthnb
from depthnb.utils.seed import seeded_rngs

PACKAGE = Path(depthnb.__file__).parent

#: The optional packages a module's examples need (the deploy extra).
NEEDS = {
    "depthnb.deploy": ("onnx", "onnxruntime"),
    "depthnb.deploy.session": ("onnx", "onnxruntime"),
}

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module whose source holds an example, found without importing it.
SOURCES = {
    _module_name(path): path.read_text(encoding="utf-8") for path in sorted(PACKAGE.rglob("*.py"))
}
MODULES = sorted(name for name, text in SOURCES.items() if re.search(r"^\s*>>> ", text, re.M))


def _examples(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [test for test in doctest.DocTestFinder().find(module, name) if test.examples]


def test_no_example_is_skipped():
    skipping = [name for name, text in SOURCES.items() if re.search(r"doctest:\s*\+SKIP", text)]
    assert not skipping, f"examples marked +SKIP in {skipping}: make them run, or remove them"
    assert len(MODULES) >= 20


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str, tmp_path, monkeypatch):
    for extra in NEEDS.get(name, ()):
        pytest.importorskip(extra)
    tests = _examples(name)
    assert tests, f"{name}: '>>>' in its source, but no example that doctest finds"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEPTHNB_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("DEPTHNB_MIRROR", raising=False)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    with seeded_rngs(0), matplotlib.rc_context():
        for test in tests:
            runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples of {name} failed"
