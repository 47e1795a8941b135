"""Argument checks shared by every schedule: one clear error per bad value.

Each check returns the value converted to a plain Python ``int``/``float`` so that
schedules never carry numpy scalars or tensors in their state.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def integer(name: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as an int; ``TypeError`` for non-integers, ``ValueError`` below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
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
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
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
