"""The torch side: one thin ``LRScheduler`` adapter over any closed-form :class:`~lrsched.core.Schedule`.

Conventions (the same for every scheduler in lrsched):

* After construction the optimizer holds the schedule at step 0; after ``k`` calls of
  :meth:`ScheduledLR.step` it holds the schedule at step ``k``.
* Param groups keep their own learning rates. The group with the largest initial lr is the
  *reference group* and follows the schedule exactly; every other group follows the same
  curve scaled by ``its initial lr / reference initial lr``. A group at lr 0 stays at 0.
  (If every group starts at 0, all groups follow the schedule.)
* ``state_dict()`` holds plain numbers only, so ``torch.load(..., weights_only=True)`` reads
  it, and a scheduler restored from it continues with bit-identical learning rates.
* A group lr that is a tensor (capturable or fused optimizers) is filled in place. Which groups
  hold tensors is checked when the scheduler is built and whenever the optimizer's list of
  param groups is replaced (``optimizer.load_state_dict``); in between, a step costs about as
  much as a bare loop writing one float per group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from .core import Schedule, Steps


class ScheduledLR(LRScheduler):
    """Set each param group's lr to ``schedule(step) * group_scale``.

    Parameters
    ----------
    optimizer:
        The wrapped optimizer.
    schedule:
        The closed form the reference group follows.
    last_epoch:
        ``-1`` to start at step 0. A value ``k >= 0`` starts at step ``k + 1`` on the first
        :meth:`step`; groups without an ``initial_lr`` take their current lr as initial lr
        (torch raises ``KeyError`` there). Prefer :meth:`load_state_dict` for exact resume.

    Examples
    --------
    >>> import torch
    >>> from lrsched import CosineDecay, ScheduledLR
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = ScheduledLR(opt, CosineDecay(decay_steps=10, max_lr=0.5))
    >>> opt.param_groups[0]["lr"]
    0.5
    """

    def __init__(self, optimizer: Optimizer, schedule: Schedule, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be an lrsched Schedule, got {type(schedule).__name__}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"last_epoch must be an integer >= -1, got {last_epoch!r}")
        self.schedule = schedule
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", float(group["lr"]))
        initial = [float(group["initial_lr"]) for group in optimizer.param_groups]
        reference = max(initial)
        self.reference_group = initial.index(reference)
        self.group_scales = [lr / reference if reference > 0 else 1.0 for lr in initial]
        self._float_groups: list[dict[str, Any]] | None = None  # see _write
        super().__init__(optimizer, last_epoch)

    # -- stepping ---------------------------------------------------------------------------
    def step(self, epoch: int | None = None) -> None:  # type: ignore[override]
        """Advance one step (or jump to step ``epoch``) and write the lrs into the optimizer."""
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
        else:
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
            self.last_epoch = epoch
        self._write(self.last_epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        # torch's SequentialLR calls this on its children at milestones (with epoch=0).
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        self._write(self.last_epoch)

    def _write(self, step: int) -> None:
        factor = self.schedule(step)
        scales = self.group_scales
        groups = self.optimizer.param_groups
        if len(groups) != len(scales):
            raise ValueError(
                f"the optimizer has {len(groups)} param groups, the scheduler was built for {len(scales)}"
            )
        self._factor = factor
        if groups is self._float_groups:
            # Fast path, as cheap as a bare loop: every group held a Python-number lr when this
            # list of groups was last checked. optimizer.load_state_dict replaces the list and
            # add_param_group changes its length; both lead back to the check below.
            for group, scale in zip(groups, scales):
                group["lr"] = factor * scale
            return
        tensors = False
        for group, scale in zip(groups, scales):
            if isinstance(group["lr"], torch.Tensor):  # capturable / fused optimizers
                group["lr"].fill_(factor * scale)
                tensors = True
            else:
                group["lr"] = factor * scale
        self._float_groups = None if tensors else groups

    @property
    def _last_lr(self) -> list[float]:  # type: ignore[override]
        # What get_last_lr() returns, built on demand from the factor of the last write
        # (the very products written into the groups), so step() does not build a list.
        return [self._factor * scale for scale in self.group_scales]

    def get_lr(self) -> list[float]:
        """The lrs of every group at the current step (Python floats)."""
        factor = self.schedule(int(self.last_epoch))
        return [factor * scale for scale in self.group_scales]

    _get_closed_form_lr = get_lr

    def lr_at(self, steps: Steps) -> np.ndarray:
        """The reference group's lr at ``steps``, as float64, without changing any state."""
        return np.asarray(self.schedule(steps), dtype=np.float64)

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Counters and group scales, as plain Python numbers (the schedule comes from the constructor)."""
        return {
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "base_lrs": [float(lr) for lr in self.base_lrs],
            "group_scales": list(self.group_scales),
            "reference_group": self.reference_group,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the counters and write the saved step's lrs into the optimizer."""
        scales = list(state_dict["group_scales"])
        if len(scales) != len(self.optimizer.param_groups):
            raise ValueError(
                f"state_dict has {len(scales)} param groups, the optimizer has {len(self.optimizer.param_groups)}"
            )
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict["_step_count"])
        self.base_lrs = list(state_dict["base_lrs"])
        self.group_scales = scales
        self.reference_group = int(state_dict["reference_group"])
        self._float_groups = None
        self._write(self.last_epoch)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(step={self.last_epoch}, schedule={self.schedule!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_float_groups"] = None  # an identity cache, re-checked after unpickling
        return state
