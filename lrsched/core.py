r"""The closed-form core: a schedule is a pure function of the step.

Every schedule in lrsched is a small frozen dataclass with one method,
:meth:`Schedule.formula`, written once against a tiny math namespace ``xp``.
The same line of math then serves two callers:

* a Python number (the torch schedulers' ``step()``), evaluated with plain floats
  and returned as a Python ``float``;
* a numpy array or torch tensor of steps (plots, ``lr_at``, tests), evaluated
  vectorized and returned as a float64 array (or tensor).

Each transcendental function is computed by the same routine in both cases (numpy's
``cos``; the C library's ``pow``, which ``math.pow`` and ``np.float_power`` both call), and
``xp.lerp`` maps a weight in ``[0, 1]`` onto ``[a, b]`` exactly at both ends, so a scheduler
stepped one step at a time and ``lr_at`` over all steps agree bit for bit, and every schedule
starts, peaks and ends exactly on its configured values.
"""

from __future__ import annotations

import bisect
import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np
import torch

from . import _checks

Steps = Union[int, float, Sequence[int], np.ndarray, torch.Tensor]


class _ScalarMath:
    """Math on one Python float (the fast path taken by ``scheduler.step()``)."""

    pi = math.pi
    cos = staticmethod(np.cos)  # numpy, not math: identical bits to the array path
    sqrt = staticmethod(math.sqrt)  # IEEE sqrt is correctly rounded everywhere

    @staticmethod
    def power(x: float, k: float) -> float:
        """``x**k``: the C library's ``pow``, as ``np.float_power`` calls it elementwise (same bits).

        (``np.power`` may use a vectorised ``pow`` that differs from the C library's in the last bit.)
        The exponents 2, 1 and 1/2 are exact arithmetic in both paths.
        """
        if k == 2.0:
            return x * x
        if k == 1.0:
            return x
        if k == 0.5 and x >= 0.0:
            return math.sqrt(x)
        try:
            return math.pow(x, k)
        except (ValueError, OverflowError):  # numpy's NaN / inf instead of Python's exceptions
            with np.errstate(all="ignore"):
                return float(np.float_power(x, k))

    @staticmethod
    def clip(x: float, low: float, high: float) -> float:
        return low if x < low else high if x > high else x

    @staticmethod
    def where(condition: bool, if_true: Any, if_false: Any) -> Any:
        return if_true if condition else if_false

    @staticmethod
    def maximum(a: float, b: float) -> float:
        return a if a >= b else b

    @staticmethod
    def minimum(a: float, b: float) -> float:
        return a if a <= b else b

    @staticmethod
    def lerp(a: float, b: float, w: float) -> float:
        """``a + (b - a) w`` for ``w`` in ``[0, 1]``: exactly ``a`` at 0, exactly ``b`` at 1, never past ``b``."""
        if w >= 1.0:
            return b
        value = a + (b - a) * w
        if a <= b:
            return value if value < b else b
        return value if value > b else b


class _ArrayMath:
    """The same operations on float64 arrays."""

    pi = math.pi
    cos = staticmethod(np.cos)
    sqrt = staticmethod(np.sqrt)
    clip = staticmethod(np.clip)
    where = staticmethod(np.where)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)

    @staticmethod
    def power(x: Any, k: Any) -> Any:
        """Elementwise :meth:`_ScalarMath.power` (a scalar ``k`` takes the same exact shortcuts)."""
        if np.ndim(k) == 0:
            if k == 2.0:
                return x * x
            if k == 1.0:
                return np.array(x, dtype=np.float64)
            if k == 0.5:
                return np.sqrt(x)  # NaN below 0, as the scalar path gives
        return np.float_power(x, k)

    @staticmethod
    def lerp(a: Any, b: Any, w: np.ndarray) -> np.ndarray:
        """Elementwise :meth:`_ScalarMath.lerp`.

        ``a`` and ``b`` are scalars or arrays with ``a <= b`` everywhere (or ``a >= b`` everywhere).
        """
        value = a + (b - a) * w
        if np.ndim(a) == 0:
            rising = a <= (b if np.ndim(b) == 0 else np.min(b))
        else:
            rising = bool(np.all(np.less_equal(a, b)))
        value = np.minimum(value, b) if rising else np.maximum(value, b)
        return np.where(w >= 1.0, b, value)


SCALAR = _ScalarMath
ARRAY = _ArrayMath

# Steps per chunk when a long array is evaluated: 256 KiB per float64 temporary, so the few
# temporaries of a formula stay in a typical L2 cache and malloc reuses them (measured best here).
_CHUNK = 32768

#: The largest step a schedule evaluates. float64 holds every integer up to 2**53 exactly and
#: skips some above it, so a later step would silently be evaluated at a neighbouring one.
MAX_STEP = 2**53


def _too_large(step: Any) -> ValueError:
    shown = str(step) if len(str(step)) <= 40 else f"an integer of {len(str(step))} digits"
    return ValueError(
        f"step must be <= 2**53 = {MAX_STEP} (float64 represents every integer step only up to "
        f"there), got {shown}"
    )


def _scalar_step(step: numbers.Real) -> float:
    if isinstance(step, bool):
        raise TypeError(f"step must be a number, got {step!r}")
    if isinstance(step, numbers.Integral):
        step = int(step)  # exact comparisons for ints of any size (float() overflows at 10**309)
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if step > MAX_STEP:
            raise _too_large(step)
        return float(step)
    try:
        value = float(step)
    except OverflowError:
        raise ValueError(f"step must be finite, got {step!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"step must be finite, got {value}")
    if value < 0:
        raise ValueError(f"step must be >= 0, got {value:g}")
    if value > MAX_STEP:
        raise _too_large(value)
    return value


def _array_steps(steps: Any) -> np.ndarray:
    """The steps as a numpy array of integers or reals (not converted), checked finite, >= 0, <= 2**53."""
    array = np.asarray(steps)
    if array.dtype == object:  # Python ints beyond 64 bits (or non-numbers)
        items = array.reshape(-1).tolist()
        for item in items:
            if isinstance(item, bool) or not isinstance(item, numbers.Real):
                raise TypeError(f"steps must be integers or reals, got {item!r} ({type(item).__name__})")
            _scalar_step(item)  # raises the scalar path's error for this step
        array = np.asarray([float(item) for item in items], dtype=np.float64).reshape(array.shape)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"steps must be integers or reals, got an array of dtype {array.dtype}")
    if array.size:
        low, high = array.min(), array.max()
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError("steps must be finite")
        if low < 0:
            raise ValueError(f"steps must be >= 0, got a minimum of {low:g}")
        if high > MAX_STEP:  # exact for every integer dtype (numpy compares int64/uint64 with a Python int exactly)
            raise _too_large(int(high) if array.dtype.kind in "iu" else float(high))
    return array


class Schedule(ABC):
    """A learning rate as a pure, vectorized function of the step ``t = 0, 1, 2, ...``.

    Call it with a Python number (returns a ``float``), a sequence or numpy array
    (returns a float64 ``ndarray`` of the same shape) or a torch tensor (returns a
    float64 tensor). Steps must be finite, non-negative and at most ``2**53`` (:data:`MAX_STEP`,
    the last step float64 counts exactly; a larger step raises ``ValueError`` in every path
    rather than silently evaluating a neighbouring step).
    """

    @abstractmethod
    def formula(self, t: Any, xp: Any) -> Any:
        """The closed form at step(s) ``t``, using only the operations of ``xp``."""

    def __call__(self, steps: Steps) -> Any:
        if type(steps) is int:  # the fast path of every scheduler.step()
            if not 0 <= steps <= MAX_STEP:
                _scalar_step(steps)  # raises the error for this step
            return float(self.formula(float(steps), SCALAR))
        if isinstance(steps, torch.Tensor):
            return torch.from_numpy(self._on_array(steps.detach().cpu().numpy()))
        if isinstance(steps, numbers.Real):
            return float(self.formula(_scalar_step(steps), SCALAR))
        return self._on_array(steps)

    def _on_array(self, steps: Any) -> np.ndarray:
        t = _array_steps(steps)
        if t.size <= _CHUNK:
            return self._evaluate(np.asarray(t, dtype=np.float64))
        # Long arrays go through in cache-sized chunks: every formula is elementwise, so the
        # values are the same, and the temporaries stay small (no page faults on each one).
        flat = t.reshape(-1)
        out = np.empty(flat.shape, dtype=np.float64)
        for begin in range(0, flat.size, _CHUNK):
            chunk = np.asarray(flat[begin : begin + _CHUNK], dtype=np.float64)
            out[begin : begin + _CHUNK] = self._evaluate(chunk)
        return out.reshape(t.shape)

    def _evaluate(self, t: np.ndarray) -> np.ndarray:
        values = np.asarray(self.formula(t, ARRAY), dtype=np.float64)
        if values.shape != t.shape:  # e.g. a constant: broadcast to the steps' shape
            return np.array(np.broadcast_to(values, t.shape), dtype=np.float64)
        if values is t or values.base is not None or not values.flags.writeable:
            return values.copy()  # never hand out the caller's array or a view of a cached table
        return values


@dataclass(frozen=True)
class Constant(Schedule):
    r"""The same value at every step: :math:`\eta(t) = \eta`.

    >>> Constant(0.1)([0, 10, 1000])
    array([0.1, 0.1, 0.1])
    """

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _checks.learning_rate("value", self.value))

    def formula(self, t: Any, xp: Any) -> Any:
        return self.value + 0.0 * t


@dataclass(frozen=True)
class LinearRamp(Schedule):
    r"""A straight line from ``start`` to ``end`` over ``steps`` steps, then held at ``end``.

    .. math:: \eta(t) = s + (e - s)\,\min(t / n, 1)

    Used for linear warmup (Goyal et al. 2017): :func:`with_warmup` puts one in front of any decay.

    >>> LinearRamp(start=0.0, end=1.0, steps=4)([0, 1, 2, 4, 9])
    array([0.  , 0.25, 0.5 , 1.  , 1.  ])
    """

    start: float
    end: float
    steps: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _checks.learning_rate("start", self.start))
        object.__setattr__(self, "end", _checks.learning_rate("end", self.end))
        object.__setattr__(self, "steps", _checks.integer("steps", self.steps, minimum=1))

    def formula(self, t: Any, xp: Any) -> Any:
        return xp.lerp(self.start, self.end, xp.clip(t / self.steps, 0.0, 1.0))


@dataclass(frozen=True)
class Joined(Schedule):
    """Schedules glued at step boundaries; see :func:`join_schedules`."""

    schedules: tuple[Schedule, ...]
    boundaries: tuple[int, ...]

    def __post_init__(self) -> None:
        schedules = tuple(self.schedules)
        boundaries = tuple(_checks.integer("boundaries", b, minimum=1) for b in self.boundaries)
        if not schedules or not all(isinstance(s, Schedule) for s in schedules):
            raise TypeError(f"schedules must be a non-empty sequence of Schedule, got {schedules!r}")
        if len(boundaries) != len(schedules) - 1:
            raise ValueError(
                f"boundaries must have len(schedules) - 1 = {len(schedules) - 1} entries, got {len(boundaries)}"
            )
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(f"boundaries must be strictly increasing, got {boundaries}")
        object.__setattr__(self, "schedules", schedules)
        object.__setattr__(self, "boundaries", boundaries)

    def formula(self, t: Any, xp: Any) -> Any:
        if xp is SCALAR:
            piece = bisect.bisect_right(self.boundaries, t)
            if piece == 0:
                return self.schedules[0].formula(t, xp)
            return self.schedules[piece].formula(t - self.boundaries[piece - 1], xp)
        # Each piece is evaluated only on its own steps (its clock restarted at its boundary).
        starts = (0,) + self.boundaries
        if t.size:
            first = bisect.bisect_right(self.boundaries, t.min())
            if first == bisect.bisect_right(self.boundaries, t.max()):  # all in one piece
                return self.schedules[first].formula(t - starts[first], xp)
        piece = np.searchsorted(np.asarray(self.boundaries, dtype=np.float64), t, side="right")
        out = np.empty_like(t)
        for k, (start, schedule) in enumerate(zip(starts, self.schedules)):
            mask = piece == k
            if mask.any():
                out[mask] = schedule.formula(t[mask] - start, xp)
        return out


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules[0]`` until ``boundaries[0]``, then ``schedules[1]``, and so on.

    Each schedule restarts its own clock at its boundary: after boundary ``b`` the
    next schedule is evaluated at ``t - b`` (the convention of optax's ``join_schedules``).

    >>> warm_then_flat = join_schedules([LinearRamp(0.0, 1.0, 2), Constant(1.0)], [2])
    >>> warm_then_flat([0, 1, 2, 3])
    array([0. , 0.5, 1. , 1. ])
    """
    schedules = tuple(schedules)
    boundaries = tuple(boundaries)
    if len(schedules) == 1 and not boundaries and isinstance(schedules[0], Schedule):
        return schedules[0]
    return Joined(schedules, boundaries)


def with_warmup(schedule: Schedule, warmup_steps: int, init_lr: float = 0.0) -> Schedule:
    r"""Put a linear warmup from ``init_lr`` to ``schedule(0)`` in front of ``schedule``.

    .. math:: \eta(t) = \begin{cases} \eta_0 + (s(0) - \eta_0)\, t / W & t < W \\ s(t - W) & t \ge W \end{cases}

    The warmup ends exactly where the schedule starts, so the curve is continuous.

    >>> from lrsched import CosineDecay
    >>> with_warmup(CosineDecay(decay_steps=4, max_lr=1.0), warmup_steps=2)([0, 1, 2, 4, 6])
    array([0. , 0.5, 1. , 0.5, 0. ])
    """
    warmup_steps = _checks.integer("warmup_steps", warmup_steps, minimum=0)
    init_lr = _checks.learning_rate("init_lr", init_lr)
    if warmup_steps == 0:
        return schedule
    return join_schedules([LinearRamp(init_lr, schedule(0), warmup_steps), schedule], [warmup_steps])
