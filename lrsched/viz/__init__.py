"""Live explorers without a kernel: Vega-Lite figures precomputed over a grid of controls.

A chapter (or a student's notebook) makes an explorer in one call::

    from lrsched.viz import Control, Panel, explorer

    explorer(compute, controls=[Control(...), ...], panels=[Panel(...), ...], title="...")

``compute(**setting)`` runs in Python for every point of the controls' grid, so every number the
browser draws comes from lrsched itself; the browser only picks the rows of the current setting
(no schedule is re-implemented in JavaScript). The figure is a Vega-Lite v5 spec shown with
vega-embed: from the book's own ``_static`` files on the website, from a CDN in Jupyter and Colab.
See :func:`explorer` for an example.
"""

from .explorer import Control, Explorer, Panel, explorer

__all__ = ["Control", "Panel", "Explorer", "explorer"]
