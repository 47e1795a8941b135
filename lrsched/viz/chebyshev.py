r"""What chapter 5's explorer draws: Chebyshev steps and their error polynomial.

For a cycle of ``T`` Chebyshev steps built for a spectrum in ``[m, M]``,
gradient descent on a quadratic multiplies the error component along an
eigenvalue :math:`\lambda` by

.. math:: p_T(\lambda) = \prod_{t=0}^{T-1} (1 - \eta_t \lambda),
          \qquad \max_{\lambda \in [m, M]} |p_T(\lambda)|
          = \frac{1}{T_T\big(\frac{M + m}{M - m}\big)} .

:func:`chebyshev_explorer_data` returns, for one setting of the controls,
the tables the explorer draws: the steps in the order they are taken (from
:class:`lrsched.ChebyshevSteps`, the schedule's one closed form),
:math:`\log_{10} |p_T|` on a grid of ``[m, M]`` (the product of those very
steps), and the worst-case factor as a number. A setting the schedule rejects
(``m >= M``, ``T < 1``) raises lrsched's own ``ValueError``, which the explorer
shows in place of the chart.

Reference: Agarwal, Goel & Zhang, *Acceleration via Fractal Learning Rate
Schedules*, ICML 2021.
"""

from __future__ import annotations

import numpy as np

from ..chebyshev import ChebyshevSteps

__all__ = ["chebyshev_explorer_data", "chebyshev_worst_case_factor"]

#: Floor for :math:`|p_T|` before the logarithm: exact roots would give -inf.
_TINY = 1e-300


def chebyshev_worst_case_factor(T: int, m: float, M: float) -> float:
    r"""The worst-case error factor of ``T`` Chebyshev steps on ``[m, M]``.

    .. math:: \frac{1}{T_T(x_0)} = \frac{2}{\rho^T + \rho^{-T}}, \qquad
              x_0 = \frac{M + m}{M - m}, \quad \ln\rho = \operatorname{arccosh} x_0,

    written as :math:`2 e^{-Ta} / (1 + e^{-2Ta})` with
    :math:`a = \operatorname{arccosh} x_0` so that it never overflows.

    Parameters
    ----------
    T : int
        Number of steps (at least 1).
    m, M : float
        The spectrum, ``0 < m < M``.

    Returns
    -------
    float
        The factor, in ``(0, 1)``.

    Raises
    ------
    ValueError
        From :class:`lrsched.ChebyshevSteps` when ``T``, ``m`` or ``M`` is
        invalid (for example ``m >= M``).

    Examples
    --------
    >>> round(chebyshev_worst_case_factor(16, 0.05, 1.0), 6)
    0.001381
    """
    schedule = ChebyshevSteps(T, m=m, M=M)  # lrsched validates the inputs
    a = float(np.arccosh((schedule.M + schedule.m) / (schedule.M - schedule.m)))
    return float(2.0 * np.exp(-schedule.T * a) / (1.0 + np.exp(-2.0 * schedule.T * a)))


def chebyshev_explorer_data(
    T: int, m: float, M: float, *, n_lambda: int = 121
) -> dict[str, dict[str, list]]:
    r"""The explorer's tables for ``T`` Chebyshev steps built for ``[m, M]``.

    Parameters
    ----------
    T : int
        Steps in the cycle (``num_epochs`` of :func:`lrsched.get_chebyshev_schedule`).
    m, M : float
        The assumed spectrum, ``0 < m < M``.
    n_lambda : int, keyword-only
        Grid points on ``[m, M]``, ends included (at least 2).

    Returns
    -------
    dict
        Three tables, each a dict of equal-length columns:

        ``"steps"``
            ``step`` (0 .. T-1) and ``eta``: the step sizes in fractal order,
            ``ChebyshevSteps(T, m=m, M=M)`` at ``0 .. T-1``.
        ``"polynomial"``
            ``lambda`` (the grid) and ``log10_abs_p``:
            :math:`\log_{10}|p_T(\lambda)|`, the product of those steps'
            factors ``1 - eta * lambda`` (floored at ``1e-300``).
        ``"factor"``
            ``quantity`` and ``value``: the worst-case factor
            :math:`1/T_T(x_0)` and the condition number ``M / m``.

    Raises
    ------
    ValueError
        lrsched's own message for a rejected setting, e.g.
        ``m must be smaller than M, got m=1.0 and M=0.5``.

    Examples
    --------
    >>> data = chebyshev_explorer_data(4, 0.5, 1.5, n_lambda=3)
    >>> [round(eta, 4) for eta in data["steps"]["eta"]]
    [1.8585, 0.684, 1.2366, 0.8394]
    >>> data["factor"]["quantity"]
    ['worst-case factor 1/T_T(x0)', 'condition number M/m']
    """
    schedule = ChebyshevSteps(T, m=m, M=M)  # raises lrsched's ValueError
    if isinstance(n_lambda, bool) or not isinstance(n_lambda, (int, np.integer)) or n_lambda < 2:
        raise ValueError(f"n_lambda must be an integer >= 2, got {n_lambda!r}")
    t = np.arange(schedule.T)
    eta = np.asarray(schedule(t), dtype=np.float64)
    lam = np.linspace(schedule.m, schedule.M, int(n_lambda))
    # Sum of logs: a product of hundreds of factors, some huge, would overflow.
    with np.errstate(divide="ignore"):
        log_abs = np.log10(np.maximum(np.abs(1.0 - np.outer(eta, lam)), _TINY)).sum(axis=0)
    log_abs = np.maximum(log_abs, np.log10(_TINY))
    factor = chebyshev_worst_case_factor(schedule.T, schedule.m, schedule.M)
    return {
        "steps": {"step": t.tolist(), "eta": eta.tolist()},
        "polynomial": {"lambda": lam.tolist(), "log10_abs_p": log_abs.tolist()},
        "factor": {
            "quantity": ["worst-case factor 1/T_T(x0)", "condition number M/m"],
            "value": [factor, schedule.M / schedule.m],
        },
    }
