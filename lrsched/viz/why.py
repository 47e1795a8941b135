r"""What chapter 1's explorer draws: the noise floor of SGD on a 1-D quadratic.

SGD on :math:`f(x) = \tfrac{a}{2} x^2` with gradient noise of variance
:math:`\sigma^2` has an exact second moment :math:`m_t = \mathbb{E}[x_t^2]`:

.. math:: m_{t+1} = (1 - \eta_t a)^2\, m_t + \eta_t^2 \sigma^2, \qquad
          m_0 = x_0^2 ,

so the expected loss is :math:`\tfrac{a}{2} m_t`. A constant rate
:math:`\eta` stalls at the floor
:math:`\tfrac{a}{2} m_\star = \eta \sigma^2 / (2 (2 - \eta a))`.
:func:`noise_floor_explorer_data` feeds two schedules to the recursion, a
constant rate at the peak and lrsched's linear warmup + decay
(:func:`lrsched.warmup_linear`) from the same peak down to ``final_lr``,
and returns the tables the explorer draws: both learning rates, both
expected losses, and their values at the end of the budget next to the
floors of the peak and of the final rate. Every learning rate comes from
lrsched's closed forms; a setting the schedule rejects (``final_lr`` above
``peak_lr``) raises lrsched's own ``ValueError``, which the explorer shows
in place of the chart.

This is plain SGD. With heavy-ball momentum :math:`\beta` the step along a
slowly varying direction is about :math:`\eta / (1 - \beta)`, so the floor of
a network trained with momentum 0.9 belongs to ten times the scheduled rate.

Reference: Bottou, Curtis & Nocedal, *Optimization Methods for Large-Scale
Machine Learning*, SIAM Review 60(2), 2018 (constant step sizes converge to a
neighbourhood whose size is proportional to the step).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..core import Constant
from ..warmup_decay import warmup_linear

__all__ = [
    "FINAL_ROWS",
    "expected_loss",
    "loss_floor",
    "noise_floor_explorer_data",
]

#: Rows of the ``"final"`` table, in order.
FINAL_ROWS = (
    "constant: E f(x_T)",
    "warmup + linear: E f(x_T)",
    "floor of η_max",
    "floor of final lr",
)


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {name}={value!r}")
    return float(value)


def expected_loss(
    lrs: np.ndarray, a: float = 0.1, sigma: float = 1.0, x0: float = 10.0
) -> np.ndarray:
    r"""Expected loss :math:`\tfrac{a}{2}\mathbb{E}[x_t^2]` of SGD, ``t = 0..len(lrs)``.

    Iterates :math:`m_{t+1} = (1 - \eta_t a)^2 m_t + \eta_t^2 \sigma^2` from
    :math:`m_0 = x_0^2`, the exact second moment of SGD on
    :math:`f(x) = \tfrac{a}{2}x^2` with independent gradient noise of
    variance :math:`\sigma^2`.

    Parameters
    ----------
    lrs : array_like
        The learning rate of each step, 1-d, finite and non-negative.
    a, sigma, x0 : float
        Curvature (> 0), noise standard deviation (> 0), start.

    Returns
    -------
    numpy.ndarray
        ``len(lrs) + 1`` expected losses, the first at the start.

    Examples
    --------
    >>> expected_loss([0.0, 0.0], a=0.1, x0=10.0).tolist()
    [5.0, 5.0, 5.0]
    """
    a = _positive("a", a)
    sigma = _positive("sigma", sigma)
    if isinstance(x0, bool) or not isinstance(x0, numbers.Real) or not math.isfinite(x0):
        raise ValueError(f"x0 must be a finite real number, got x0={x0!r}")
    lrs = np.asarray(lrs, dtype=np.float64)
    if lrs.ndim != 1:
        raise ValueError(f"lrs must be 1-d, got shape {lrs.shape}")
    if not (np.isfinite(lrs).all() and (lrs >= 0).all()):
        raise ValueError("lrs must be finite and non-negative")
    m = np.empty(len(lrs) + 1)
    m[0] = float(x0) ** 2
    for t, eta in enumerate(lrs):
        m[t + 1] = (1.0 - eta * a) ** 2 * m[t] + (eta * sigma) ** 2
    return a / 2.0 * m


def loss_floor(eta: float, a: float = 0.1, sigma: float = 1.0) -> float:
    r"""Stationary expected loss of a constant rate, :math:`\eta\sigma^2 / (2(2 - \eta a))`.

    Parameters
    ----------
    eta : float
        The constant learning rate, ``0 <= eta * a < 2`` (beyond it SGD
        diverges and there is no floor).
    a, sigma : float
        Curvature and noise standard deviation, both > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> round(loss_floor(0.5), 12)  # 0.5 / (2 * 1.95), to the last digit or so
    0.128205128205
    """
    a = _positive("a", a)
    sigma = _positive("sigma", sigma)
    if not (0 <= eta * a < 2):
        raise ValueError(f"eta * a must lie in [0, 2) for a floor to exist, got eta={eta!r}, a={a!r}")
    return eta * sigma**2 / (2.0 * (2.0 - eta * a))


def noise_floor_explorer_data(
    peak_lr: float = 0.5,
    final_lr: float = 0.0,
    warmup_steps: int = 30,
    *,
    steps: int = 300,
    a: float = 0.1,
    sigma: float = 1.0,
    x0: float = 10.0,
    every: int = 10,
) -> dict[str, dict[str, list]]:
    r"""The explorer's tables for one setting: constant rate against warmup + linear decay.

    Parameters
    ----------
    peak_lr : float
        :math:`\eta_{\max}`: the constant rate, and the peak of the decay.
    final_lr : float
        Where the linear decay ends (its ``min_lr``), ``0 <= final_lr <= peak_lr``.
    warmup_steps : int
        Linear warmup from 0 before the decay.
    steps : int
        The budget :math:`T` (the decay reaches ``final_lr`` at step ``T``).
    a, sigma, x0 : float
        The quadratic: curvature, gradient noise, start.
    every : int
        Keep every ``every``-th step in the curves (and the last), to keep
        the page small; the recursion itself runs over every step.

    Returns
    -------
    dict
        ``"lr"``: columns ``step``, ``lr``, ``schedule``;
        ``"loss"``: columns ``step``, ``expected_loss``, ``schedule``;
        ``"final"``: columns ``quantity`` (:data:`FINAL_ROWS`) and ``value``.

    Raises
    ------
    ValueError
        From lrsched when ``final_lr > peak_lr`` or an argument is out of
        range, or when ``peak_lr * a >= 2`` (SGD on the quadratic diverges).

    Examples
    --------
    >>> data = noise_floor_explorer_data(0.5, 0.0, 30)
    >>> data["final"]["quantity"][0], round(data["final"]["value"][0], 4)
    ('constant: E f(x_T)', 0.1282)
    """
    if not (peak_lr * a < 2):
        raise ValueError(
            f"peak_lr * a must be below 2 (else SGD on the quadratic diverges), got peak_lr={peak_lr!r}, a={a!r}"
        )
    schedules = {
        "constant": Constant(peak_lr),
        "warmup + linear": warmup_linear(t_max=steps, max_lr=peak_lr, min_lr=final_lr, warmup_steps=warmup_steps),
    }
    t = np.arange(steps + 1)
    kept = np.unique(np.append(t[::every], steps))
    tables: dict[str, dict[str, list]] = {
        "lr": {"step": [], "lr": [], "schedule": []},
        "loss": {"step": [], "expected_loss": [], "schedule": []},
    }
    final = []
    for name, schedule in schedules.items():
        lrs = np.asarray(schedule(t), dtype=np.float64)
        loss = expected_loss(lrs[:-1], a=a, sigma=sigma, x0=x0)  # step t uses lrs[t]
        tables["lr"]["step"] += kept.tolist()
        tables["lr"]["lr"] += lrs[kept].tolist()
        tables["lr"]["schedule"] += [name] * len(kept)
        tables["loss"]["step"] += kept.tolist()
        tables["loss"]["expected_loss"] += loss[kept].tolist()
        tables["loss"]["schedule"] += [name] * len(kept)
        final.append(float(loss[-1]))
    final += [loss_floor(peak_lr, a, sigma), loss_floor(final_lr, a, sigma)]
    tables["final"] = {"quantity": list(FINAL_ROWS), "value": final}
    return tables
