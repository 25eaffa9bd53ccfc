"""Build the course website: every lesson run in quick mode, rendered to static HTML pages.

    python scripts/build_site.py OUT                  # every lesson (5 min for 14 on 2 idle cores)
    python scripts/build_site.py OUT --lessons 09,11  # a subset, for a quick look
    python scripts/build_site.py OUT --executed DIR   # keep the executed lessons in DIR and reuse
                                                      # those whose cells and package are unchanged

Each lesson (``notebooks/NN_*.ipynb``, found by that pattern) runs top to bottom in a fresh kernel
in quick mode (``DEPTHNB_QUICK=1``, matplotlib's inline backend), through nbclient; nbconvert's
HTMLExporter (its JupyterLab template, with this script's template on top) renders it with its
figures, tables and printed output. ``OUT`` then holds:

==========================  ==================================================================
``index.html``              the lesson table (title, what it covers, Colab badge)
``guide.html``              the course guide, ``notebooks/README.md``
``NN_name.html``            one page per lesson, previous / next links on every page
``static/``                 the stylesheets (JupyterLab's own, copied from nbconvert), the Colab
                            badge, and plotly.js (from the plotly package) where a page has a
                            plotly figure
``.depthnb-site``           what was built, when, from which commit: marks ``OUT`` as a site
==========================  ==================================================================

The pages fetch nothing from the internet: figures are embedded (PNG data URIs), the template
loads no require.js, MathJax, mermaid or widget manager from a CDN, the Colab badge is a local
picture, math is turned into MathML by latex2mathml (browsers draw MathML themselves), and the
build fails if a page would still load a script, stylesheet or picture from elsewhere.

Widgets cannot run without a kernel: an ipywidgets output becomes a still of its first state (its
controls drawn disabled, its ``Output`` areas as they were when the cell finished: for the
explorer, its first figure) under a line that says the live version is in Colab, with the badge.
Exercises: each solution cell (tagged ``solution``) is folded in a ``<details>`` named after the
exercise, and the check cell under it shows the check's verdict; a question's prediction cell
(tagged so too) is folded the same way above its ``ask`` cell. Folded rather than left out: an
instructor deciding whether to adopt the course wants to read the solutions, and the verdict under
it refers to them; a student sees the exercise first and opens the solution only by choice (the
student copies, ``python -m depthnb exercises --student``, are what leaves them out).

The site is written beside ``OUT`` under a temporary name and renamed into place when complete;
an ``OUT`` that exists and is not a site this script built (no ``.depthnb-site``) is refused.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import html
import json
import os
import posixpath
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
from jinja2 import DictLoader, pass_context
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat import NotebookNode

from depthnb.errors import DepthnbError
from depthnb.utils.files import atomic_path, atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = ROOT / "depthnb"
LESSON_GLOB = "[0-9][0-9]_*.ipynb"
MARKER = ".depthnb-site"
INDEX, GUIDE = "index.html", "guide.html"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PLOTLY = "application/vnd.plotly.v1+json"
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "static/colab-badge.svg"
# A Colab badge's link: .../github/OWNER/NAME/blob/REF/path (scripts/set_repository.py's form)
COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+?)/blob/([\w.-]+)/[\w./-]+\.ipynb"
)
# A tag that would load something: a script, stylesheet, picture, frame or medium from a URL
# (absolute or protocol-relative), or CSS that imports or points at one.
EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?"
    r"\b(?:src|href|data)\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)"
    r"|@import\s+(?:url\()?[\"']?((?:https?:)?//[^\"')\s]+)"
    r"|url\(\s*[\"']?((?:https?:)?//[^\"')\s]+)",
    re.IGNORECASE,
)
URL_ATTRIBUTE = re.compile(r"(\b(?:href|src)=\")([^\"]*)(\")")
QUESTION = re.compile(r"""\bask\(\s*["'](\d\d\.P\d+)["']""")


class SiteError(RuntimeError):
    """The site could not be built: a lesson failed, a page would fetch from the internet, or
    ``OUT`` is a folder this script did not make."""


# ---- lessons ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lesson:
    """A lesson notebook: its path, title and summary (from its first cell), its Colab link."""

    path: Path
    title: str
    summary: str
    colab: str

    @property
    def number(self) -> str:
        """The two digits the file name starts with, e.g. ``"09"``."""
        return self.path.name[:2]

    @property
    def page(self) -> str:
        """The lesson's page in the site, e.g. ``09_point_clouds.html``."""
        return self.path.stem + ".html"


def read_lesson(path: Path) -> Lesson:
    """The lesson at ``path``; its first cell holds the ``# NN · title`` heading, the Colab badge
    and a paragraph that says what it covers (its first sentence is the summary).

    Raises:
        SiteError: the first cell has no heading or no Colab badge.
    """
    first = nbformat.read(path, as_version=4).cells[0].source
    heading = re.search(r"^#\s+(.+)$", first, re.MULTILINE)
    colab = COLAB_LINK.search(first)
    if heading is None or colab is None:
        raise SiteError(
            f"{path.name}: its first cell needs a '# NN · title' heading and the Colab badge, "
            "as every lesson's title cell has them"
        )
    paragraphs = [p.strip() for p in first[colab.end() :].split("\n\n") if p.strip(" \n)")]
    text = " ".join(paragraphs[0].split()) if paragraphs else ""
    summary = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]
    return Lesson(path, heading.group(1).strip(), summary, colab.group(0))


def find_lessons(folder: Path = NOTEBOOKS, only: str | None = None) -> list[Lesson]:
    """Every ``NN_*.ipynb`` lesson in ``folder``, in order; ``only`` keeps some by number
    (``"09,13"``).

    Raises:
        SiteError: no lesson, or ``only`` names a number that no lesson has.
    """
    paths = sorted(folder.glob(LESSON_GLOB))
    if only:
        wanted = [number.strip().zfill(2) for number in only.split(",") if number.strip()]
        missing = sorted(set(wanted) - {path.name[:2] for path in paths})
        if missing:
            available = ", ".join(path.name[:2] for path in paths)
            raise SiteError(f"no lesson numbered {', '.join(missing)} (there are {available})")
        paths = [path for path in paths if path.name[:2] in wanted]
    if not paths:
        raise SiteError(f"no lesson ({LESSON_GLOB}) in {folder}")
    return [read_lesson(path) for path in paths]


def repository_blob(lessons: Iterable[Lesson]) -> str:
    """``https://github.com/OWNER/NAME/blob/REF``, as the lessons' badges name it: where a link
    to a repository file that is not a page of the site goes."""
    match = COLAB_LINK.match(next(iter(lessons)).colab)
    assert match is not None  # read_lesson found it
    return f"https://github.com/{match.group(1)}/blob/{match.group(2)}"


# ---- running the lessons ------------------------------------------------------------------------


def source_digest(nb: NotebookNode) -> str:
    """SHA-256 of what a run of the lesson ``nb`` is derived from here: its cells (types and
    sources) and the package's files (``depthnb/``, code and bundled weights), whose results the
    lesson prints. An executed copy with another digest is stale. (The installed libraries'
    versions are not in it: after an upgrade, build without ``--executed`` or empty its folder.)"""
    digest = hashlib.sha256(json.dumps([[c.cell_type, c.source] for c in nb.cells]).encode())
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def kernel_environment() -> dict[str, str]:
    """This process's environment in quick mode, with matplotlib left to the kernel's inline
    backend (the test suite's ``MPLBACKEND=Agg`` would draw no figure into the notebook)."""
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    env["DEPTHNB_QUICK"] = "1"
    return env


def reachable_models(model_id: str, states: dict[str, dict]) -> list[str]:
    """The widget models that ``model_id`` shows: itself and, depth first, every model its
    state names (``"IPY_MODEL_<id>"``, as a box's ``children`` do)."""
    seen: list[str] = []
    todo = [model_id]
    while todo:
        current = todo.pop()
        if current in seen or current not in states:
            continue
        seen.append(current)
        text = json.dumps(states[current], default=str)
        todo.extend(reversed(re.findall(r"IPY_MODEL_([0-9a-zA-Z]+)", text)))
    return seen


def snapshot(model_id: str, live: dict[str, dict]) -> dict[str, dict]:
    """The states of the models that ``model_id`` shows, as they are now, in the notebook's
    widget-state format (``{id: {"model_name", "state"}}``)."""
    still = {}
    for key in reachable_models(model_id, live):
        state = json.loads(json.dumps(live[key], default=lambda _: None))  # no binary buffers
        still[key] = {"model_name": state.get("_model_name", ""), "state": state}
    return still


def quiet_output_widget() -> type:
    """nbclient's stand-in for a front end's ``Output`` widget, without its echo to the kernel.

    nbclient's stand-in sends each output it receives back to the kernel on the shell channel, in
    the middle of waiting on that channel for the cell's reply; now and then the reply is then
    never seen and the run waits for ever (jupyter/nbclient#312; here, about one run of lesson 11 in
    three). The outputs are still kept in the client's widget state, which is all the site needs.
    """
    from nbclient.output_widget import OutputWidget

    class QuietOutputWidget(OutputWidget):
        def sync_state(self) -> None:
            """Keep the outputs here (the kernel's copy is not read)."""

    return QuietOutputWidget


def execute(path: Path, timeout: int) -> NotebookNode:
    """``path`` run top to bottom in a fresh kernel in quick mode, in its own folder.

    When a cell shows a widget, the states of the widget's models right after the cell are kept in
    the notebook's metadata (``depthnb_site.widgets``): its first state, which the page shows.

    Raises:
        SiteError: a cell failed, ran past ``timeout`` seconds, or the kernel died.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    stills: dict[str, dict] = {}

    def keep_first_states(cell: NotebookNode, **_: Any) -> None:
        for output in cell.get("outputs", []):
            model = output.get("data", {}).get(WIDGET_VIEW, {}).get("model_id")
            if model and model not in stills:  # shown again later: still its first state
                stills[model] = snapshot(model, client.widget_state)

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_executed=keep_first_states,
    )
    client.widget_registry["@jupyter-widgets/output"]["OutputModel"] = quiet_output_widget()
    try:
        client.execute(env=kernel_environment())
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        raise SiteError(f"{path.name} failed in quick mode:\n{error}") from error
    nb.metadata["depthnb_site"] = {"source": source_digest(nb), "widgets": stills}
    return nb


def executed_lesson(lesson: Lesson, timeout: int, keep: Path | None) -> NotebookNode:
    """The lesson run in quick mode; with ``keep``, the copy there when it was run from the
    lesson's cells and package as they are now (:func:`source_digest`), else a new run written
    there."""
    copy_path = keep / lesson.path.name if keep else None
    if copy_path and copy_path.is_file():
        kept = nbformat.read(copy_path, as_version=4)
        source = nbformat.read(lesson.path, as_version=4)
        if kept.metadata.get("depthnb_site", {}).get("source") == source_digest(source):
            return kept
    nb = execute(lesson.path, timeout)
    if copy_path:
        atomic_write_text(copy_path, nbformat.writes(nb))
    return nb


# ---- widgets as stills --------------------------------------------------------------------------

BOXES = {"VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel"}
STATIC = BOXES | {"HTMLModel", "HTMLMathModel", "LabelModel", "OutputModel"}
PROGRESS = {"FloatProgressModel", "IntProgressModel"}


def _escape(value: Any) -> str:
    return html.escape(str(value))


def _label(state: dict) -> str:
    text = state.get("description", "")
    return f'<span class="widget-label">{_escape(text)}</span>' if text else ""


def _slider(state: dict) -> str:
    value = state.get("value", 0)
    if isinstance(value, list):  # a range slider: (low, high)
        shown, value = " - ".join(str(v) for v in value), value[0]
    else:
        shown = str(value)
    bounds = f'min="{state.get("min", 0)}" max="{state.get("max", 100)}"'
    return (
        f'{_label(state)}<input type="range" disabled {bounds} step="{state.get("step", 1)}" '
        f'value="{value}"><span class="widget-readout">{_escape(shown)}</span>'
    )


def _choice(state: dict) -> str:
    labels = state.get("_options_labels", [])
    index = state.get("index")
    if state.get("_model_name") == "ToggleButtonsModel":
        buttons = "".join(
            f'<button disabled class="{"chosen" if i == index else ""}">{_escape(label)}</button>'
            for i, label in enumerate(labels)
        )
        return _label(state) + buttons
    options = "".join(
        f"<option{' selected' if i == index else ''}>{_escape(label)}</option>"
        for i, label in enumerate(labels)
    )
    return f"{_label(state)}<select disabled>{options}</select>"


def _checkbox(state: dict) -> str:
    checked = " checked" if state.get("value") else ""
    text = _escape(state.get("description", ""))
    return f'<label><input type="checkbox" disabled{checked}> {text}</label>'


def _button(state: dict) -> str:
    return f"<button disabled>{_escape(state.get('description') or 'button')}</button>"


def _progress(state: dict) -> str:
    return f'<progress value="{state.get("value", 0)}" max="{state.get("max", 100)}"></progress>'


def _output_html(output: dict) -> str:
    """One output of an ``Output`` widget as HTML: pictures, HTML, text."""
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return f'<img src="data:{mime};base64,{"".join(data[mime]).strip()}" alt="figure">'
    if "text/html" in data:
        return "".join(data["text/html"])
    text = output.get("text") or "".join(data.get("text/plain", ""))
    return f"<pre>{_escape(text)}</pre>" if text else ""


LEAVES: dict[str, Callable[[dict], str]] = {
    "IntSliderModel": _slider,
    "FloatSliderModel": _slider,
    "FloatLogSliderModel": _slider,
    "IntRangeSliderModel": _slider,
    "FloatRangeSliderModel": _slider,
    "DropdownModel": _choice,
    "ToggleButtonsModel": _choice,
    "RadioButtonsModel": _choice,
    "SelectModel": _choice,
    "CheckboxModel": _checkbox,
    "ToggleButtonModel": _checkbox,
    "ButtonModel": _button,
    "FileUploadModel": _button,
    "FloatProgressModel": _progress,
    "IntProgressModel": _progress,
    "HTMLModel": lambda state: str(state.get("value", "")),
    "HTMLMathModel": lambda state: str(state.get("value", "")),
    "LabelModel": lambda state: _escape(state.get("value", "")),
    "OutputModel": lambda state: "".join(_output_html(o) for o in state.get("outputs", [])),
}


def widget_html(model_id: str, states: dict[str, dict]) -> str:
    """A still of widget ``model_id`` from its models' ``states`` (the notebook's widget-state
    format): boxes as rows and columns, controls drawn disabled at their values, ``Output``
    areas with what they held."""
    entry = states.get(model_id)
    if entry is None:
        return ""
    name, state = entry.get("model_name", ""), entry.get("state", {})
    if name in BOXES:
        children = "".join(
            widget_html(child.removeprefix("IPY_MODEL_"), states)
            for child in state.get("children", [])
        )
        direction = "row" if name == "HBoxModel" else "column"
        return f'<div class="widget-box widget-{direction}">{children}</div>'
    draw = LEAVES.get(name, lambda s: f'<span class="widget-other">{_escape(name)}</span>')
    return f'<div class="widget-leaf">{draw({"_model_name": name, **state})}</div>'


def is_interactive(model_id: str, states: dict[str, dict]) -> bool:
    """Whether the widget has a control a reader would use (a progress bar or a box of HTML has
    none, and needs no pointer to Colab)."""
    models = reachable_models(model_id, {k: v.get("state", {}) for k, v in states.items()})
    names = [str(states[m].get("model_name", "")) for m in models]
    looks = ("LayoutModel", "StyleModel")  # a widget's layout and style are models of their own
    return any(name not in STATIC | PROGRESS and not name.endswith(looks) for name in names)


def widget_note(colab: str) -> str:
    """The line above a widget's still: what it is, and where the live one runs."""
    return (
        '<p class="widget-note">An interactive widget: below, a still of its first state. '
        f'Move its controls in the live version, in Colab: <a href="{colab}">'
        f'<img src="{LOCAL_BADGE}" alt="Open In Colab"></a></p>'
    )


def outputs_as_html(nb: NotebookNode, mime: str, draw: Callable[[Any, int], str]) -> int:
    """Replace each output of ``nb`` that holds ``mime`` by an HTML output, ``draw(data, n)`` of
    that output's ``mime`` data, ``n`` counting them from 1 in page order; return how many."""
    count = 0
    for cell in nb.cells:
        for i, output in enumerate(cell.get("outputs", [])):
            data = output.get("data", {}).get(mime)
            if data is None:
                continue
            count += 1
            cell.outputs[i] = nbformat.v4.new_output(
                "display_data", data={"text/html": draw(data, count)}
            )
    return count


def still_widgets(nb: NotebookNode, colab: str) -> int:
    """Replace every widget output of ``nb`` by a still of its first state (the snapshot that
    :func:`execute` kept, else the notebook's saved widget state) under :func:`widget_note`;
    return how many were replaced."""
    saved = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    firsts = nb.metadata.get("depthnb_site", {}).get("widgets", {})

    def draw(view: dict, _: int) -> str:
        model = view.get("model_id", "")
        states = firsts.get(model) or saved
        note = widget_note(colab) if is_interactive(model, states) else ""
        return f'{note}<div class="widget-still">{widget_html(model, states)}</div>'

    return outputs_as_html(nb, WIDGET_VIEW, draw)


def plotly_figures(nb: NotebookNode) -> int:
    """Replace every plotly figure output by a ``<div>`` that the page's plotly.js (the plotly
    package's own, in ``static/``) draws; return how many."""

    def draw(figure: dict, n: int) -> str:
        spec = json.dumps({"data": figure.get("data", []), "layout": figure.get("layout", {})})
        spec = spec.replace("</", "<\\/")  # no "</script>" inside the script
        load = '<script src="static/plotly.min.js"></script>' if n == 1 else ""
        return (
            f'{load}<div class="plotly-figure" id="plotly-{n}"></div>'
            f"<script>(function () {{ const f = {spec}; "
            f'Plotly.newPlot("plotly-{n}", f.data, f.layout, {{responsive: true}}); }})();</script>'
        )

    return outputs_as_html(nb, PLOTLY, draw)


def animated_pictures(nb: NotebookNode) -> int:
    """Draw each GIF output (``IPython.display.Image`` of a ``.gif``, lesson 13's clip) as an
    embedded picture: nbconvert's template draws PNG, JPEG and SVG, and shows a GIF by its text,
    ``<IPython.core.display.Image object>``. Return how many."""
    return outputs_as_html(
        nb,
        "image/gif",
        lambda gif, _: f'<img src="data:image/gif;base64,{"".join(gif).strip()}" alt="animation">',
    )


def label_solutions(nb: NotebookNode) -> int:
    """Name each cell tagged ``solution`` for its fold (``metadata.solution_label``): an exercise's
    solution ("Solution to exercise 09.1 ...") or a question's prediction, named after the
    ``ask("NN.PK", prediction)`` cell under it; return how many. The package tells the two apart,
    as it does for the student copies (:mod:`depthnb.course.exercises.student`).

    Raises:
        ConfigError: a cell tagged ``solution`` that is neither.
    """
    from depthnb.course.exercises.student import is_prediction, solution_key

    count = 0
    for i, cell in enumerate(nb.cells):
        if is_prediction(cell):
            after = nb.cells[i + 1].source if i + 1 < len(nb.cells) else ""
            asked = QUESTION.search(after)
            which = f"question {asked.group(1)}" if asked else "the question"
            cell.metadata["solution_label"] = f"The answer to {which} (predict it first)"
        elif (key := solution_key(cell)) is not None:
            cell.metadata["solution_label"] = f"Solution to exercise {key} (try it yourself first)"
        else:
            continue
        count += 1
    return count


# ---- pages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of the site: its file name and its title."""

    file: str
    title: str


@dataclass(frozen=True)
class Nav:
    """A page's place in the site: the page before it and the page after it (None at the ends)."""

    page: Page
    previous: Page | None
    next: Page | None


def navigation(pages: list[Page]) -> list[Nav]:
    """Each page with its neighbours, in the reading order of ``pages``."""
    return [
        Nav(page, pages[i - 1] if i > 0 else None, pages[i + 1] if i + 1 < len(pages) else None)
        for i, page in enumerate(pages)
    ]


def nav_html(nav: Nav, where: str) -> str:
    """The navigation bar (``where``: "top" or "bottom"): the lessons' table, the guide, and
    the previous and next pages."""

    def link(page: Page | None, rel: str, arrow: str) -> str:
        if page is None:
            return f'<span class="nav-{rel}"></span>'
        text = f"{arrow} {page.title}" if rel == "prev" else f"{page.title} {arrow}"
        return f'<a class="nav-{rel}" rel="{rel}" href="{page.file}">{_escape(text)}</a>'

    home = f'<a class="nav-home" href="{INDEX}">depthnb: the lessons</a>'
    guide = f'<a class="nav-guide" href="{GUIDE}">Course guide</a>'
    return (
        f'<nav class="site-nav site-nav-{where}"><span class="nav-site">{home} · {guide}</span>'
        f"{link(nav.previous, 'prev', '←')}{link(nav.next, 'next', '→')}</nav>"
    )


def tex_to_mathml(tex: str, display: str) -> str:
    """TeX as MathML (``display``: "block" or "inline"), which browsers draw without a script;
    TeX that latex2mathml cannot read stays as text (``<code class="tex">``)."""
    from latex2mathml.converter import convert

    try:
        return str(convert(tex, display=display))
    except Exception:  # latex2mathml raises its own errors, and others, on TeX it cannot read
        return f'<code class="tex">{html.escape(tex)}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer with math as MathML instead of TeX left for MathJax."""

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, "block")

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body, "inline")

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")


TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block notebook_css -%}
<link rel="stylesheet" href="static/notebook.css">
<link rel="stylesheet" href="static/site.css">
{%- endblock notebook_css -%}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
{{ resources.site.top }}
<main>
{%- endblock body_header -%}
{%- block any_cell scoped -%}
{%- if cell.metadata.solution_label -%}
<details class="solution"><summary>{{ cell.metadata.solution_label }}</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock any_cell -%}
{%- block body_footer -%}
</main>
{{ resources.site.bottom }}
<footer class="site-footer">{{ resources.site.footer }}</footer>
</body>
{%- endblock body_footer -%}
"""


class SiteExporter(HTMLExporter):
    """nbconvert's JupyterLab HTML with the site's template: navigation, solutions folded, the
    stylesheets in ``static/``, no script from a CDN, math as MathML."""

    def __init__(self) -> None:
        super().__init__(
            template_name="lab",
            extra_loaders=[DictLoader({"site.html.j2": TEMPLATE})],
            template_file="site.html.j2",
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )

    @pass_context
    def markdown2html(self, context: Any, source: str) -> str:
        """Markdown to HTML, math as MathML (nbconvert's own filter otherwise)."""
        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
        )
        return str(MarkdownWithMath(renderer=renderer).render(source))

    def stylesheet(self) -> str:
        """JupyterLab's stylesheet and its light theme, as nbconvert ships them for its template
        (the pages link to one copy instead of each inlining 250 kB)."""
        for folder in self.template_paths:
            static = Path(folder) / "static"
            if (static / "index.css").is_file() and (static / "theme-light.css").is_file():
                return "".join(
                    (static / name).read_text("utf-8") for name in ("index.css", "theme-light.css")
                )
        raise SiteError("nbconvert's lab template has no static/index.css: reinstall nbconvert")


def rewrite_links(page: str, site_files: set[str], blob: str) -> str:
    """``page`` with its links fitted to the site: a link to a lesson notebook that has a page goes
    to that page, the course guide (``README.md`` beside the lessons) to ``guide.html``, any other
    repository file to GitHub (``blob``/path), and the Colab badge's picture to the local copy."""

    def fit(match: re.Match[str]) -> str:
        url = match.group(2)
        path, hash_, fragment = url.partition("#")
        if url == COLAB_BADGE_IMAGE:
            url = LOCAL_BADGE
        elif not path or re.match(r"^[a-z][a-z0-9+.-]*:|^/", path) or path.startswith("static/"):
            pass  # a fragment, an absolute URL (http, data, mailto) or the site's own files
        elif path in site_files:
            pass
        elif path.endswith(".ipynb") and Path(path).stem + ".html" in site_files:
            url = Path(path).stem + ".html" + hash_ + fragment
        elif posixpath.normpath(path) == "README.md":
            url = GUIDE + hash_ + fragment
        else:
            url = f"{blob}/{posixpath.normpath(posixpath.join('notebooks', path))}{hash_}{fragment}"
        return match.group(1) + url + match.group(3)

    return URL_ATTRIBUTE.sub(fit, page)


def external_resources(page: str) -> list[str]:
    """Every URL from which ``page`` would load a script, stylesheet, picture or frame (links a
    reader follows, ``<a href>``, are not loads)."""
    return [next(group for group in match.groups() if group) for match in EXTERNAL.finditer(page)]


def markdown_notebook(text: str, title: str) -> NotebookNode:
    """A notebook of one Markdown cell: how the guide and the index go through the same template."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    nb.metadata["title"] = title
    return nb


def index_markdown(lessons: list[Lesson]) -> str:
    """The index page: what the site shows, and the lesson table."""
    rows = "\n".join(
        f"| {lesson.number} | [{lesson.title.split('·', 1)[-1].strip()}]({lesson.page}) | "
        f"{lesson.summary.replace('|', '&#124;')} | "
        f"[![Open In Colab]({LOCAL_BADGE})]({lesson.colab}) |"
        for lesson in lessons
    )
    return f"""# depthnb: a course in monocular depth estimation

{len(lessons)} lessons, each a Jupyter notebook that runs in Colab. Every page here is its lesson
run top to bottom in **quick mode**: synthetic rooms, real RGB-D from scikit-image and the course's
small U-Net, a minute per lesson on a CPU. The figures and numbers are quick mode's; opened in
Colab with its badge, a lesson runs in full mode on the real datasets at the papers' sizes.
Instructors: the [course guide]({GUIDE}) gives each lesson's time and needs, the exercises and a
syllabus. Each lesson ends in exercises; their solutions are folded under the exercise.

| # | lesson | what it covers | Colab |
|---|---|---|---|
{rows}
"""


def commit() -> str:
    """The repository's commit, short, or "" outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


# ---- writing the site ---------------------------------------------------------------------------


def check_out(out: Path) -> None:
    """Refuse an ``OUT`` that exists and is not a site this script built.

    Raises:
        SiteError: ``out`` is a file, a link, or a folder without ``.depthnb-site``.
    """
    if out.is_symlink() or (out.exists() and not (out / MARKER).is_file()):
        raise SiteError(
            f"{out} exists and is not a site that build_site.py made (no {MARKER} in it): "
            "name a new folder, or remove this one yourself"
        )


def prepared(nb: NotebookNode, lesson: Lesson) -> tuple[NotebookNode, bool]:
    """A copy of the executed lesson ready for its page (widgets as stills, plotly figures for
    plotly.js, GIFs as pictures, solutions named for their folds, the page's title), and whether
    it has a plotly figure."""
    page = copy.deepcopy(nb)
    still_widgets(page, lesson.colab)
    for key in ("widgets", "depthnb_site"):  # drawn as stills: no state for a widget manager
        page.metadata.pop(key, None)
    has_plotly = plotly_figures(page) > 0
    animated_pictures(page)
    label_solutions(page)
    page.metadata["title"] = f"{lesson.title} · depthnb"
    return page, has_plotly


@dataclass(frozen=True)
class Renderer:
    """Renders a notebook to a page of the site: the exporter, the site's file names, where other
    repository files live, and the footer."""

    exporter: SiteExporter
    site_files: set[str]
    blob: str
    footer: str

    def __call__(self, nb: NotebookNode, nav: Nav) -> str:
        """The page of ``nb`` at ``nav``'s place.

        Raises:
            SiteError: the page would load something from the internet.
        """
        site = {
            "top": nav_html(nav, "top"),
            "bottom": nav_html(nav, "bottom"),
            "footer": self.footer,
        }
        body, _ = self.exporter.from_notebook_node(nb, resources={"site": site})
        page = rewrite_links(body, self.site_files, self.blob)
        loads = external_resources(page)
        if loads:
            raise SiteError(f"{nav.page.file} would load from the internet: {', '.join(loads)}")
        return page


def write(path: Path, text: str) -> int:
    """Write ``text`` to ``path`` as UTF-8 (inside the site's temporary folder); its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.write_bytes(text.encode("utf-8"))


def write_static(static: Path, exporter: SiteExporter, plotly: bool) -> None:
    """The pages' stylesheets and Colab badge, and plotly.js (the plotly package's own) where
    ``plotly`` says a page has a plotly figure, into the folder ``static``."""
    write(static / "notebook.css", exporter.stylesheet())
    write(static / "site.css", STYLE)
    write(static / "colab-badge.svg", BADGE)
    if plotly:
        from plotly.offline import get_plotlyjs

        write(static / "plotly.min.js", get_plotlyjs())


def build(
    out: Path,
    lessons: list[Lesson],
    timeout: int = 900,
    keep: Path | None = None,
    log: Callable[[str], object] = print,
) -> None:
    """Run ``lessons`` in quick mode and write the site to ``out`` (see the module's docstring).

    Raises:
        SiteError: ``out`` is not a site, ``keep`` is not a folder, a lesson failed, or a page
            would fetch from the internet.
    """
    check_out(out)
    if keep is not None and keep.exists() and not keep.is_dir():
        raise SiteError(f"{keep} is not a folder: name a folder to keep the executed lessons in")
    exporter = SiteExporter()
    pages = [Page(INDEX, "Lessons"), Page(GUIDE, "Course guide")]
    pages += [Page(lesson.page, lesson.title) for lesson in lessons]
    navs = {nav.page.file: nav for nav in navigation(pages)}
    built = datetime.now(timezone.utc)
    footer = (
        f"Built by scripts/build_site.py in quick mode from commit {commit() or '(unknown)'} on "
        f"{built:%Y-%m-%d}. The live lessons run in Colab."
    )
    render = Renderer(exporter, {page.file for page in pages}, repository_blob(lessons), footer)
    with atomic_path(out) as work:
        work.mkdir()
        needs_plotly = False
        for lesson in lessons:
            start = time.monotonic()
            nb, has_plotly = prepared(executed_lesson(lesson, timeout, keep), lesson)
            needs_plotly |= has_plotly
            size = write(work / lesson.page, render(nb, navs[lesson.page])) / 1e6
            log(f"{lesson.path.stem}: {time.monotonic() - start:.0f} s, page {size:.1f} MB")
        guide = (NOTEBOOKS / "README.md").read_text("utf-8")
        write(work / GUIDE, render(markdown_notebook(guide, "Course guide · depthnb"), navs[GUIDE]))
        index = markdown_notebook(index_markdown(lessons), "depthnb: the lessons")
        write(work / INDEX, render(index, navs[INDEX]))
        write_static(work / "static", exporter, needs_plotly)
        record = {"built": built.isoformat(timespec="seconds"), "commit": commit()}
        write(work / MARKER, json.dumps(record | {"lessons": [page.file for page in pages]}))
        check_out(out)  # still nobody else's folder, just before the rename


def folder_size(folder: Path) -> int:
    """Bytes of the files under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="\n\n".join(__doc__.split("\n\n")[:2]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", type=Path, help="the site's folder (new, or a site built before)")
    parser.add_argument("--lessons", help="only these lessons, by number: 09,13")
    parser.add_argument(
        "--executed", type=Path, metavar="DIR",
        help="keep the executed lessons in DIR; reuse a copy there run from the lesson's cells "
        "and package as they are now",
    )  # fmt: skip
    parser.add_argument("--timeout", type=int, default=900, help="seconds a cell may run")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        build(args.out, find_lessons(only=args.lessons), args.timeout, args.executed)
    except (SiteError, DepthnbError, OSError) as error:  # a failed lesson, a bad folder
        print(f"build_site: {error}", file=sys.stderr)
        return 1
    size = folder_size(args.out) / 1e6
    print(f"site: {args.out} ({size:.1f} MB) in {time.monotonic() - start:.0f} s")
    return 0


STYLE = """/* The site's own styles, over JupyterLab's (notebook.css); the first block is the rules
   that nbconvert's lab template writes into each page. */
a.anchor-link { visibility: hidden; margin-left: 0.3rem; text-decoration: none; }
:is(h1, h2, h3, h4, h5, h6):hover > a.anchor-link { visibility: visible; }
.jp-InputArea, .jp-InputArea-editor { overflow: hidden; }
.jp-Collapser { display: none; }
.jp-OutputArea-output pre { line-height: inherit; font-family: inherit; }
.jp-RenderedText pre { color: var(--jp-content-font-color1); font-size: var(--jp-code-font-size); }
.cm-editor.cm-s-jupyter .highlight pre { padding: var(--jp-code-padding) 4px; margin: 0;
  font-family: inherit; font-size: inherit; line-height: inherit; color: inherit; }

body.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 0 1.5rem; }
math { font-size: 1.1em; }
.site-nav { display: flex; flex-wrap: wrap; gap: 0.4rem 1.5rem; align-items: center;
  padding: 0.7rem 0; border-bottom: 1px solid #ddd; font-family: var(--jp-ui-font-family);
  font-size: 14px; }
.site-nav-bottom { border-top: 1px solid #ddd; border-bottom: none; margin-top: 2rem; }
.site-nav a { color: #1565c0; text-decoration: none; }
.site-nav a:hover { text-decoration: underline; }
.nav-site { flex: 1 1 auto; font-weight: 600; }
.nav-next { text-align: right; }
.site-footer { color: #666; font-family: var(--jp-ui-font-family); font-size: 12px;
  padding: 0.5rem 0 2rem; }
details.solution { border-left: 4px solid #f9ab00; background: #fffaf0; margin: 0.6rem 0;
  padding: 0.2rem 0.6rem; }
details.solution > summary { cursor: pointer; font-family: var(--jp-ui-font-family);
  font-weight: 600; padding: 0.3rem 0; }
.widget-note { background: #eef4ff; border-left: 4px solid #1565c0; padding: 0.4rem 0.6rem; }
.widget-note img, .jp-RenderedHTMLCommon td img { vertical-align: middle; }
.widget-still { border: 1px dashed #aaa; padding: 0.5rem; }
.widget-box { display: flex; flex-wrap: wrap; gap: 0.3rem 1rem; align-items: center; }
.widget-column { flex-direction: column; align-items: flex-start; }
.widget-leaf { display: flex; gap: 0.4rem; align-items: center; }
.widget-leaf img { max-width: 100%; }
.widget-readout { font-family: var(--jp-code-font-family); }
.widget-still button.chosen { background: #1565c0; color: #fff; }
.plotly-figure { width: 100%; min-height: 450px; }
code.tex { color: #a00; }
"""

# The Colab badge, drawn here so that no page loads it from Colab's site.
BADGE = """<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img"
 aria-label="Open In Colab"><title>Open In Colab</title>
<rect width="117" height="20" rx="3" fill="#555"/>
<circle cx="8" cy="10" r="3.8" fill="none" stroke="#f9ab00" stroke-width="2.4"/>
<circle cx="14" cy="10" r="3.8" fill="none" stroke="#e8710a" stroke-width="2.4"/>
<text x="23" y="14" fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif"
 font-size="11">Open in Colab</text></svg>
"""

if __name__ == "__main__":
    sys.exit(main())
