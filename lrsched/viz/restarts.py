r"""What chapter 3's explorer draws: a warm-restart schedule and its table of cycles.

:class:`lrsched.CosineRestarts` starts cycle :math:`k` at step :math:`S_k`, the geometric series
of cycle lengths :math:`C m^j` rounded once (cycles shrink for :math:`m < 1`, down to
:math:`W + 1` steps), and peaks at :math:`\eta_k = \max(\eta_{\max}\gamma^k, \eta_{\min})`.
:func:`restarts_explorer_data` returns, for one setting of the controls, the tables the explorer
draws: the learning rate over the budget (the schedule's closed form, every ``every``-th step, and
the first step of every cycle with the step before it where cycles are at least ``every`` steps
long, so no restart is smoothed away), the first cycles as a table
(index, start, length, peak) taken from :meth:`lrsched.CosineRestarts.cycle_start`, and a short
summary (cycles started within the budget, the rate of the last step, the mean rate). Nothing
here re-derives the schedule: every number comes from lrsched.

Reference: Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts*,
ICLR 2017.
"""

from __future__ import annotations

import math

import numpy as np

from .. import CosineRestarts

__all__ = ["restarts_explorer_data"]


def restarts_explorer_data(
    first_cycle_steps: int = 50,
    cycle_mult: float = 1.5,
    gamma: float = 1.0,
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    *,
    max_lr: float = 1.0,
    steps: int = 600,
    every: int = 6,
    n_cycles: int = 8,
) -> dict[str, dict[str, list]]:
    r"""The explorer's tables for one setting of a warm-restart schedule.

    Parameters
    ----------
    first_cycle_steps, cycle_mult, gamma, warmup_steps, min_lr, max_lr
        The arguments of :class:`lrsched.CosineRestarts` (it validates them: ``warmup_steps``
        must be below ``first_cycle_steps``, ``min_lr`` at most ``max_lr``, and so on; a
        rejected setting raises its ``ValueError``).
    steps : int
        The budget: steps ``0 .. steps - 1`` are drawn and summarised.
    every : int
        Draw every ``every``-th step, plus each restart and the step before it where the cycle
        that ends there has at least ``every`` steps (shorter cycles are drawn densely anyway).
    n_cycles : int
        Rows of the cycle table (the first cycles; fewer if the budget holds fewer).

    Returns
    -------
    dict
        ``"lr"``: columns ``step``, ``lr`` (:math:`\eta_t`);
        ``"cycles"``: columns ``cycle``, ``start`` (:math:`S_k`), ``length``
        (:math:`S_{k+1} - S_k`), ``peak`` (:math:`\eta_k`);
        ``"summary"``: columns ``quantity``, ``value`` (cycles begun within the budget, the
        last step's rate, the mean rate over the budget).

    Examples
    --------
    >>> data = restarts_explorer_data(10, 2.0, steps=70, n_cycles=3)
    >>> data["cycles"]["start"], data["cycles"]["length"]
    ([0, 10, 30], [10, 20, 40])
    """
    schedule = CosineRestarts(
        first_cycle_steps=first_cycle_steps,
        cycle_mult=cycle_mult,
        max_lr=max_lr,
        min_lr=min_lr,
        warmup_steps=warmup_steps,
        gamma=gamma,
    )
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2, got steps={steps!r}")
    starts = _starts_through(schedule, steps)
    lengths = np.diff(starts)
    restarts = np.array(starts[1:-1], dtype=np.int64)[lengths[:-1] >= every]
    drawn = np.concatenate(
        [np.arange(0, steps, every), restarts, restarts - 1, [steps - 1]]
    )
    t = np.unique(drawn)
    lr = schedule(t)
    shown = min(n_cycles, len(starts) - 1)
    cycles = np.arange(shown)
    table = {
        "cycle": cycles.tolist(),
        "start": [int(starts[j]) for j in cycles],
        "length": [int(starts[j + 1] - starts[j]) for j in cycles],
        "peak": [float(schedule(starts[j] + warmup_steps)) for j in cycles],
    }
    everything = schedule(np.arange(steps))
    summary = {
        "quantity": [
            f"cycles begun in {steps} steps",
            "η at the last step",
            "mean η over the budget",
        ],
        "value": [len(starts) - 1, float(everything[-1]), float(everything.mean())],
    }
    return {
        "lr": {"step": t.tolist(), "lr": lr.tolist()},
        "cycles": table,
        "summary": summary,
    }


def _starts_through(schedule: CosineRestarts, steps: int) -> list[int]:
    """``S_0, S_1, ...`` up to the first start at or past ``steps``, from ``cycle_start``.

    Shrinking cycles (``cycle_mult < 1``) end in a run of cycles of ``shortest_cycle`` steps
    (``W + 1``; a single step without warmup): there the starts are filled in arithmetically,
    and the last one is checked against ``cycle_start`` (hundreds of calls saved per setting).
    """
    c, m = schedule.first_cycle_steps, schedule.cycle_mult
    shortest = schedule.shortest_cycle
    # past this cycle every exact length C m**k is below W + 1: lrsched's floor
    floor_from = (
        math.ceil(math.log(shortest / c) / math.log(m)) + 1 if m < 1 else math.inf
    )
    starts = [schedule.cycle_start(0)]
    while starts[-1] < steps:
        k = len(starts)
        if k > floor_from:
            more = range(starts[-1] + shortest, steps + shortest, shortest)
            starts.extend(more)
            last = schedule.cycle_start(len(starts) - 1)
            if last != starts[-1]:  # the documented floor did not hold
                raise RuntimeError(
                    f"cycle {len(starts) - 1} starts at {last}, not {starts[-1]}"
                )
            break
        starts.append(schedule.cycle_start(k))
    return starts
