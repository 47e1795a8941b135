"""Open every page of the built book in Chromium, offline, and fail on anything a reader would see broken.

Usage: ``python scripts/browser_check.py [--screenshots] [--build-dir _build/html] [--only TEXT]``
(or ``make browser-check ARGS=--screenshots``). Build the book first (``make book``).

The built HTML is served from a thread on 127.0.0.1 and opened with Playwright driving Debian's
Chromium (``/usr/bin/chromium``, ``apt-get install -y chromium``); no browser is downloaded.
Every request to any other host is blocked and FAILS its page (the URLs are listed): the book
must work from a USB stick, with MathJax and the chart library served from its own ``_static``.
A page fails when

* it requests anything not on the local server, or a local file is missing (HTTP >= 400),
* the browser console shows an error, or a script throws,
* an image does not load (``naturalWidth == 0``),
* it shows a Python traceback, a notebook error output, or ``stderr`` with a traceback,
* it shows a Sphinx warning or error box (``.system-message``, ``.problematic``),
* its math is not typeset: raw ``\\(``, ``\\[`` or ``$$`` in the visible text (code excluded),
  a formula MathJax cannot typeset, or math on a page that loads no MathJax,
* it is a chapter (``book/NN_*.html``) without a figure from a cell output (the static figure,
  for print), without a live explorer, or whose Colab button does not open the chapter,
* an explorer (``lrsched.viz``) fails: see :func:`check_explorer` -- every control is moved with
  the keyboard and must change the drawn data; at >= 3 settings the data read back from the
  Vega view must equal lrsched's values (relative error <= 1e-6); a setting where compute
  raised must show lrsched's message and no marks,
* a page of the table of contents is missing from the build.

A redirect page (the root ``index.html``) only has to point at a page that exists.

Benchmarks, printed (not asserted): page-specific bytes of each chapter (its HTML with the
explorers' data, its figures; the shared ``_static`` assets are counted once for the whole book)
and the time from a key press on a control to the redrawn chart (median, ms).

``--screenshots`` saves a full-page PNG of every page, and of every explorer before and after
its controls move (and at an error setting), to ``screenshots/``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import http.server
import importlib
import io
import itertools
import math
import re
import statistics
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP_PARTS = {"_static", "_sources", "_modules", "_images", "_sphinx_design_static", "_panels_static"}
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
CHAPTER = re.compile(r"^book/\d\d_[a-z0-9_]+\.html$")
REDIRECT = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.I)
REL_TOL = 1e-6  # drawn data vs lrsched (the page stores 8 significant digits)
MIN_SETTINGS = 3  # settings per explorer compared with lrsched's values

# Runs in the page: everything the static checks need, in one round trip.
INSPECT_JS = """
() => {
  const text = (el) => (el.innerText || el.textContent || "").trim();
  const images = Array.from(document.images).map((img) => ({
    src: img.getAttribute("src") || "",
    complete: img.complete,
    width: img.naturalWidth,
    inOutput: !!img.closest(".cell_output, .output"),
  }));
  const errorOutputs = Array.from(
    document.querySelectorAll(".output.error, .output.traceback, .cell_output .traceback, [class*='highlight-ipythontb']")
  ).map((el) => text(el).slice(0, 300));
  const stderr = Array.from(document.querySelectorAll(".output.stderr, .cell_output .stderr")).map((el) => text(el));
  const boxes = Array.from(document.querySelectorAll(".system-message, .problematic")).map((el) => text(el).slice(0, 300));
  const colab = Array.from(document.querySelectorAll("a[href*='colab.research.google.com']")).map((a) => a.href);
  const mathErrors = Array.from(document.querySelectorAll("mjx-merror")).map(
    (el) => el.getAttribute("data-mjx-error") || text(el));
  // visible text outside code: where untypeset TeX would show
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("pre, code, script, style, textarea, mjx-container, .lrsched-explorer-spec")) continue;
    if (!parent.checkVisibility()) continue;
    const found = node.textContent.match(/\\\\\\(|\\\\\\[|\\$\\$/);
    if (found) raw.push(node.textContent.trim().slice(0, 120));
  }
  return {
    title: document.title,
    // textContent, not innerText: a traceback folded away in a hidden cell is still on the page
    body: (document.querySelector("article, main") || document.body || {}).textContent || "",
    images, errorOutputs, stderr, boxes, colab, mathErrors, raw,
    math: Array.from(document.querySelectorAll(".math")).map((el) => text(el)),
    mathjaxScript: document.querySelector("script[src*='mathjax']") !== null,
    typeset: document.querySelector("mjx-container") !== null,
    explorers: Array.from(document.querySelectorAll(".lrsched-explorer")).map((el) => el.id),
  };
}
"""

# Lazy images only load when scrolled into view: make them eager and wait until each settles.
LOAD_IMAGES_JS = """
async () => {
  for (const img of document.images) { img.loading = "eager"; }
  await Promise.all(Array.from(document.images).map((img) => img.complete ? null :
    new Promise((resolve) => { img.addEventListener("load", resolve); img.addEventListener("error", resolve); })));
}
"""

EXPLORERS_SETTLED_JS = """
() => Array.from(document.querySelectorAll(".lrsched-explorer")).every(
  (el) => ["ready", "failed"].includes(el.getAttribute("data-lrsched-state")))
"""

# The registered explorers of the page: element id -> registry key, state, and the spec's metadata.
EXPLORERS_JS = """
() => {
  const registry = window.lrschedExplorers || {};
  return Object.entries(registry).map(([key, ex]) => ({
    key, element: ex.element.id, state: ex.element.getAttribute("data-lrsched-state"),
    meta: ex.spec.usermeta.lrsched, title: ex.spec.title ? ex.spec.title.text : "",
    params: ex.spec.params,
    layers: ex.spec.concat.flatMap((chart) => chart.layer.map((layer) => ({name: layer.name, data: layer.data.values}))),
  }));
}
"""

# What the view has drawn: the datum of every item of the explorer's marks, from the scenegraph,
# and the current setting index (the signal the controls drive).
DRAWN_JS = """
(key) => {
  const ex = window.lrschedExplorers[key];
  const meta = ex.spec.usermeta.lrsched;
  const wanted = {};
  for (const panel of meta.panels) {
    wanted[panel.marks] = panel.columns;
    if (panel.error_marks) wanted[panel.error_marks] = ["message"];
  }
  const out = {};
  for (const name of Object.keys(wanted)) out[name] = [];
  const visit = (mark) => {
    if (!mark || !mark.items) return;
    const columns = wanted[mark.name];
    for (const item of mark.items) {
      if (columns && item.datum) {
        const row = {};
        for (const c of columns) {
          const v = item.datum[c];
          row[c] = (typeof v === "number" && !isFinite(v)) ? null : (v === undefined ? null : v);
        }
        out[mark.name].push(row);
      }
      if (item.items) item.items.forEach(visit);  // a group: its marks
    }
  };
  visit(ex.view.scenegraph().root);
  return {setting: ex.view.signal("lrsched_setting"), marks: out};
}
"""

# Time from the key press to the redrawn chart, measured in the page: the input's event starts
# Vega's run (its listener is on the input, ours on the document, so ours runs after it); the
# run and the canvas drawing finish in microtasks, before the next task (setTimeout 0).
ARM_TIMER_JS = """
() => {
  window.__lrschedRedraw = null;
  let t0 = null, fired = false;
  document.addEventListener("keydown", () => { t0 = performance.now(); }, {capture: true, once: true});
  const done = () => { if (fired || t0 === null) return; fired = true;
    setTimeout(() => { window.__lrschedRedraw = performance.now() - t0; }, 0); };
  document.addEventListener("input", done, {once: true});
  document.addEventListener("change", done, {once: true});
}
"""
REDRAWN_JS = """
async (key) => {
  await window.lrschedExplorers[key].view.runAsync();
  await new Promise((resolve) => setTimeout(resolve, 0));
  return window.__lrschedRedraw;
}
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``directory`` on 127.0.0.1 at a free port from a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def pages_to_check(html_dir: Path) -> list[str]:
    """Every content page of the build, as paths relative to ``html_dir``."""
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        relative = path.relative_to(html_dir)
        if SKIP_PARTS & set(relative.parts[:-1]) or relative.name in SKIP_PAGES:
            continue
        pages.append(relative.as_posix())
    return pages


def toc_pages() -> list[str]:
    """The HTML page of every entry of ``_toc.yml``."""

    def walk(node) -> list[str]:
        found = []
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    found.append(f"{node[key]}.html")
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []):
                    found.extend(walk(child))
        return found

    return walk(yaml.safe_load((ROOT / "_toc.yml").read_text()))


def expected_colab_urls(page: str) -> list[str]:
    """The Colab launch URLs accepted for a chapter page, from ``repository`` in ``_config.yml``.

    Colab may open the chapter itself (``book/NN_name.ipynb``) or its Colab edition
    (``colab/NN_name.ipynb``, written by ``scripts/make_colab.py``); adjust here if the launch
    buttons move elsewhere.
    """
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    owner_repo = re.sub(r"^https://github\.com/", "", repo["url"].rstrip("/"))
    book_path = (repo.get("path_to_book") or "").strip("/")
    chapter = page[: -len(".html")] + ".ipynb"
    edition = "colab/" + Path(chapter).name
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    urls = []
    for notebook in (chapter, edition):
        path = f"{book_path}/{notebook}" if book_path else notebook
        urls.append(f"{colab}/github/{owner_repo}/blob/{repo.get('branch', 'main')}/{path}")
    return urls


# --------------------------------------------------------------------------------------------
# Network and console
# --------------------------------------------------------------------------------------------


@dataclass
class PageLog:
    """What one page load did on the network and in the console."""

    blocked: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    local_paths: set[str] = field(default_factory=set)

    def clear(self) -> None:
        self.blocked.clear()
        self.missing.clear()
        self.console_errors.clear()
        self.local_paths.clear()


def _route(route, base_url: str, log: PageLog) -> None:
    """The local server only: any other request is blocked and recorded (it fails the page)."""
    url = route.request.url
    if url.startswith(base_url + "/") or url == base_url:
        log.local_paths.add(unquote(urlparse(url).path))
        route.continue_()
        return
    log.blocked.append(url)
    route.abort("blockedbyclient")


def _on_response(response, base_url: str, log: PageLog) -> None:
    if response.url.startswith(base_url) and response.status >= 400 and not response.url.endswith("/favicon.ico"):
        log.missing.append(f"HTTP {response.status} {response.url[len(base_url):]}")


def _on_console(message, log: PageLog) -> None:
    if message.type == "error":
        text = message.text
        if "net::ERR_BLOCKED_BY_CLIENT" in text or "Failed to load resource" in text:
            return  # a blocked or missing request: reported with its URL instead
        log.console_errors.append(text[:300])


# --------------------------------------------------------------------------------------------
# Explorers
# --------------------------------------------------------------------------------------------


@dataclass
class ExplorerReport:
    problems: list[str] = field(default_factory=list)
    redraw_ms: list[float] = field(default_factory=list)
    settings_compared: int = 0
    source: str = ""  # "recomputed by module:qualname" or "embedded"
    data_bytes: int = 0


def _parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class Expected:
    """lrsched's values at each setting of an explorer, as the page should draw them.

    If the spec names an importable compute (``module:qualname``), the values are recomputed
    here by calling it; otherwise they are the precomputed entry the page embeds for that
    setting (this still checks that the controls select the right entry and that it is drawn).
    """

    def __init__(self, info: dict[str, Any]):
        self.meta = info["meta"]
        self.controls = self.meta["controls"]
        self.panels = self.meta["panels"]
        self.shape = [len(c["values"]) for c in self.controls]
        self.lookup = {p["name"]: p["value"] for p in info["params"] if p["name"].endswith("_table")}
        self.layers = {layer["name"]: layer["data"] for layer in info["layers"]}
        self.compute = None
        self.source = "embedded"
        ref = self.meta.get("compute")
        if ref:
            module, _, qualname = ref.partition(":")
            try:
                obj: Any = importlib.import_module(module)
                for part in qualname.split("."):
                    obj = getattr(obj, part)
                self.compute, self.source = obj, f"recomputed by {ref}"
            except (ImportError, AttributeError) as error:
                self.source = f"embedded ({ref} not importable: {error})"

    def setting(self, position: tuple[int, ...]) -> int:
        return int(sum(i * math.prod(self.shape[k + 1 :]) for k, i in enumerate(position)))

    def values(self, position: tuple[int, ...]) -> dict[str, Any]:
        return {c["name"]: c["values"][i] for c, i in zip(self.controls, position)}

    def drawn_signature(self, position: tuple[int, ...]) -> tuple:
        """What the page's own data say is drawn at a setting (table ids per panel, error)."""
        k = self.setting(position)
        return tuple(self.lookup[p["marks"][: -len("_marks")] + "_table"][k] for p in self.panels) + (
            self.meta["errors"].get(str(k)),
        )

    def error(self, position: tuple[int, ...]) -> str | None:
        """compute's message at a setting (recomputed if importable), None if it returns tables."""
        if self.compute is not None:
            try:
                self.compute(**self.values(position))
            except (ValueError, TypeError) as error:
                return str(error) or type(error).__name__
            return None
        return self.meta["errors"].get(str(self.setting(position)))

    def rows(self, position: tuple[int, ...]) -> dict[str, list[dict[str, Any]]]:
        """Per panel (mark name): the rows the page should draw at a setting."""
        out = {}
        if self.compute is not None:
            tables = self.compute(**self.values(position))
            for panel in self.panels:
                table = tables[panel["name"]]
                if hasattr(table, "columns") and hasattr(table, "to_dict"):  # a DataFrame
                    table = {str(c): table[c].to_numpy() for c in table.columns}
                if panel["mark"] == "text":
                    from lrsched.viz.explorer import _text_cells  # the same formatting as the page

                    cells = _text_cells({c: list(table[c]) for c in panel["text_columns"]}, panel["text_columns"], panel["number_format"])
                    out[panel["marks"]] = [{"_row": r, "_col": c, "_text": t} for r, c, t in cells]
                else:
                    columns = panel["columns"]
                    out[panel["marks"]] = [
                        {c: _py(v) for c, v in zip(columns, row)} for row in zip(*(list(table[c]) for c in columns))
                    ]
            return out
        k = self.setting(position)
        for panel in self.panels:
            table_id = self.lookup[panel["marks"][: -len("_marks")] + "_table"][k]
            rows = [r for r in _parse_csv(self.layers[panel["marks"][: -len("_marks")]]) if int(r["_table"]) == table_id]
            out[panel["marks"]] = [{c: _cell(r[c]) for c in panel["columns"]} for r in rows]
        return out


def _py(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(text: str) -> Any:
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text)
    except ValueError:
        return text


def _sort_key(row: dict[str, Any], columns: list[str]) -> tuple:
    key = []
    for c in columns:
        v = row.get(c)
        if isinstance(v, bool) or v is None:
            key.append((0, str(v)))
        elif isinstance(v, (int, float)):
            key.append((1, float(f"{float(v):.6g}")))
        else:
            key.append((2, str(v)))
    return tuple(key)


def compare_rows(drawn: list[dict], expected: list[dict], panel: dict) -> str | None:
    """None if the drawn rows equal the expected ones (numbers to REL_TOL), else what differs."""
    columns = panel["columns"]
    if panel["mark"] != "text":
        # Vega-Lite leaves out rows with a null x or y (non-finite values in lrsched's table)
        encoded = panel.get("encoded") or []
        expected = [r for r in expected if all(r.get(c) is not None for c in encoded)]
    if len(drawn) != len(expected):
        return f"{len(drawn)} rows drawn, {len(expected)} expected"
    drawn = sorted(drawn, key=lambda r: _sort_key(r, columns))
    expected = sorted(expected, key=lambda r: _sort_key(r, columns))
    for d, e in zip(drawn, expected):
        for c in columns:
            a, b = d.get(c), e.get(c)
            if isinstance(b, bool) or isinstance(a, bool) or a is None or b is None or isinstance(b, str):
                if a != b and str(a) != str(b):
                    return f"column {c!r}: drawn {a!r}, expected {b!r}"
            elif abs(float(a) - float(b)) > REL_TOL * abs(float(b)) + 1e-300:
                return f"column {c!r}: drawn {a!r}, expected {b!r} (relative error {abs(a - b) / abs(b):.2g})"
    return None


class Driver:
    """Moves an explorer's controls with the keyboard and reads back what the view draws."""

    def __init__(self, page, info: dict[str, Any], expected: Expected, report: ExplorerReport):
        self.page, self.info, self.expected, self.report = page, info, expected, report
        self.key = info["key"]
        self.position = [c["values"].index(c["values"][0]) for c in expected.controls]
        self.inputs = []
        root = page.locator(f"#{info['element']}")
        for control in expected.controls:
            self.inputs.append(root.locator(f"input[name='{control['param']}'], select[name='{control['param']}']"))

    def read_position(self) -> None:
        """The controls' current positions, read from the inputs themselves."""
        for i, (control, handle) in enumerate(zip(self.expected.controls, self.inputs)):
            value = handle.input_value()
            if control["widget"] == "range":
                numeric = [float(v) for v in control["values"]]
                self.position[i] = min(range(len(numeric)), key=lambda j: abs(numeric[j] - float(value)))
            else:
                self.position[i] = int(value)

    def press(self, control: int, key: str) -> None:
        """One key press on a control (focused first), timed until the view has redrawn."""
        handle = self.inputs[control]
        handle.focus()
        self.page.evaluate(ARM_TIMER_JS)
        self.page.keyboard.press(key)
        elapsed = self.page.evaluate(REDRAWN_JS, self.key)
        if elapsed is not None:  # None: the key changed nothing (e.g. End at the end)
            self.report.redraw_ms.append(elapsed)
        n = len(self.expected.controls[control]["values"])
        step = {"ArrowRight": 1, "ArrowUp": 1, "ArrowDown": 1, "ArrowLeft": -1, "Home": -n, "End": n}[key]
        if self.expected.controls[control]["widget"] == "range" and key in ("ArrowUp", "ArrowDown"):
            step = 1 if key == "ArrowUp" else -1
        if self.expected.controls[control]["widget"] == "select" and key == "ArrowUp":
            step = -1
        self.position[control] = max(0, min(n - 1, self.position[control] + step))

    def move_to(self, position: tuple[int, ...]) -> None:
        for control, target in enumerate(position):
            widget = self.expected.controls[control]["widget"]
            forward, back = ("ArrowRight", "ArrowLeft") if widget == "range" else ("ArrowDown", "ArrowUp")
            while self.position[control] < target:
                self.press(control, forward)
            while self.position[control] > target:
                self.press(control, back)

    def drawn(self) -> dict[str, Any]:
        return self.page.evaluate(DRAWN_JS, self.key)

    def signature(self, drawn: dict[str, Any]) -> str:
        return repr(sorted((name, sorted(map(repr, rows))) for name, rows in drawn["marks"].items()))

    def check_setting(self, position: tuple[int, ...]) -> None:
        """The view at this setting against lrsched's values (or lrsched's error message)."""
        drawn = self.drawn()
        where = ", ".join(f"{k}={v!r}" for k, v in self.expected.values(position).items())
        k = self.expected.setting(position)
        if drawn["setting"] != k:
            self.report.problems.append(f"at {where}: the controls select setting {drawn['setting']}, expected {k}")
            return
        message = self.expected.error(position)
        if message is not None:
            for panel in self.expected.panels:
                if drawn["marks"][panel["marks"]]:
                    self.report.problems.append(f"at {where} (compute raised): panel {panel['name']!r} still draws {len(drawn['marks'][panel['marks']])} marks")
                shown = [r["message"].replace("\n", " ") for r in drawn["marks"].get(panel["error_marks"] or "", [])]
                if shown != [message]:
                    self.report.problems.append(f"at {where}: panel {panel['name']!r} shows {shown!r}, expected lrsched's message {message!r}")
        else:
            expected = self.expected.rows(position)
            for panel in self.expected.panels:
                problem = compare_rows(drawn["marks"][panel["marks"]], expected[panel["marks"]], panel)
                if problem:
                    self.report.problems.append(f"at {where}: panel {panel['name']!r}: {problem}")
                if panel["error_marks"] and drawn["marks"][panel["error_marks"]]:
                    self.report.problems.append(f"at {where}: panel {panel['name']!r} shows an error message where compute returned data")
        self.report.settings_compared += 1


def check_explorer(page, info: dict[str, Any], shots: Path | None, stem: str) -> ExplorerReport:
    """Move every control with the keyboard; compare the drawn data with lrsched's at >= 3 settings.

    1. At the initial setting, the drawn data equal lrsched's values.
    2. For each control: go (by keyboard) to a setting where moving it one step changes what the
       page's data say is drawn, press one arrow key, and require the drawn data to change;
       compare with lrsched's values there.
    3. End on every control (the grid's far corner) and compare; and, if some setting's compute
       raised, go there and require lrsched's message in place of each panel and no marks.
    """
    report = ExplorerReport()
    expected = Expected(info)
    report.source = expected.source
    report.data_bytes = sum(len(layer["data"].encode()) for layer in info["layers"])
    driver = Driver(page, info, expected, report)
    driver.read_position()
    grid = list(itertools.product(*(range(n) for n in expected.shape)))
    element = page.locator(f"#{info['element']}")
    if shots is not None:
        element.screenshot(path=str(shots / f"{stem}_before.png"))
    driver.check_setting(tuple(driver.position))

    for c, control in enumerate(expected.controls):
        # a setting where one step of this control changes the drawn data, nearest to the current one
        candidates = []
        for position in grid:
            if position[c] + 1 < expected.shape[c]:
                nxt = position[:c] + (position[c] + 1,) + position[c + 1 :]
                if expected.drawn_signature(position) != expected.drawn_signature(nxt):
                    distance = sum(abs(a - b) for a, b in zip(position, driver.position))
                    candidates.append((distance, position))
        if not candidates:
            report.problems.append(f"control {control['name']!r} changes nothing drawn at any setting")
            continue
        _, start = min(candidates)
        driver.move_to(start)
        before = driver.signature(driver.drawn())
        forward = "ArrowRight" if control["widget"] == "range" else "ArrowDown"
        driver.press(c, forward)
        after = driver.drawn()
        if driver.signature(after) == before:
            report.problems.append(f"control {control['name']!r}: {forward} did not change the drawn data")
        driver.check_setting(tuple(driver.position))

    for c, control in enumerate(expected.controls):
        driver.press(c, "End")
    driver.read_position()
    if tuple(driver.position) != tuple(n - 1 for n in expected.shape):
        report.problems.append(f"End on every control reached {driver.position}, not the last values")
    driver.check_setting(tuple(driver.position))
    if shots is not None:
        element.screenshot(path=str(shots / f"{stem}_after.png"))

    failing = [p for p in grid if str(expected.setting(p)) in expected.meta["errors"]]
    if failing:
        target = min(failing, key=lambda p: sum(abs(a - b) for a, b in zip(p, driver.position)))
        driver.move_to(target)
        driver.check_setting(target)
        if shots is not None:
            element.screenshot(path=str(shots / f"{stem}_error.png"))
    # a few more settings, spread over the grid, until at least MIN_SETTINGS were compared
    for position in grid[:: max(1, len(grid) // 3)]:
        if report.settings_compared >= MIN_SETTINGS + 1:
            break
        driver.move_to(position)
        driver.check_setting(position)
    if report.settings_compared < MIN_SETTINGS:
        report.problems.append(f"only {report.settings_compared} settings compared (grid of {len(grid)})")
    return report


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


@dataclass
class PageResult:
    problems: list[str] = field(default_factory=list)
    local_paths: set[str] = field(default_factory=set)
    explorers: list[ExplorerReport] = field(default_factory=list)


def check_page(page, base_url: str, relative: str, log: PageLog, screenshots: Path | None) -> PageResult:
    """Open one page and return its problems (empty if none), the files it loaded, its explorers."""
    result = PageResult()
    problems = result.problems
    log.clear()
    response = page.goto(f"{base_url}/{relative}", wait_until="load", timeout=60_000)
    if response is None or response.status != 200:
        problems.append(f"HTTP {response.status if response else 'no response'}")
        return result
    page.evaluate(LOAD_IMAGES_JS)
    if page.query_selector("script[src*='mathjax']"):
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")
    page.wait_for_function(EXPLORERS_SETTLED_JS, timeout=30_000)
    info = page.evaluate(INSPECT_JS)

    for image in info["images"]:
        if image["width"] == 0:
            problems.append(f"image does not load: {image['src']}")
    if "Traceback (most recent call last)" in info["body"]:
        problems.append("shows a Python traceback")
    for output in info["errorOutputs"]:
        problems.append(f"notebook error output: {output[:200]!r}")
    for output in info["stderr"]:
        if "Traceback" in output or re.search(r"\b\w+Error\b", output):
            problems.append(f"stderr output with an error: {output[:200]!r}")
    for box in info["boxes"]:
        problems.append(f"Sphinx warning/error box: {box[:200]!r}")
    if info["math"] and not info["mathjaxScript"]:
        shown = ", ".join(repr(m) for m in dict.fromkeys(info["math"]))
        problems.append(f"raw TeX, this page loads no MathJax: {shown[:200]}")
    elif info["math"] and not info["typeset"]:
        problems.append("MathJax typeset nothing")
    for error in info["mathErrors"]:
        problems.append(f"formula does not typeset: {error[:200]!r}")
    for raw in dict.fromkeys(info["raw"]):
        problems.append(f"raw TeX in the visible text: {raw!r}")

    if CHAPTER.match(relative):
        if not any(image["inOutput"] and image["width"] > 0 for image in info["images"]):
            problems.append("chapter page without a figure from a cell output")
        if not info["explorers"]:
            problems.append("chapter page without a live explorer (lrsched.viz)")
        accepted = expected_colab_urls(relative)
        if not set(accepted) & set(info["colab"]):
            problems.append(f"Colab launch button is {info['colab'] or 'missing'}, expected one of {accepted}")

    explorers = page.evaluate(EXPLORERS_JS)
    registered = {e["element"] for e in explorers}
    for element in info["explorers"]:
        if element not in registered:
            state = page.get_attribute(f"#{element}", "data-lrsched-state")
            problems.append(f"explorer {element} was not drawn (state {state!r})")
    stem = relative[: -len(".html")].replace("/", "__")
    for n, explorer in enumerate(explorers, 1):
        title = explorer["title"] or explorer["element"]
        try:
            report = check_explorer(page, explorer, screenshots, f"{stem}__explorer{n}")
        except Exception as error:  # a timeout or a missing input fails this explorer only
            report = ExplorerReport(problems=[f"could not be driven: {type(error).__name__}: {error}"])
        result.explorers.append(report)
        problems.extend(f"explorer {n} ({title}): {p}" for p in report.problems)

    if screenshots is not None:
        try:
            page.screenshot(path=str(screenshots / f"{stem}.png"), full_page=True, timeout=120_000)
        except Exception as error:  # a very long page (the API reference): the check still counts
            print(f"     (no screenshot of {relative}: {type(error).__name__})")
    for url in dict.fromkeys(log.blocked):
        problems.append(f"requests a URL outside the book (blocked): {url}")
    for missing in dict.fromkeys(log.missing):
        problems.append(f"missing file: {missing}")
    for error in dict.fromkeys(log.console_errors):
        problems.append(f"console error: {error}")
    result.local_paths = set(log.local_paths)
    return result


def _kb(n: int) -> str:
    return f"{n / 1e3:7.0f} kB"


def print_benchmarks(html_dir: Path, results: dict[str, PageResult]) -> None:
    """Page-specific bytes per chapter, shared assets once, and the redraw time of the explorers."""

    def size(url_path: str) -> int:
        path = html_dir / url_path.lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        return path.stat().st_size if path.is_file() else 0

    # shared: the theme's and the vendored libraries' files (_static) and anything several pages load
    requested_by: dict[str, int] = {}
    for result in results.values():
        for p in result.local_paths:
            requested_by[p] = requested_by.get(p, 0) + 1
    shared = {p for p, n in requested_by.items() if n > 1 or "/_static/" in p}
    print("\nbenchmarks (not asserted)")
    print(f"  {'page':<34} {'page-specific':>13} {'of it explorer data':>20} {'explorers':>9} {'redraw median':>14}")
    all_ms = []
    for relative, result in results.items():
        if not CHAPTER.match(relative):
            continue
        own = result.local_paths - shared
        own_bytes = sum(size(p) for p in own)
        data = sum(e.data_bytes for e in result.explorers)
        ms = [m for e in result.explorers for m in e.redraw_ms]
        all_ms += ms
        median = f"{statistics.median(ms):8.1f} ms" if ms else "           -"
        print(f"  {relative:<34} {_kb(own_bytes):>13} {_kb(data):>20} {len(result.explorers):>9} {median:>14}")
    vendor = sum(size(p) for p in shared if "/_static/vendor/" in p)
    theme = sum(size(p) for p in shared if "/_static/vendor/" not in p)
    print(f"  shared assets, loaded once for the book: {_kb(vendor + theme).strip()} "
          f"(chart library and MathJax {_kb(vendor).strip()}, theme and search index {_kb(theme).strip()})")
    if all_ms:
        print(f"  control move to redraw: median {statistics.median(all_ms):.1f} ms, "
              f"max {max(all_ms):.1f} ms over {len(all_ms)} key presses")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", action="store_true", help="save PNGs of every page and explorer to screenshots/")
    parser.add_argument("--build-dir", type=Path, default=ROOT / "_build" / "html", help="the built HTML (default: _build/html)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the Chromium binary (default: {CHROMIUM})")
    parser.add_argument("--only", default=None, help="check only pages whose path contains this text")
    args = parser.parse_args(argv)

    html_dir = args.build_dir.resolve()
    if not (html_dir / "index.html").exists():
        print(f"no built book at {html_dir}: run `make book` first", file=sys.stderr)
        return 2
    if not Path(args.chromium).exists():
        print(f"no Chromium at {args.chromium}: `apt-get install -y chromium` (never a downloaded browser)", file=sys.stderr)
        return 2
    screenshots = None
    if args.screenshots:
        screenshots = ROOT / "screenshots"
        screenshots.mkdir(exist_ok=True)

    from playwright.sync_api import sync_playwright  # imported late: --help works without it

    failures: dict[str, list[str]] = {}
    pages = []
    for relative in pages_to_check(html_dir):
        if args.only and args.only not in relative:
            continue
        redirect = REDIRECT.search((html_dir / relative).read_text(errors="replace"))
        if redirect:  # e.g. the root index.html -> book/index.html
            target = (html_dir / relative).parent / redirect.group(1).split("#")[0]
            status = "ok  " if target.is_file() else "FAIL"
            print(f"{status} {relative} (redirect to {redirect.group(1)})")
            if not target.is_file():
                failures[relative] = [f"redirects to {redirect.group(1)}, which is not in the build"]
        else:
            pages.append(relative)
    if not args.only:
        for missing in sorted(set(toc_pages()) - set(pages)):
            failures[missing] = ["in _toc.yml but not in the build"]

    results: dict[str, PageResult] = {}
    server, base_url = serve(html_dir)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
            log = PageLog()
            context.route("**/*", functools.partial(_route, base_url=base_url, log=log))
            page = context.new_page()
            page.on("console", functools.partial(_on_console, log=log))
            page.on("pageerror", lambda error: log.console_errors.append(f"uncaught: {error}"))
            page.on("response", functools.partial(_on_response, base_url=base_url, log=log))
            for relative in pages:
                try:
                    result = check_page(page, base_url, relative, log, screenshots)
                except Exception as error:  # a timeout or a crashed page is a failure of that page
                    result = PageResult(problems=[f"could not check the page: {type(error).__name__}: {error}"])
                    result.problems += [f"requests a URL outside the book (blocked): {u}" for u in dict.fromkeys(log.blocked)]
                results[relative] = result
                explorers = result.explorers
                detail = ""
                if explorers:
                    compared = "+".join(str(e.settings_compared) for e in explorers)
                    sources = sorted({e.source.split(" (")[0] for e in explorers})
                    detail = f" ({len(explorers)} explorer(s), {compared} settings compared with {', '.join(sources)} values)"
                print(f"{'FAIL' if result.problems else 'ok  '} {relative}{detail}", flush=True)
                if result.problems:
                    failures[relative] = result.problems
            browser.close()
    finally:
        server.shutdown()

    print_benchmarks(html_dir, results)
    print(f"\nchecked {len(pages)} pages with the network blocked" + (f", screenshots in {screenshots}" if screenshots else ""))
    if failures:
        print(f"{len(failures)} page(s) with problems:")
        for relative, problems in failures.items():
            print(f"  {relative}")
            for problem in problems:
                print(f"    - {problem}")
        return 1
    print("no problems found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
