"""Argument checks shared by every schedule: one clear error per bad value.

Each check returns the value converted to a plain Python ``int``/``float`` so that
schedules never carry numpy scalars or tensors in their state. Integers are limited to
:data:`MAX_INTEGER` (``2**53``: float64 counts steps exactly only up to there, and every step
count is used in float arithmetic) and reals to what a float holds, so a value too large fails
here, naming the argument, instead of as an ``OverflowError`` (or a wrong value) later.

The names ``integer``, ``real``, ``learning_rate``, ``not_above`` and ``below`` are stable: every
public constructor validates its arguments with them.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

#: The largest integer argument accepted (2**53, the last integer float64 holds exactly with
#: all integers below it).
MAX_INTEGER = 2**53


def _shown(value: Any) -> str:
    """``repr(value)``, shortened for integers of hundreds of digits."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:12]}... ({len(text)} characters)"


def integer(name: str, value: Any, *, minimum: int | None = None, maximum: int = MAX_INTEGER) -> int:
    """``value`` as an int; ``TypeError`` for non-integers, ``ValueError`` outside ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_shown(value)} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {_shown(value)}")
    if value > maximum:
        limit = "2**53" if maximum == MAX_INTEGER else str(maximum)
        raise ValueError(f"{name} must be <= {limit} = {maximum}, got {_shown(value)}")
    return value


def real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float inside the given (half-)open or closed interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_shown(value)} ({type(value).__name__})")
    original = value
    try:
        value = float(value)
    except (OverflowError, ValueError):  # e.g. 10**400 or Fraction(10**400): beyond any float
        raise ValueError(f"{name} must be finite (within float range), got {_shown(original)}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        # repr, not :g, so that e.g. gamma=1.0000001 is not reported as "got 1"
        raise ValueError(f"{name} must lie in {left}{lo}, {hi}{right}, got {value!r}")
    return value


def learning_rate(name: str, value: Any) -> float:
    """A finite, non-negative learning rate (or any non-negative scheduled value)."""
    return real(name, value, low=0.0)


def not_above(small_name: str, small: float, big_name: str, big: float) -> None:
    """Require ``small <= big`` and say which relation is required, with both values."""
    if small > big:
        raise ValueError(
            f"{small_name} must be <= {big_name}, got {small_name}={small!r} > {big_name}={big!r}"
        )


def below(small_name: str, small: int, big_name: str, big: int) -> None:
    """Require ``small < big`` (for step counts)."""
    if small >= big:
        raise ValueError(
            f"{small_name} must be smaller than {big_name}, got {small_name}={small} and {big_name}={big}"
        )
