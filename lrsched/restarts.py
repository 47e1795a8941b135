r"""Cosine annealing with warm restarts, warmup per cycle and decaying peaks (book chapter 3).

Cycle :math:`k = 0, 1, \dots` starts at step :math:`S_k` and has :math:`L_k = S_{k+1} - S_k` steps,
where :math:`S_k` is the geometric series of cycle lengths :math:`C m^j`, rounded once:

.. math:: S_k = \operatorname{round}\Big(C \sum_{j<k} m^j\Big) = \operatorname{round}\Big(C\,\frac{m^k - 1}{m - 1}\Big)
          \quad (S_k = C k \text{ for } m = 1).

For an integer ``cycle_mult`` every :math:`L_k = C m^k` exactly (SGDR's :math:`T_i = T_0 T_{mult}^i`);
for a real one, rounding the running sum keeps each restart within half a step of the
geometric series. A ``cycle_mult`` below 1 shrinks the cycles until a cycle would be shorter
than :math:`W + 1` steps (the warmup plus one step of decay, the reference's shortest cycle);
from that cycle :math:`K` on, with :math:`K` the first :math:`k` with :math:`C m^k < W + 1`, every
cycle has :math:`W + 1` steps: :math:`S_k = S_K + (k - K)(W + 1)` for :math:`k > K`.

The cycle of a step is found in closed form, by inverting the series,
:math:`k \approx \log(1 + t (m - 1) / C) / \log m`, then moving :math:`k` by a step or two until
:math:`S_k \le t < S_{k+1}` holds for the very :math:`S_k` that :meth:`CosineRestarts.cycle_start`
returns: O(1) time and memory for every ``cycle_mult``, and exact at every restart.

Inside a cycle, at position :math:`s = t - S_k` with peak :math:`\eta_k = \max(\eta_{max}\gamma^k, \eta_{min})`:

.. math::

    \eta(t) = \begin{cases}
        \eta_{min} + (\eta_k - \eta_{min})\, s / W & s < W \\
        \eta_{min} + (\eta_k - \eta_{min})\,\tfrac12\big(1 + \cos(\pi \tfrac{s - W}{L_k - W})\big) & s \ge W .
    \end{cases}

Reference: Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts*, ICLR 2017.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from torch.optim import Optimizer

from . import _checks
from .core import SCALAR, Schedule
from .scheduler import ScheduledLR

# Cycle indices are float64; past 2**52 cycles k + 1 is no longer distinct from k.
_LAST_EXACT_CYCLE = 2.0**52
# Ties of the rounded series are settled exactly up to this cycle (m**k in Fractions stays cheap).
_EXACT_TIE_CYCLES = 4096


@dataclass(frozen=True)
class CosineRestarts(Schedule):
    r"""Cosine cycles that restart, grow by ``cycle_mult``, warm up for ``warmup_steps`` and peak at ``max_lr * gamma**k``.

    The peak never goes below ``min_lr``: once ``max_lr * gamma**k <= min_lr``, every later
    cycle stays at ``min_lr``. ``cycle_mult`` is any real ``> 0``: above 1 the cycles grow,
    below 1 they shrink to ``warmup_steps + 1`` steps and stay there.

    >>> sched = CosineRestarts(first_cycle_steps=4, max_lr=1.0, min_lr=0.0)
    >>> sched([0, 1, 2, 3, 4, 6]).round(4)
    array([1.    , 0.8536, 0.5   , 0.1464, 1.    , 0.5   ])
    >>> CosineRestarts(first_cycle_steps=10, cycle_mult=2.0).cycle_start(3)  # 10 + 20 + 40
    70
    """

    first_cycle_steps: int
    cycle_mult: float = 1.0
    max_lr: float = 1e-4
    min_lr: float = 1e-6
    warmup_steps: int = 0
    gamma: float = 1.0
    # The cycle the last scalar step fell in, (start, end, peak): stepping looks a cycle up once.
    _cycle: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0), init=False, repr=False, compare=False)
    # For cycle_mult < 1: the first cycle K of the shortest length, and its start S_K.
    _floor_cycle: float = field(default=math.inf, init=False, repr=False, compare=False)
    _floor_start: float = field(default=math.inf, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "first_cycle_steps", _checks.integer("first_cycle_steps", self.first_cycle_steps, minimum=1))
        set_(self, "warmup_steps", _checks.integer("warmup_steps", self.warmup_steps, minimum=0))
        _checks.below("warmup_steps", self.warmup_steps, "first_cycle_steps", self.first_cycle_steps)
        set_(self, "cycle_mult", _checks.real("cycle_mult", self.cycle_mult, low=0.0, low_open=True))
        set_(self, "max_lr", _checks.learning_rate("max_lr", self.max_lr))
        set_(self, "min_lr", _checks.learning_rate("min_lr", self.min_lr))
        _checks.not_above("min_lr", self.min_lr, "max_lr", self.max_lr)
        set_(self, "gamma", _checks.real("gamma", self.gamma, low=0.0, high=1.0, low_open=True))
        if self.cycle_mult < 1.0:
            floor_cycle = self._first_short_cycle()
            set_(self, "_floor_cycle", floor_cycle)
            set_(self, "_floor_start", float(self._geometric_starts(np.array([floor_cycle]))[0]))

    # -- where the cycles start ---------------------------------------------------------------------
    @property
    def shortest_cycle(self) -> int:
        """The length the cycles shrink to when ``cycle_mult < 1``: ``warmup_steps + 1``."""
        return self.warmup_steps + 1

    def _first_short_cycle(self) -> float:
        """``K``, the first ``k`` with ``C m**k < W + 1`` (``cycle_mult < 1``); ``K >= 1`` as ``C >= W + 1``."""
        c, m, shortest = float(self.first_cycle_steps), self.cycle_mult, float(self.shortest_cycle)

        def short(k: float) -> bool:
            return bool(c * np.float_power(m, k) < shortest)

        k = max(1.0, math.ceil(math.log(shortest / c) / math.log(m)))
        while k > 1.0 and short(k - 1.0):
            k -= 1.0
        while not short(k):
            k += 1.0
        return k

    def _geometric_starts(self, k: np.ndarray) -> np.ndarray:
        """``round(C (m**k - 1) / (m - 1))`` for ``m != 1``, ``inf`` where it overflows.

        ``m**k - 1`` is taken as ``expm1(k log m)`` while ``|k log m| < 1`` (no cancellation for
        ``m`` near 1) and as ``pow(m, k) - 1`` beyond (``pow`` is accurate to an ulp for any
        ``k``), so the result is within a few ulps of the exact series.
        """
        c, m = float(self.first_cycle_steps), self.cycle_mult
        d = m - 1.0  # exact for 0.5 <= m <= 2 (Sterbenz)
        x = k * math.log1p(d)
        with np.errstate(over="ignore", invalid="ignore"):
            grown = np.where(np.abs(x) < 1.0, np.expm1(x), np.float_power(m, k) - 1.0)
            # m**k may overflow where the quotient does not (m near the float limit): there
            # m**k - 1 = m**k to the last bit, so the quotient is exp(k log m - log(m - 1)).
            ratio = np.where(np.isfinite(grown), grown / d, np.exp(x - math.log(abs(d))))
            series = c * ratio
        starts = np.rint(series)
        # Within a few ulps of a half, float rounding may fall on the wrong side of the tie
        # (C = 25, m = 1.3: S_2 is 57.5 + 1e-15 exactly, 57.49999999999999 in floats). Settle
        # those few with exact rational arithmetic on the float m, as far as that is cheap.
        near_half = np.abs(series - np.floor(series) - 0.5) <= 64.0 * np.spacing(np.abs(series))
        near_half &= np.isfinite(series) & (k <= _EXACT_TIE_CYCLES)
        if near_half.any():
            starts = np.array(starts, dtype=np.float64)  # writable, also for 0-d input
            exact_m = Fraction(m)
            for index in zip(*np.nonzero(near_half)):
                cycles = int(k[index])
                starts[index] = round(self.first_cycle_steps * (exact_m**cycles - 1) / (exact_m - 1))
        return starts

    def _starts(self, k: np.ndarray) -> np.ndarray:
        """:math:`S_k` for a float64 array of cycle indices (float64, integer-valued, ``inf`` past the float range)."""
        m = self.cycle_mult
        if m == 1.0:
            return k * float(self.first_cycle_steps)
        if k.size > 32:  # many steps, few cycles: compute each cycle's start once, then look up
            low, high = float(k.min()), float(k.max())
            if math.isfinite(high) and high - low + 1.0 < k.size / 4:
                table = self._starts(np.arange(low, high + 1.0))
                return table[(k - low).astype(np.intp)]
        if m > 1.0:
            return self._geometric_starts(k)
        floor_cycle = self._floor_cycle
        capped = np.minimum(k, floor_cycle)
        extra = (k - capped) * float(self.shortest_cycle)
        return self._geometric_starts(capped) + extra

    def cycle_start(self, k: int) -> int | float:
        """First step of cycle ``k`` (an ``int``; ``math.inf`` if it lies past the float range).

        Equal to the exactly rounded series (half to even, for the float ``cycle_mult``) up to
        step ``2**50``: float64 carries it to a few ulps, and the rare sums within those ulps of
        a half are settled in exact rational arithmetic (for the first 4096 cycles). Past that,
        within a few steps of it. Steps themselves stop at ``2**53``.
        """
        k = _checks.integer("k", k, minimum=0)
        start = float(self._starts(np.array([float(k)]))[0])
        return int(start) if math.isfinite(start) else math.inf

    def _cycle_index(self, t: np.ndarray) -> np.ndarray:
        """The cycle ``k`` with ``S_k <= t < S_{k+1}`` for each step of the float64 array ``t``."""
        c, m = float(self.first_cycle_steps), self.cycle_mult
        with np.errstate(all="ignore"):
            if m == 1.0:
                k = np.floor(t / c)
            elif m > 1.0:
                log_m = math.log1p(m - 1.0)
                scaled = t * ((m - 1.0) / c)
                # log1p(scaled) when it is finite; its logarithmic form when t (m - 1) overflows
                log_growth = np.where(
                    np.isfinite(scaled), np.log1p(scaled), np.log(t) - math.log(c) + math.log(m - 1.0)
                )
                k = np.floor(log_growth / log_m)
            else:
                floor_cycle, floor_start = self._floor_cycle, self._floor_start
                shrink = np.floor(np.log1p(-t * ((1.0 - m) / c)) / math.log(m))
                shrink = np.clip(np.nan_to_num(shrink, nan=floor_cycle, posinf=floor_cycle), 0.0, floor_cycle)
                after = floor_cycle + np.floor((t - floor_start) / float(self.shortest_cycle))
                k = np.where(t >= floor_start, after, shrink)
        k = np.maximum(k, 0.0)
        # The estimate is off by at most a step or two (rounding); settle it on the very S_k
        # that cycle_start returns, so every restart lands exactly on its step.
        for _ in range(64):
            too_high = (self._starts(k) > t) & (k > 0.0)
            too_low = (self._starts(k + 1.0) <= t) & (k < _LAST_EXACT_CYCLE)
            if not (too_high.any() or too_low.any()):
                return k
            k = k - too_high + too_low
        raise RuntimeError(f"CosineRestarts could not place steps in cycles ({self!r}); please report this")

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
        k = self._cycle_index(np.array([t], dtype=np.float64))
        start, end = self._starts(np.array([k[0], k[0] + 1.0]))
        peak = float(np.asarray(self._peaks(k), dtype=np.float64).reshape(-1)[0])
        cycle = (float(start), float(end), peak)
        object.__setattr__(self, "_cycle", cycle)
        return cycle

    def _array_cycles(self, t: np.ndarray) -> tuple[Any, Any, Any]:
        if not t.size:
            return 0.0, 1.0, self.max_lr
        first, last = self._scalar_cycle(float(t.min())), self._scalar_cycle(float(t.max()))
        if first == last:  # all steps in one cycle (the usual case for a chunk of a long run)
            return first[0], first[1] - first[0], first[2]
        k = self._cycle_index(t)
        start = self._starts(k)
        return start, self._starts(k + 1.0) - start, self._peaks(k)

    def formula(self, t: Any, xp: Any) -> Any:
        if xp is SCALAR:
            start, end, peak = self._scalar_cycle(t)
            length = end - start
        else:
            start, length, peak = self._array_cycles(t)
        s = t - start
        warm = self.warmup_steps
        # Every cycle has more than W steps; the max() only keeps an unused branch finite.
        weight = 0.5 * (1.0 + xp.cos(xp.pi * ((s - warm) / xp.maximum(length - warm, 1.0))))
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
        Growth factor of cycle lengths, any real ``> 0``; below 1 the cycles shrink to
        ``warmup_steps + 1`` steps (see :class:`CosineRestarts`).
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
    Differences from pytorch-optimizer 4.1.0:

    * *One step late*: there, with ``warmup_steps=0`` the first step runs at ``min_lr`` instead of
      the peak (its constructor writes ``min_lr``); resuming through ``load_state_dict`` runs the
      first resumed step at ``min_lr`` too, and resuming with ``last_epoch`` raises ``KeyError:
      'initial_lr'``. Here step ``t`` runs at the schedule's value at ``t``.
    * *Cycle lengths*: there ``cycle_mult`` multiplies only the part of a cycle after its warmup,
      truncated with ``int`` at every cycle (so for a real ``cycle_mult`` the restarts drift from
      the geometric series, and finding the cycle of ``step(epoch)`` walks every cycle, which hangs
      for ``cycle_mult`` just above 1 and overflows for a huge one). Here whole cycles follow the
      geometric series rounded once, found in closed form. The two agree for ``warmup_steps=0``
      and an integer ``cycle_mult``, and on the reference's own 0.9 recipe; both floor a shrinking
      cycle at ``warmup_steps + 1`` steps.
    * The peak there keeps decaying below ``min_lr``, so late cycles rise towards ``min_lr``
      instead of decaying to it; here the peak stops at ``min_lr``.
    * All param groups are set to one value there; here groups keep their lr ratios.
    * ``step()`` returns ``None`` (as torch's schedulers do) and bad arguments raise
      ``ValueError``/``TypeError`` naming the argument.
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
