"""scripts/build_site.py, the course website: its pure parts (lessons found by pattern, navigation,
widgets as stills, plotly, solutions folded, links, nothing loaded from the internet, the folder it
may replace), then the site itself looked at in headless Chromium.

The browser test builds two real lessons (09, plotly and figures; 11, the explorer widget), about a
minute on two cores, so it runs with the other tests. The whole site (every lesson, about six
minutes) is the same check marked slow, ``pytest tests/test_site.py -m slow``, which CI runs as a
leg of its own (``.ci/run``). Both skip where Debian's Chromium is not installed.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
from bs4 import BeautifulSoup
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "scripts" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_site"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


site = _load_builder()

COLAB = "https://colab.research.google.com/github/depthnb/depthnb/blob/main/notebooks/{}.ipynb"
BADGE = f"[![Open In Colab]({site.COLAB_BADGE_IMAGE})]"


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _lesson_notebook(name: str, title: str) -> nbformat.NotebookNode:
    first = f"# {title}\n\n{BADGE}({COLAB.format(name)})\n\nWhat it covers. And more.\n"
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(first)])


def _write_lessons(folder: Path, names: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, title in names.items():
        nbformat.write(_lesson_notebook(name, title), folder / f"{name}.ipynb")


# ---- lessons ------------------------------------------------------------------------------------


def test_lessons_are_found_by_their_pattern_in_order(tmp_path):
    _write_lessons(tmp_path, {"02_b": "02 · Bee", "01_a": "01 · Ay", "14_n": "14 · En"})
    _write_lessons(tmp_path, {"scratch": "# not a lesson", "1_short": "1 · no"})
    (tmp_path / "README.md").write_text("# guide")
    lessons = site.find_lessons(tmp_path)
    assert [lesson.path.name for lesson in lessons] == ["01_a.ipynb", "02_b.ipynb", "14_n.ipynb"]
    assert lessons[0].title == "01 · Ay" and lessons[0].summary == "What it covers."
    assert lessons[0].colab == COLAB.format("01_a") and lessons[2].page == "14_n.html"
    assert [lesson.number for lesson in site.find_lessons(tmp_path, only="14, 1")] == ["01", "14"]
    with pytest.raises(site.SiteError, match="no lesson numbered 07 .there are 01, 02, 14"):
        site.find_lessons(tmp_path, only="01,07")


def test_a_lesson_without_its_badge_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · Ay\n\nText.")])
    nbformat.write(nb, tmp_path / "01_a.ipynb")
    with pytest.raises(site.SiteError, match="01_a.ipynb: .* Colab badge"):
        site.find_lessons(tmp_path)


# ---- navigation ---------------------------------------------------------------------------------


def test_every_page_links_its_neighbours_in_reading_order():
    pages = [site.Page(name, name.upper()) for name in ("index.html", "guide.html", "01_a.html")]
    navs = site.navigation(pages)
    assert [(n.previous, n.next) for n in navs] == [
        (None, pages[1]),
        (pages[0], pages[2]),
        (pages[1], None),
    ]
    bar = site.nav_html(navs[1], "top")
    assert 'rel="prev" href="index.html">← INDEX.HTML<' in bar
    assert 'rel="next" href="01_a.html">01_A.HTML →<' in bar
    assert 'href="index.html"' in bar and 'href="guide.html"' in bar
    assert 'rel="next"' not in site.nav_html(navs[2], "bottom")


# ---- widgets, plotly, solutions -----------------------------------------------------------------


def _widget_states(slider: int, picture: str) -> dict:
    """A box of a slider and an output area that holds one picture (the notebook's format)."""
    return {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_o"]}},
        "s": {
            "model_name": "IntSliderModel",
            "state": {"value": slider, "min": 0, "max": 9, "description": "sample"},
        },
        "o": {
            "model_name": "OutputModel",
            "state": {"outputs": [{"output_type": "display_data", "data": {"image/png": picture}}]},
        },
        "layout": {"model_name": "LayoutModel", "state": {}},
    }


def _widget_notebook(first: dict | None, saved: dict) -> nbformat.NotebookNode:
    view = {site.WIDGET_VIEW: {"model_id": "box", "version_major": 2}, "text/plain": "VBox()"}
    cell = nbformat.v4.new_code_cell("explorer")
    cell.outputs = [nbformat.v4.new_output("display_data", data=view)]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["widgets"] = {site.WIDGET_STATE: {"state": saved, "version_major": 2}}
    if first is not None:
        nb.metadata["depthnb_site"] = {"widgets": {"box": first}}
    return nb


def test_a_widget_becomes_a_still_of_its_first_state_with_a_pointer_to_colab():
    red, blue = _png((255, 0, 0)), _png((0, 0, 255))
    nb = _widget_notebook(first=_widget_states(0, red), saved=_widget_states(5, blue))
    assert site.still_widgets(nb, COLAB.format("10_x")) == 1
    output = nb.cells[0].outputs[0]
    assert output.output_type == "display_data" and list(output.data) == ["text/html"]
    page = output.data["text/html"]
    assert "a still of its first state" in page and "live version, in Colab" in page
    assert f'href="{COLAB.format("10_x")}"' in page and site.LOCAL_BADGE in page
    assert f"data:image/png;base64,{red}" in page and blue not in page  # first state, not last
    assert '<input type="range" disabled min="0" max="9"' in page and 'value="0"' in page
    assert 'class="widget-box widget-column"' in page


def test_without_a_first_state_the_saved_state_is_shown():
    blue = _png((0, 0, 255))
    nb = _widget_notebook(first=None, saved=_widget_states(5, blue))
    site.still_widgets(nb, COLAB.format("10_x"))
    assert f"data:image/png;base64,{blue}" in nb.cells[0].outputs[0].data["text/html"]


def test_a_progress_bar_is_drawn_without_a_pointer_to_colab():
    states = {
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_t", "IPY_MODEL_p"]}},
        "t": {"model_name": "HTMLModel", "state": {"value": "epoch 1: 100%"}},
        "p": {
            "model_name": "FloatProgressModel",
            "state": {"value": 4, "max": 4, "layout": "IPY_MODEL_l", "style": "IPY_MODEL_y"},
        },
        "l": {"model_name": "LayoutModel", "state": {}},
        "y": {"model_name": "ProgressStyleModel", "state": {}},
    }
    nb = _widget_notebook(first=None, saved=states)
    nb.cells[0].outputs[0].data[site.WIDGET_VIEW]["model_id"] = "bar"
    site.still_widgets(nb, COLAB.format("06_x"))
    page = nb.cells[0].outputs[0].data["text/html"]
    assert '<progress value="4" max="4">' in page and "epoch 1: 100%" in page
    assert "Colab" not in page


def test_plotly_figures_are_drawn_by_the_local_plotly_js():
    cell = nbformat.v4.new_code_cell("cloud")
    figure = {"data": [{"type": "scatter3d", "name": "</script><b>"}], "layout": {"title": "t"}}
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={site.PLOTLY: figure}) for _ in range(2)
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert site.plotly_figures(nb) == 2
    first, second = (output.data["text/html"] for output in cell.outputs)
    assert first.startswith('<script src="static/plotly.min.js"></script>')
    assert "plotly.min.js" not in second  # loaded once per page
    assert 'id="plotly-1"' in first and 'Plotly.newPlot("plotly-2"' in second
    assert "</script><b>" not in first and "<\\/script><b>" in first


def test_a_gif_is_drawn_as_a_picture_not_by_its_text(tmp_path):
    """IPython's display of a GIF file (lesson 13's clip): a picture on the page."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import Image as ShowImage

    frames = [Image.new("RGB", (8, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100)
    data, _ = InteractiveShell.instance().display_formatter.format(
        ShowImage(filename=str(tmp_path / "clip.gif"))
    )
    assert set(data) == {"image/gif", "text/plain"}  # what the lesson's output holds
    cell = nbformat.v4.new_code_cell("ShowImage(filename=gif)")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert site.animated_pictures(nb) == 1
    lesson = site.Lesson(Path("13_v.ipynb"), "13 · Vee", "", COLAB.format("13_v"))
    page_nb, _ = site.prepared(nb, lesson)
    page = site.Renderer(site.SiteExporter(), {"13_v.html"}, "https://x", "")(
        page_nb, site.navigation([site.Page("13_v.html", "13 · Vee")])[0]
    )
    src = BeautifulSoup(page, "html.parser").select_one('img[alt="animation"]')["src"]
    picture = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert picture.format == "GIF" and picture.n_frames == 2
    assert "IPython.core.display.Image object" not in page


def test_solutions_and_predictions_are_named_for_their_fold():
    solution = nbformat.v4.new_code_cell("# Exercise 09.2 (solution)\ndef f(): ...")
    prediction = nbformat.v4.new_code_cell('prediction = "b"  # your prediction: "a" or "b"')
    for cell in (solution, prediction):
        cell.metadata["tags"] = ["solution"]
    check = nbformat.v4.new_code_cell('check("09.2", f)')
    ask = nbformat.v4.new_code_cell('ask("09.P1", prediction)')
    nb = nbformat.v4.new_notebook(cells=[solution, check, prediction, ask])
    assert site.label_solutions(nb) == 2
    assert solution.metadata.solution_label == "Solution to exercise 09.2 (try it yourself first)"
    assert prediction.metadata.solution_label == "The answer to question 09.P1 (predict it first)"
    assert "solution_label" not in check.metadata and "solution_label" not in ask.metadata


# ---- pages: math, links, nothing from the internet ----------------------------------------------


def test_math_becomes_mathml_and_unreadable_tex_stays_text():
    assert "<mfrac>" in site.tex_to_mathml(r"\frac{X}{Z}", "block")
    assert site.tex_to_mathml(r"\frac{", "inline") == r'<code class="tex">\frac{</code>'


def test_links_are_fitted_to_the_site():
    files = {"index.html", "guide.html", "09_p.html"}
    blob = "https://github.com/depthnb/depthnb/blob/main"
    page = (
        '<a href="09_p.ipynb#Back">a</a><a href="10_q.ipynb">b</a><a href="README.md">c</a>'
        '<a href="../pyproject.toml">d</a><a href="#Top">e</a><a href="https://x.org/y">f</a>'
        f'<img src="{site.COLAB_BADGE_IMAGE}"><a href="guide.html">g</a>'
        '<link href="static/site.css"><img src="data:image/png;base64,AAAA">'
    )
    assert site.rewrite_links(page, files, blob) == (
        '<a href="09_p.html#Back">a</a>'
        f'<a href="{blob}/notebooks/10_q.ipynb">b</a><a href="guide.html">c</a>'
        f'<a href="{blob}/pyproject.toml">d</a><a href="#Top">e</a><a href="https://x.org/y">f</a>'
        f'<img src="{site.LOCAL_BADGE}"><a href="guide.html">g</a>'
        '<link href="static/site.css"><img src="data:image/png;base64,AAAA">'
    )


def test_loads_from_the_internet_are_found_and_links_are_not():
    page = (
        '<script src="https://cdn.example/require.js"></script><a href="https://colab.x/y">a</a>'
        "<link rel='stylesheet' href='//cdn.example/a.css'><img src=http://example.org/b.png>"
        "<style>@import url('https://fonts.example/c.css');"
        " p { background: url(https://e.x/d.png) }</style>"
        '<script src="static/plotly.min.js"></script><img src="data:image/png;base64,AA">'
    )
    assert site.external_resources(page) == [
        "https://cdn.example/require.js",
        "//cdn.example/a.css",
        "http://example.org/b.png",
        "https://fonts.example/c.css",
        "https://e.x/d.png",
    ]


@pytest.fixture(scope="module")
def renderer():
    blob = "https://github.com/depthnb/depthnb/blob/main"
    return site.Renderer(site.SiteExporter(), {"index.html", "guide.html"}, blob, "built today")


def _rich_notebook() -> nbformat.NotebookNode:
    """A lesson-like notebook: badge, math, a figure, a widget, a folded solution."""
    nb = _widget_notebook(first=_widget_states(0, _png((255, 0, 0))), saved={})
    first = f"# 01 · Ay\n\n{BADGE}({COLAB.format('01_a')})\n\nInline $u = f_x X / Z$ and\n\n"
    first += "$$\\frac{a}{b}$$\n"
    solution = nbformat.v4.new_code_cell("# Exercise 01.1 (solution)\nx = 1")
    solution.metadata["tags"] = ["solution"]
    figure = nbformat.v4.new_code_cell("plot()")
    figure.outputs = [nbformat.v4.new_output("display_data", data={"image/png": _png((0, 9, 0))})]
    nb.cells = [nbformat.v4.new_markdown_cell(first), *nb.cells, figure, solution]
    return nb


def test_a_page_loads_nothing_from_the_internet(renderer):
    nb = _rich_notebook()
    plain = site.HTMLExporter(template_name="lab").from_notebook_node(nb)[0]
    assert site.external_resources(plain), "nbconvert's own lab page loads from CDNs"
    lesson = site.Lesson(Path("01_a.ipynb"), "01 · Ay", "", COLAB.format("01_a"))
    page_nb, has_plotly = site.prepared(nb, lesson)
    nav = site.navigation([site.Page("index.html", "Lessons"), site.Page("01_a.html", "01 · Ay")])
    page = renderer(page_nb, nav[1])
    assert site.external_resources(page) == []
    assert "mathjax" not in page.lower() and "require.js" not in page and "cdn" not in page
    assert page.count("<math") == 2 and "$" not in page
    assert site.COLAB_BADGE_IMAGE not in page and "widget-state" not in page
    soup = BeautifulSoup(page, "html.parser")
    assert soup.title.string == "01 · Ay · depthnb"
    assert [img["src"] for img in soup.find_all("img")][:2] == [site.LOCAL_BADGE] * 2
    assert [s.string for s in soup.select("details.solution > summary")] == [
        "Solution to exercise 01.1 (try it yourself first)"
    ]
    assert "a still of its first state" in soup.select_one(".widget-note").text
    assert [a["href"] for a in soup.select("nav a[rel=prev]")] == ["index.html"] * 2
    assert not soup.select("a[rel=next]") and not has_plotly
    styles = [link["href"] for link in soup.find_all("link", rel="stylesheet")]
    assert styles == ["static/notebook.css", "static/site.css"]


# ---- the folder written -------------------------------------------------------------------------


def _fake_run(picture: str):
    """Stands in for running a lesson: its cells, and one figure output."""

    def run(lesson, timeout, keep):
        nb = nbformat.read(lesson.path, as_version=4)
        cell = nbformat.v4.new_code_cell("plot()")
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": picture})]
        nb.cells.append(cell)
        return nb

    return run


def test_a_site_is_written_whole_and_replaces_only_a_site(tmp_path, monkeypatch):
    _write_lessons(tmp_path / "notebooks", {"01_a": "01 · Ay", "02_b": "02 · Bee"})
    lessons = site.find_lessons(tmp_path / "notebooks")
    out = tmp_path / "public" / "site"
    monkeypatch.setattr(site, "executed_lesson", _fake_run(_png((255, 0, 0))))
    site.build(out, lessons, log=lambda line: None)
    assert sorted(p.name for p in out.iterdir()) == [
        ".depthnb-site", "01_a.html", "02_b.html", "guide.html", "index.html", "static",
    ]  # fmt: skip
    assert sorted(p.name for p in (out / "static").iterdir()) == [
        "colab-badge.svg", "notebook.css", "site.css",
    ]  # fmt: skip
    record = json.loads((out / ".depthnb-site").read_text())
    assert record["lessons"] == ["index.html", "guide.html", "01_a.html", "02_b.html"]
    index = (out / "index.html").read_text()
    assert 'href="01_a.html">Ay</a>' in index and 'href="02_b.html">Bee</a>' in index

    monkeypatch.setattr(site, "executed_lesson", _fake_run(_png((0, 0, 255))))
    site.build(out, lessons, log=lambda line: None)  # a site is replaced
    assert _png((0, 0, 255)) in (out / "01_a.html").read_text()

    def fails(lesson, timeout, keep):
        raise site.SiteError("02_b.ipynb failed in quick mode")

    monkeypatch.setattr(site, "executed_lesson", fails)
    with pytest.raises(site.SiteError, match="02_b.ipynb failed"):
        site.build(out, lessons, log=lambda line: None)
    assert _png((0, 0, 255)) in (out / "01_a.html").read_text()  # the old site, whole
    assert [p.name for p in out.parent.iterdir()] == ["site"]  # no temporary left beside it


def test_a_folder_that_is_not_a_site_is_refused(tmp_path, monkeypatch):
    _write_lessons(tmp_path / "notebooks", {"01_a": "01 · Ay"})
    lessons = site.find_lessons(tmp_path / "notebooks")
    monkeypatch.setattr(site, "executed_lesson", _fake_run(_png((1, 2, 3))))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (tmp_path / "afile").write_text("a file")
    for out in (mine, tmp_path / "afile"):
        with pytest.raises(site.SiteError, match="is not a site that build_site.py made"):
            site.build(out, lessons, log=lambda line: None)
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert site.main([str(mine), "--lessons", "01"]) == 1
    with pytest.raises(site.SiteError, match="afile is not a folder: name a folder to keep"):
        site.build(tmp_path / "site", lessons, keep=tmp_path / "afile", log=lambda line: None)
    assert not (tmp_path / "site").exists()


# ---- running a notebook -------------------------------------------------------------------------


def test_a_run_keeps_each_widgets_first_state_and_is_reused(tmp_path, monkeypatch):
    """A real kernel (a few seconds): the output area's first text is kept although a later cell
    changes it; a kept copy run from the lesson's cells and package is reused without a kernel,
    and run again once the package changes."""
    lessons = tmp_path / "notebooks"
    _write_lessons(lessons, {"01_w": "01 · Widgets"})
    nb = nbformat.read(lessons / "01_w.ipynb", as_version=4)
    nb.cells += [
        nbformat.v4.new_code_cell(
            "import ipywidgets as w\nout = w.Output()\nslider = w.IntSlider(3)\n"
            "with out:\n    print('first state')\nw.VBox([slider, out])"
        ),
        nbformat.v4.new_code_cell(
            "slider.value = 7\nout.clear_output()\nwith out:\n    print('later state')"
        ),
    ]
    nbformat.write(nb, lessons / "01_w.ipynb")
    lesson = site.find_lessons(lessons)[0]
    kept = tmp_path / "executed"
    ran = site.executed_lesson(lesson, timeout=120, keep=kept)
    view = next(o for o in ran.cells[1].outputs if site.WIDGET_VIEW in o.get("data", {}))
    box = view.data[site.WIDGET_VIEW]["model_id"]
    first = site.widget_html(box, ran.metadata.depthnb_site.widgets[box])
    saved = ran.metadata.widgets[site.WIDGET_STATE]["state"]
    assert "first state" in first and 'value="3"' in first
    assert "later state" in site.widget_html(box, saved)

    (kept / "01_w.ipynb").write_text((kept / "01_w.ipynb").read_text().replace("first", "FIRST"))
    assert "FIRST state" in json.dumps(site.executed_lesson(lesson, timeout=1, keep=kept))

    package = tmp_path / "depthnb"  # another package: the kept copy is stale, the lesson runs
    (package / "metrics").mkdir(parents=True)
    (package / "metrics" / "depth.py").write_text("RMSE = 'changed'\n")
    monkeypatch.setattr(site, "PACKAGE", package)
    rerun = json.dumps(site.executed_lesson(lesson, timeout=120, keep=kept))
    assert "first state" in rerun and "FIRST state" not in rerun
    assert "FIRST" not in (kept / "01_w.ipynb").read_text()  # the copy there is the new run


# ---- the site in a browser ----------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's Chromium is not installed: apt-get install -y chromium chromium-driver",
)

PAGE_FACTS = """
const all = selector => Array.from(document.querySelectorAll(selector));
return {
  images: Array.from(document.images).map(i => [i.src.slice(0, 60), i.complete && i.naturalWidth]),
  loads: performance.getEntriesByType('resource').map(e => e.name),
  links: all('a[href]').map(a => a.href),
  plotly: all('.plotly-figure').map(figure => !!figure.querySelector('.main-svg')),
  math: all('math').filter(m => m.getBoundingClientRect().width > 0).length,
  tex: all('code.tex').length,
  next: (document.querySelector('a[rel=next]') || {}).href || null,
};
"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    arguments += ["--window-size=1280,900", "--host-resolver-rules=MAP * ~NOTFOUND"]
    for argument in arguments:  # the last: no name resolves, nothing comes from the internet
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _target_exists(url: str) -> bool:
    """Whether a ``file://`` link's page exists and, with a fragment, holds that id."""
    parsed = urlparse(url)
    path = Path(unquote(parsed.path))
    if not path.is_file():
        return False
    text = path.read_text("utf-8")  # an id as written, or percent-decoded (browsers try both)
    return not parsed.fragment or any(
        f'id="{i}"' in text for i in (parsed.fragment, unquote(parsed.fragment))
    )


def look_at_site(driver, folder: Path, shots: Path) -> list[str]:
    """Open every page of the site at ``folder`` in ``driver``; check that it loads, that each
    picture and plotly figure is drawn, that it loads nothing from outside the site and logs no
    error, and that each of its internal links finds its page (and anchor); save a screenshot of
    each page's top in ``shots``. Return the pages in the order the "next" links lead through."""
    from selenium.webdriver.support.ui import WebDriverWait

    shots.mkdir(parents=True, exist_ok=True)
    for page in sorted(folder.glob("*.html")):
        driver.get(page.as_uri())
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script(
                "return document.readyState === 'complete' && Array.from(document.querySelectorAll"
                "('.plotly-figure')).every(f => f.querySelector('.main-svg'))"
            )
        )
        facts = driver.execute_script(PAGE_FACTS)
        name = page.name
        assert driver.title, name
        assert all(width > 0 for _, width in facts["images"]), (name, facts["images"])
        assert all(facts["plotly"]), name
        assert facts["tex"] == 0, f"{name}: TeX that latex2mathml could not turn into MathML"
        assert facts["math"] or "<math" not in page.read_text("utf-8"), f"{name}: MathML not drawn"
        outside = [url for url in facts["loads"] if not url.startswith(("file:", "data:"))]
        assert outside == [], f"{name} loads from outside the site: {outside}"
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], f"{name}: {errors}"
        broken = [u for u in facts["links"] if u.startswith("file:") and not _target_exists(u)]
        assert broken == [], f"{name}: broken links {broken}"
        driver.save_screenshot(str(shots / f"{page.stem}.png"))
    order, url = [], (folder / "index.html").as_uri()
    while url and len(order) < 100:
        order.append(Path(unquote(urlparse(url).path)).name)
        driver.get(url)
        url = driver.execute_script(PAGE_FACTS)["next"]
    return order


def _check_built(folder: Path, lessons: list, driver, shots: Path) -> None:
    order = look_at_site(driver, folder, shots)
    assert order == ["index.html", "guide.html", *(lesson.page for lesson in lessons)]
    for lesson in lessons:
        page = (folder / lesson.page).read_text("utf-8")
        assert f'href="{lesson.colab}"' in page, f"{lesson.page}: its Colab badge"
        assert 'src="data:image/png;base64,' in page, f"{lesson.page}: no figure"
        shown_as_text = re.findall(r"&lt;[\w.]+ object(?: at 0x[0-9a-f]+)?&gt;", page)
        assert shown_as_text == [], f"{lesson.page}: outputs drawn as their text {shown_as_text}"
        assert "widget-view+json" not in page


@needs_chromium
def test_two_lessons_in_chromium(tmp_path, browser):
    """Lesson 09 (figures, a plotly cloud, math) and lesson 11 (the explorer's still)."""
    lessons = site.find_lessons(only="09,11")
    start = time.monotonic()
    site.build(tmp_path / "site", lessons, timeout=300, log=print)
    print(f"built in {time.monotonic() - start:.0f} s")
    _check_built(tmp_path / "site", lessons, browser, tmp_path / "shots")
    explorer = BeautifulSoup(
        (tmp_path / "site" / lessons[1].page).read_text("utf-8"), "html.parser"
    )
    assert "a still of its first state" in explorer.select_one(".widget-note").text
    figure = explorer.select_one(".widget-still img")  # the explorer's first figure
    assert figure["src"].startswith("data:image/png;base64,")
    assert (tmp_path / "site" / "static" / "plotly.min.js").is_file()


@pytest.mark.slow
@needs_chromium
def test_the_whole_site_in_chromium(tmp_path, browser):
    """Every lesson, built by the command line as a maintainer runs it."""
    assert site.main([str(tmp_path / "site")]) == 0
    _check_built(tmp_path / "site", site.find_lessons(), browser, tmp_path / "shots")
