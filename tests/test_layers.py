"""The package's architecture, held by its imports: layers, no circles, no loose modules.

Every ``import`` and ``from ... import`` inside depthnb is read from the source (the AST, imports
inside functions and under ``TYPE_CHECKING`` included), so a late import cannot hide an arrow.
The layers, bottom to top (a module imports only from its own layer or the ones below):

==========  ========================================================================================
layer       modules
==========  ========================================================================================
errors      ``errors``: every exception
utils       ``utils/``: files, device, seed, distributed, paths, optional imports, arrays, tensors
hub         ``hub/``: fetching files (sources, transfer, extract, Google Drive, the HF Hub, ...)
library     in this order: ``geometry``, ``encodings``, ``checkpoint`` and ``stereo`` (leaves:
            camera maths, depth encodings, the checkpoint file format, stereo matching); ``data``;
            ``models``; ``inference`` (a model's outputs to metres); ``metrics`` (which run a model
            over a test set);
            ``losses`` (the scale-and-shift-invariant loss shares the metrics' alignment fit);
            ``train`` (a task's loss and metrics); ``viz`` (the explorer predicts); ``video``
            (predicts and colours frames); ``deploy`` (compares exported models' metrics)
course      ``course/``: the lessons' setup, budgets, exercises (which exercise every library part)
cli         ``cli/``: one module per subcommand
==========  ========================================================================================

The contract's names keep three small modules at the top level (``notebook``, ``predict``,
``exercises``); each re-exports only its contract names, from the layer of its home.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "depthnb"

LIBRARY = (
    ("geometry", "encodings", "checkpoint", "stereo"),
    ("data",),
    ("models",),
    ("inference", "predict"),
    ("metrics",),
    ("losses",),
    ("train",),
    ("viz",),
    ("video",),
    ("deploy",),
)
#: Layer of each top-level name (a module or a sub-package), bottom first.
LAYERS: dict[str, float] = {
    "errors": 0,
    "utils": 1,
    "hub": 2,
    **{name: 3 + index / 100 for index, names in enumerate(LIBRARY) for name in names},
    "course": 4,
    "notebook": 4,  # the contract's depthnb.notebook.setup, from course/notebook.py
    "exercises": 4,  # the contract's depthnb.exercises.check and .ask, from course/exercises/
    "cli": 5,
    "__main__": 6,
}
#: The modules allowed directly under depthnb/: the library's one-concept modules, the errors,
#: the three contract faces, and the package's own entry points.
LOOSE_MODULES = {
    "__init__",
    "__main__",
    "checkpoint",
    "encodings",
    "errors",
    "exercises",
    "geometry",
    "inference",
    "notebook",
    "predict",
    "stereo",
    "video",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The package module an imported dotted name lives in (its longest known prefix)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (``depthnb`` itself excluded as a target: its
    ``__init__`` only names the sub-packages)."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in node.names]
            for imported in names:
                target = _target(imported, modules)
                if target and target not in (name, "depthnb"):
                    graph[name].add(target)
    return graph


def _layer(module: str) -> float:
    parts = module.split(".")
    if len(parts) == 1:
        return 7  # depthnb/__init__.py: names every sub-package lazily
    assert parts[1] in LAYERS, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return LAYERS[parts[1]]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circles():
    assert _cycles(import_graph()) == []


def test_the_graph_finds_a_circle():
    """The check itself: a circle through a late import is found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_from_a_higher_layer():
    upward = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_every_module_is_in_a_layer():
    for module in _modules():
        _layer(module)


def test_no_loose_modules_beyond_the_allowlist():
    loose = {path.stem for path in PACKAGE.glob("*.py")}
    assert loose <= LOOSE_MODULES, sorted(loose - LOOSE_MODULES)


def test_contract_faces_hold_only_their_contract_names():
    """The top-level contract modules re-export their contract names and nothing else."""
    faces = {
        "notebook": {"setup"},
        "predict": {"predict_depth", "load_checkpoint"},
        "exercises": {"check", "ask"},
    }
    for name, names in faces.items():
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        imported = {
            alias.asname or alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        defined = {
            node.name
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        }
        assert imported == names and not defined, name


def test_help_answers_without_importing_torch():
    """``--help`` of the command line and of every subcommand, in one process: no torch."""
    code = (
        "import contextlib, io, sys\n"
        "from depthnb.cli.main import COMMANDS, main\n"
        "assert len(COMMANDS) == 7, COMMANDS\n"
        "for argv in (['--help'], *([name, '--help'] for name in COMMANDS)):\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        with contextlib.suppress(SystemExit):\n"
        "            main(argv)\n"
        "    usage = ' '.join(['usage: python -m depthnb', *argv[:-1]])\n"
        "    assert out.getvalue().startswith(usage), (argv, out.getvalue())\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", "python -m depthnb --help imported torch"
    result = subprocess.run(
        [sys.executable, "-m", "depthnb", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "train" in result.stdout, result.stderr
