"""pytorch-optimizer 4.1.0's scheduler registry: ``load_lr_scheduler`` and ``get_supported_lr_schedulers``.

The same sixteen names as ``pytorch_optimizer.lr_scheduler`` 4.1.0, so code that looks a scheduler
up by name keeps working. Names of schedules lrsched writes as closed forms resolve to lrsched's
schedulers (with the fixes the book explains); the names of torch's own schedulers resolve to
torch's classes, as they do in the reference. ``"one_cycle"`` resolves to
:class:`~lrsched.OneCycleScheduler`, which gives torch's ``OneCycleLR`` learning rates step for step
(learning rate only, no momentum cycling).

>>> load_lr_scheduler("Cosine") is CosineScheduler
True
>>> get_supported_lr_schedulers("cosine*")
['cosine', 'cosine_annealing', 'cosine_annealing_with_warm_restart', 'cosine_annealing_with_warmup']
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable, Sequence

from torch.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    MultiplicativeLR,
    MultiStepLR,
    StepLR,
)

from .beyond import OneCycleScheduler, get_wsd_schedule
from .chebyshev import get_chebyshev_schedule
from .proportion import ProportionScheduler
from .restarts import CosineAnnealingWarmupRestarts
from .rex import REXScheduler
from .warmup_decay import CosineScheduler, LinearScheduler, PolyScheduler

__all__ = ["LR_SCHEDULERS", "UnknownSchedulerError", "get_supported_lr_schedulers", "load_lr_scheduler"]

#: Every 4.1.0 registry name and what it resolves to here.
LR_SCHEDULERS: dict[str, Callable[..., Any]] = {
    "constant": ConstantLR,
    "step": StepLR,
    "multi_step": MultiStepLR,
    "cyclic": CyclicLR,
    "multiplicative": MultiplicativeLR,
    "one_cycle": OneCycleScheduler,
    "cosine": CosineScheduler,
    "poly": PolyScheduler,
    "linear": LinearScheduler,
    "proportion": ProportionScheduler,
    "cosine_annealing": CosineAnnealingLR,
    "cosine_annealing_with_warmup": CosineAnnealingWarmupRestarts,
    "cosine_annealing_with_warm_restart": CosineAnnealingWarmRestarts,
    "chebyshev": get_chebyshev_schedule,
    "rex": REXScheduler,
    "warmup_stable_decay": get_wsd_schedule,
}


class UnknownSchedulerError(ValueError, NotImplementedError):
    """An unknown scheduler name: a ``ValueError`` (lrsched's convention) and the reference's ``NotImplementedError``."""


def load_lr_scheduler(lr_scheduler_name: str) -> Callable[..., Any]:
    """The scheduler class (or factory function) registered under ``lr_scheduler_name``, case-insensitive.

    Raises
    ------
    TypeError
        If the name is not a string.
    UnknownSchedulerError
        If the name is not registered; it is both a ``ValueError`` and, as in the reference, a
        ``NotImplementedError``, and lists the supported names.

    Examples
    --------
    >>> load_lr_scheduler("rex").__name__
    'REXScheduler'
    """
    if not isinstance(lr_scheduler_name, str):
        raise TypeError(
            f"lr_scheduler_name must be a string, got {lr_scheduler_name!r} ({type(lr_scheduler_name).__name__})"
        )
    name = lr_scheduler_name.lower()
    if name not in LR_SCHEDULERS:
        raise UnknownSchedulerError(
            f"lr_scheduler_name {lr_scheduler_name!r} is not a known scheduler; one of {sorted(LR_SCHEDULERS)}"
        )
    return LR_SCHEDULERS[name]


def get_supported_lr_schedulers(filters: str | Sequence[str] | None = None) -> list[str]:
    """The registered names, sorted; with ``filters``, those matching any of the wildcard patterns.

    >>> len(get_supported_lr_schedulers()), get_supported_lr_schedulers(["*warm*", "rex"])
    (16, ['cosine_annealing_with_warm_restart', 'cosine_annealing_with_warmup', 'rex', 'warmup_stable_decay'])
    """
    if filters is None:
        return sorted(LR_SCHEDULERS)
    patterns = [filters] if isinstance(filters, str) else list(filters)
    if not all(isinstance(pattern, str) for pattern in patterns):
        raise TypeError(f"filters must be a string or a sequence of strings, got {filters!r}")
    return sorted({name for pattern in patterns for name in fnmatch.filter(LR_SCHEDULERS, pattern)})
