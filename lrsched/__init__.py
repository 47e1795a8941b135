"""lrsched: learning-rate schedules as closed forms, with thin torch schedulers over them.

Every schedule is a pure, vectorized function of the step (:class:`~lrsched.core.Schedule`);
every torch scheduler is a :class:`ScheduledLR` over one, so plots, training and tests all read
the same formula.
"""

from .beyond import (
    ExponentialRamp,
    InverseSqrt,
    InverseSqrtScheduler,
    OneCycle,
    OneCycleScheduler,
    SqrtCooldown,
    SquareCooldown,
    WarmupStableDecay,
    WSDScheduler,
    get_wsd_schedule,
)
from .chebyshev import (
    ChebyshevScheduler,
    ChebyshevSteps,
    get_chebyshev_lr,
    get_chebyshev_lr_lambda,
    get_chebyshev_perm_steps,
    get_chebyshev_permutation,
    get_chebyshev_schedule,
    get_chebyshev_steps,
)
from .compat import get_supported_lr_schedulers, load_lr_scheduler
from .core import Constant, Joined, LinearRamp, Schedule, join_schedules, with_warmup
from .factory import get_scheduler
from .layerwise import deberta_v3_large_lr_scheduler, layer_decay_param_groups
from .proportion import ProportionScheduler
from .restarts import CosineAnnealingWarmupRestarts, CosineRestarts
from .rex import RexDecay, REXScheduler
from .scheduler import ScheduledLR
from .warmup_decay import (
    CosineDecay,
    CosineScheduler,
    LinearDecay,
    LinearScheduler,
    PolyDecay,
    PolyScheduler,
    warmup_cosine,
    warmup_linear,
    warmup_poly,
)

__version__ = "0.1.0"

__all__ = [
    # closed forms and composition
    "Schedule",
    "Constant",
    "LinearRamp",
    "Joined",
    "join_schedules",
    "with_warmup",
    "LinearDecay",
    "CosineDecay",
    "PolyDecay",
    "warmup_linear",
    "warmup_cosine",
    "warmup_poly",
    "RexDecay",
    "CosineRestarts",
    "ChebyshevSteps",
    # torch schedulers (drop-in names of pytorch-optimizer)
    "ScheduledLR",
    "LinearScheduler",
    "CosineScheduler",
    "PolyScheduler",
    "REXScheduler",
    "CosineAnnealingWarmupRestarts",
    "ChebyshevScheduler",
    "ProportionScheduler",
    "get_chebyshev_steps",
    "get_chebyshev_permutation",
    "get_chebyshev_lr",
    "get_chebyshev_lr_lambda",
    "get_chebyshev_perm_steps",
    "get_chebyshev_schedule",
    "get_wsd_schedule",
    "load_lr_scheduler",
    "get_supported_lr_schedulers",
    # the Hugging Face factory
    "get_scheduler",
    # beyond the reference page
    "SqrtCooldown",
    "SquareCooldown",
    "WarmupStableDecay",
    "WSDScheduler",
    "InverseSqrt",
    "InverseSqrtScheduler",
    "OneCycle",
    "OneCycleScheduler",
    "ExponentialRamp",
    # param groups
    "layer_decay_param_groups",
    "deberta_v3_large_lr_scheduler",
]
