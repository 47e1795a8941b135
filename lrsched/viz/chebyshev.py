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

__all__ = ["FACTOR_ROWS", "chebyshev_explorer_data", "chebyshev_worst_case_factor"]

#: The rows of the ``"factor"`` table, in order (short: the page shows them as a small table).
FACTOR_ROWS = (
    "worst case 1/T_T(x0)",
    "κ = M/m",
    "log10 max partial, fractal",
    "log10 max partial, sorted",
)

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
    T: int, m: float, M: float, *, n_lambda: int = 129, floor_decades: float = 6.0
) -> dict[str, dict[str, list]]:
    r"""The explorer's tables for ``T`` Chebyshev steps built for ``[m, M]``.

    Parameters
    ----------
    T : int
        Steps in the cycle (``num_epochs`` of :func:`lrsched.get_chebyshev_schedule`).
    m, M : float
        The assumed spectrum, ``0 < m < M``.
    n_lambda : int, keyword-only
        Grid points on ``[m, M]``, ends included (at least 2). They are
        Chebyshev points, :math:`\lambda_k = \frac{M + m}{2} - \frac{M - m}{2}
        \cos\frac{k\pi}{n - 1}`: evenly spaced in the angle of
        :math:`T_T(\cos\theta) = \cos T\theta`, so every lobe of
        :math:`p_T` gets the same number of points, and when ``n_lambda - 1``
        is a multiple of ``2 T`` (the default 129 for ``T`` up to 64) the
        grid holds every extremum and every root.
    floor_decades : float, keyword-only
        :math:`\log_{10}|p_T|` is drawn down to this many decades below the
        worst case; at the roots of :math:`p_T` it would go to :math:`-\infty`
        and squash the picture (default 6).

    Returns
    -------
    dict
        Three tables, each a dict of equal-length columns:

        ``"steps"``
            ``step`` (0 .. T-1) and ``eta``: the step sizes in fractal order,
            ``ChebyshevSteps(T, m=m, M=M)`` at ``0 .. T-1``.
        ``"polynomial"``
            ``lambda``, ``log10_abs_p`` and ``curve``. Rows with
            ``curve == "|p_T(λ)|"``: :math:`\log_{10}|p_T(\lambda)|` on the
            grid, the sum of :math:`\log_{10}|1 - \eta_t\lambda|` over those
            steps (no overflow), floored ``floor_decades`` below the worst
            case. Two rows with ``curve == "worst case 1/T_T(x0)"``: the level
            of the worst case at ``m`` and ``M``.
        ``"factor"``
            ``quantity`` (:data:`FACTOR_ROWS`) and ``value``: the worst-case
            factor :math:`1/T_T(x_0)`, the condition number ``M / m``, and the
            :math:`\log_{10}` of the largest partial product
            :math:`\max_{t, \lambda} |\prod_{s<t}(1 - \eta_s\lambda)|` on the
            grid (a logarithm: for a sorted order the product overflows a
            float for large ``T``), for the fractal order and for the same
            steps sorted from the largest down.

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
    >>> data["factor"]["quantity"][:2]
    ['worst case 1/T_T(x0)', 'κ = M/m']
    """
    schedule = ChebyshevSteps(T, m=m, M=M)  # raises lrsched's ValueError
    if isinstance(n_lambda, bool) or not isinstance(n_lambda, (int, np.integer)) or n_lambda < 2:
        raise ValueError(f"n_lambda must be an integer >= 2, got n_lambda={n_lambda!r}")
    if isinstance(floor_decades, bool) or not isinstance(floor_decades, (int, float)) or not floor_decades > 0:
        raise ValueError(f"floor_decades must be a positive number, got floor_decades={floor_decades!r}")
    t = np.arange(schedule.T)
    eta = np.asarray(schedule(t), dtype=np.float64)
    angle = np.linspace(0.0, np.pi, int(n_lambda))
    centre, radius = (schedule.M + schedule.m) / 2, (schedule.M - schedule.m) / 2
    lam = centre - radius * np.cos(angle)
    lam[[0, -1]] = schedule.m, schedule.M  # exact ends, whatever the rounding
    factor = chebyshev_worst_case_factor(schedule.T, schedule.m, schedule.M)
    floor = np.log10(factor) - float(floor_decades)
    # Sums of logs: a product of hundreds of factors, some huge, would overflow.
    with np.errstate(divide="ignore"):
        log_factors = np.log10(np.abs(1.0 - np.outer(eta, lam)))  # -inf at a root
    log_p = np.maximum(log_factors.sum(axis=0), floor)
    partial = {
        order: float(np.cumsum(log_factors[idx], axis=0).max())
        for order, idx in (("fractal", t), ("sorted", np.argsort(-eta, kind="stable")))
    }
    curve = ["|p_T(λ)|"] * len(lam) + ["worst case 1/T_T(x0)"] * 2
    return {
        "steps": {"step": t.tolist(), "eta": eta.tolist()},
        "polynomial": {
            "lambda": lam.tolist() + [schedule.m, schedule.M],
            "log10_abs_p": log_p.tolist() + [float(np.log10(factor))] * 2,
            "curve": curve,
        },
        "factor": {
            "quantity": list(FACTOR_ROWS),
            "value": [factor, schedule.M / schedule.m, partial["fractal"], partial["sorted"]],
        },
    }
