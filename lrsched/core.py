r"""The closed-form core: a schedule is a pure function of the step.

Every schedule in lrsched is a small frozen dataclass with one method,
:meth:`Schedule.formula`, written once against a tiny math namespace ``xp``.
The same line of math then serves two callers:

* a Python number (the torch schedulers' ``step()``), evaluated with plain floats
  and returned as a Python ``float``;
* a numpy array or torch tensor of steps (plots, ``lr_at``, tests), evaluated
  vectorized and returned as a float64 array (or tensor).

Transcendental functions go through numpy in both cases, so a scheduler stepped
one step at a time and ``lr_at`` over all steps agree bit for bit.
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
    """Math on one Python number (the fast path taken by ``scheduler.step()``)."""

    pi = math.pi
    cos = staticmethod(np.cos)  # numpy, not math: identical bits to the array path
    power = staticmethod(np.power)
    sqrt = staticmethod(math.sqrt)  # IEEE sqrt is correctly rounded everywhere

    @staticmethod
    def clip(x: float, low: float, high: float) -> float:
        return low if x < low else high if x > high else x

    @staticmethod
    def where(condition: bool, if_true: Any, if_false: Any) -> Any:
        return if_true if condition else if_false

    @staticmethod
    def maximum(a: float, b: float) -> float:
        return a if a >= b else b


class _ArrayMath:
    """The same operations on float64 arrays."""

    pi = math.pi
    cos = staticmethod(np.cos)
    power = staticmethod(np.power)
    sqrt = staticmethod(np.sqrt)
    clip = staticmethod(np.clip)
    where = staticmethod(np.where)
    maximum = staticmethod(np.maximum)


SCALAR = _ScalarMath
ARRAY = _ArrayMath


def _scalar_step(step: numbers.Real) -> int | float:
    if isinstance(step, numbers.Integral):
        value: int | float = int(step)
    else:
        value = float(step)
        if not math.isfinite(value):
            raise ValueError(f"step must be finite, got {value}")
    if value < 0:
        raise ValueError(f"step must be >= 0, got {value}")
    return value


def _array_steps(steps: Any) -> np.ndarray:
    array = np.asarray(steps)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"steps must be integers or reals, got an array of dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.size and not np.all(np.isfinite(array)):
        raise ValueError("steps must be finite")
    if array.size and array.min() < 0:
        raise ValueError(f"steps must be >= 0, got a minimum of {array.min():g}")
    return array


class Schedule(ABC):
    """A learning rate as a pure, vectorized function of the step ``t = 0, 1, 2, ...``.

    Call it with a Python number (returns a ``float``), a sequence or numpy array
    (returns a float64 ``ndarray`` of the same shape) or a torch tensor (returns a
    float64 tensor). Steps must be finite and non-negative.
    """

    @abstractmethod
    def formula(self, t: Any, xp: Any) -> Any:
        """The closed form at step(s) ``t``, using only the operations of ``xp``."""

    def __call__(self, steps: Steps) -> Any:
        if isinstance(steps, torch.Tensor):
            return torch.from_numpy(self._on_array(steps.detach().cpu().numpy()))
        if isinstance(steps, numbers.Real):
            return float(self.formula(_scalar_step(steps), SCALAR))
        return self._on_array(steps)

    def _on_array(self, steps: Any) -> np.ndarray:
        t = _array_steps(steps)
        values = np.asarray(self.formula(t, ARRAY), dtype=np.float64)
        if values.shape != t.shape:  # e.g. a constant: broadcast to the steps' shape
            values = np.broadcast_to(values, t.shape)
        return np.array(values, dtype=np.float64)


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
        return self.start + (self.end - self.start) * xp.clip(t / self.steps, 0.0, 1.0)


@dataclass(frozen=True)
class Joined(Schedule):
    """Schedules glued at step boundaries; see :func:`join_schedules`."""

    schedules: tuple[Schedule, ...]
    boundaries: tuple[int, ...]

    def formula(self, t: Any, xp: Any) -> Any:
        starts = (0,) + self.boundaries
        if xp is SCALAR:
            piece = bisect.bisect_right(self.boundaries, t)
            return self.schedules[piece].formula(t - starts[piece], xp)
        # Every piece is defined for all t >= 0 (they clamp), so evaluate each on the whole
        # array and pick: cheaper than gathering and scattering masked subsets.
        out = self.schedules[0].formula(t, xp)
        for start, schedule in zip(self.boundaries, self.schedules[1:]):
            out = np.where(t >= start, schedule.formula(np.maximum(t - start, 0.0), xp), out)
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
    boundaries = tuple(_checks.integer("boundaries", b, minimum=1) for b in boundaries)
    if not schedules or not all(isinstance(s, Schedule) for s in schedules):
        raise TypeError(f"schedules must be a non-empty sequence of Schedule, got {schedules!r}")
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"boundaries must have len(schedules) - 1 = {len(schedules) - 1} entries, got {len(boundaries)}"
        )
    if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
        raise ValueError(f"boundaries must be strictly increasing, got {boundaries}")
    return schedules[0] if not boundaries else Joined(schedules, boundaries)


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
