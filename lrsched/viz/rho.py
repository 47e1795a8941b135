r"""What chapter 7's explorer draws: GSAM's radius :math:`\rho_t` against the learning rate.

GSAM ties SAM's radius to the learning rate by the straight line through
:math:`(\eta_{\min}, \rho_{\min})` and :math:`(\eta_{\max}, \rho_{\max})`:

.. math:: \rho_t = \rho_{\min} + (\rho_{\max} - \rho_{\min})\,
          \frac{\eta_t - \eta_{\min}}{\eta_{\max} - \eta_{\min}},

clamped to :math:`[\rho_{\min}, \rho_{\max}]` by :class:`lrsched.ProportionScheduler`
(pytorch-optimizer 4.1.0's version does not clamp). :func:`rho_explorer_data` returns, for one
setting of the controls, the tables the explorer draws: the learning rate of an lrsched
scheduler (its closed form), :math:`\rho_t` from :class:`lrsched.ProportionScheduler` (its closed
form) and, for comparison, pytorch-optimizer's ``ProportionScheduler`` stepped next to the same
schedule; and the pairs :math:`(\eta_t, \rho_t)`, which lie on the line. Nothing here re-derives
a schedule: every number comes from lrsched's closed forms or from the reference library.

Reference: Zhuang et al., *Surrogate Gap Minimization Improves Sharpness-Aware Training*,
ICLR 2022.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import torch

from .. import CosineScheduler, LinearScheduler, PolyScheduler, ProportionScheduler

__all__ = ["RHO_SCHEDULES", "rho_explorer_data"]

#: The lr schedules the explorer offers: name -> (optimizer, steps, max_lr, min_lr, warmup)
#: -> an lrsched scheduler.
RHO_SCHEDULES: dict[str, Callable[..., object]] = {
    "cosine": lambda opt, steps, max_lr, min_lr, warmup: CosineScheduler(
        opt, t_max=steps, max_lr=max_lr, min_lr=min_lr, warmup_steps=warmup
    ),
    "linear": lambda opt, steps, max_lr, min_lr, warmup: LinearScheduler(
        opt, t_max=steps, max_lr=max_lr, min_lr=min_lr, warmup_steps=warmup
    ),
    "poly, order 2": lambda opt, steps, max_lr, min_lr, warmup: PolyScheduler(
        opt, t_max=steps, max_lr=max_lr, min_lr=min_lr, warmup_steps=warmup, poly_order=2.0
    ),
}


def _scheduler(schedule: str, steps: int, max_lr: float, final_lr: float, warmup_steps: int):
    if schedule not in RHO_SCHEDULES:
        raise ValueError(f"schedule must be one of {sorted(RHO_SCHEDULES)}, got schedule={schedule!r}")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=max_lr)
    return RHO_SCHEDULES[schedule](optimizer, steps, max_lr, final_lr, warmup_steps)


def rho_explorer_data(
    schedule: str = "cosine",
    warmup_steps: int = 30,
    rho_max: float = 0.3,
    rho_min: float = 0.05,
    map_lr_min: float = 0.0,
    *,
    final_lr: float = 0.0,
    max_lr: float = 0.1,
    steps: int = 300,
    every: int = 5,
) -> dict[str, dict[str, list]]:
    r"""The explorer's tables for one setting: :math:`\eta_t`, :math:`\rho_t` and the map between them.

    Parameters
    ----------
    schedule : {"cosine", "linear", "poly, order 2"}
        The lr schedule (an lrsched scheduler with linear warmup from 0).
    warmup_steps : int
        Warmup length of the lr schedule.
    rho_max, rho_min : float
        The radius range, ``0 <= rho_min <= rho_max`` (``ProportionScheduler`` checks it).
    map_lr_min : float
        :math:`\eta_{\min}`, the learning rate mapped onto ``rho_min`` (``max_lr`` is mapped onto
        ``rho_max``). Set it above ``final_lr`` and :math:`\eta_t` leaves the mapped range.
    final_lr : float
        The schedule's final learning rate.
    max_lr : float
        Peak learning rate, also :math:`\eta_{\max}` of the map.
    steps : int
        Length of the schedule; the tables run over steps ``0 .. steps``.
    every : int
        Keep every ``every``-th step (and the last), to keep the explorer small.

    Returns
    -------
    dict
        ``"lr"``: columns ``step``, ``lr``; ``"rho"``: columns ``step``, ``rho``, ``source``
        (``"lrsched"`` or ``"pytorch-optimizer 4.1.0"``, stepped); ``"map"``: columns ``lr``,
        ``rho`` (lrsched's pairs).

    Raises
    ------
    ValueError
        lrsched's own message for a setting it rejects (e.g. ``rho_min > rho_max``), or an
        unknown ``schedule``.

    Examples
    --------
    >>> data = rho_explorer_data("cosine", warmup_steps=30, rho_max=0.3, rho_min=0.05)
    >>> data["lr"]["step"][6], round(data["lr"]["lr"][6], 4), round(data["rho"]["rho"][6], 4)
    (30, 0.1, 0.3)
    """
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"every must be a positive int, got every={every!r}")
    lr_scheduler = _scheduler(schedule, steps, max_lr, final_lr, warmup_steps)
    rho = ProportionScheduler(
        lr_scheduler, max_lr=max_lr, min_lr=map_lr_min, max_value=rho_max, min_value=rho_min
    )
    t = np.arange(steps + 1)
    keep = np.unique(np.append(t[::every], steps))
    lr = np.asarray(lr_scheduler.lr_at(t), dtype=float)
    ours = np.asarray(rho.lr_at(t), dtype=float)
    reference = _reference_rho(schedule, steps, max_lr, final_lr, warmup_steps, map_lr_min, rho_max, rho_min)
    step_list = keep.tolist()
    return {
        "lr": {"step": step_list, "lr": lr[keep].tolist()},
        "rho": {
            "step": step_list * 2,
            "rho": ours[keep].tolist() + reference[keep].tolist(),
            "source": ["lrsched"] * len(keep) + ["pytorch-optimizer 4.1.0"] * len(keep),
        },
        "map": {"lr": lr[keep].tolist(), "rho": ours[keep].tolist()},
    }


def _reference_rho(schedule, steps, max_lr, final_lr, warmup_steps, map_lr_min, rho_max, rho_min) -> np.ndarray:
    """pytorch-optimizer's ProportionScheduler, stepped after a fresh copy of the lr scheduler."""
    from pytorch_optimizer.lr_scheduler import ProportionScheduler as ReferenceProportionScheduler

    lr_scheduler = _scheduler(schedule, steps, max_lr, final_lr, warmup_steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference library's own deprecation chatter, if any
        reference = ReferenceProportionScheduler(
            lr_scheduler, max_lr=max_lr, min_lr=map_lr_min, max_value=rho_max, min_value=rho_min
        )
        values = [reference.get_lr()]
        for _ in range(steps):
            lr_scheduler.step()
            values.append(reference.step())
    return np.asarray(values, dtype=float)
