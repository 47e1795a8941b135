r"""The learning-rate range test (Smith, 2017; fastai's ``lr_find``), run through the lab's :func:`train`.

Train for a few hundred steps while the learning rate grows geometrically from tiny to huge
(:class:`lrsched.ExponentialRamp`), and watch the loss: it barely moves while the lr is too small,
falls when the lr is useful, and explodes when it is too large. The lr where the loss still falls
well, somewhat before its minimum, is a good peak lr for a schedule.

This is the one lab module that uses lrsched's own schedules, on purpose: the ramp is an lrsched
closed form and the optimizer is driven by :class:`lrsched.ScheduledLR`, so param groups keep
their lr ratios during the test. The training is the lab's one loop, :func:`train`; a callback
watches the smoothed loss and stops the run when it diverges.
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..beyond import ExponentialRamp
from ..scheduler import ScheduledLR
from .data import DigitsSplit, load_digits_split
from .trainer import History, train

__all__ = ["RangeTestResult", "lr_range_test", "smooth_losses", "suggest_lr"]


def _real(name: str, value: Any, *, low: float, high: float = math.inf, low_open: bool = True, high_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not (math.isfinite(value) and ok):
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {left}{low:g}, {high:g}{right}, got {value!r}")
    return value


def smooth_losses(losses: Any, beta: float = 0.9) -> np.ndarray:
    r"""Exponential moving average of ``losses`` with bias correction (as Adam's moments).

    .. math:: m_i = \beta m_{i-1} + (1 - \beta)\,\ell_i,\quad m_0 = 0, \qquad \hat m_i = \frac{m_i}{1 - \beta^i}

    Without the correction the average starts near 0 (it is initialised at 0); with it, the first
    value is exactly the first loss and every value is a weighted mean of the losses so far.

    >>> smooth_losses([2.0, 4.0], beta=0.5)  # (0.5*2 = 1)/0.5 = 2, then (0.5*1 + 0.5*4 = 2.5)/0.75
    array([2.        , 3.33333333])
    """
    beta = _real("beta", beta, low=0.0, high=1.0, low_open=False)
    losses = np.asarray(losses, dtype=np.float64)
    out = np.empty_like(losses)
    average, weight = 0.0, 1.0
    for i, loss in enumerate(losses):
        average = beta * average + (1.0 - beta) * loss
        weight *= beta
        out[i] = average / (1.0 - weight)
    return out


def suggest_lr(lrs: Any, smoothed: Any) -> tuple[float, float, float]:
    """``(suggestion, min_loss_lr, steepest_lr)`` from a range test's lrs and smoothed losses.

    * ``min_loss_lr``: the lr at the minimum of the smoothed loss;
    * ``steepest_lr``: the lr where the smoothed loss falls fastest per decade of lr (most negative
      finite difference of the smoothed loss against ``log10(lr)``), looked for before the minimum;
    * ``suggestion = min_loss_lr / 10``: the rule of fastai's ``lr_find`` (its ``lr_min``). At the
      minimum the lr is already about to be too large (the loss turns up just after it); a decade
      below, the loss still falls fast. It is the more robust of the two: the steepest slope is a
      derivative of a noisy curve and can sit anywhere on a long, straight descent. If the minimum
      lies within the first decade of the sweep, the suggestion is the first lr (start lower).

    >>> lrs = np.array([1e-3, 1e-2, 1e-1, 1.0, 10.0])
    >>> suggest_lr(lrs, np.array([2.3, 2.2, 1.0, 0.5, 9.0]))  # minimum at 1.0, steepest 1e-2 -> 1e-1
    (0.1, 1.0, 0.01)
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    smoothed = np.asarray(smoothed, dtype=np.float64)
    if lrs.shape != smoothed.shape or lrs.ndim != 1 or lrs.size < 2:
        raise ValueError(f"lrs and smoothed must be 1-d of the same length >= 2, got shapes {lrs.shape} and {smoothed.shape}")
    finite = np.isfinite(smoothed)
    if not finite.any():
        raise ValueError("smoothed has no finite loss")
    best = int(np.argmin(np.where(finite, smoothed, np.inf)))
    min_loss_lr = float(lrs[best])
    if best == 0:
        steepest_lr = float(lrs[0])
    else:
        slopes = np.diff(smoothed[: best + 1]) / np.diff(np.log10(lrs[: best + 1]))
        steepest_lr = float(lrs[int(np.argmin(slopes))])
    return max(min_loss_lr / 10.0, float(lrs[0])), min_loss_lr, steepest_lr


@dataclass(eq=False)
class RangeTestResult:
    """What :func:`lr_range_test` measured.

    Entry ``i`` of every array belongs to the ``i``-th optimizer step of the test.

    Attributes
    ----------
    lrs : numpy.ndarray
        The lr of the reference param group (the largest) during each step.
    losses : numpy.ndarray
        The training loss measured right *after* that step (on the next batch): the effect of the
        lr, rather than the loss the step started from.
    smoothed : numpy.ndarray
        ``losses`` smoothed by :func:`smooth_losses`.
    suggestion : float
        The suggested peak lr, ``min_loss_lr / 10`` (see :func:`suggest_lr`).
    min_loss_lr : float
        The lr at the minimum of ``smoothed``.
    steepest_lr : float
        The lr of the steepest descent of ``smoothed`` against ``log10(lr)``, before its minimum.
    diverged : bool
        Whether the test stopped early because the smoothed loss exceeded ``diverge_factor`` times
        its minimum (or the loss became non-finite or huge).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    min_loss_lr: float
    steepest_lr: float
    diverged: bool

    def plot(self, ax: Any = None, *, label: str | None = None, raw: bool = True) -> Any:
        """Smoothed (and raw) loss against the lr on a log axis, with the suggestion marked.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure if omitted.
        label : str, optional
            Legend label of the smoothed curve.
        raw : bool
            Also draw the raw per-step losses, faintly.

        Returns
        -------
        Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5), constrained_layout=True)
        (line,) = ax.plot(self.lrs, self.smoothed, label=label or "smoothed loss")
        if raw:
            ax.plot(self.lrs, self.losses, color=line.get_color(), alpha=0.25, linewidth=1)
        ax.axvline(self.suggestion, color=line.get_color(), linestyle="--", linewidth=1)
        ax.annotate(
            f"suggestion {self.suggestion:.2g}",
            xy=(self.suggestion, 0.97),
            xycoords=("data", "axes fraction"),
            ha="right",
            va="top",
            rotation=90,
            fontsize=8,
        )
        if np.isfinite(self.smoothed[0]):  # cut the explosion, which would flatten everything else
            ax.set_ylim(0.0, 1.5 * float(self.smoothed[0]))
        ax.set(xscale="log", xlabel="learning rate", ylabel="training loss")
        if label:
            ax.legend()
        return ax


def _check_ramp(ramp: ExponentialRamp, start_lr: float, end_lr: float, steps: int) -> None:
    """Refuse a ramp whose closed form is not a finite, positive lr at every step.

    Such a ramp is a numerical limit of the ramp (e.g. a subnormal ``start_lr``), not a loss that
    diverged, so the advice is about the range, and never "lower start_lr".
    """
    with np.errstate(all="ignore"):  # the warning would only repeat what we raise
        lrs = np.asarray(ramp(np.arange(steps)), dtype=np.float64)
    bad = ~(np.isfinite(lrs) & (lrs > 0))
    if bad.any():
        step = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"the ramp from start_lr={start_lr:g} to end_lr={end_lr:g} gives the lr {float(lrs[step])!r} at "
            f"step {step}: this range is outside what float64 can ramp through; raise start_lr "
            f"(a normal float, >= {np.finfo(np.float64).tiny:g}) rather than lowering it"
        )


def _early_divergence(history: History | None, reference: int, start_lr: float, steps: int) -> Exception:
    """The error for a test that diverged before two losses were recorded, with the right advice.

    If the loss was already non-finite at the initial weights, no start_lr can help: the model or
    the data is at fault. Otherwise the first lrs were too large: lower start_lr.
    """
    if history is not None and history.steps_done >= 1 and not math.isfinite(float(history.loss[0])):
        return ValueError(
            f"the training loss is {float(history.loss[0])!r} at the initial weights, before any step "
            f"(start_lr={start_lr:g} never acted): check the model and the data for non-finite values; "
            "lowering start_lr will not help"
        )
    lr_text = ""
    if history is not None and history.steps_done >= 1:
        lr_text = f" (the lr reached {float(history.lr[-1, reference]):g})"
    return RuntimeError(
        f"the loss diverged within {steps} steps of start_lr={start_lr:g}{lr_text}: "
        "the very first lrs are already too large; lower start_lr"
    )


class _Diverged(Exception):
    """Raised by the watcher callback to stop :func:`train`."""


class _Watcher:
    """Pairs each step's lr with the loss after it, smooths on the fly, and stops on divergence."""

    def __init__(self, reference: int, beta: float, diverge_factor: float) -> None:
        self.reference, self.beta, self.factor = reference, beta, diverge_factor
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.best = math.inf
        self.average, self.weight = 0.0, 1.0

    def add(self, lr: float, loss: float) -> bool:
        """Record one pair; ``True`` when the run should stop."""
        self.average = self.beta * self.average + (1.0 - self.beta) * loss
        self.weight *= self.beta
        smoothed = self.average / (1.0 - self.weight)
        self.lrs.append(lr)
        self.losses.append(loss)
        self.smoothed.append(smoothed)
        if not math.isfinite(smoothed):
            return True
        self.best = min(self.best, smoothed)
        return smoothed > self.factor * self.best

    def __call__(self, step: int, model: nn.Module, history: History) -> None:
        # After step k, history.loss[k - 1] is the loss measured before step k, i.e. after step
        # k - 1, whose lr is history.lr[k - 2].
        if step >= 2 and self.add(float(history.lr[step - 2, self.reference]), float(history.loss[step - 1])):
            raise _Diverged


def lr_range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    start_lr: float = 1e-4,
    end_lr: float = 10.0,
    steps: int = 200,
    beta: float = 0.9,
    diverge_factor: float = 4.0,
    data: DigitsSplit | None = None,
    batch_size: int = 64,
    seed: int = 0,
    num_threads: int = 1,
) -> RangeTestResult:
    r"""Sweep the lr geometrically from ``start_lr`` to ``end_lr`` and suggest a peak lr.

    The reference param group (the one with the largest lr) follows
    ``ExponentialRamp(start_lr, end_lr, steps - 1)``, so step ``i`` runs at
    :math:`\eta_i = \eta_{start} (\eta_{end}/\eta_{start})^{i/(steps-1)}`; other groups keep their
    lr ratio to it. Training goes through :func:`train` (one extra step measures the loss after the
    last lr). After each step, a callback records the loss measured after it, smooths it
    (:func:`smooth_losses`, bias-corrected EMA with factor ``beta``) and stops the run as soon as
    the smoothed loss exceeds ``diverge_factor`` times its minimum so far; :func:`train` itself stops
    on a non-finite loss or one above ``1e3``.

    Afterwards everything is put back: the model's parameters and buffers (bit for bit) and its
    train/eval mode, the optimizer's state (momentum buffers, lrs; any ``initial_lr`` keys the test
    added are removed) and torch's global random state. The test has no side effects.

    Parameters
    ----------
    model : torch.nn.Module
        The model (trained in place during the test, restored afterwards).
    optimizer : torch.optim.Optimizer
        The optimizer the schedule will use; the test runs with exactly this optimizer (momentum,
        weight decay...), because the usable lr depends on it.
    start_lr, end_lr : float
        The ramp's first and last lr, ``0 < start_lr < end_lr``.
    steps : int
        Steps of the ramp, ``>= 2``; a few hundred is typical.
    beta : float
        Smoothing factor of the loss, in ``[0, 1)``; ``0`` is no smoothing. The EMA lags by about
        ``beta / (1 - beta)`` steps, so keep it small for short ramps (0.9: about 9 steps).
    diverge_factor : float
        Stop when the smoothed loss exceeds this multiple of its minimum, ``> 1``.
    data, batch_size, seed, num_threads
        Passed to :func:`train`.

    Returns
    -------
    RangeTestResult
        The lrs, losses, smoothed losses, and the suggestion: ``min_loss_lr / 10`` (see
        :func:`suggest_lr`), which always lies inside the tested range.

    Examples
    --------
    >>> import torch
    >>> from lrsched.lab import TinyMLP
    >>> _ = torch.manual_seed(0)
    >>> model = TinyMLP()
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> result = lr_range_test(model, optimizer, steps=100)
    >>> bool(result.lrs[0] <= result.suggestion <= result.lrs[-1])
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    start_lr = _real("start_lr", start_lr, low=0.0)
    end_lr = _real("end_lr", end_lr, low=0.0)
    if end_lr <= start_lr:
        raise ValueError(f"end_lr must be larger than start_lr, got start_lr={start_lr:g} and end_lr={end_lr:g}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"steps must be an integer, got {steps!r} ({type(steps).__name__})")
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    beta = _real("beta", beta, low=0.0, high=1.0, low_open=False)
    diverge_factor = _real("diverge_factor", diverge_factor, low=1.0)
    data = load_digits_split() if data is None else data
    ramp = ExponentialRamp(start_lr, end_lr, int(steps) - 1)
    _check_ramp(ramp, start_lr, end_lr, int(steps))

    saved_weights = {name: value.detach().clone() for name, value in model.state_dict().items()}
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_rng = torch.get_rng_state()
    was_training = model.training
    try:
        scheduler = ScheduledLR(optimizer, ramp)
        watcher = _Watcher(scheduler.reference_group, beta, diverge_factor)
        diverged = True
        history: History | None = None
        try:
            history = train(
                model,
                optimizer,
                scheduler,
                data=data,
                steps=int(steps) + 1,
                batch_size=batch_size,
                seed=seed,
                eval_every=int(steps) + 1,
                callbacks=(watcher,),
                progress=False,
                num_threads=num_threads,
            )
            diverged = history.diverged
            if diverged and history.steps_done >= 2:  # train stopped on a huge loss: record it
                watcher.add(float(history.lr[-2, watcher.reference]), float(history.loss[-1]))
        except _Diverged as stop:
            history = getattr(stop, "history", None)  # what train() recorded up to the stop
    finally:
        model.load_state_dict(saved_weights)
        model.train(was_training)
        optimizer.load_state_dict(saved_optimizer)
        torch.set_rng_state(saved_rng)

    lrs = np.asarray(watcher.lrs, dtype=np.float64)
    losses = np.asarray(watcher.losses, dtype=np.float64)
    smoothed = np.asarray(watcher.smoothed, dtype=np.float64)
    if lrs.size < 2:
        raise _early_divergence(history, watcher.reference, start_lr, lrs.size + 1)
    suggestion, min_loss_lr, steepest_lr = suggest_lr(lrs, smoothed)
    return RangeTestResult(lrs, losses, smoothed, suggestion, min_loss_lr, steepest_lr, diverged)
