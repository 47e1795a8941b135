"""Ready-made ``compute`` functions for :func:`lrsched.viz.explorer` (also its documentation).

Defined in a module, not a notebook, so the book's browser check can import them by
``module:qualname`` and recompute what the page draws at any setting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..warmup_decay import warmup_cosine


def warmup_cosine_tables(warmup_steps: int, max_lr: float, min_lr: float = 0.0, t_max: int = 200) -> dict[str, Any]:
    r"""The curve of :func:`lrsched.warmup_cosine` and its mean learning rate (area / T).

    .. math:: \bar\eta = \frac{1}{T+1}\sum_{t=0}^{T} \eta_t

    Returns ``{"lr": {"step", "lr"}, "mean": {"what", "value"}}``; lrsched's ValueError (say
    ``min_lr > max_lr``) propagates, and the explorer shows it at that setting.

    Examples
    --------
    >>> from lrsched.viz import Control, Panel, explorer
    >>> ex = explorer(
    ...     warmup_cosine_tables,
    ...     controls=[Control("warmup_steps", [0, 20, 40, 60]),
    ...               Control("max_lr", [0.05, 0.1, 0.2]),
    ...               Control("min_lr", [0.0, 0.1])],
    ...     panels=[Panel("lr", mark="line", x="step", y="lr", y_title="η_t"),
    ...             Panel("mean", mark="bar", x="what", y="value")])
    >>> ex.errors[(0, 0.05, 0.1)]
    'min_lr must be <= max_lr, got min_lr=0.1 > max_lr=0.05'
    """
    t = np.arange(t_max + 1)
    lr = warmup_cosine(t_max=t_max, max_lr=max_lr, min_lr=min_lr, warmup_steps=warmup_steps)(t)
    return {"lr": {"step": t, "lr": lr}, "mean": {"what": ["mean lr"], "value": [lr.mean()]}}
