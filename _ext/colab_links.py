"""Sphinx: the Colab launch button of a chapter opens its Colab edition, ``colab/NN_name.ipynb``.

sphinx-book-theme links Colab to the page's own source (``.../blob/<branch>/book/NN_name.ipynb``),
whose MyST markup Colab cannot render. ``scripts/make_colab.py`` writes an edition of each chapter
for Colab; this handler, run after the theme builds its launch buttons, points the Colab button at
that edition in the same repository and branch. Pages without an edition keep the theme's link.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

EDITIONS = "colab"


def colab_edition_url(url: str, pagename: str, root: Path) -> str:
    """The theme's Colab URL of ``pagename`` pointed at ``colab/<name>.ipynb`` if that exists."""
    name = pagename.rsplit("/", 1)[-1]
    if not (root / EDITIONS / f"{name}.ipynb").exists():
        return url
    return re.sub(r"(/github/[^/]+/[^/]+/blob/[^/]+/).*$", rf"\g<1>{EDITIONS}/{name}.ipynb", url)


def _point_colab_at_editions(app, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    root = Path(app.confdir)
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if group.get("label") == "launch-buttons" else []:
            if button.get("text") == "Colab" and button.get("url"):
                button["url"] = colab_edition_url(button["url"], pagename, root)


def setup(app) -> dict[str, Any]:
    # sphinx-book-theme adds the launch buttons at priority 501; run after it.
    app.connect("html-page-context", _point_colab_at_editions, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
