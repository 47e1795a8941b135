"""Open every page of the built book in Chromium and fail on anything a reader would see broken.

Usage: ``python scripts/browser_check.py [--screenshots] [--build-dir _build/html]``
(or ``make browser-check ARGS=--screenshots``). Build the book first (``make book``).

The built HTML is served from a thread on 127.0.0.1 and opened with Playwright driving Debian's
Chromium (``/usr/bin/chromium``, ``apt-get install -y chromium``); no browser is downloaded.
Requests to any other host (the MathJax and font CDNs) are blocked, so the check is the same
offline and online. With ``--mathjax DIR`` (or ``$LRSCHED_MATHJAX``), a local copy of MathJax 3
(``npm install mathjax@3`` puts one in ``node_modules/mathjax``) stands in for the CDN: the math is
then typeset as readers see it, and a formula MathJax cannot typeset fails its page. A page fails
when

* an image does not load (``naturalWidth == 0``),
* it shows a Python traceback, a notebook error output, or ``stderr`` with a traceback,
* it shows a Sphinx warning or error box (``.system-message``, ``.problematic``),
* it is a chapter (``book/NN_*.html``) without a figure from a cell output, or its Colab launch
  button does not point at the chapter's notebook in the repository of ``_config.yml``,
* it has math but loads no MathJax (Sphinx loads it only on pages with math in their body, so
  ``$...$`` in a chapter title shows as raw TeX in the navigation of the other pages),
* a formula does not typeset (only with ``--mathjax``),
* a page of the table of contents is missing from the build.

A redirect page (the root ``index.html``) only has to point at a page that exists.

``--screenshots`` saves a full-page PNG of every page to ``screenshots/``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import sys
import threading
from pathlib import Path

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
MATHJAX_URL = re.compile(r"^https://[^/]+/npm/mathjax@3[^/]*/(?P<path>[^?#]+)")
REDIRECT = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.I)

# Runs in the page: everything the checks need, in one round trip.
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
  return {
    title: document.title,
    // textContent, not innerText: a traceback folded away in a hidden cell is still on the page
    body: (document.querySelector("article, main") || document.body || {}).textContent || "",
    images, errorOutputs, stderr, boxes, colab, mathErrors,
    math: Array.from(document.querySelectorAll(".math")).map((el) => text(el)),
    mathjaxScript: document.querySelector("script[src*='mathjax']") !== null,
    typeset: document.querySelector("mjx-container") !== null,
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


def expected_colab_url(page: str) -> str:
    """The Colab launch URL of a chapter page, from ``repository`` in ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    owner_repo = re.sub(r"^https://github\.com/", "", repo["url"].rstrip("/"))
    book_path = (repo.get("path_to_book") or "").strip("/")
    notebook = page[: -len(".html")] + ".ipynb"
    path = f"{book_path}/{notebook}" if book_path else notebook
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{owner_repo}/blob/{repo.get('branch', 'main')}/{path}"


def _route(route, base_url: str, mathjax_dir: Path | None) -> None:
    """Only the local server, and MathJax from a local copy: CDN requests would hang or vary offline."""
    url = route.request.url
    if url.startswith(base_url):
        route.continue_()
        return
    match = MATHJAX_URL.match(url)
    if mathjax_dir is not None and match:
        path = (mathjax_dir / match.group("path")).resolve()
        if path.is_file() and mathjax_dir in path.parents:
            route.fulfill(path=str(path))
            return
    route.abort()


def check_page(page, base_url: str, relative: str, screenshots: Path | None, mathjax: bool) -> list[str]:
    """Open one page and return its problems (empty if none)."""
    problems = []
    response = page.goto(f"{base_url}/{relative}", wait_until="load", timeout=60_000)
    if response is None or response.status != 200:
        return [f"HTTP {response.status if response else 'no response'}"]
    page.evaluate(LOAD_IMAGES_JS)
    if mathjax and page.query_selector(".math") and page.query_selector("script[src*='mathjax']"):
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")
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
        # Sphinx loads MathJax only on pages with math in their body; math elsewhere (a
        # chapter title with $...$ in the navigation) then shows as raw TeX.
        shown = ", ".join(repr(m) for m in dict.fromkeys(info["math"]))
        problems.append(f"raw TeX, this page loads no MathJax: {shown[:200]}")
    elif mathjax and info["math"]:
        if not info["typeset"]:
            problems.append("MathJax typeset nothing")
        for error in info["mathErrors"]:
            problems.append(f"formula does not typeset: {error[:200]!r}")
    if CHAPTER.match(relative):
        if not any(image["inOutput"] and image["width"] > 0 for image in info["images"]):
            problems.append("chapter page without a figure from a cell output")
        expected = expected_colab_url(relative)
        if expected not in info["colab"]:
            problems.append(f"Colab launch button is {info['colab'] or 'missing'}, expected {expected}")

    if screenshots is not None:
        target = screenshots / (relative[: -len(".html")].replace("/", "__") + ".png")
        page.screenshot(path=str(target), full_page=True)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", action="store_true", help="save a full-page PNG of every page to screenshots/")
    parser.add_argument("--build-dir", type=Path, default=ROOT / "_build" / "html", help="the built HTML (default: _build/html)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the Chromium binary (default: {CHROMIUM})")
    parser.add_argument(
        "--mathjax",
        type=Path,
        default=os.environ.get("LRSCHED_MATHJAX") or None,
        help="a local MathJax 3 (the folder holding es5/) to typeset and check the math (default: $LRSCHED_MATHJAX)",
    )
    args = parser.parse_args(argv)
    mathjax_dir = args.mathjax.resolve() if args.mathjax else None
    if mathjax_dir is not None and not (mathjax_dir / "es5" / "tex-mml-chtml.js").is_file():
        print(f"no MathJax 3 at {mathjax_dir} (expected es5/tex-mml-chtml.js)", file=sys.stderr)
        return 2

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
        redirect = REDIRECT.search((html_dir / relative).read_text(errors="replace"))
        if redirect:  # e.g. the root index.html -> book/index.html
            target = (html_dir / relative).parent / redirect.group(1).split("#")[0]
            status = "ok  " if target.is_file() else "FAIL"
            print(f"{status} {relative} (redirect to {redirect.group(1)})")
            if not target.is_file():
                failures[relative] = [f"redirects to {redirect.group(1)}, which is not in the build"]
        else:
            pages.append(relative)
    for missing in sorted(set(toc_pages()) - set(pages)):
        failures[missing] = ["in _toc.yml but not in the build"]

    server, base_url = serve(html_dir)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", functools.partial(_route, base_url=base_url, mathjax_dir=mathjax_dir))
            page = context.new_page()
            for relative in pages:
                try:
                    problems = check_page(page, base_url, relative, screenshots, mathjax_dir is not None)
                except Exception as error:  # a timeout or a crashed page is a failure of that page
                    problems = [f"could not check the page: {type(error).__name__}: {error}"]
                status = "FAIL" if problems else "ok  "
                print(f"{status} {relative}", flush=True)
                if problems:
                    failures[relative] = problems
            browser.close()
    finally:
        server.shutdown()

    print(f"\nchecked {len(pages)} pages" + (f", screenshots in {screenshots}" if screenshots else ""))
    if mathjax_dir is None:
        print("math not typeset: pass --mathjax DIR (a local MathJax 3) to check the formulas too")
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
