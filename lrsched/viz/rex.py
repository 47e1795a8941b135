r"""What chapter 4's explorer draws: REX next to the linear and cosine decays.

For a budget of ``total_steps`` steps, :func:`rex_explorer_tables` returns the
tables the explorer shows for one setting of its controls: the three
learning-rate curves, each schedule's mean learning rate over the budget (the
area under the curve divided by ``T``), and, for REX, the continuous profile
mean

.. math:: \bar g_\beta = \frac1\beta + \frac{1 - \beta}{\beta^2}\ln(1 - \beta),

to which the discrete mean tends as ``T`` grows. Every value comes from
lrsched's closed forms (:class:`lrsched.RexDecay`,
:class:`lrsched.LinearDecay`, :class:`lrsched.CosineDecay`); a setting they
reject (``min_lr > max_lr``) raises their own ``ValueError``, which the
explorer shows in place of the chart.

Reference: Chen, Wolfe & Kyrillidis, *REX: Revisiting Budgeted Training with an
Improved Schedule*, MLSys 2022.
"""

from __future__ import annotations

import math

import numpy as np

from ..rex import RexDecay
from ..warmup_decay import CosineDecay, LinearDecay

__all__ = ["rex_profile_mean", "rex_explorer_tables"]


def rex_profile_mean(beta: float) -> float:
    r"""The mean of the REX profile over the budget, :math:`\int_0^1 g_\beta(z)\,dz`.

    ``beta = 0`` is the linear profile (1/2); the expression above is used
    for ``0 < beta < 1``.

    Examples
    --------
    >>> round(rex_profile_mean(0.5), 6)  # 2 - 2 ln 2
    0.613706
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got beta={beta!r}")
    if beta == 0.0:
        return 0.5
    return 1.0 / beta + (1.0 - beta) / beta**2 * math.log1p(-beta)


def rex_explorer_tables(
    total_steps: int,
    max_lr: float,
    beta: float,
    min_lr: float = 0.0,
    max_points: int = 41,
) -> dict[str, dict[str, list]]:
    """The explorer's tables for one setting: curves, mean rates, REX's area.

    Parameters
    ----------
    total_steps : int
        The budget ``T`` in steps; the curves run 15% past it.
    max_lr, min_lr : float
        The peak and the floor of all three schedules.
    beta : float
        REX's mixing weight (0 is the linear decay, 1/2 the paper's REX).
    max_points : int
        At most this many steps per curve, evenly spread over ``[0, 1.15 T]``
        and always including ``0`` and ``T`` (keeps a page's data small).

    Returns
    -------
    dict
        ``"lr"``: columns ``step``, ``lr``, ``schedule``; ``"mean"``: the mean
        lr over the ``T`` steps of the budget per schedule; ``"area"``: a small
        table with REX's discrete mean and its integral, both over the peak
        range.

    Examples
    --------
    >>> tables = rex_explorer_tables(100, max_lr=1.0, beta=0.5)
    >>> tables["mean"]["schedule"]
    ['REX', 'linear', 'cosine']
    >>> round(tables["mean"]["mean lr"][1], 4)  # (T + 1) / 2T
    0.505
    """
    schedules = {
        "REX": RexDecay(total_steps, max_lr=max_lr, min_lr=min_lr, beta=beta),
        "linear": LinearDecay(total_steps, max_lr=max_lr, min_lr=min_lr),
        "cosine": CosineDecay(total_steps, max_lr=max_lr, min_lr=min_lr),
    }
    last = int(1.15 * total_steps)
    if max_points < 3:
        raise ValueError(f"max_points must be at least 3, got max_points={max_points!r}")
    shown = np.unique(np.r_[np.rint(np.linspace(0, last, max_points)), total_steps]).astype(int)
    budget = np.arange(total_steps)
    lr = {"step": [], "lr": [], "schedule": []}
    mean = {"schedule": [], "mean lr": []}
    for name, schedule in schedules.items():
        lr["step"].extend(shown.tolist())
        lr["lr"].extend(np.asarray(schedule(shown), dtype=float).tolist())
        lr["schedule"].extend([name] * len(shown))
        mean["schedule"].append(name)
        mean["mean lr"].append(float(np.mean(schedule(budget))))
    span = max_lr - min_lr
    rex_share = (mean["mean lr"][0] - min_lr) / span if span > 0 else 1.0
    area = {
        "quantity": ["REX mean / range, this T", "REX integral ḡ_β", "linear (T+1)/2T"],
        "value": [rex_share, rex_profile_mean(beta), (total_steps + 1) / (2 * total_steps)],
    }
    return {"lr": lr, "mean": mean, "area": area}
