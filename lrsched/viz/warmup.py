r"""What chapter 2's explorer draws: a warmup, a decay, the area it spends, and a trained outcome.

A linear warmup over :math:`W` steps from 0 to :math:`\eta_{\max}`, then a decay to 0 at the
budget :math:`T` through a shape :math:`d(p)` of the progress :math:`p`,

.. math:: \eta_t = \eta_{\max}\,\frac{t}{W} \ (t < W), \qquad
          \eta_t = \eta_{\max}\, d\!\left(\min\!\left(\tfrac{t - W}{T - W}, 1\right)\right)
          \ (t \ge W),

with :math:`d = 1 - p` (linear), :math:`\tfrac12(1 + \cos \pi p)` (cosine) or :math:`(1 - p)^k`
(poly). :func:`warmup_explorer_data` returns, for one setting of the controls, the curve (from
lrsched's closed forms ``warmup_linear`` / ``warmup_cosine`` / ``warmup_poly``, the schedules'
one source of truth), the area :math:`\sum_{t<T} \eta_t` and the mean rate it spends, and,
when the chapter passes its own multi-seed runs as ``outcome``, the test accuracy (mean and
95% interval over seeds) against the warmup length at the chosen peak.

Reference: Goyal et al., *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*, 2017.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..warmup_decay import warmup_cosine, warmup_linear, warmup_poly

__all__ = ["SHAPES", "warmup_schedule", "warmup_explorer_data"]

#: The decay shapes the explorer offers.
SHAPES = ("linear", "cosine", "poly")


def warmup_schedule(shape: str, warmup_percent: float, power: float, peak_lr: float,
                    budget: int):
    """The lrsched closed form for one setting (warmup given in percent of the budget).

    Parameters
    ----------
    shape : {"linear", "cosine", "poly"}
        The decay after the warmup.
    warmup_percent : float
        Warmup length in percent of ``budget``, rounded to whole steps.
    power : float
        The power ``k`` of the poly decay (ignored by the other shapes).
    peak_lr : float
        The peak :math:`\\eta_{\\max}`.
    budget : int
        :math:`T` (``t_max``), warmup included.

    Returns
    -------
    callable
        The schedule: steps -> learning rates.

    Raises
    ------
    ValueError
        For an unknown shape or a negative warmup percent, and lrsched's own errors (e.g. a
        warmup as long as the budget, a non-positive power).

    Examples
    --------
    >>> float(warmup_schedule("linear", 10, 1.0, 0.5, 300)(30))
    0.5
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got shape={shape!r}")
    if not warmup_percent >= 0:
        raise ValueError(f"warmup_percent must be >= 0, got warmup_percent={warmup_percent!r}")
    warmup_steps = int(round(budget * warmup_percent / 100))
    common = dict(t_max=budget, max_lr=peak_lr, warmup_steps=warmup_steps)
    if shape == "linear":
        return warmup_linear(**common)
    if shape == "cosine":
        return warmup_cosine(**common)
    return warmup_poly(poly_order=power, **common)


def warmup_explorer_data(
    shape: str = "cosine",
    warmup_percent: float = 10,
    power: float = 0.5,
    peak_lr: float = 1.4,
    budget: int = 300,
    *,
    outcome: Any = None,
    max_budget: int | None = None,
    n_points: int = 60,
) -> dict[str, dict[str, list]]:
    r"""The explorer's tables for one setting of the controls.

    Parameters
    ----------
    shape, warmup_percent, power, peak_lr, budget
        See :func:`warmup_schedule`.
    outcome : pandas.DataFrame, optional
        The chapter's runs summarised per setting: columns ``peak_lr``, ``warmup_percent``,
        ``mean``, ``low``, ``high`` (test accuracy, 95% interval over seeds). Adds the panel
        ``"outcome"`` (accuracy against warmup length at ``peak_lr``) and a row of the table.
    max_budget : int, optional
        The curve is drawn on ``0 .. 1.1 * max_budget`` (default ``budget``), so that every
        budget of a grid is drawn on the same steps and the end of the budget is visible.
    n_points : int
        Evenly spaced steps drawn (the warmup's end ``W`` and ``T`` are always included).

    Returns
    -------
    dict
        ``"lr"``: ``step``, ``lr``; ``"numbers"``: ``quantity``, ``value`` (strings) with the
        area :math:`\sum_{t=0}^{T-1}\eta_t`, the mean rate over the budget and its ratio to the
        peak; with ``outcome`` also ``"outcome"``: ``warmup_percent``, ``accuracy``, ``curve``.

    Examples
    --------
    >>> data = warmup_explorer_data("linear", 10, 1.0, 0.5, 300)
    >>> data["numbers"]["value"][1]   # linear: eta_max T / 2 over T steps
    '0.25'
    """
    schedule = warmup_schedule(shape, warmup_percent, power, peak_lr, budget)
    warmup_steps = int(round(budget * warmup_percent / 100))
    last = int(1.1 * (budget if max_budget is None else max_budget))
    steps = np.unique(np.concatenate([
        np.linspace(0, last, n_points).round().astype(int),
        [warmup_steps, budget],
    ]))
    lr = np.asarray(schedule(steps), dtype=float)
    area = float(np.sum(schedule(np.arange(budget))))
    numbers = {
        "quantity": ["area Σ η_t, t < T", "mean lr over T", "mean lr / peak"],
        "value": [f"{area:.8g}", f"{area / budget:.8g}", f"{area / budget / peak_lr:.8g}"],
    }
    tables: dict[str, dict[str, list]] = {
        "lr": {"step": steps.tolist(), "lr": lr.tolist()},
        "numbers": numbers,
    }
    if outcome is not None:
        rows = outcome[np.isclose(outcome["peak_lr"], peak_lr)].sort_values("warmup_percent")
        if rows.empty:
            raise ValueError(f"no training runs at peak_lr={peak_lr!r}")
        x = rows["warmup_percent"].to_list()
        tables["outcome"] = {
            "warmup_percent": x * 3,
            "accuracy": (rows["mean"].to_list() + rows["low"].to_list()
                         + rows["high"].to_list()),
            "curve": (["mean"] * len(x) + ["95% low"] * len(x) + ["95% high"] * len(x)),
        }
        here = rows[np.isclose(rows["warmup_percent"], warmup_percent)]
        if len(here):
            row = here.iloc[0]
            numbers["quantity"].append("test accuracy (cosine, T=300)")
            numbers["value"].append(f"{row['mean']:.3f} [{row['low']:.3f}, {row['high']:.3f}]")
    return tables
