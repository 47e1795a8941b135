"""Statistics the lab reports: 95% intervals over seeds and paired differences.

A single run says little, and a mean without its uncertainty says little more.
Every number a chapter quotes about an effect is therefore a mean over seeds
with a Student t confidence interval, and every comparison against a baseline
is the *paired* per-seed difference (same seed = same split, initial weights
and batch order), whose interval is usually much narrower than the two
separate intervals suggest. A chapter asserts the direction of an effect only
when that interval excludes zero.

The seed offset lives here too: :func:`seed_offset` reads the environment
variable ``LRSCHED_SEED_OFFSET`` so the whole book can be re-run on fresh seeds
(``make seed-check OFFSET=1000``) to check that no claim hangs on the seeds
written in the chapter.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np

__all__ = ["Interval", "SEED_OFFSET_VARIABLE", "mean_ci", "paired_difference", "seed_offset"]

#: Environment variable holding the integer added to every seed the lab uses.
SEED_OFFSET_VARIABLE = "LRSCHED_SEED_OFFSET"


def seed_offset() -> int:
    """The integer added to every seed the lab uses (split, init, batches, noise).

    Read from the environment variable ``LRSCHED_SEED_OFFSET`` on every call
    (so setting it in a running kernel takes effect for the next run).
    Unset or empty means ``0``.

    Returns
    -------
    int
        The offset; may be negative, but ``seed + seed_offset()`` must stay
        non-negative for the generators that use it.

    Raises
    ------
    ValueError
        If the variable is set to anything but an integer (e.g. ``"1e3"`` or
        ``"abc"``); the message names the variable and the value.

    Examples
    --------
    >>> import os
    >>> os.environ["LRSCHED_SEED_OFFSET"] = "1000"
    >>> seed_offset()
    1000
    >>> del os.environ["LRSCHED_SEED_OFFSET"]
    >>> seed_offset()
    0
    """
    raw = os.environ.get(SEED_OFFSET_VARIABLE, "").strip()
    if not raw:
        return 0
    try:
        return int(raw, 10)
    except ValueError:
        raise ValueError(
            f"environment variable {SEED_OFFSET_VARIABLE} must be an integer, got {raw!r}"
        ) from None


def _t_quantile(level: float, dof: int) -> float:
    """Two-sided Student t critical value: ``t_{(1+level)/2, dof}``."""
    # scipy is a dependency of scikit-learn, which the lab already needs.
    from scipy.stats import t as student_t

    return float(student_t.ppf(0.5 + level / 2.0, dof))


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided Student t confidence interval.

    Attributes
    ----------
    mean : float
        Sample mean of the values.
    low, high : float
        Ends of the interval ``mean ± t_{(1+level)/2, n-1} · s / sqrt(n)``,
        with ``s`` the sample standard deviation (``ddof=1``). With a single
        value there is no spread to estimate: ``low = -inf`` and
        ``high = +inf`` (the interval says "unknown", not "exact").
    n : int
        Number of values.
    level : float
        Confidence level, e.g. ``0.95``.

    Examples
    --------
    >>> ci = mean_ci([0.96, 0.97, 0.98])
    >>> str(ci)
    '0.970 [0.945, 0.995]'
    >>> ci.excludes_zero()
    True
    """

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        """Half the interval's width (``inf`` when ``n == 1``)."""
        return (self.high - self.low) / 2.0

    @property
    def width(self) -> float:
        """The interval's full width, ``high - low``."""
        return self.high - self.low

    def excludes_zero(self) -> bool:
        """Whether zero lies strictly outside ``[low, high]``.

        Only then may a chapter assert the sign of the effect. Always
        ``False`` for ``n == 1`` (infinite interval).
        """
        return bool(self.low > 0.0 or self.high < 0.0)

    def contains(self, value: float) -> bool:
        """Whether ``low <= value <= high``."""
        return bool(self.low <= value <= self.high)

    def format(self, precision: int = 3) -> str:
        """``"mean [low, high]"`` with ``precision`` decimals.

        A single value prints as ``"0.970 [n=1, no interval]"``.
        """
        if self.n < 2:
            return f"{self.mean:.{precision}f} [n=1, no interval]"
        return f"{self.mean:.{precision}f} [{self.low:.{precision}f}, {self.high:.{precision}f}]"

    def __str__(self) -> str:
        return self.format()


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return float(level)


def _as_values(name: str, values: Iterable[float]) -> np.ndarray:
    """Finite 1-D float64 array from ``values``; refuses NaN/inf and empties."""
    try:
        if not hasattr(values, "__len__"):  # a generator
            values = list(values)
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must contain at least one value, got an empty sequence")
    bad = ~np.isfinite(array)
    if bad.any():
        # A NaN mean would silently poison every comparison downstream; the
        # caller decides what a failed run means (compare() excludes them).
        where = np.flatnonzero(bad).tolist()
        raise ValueError(
            f"{name} must be finite, got {array[bad].tolist()} at positions {where}; "
            "exclude failed runs before computing an interval"
        )
    return array


def _interval(values: np.ndarray, level: float) -> Interval:
    n = int(values.size)
    mean = float(values.mean())
    if n == 1:
        return Interval(mean=mean, low=-math.inf, high=math.inf, n=1, level=level)
    sem = float(values.std(ddof=1)) / math.sqrt(n)
    half = _t_quantile(level, n - 1) * sem
    return Interval(mean=mean, low=mean - half, high=mean + half, n=n, level=level)


def mean_ci(values: Iterable[float], level: float = 0.95) -> Interval:
    """Mean of ``values`` with its Student t confidence interval.

    .. math::

        \\bar x \\pm t_{(1+\\text{level})/2,\\; n-1} \\, \\frac{s}{\\sqrt n},
        \\qquad s^2 = \\frac{1}{n-1} \\sum_i (x_i - \\bar x)^2

    Parameters
    ----------
    values : sequence of float
        One value per seed, all finite.
    level : float
        Confidence level in ``(0, 1)``; ``0.95`` by default.

    Returns
    -------
    Interval
        With ``n == 1`` the interval is ``(-inf, inf)``: one seed cannot
        estimate its own spread.

    Raises
    ------
    ValueError
        If ``values`` is empty, not one-dimensional, or holds NaN or inf
        (exclude failed runs first), or ``level`` is not in ``(0, 1)``.

    References
    ----------
    Student (1908), "The probable error of a mean", Biometrika 6(1).

    Examples
    --------
    >>> mean_ci([1.0, 2.0, 3.0]).format(2)  # 2 ± 4.303 · 1/sqrt(3)
    '2.00 [-0.48, 4.48]'
    """
    level = _check_level(level)
    return _interval(_as_values("values", values), level)


def paired_difference(a: Iterable[float], b: Iterable[float], level: float = 0.95) -> Interval:
    """Mean per-seed difference ``a[i] - b[i]`` with its Student t interval.

    Pairing removes what the two runs of a seed share (split, initial weights,
    batch order), so the interval is that of :func:`mean_ci` applied to the
    differences: the paired t-test's confidence interval.

    Parameters
    ----------
    a, b : sequence of float
        Same length, same seed order, all finite.
    level : float
        Confidence level in ``(0, 1)``.

    Returns
    -------
    Interval
        Of the differences; ``.excludes_zero()`` says whether the sign of the
        effect is supported at this level.

    Raises
    ------
    ValueError
        If the lengths differ, either is empty, or a value is NaN or inf.

    Examples
    --------
    >>> d = paired_difference([0.97, 0.96, 0.98], [0.95, 0.95, 0.96])
    >>> round(d.mean, 4), d.excludes_zero()
    (0.0167, True)
    """
    level = _check_level(level)
    first = _as_values("a", a)
    second = _as_values("b", b)
    if first.size != second.size:
        raise ValueError(
            f"a and b must pair up one value per seed, got {first.size} and {second.size} values"
        )
    return _interval(first - second, level)
