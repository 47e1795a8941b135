"""Sphinx: load MathJax on every page, not only on pages with math in their body.

A chapter title with math (``$\\rho$``) appears in the navigation of every page; without MathJax
there it would show as raw TeX.
"""


def setup(app):
    app.set_html_assets_policy("always")
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
