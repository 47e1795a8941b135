r"""Beyond the reference page: warmup-stable-decay, inverse square root, one-cycle (book chapter 8).

Three schedules that are common in practice but missing from (or wrong in) pytorch-optimizer's
scheduler page, plus the exponential ramp of the learning-rate range test:

* :class:`WarmupStableDecay` -- warmup, a long constant phase, then a short cooldown to ``min_lr``
  (linear, cosine or :math:`1-\sqrt{p}`); :class:`WSDScheduler`.
* :class:`InverseSqrt` -- the Transformer schedule, linear warmup then :math:`1/\sqrt{t}` decay;
  :class:`InverseSqrtScheduler`.
* :class:`OneCycle` -- one cycle up to ``max_lr`` and down far below the start, learning rate only;
  :class:`OneCycleScheduler`.
* :class:`ExponentialRamp` -- a geometric sweep between two learning rates
  (:func:`lrsched.lab.range_test.lr_range_test` drives it).

Every decreasing phase is written as :math:`\eta_{low} + (\eta_{high} - \eta_{low})\, d` with a shape
:math:`d` that is exactly 0 at the end of the phase, so the phase lands on its final value to the
last bit (the cooldown ends *exactly* on ``min_lr``), and that form is monotone in :math:`d` even
under rounding. Phase starts (the stable plateau, the one-cycle peak) are set to their value
directly, and results are clipped to the schedule's range, so no rounding error ever leaves it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from torch.optim import Optimizer

from . import _checks
from .core import Constant, Schedule, join_schedules, with_warmup
from .scheduler import ScheduledLR
from .warmup_decay import CosineDecay, LinearDecay, _Decay

__all__ = [
    "COOLDOWNS",
    "ANNEAL_STRATEGIES",
    "SqrtCooldown",
    "SquareCooldown",
    "WarmupStableDecay",
    "get_wsd_schedule",
    "WSDScheduler",
    "InverseSqrt",
    "InverseSqrtScheduler",
    "OneCycle",
    "OneCycleScheduler",
    "ExponentialRamp",
]

#: The cooldown shapes of :class:`WarmupStableDecay`.
COOLDOWNS = ("linear", "cosine", "1-sqrt", "1-square")
#: The annealing shapes of :class:`OneCycle` (torch's names).
ANNEAL_STRATEGIES = ("cos", "linear")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of the strings ``choices``; a ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}, got {value!r} ({type(value).__name__})")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


# ----------------------------------------------------------------------------------------------
# Warmup-stable-decay
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqrtCooldown(_Decay):
    r"""The "1-sqrt" cooldown from ``max_lr`` to ``min_lr`` over ``decay_steps``, then held.

    .. math:: \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})(1 - \sqrt{p}), \quad p = \min(t/n, 1)

    It drops fast at first and flattens as it nears ``min_lr`` (Hägele et al., 2024).

    >>> SqrtCooldown(decay_steps=4, max_lr=1.0)([0, 1, 4, 8])
    array([1. , 0.5, 0. , 0. ])
    """

    def formula(self, t: Any, xp: Any) -> Any:
        return xp.lerp(self.min_lr, self.max_lr, 1.0 - xp.sqrt(self.progress(t, xp)))


@dataclass(frozen=True)
class SquareCooldown(_Decay):
    r"""The "1-square" cooldown from ``max_lr`` to ``min_lr`` over ``decay_steps``, then held.

    .. math:: \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})(1 - p^2), \quad p = \min(t/n, 1)

    It stays high at first and drops late (the mirror image of "1-sqrt"; pytorch-optimizer 4.1.0's
    fourth WSD cooldown).

    >>> SquareCooldown(decay_steps=4, max_lr=1.0)([0, 2, 4, 8])
    array([1.  , 0.75, 0.  , 0.  ])
    """

    def formula(self, t: Any, xp: Any) -> Any:
        p = self.progress(t, xp)
        return xp.lerp(self.min_lr, self.max_lr, 1.0 - p * p)


_COOLDOWN_SHAPES = {"linear": LinearDecay, "cosine": CosineDecay, "1-sqrt": SqrtCooldown, "1-square": SquareCooldown}



@dataclass(frozen=True)
class WarmupStableDecay(Schedule):
    r"""Warmup, a constant phase at ``max_lr``, then a cooldown to ``min_lr`` (WSD), then held.

    With warmup :math:`W`, cooldown :math:`D` and total :math:`T` steps, the stable phase has
    :math:`S = T - W - D` steps and the cooldown starts at step :math:`C = T - D`:

    .. math::

        \eta(t) = \begin{cases}
            \eta_{0} + (\eta_{max} - \eta_{0})\, t / W & t < W \\
            \eta_{max} & W \le t \le C \\
            \eta_{min} + (\eta_{max} - \eta_{min})\, d\big(\min(\tfrac{t - C}{D}, 1)\big) & t > C
        \end{cases}

    with the cooldown shape :math:`d(p)` falling from :math:`d(0) = 1` to :math:`d(1) = 0`:

    * ``"linear"``: :math:`d(p) = 1 - p`;
    * ``"cosine"``: :math:`d(p) = \tfrac12(1 + \cos \pi p)`;
    * ``"1-sqrt"``: :math:`d(p) = 1 - \sqrt{p}` (the best of the shapes compared by
      Hägele et al., 2024): it drops fast at first and flattens as it nears ``min_lr``;
    * ``"1-square"``: :math:`d(p) = 1 - p^2`: it stays high and drops late.

    Every cooldown reaches ``min_lr`` exactly at step ``total_steps`` and stays there.

    The point of WSD (Hu et al., 2024, MiniCPM; Hägele et al., 2024): the stable phase does not
    depend on the budget, so one long run at ``max_lr`` can be branched at any step into a short
    cooldown, giving a finished model for every budget at the price of one run plus cooldowns.

    Parameters
    ----------
    total_steps:
        :math:`T`, the step at which the lr reaches ``min_lr`` (warmup, stable and cooldown together).
    decay_steps:
        :math:`D \ge 1`, the length of the cooldown; ``warmup_steps + decay_steps <= total_steps``.
        Hägele et al. find about 20% of the run enough to match a cosine schedule.
    max_lr:
        The lr of the stable phase.
    min_lr:
        The floor the cooldown ends on, ``<= max_lr``.
    warmup_steps:
        :math:`W \ge 0`, linear warmup from ``init_lr`` to ``max_lr``.
    init_lr:
        The lr at step 0 when ``warmup_steps > 0``, ``<= max_lr``.
    cooldown:
        ``"linear"``, ``"cosine"``, ``"1-sqrt"`` or ``"1-square"``.

    Examples
    --------
    Two warmup steps, two stable steps, a linear cooldown over the last four:

    >>> wsd = WarmupStableDecay(total_steps=8, decay_steps=4, max_lr=1.0, warmup_steps=2, cooldown="linear")
    >>> wsd([0, 1, 2, 4, 5, 6, 8, 9])
    array([0.  , 0.5 , 1.  , 1.  , 0.75, 0.5 , 0.  , 0.  ])

    A ``1-sqrt`` cooldown from 1 to 0.1 is at :math:`0.1 + 0.9 (1 - \sqrt{1/4}) = 0.55` a quarter
    of the way in, and ends exactly on the floor:

    >>> WarmupStableDecay(total_steps=4, decay_steps=4, max_lr=1.0, min_lr=0.1)([0, 1, 4])
    array([1.  , 0.55, 0.1 ])

    Differences from pytorch-optimizer 4.1.0 (``get_wsd_schedule``): there, only the cosine
    cooldown uses ``min_lr_ratio``; the ``"linear"`` and ``"1-sqrt"`` cooldowns fall towards 0,
    ignoring the floor, and jump to ``min_lr_ratio`` after the last cooldown step (with
    ``min_lr_ratio=0.5`` and 10 cooldown steps the linear one goes 1.0, 0.9, ..., 0.1 and then
    jumps *up* to 0.5; the ``1-sqrt`` one goes down to 0.051, then up to 0.5). Here every cooldown
    ends on ``min_lr``, continuously. It is also a ``LambdaLR``, so its ``min_lr_ratio`` is
    relative to each group's lr, while here ``max_lr``/``min_lr`` are absolute for the reference
    group (others keep their ratios).

    References
    ----------
    Hu et al., *MiniCPM: Unveiling the Potential of Small Language Models with Scalable Training
    Strategies*, arXiv:2404.06395, 2024. Hägele et al., *Scaling Laws and Compute-Optimal Training
    beyond Fixed Training Durations*, NeurIPS 2024.
    """

    total_steps: int
    decay_steps: int
    max_lr: float
    min_lr: float = 0.0
    warmup_steps: int = 0
    init_lr: float = 0.0
    cooldown: str = "1-sqrt"
    _composed: Schedule = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "total_steps", _checks.integer("total_steps", self.total_steps, minimum=1))
        set_(self, "decay_steps", _checks.integer("decay_steps", self.decay_steps, minimum=1))
        set_(self, "warmup_steps", _checks.integer("warmup_steps", self.warmup_steps, minimum=0))
        if self.warmup_steps + self.decay_steps > self.total_steps:
            raise ValueError(
                "warmup_steps + decay_steps must be <= total_steps, got "
                f"warmup_steps={self.warmup_steps} + decay_steps={self.decay_steps} > total_steps={self.total_steps}"
            )
        set_(self, "max_lr", _checks.learning_rate("max_lr", self.max_lr))
        set_(self, "min_lr", _checks.learning_rate("min_lr", self.min_lr))
        _checks.not_above("min_lr", self.min_lr, "max_lr", self.max_lr)
        set_(self, "init_lr", _checks.learning_rate("init_lr", self.init_lr))
        _checks.not_above("init_lr", self.init_lr, "max_lr", self.max_lr)
        set_(self, "cooldown", _choice("cooldown", self.cooldown, COOLDOWNS))
        # Composed from the book's own pieces, so the math of each phase lives once: the plateau
        # runs through step C = total_steps - decay_steps, where the cooldown's clock starts.
        cooldown = _COOLDOWN_SHAPES[self.cooldown](self.decay_steps, self.max_lr, self.min_lr)
        plateau = self.decay_start - self.warmup_steps
        after_warmup = join_schedules([Constant(self.max_lr), cooldown], [plateau]) if plateau else cooldown
        set_(self, "_composed", with_warmup(after_warmup, self.warmup_steps, self.init_lr))

    @property
    def stable_steps(self) -> int:
        """Steps at ``max_lr`` after the warmup, ``total_steps - warmup_steps - decay_steps``."""
        return self.total_steps - self.warmup_steps - self.decay_steps

    @property
    def decay_start(self) -> int:
        """The last step at ``max_lr``, where the cooldown starts (``total_steps - decay_steps``)."""
        return self.total_steps - self.decay_steps

    def formula(self, t: Any, xp: Any) -> Any:
        return self._composed.formula(t, xp)


class WSDScheduler(ScheduledLR):
    """Warmup-stable-decay as a torch scheduler (closed form: :class:`WarmupStableDecay`).

    Parameters
    ----------
    optimizer:
        The wrapped optimizer; its groups keep their lr ratios (see :class:`~lrsched.ScheduledLR`).
    total_steps, decay_steps, max_lr, min_lr, warmup_steps, init_lr, cooldown:
        As in :class:`WarmupStableDecay`; the lrs are those of the reference group.
    last_epoch:
        See :class:`~lrsched.ScheduledLR`.

    Notes
    -----
    Differences from pytorch-optimizer 4.1.0's ``get_wsd_schedule``: its linear and 1-sqrt
    cooldowns ignore the floor and jump to it at the end; here every cooldown ends exactly on
    ``min_lr`` (see :class:`WarmupStableDecay`).

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = WSDScheduler(opt, total_steps=10, decay_steps=2, max_lr=0.1, cooldown="linear")
    >>> sched.lr_at([0, 8, 9, 10]).round(6)
    array([0.1 , 0.1 , 0.05, 0.  ])
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int,
        decay_steps: int,
        max_lr: float,
        min_lr: float = 0.0,
        warmup_steps: int = 0,
        init_lr: float = 0.0,
        cooldown: str = "1-sqrt",
        last_epoch: int = -1,
    ) -> None:
        schedule = WarmupStableDecay(total_steps, decay_steps, max_lr, min_lr, warmup_steps, init_lr, cooldown)
        super().__init__(optimizer, schedule, last_epoch)


def get_wsd_schedule(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_stable_steps: int,
    num_decay_steps: int,
    min_lr_ratio: float = 0.0,
    num_cycles: float = 0.5,
    cooldown_type: str = "1-sqrt",
    last_epoch: int = -1,
) -> WSDScheduler:
    r"""pytorch-optimizer 4.1.0's ``get_wsd_schedule``: warmup, stable, cooldown, as multiples of each group's lr.

    The reference group (largest initial lr, :math:`\eta`) warms up linearly from 0 over
    ``num_warmup_steps``, holds :math:`\eta` for ``num_stable_steps``, cools down to
    ``min_lr_ratio`` :math:`\cdot\,\eta` over ``num_decay_steps`` and stays there; the other groups
    keep their ratios to it (so each group is scaled by its own lr, as with ``LambdaLR``). This
    is :class:`WSDScheduler` with ``total_steps = num_warmup_steps + num_stable_steps +
    num_decay_steps``.

    Parameters
    ----------
    optimizer:
        The wrapped optimizer; its lrs are the peaks.
    num_warmup_steps, num_stable_steps, num_decay_steps:
        Phase lengths, ``>= 0`` (``num_decay_steps >= 1``).
    min_lr_ratio:
        The floor as a fraction of the peak, in ``[0, 1]``.
    num_cycles:
        Only ``0.5`` (half a cosine) is provided; the reference's other values make the "cosine"
        cooldown oscillate and then jump to the floor.
    cooldown_type:
        ``"1-sqrt"``, ``"cosine"``, ``"linear"`` or ``"1-square"``.
    last_epoch:
        See :class:`~lrsched.ScheduledLR`.

    Notes
    -----
    Differences from pytorch-optimizer 4.1.0: its ``"linear"``, ``"1-sqrt"`` and ``"1-square"``
    cooldowns fall towards 0, ignoring ``min_lr_ratio``, then jump to it after the last cooldown
    step; here every cooldown ends on the floor, continuously (they agree for ``min_lr_ratio=0``
    and always for ``"cosine"``). ``num_cycles`` other than 0.5 and ``num_decay_steps=0`` raise a
    ``ValueError`` here; ``step()`` returns ``None`` (as torch's schedulers do).

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-3)
    >>> sched = get_wsd_schedule(opt, 2, 2, 3, min_lr_ratio=0.1, cooldown_type="cosine")
    >>> sched.lr_at(range(8)).round(7).tolist()
    [0.0, 0.0005, 0.001, 0.001, 0.001, 0.000775, 0.000325, 0.0001]
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    warmup = _checks.integer("num_warmup_steps", num_warmup_steps, minimum=0)
    stable = _checks.integer("num_stable_steps", num_stable_steps, minimum=0)
    decay = _checks.integer("num_decay_steps", num_decay_steps, minimum=1)
    ratio = _checks.real("min_lr_ratio", min_lr_ratio, low=0.0, high=1.0)
    if _checks.real("num_cycles", num_cycles) != 0.5:
        raise ValueError(f"num_cycles must be 0.5 (half a cosine; other values are not provided), got {num_cycles!r}")
    peak = max(float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups)
    return WSDScheduler(
        optimizer, warmup + stable + decay, decay, peak, ratio * peak, warmup, 0.0, cooldown_type, last_epoch
    )


# ----------------------------------------------------------------------------------------------
# Inverse square root
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    r"""Linear warmup to ``peak_lr``, then decay as :math:`1/\sqrt{\text{step}}` (the Transformer schedule).

    Vaswani et al. (2017, eq. 3) count steps from 1, :math:`n = 1, 2, \dots`:

    .. math:: \eta(n) = d_{model}^{-1/2} \min\big(n^{-1/2},\; n\, W^{-3/2}\big).

    Both branches meet at :math:`n = W`, the peak :math:`d_{model}^{-1/2} W^{-1/2}`. lrsched counts
    steps from 0 (step ``t`` is the ``(t+1)``-th optimizer step), so :math:`n = t + 1`, and this
    class is parametrised by the peak :math:`\eta_{peak}` directly:

    .. math:: \eta(t) = \eta_{peak}\, \min\Big(\frac{t + 1}{W},\; \sqrt{\frac{W}{t + 1}}\Big).

    The first step runs at :math:`\eta_{peak}/W` (not 0), the peak is used by step :math:`t = W - 1`
    (the :math:`W`-th step), and the lr halves every time the step count quadruples. There is no
    horizon: the lr decays forever, never reaching 0. ``warmup_steps=1`` gives pure inverse-sqrt decay
    from the peak. :meth:`from_d_model` gives the paper's scale.

    Parameters
    ----------
    warmup_steps:
        :math:`W \ge 1`; the peak is reached at step ``W - 1``.
    peak_lr:
        The largest lr, :math:`\eta_{peak}`.

    Examples
    --------
    With :math:`W = 4`: steps :math:`n = t + 1 = 1, 2, 4, 16` give :math:`1/4, 2/4, 1, \sqrt{4/16}`:

    >>> InverseSqrt(warmup_steps=4, peak_lr=1.0)([0, 1, 3, 15])
    array([0.25, 0.5 , 1.  , 0.5 ])

    The paper's base model (:math:`d_{model} = 512`, :math:`W = 4000`) peaks at
    :math:`1/\sqrt{512 \cdot 4000} \approx 6.99 \cdot 10^{-4}`:

    >>> round(InverseSqrt.from_d_model(512, warmup_steps=4000).peak_lr, 8)
    0.00069877

    Reference: Vaswani et al., *Attention Is All You Need*, NeurIPS 2017, eq. (3).
    """

    warmup_steps: int
    peak_lr: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "warmup_steps", _checks.integer("warmup_steps", self.warmup_steps, minimum=1))
        object.__setattr__(self, "peak_lr", _checks.learning_rate("peak_lr", self.peak_lr))

    @classmethod
    def from_d_model(cls, d_model: int, warmup_steps: int = 4000, scale: float = 1.0) -> "InverseSqrt":
        r"""The paper's parametrisation: peak :math:`\text{scale} \cdot d_{model}^{-1/2} W^{-1/2}`.

        With ``scale=1`` the values equal eq. (3) of Vaswani et al. at step :math:`n = t + 1`.
        """
        d_model = _checks.integer("d_model", d_model, minimum=1)
        warmup_steps = _checks.integer("warmup_steps", warmup_steps, minimum=1)
        scale = _checks.learning_rate("scale", scale)
        return cls(warmup_steps, scale / math.sqrt(d_model * warmup_steps))

    def formula(self, t: Any, xp: Any) -> Any:
        n = t + 1.0
        w = self.warmup_steps
        factor = xp.where(n < w, n / w, xp.sqrt(w / n))
        return self.peak_lr * factor


class InverseSqrtScheduler(ScheduledLR):
    """Inverse-square-root decay with linear warmup as a torch scheduler (closed form: :class:`InverseSqrt`).

    Parameters
    ----------
    optimizer:
        The wrapped optimizer; its groups keep their lr ratios (see :class:`~lrsched.ScheduledLR`).
    warmup_steps:
        Steps to the peak, ``>= 1``; the ``warmup_steps``-th optimizer step runs at ``peak_lr``.
    peak_lr:
        The largest lr of the reference group.
    last_epoch:
        See :class:`~lrsched.ScheduledLR`.

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = InverseSqrtScheduler(opt, warmup_steps=100, peak_lr=1e-3)
    >>> sched.lr_at([0, 99, 399]).round(8).tolist()  # peak / 100, the peak, peak * sqrt(100 / 400)
    [1e-05, 0.001, 0.0005]
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, peak_lr: float, last_epoch: int = -1) -> None:
        super().__init__(optimizer, InverseSqrt(warmup_steps, peak_lr), last_epoch)


# ----------------------------------------------------------------------------------------------
# One-cycle
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OneCycle(Schedule):
    r"""One cycle (Smith & Topin, 2019), learning rate only: up to ``max_lr``, then far below the start.

    With :math:`\eta_0 = \eta_{max} / \text{div\_factor}`, :math:`\eta_{final} = \eta_0 /
    \text{final\_div\_factor}` and the peak at step :math:`P = \text{pct\_start} \cdot T`
    (not rounded to a step, see :attr:`peak_step`):

    .. math::

        \eta(t) = \begin{cases}
            \eta_0 + (\eta_{max} - \eta_0)\,\big(1 - d(t/P)\big) & t < P \\
            \eta_{final} + (\eta_{max} - \eta_{final})\, d(u), \quad u = \min\big(\tfrac{t - P}{T - P}, 1\big) & t \ge P
        \end{cases}

    with :math:`d(u) = \tfrac12(1 + \cos \pi u)` for ``anneal_strategy="cos"`` and :math:`d(u) = 1 - u`
    for ``"linear"`` (both fall from 1 to 0). The lr is :math:`\eta_0` at step 0, ``max_lr`` at step :math:`P`,
    :math:`\eta_{final}` at step ``total_steps`` and after.

    Smith & Topin's original policy has a third phase (back to :math:`\eta_0` linearly, then a short
    "annihilation" far below it); the two-phase form is torch's and fastai's default, and
    ``three_phase=True`` gives torch's three phases: up to ``max_lr`` by :math:`P`, back down to
    :math:`\eta_0` by :math:`2P`, then to :math:`\eta_{final}` at :math:`T` (all with the same
    annealing shape). Momentum cycling is not part of this schedule.

    Relation to :class:`torch.optim.lr_scheduler.OneCycleLR`: torch puts the end of the last phase at
    step ``total_steps - 1`` and the peak at ``pct_start * total_steps - 1``, and raises when stepped
    further; lrsched ends at step ``total_steps`` (like its other schedules) and then holds. The two
    agree when torch gets ``total_steps = T + 1`` and ``pct_start = (P + 1) / (T + 1)``.

    Parameters
    ----------
    total_steps:
        :math:`T \ge 1`, the step at which the lr reaches its final value.
    max_lr:
        The peak lr.
    pct_start:
        Fraction of ``total_steps`` spent rising, in ``(0, 1)``.
    anneal_strategy:
        ``"cos"`` or ``"linear"`` (torch's names).
    div_factor:
        ``max_lr / initial lr``, ``>= 1``.
    final_div_factor:
        ``initial lr / final lr``, ``>= 1``.
    three_phase:
        Torch's third phase (see above); needs ``pct_start < 0.5``.

    Examples
    --------
    Initial lr :math:`1/10`, final :math:`1/100`, peak at step :math:`0.2 \cdot 10 = 2`, linear phases:

    >>> sched = OneCycle(total_steps=10, max_lr=1.0, pct_start=0.2, anneal_strategy="linear",
    ...                  div_factor=10.0, final_div_factor=10.0)
    >>> sched([0, 1, 2, 6, 10, 12])
    array([0.1  , 0.55 , 1.   , 0.505, 0.01 , 0.01 ])

    Reference: Smith & Topin, *Super-Convergence: Very Fast Training of Neural Networks Using Large
    Learning Rates*, 2019.
    """

    total_steps: int
    max_lr: float
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "total_steps", _checks.integer("total_steps", self.total_steps, minimum=1))
        set_(self, "max_lr", _checks.learning_rate("max_lr", self.max_lr))
        set_(self, "pct_start", _checks.real("pct_start", self.pct_start, low=0.0, high=1.0, low_open=True, high_open=True))
        set_(self, "anneal_strategy", _choice("anneal_strategy", self.anneal_strategy, ANNEAL_STRATEGIES))
        set_(self, "div_factor", _checks.real("div_factor", self.div_factor, low=1.0))
        set_(self, "final_div_factor", _checks.real("final_div_factor", self.final_div_factor, low=1.0))
        if not isinstance(self.three_phase, (bool, np.bool_)):
            raise TypeError(f"three_phase must be a bool, got {self.three_phase!r} ({type(self.three_phase).__name__})")
        set_(self, "three_phase", bool(self.three_phase))
        if self.three_phase and not 2.0 * self.peak_step < self.total_steps:
            raise ValueError(
                "with three_phase=True, pct_start must be < 0.5 (the fall back to the initial lr ends at "
                f"2 * pct_start * total_steps, before total_steps), got pct_start={self.pct_start!r}"
            )

    @property
    def initial_lr(self) -> float:
        """The lr at step 0, ``max_lr / div_factor``."""
        return self.max_lr / self.div_factor

    @property
    def final_lr(self) -> float:
        """The lr from step ``total_steps`` on, ``initial_lr / final_div_factor``."""
        return self.initial_lr / self.final_div_factor

    @property
    def peak_step(self) -> float:
        """The step :math:`P = \\text{pct\\_start} \\cdot T` where the lr is ``max_lr``.

        It may be fractional; when it is an integer up to rounding (``0.29 * 100`` is
        ``28.999999999999996`` in floating point) it is that integer, so the peak lands on a step.
        """
        peak = self.pct_start * self.total_steps
        nearest = round(peak)
        on_a_step = 1 <= nearest < self.total_steps and abs(peak - nearest) <= 1e-12 * self.total_steps
        return float(nearest) if on_a_step else peak

    def _falling(self, u: Any, xp: Any) -> Any:
        """The shape falling from 1 at ``u = 0`` to exactly 0 at ``u = 1``."""
        return 1.0 - u if self.anneal_strategy == "linear" else 0.5 * (1.0 + xp.cos(xp.pi * u))

    def formula(self, t: Any, xp: Any) -> Any:
        peak, total = self.peak_step, self.total_steps
        initial, final, top = self.initial_lr, self.final_lr, self.max_lr
        rise = initial + (top - initial) * (1.0 - self._falling(xp.clip(t / peak, 0.0, 1.0), xp))
        if not self.three_phase:
            fall = final + (top - final) * self._falling(xp.clip((t - peak) / (total - peak), 0.0, 1.0), xp)
            lr = xp.where(t < peak, rise, xp.where(t > peak, fall, top))
            return xp.clip(lr, final, top)
        # Three phases: back down to the initial lr by step 2P, then the anneal to the final lr.
        back = 2.0 * peak
        down = initial + (top - initial) * self._falling(xp.clip((t - peak) / peak, 0.0, 1.0), xp)
        anneal = final + (initial - final) * self._falling(xp.clip((t - back) / (total - back), 0.0, 1.0), xp)
        lr = xp.where(t < peak, rise, xp.where(t == peak, top, xp.where(t < back, down, anneal)))
        return xp.clip(lr, final, top)


class OneCycleScheduler(ScheduledLR):
    """torch's ``OneCycleLR``, learning rate only, step for step (closed form: :class:`OneCycle`).

    Same positions, keywords and learning rates as :class:`torch.optim.lr_scheduler.OneCycleLR`
    (``total_steps`` or ``epochs`` times ``steps_per_epoch``; ``three_phase``; a ``max_lr`` per
    group): step ``t`` runs at torch's lr for step ``t``, the peak comes at step
    ``pct_start * total_steps - 1`` and the final lr at step ``total_steps - 1``. This is
    :class:`OneCycle` over ``total_steps - 1`` steps with its peak moved to match.

    Parameters
    ----------
    optimizer:
        The wrapped optimizer.
    max_lr:
        The peak lr: one number (the reference group's peak; other groups keep their lr ratios),
        or one per param group (each group gets its own peak, as in torch).
    total_steps:
        Steps in the cycle; or leave it ``None`` and give ``epochs`` and ``steps_per_epoch``.
    epochs, steps_per_epoch:
        ``total_steps = epochs * steps_per_epoch`` when ``total_steps`` is ``None``.
    pct_start, anneal_strategy, div_factor, final_div_factor, three_phase:
        As in torch's ``OneCycleLR`` (and :class:`OneCycle`). ``pct_start * total_steps`` must
        exceed 1 (torch divides by zero at 1).
    last_epoch:
        See :class:`~lrsched.ScheduledLR`.

    Notes
    -----
    Differences from torch's ``OneCycleLR``: it schedules the learning rate only (no momentum
    cycling: pair it with a momentum schedule if you want one); it holds the final lr after
    ``total_steps - 1`` instead of raising; with a single ``max_lr`` the groups keep their lr
    ratios (torch gives every group the same peak); the state is plain numbers. (lrsched's own
    closed form :class:`OneCycle` ends at step ``total_steps``, like its other schedules.)

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = OneCycleScheduler(opt, max_lr=0.5, total_steps=100)
    >>> opt.param_groups[0]["lr"], sched.lr_at([29, 99]).tolist()  # max_lr / 25; peak at 0.3 * 100 - 1
    (0.02, [0.5, 2e-06])
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("give total_steps, or both epochs and steps_per_epoch (all are None)")
            epochs = _checks.integer("epochs", epochs, minimum=1)
            steps_per_epoch = _checks.integer("steps_per_epoch", steps_per_epoch, minimum=1)
            total_steps = epochs * steps_per_epoch
        total_steps = _checks.integer("total_steps", total_steps, minimum=2)
        pct_start = _checks.real("pct_start", pct_start, low=0.0, high=1.0, low_open=True, high_open=True)
        peak = pct_start * total_steps - 1.0  # torch's end of the first phase
        if not peak > 0.0:
            raise ValueError(
                f"pct_start * total_steps must be > 1 (the peak step is pct_start * total_steps - 1), "
                f"got pct_start={pct_start!r} and total_steps={total_steps}"
            )
        groups = optimizer.param_groups
        if isinstance(max_lr, (list, tuple)):
            if len(max_lr) != len(groups):
                raise ValueError(f"max_lr must have one value per param group ({len(groups)}), got {len(max_lr)}")
            peaks = [_checks.learning_rate(f"max_lr[{i}]", lr) for i, lr in enumerate(max_lr)]
        else:
            peaks = [_checks.learning_rate("max_lr", max_lr)]
        div_factor = _checks.real("div_factor", div_factor, low=1.0)
        schedule = OneCycle(
            total_steps - 1, max(peaks), peak / (total_steps - 1), anneal_strategy, div_factor, final_div_factor, three_phase
        )
        if len(peaks) > 1 and last_epoch == -1:
            # Each group's own cycle, as torch: the groups' initial lrs set the ratios.
            for group, group_peak in zip(groups, peaks):
                group["initial_lr"] = group_peak / div_factor
        super().__init__(optimizer, schedule, last_epoch)


# ----------------------------------------------------------------------------------------------
# Exponential ramp (the LR range test)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExponentialRamp(Schedule):
    r"""A geometric sweep from ``start_lr`` to ``end_lr`` over ``steps`` steps, then held at ``end_lr``.

    .. math:: \eta(t) = \eta_{start} \Big(\frac{\eta_{end}}{\eta_{start}}\Big)^{\min(t/n,\,1)}

    Equal steps multiply the lr by the same factor :math:`(\eta_{end}/\eta_{start})^{1/n}`, so a
    sweep over many decades spends equally long in each: the ramp of the LR range test
    (:func:`lrsched.lab.range_test.lr_range_test`). ``end_lr < start_lr`` gives an exponential decay.

    Parameters
    ----------
    start_lr, end_lr:
        The lrs at step 0 and at step ``steps``, both ``> 0``.
    steps:
        :math:`n \ge 1`.

    Examples
    --------
    Three steps from :math:`10^{-3}` to 1 multiply the lr by 10 each:

    >>> ExponentialRamp(start_lr=1e-3, end_lr=1.0, steps=3)([0, 1, 2, 3, 5]).round(6)
    array([0.001, 0.01 , 0.1  , 1.   , 1.   ])

    Reference: Smith, *Cyclical Learning Rates for Training Neural Networks*, WACV 2017 (the range
    test, there with a linear ramp; the exponential one is fastai's ``lr_find``).
    """

    start_lr: float
    end_lr: float
    steps: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_lr", _checks.real("start_lr", self.start_lr, low=0.0, low_open=True))
        object.__setattr__(self, "end_lr", _checks.real("end_lr", self.end_lr, low=0.0, low_open=True))
        object.__setattr__(self, "steps", _checks.integer("steps", self.steps, minimum=1))

    def formula(self, t: Any, xp: Any) -> Any:
        p = xp.clip(t / self.steps, 0.0, 1.0)
        # In log space: end_lr / start_lr overflows for a subnormal start_lr (1e-310 -> inf, and
        # 0 * inf = nan at step 0), while the logs of both ends are always finite.
        # exp, not power: numpy's scalar power takes a sqrt shortcut at p = 0.5 that its
        # array-exponent loop does not, which would break scalar/array bit equality.
        log_start = math.log(self.start_lr)
        lr = np.exp(log_start + p * (math.log(self.end_lr) - log_start))
        low, high = sorted((self.start_lr, self.end_lr))
        lr = xp.where(p <= 0.0, self.start_lr, xp.where(p >= 1.0, self.end_lr, lr))
        return xp.clip(lr, low, high)
