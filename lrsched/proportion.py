r"""Scheduling more than the learning rate: GSAM's rho in proportion to the lr (book chapter 7).

.. math:: \rho_t = \rho_{min} + (\rho_{max} - \rho_{min})\,
          \frac{\eta_t - \eta_{min}}{\eta_{max} - \eta_{min}}, \quad \text{clamped to } [\rho_{min}, \rho_{max}]

Reference: Zhuang et al., *Surrogate Gap Minimization Improves Sharpness-Aware Training*, ICLR 2022
(the method is called GSAM, surrogate gap guided SAM).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.optim.lr_scheduler import LRScheduler

from . import _checks
from .core import Steps


class ProportionScheduler:
    """A value (e.g. SAM's radius rho) that follows a wrapped lr scheduler's curve, affinely.

    Parameters
    ----------
    lr_scheduler:
        The lr scheduler whose curve rho follows. With an lrsched scheduler the lr is read from its
        closed form (``lr_at``) at this scheduler's own step; with any other torch scheduler, from
        its ``get_last_lr()`` for the group with the largest lr.
    max_lr, min_lr:
        The lr range mapped onto ``[min_value, max_value]`` (``min_lr < max_lr``).
    max_value, min_value:
        The range of the scheduled value. Required: pytorch-optimizer 4.1.0 defaults both to 2.0,
        which silently makes rho a constant.

    Notes
    -----
    Like an lr scheduler: after construction it holds the value of step 0, after ``k`` calls of
    :meth:`step` that of step ``k``; step it once per iteration, next to the lr scheduler.

    Differences from pytorch-optimizer 4.1.0: no constant defaults, the value is clamped to
    ``[min_value, max_value]``, it reads the schedule rather than param group 0 (which can be a
    group with its own, scaled lr), and it has ``state_dict``/``load_state_dict``.

    Examples
    --------
    >>> import torch
    >>> from lrsched import CosineScheduler
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> lr_sched = CosineScheduler(opt, t_max=10, max_lr=0.1)
    >>> rho = ProportionScheduler(lr_sched, max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.01)
    >>> rho.lr_at([0, 5, 10]).round(4)
    array([0.05, 0.03, 0.01])
    """

    def __init__(
        self, lr_scheduler: LRScheduler, max_lr: float, min_lr: float, max_value: float, min_value: float
    ) -> None:
        if not hasattr(lr_scheduler, "get_last_lr"):
            raise TypeError(f"lr_scheduler must be a torch LR scheduler, got {type(lr_scheduler).__name__}")
        self.lr_scheduler = lr_scheduler
        self.max_lr = _checks.learning_rate("max_lr", max_lr)
        self.min_lr = _checks.learning_rate("min_lr", min_lr)
        if self.min_lr >= self.max_lr:
            raise ValueError(
                f"min_lr must be smaller than max_lr, got min_lr={self.min_lr!r} and max_lr={self.max_lr!r}"
            )
        self.max_value = _checks.real("max_value", max_value)
        self.min_value = _checks.real("min_value", min_value)
        _checks.not_above("min_value", self.min_value, "max_value", self.max_value)
        self.step_t = 0
        self._last_value = self._value_now()

    def value_of_lr(self, lr: Any) -> Any:
        """The affine map of an lr (or array of lrs) onto the value range, clamped."""
        # A subnormal lr range can overflow the ratio to inf; the clip below maps it to the
        # correct end of the range, so the overflow is harmless.
        with np.errstate(over="ignore"):
            fraction = (np.asarray(lr, dtype=np.float64) - self.min_lr) / (self.max_lr - self.min_lr)
        values = self.min_value + (self.max_value - self.min_value) * np.clip(fraction, 0.0, 1.0)
        return float(values) if values.ndim == 0 else values

    def lr_at(self, steps: Steps) -> np.ndarray:
        """The scheduled values at ``steps`` (named ``lr_at`` like every scheduler's), without stepping.

        Needs a wrapped scheduler with a closed form (``lr_at``), i.e. an lrsched scheduler.
        """
        if not hasattr(self.lr_scheduler, "lr_at"):
            raise TypeError("lr_at needs a wrapped scheduler with a closed form (an lrsched scheduler)")
        return np.asarray(self.value_of_lr(self.lr_scheduler.lr_at(steps)), dtype=np.float64)

    def _value_now(self) -> float:
        if hasattr(self.lr_scheduler, "lr_at"):
            lr = float(self.lr_scheduler.lr_at(self.step_t))
        else:
            lr = max(float(v) for v in self.lr_scheduler.get_last_lr())
        return float(self.value_of_lr(lr))

    def step(self) -> float:
        """Advance one step and return the new value."""
        self.step_t += 1
        self._last_value = self._value_now()
        return self._last_value

    def get_lr(self) -> float:
        """The current value (named like pytorch-optimizer's, which returns rho here too)."""
        return self._last_value

    def get_last_value(self) -> float:
        """The current value."""
        return self._last_value

    def state_dict(self) -> dict[str, Any]:
        """The step counter and current value, as plain numbers."""
        return {"step_t": self.step_t, "last_value": self._last_value}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step counter and value."""
        self.step_t = int(state_dict["step_t"])
        self._last_value = float(state_dict["last_value"])
