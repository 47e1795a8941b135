r"""Cosine annealing with warm restarts, warmup per cycle and decaying peaks (book chapter 3).

Cycle :math:`k = 0, 1, \dots` starts at step :math:`S_k` and has :math:`L_k = S_{k+1} - S_k` steps,
where :math:`S_k` is the geometric series of cycle lengths :math:`C m^j`, rounded once:

.. math:: S_k = \operatorname{round}\Big(C \sum_{j<k} m^j\Big) = \operatorname{round}\Big(C\,\frac{m^k - 1}{m - 1}\Big)
          \quad (S_k = C k \text{ for } m = 1).

For an integer ``cycle_mult`` every :math:`L_k = C m^k` exactly (SGDR's :math:`T_i = T_0 T_{mult}^i`);
for a real one, rounding the running sum keeps each restart within half a step of the
geometric series. Inside a cycle, at position :math:`s = t - S_k` with peak
:math:`\eta_k = \max(\eta_{max}\gamma^k, \eta_{min})`:

.. math::

    \eta(t) = \begin{cases}
        \eta_{min} + (\eta_k - \eta_{min})\, s / W & s < W \\
        \eta_{min} + (\eta_k - \eta_{min})\,\tfrac12\big(1 + \cos(\pi \tfrac{s - W}{L_k - W})\big) & s \ge W .
    \end{cases}

Reference: Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts*, ICLR 2017.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch.optim import Optimizer

from . import _checks
from .core import SCALAR, Schedule
from .scheduler import ScheduledLR


@dataclass(frozen=True)
class CosineRestarts(Schedule):
    r"""Cosine cycles that restart, grow by ``cycle_mult``, warm up for ``warmup_steps`` and peak at ``max_lr * gamma**k``.

    The peak never goes below ``min_lr``: once ``max_lr * gamma**k <= min_lr``, every later
    cycle stays at ``min_lr``.

    >>> sched = CosineRestarts(first_cycle_steps=4, max_lr=1.0, min_lr=0.0)
    >>> sched([0, 1, 2, 3, 4, 6]).round(4)
    array([1.    , 0.8536, 0.5   , 0.1464, 1.    , 0.5   ])
    """

    first_cycle_steps: int
    cycle_mult: float = 1.0
    max_lr: float = 1e-4
    min_lr: float = 1e-6
    warmup_steps: int = 0
    gamma: float = 1.0
    # Cycle starts for a cycle_mult > 1, extended on demand (a few dozen entries cover any run);
    # Python ints, so the scalar and array paths index the very same numbers.
    _starts: list[int] = field(default_factory=lambda: [0], init=False, repr=False, compare=False)
    # The cycle the last scalar step fell in, (start, end, peak): stepping looks a cycle up once.
    _cycle: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "first_cycle_steps", _checks.integer("first_cycle_steps", self.first_cycle_steps, minimum=1))
        set_(self, "warmup_steps", _checks.integer("warmup_steps", self.warmup_steps, minimum=0))
        _checks.below("warmup_steps", self.warmup_steps, "first_cycle_steps", self.first_cycle_steps)
        set_(self, "cycle_mult", _checks.real("cycle_mult", self.cycle_mult, low=1.0))
        set_(self, "max_lr", _checks.learning_rate("max_lr", self.max_lr))
        set_(self, "min_lr", _checks.learning_rate("min_lr", self.min_lr))
        _checks.not_above("min_lr", self.min_lr, "max_lr", self.max_lr)
        set_(self, "gamma", _checks.real("gamma", self.gamma, low=0.0, high=1.0, low_open=True))

    def cycle_start(self, k: int) -> int:
        """First step of cycle ``k``: the rounded geometric series (exact for integer ``cycle_mult``)."""
        c, m = self.first_cycle_steps, self.cycle_mult
        return c * k if m == 1.0 else round(c * (m**k - 1.0) / (m - 1.0))

    def _extend(self, step: float) -> None:
        starts = self._starts
        while starts[-1] <= step:
            starts.append(self.cycle_start(len(starts)))

    def _peaks(self, k: np.ndarray) -> Any:
        """``max(max_lr * gamma**k, min_lr)`` for an array of cycle indices (the one code path of both callers)."""
        if self.gamma == 1.0:
            return self.max_lr
        if k.size > 1:  # few distinct cycles per call: take the power once per cycle
            low, high = int(k.min()), int(k.max())
            if high - low + 1 < k.size:
                table = self._peaks(np.arange(low, high + 1, dtype=np.float64))
                return table[(k - low).astype(np.intp)]
        return np.maximum(self.max_lr * np.float_power(self.gamma, k), self.min_lr)  # C pow: gamma**k

    def _scalar_cycle(self, t: float) -> tuple[float, float, float]:
        cycle = self._cycle
        if cycle[0] <= t < cycle[1]:
            return cycle
        c = self.first_cycle_steps
        if self.cycle_mult == 1.0:
            k = math.floor(t / c)
            k -= t < k * c  # t / c can round up to the next integer for a non-integer t
            start, end = float(k * c), float(k * c + c)
        else:
            self._extend(t)
            k = bisect.bisect_right(self._starts, t) - 1
            start, end = float(self._starts[k]), float(self._starts[k + 1])
        peak = float(np.asarray(self._peaks(np.array([float(k)])), dtype=np.float64).reshape(-1)[0])
        cycle = (start, end, peak)
        object.__setattr__(self, "_cycle", cycle)
        return cycle

    def _array_cycles(self, t: np.ndarray) -> tuple[Any, Any, Any]:
        if not t.size:
            return 0.0, 1.0, self.max_lr
        first, last = self._scalar_cycle(float(t.min())), self._scalar_cycle(float(t.max()))
        if first == last:  # all steps in one cycle (the usual case for a chunk of a long run)
            return first[0], first[1] - first[0], first[2]
        c = self.first_cycle_steps
        if self.cycle_mult == 1.0:
            k = np.floor(t / c)
            k -= t < k * c
            start, length = k * c, float(c)
        else:
            starts = np.asarray(self._starts, dtype=np.float64)  # covers t.max() (see _scalar_cycle)
            index = np.searchsorted(starts, t, side="right") - 1
            start = starts[index]
            length = starts[index + 1] - start
            k = index.astype(np.float64)
        return start, length, self._peaks(k)

    def formula(self, t: Any, xp: Any) -> Any:
        if xp is SCALAR:
            start, end, peak = self._scalar_cycle(t)
            length = end - start
        else:
            start, length, peak = self._array_cycles(t)
        s = t - start
        warm = self.warmup_steps
        weight = 0.5 * (1.0 + xp.cos(xp.pi * ((s - warm) / (length - warm))))
        if warm:
            weight = xp.where(s < warm, s / warm, weight)
        return xp.lerp(self.min_lr, peak, weight)


class CosineAnnealingWarmupRestarts(ScheduledLR):
    """SGDR-style restarts with per-cycle warmup and decaying peaks (closed form: :class:`CosineRestarts`).

    Parameters
    ----------
    optimizer:
        The wrapped optimizer; its groups keep their lr ratios.
    first_cycle_steps:
        Length of cycle 0 (warmup included).
    cycle_mult:
        Growth factor of cycle lengths, ``>= 1``.
    max_lr, min_lr:
        Peak of cycle 0 and the floor of every cycle (reference group).
    warmup_steps:
        Linear warmup ``min_lr -> peak`` at the start of every cycle, ``< first_cycle_steps``.
    gamma:
        Peak of cycle ``k`` is ``max_lr * gamma**k``; ``0 < gamma <= 1``. The default 0.9 is
        the reference's; the closed form :class:`CosineRestarts` defaults to 1 (SGDR's).
    last_epoch:
        See :class:`~lrsched.ScheduledLR`.

    Notes
    -----
    Differences from pytorch-optimizer 4.1.0: there, with ``warmup_steps=0`` the first step runs
    at ``min_lr`` instead of the peak; resuming with ``last_epoch`` raises ``KeyError:
    'initial_lr'``, and resuming through ``load_state_dict`` runs the first resumed step at
    ``min_lr`` (its constructor writes ``min_lr`` and loading never writes the lr back); ``cycle_mult`` multiplies only the part of a cycle after its warmup, truncated
    with ``int`` at every cycle (so for a real ``cycle_mult`` the restarts drift from the geometric
    series; with ``warmup_steps=0`` and an integer ``cycle_mult`` the two agree); the peak keeps
    decaying below ``min_lr``, so late cycles rise towards ``min_lr`` instead of decaying to it;
    and all param groups are set to one value.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        first_cycle_steps: int,
        cycle_mult: float = 1.0,
        max_lr: float = 1e-4,
        min_lr: float = 1e-6,
        warmup_steps: int = 0,
        gamma: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        schedule = CosineRestarts(first_cycle_steps, cycle_mult, max_lr, min_lr, warmup_steps, gamma)
        super().__init__(optimizer, schedule, last_epoch)
