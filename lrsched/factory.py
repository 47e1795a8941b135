r"""``get_scheduler(name, optimizer, ...)``: the Hugging Face factory, over lrsched's closed forms.

The names and arguments of ``transformers.get_scheduler`` (``linear``, ``cosine``,
``cosine_with_restarts``, ``polynomial``, ``constant``, ``constant_with_warmup``, ``inverse_sqrt``,
``warmup_stable_decay``) plus ``rex`` and ``chebyshev``. Every name gives the learning rates of the
Hugging Face schedule of that name step for step (their ``LambdaLR`` multiplies each group's lr
by a factor; here the group with the largest lr follows the closed form and the others keep their
ratios to it, which is the same thing), except where the table in :func:`get_scheduler` says.

Reference: Hugging Face ``transformers.optimization`` (``get_scheduler`` and the
``get_*_schedule_with_warmup`` functions it dispatches to).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch.optim import Optimizer

from . import _checks
from .beyond import InverseSqrt, WSDScheduler, _choice
from .chebyshev import ChebyshevScheduler, ChebyshevSteps
from .core import Constant, LinearRamp, Schedule, join_schedules, with_warmup
from .restarts import CosineRestarts
from .rex import RexDecay
from .scheduler import ScheduledLR
from .warmup_decay import CosineScheduler, LinearScheduler, PolyScheduler

__all__ = ["SCHEDULER_NAMES", "get_scheduler"]

#: The names :func:`get_scheduler` knows: Hugging Face's eight, then lrsched's two.
SCHEDULER_NAMES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "warmup_stable_decay",
    "rex",
    "chebyshev",
)


@dataclass(frozen=True)
class _Shifted(Schedule):
    """``inner`` read ``offset`` steps ahead: ``inner(t + offset)`` (to start a schedule mid-way)."""

    inner: Schedule
    offset: int

    def formula(self, t: Any, xp: Any) -> Any:
        return self.inner.formula(t + self.offset, xp)


def _peak(optimizer: Optimizer) -> float:
    """The reference group's lr: the largest initial lr, which the closed form then follows."""
    return max(float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups)


def _required(name: str, value: Any, what: str) -> int:
    if value is None:
        raise ValueError(f"get_scheduler({name!r}) requires {what}, got None")
    return _checks.integer(what, value, minimum=0)


def _no_extra(name: str, options: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(
            f"get_scheduler({name!r}) got unexpected keyword argument(s) {unknown}; it accepts {list(allowed) or 'none'}"
        )


def get_scheduler(
    name: str,
    optimizer: Optimizer,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: dict[str, Any] | None = None,
    last_epoch: int = -1,
    **kwargs: Any,
) -> ScheduledLR:
    r"""A torch scheduler by name, with Hugging Face ``transformers.get_scheduler``'s names and arguments.

    The optimizer's lrs are the peaks (:math:`\eta`); :math:`W` = ``num_warmup_steps``, :math:`N` =
    ``num_training_steps``. Extra arguments go in ``scheduler_specific_kwargs`` (as in
    transformers) or as keywords.

    ======================== ============================================================= ====================================
    name                     lr at step :math:`t` (after a linear warmup from 0 over W)    extra arguments
    ======================== ============================================================= ====================================
    ``linear``               linear to 0 at :math:`N`, then 0                              --
    ``cosine``               half a cosine to 0 at :math:`N`, then 0                       ``num_cycles=0.5`` (only 0.5)
    ``cosine_with_restarts`` ``num_cycles`` equal cosines to 0, restarting at the peak;    ``num_cycles=1``
                             0 from :math:`N` on
    ``polynomial``           :math:`(\eta - \eta_{end})(1 - p)^{power} + \eta_{end}`       ``lr_end=1e-7``, ``power=1.0``
    ``constant``             :math:`\eta` (no warmup)                                      --
    ``constant_with_warmup`` :math:`\eta`                                                  --
    ``inverse_sqrt``         :math:`\eta \sqrt{\tau / (t - W + \tau)}`                     ``timescale`` (:math:`W`, or 10000)
    ``warmup_stable_decay``  warmup from ``min_lr_ratio`` :math:`\eta`, plateau, cooldown  ``num_decay_steps``,
                             to ``min_lr_ratio`` :math:`\eta` at :math:`W + S + D`         ``num_stable_steps`` (or from
                                                                                           :math:`N`), ``decay_type="cosine"``,
                                                                                           ``min_lr_ratio=0``,
                                                                                           ``warmup_type="linear"``
    ``rex``                  REX to ``min_lr`` at :math:`N` (:class:`~lrsched.RexDecay`)   ``min_lr=0``, ``beta=0.5``
    ``chebyshev``            the fractal Chebyshev steps :math:`\eta\,\eta_{\sigma(t-W)}`  ``m=0.05``, ``M=1.0``
                             over :math:`N - W` steps, repeating (:class:`ChebyshevSteps`)
    ======================== ============================================================= ====================================

    Differences from transformers 5.24 (everything else is its schedule step for step):

    * ``cosine`` accepts only ``num_cycles=0.5``: other values make its "decay" oscillate and clip
      at 0. After :math:`N` transformers' cosine climbs back up (the cosine is periodic; 2.4% of
      the peak 10% of :math:`N - W` later); here it stays at 0. ``cosine_with_restarts`` needs ``N - W`` to be a multiple of ``num_cycles`` (cycles of
      whole steps); transformers allows fractional cycle lengths.
    * ``warmup_stable_decay`` provides the linear warmup only (``warmup_type="linear"``) and
      ``num_cycles=0.5``; when both ``num_training_steps`` and ``num_stable_steps`` are given,
      ``num_stable_steps`` wins, as there (without the warning).
    * Bad arguments raise ``ValueError``/``TypeError`` naming the argument (transformers lets e.g.
      ``num_warmup_steps > num_training_steps`` through to a ``LambdaLR`` that leaves the range).
    * ``rex`` and ``chebyshev`` are lrsched's; transformers has neither. The reduce-on-plateau,
      greedy and cosine-with-min-lr names of transformers are not provided.
    * Like transformers, the lr schedule is a ``torch.optim.lr_scheduler.LRScheduler`` whose
      ``step()`` returns ``None``; its state is plain numbers and resumes bit for bit.

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1e-3)
    >>> sched = get_scheduler("linear", opt, num_warmup_steps=2, num_training_steps=10)
    >>> sched.lr_at([0, 1, 2, 6, 10, 12]).round(6).tolist()
    [0.0, 0.0005, 0.001, 0.0005, 0.0, 0.0]
    """
    name = getattr(name, "value", name)  # transformers' SchedulerType enum
    name = _choice("name", name, SCHEDULER_NAMES)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    options = dict(scheduler_specific_kwargs or {})
    clash = sorted(set(options) & set(kwargs))
    if clash:
        raise TypeError(f"{clash} given both in scheduler_specific_kwargs and as keywords")
    options.update(kwargs)
    peak = _peak(optimizer)

    if name == "constant":
        _no_extra(name, options, ())
        return ScheduledLR(optimizer, Constant(peak), last_epoch)
    warmup = _required(name, num_warmup_steps, "num_warmup_steps")
    if name == "constant_with_warmup":
        _no_extra(name, options, ())
        return ScheduledLR(optimizer, with_warmup(Constant(peak), warmup), last_epoch)
    if name == "inverse_sqrt":
        _no_extra(name, options, ("timescale",))
        timescale = options.get("timescale")
        timescale = (warmup or 10_000) if timescale is None else _checks.integer("timescale", timescale, minimum=1)
        # InverseSqrt(tau) at u is peak * sqrt(tau / (u + 1)) from u = tau - 1 on: shifted by tau - 1,
        # it is transformers' peak * sqrt(tau / (s + tau)) at s = t - W steps after the warmup.
        decay = _Shifted(InverseSqrt(timescale, peak), timescale - 1)
        return ScheduledLR(optimizer, with_warmup(decay, warmup), last_epoch)
    if name == "warmup_stable_decay":
        return _wsd(optimizer, warmup, num_training_steps, options, peak, last_epoch)

    total = _required(name, num_training_steps, "num_training_steps")
    if name != "chebyshev":
        _checks.below("num_warmup_steps", warmup, "num_training_steps", total)
    if name == "linear":
        _no_extra(name, options, ())
        return LinearScheduler(optimizer, total, peak, warmup_steps=warmup, last_epoch=last_epoch)
    if name == "cosine":
        _no_extra(name, options, ("num_cycles",))
        if _checks.real("num_cycles", options.get("num_cycles", 0.5)) != 0.5:
            raise ValueError(f"num_cycles must be 0.5 for 'cosine' (half a cosine), got {options['num_cycles']!r}")
        return CosineScheduler(optimizer, total, peak, warmup_steps=warmup, last_epoch=last_epoch)
    if name == "cosine_with_restarts":
        _no_extra(name, options, ("num_cycles",))
        cycles = _checks.integer("num_cycles", options.get("num_cycles", 1), minimum=1)
        if (total - warmup) % cycles:
            raise ValueError(
                "num_training_steps - num_warmup_steps must be a multiple of num_cycles (cycles of whole steps), "
                f"got {total} - {warmup} and num_cycles={cycles}"
            )
        restarts = CosineRestarts((total - warmup) // cycles, 1.0, peak, 0.0)
        schedule = join_schedules([with_warmup(restarts, warmup), Constant(0.0)], [total])
        return ScheduledLR(optimizer, schedule, last_epoch)
    if name == "polynomial":
        _no_extra(name, options, ("lr_end", "power"))
        lr_end = _checks.learning_rate("lr_end", options.get("lr_end", 1e-7))
        power = options.get("power", 1.0)
        # transformers decays its default lr (optimizer.defaults["lr"]) to lr_end and scales every
        # group by that ratio; the reference group therefore ends at lr_end * peak / default.
        default = _checks.learning_rate("optimizer.defaults['lr']", optimizer.defaults["lr"])
        if not lr_end < default:
            raise ValueError(f"lr_end must be smaller than the optimizer's lr {default!r}, got lr_end={lr_end!r}")
        return PolyScheduler(
            optimizer, poly_order=power, t_max=total, max_lr=peak, min_lr=lr_end * peak / default,
            warmup_steps=warmup, last_epoch=last_epoch,
        )
    if name == "rex":
        _no_extra(name, options, ("min_lr", "beta"))
        rex = RexDecay(total - warmup, peak, options.get("min_lr", 0.0), options.get("beta", 0.5))
        return ScheduledLR(optimizer, with_warmup(rex, warmup), last_epoch)
    # chebyshev: warm up to the base lr, then the fractal steps over the remaining steps, repeating
    _no_extra(name, options, ("m", "M"))
    _checks.below("num_warmup_steps", warmup, "num_training_steps", total)
    steps = ChebyshevSteps(total - warmup, peak, options.get("m", 0.05), options.get("M", 1.0))
    schedule = join_schedules([LinearRamp(0.0, peak, warmup), steps], [warmup]) if warmup else steps
    return ChebyshevScheduler(optimizer, schedule, last_epoch)


def _wsd(
    optimizer: Optimizer, warmup: int, total: int | None, options: dict[str, Any], peak: float, last_epoch: int
) -> WSDScheduler:
    """transformers' ``get_wsd_schedule``: warmup from ``min_lr_ratio``, plateau, cooldown to it."""
    _no_extra(
        "warmup_stable_decay",
        options,
        ("num_decay_steps", "num_stable_steps", "warmup_type", "decay_type", "min_lr_ratio", "num_cycles"),
    )
    if "num_decay_steps" not in options:
        raise ValueError("get_scheduler('warmup_stable_decay') requires num_decay_steps")
    decay = _checks.integer("num_decay_steps", options["num_decay_steps"], minimum=1)
    stable = options.get("num_stable_steps")
    if stable is None:
        if total is None:
            raise ValueError("get_scheduler('warmup_stable_decay') requires num_training_steps or num_stable_steps")
        total = _checks.integer("num_training_steps", total, minimum=1)
        stable = total - warmup - decay
        if stable < 0:
            raise ValueError(
                "num_warmup_steps + num_decay_steps must be <= num_training_steps, got "
                f"{warmup} + {decay} > {total}"
            )
    stable = _checks.integer("num_stable_steps", stable, minimum=0)
    if _choice("warmup_type", options.get("warmup_type", "linear"), ("linear",)) != "linear":  # pragma: no cover
        raise AssertionError
    if _checks.real("num_cycles", options.get("num_cycles", 0.5)) != 0.5:
        raise ValueError(f"num_cycles must be 0.5 (half a cosine), got {options['num_cycles']!r}")
    ratio = _checks.real("min_lr_ratio", options.get("min_lr_ratio", 0.0), low=0.0, high=1.0)
    cooldown = _choice("decay_type", options.get("decay_type", "cosine"), ("linear", "cosine", "1-sqrt"))
    floor = ratio * peak
    return WSDScheduler(
        optimizer, warmup + stable + decay, decay, peak, floor, warmup, floor, cooldown, last_epoch
    )
