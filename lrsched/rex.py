r"""REX: the reflected-exponential profile for budgeted training (book chapter 4).

With progress :math:`z = \min(t / T, 1)` and mixing weight :math:`\beta \in [0, 1)`:

.. math:: \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})\,\frac{1 - z}{(1 - \beta) + \beta (1 - z)}

:math:`\beta = 1/2` is the paper's profile :math:`(1 - z) / (1/2 + (1 - z)/2)`; :math:`\beta = 0` is
linear decay, and :math:`\beta \to 1` approaches a constant that drops to ``min_lr`` at the end.

Reference: Chen, Wolfe & Kyrillidis, *REX: Revisiting Budgeted Training with an Improved
Schedule*, MLSys 2022.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch.optim import Optimizer

from . import _checks
from .core import Schedule
from .scheduler import ScheduledLR


@dataclass(frozen=True)
class RexDecay(Schedule):
    r"""REX decay from ``max_lr`` (step 0) to ``min_lr`` (step ``total_steps``), then held.

    .. math:: \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})\,\frac{1 - z}{(1 - \beta) + \beta(1 - z)},
              \quad z = \min(t/T, 1)

    >>> RexDecay(total_steps=4, max_lr=1.0)([0, 2, 4])
    array([1.        , 0.66666667, 0.        ])
    """

    total_steps: int
    max_lr: float = 1.0
    min_lr: float = 0.0
    beta: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_steps", _checks.integer("total_steps", self.total_steps, minimum=1))
        object.__setattr__(self, "max_lr", _checks.learning_rate("max_lr", self.max_lr))
        object.__setattr__(self, "min_lr", _checks.learning_rate("min_lr", self.min_lr))
        _checks.not_above("min_lr", self.min_lr, "max_lr", self.max_lr)
        object.__setattr__(self, "beta", _checks.real("beta", self.beta, low=0.0, high=1.0, high_open=True))

    def formula(self, t: Any, xp: Any) -> Any:
        z = xp.clip(t / self.total_steps, 0.0, 1.0)
        # (1 - z) / ((1 - beta) + beta (1 - z)) with the denominator simplified to 1 - beta z:
        # exactly 1 at z = 0 and 0 at z = 1, for every beta.
        return xp.lerp(self.min_lr, self.max_lr, (1.0 - z) / (1.0 - self.beta * z))


class REXScheduler(ScheduledLR):
    """REX schedule as a torch scheduler (closed form: :class:`RexDecay`).

    Parameters
    ----------
    optimizer:
        The wrapped optimizer; its groups keep their lr ratios.
    total_steps:
        Budget ``T``; the lr reaches ``min_lr`` at step ``T`` and stays there.
    max_lr, min_lr:
        lr at step 0 and at step ``T`` (of the reference group).
    beta:
        Mixing weight of the profile, ``0 <= beta < 1``; ``0.5`` is the paper's.
    last_epoch:
        See :class:`~lrsched.ScheduledLR`.

    Notes
    -----
    Differences from pytorch-optimizer 4.1.0: there the groups hold ``min_lr`` (0 by default)
    until the first ``step()``, so the first optimizer step runs at ``min_lr`` and ``max_lr`` is
    never applied, and every group gets the same value. Here step 0 runs at ``max_lr`` and
    groups keep their ratios. Its ``step()`` returns the lr; here ``step()`` returns ``None`` (as
    torch's schedulers do; read ``get_last_lr()``), and bad arguments raise ``ValueError``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int,
        max_lr: float = 1.0,
        min_lr: float = 0.0,
        beta: float = 0.5,
        last_epoch: int = -1,
    ) -> None:
        super().__init__(optimizer, RexDecay(total_steps, max_lr, min_lr, beta), last_epoch)
