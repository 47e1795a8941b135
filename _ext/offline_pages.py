"""Sphinx: pages that load nothing from the network.

The book serves MathJax and the chart library itself (``_config.yml``: ``mathjax_path`` and
``html_js_files`` under ``_static/vendor``). Three extensions still add scripts a reader offline
cannot load and the book does not use:

* myst-nb adds require.js and the ipywidgets HTML manager from CDNs, and the widget state itself
  (often 35-130 kB), to a page whose notebook stores widget state (``scripts/execute_notebooks.py``
  strips it; this is the safety net: ipywidgets need a kernel, the website shows none of them);
* sphinx-thebe (always on in jupyter-book 1) adds its loader and the URL of thebe on unpkg, for
  live code cells on Binder, which the book does not offer (Colab is its launch button).

They are removed from every page. Any other script or stylesheet from another host is a warning
(so ``-W`` fails the build), not silently dropped: someone added it and must serve it locally.

Also: the theme's light/dark mode defaults to ``auto`` explicitly (the template variable
``default_mode``). Without it, pydata-sphinx-theme starts from an empty mode and logs "Got invalid
theme mode" as a console error on every page (the browser check fails on console errors).
"""

from __future__ import annotations

from sphinx.util import logging

logger = logging.getLogger(__name__)

UNUSED = ("require.min.js", "@jupyter-widgets/html-manager", "sphinx-thebe.js", "sphinx-thebe.css")


def _remote(asset) -> bool:
    return "://" in str(asset.filename or "") or str(asset.filename or "").startswith("//")


def _unused(asset) -> bool:
    filename = str(asset.filename or "")
    return (
        any(name in filename for name in UNUSED)
        or "THEBE_JS_URL" in asset.attributes.get("body", "")
        or asset.attributes.get("type") == "application/vnd.jupyter.widget-state+json"
    )


def _strip(app, pagename, templatename, context, doctree):
    context.setdefault("default_mode", "auto")
    for key in ("script_files", "css_files"):
        assets = context.get(key)
        if not assets:
            continue
        kept = [asset for asset in assets if not _unused(asset)]
        for asset in kept:
            if _remote(asset):
                logger.warning(f"{pagename}: {asset.filename} is loaded from the network; serve it from _static", location=pagename)
        assets[:] = kept  # in place: Sphinx renders this page from the same list


def setup(app):
    # after myst-nb's own html-page-context handler, which adds the per-page widget scripts
    app.connect("html-page-context", _strip, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
