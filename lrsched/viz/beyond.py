r"""What chapter 8's explorer draws: WSD, one-cycle and inverse square root, and what they spend.

For one setting of the controls, :func:`beyond_explorer_data` returns the learning rate
:math:`\eta_t / \eta_{max}` over a run of ``steps`` optimizer steps, taken from lrsched's closed
forms (:class:`lrsched.beyond.WarmupStableDecay`, :class:`lrsched.beyond.OneCycle`,
:class:`lrsched.beyond.InverseSqrt`),
and its consequences as numbers: the mean learning rate over the run, the mean over its final 10%
of steps (where a schedule anneals, or does not) and the learning rate of the last step. A run of
``T`` steps uses the rates of steps :math:`t = 0, \dots, T - 1`:

.. math:: \bar\eta = \frac1T \sum_{t=0}^{T-1} \eta_t, \qquad
          \bar\eta_{last\,10\%} = \frac{1}{T - \lceil 0.9\,T \rceil}
          \sum_{t = \lceil 0.9 T \rceil}^{T-1} \eta_t .

A setting the schedule rejects (warmup plus cooldown longer than the run, a one-cycle anneal
shape torch does not have, inverse square root without warmup) raises lrsched's own
``ValueError``, which the explorer shows in place of the chart.

References: Hu et al., *MiniCPM*, 2024 and Hägele et al., *Scaling Laws and Compute-Optimal
Training Beyond Fixed Training Durations*, 2024 (WSD); Smith & Topin, *Super-Convergence*, 2019
(one-cycle); Vaswani et al., *Attention Is All You Need*, 2017 (inverse square root).
"""

from __future__ import annotations

import math

import numpy as np

from ..beyond import InverseSqrt, OneCycle, WarmupStableDecay

__all__ = ["BEYOND_SCHEDULES", "NUMBER_ROWS", "beyond_schedule", "beyond_explorer_data"]

#: The schedules the explorer offers.
BEYOND_SCHEDULES = ("WSD", "one-cycle", "inverse sqrt")

#: The rows of the ``"numbers"`` table, in order.
NUMBER_ROWS = ("mean lr / peak", "mean lr / peak, last 10%", "lr / peak at step T-1")

# the explorer's cooldown names -> OneCycle's anneal_strategy (torch's names)
_ONE_CYCLE_ANNEAL = {"linear": "linear", "cosine": "cos"}


def beyond_schedule(
    schedule: str,
    cooldown: str = "1-sqrt",
    cooldown_fraction: float = 0.2,
    warmup_steps: int = 15,
    floor: float = 0.0,
    *,
    steps: int = 300,
):
    r"""The closed form (peak 1) of one setting of the explorer's controls.

    Parameters
    ----------
    schedule : {"WSD", "one-cycle", "inverse sqrt"}
        Which schedule.
    cooldown : {"linear", "cosine", "1-sqrt"}
        WSD's cooldown shape; one-cycle's falling phase (``"1-sqrt"`` is not one of torch's, so
        :class:`~lrsched.beyond.OneCycle` refuses it). Inverse square root has none.
    cooldown_fraction : float
        WSD: the cooldown length :math:`D = \mathrm{round}(f\,T)`. One-cycle: the falling phase,
        ``pct_start = 1 - f``.
    warmup_steps : int
        WSD's linear warmup; inverse square root's :math:`W`. One-cycle's rise is set by
        ``pct_start`` instead and ignores it.
    floor : float
        WSD's ``min_lr`` (a fraction of the peak). The other two end where their own
        parameters put them and ignore it.
    steps : int
        The budget :math:`T`.

    Returns
    -------
    lrsched.core.Schedule

    Raises
    ------
    ValueError
        For an unknown ``schedule``, and whatever the schedule's own checks reject.

    Examples
    --------
    >>> float(beyond_schedule("WSD", "linear", 0.2, 0, 0.1, steps=10)(9))
    0.55
    """
    if schedule == "WSD":
        decay = int(round(cooldown_fraction * steps))
        return WarmupStableDecay(total_steps=steps, decay_steps=decay, max_lr=1.0, min_lr=floor,
                                 warmup_steps=warmup_steps, cooldown=cooldown)
    if schedule == "one-cycle":
        return OneCycle(total_steps=steps, max_lr=1.0, pct_start=1.0 - cooldown_fraction,
                        anneal_strategy=_ONE_CYCLE_ANNEAL.get(cooldown, cooldown))
    if schedule == "inverse sqrt":
        return InverseSqrt(warmup_steps=warmup_steps, peak_lr=1.0)
    raise ValueError(f"schedule must be one of {BEYOND_SCHEDULES}, got schedule={schedule!r}")


def beyond_explorer_data(
    schedule: str = "WSD",
    cooldown: str = "1-sqrt",
    cooldown_fraction: float = 0.2,
    warmup_steps: int = 15,
    floor: float = 0.0,
    *,
    steps: int = 300,
    every: int = 3,
) -> dict[str, dict[str, list]]:
    r"""The explorer's tables for one setting: the schedule and the learning rate it spends.

    Parameters
    ----------
    schedule, cooldown, cooldown_fraction, warmup_steps, floor, steps
        As for :func:`lrsched.viz.beyond.beyond_schedule`.
    every : int
        Draw every ``every``-th step (and the last one) to keep the page small; the numbers use
        every step.

    Returns
    -------
    dict
        ``{"lr": {"step", "lr"}, "numbers": {"quantity", "value"}}``: :math:`\eta_t/\eta_{max}`
        at the drawn steps :math:`0, e, 2e, \dots` and :math:`T - 1`, and the rows
        :data:`lrsched.viz.beyond.NUMBER_ROWS` (see the module docstring).

    Examples
    --------
    >>> data = beyond_explorer_data("WSD", "linear", 0.5, 0, 0.0, steps=10)
    >>> [round(v, 3) for v in data["numbers"]["value"]]
    [0.8, 0.2, 0.2]
    """
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive int, got every={every!r}")
    sched = beyond_schedule(schedule, cooldown, cooldown_fraction, warmup_steps, floor,
                            steps=steps)
    t = np.arange(steps)
    lr = np.asarray(sched(t), dtype=np.float64)
    last = t >= math.ceil(0.9 * steps)
    drawn = np.unique(np.append(t[::every], steps - 1))
    return {
        "lr": {"step": drawn.tolist(), "lr": lr[drawn].tolist()},
        "numbers": {
            "quantity": list(NUMBER_ROWS),
            "value": [float(lr.mean()), float(lr[last].mean()), float(lr[-1])],
        },
    }
