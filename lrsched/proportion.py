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
        The lr scheduler whose lr rho follows. With an lrsched scheduler the lr is its closed
        form (``lr_at``) at the scheduler's position (times the reference group's outside factor,
        e.g. from ``ReduceLROnPlateau``); with any other torch scheduler, its live
        ``get_last_lr()`` for the group with the largest lr.
    max_lr, min_lr:
        The lr range mapped onto ``[min_value, max_value]`` (``min_lr <= max_lr``). With
        ``min_lr == max_lr`` the value is ``max_value`` at every lr (as in pytorch-optimizer 4.1.0).
    max_value, min_value:
        The range of the scheduled value. Required: pytorch-optimizer 4.1.0 defaults both to 2.0,
        which silently makes rho a constant.

    Notes
    -----
    Step it once per iteration, next to the lr scheduler, before or after it: with an lrsched
    scheduler the value after ``k`` calls of :meth:`step` is that of the lr scheduler's step
    ``k`` either way. The position starts at the lr scheduler's (so a scheduler resumed before
    this one is built is followed from where it is) and follows it whenever the lr scheduler
    is moved otherwise (``load_state_dict``, ``step(epoch)``): each :meth:`step` adds one, and
    whenever the lr scheduler is more than one step away from that position (one step either
    way is the two schedulers' ``step()`` calls in either order), the position becomes the lr
    scheduler's (then exact if the lr scheduler has already stepped in this iteration, as the
    reference asks: "call step() after advancing the learning rate scheduler").

    Differences from pytorch-optimizer 4.1.0: no constant defaults, the value is clamped to
    ``[min_value, max_value]``, it reads the reference group rather than param group 0 (which
    can be a group with its own, scaled lr), and it has ``state_dict``/``load_state_dict``
    (the value itself is never stored: it is always that of the lr scheduler's lr).

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
        _checks.not_above("min_lr", self.min_lr, "max_lr", self.max_lr)
        self.max_value = _checks.real("max_value", max_value)
        self.min_value = _checks.real("min_value", min_value)
        _checks.not_above("min_value", self.min_value, "max_value", self.max_value)
        self.step_t = 0
        self._at: int | float | None = None  # the position in the lr scheduler's steps
        if self._follows_closed_form():
            self._at = self.lr_scheduler.last_epoch

    def value_of_lr(self, lr: Any) -> Any:
        """The affine map of an lr (or array of lrs) onto the value range, clamped.

        ``max_value`` everywhere when ``min_lr == max_lr`` (the reference's rule).
        """
        if self.max_lr == self.min_lr:
            values = np.full(np.shape(lr), self.max_value, dtype=np.float64)
            return float(values) if values.ndim == 0 else values
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

    def _follows_closed_form(self) -> bool:
        return hasattr(self.lr_scheduler, "lr_at") and hasattr(self.lr_scheduler, "last_epoch")

    def _position(self) -> int | float:
        """This scheduler's step, re-synchronised with the lr scheduler's when they parted."""
        scheduler_at = self.lr_scheduler.last_epoch
        if self._at is None or not self._at - 1 <= scheduler_at <= self._at + 1:
            self._at = scheduler_at
        return self._at

    def current_lr(self) -> float:
        """The lr that the current value maps (see ``lr_scheduler`` above)."""
        if self._follows_closed_form():
            factors = getattr(self.lr_scheduler, "outside_factors", None)
            reference = getattr(self.lr_scheduler, "reference_group", 0)
            factor = float(factors[reference]) if factors else 1.0
            return float(self.lr_scheduler.lr_at(self._position())) * factor
        return max(float(v) for v in self.lr_scheduler.get_last_lr())

    def step(self) -> float:
        """Advance one step and return the new value."""
        self.step_t += 1
        if self._follows_closed_form():
            before = self._at
            if self._position() == before:  # in step: advance; re-synchronised: already there
                self._at = before + 1
        return self.get_lr()

    def get_lr(self) -> float:
        """The current value (named like pytorch-optimizer's, which returns rho here too)."""
        return float(self.value_of_lr(self.current_lr()))

    def get_last_value(self) -> float:
        """The current value."""
        return self.get_lr()

    def state_dict(self) -> dict[str, Any]:
        """The step counter and position, as plain numbers (the value follows the lr scheduler)."""
        return {"step_t": self.step_t, "position": self._at}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step counter and position (older states' ``"last_value"`` is not needed)."""
        self.step_t = _checks.integer("state_dict step_t", state_dict["step_t"], minimum=0)
        position = state_dict.get("position")
        self._at = None if position is None else _checks.real("state_dict position", position, low=0.0)
        if isinstance(position, int) and not isinstance(position, bool):
            self._at = position
