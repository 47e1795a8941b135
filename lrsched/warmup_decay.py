r"""Warmup, then decay: linear, cosine and polynomial schedules (book chapter 2).

Each decay is a map of the progress :math:`p = \min(t / n, 1)` through its ``decay_steps = n``
steps onto :math:`[\eta_{min}, \eta_{max}]`:

.. math::

    \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})\, d(p), \qquad
    d_{lin}(p) = 1 - p, \quad d_{cos}(p) = \tfrac12 (1 + \cos \pi p), \quad d_{poly}(p) = (1 - p)^k .

Because :math:`p` is clipped to 1, every decay ends at ``min_lr`` and stays there. The weight
:math:`d` is applied by an interpolation that is exact at both ends (``max_lr`` at :math:`d = 1`,
``min_lr`` at :math:`d = 0`, bit for bit) and never leaves :math:`[\eta_{min}, \eta_{max}]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch.optim import Optimizer

from . import _checks
from .core import Schedule, with_warmup
from .scheduler import ScheduledLR


def _check_range(max_lr: float, min_lr: float) -> tuple[float, float]:
    max_lr = _checks.learning_rate("max_lr", max_lr)
    min_lr = _checks.learning_rate("min_lr", min_lr)
    _checks.not_above("min_lr", min_lr, "max_lr", max_lr)
    return max_lr, min_lr


@dataclass(frozen=True)
class _Decay(Schedule):
    decay_steps: int
    max_lr: float
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay_steps", _checks.integer("decay_steps", self.decay_steps, minimum=1))
        max_lr, min_lr = _check_range(self.max_lr, self.min_lr)
        object.__setattr__(self, "max_lr", max_lr)
        object.__setattr__(self, "min_lr", min_lr)

    def progress(self, t: Any, xp: Any) -> Any:
        return xp.clip(t / self.decay_steps, 0.0, 1.0)


@dataclass(frozen=True)
class LinearDecay(_Decay):
    r"""Straight line from ``max_lr`` to ``min_lr`` over ``decay_steps``, then held.

    .. math:: \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})(1 - p), \quad p = \min(t/n, 1)

    >>> LinearDecay(decay_steps=4, max_lr=1.0)([0, 1, 4, 8])
    array([1.  , 0.75, 0.  , 0.  ])
    """

    def formula(self, t: Any, xp: Any) -> Any:
        return xp.lerp(self.min_lr, self.max_lr, 1.0 - self.progress(t, xp))


@dataclass(frozen=True)
class CosineDecay(_Decay):
    r"""Half a cosine from ``max_lr`` to ``min_lr`` over ``decay_steps``, then held.

    .. math:: \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})\,\tfrac12 (1 + \cos \pi p)

    Reference: Loshchilov & Hutter, *SGDR*, ICLR 2017 (one cycle, no restart).

    >>> CosineDecay(decay_steps=4, max_lr=1.0)([0, 2, 4, 8])
    array([1. , 0.5, 0. , 0. ])
    """

    def formula(self, t: Any, xp: Any) -> Any:
        return xp.lerp(self.min_lr, self.max_lr, 0.5 * (1.0 + xp.cos(xp.pi * self.progress(t, xp))))


@dataclass(frozen=True)
class PolyDecay(_Decay):
    r"""Polynomial decay of power ``power`` from ``max_lr`` to ``min_lr``, then held.

    .. math:: \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})(1 - p)^k

    ``power=1`` is :class:`LinearDecay`; ``power > 1`` drops fast then flattens, ``power < 1``
    stays high and drops late. Same as torch's ``PolynomialLR`` and Hugging Face's
    polynomial decay.

    >>> PolyDecay(decay_steps=4, max_lr=1.0, power=2.0)([0, 2, 4])
    array([1.  , 0.25, 0.  ])
    """

    power: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "power", _checks.real("power", self.power, low=0.0, low_open=True))

    def formula(self, t: Any, xp: Any) -> Any:
        return xp.lerp(self.min_lr, self.max_lr, xp.power(1.0 - self.progress(t, xp), self.power))


def _check_horizon(t_max: int, warmup_steps: int) -> tuple[int, int]:
    t_max = _checks.integer("t_max", t_max, minimum=1)
    warmup_steps = _checks.integer("warmup_steps", warmup_steps, minimum=0)
    _checks.below("warmup_steps", warmup_steps, "t_max", t_max)
    return t_max, warmup_steps


def _check_init(init_lr: float, max_lr: float) -> float:
    init_lr = _checks.learning_rate("init_lr", init_lr)
    _checks.not_above("init_lr", init_lr, "max_lr", _checks.learning_rate("max_lr", max_lr))
    return init_lr


def warmup_linear(t_max: int, max_lr: float, min_lr: float = 0.0, init_lr: float = 0.0, warmup_steps: int = 0) -> Schedule:
    r"""Linear warmup ``init_lr -> max_lr`` over ``warmup_steps``, linear decay to ``min_lr`` at ``t_max``, then held.

    >>> warmup_linear(t_max=6, max_lr=1.0, warmup_steps=2)([0, 1, 2, 4, 6, 9])
    array([0. , 0.5, 1. , 0.5, 0. , 0. ])
    """
    t_max, warmup_steps = _check_horizon(t_max, warmup_steps)
    init_lr = _check_init(init_lr, max_lr)
    return with_warmup(LinearDecay(t_max - warmup_steps, max_lr, min_lr), warmup_steps, init_lr)


def warmup_cosine(t_max: int, max_lr: float, min_lr: float = 0.0, init_lr: float = 0.0, warmup_steps: int = 0) -> Schedule:
    r"""Linear warmup ``init_lr -> max_lr`` over ``warmup_steps``, cosine decay to ``min_lr`` at ``t_max``, then held.

    >>> warmup_cosine(t_max=6, max_lr=1.0, warmup_steps=2)([0, 1, 2, 4, 6, 9])
    array([0. , 0.5, 1. , 0.5, 0. , 0. ])
    """
    t_max, warmup_steps = _check_horizon(t_max, warmup_steps)
    init_lr = _check_init(init_lr, max_lr)
    return with_warmup(CosineDecay(t_max - warmup_steps, max_lr, min_lr), warmup_steps, init_lr)


def warmup_poly(
    t_max: int, max_lr: float, min_lr: float = 0.0, init_lr: float = 0.0, warmup_steps: int = 0, poly_order: float = 0.5
) -> Schedule:
    r"""Linear warmup ``init_lr -> max_lr``, then polynomial decay of power ``poly_order`` to ``min_lr`` at ``t_max``.

    >>> warmup_poly(t_max=6, max_lr=1.0, warmup_steps=2, poly_order=2.0)([0, 2, 4, 6])
    array([0.  , 1.  , 0.25, 0.  ])
    """
    t_max, warmup_steps = _check_horizon(t_max, warmup_steps)
    init_lr = _check_init(init_lr, max_lr)
    poly_order = _checks.real("poly_order", poly_order, low=0.0, low_open=True)
    return with_warmup(PolyDecay(t_max - warmup_steps, max_lr, min_lr, poly_order), warmup_steps, init_lr)


_ARGS_DOC = """
    Parameters
    ----------
    optimizer:
        The wrapped optimizer; its groups keep their lr ratios (see :class:`~lrsched.ScheduledLR`).
    t_max:
        Total steps, warmup included; the lr reaches ``min_lr`` at step ``t_max`` and stays there.
    max_lr:
        Peak lr (of the reference group), reached at the end of warmup.
    min_lr:
        Final lr.
    init_lr:
        lr at step 0 when ``warmup_steps > 0``.
    warmup_steps:
        Length of the linear warmup, ``0 <= warmup_steps < t_max``.
    last_epoch:
        See :class:`~lrsched.ScheduledLR`.
"""

_DIFFERS_DOC = """
    Notes
    -----
    Differences from pytorch-optimizer 4.1.0: that version is not an ``LRScheduler`` (no
    ``state_dict``), leaves ``min_lr`` in the groups before the first step so the schedule runs
    *one step late*, keeps going past ``t_max`` (linear goes negative, cosine climbs back) and
    writes one value into every param group. Here the lr at step ``t`` is applied by the
    ``t``-th step, is clamped after ``t_max``, and per-group ratios are kept. Its ``step()``
    returns the lr; here ``step()`` returns ``None`` (as torch's schedulers do; read
    ``get_last_lr()``), and bad arguments raise ``ValueError``/``TypeError`` naming the argument
    (4.1.0: ``NegativeLRError``/``NegativeStepError``).
"""


class LinearScheduler(ScheduledLR):
    __doc__ = (
        "Linear warmup, then linear decay to ``min_lr`` at ``t_max`` (closed form: :func:`warmup_linear`).\n"
        + _ARGS_DOC
        + _DIFFERS_DOC
    )

    def __init__(
        self,
        optimizer: Optimizer,
        t_max: int,
        max_lr: float,
        min_lr: float = 0.0,
        init_lr: float = 0.0,
        warmup_steps: int = 0,
        last_epoch: int = -1,
    ) -> None:
        super().__init__(optimizer, warmup_linear(t_max, max_lr, min_lr, init_lr, warmup_steps), last_epoch)


class CosineScheduler(ScheduledLR):
    __doc__ = (
        "Linear warmup, then cosine decay to ``min_lr`` at ``t_max`` (closed form: :func:`warmup_cosine`).\n"
        + _ARGS_DOC
        + _DIFFERS_DOC
    )

    def __init__(
        self,
        optimizer: Optimizer,
        t_max: int,
        max_lr: float,
        min_lr: float = 0.0,
        init_lr: float = 0.0,
        warmup_steps: int = 0,
        last_epoch: int = -1,
    ) -> None:
        super().__init__(optimizer, warmup_cosine(t_max, max_lr, min_lr, init_lr, warmup_steps), last_epoch)


class PolyScheduler(ScheduledLR):
    __doc__ = (
        "Linear warmup, then polynomial decay ``(1 - p)**poly_order`` to ``min_lr`` at ``t_max``"
        " (closed form: :func:`warmup_poly`).\n"
        + _ARGS_DOC
        + """    poly_order:
        Power of the decay, ``> 0`` (1 is linear).
"""
        + _DIFFERS_DOC
        + """
    pytorch-optimizer's ``PolyScheduler`` also *rises*: it computes ``(t - warmup)**poly_order``
    without dividing by the horizon (ported from GSAM's inverse-power decay, which used a negative
    order). Here the progress is normalised, so the lr falls from ``max_lr`` to ``min_lr``.
    Same positions as 4.1.0: ``PolyScheduler(optimizer, poly_order=0.5, **kwargs)``, the rest
    keyword-only. Bad arguments raise ``ValueError``/``TypeError`` naming the argument (4.1.0:
    ``NegativeLRError``/``NegativeStepError``), and ``step()`` returns ``None`` (4.1.0: the lr).
"""
    )

    def __init__(
        self,
        optimizer: Optimizer,
        poly_order: float = 0.5,
        *,
        t_max: int,
        max_lr: float,
        min_lr: float = 0.0,
        init_lr: float = 0.0,
        warmup_steps: int = 0,
        last_epoch: int = -1,
    ) -> None:
        schedule = warmup_poly(t_max, max_lr, min_lr, init_lr, warmup_steps, poly_order)
        super().__init__(optimizer, schedule, last_epoch)
