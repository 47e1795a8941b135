"""The torch side: one thin ``LRScheduler`` adapter over any closed-form :class:`~lrsched.core.Schedule`.

Conventions (the same for every scheduler in lrsched):

* After construction the optimizer holds the schedule at step 0; after ``k`` calls of
  :meth:`ScheduledLR.step` it holds the schedule at step ``k``.
* Param groups keep their own learning rates. The group with the largest initial lr is the
  *reference group* and follows the schedule exactly; every other group follows the same
  curve scaled by ``its initial lr / reference initial lr``. A group at lr 0 stays at 0.
  (If every group starts at 0, all groups follow the schedule.) A group added later with
  ``optimizer.add_param_group`` is scaled the same way, by its lr at the first step after.
* Another scheduler's factor composes: when something else (``MultiStepLR`` in a
  ``ChainedScheduler``, ``ReduceLROnPlateau``, a hand edit) changed a group's lr since the
  last write, the ratio becomes a persistent factor of that group (see :class:`ScheduledLR`).
* ``state_dict()`` holds plain numbers and strings only, so ``torch.load(..., weights_only=True)``
  reads it, and a scheduler restored from it continues with bit-identical learning rates. It
  names the scheduler class and the schedule's parameters, and loading it into another
  configuration raises.
* No NaN, infinite or negative lr reaches the optimizer: a group's initial lr, a schedule's
  value, another scheduler's change and a loaded state are checked, and refused with an error
  that names the group or the step.
* A group lr that is a tensor (capturable or fused optimizers) is filled in place. Which groups
  hold tensors is checked when the scheduler is built and whenever the optimizer's list of
  param groups is replaced (``optimizer.load_state_dict``); in between, a step costs about as
  much as a bare loop writing one float per group.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from typing import Any

import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from . import _checks
from .core import MAX_STEP, Schedule, Steps

_INF = math.inf

# torch's own step-order warnings (LRScheduler.step), with the same wording so that filters
# and tests written for torch's schedulers match ours.
_OVERRIDDEN_STEP_WARNING = (
    "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
    "initialization. Please, make sure to call `optimizer.step()` before "
    "`lr_scheduler.step()`. See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)
_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
    "In PyTorch 1.1.0 and later, you should call them in the opposite order: "
    "`optimizer.step()` before `lr_scheduler.step()`.  Failure to do this "
    "will result in PyTorch skipping the first value of the learning rate schedule. "
    "See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)


def _checked_lr(what: str, value: Any) -> float:
    """A group's lr (float or tensor) as a float, refused unless finite and >= 0."""
    lr = float(value)
    if not 0.0 <= lr < _INF:
        raise ValueError(f"{what} must be a finite learning rate >= 0, got {lr!r}")
    return lr


def _epoch(epoch: Any) -> int | float:
    """``step(epoch)``'s argument: an int when integral (numpy ints, 3.0), else a float."""
    if isinstance(epoch, torch.Tensor) and epoch.numel() == 1:
        epoch = epoch.item()
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Real):
        raise TypeError(f"epoch must be a real number >= 0, got {epoch!r} ({type(epoch).__name__})")
    if isinstance(epoch, numbers.Integral):
        value: int | float = int(epoch)
    else:
        try:
            value = float(epoch)
        except OverflowError:
            raise ValueError(f"epoch must be a finite number >= 0, got {epoch!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"epoch must be a finite number >= 0, got {value!r}")
        if value.is_integer():
            value = int(value)
    if value < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch!r}")
    if value > MAX_STEP:
        raise ValueError(f"epoch must be <= 2**53 = {MAX_STEP} (the last exact float64 step), got {value!r}")
    return value


def describe(obj: Any) -> Any:
    """A schedule's parameters as plain data (dicts, lists, numbers, strings), for ``state_dict``.

    A dataclass schedule gives its type name and every constructor field (nested schedules
    described the same way); any other schedule gives its type name only.
    """
    if isinstance(obj, Schedule):
        described: dict[str, Any] = {"type": type(obj).__qualname__}
        if dataclasses.is_dataclass(obj):
            for field in dataclasses.fields(obj):
                if field.init and field.compare:
                    described[field.name] = describe(getattr(obj, field.name))
        return described
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    if isinstance(obj, (tuple, list)):
        return [describe(item) for item in obj]
    return repr(obj)


def _differences(saved: Any, mine: Any, path: str) -> list[str]:
    """Where two :func:`describe` results differ, as ``"path: saved X, this scheduler Y"``."""
    if isinstance(saved, dict) and isinstance(mine, dict):
        found = []
        for key in sorted(set(saved) | set(mine), key=str):
            if key not in saved or key not in mine:
                found.append(f"{path}.{key}: saved {saved.get(key, '(absent)')!r}, this scheduler {mine.get(key, '(absent)')!r}")
            else:
                found += _differences(saved[key], mine[key], f"{path}.{key}")
        return found
    if isinstance(saved, (list, tuple)) and isinstance(mine, (list, tuple)) and len(saved) == len(mine):
        found = []
        for index, (a, b) in enumerate(zip(saved, mine)):
            found += _differences(a, b, f"{path}[{index}]")
        return found
    if saved == mine or (isinstance(saved, float) and isinstance(mine, float) and saved != saved and mine != mine):
        return []
    return [f"{path}: saved {saved!r}, this scheduler {mine!r}"]


class ScheduledLR(LRScheduler):
    """Set each param group's lr to ``schedule(step) * group_scale * outside_factor``.

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

    Notes
    -----
    **Composition with other schedulers.** The schedule gives absolute learning rates, but
    torch's chainable schedulers (``MultiStepLR``, ``ExponentialLR``, ``StepLR`` ... in a
    ``ChainedScheduler``, and ``ReduceLROnPlateau`` on top) multiply the lr they find in the
    group. So before each write, every group's lr is compared with what this scheduler last
    wrote there; a difference is taken as a factor from outside,
    ``outside_factor *= lr_found / lr_written``, which then persists in every later write
    and in ``state_dict()`` (``outside_factors``). A ``ReduceLROnPlateau`` reduction therefore
    lasts, and ``ChainedScheduler([ScheduledLR(...), MultiStepLR(...)])`` gives
    ``schedule(t) * gamma ** (milestones passed)``, as a ``LambdaLR`` of that product would.
    A lr changed from 0 to something else has no ratio and raises ``ValueError``. The
    comparison is skipped (the scheduler simply takes over) when the scheduler is (re)started:
    at construction, after :meth:`load_state_dict`, when torch's ``SequentialLR`` hands over to
    it, and when the optimizer's list of param groups was replaced (``optimizer.load_state_dict``).

    **Checkpoints.** ``state_dict()`` first folds in an outside change not yet seen, then stores
    plain numbers plus ``"scheduler"`` (the class) and ``"schedule"`` (the schedule's parameters,
    :func:`describe`) and ``"last_lrs"`` (the groups' lrs, written back on load so a resumed
    optimizer holds the very same values). :meth:`load_state_dict` raises ``ValueError`` naming every difference if
    they do not match this scheduler. States written before lrsched stored them (no
    ``"scheduler"`` key) are accepted without that check, their numbers still validated.

    **Differences from torch's LRScheduler.** ``step(epoch)`` is exact (the closed form at
    ``epoch``, which may be fractional, like ``CosineAnnealingWarmRestarts.step(epoch + i / n)``)
    and does not warn that ``epoch`` is deprecated; ``get_last_lr()`` returns Python floats even
    for tensor lrs; ``state_dict()`` holds only what a resume needs.

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
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral) or last_epoch < -1:
            raise ValueError(f"last_epoch must be an integer >= -1, got {last_epoch!r}")
        last_epoch = int(last_epoch)
        if last_epoch > MAX_STEP:
            raise ValueError(f"last_epoch must be <= 2**53 = {MAX_STEP}, got {last_epoch}")
        self.schedule = schedule
        initial = []
        for index, group in enumerate(optimizer.param_groups):
            _checked_lr(f"param group {index}'s lr", group["lr"])
            group.setdefault("initial_lr", float(group["lr"]))
            initial.append(_checked_lr(f"param group {index}'s initial_lr", group["initial_lr"]))
        reference = max(initial)
        self.reference_group = initial.index(reference)
        self._reference_lr = reference
        self.group_scales = [lr / reference if reference > 0 else 1.0 for lr in initial]
        self.outside_factors = [1.0] * len(initial)
        self._scales = list(self.group_scales)  # group_scales[i] * outside_factors[i]
        self._written: list[Any] | None = None  # the lrs of the last write; None = take over
        self._written_groups: list[dict[str, Any]] | None = None  # the group list they went to
        self._float_groups: list[dict[str, Any]] | None = None  # see _write
        self._factor = 0.0
        super().__init__(optimizer, last_epoch)

    # -- stepping ---------------------------------------------------------------------------
    def step(self, epoch: Any = None) -> None:  # type: ignore[override]
        """Advance one step (or jump to step ``epoch``, any real >= 0) and write the lrs."""
        if self._step_count == 1:
            self._check_step_order()
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
        else:
            self.last_epoch = _epoch(epoch)
        self._write(self.last_epoch)

    def _check_step_order(self) -> None:
        # The same checks and messages as torch's LRScheduler.step (pytorch issue 20124).
        if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
            warnings.warn(_OVERRIDDEN_STEP_WARNING, UserWarning, stacklevel=3)
        elif not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(_ORDER_WARNING, UserWarning, stacklevel=3)

    def _initial_step(self) -> None:
        # Construction, and torch's SequentialLR starting this scheduler: take the groups over.
        self._written = None
        super()._initial_step()

    def _update_lr(self, epoch: Any = None) -> None:
        # torch's SequentialLR calls this at the milestone that hands over to this scheduler
        # (epoch=0): the lrs found were written by the previous scheduler, not a factor to keep.
        self._written = None
        self.last_epoch = self.last_epoch + 1 if epoch is None else _epoch(epoch)
        self._write(self.last_epoch)

    def _write(self, step: int | float) -> None:
        factor = self.schedule(step)
        if not 0.0 <= factor < _INF:  # also False for NaN
            raise ValueError(
                f"the schedule {self.schedule!r} gave the learning rate {factor!r} at step {step}; "
                "a learning rate must be finite and >= 0"
            )
        groups = self.optimizer.param_groups
        if len(groups) != len(self._scales):
            self._add_groups(groups)
        if groups is self._float_groups:
            # Fast path, as cheap as a bare loop: every group held a Python-number lr when this
            # list of groups was last checked. optimizer.load_state_dict replaces the list and
            # add_param_group changes its length; both lead back to the check below. The lrs
            # found are compared as one list; each entry is the very float last written (same
            # object), so an untouched group costs an identity test.
            if self._written is not None and [group["lr"] for group in groups] != self._written:
                self._absorb([group["lr"] for group in groups])
            values = [factor * scale for scale in self._scales]
            for group, value in zip(groups, values):
                group["lr"] = value
            self._factor = factor
            self._written = values
            return
        if groups is not self._written_groups:
            self._written = None  # a new list of groups (optimizer.load_state_dict): take over
        found = [float(group["lr"]) for group in groups]
        if self._written is not None and found != self._written:
            self._absorb(found)
        tensors = False
        written = []
        for group, scale in zip(groups, self._scales):
            value = factor * scale
            if isinstance(group["lr"], torch.Tensor):  # capturable / fused optimizers
                group["lr"].fill_(value)
                written.append(float(group["lr"]))  # as the tensor's dtype holds it
                tensors = True
            else:
                group["lr"] = value
                written.append(value)
        self._factor = factor
        self._written = written
        self._written_groups = groups
        self._float_groups = None if tensors else groups

    def _absorb(self, found: list[Any]) -> None:
        """Turn every group's lr change since the last write into its persistent outside factor."""
        written = self._written
        assert written is not None
        for index, (now, before) in enumerate(zip(found, written)):
            if now is before or now == before:
                continue
            now = _checked_lr(f"param group {index}'s lr (changed outside this scheduler)", now)
            if before == 0.0:
                raise ValueError(
                    f"param group {index}'s lr was changed from 0 to {now!r} outside this scheduler; a "
                    "factor of a zero lr is undefined. Compose with a schedule that does not write 0 "
                    "(e.g. with_warmup(..., init_lr > 0)), or build the whole curve as one lrsched "
                    "Schedule (join_schedules) instead of combining schedulers"
                )
            self.outside_factors[index] *= now / before
        self._scales = [s * f for s, f in zip(self.group_scales, self.outside_factors)]

    def _add_groups(self, groups: list[dict[str, Any]]) -> None:
        """Scale groups added by ``optimizer.add_param_group`` like the others (or refuse a removal)."""
        known = len(self._scales)
        if len(groups) < known:
            raise ValueError(
                f"the optimizer has {len(groups)} param groups, the scheduler was built for {known}; "
                "param groups cannot be removed under a scheduler"
            )
        for index in range(known, len(groups)):
            group = groups[index]
            lr = _checked_lr(f"param group {index}'s lr", group["lr"])
            group.setdefault("initial_lr", lr)
            initial = _checked_lr(f"param group {index}'s initial_lr", group["initial_lr"])
            reference = self._reference_lr
            self.group_scales.append(initial / reference if reference > 0 else 1.0)
            self.outside_factors.append(1.0)
            self.base_lrs.append(initial)
            if self._written is not None:
                self._written.append(group["lr"])  # taken as it is, not as an outside change
        self._scales = [s * f for s, f in zip(self.group_scales, self.outside_factors)]
        self._float_groups = None

    @property
    def _last_lr(self) -> list[float]:  # type: ignore[override]
        # What get_last_lr() returns, built on demand from the factor of the last write
        # (the very products written into the groups), so step() does not build a list.
        return [self._factor * scale for scale in self._scales]

    def get_lr(self) -> list[float]:
        """The lrs of every group at the current step (Python floats)."""
        factor = self.schedule(self.last_epoch)
        return [factor * scale for scale in self._scales]

    _get_closed_form_lr = get_lr

    def lr_at(self, steps: Steps) -> np.ndarray:
        """The reference group's lr at ``steps`` (the schedule alone, without outside factors)."""
        return np.asarray(self.schedule(steps), dtype=np.float64)

    # -- checkpoints ------------------------------------------------------------------------
    def _fold_pending(self) -> None:
        """Take an outside change made since the last write into the factors now."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self._scales):
            self._add_groups(groups)
        if self._written is None or groups is not self._written_groups and groups is not self._float_groups:
            return
        found = [group["lr"] if type(group["lr"]) is float else float(group["lr"]) for group in groups]
        if found != self._written:
            self._absorb(found)
            self._written = [group["lr"] if type(group["lr"]) is float else float(group["lr"]) for group in groups]

    def state_dict(self) -> dict[str, Any]:
        """Class, schedule parameters, counters and group factors, as plain Python data."""
        self._fold_pending()
        return {
            "scheduler": f"{type(self).__module__}.{type(self).__qualname__}",
            "schedule": describe(self.schedule),
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "base_lrs": [float(lr) for lr in self.base_lrs],
            "group_scales": list(self.group_scales),
            "outside_factors": list(self.outside_factors),
            "reference_group": self.reference_group,
            # what the groups hold now (after an outside change, not always schedule * factors
            # to the last bit), so that a resumed optimizer holds exactly the same lrs
            "last_lrs": [float(group["lr"]) for group in self.optimizer.param_groups],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the counters and factors and write the saved step's lrs into the optimizer.

        Raises ``ValueError`` if the state was saved by another scheduler class or schedule
        configuration (naming what differs), or holds a value no scheduler writes.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        missing = [k for k in ("last_epoch", "_step_count", "base_lrs", "group_scales", "reference_group") if k not in state_dict]
        if missing:
            raise ValueError(f"state_dict lacks {', '.join(missing)}: not a state of an lrsched scheduler")
        if "scheduler" in state_dict or "schedule" in state_dict:
            mine = f"{type(self).__module__}.{type(self).__qualname__}"
            found = []
            if state_dict.get("scheduler") != mine:
                found.append(f"scheduler: saved {state_dict.get('scheduler')!r}, this scheduler {mine!r}")
            found += _differences(state_dict.get("schedule"), describe(self.schedule), "schedule")
            if found:
                raise ValueError(
                    "state_dict was saved by a scheduler of another configuration: " + "; ".join(found)
                )
        groups = self.optimizer.param_groups
        scales = [_checks.learning_rate(f"state_dict group_scales[{i}]", s) for i, s in enumerate(state_dict["group_scales"])]
        if len(scales) != len(groups):
            raise ValueError(
                f"state_dict has {len(scales)} param groups, the optimizer has {len(groups)} "
                "(add param groups before loading)"
            )
        factors = [
            _checks.learning_rate(f"state_dict outside_factors[{i}]", f)
            for i, f in enumerate(state_dict.get("outside_factors", [1.0] * len(scales)))
        ]
        base_lrs = [_checks.learning_rate(f"state_dict base_lrs[{i}]", lr) for i, lr in enumerate(state_dict["base_lrs"])]
        if len(factors) != len(scales) or len(base_lrs) != len(scales):
            raise ValueError(
                f"state_dict is inconsistent: {len(scales)} group_scales, {len(factors)} outside_factors, "
                f"{len(base_lrs)} base_lrs"
            )
        reference = _checks.integer("state_dict reference_group", state_dict["reference_group"], minimum=0)
        if reference >= len(scales):
            raise ValueError(f"state_dict reference_group must be < {len(scales)}, got {reference}")
        last_epoch = state_dict["last_epoch"]
        if isinstance(last_epoch, numbers.Real) and not isinstance(last_epoch, bool) and last_epoch == -1:
            raise ValueError("state_dict last_epoch must be >= 0, got -1")
        try:
            last_epoch = _epoch(last_epoch)
        except (TypeError, ValueError) as error:
            raise ValueError(f"state_dict last_epoch: {error}") from None
        step_count = _checks.integer("state_dict _step_count", state_dict["_step_count"], minimum=0)
        last_lrs = state_dict.get("last_lrs")
        if last_lrs is not None:
            last_lrs = [_checks.learning_rate(f"state_dict last_lrs[{i}]", lr) for i, lr in enumerate(last_lrs)]
            if len(last_lrs) != len(scales):
                raise ValueError(f"state_dict is inconsistent: {len(scales)} group_scales, {len(last_lrs)} last_lrs")
        factor = self.schedule(last_epoch)  # checked by _write below; nothing is changed before
        if not 0.0 <= factor < _INF:
            raise ValueError(f"the schedule gives the learning rate {factor!r} at the saved step {last_epoch}")
        self.last_epoch = last_epoch
        self._step_count = step_count
        self.base_lrs = base_lrs
        self.group_scales = scales
        self.outside_factors = factors
        self._scales = [s * f for s, f in zip(scales, factors)]
        self.reference_group = reference
        self._reference_lr = base_lrs[reference]
        self._written = None
        self._float_groups = None
        self._write(self.last_epoch)
        if last_lrs is not None:  # the saved lrs themselves (equal to the write but for outside changes)
            written = []
            for group, lr in zip(groups, last_lrs):
                if isinstance(group["lr"], torch.Tensor):
                    group["lr"].fill_(lr)
                    written.append(float(group["lr"]))
                else:
                    group["lr"] = lr
                    written.append(lr)
            self._written = written

    def __repr__(self) -> str:
        return f"{type(self).__name__}(step={self.last_epoch}, schedule={self.schedule!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_float_groups"] = None  # identity caches, re-checked after unpickling
        state["_written_groups"] = None
        state["_written"] = None
        return state
