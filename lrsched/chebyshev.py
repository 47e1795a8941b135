r"""Chebyshev step sizes in fractal order (book chapter 5).

Gradient descent on a quadratic whose Hessian spectrum lies in :math:`[m, M]` with steps
:math:`\eta_0, \dots, \eta_{T-1}` multiplies the error by :math:`p(H) = \prod_t (I - \eta_t H)`.
The steps minimising :math:`\max_{\lambda \in [m, M]} |p(\lambda)|` are the reciprocals of the
roots of the shifted Chebyshev polynomial:

.. math:: \eta_t = \Big(\frac{M + m}{2} - \frac{M - m}{2} \cos\frac{(t + \tfrac12)\pi}{T}\Big)^{-1},
          \qquad \max_{[m, M]} |p| = \frac{1}{T_T\big(\frac{M + m}{M - m}\big)} .

The product does not depend on the order of the steps, but the intermediate products do: the
fractal permutation keeps every partial product small, which is what makes the schedule stable.

Reference: Agarwal, Goel & Zhang, *Acceleration via Fractal Learning Rate Schedules*, ICML 2021.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.optim import Optimizer

from . import _checks
from .core import SCALAR, Constant, Schedule
from .scheduler import ScheduledLR


def _check_spectrum(m: float, M: float) -> tuple[float, float]:
    m = _checks.real("m", m, low=0.0, low_open=True)
    M = _checks.real("M", M, low=0.0, low_open=True)
    if m >= M:
        raise ValueError(f"m must be smaller than M, got m={m!r} and M={M!r}")
    return m, M


def get_chebyshev_steps(T: int, m: float = 0.05, M: float = 1.0) -> np.ndarray:
    r"""The ``T`` Chebyshev step sizes for a spectrum in ``[m, M]``, in root order (largest first).

    .. math:: \eta_t = 1 / \big(\tfrac{M+m}{2} - \tfrac{M-m}{2}\cos\tfrac{(t+1/2)\pi}{T}\big), \quad t = 0..T-1

    >>> get_chebyshev_steps(2, m=0.5, M=1.5).round(4)
    array([1.5469, 0.7388])
    """
    T = _checks.integer("T", T, minimum=1)
    m, M = _check_spectrum(m, M)
    centre, radius = (M + m) / 2.0, (M - m) / 2.0
    angles = (np.arange(T) + 0.5) * np.pi / T
    return 1.0 / (centre - radius * np.cos(angles))


def get_chebyshev_permutation(T: int) -> np.ndarray:
    """The fractal order of Agarwal, Goel & Zhang (2021) for ``T`` a power of two.

    Built by doubling: from an order ``sigma`` of length ``n``, the order of length ``2n``
    interleaves each ``i`` of ``sigma`` with its mirror ``2n - 1 - i``. ``T`` that is not a power of
    two gets the next power of two's order restricted to indices ``< T`` (a permutation of ``range(T)``).

    >>> get_chebyshev_permutation(8)
    array([0, 7, 3, 4, 1, 6, 2, 5])
    """
    T = _checks.integer("T", T, minimum=1)
    order = np.zeros(1, dtype=np.int64)
    while len(order) < T:
        order = np.stack([order, 2 * len(order) - 1 - order], axis=1).reshape(-1)
    return order[order < T]


@functools.lru_cache(maxsize=16)
def _fractal_steps(T: int, m: float, M: float) -> np.ndarray:
    """The steps in fractal order, built once per ``(T, m, M)`` (read-only)."""
    steps = get_chebyshev_steps(T, m, M)[get_chebyshev_permutation(T)]
    steps.setflags(write=False)
    return steps


@dataclass(frozen=True)
class ChebyshevSteps(Schedule):
    r"""``lr * eta_{sigma(t mod T)}``: each Chebyshev step once per ``T`` steps, in fractal order.

    >>> ChebyshevSteps(T=4, lr=1.0, m=0.5, M=1.5)([0, 1, 2, 3, 4]).round(4)
    array([1.8585, 0.684 , 1.2366, 0.8394, 1.8585])
    """

    T: int
    lr: float = 1.0
    m: float = 0.05
    M: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "T", _checks.integer("T", self.T, minimum=1))
        object.__setattr__(self, "lr", _checks.learning_rate("lr", self.lr))
        m, M = _check_spectrum(self.m, self.M)
        object.__setattr__(self, "m", m)
        object.__setattr__(self, "M", M)

    def _table(self) -> np.ndarray:
        # Kept on the instance, so a step never depends on the shared cache still holding it
        # (many schedules stepped in turn would otherwise rebuild their tables over and over).
        table = self.__dict__.get("_steps")
        if table is None:
            table = _fractal_steps(self.T, self.m, self.M)
            object.__setattr__(self, "_steps", table)
        return table

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_steps", None)  # rebuilt on first use: pickles stay small for a large T
        return state

    def formula(self, t: Any, xp: Any) -> Any:
        table = self._table()
        if xp is SCALAR:
            index = int(t)
            if index != t:
                raise ValueError(f"Chebyshev steps are indexed by integer steps, got {t}")
            return self.lr * float(table[index % self.T])
        index = t.astype(np.int64)
        if np.any(index != t):
            raise ValueError("Chebyshev steps are indexed by integer steps")
        return self.lr * table[index % self.T]


def get_chebyshev_lr(
    lr: float, epoch: int, num_epochs: int, is_warmup: bool = False, m: float = 0.05, M: float = 1.0
) -> float:
    r"""The Chebyshev learning rate of ``epoch`` (0-based) in a run of ``num_epochs``.

    Returns ``lr`` unchanged during warmup, else ``lr * eta_{sigma(epoch mod num_epochs)}``.

    Differences from pytorch-optimizer 4.1.0: it reads index ``epoch - 2``, so the first step is
    used three times and the last two never (for ``T = 16`` on ``[0.05, 1]`` the worst-case error
    factor is 4.72, divergent, instead of 1.38e-3); it rebuilds the table at every call; and ``m``,
    ``M`` are fixed. Here each step is used exactly once per ``num_epochs`` and the table is cached.

    >>> round(get_chebyshev_lr(0.1, epoch=0, num_epochs=8), 4)
    1.6913
    """
    lr = _checks.learning_rate("lr", lr)
    epoch = _checks.integer("epoch", epoch, minimum=0)
    num_epochs = _checks.integer("num_epochs", num_epochs, minimum=1)
    if is_warmup:
        return lr
    return ChebyshevSteps(num_epochs, lr, m, M)(epoch)


class ChebyshevScheduler(ScheduledLR):
    """Each group's lr times the fractal Chebyshev steps; what :func:`get_chebyshev_schedule` returns."""


def get_chebyshev_schedule(
    optimizer: Optimizer,
    num_epochs: int,
    is_warmup: bool = False,
    m: float = 0.05,
    M: float = 1.0,
    last_epoch: int = -1,
) -> ChebyshevScheduler:
    """A torch scheduler multiplying every group's initial lr by the fractal Chebyshev steps.

    The reference group's lr at step ``t`` is ``initial_lr * eta_{sigma(t mod num_epochs)}``; the
    schedule repeats after ``num_epochs`` steps. With ``is_warmup=True`` the lrs stay constant.
    The lrs are ``lr * eta_t(m, M) = eta_t(m / lr, M / lr)``: the Chebyshev steps for curvatures in
    ``[m / lr, M / lr]``. With ``lr = 1``, pass the curvature bounds as ``m`` and ``M``; with the
    defaults, ``lr`` plays the constant step ``1/M`` and the condition number is ``M/m = 20``.
    Prefer ``num_epochs`` a power of two: a truncated fractal order keeps partial products
    less small.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = get_chebyshev_schedule(opt, num_epochs=4, m=0.5, M=1.5)
    >>> sched.lr_at([0, 1, 2, 3]).round(4)
    array([1.8585, 0.684 , 1.2366, 0.8394])
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    num_epochs = _checks.integer("num_epochs", num_epochs, minimum=1)
    # The reference group's own lr scales the steps, as LambdaLR would.
    lr = max(float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups)
    schedule: Schedule = Constant(lr) if is_warmup else ChebyshevSteps(num_epochs, lr, m, M)
    return ChebyshevScheduler(optimizer, schedule, last_epoch)
