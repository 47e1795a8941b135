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

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.optim import Optimizer

from . import _checks
from .core import SCALAR, Constant, Schedule
from .scheduler import ScheduledLR


def _check_spectrum(m: float, M: float, names: tuple[str, str] = ("m", "M")) -> tuple[float, float]:
    m = _checks.real(names[0], m, low=0.0, low_open=True)
    M = _checks.real(names[1], M, low=0.0, low_open=True)
    if m >= M:
        raise ValueError(f"{names[0]} must be smaller than {names[1]}, got {names[0]}={m!r} and {names[1]}={M!r}")
    return m, M


_cos, _PI = np.cos, float(np.pi)

#: The largest ``num_epochs``: node angles and indices stay exact in float64 up to there.
MAX_NUM_EPOCHS = 2**53


def _check_num_epochs(name: str, value: Any) -> int:
    value = _checks.integer(name, value, minimum=1)
    if value > MAX_NUM_EPOCHS:
        raise ValueError(f"{name} must be <= 2**53 = {MAX_NUM_EPOCHS}, got {value}")
    return value


def _node_steps(index: Any, T: int, m: float, M: float) -> Any:
    r"""``1 / ((M + m)/2 - (M - m)/2 cos((i + 1/2) pi / T))`` for an int or an int64 array ``i``.

    The same float operations in the same order for a Python int and for an array, so a
    scheduler's step and ``lr_at`` agree bit for bit (``np.cos`` in both cases).
    """
    centre, radius = (M + m) / 2.0, (M - m) / 2.0
    if isinstance(index, np.ndarray):
        angles = (index.astype(np.float64) + 0.5) * np.pi / T
        return 1.0 / (centre - radius * np.cos(angles))
    return 1.0 / (centre - radius * float(_cos((index + 0.5) * _PI / T)))


def get_chebyshev_steps(num_epochs: int, small_m: float = 0.05, big_m: float = 1.0) -> np.ndarray:
    r"""The ``num_epochs`` Chebyshev step sizes for a spectrum in ``[small_m, big_m]``, in root order (largest first).

    .. math:: \eta_t = 1 / \big(\tfrac{M+m}{2} - \tfrac{M-m}{2}\cos\tfrac{(t+1/2)\pi}{T}\big), \quad t = 0..T-1

    Same name, positions and keywords as pytorch-optimizer 4.1.0 (``m = small_m``, ``M = big_m``).

    >>> get_chebyshev_steps(2, small_m=0.5, big_m=1.5).round(4)
    array([1.5469, 0.7388])
    """
    T = _check_num_epochs("num_epochs", num_epochs)
    m, M = _check_spectrum(small_m, big_m, ("small_m", "big_m"))
    return _node_steps(np.arange(T, dtype=np.int64), T, m, M)


def fractal_index(position: Any, T: int) -> Any:
    r"""Entry ``position`` of the fractal order of length ``T``, without building the order.

    The order of length :math:`N = 2^p` is :math:`\sigma(j) = \text{gray}^{-1}(\text{rev}_p(j))`:
    the doubling rule (``i`` followed by its mirror ``2n - 1 - i``) makes bit :math:`q` of
    :math:`\sigma(j)` the parity of the lowest :math:`p - q` bits of :math:`j`. So the position of
    value :math:`v` is :math:`\text{rev}_p(\text{gray}(v))`, and positions sort by the bits of
    :math:`g = \text{gray}(v)` from the lowest up. For ``T`` below :math:`N` the order keeps the
    values ``< T``; entry ``t`` is found bit by bit: fixing the low :math:`k + 1` bits of :math:`g`
    pins :math:`v` to two residues modulo :math:`2^{k+2}`, so how many values ``< T`` share a prefix
    is a closed-form count, and :math:`g` follows by the usual select-by-counting. :math:`O(\log T)`
    per entry, vectorized over an int64 array of positions.

    >>> fractal_index(np.arange(8), 8)
    array([0, 7, 3, 4, 1, 6, 2, 5])
    >>> [fractal_index(t, 6) for t in range(6)]  # the order of 8 without 6 and 7
    [0, 3, 4, 1, 2, 5]
    """
    array = isinstance(position, np.ndarray)
    rank = position.astype(np.int64) if array else int(position)
    low_bits = np.zeros_like(rank) if array else 0  # v mod 2**(k+1) for the bits of g fixed so far
    for k in range((T - 1).bit_length()):
        modulus = 1 << (k + 2)
        # values v < T whose next bit of g is 0: v = low_bits or its mirror, modulo 2**(k+2)
        mirror = modulus - 1 - low_bits
        if array:
            zeros = np.where(low_bits < T, (T - low_bits + modulus - 1) // modulus, 0)
            zeros += np.where(mirror < T, (T - mirror + modulus - 1) // modulus, 0)
            one = rank >= zeros
            rank = np.where(one, rank - zeros, rank)
            low_bits = np.where(one, (modulus >> 1) - 1 - low_bits, low_bits)
        else:
            zeros = (T - low_bits + modulus - 1) // modulus if low_bits < T else 0
            zeros += (T - mirror + modulus - 1) // modulus if mirror < T else 0
            if rank >= zeros:
                rank -= zeros
                low_bits = (modulus >> 1) - 1 - low_bits
    return low_bits


def _position_of(value: int, bits: int) -> int:
    """Where ``value`` sits in the fractal order of length ``2**bits``: ``rev(gray(value))``."""
    gray = value ^ (value >> 1)
    return int(format(gray, f"0{bits}b")[::-1], 2) if bits else 0


_REVERSE_MASKS = tuple(
    (shift, np.uint64(mask))
    for shift, mask in (
        (1, 0x5555555555555555),
        (2, 0x3333333333333333),
        (4, 0x0F0F0F0F0F0F0F0F),
        (8, 0x00FF00FF00FF00FF),
        (16, 0x0000FFFF0000FFFF),
        (32, 0x00000000FFFFFFFF),
    )
)


def _values_at_positions(positions: np.ndarray, bits: int) -> np.ndarray:
    """:func:`_value_at` for a uint64 array: ``gray^-1(rev_bits(j))``, by mask swaps (O(log bits) array ops)."""
    x = positions
    for shift, mask in _REVERSE_MASKS:  # reverse all 64 bits (new arrays), then keep the top `bits`
        x = ((x >> np.uint64(shift)) & mask) | ((x & mask) << np.uint64(shift))
    x >>= np.uint64(64 - bits)
    for shift, _ in _REVERSE_MASKS:  # prefix XOR: the inverse Gray code
        x ^= x >> np.uint64(shift)
    return x.astype(np.int64)


def _fractal_run(first: int, count: int, T: int) -> np.ndarray:
    """:func:`fractal_index` of the consecutive ranks ``first .. first + count - 1`` (all ``< T``).

    One select for the first rank, then the order of the next power of two read position by
    position, dropping the entries ``>= T`` (at most one between two kept ones): O(count) memory.
    """
    bits = (T - 1).bit_length()
    if not bits:
        return np.zeros(count, dtype=np.int64)
    start = _position_of(fractal_index(first, T), bits)
    stop = min(start + 2 * count + 1, 1 << bits)
    values = _values_at_positions(np.arange(start, stop, dtype=np.uint64), bits)
    return values[values < T][:count]


def _fractal_indices(rank: np.ndarray, T: int) -> np.ndarray:
    """:func:`fractal_index` for an int64 array of ranks ``< T``, taking the fast road it can.

    A whole period when ``T`` is not much larger than the array (memory bounded by the array),
    runs of consecutive ranks (``lr_at`` over a range of steps) read along the order, and
    scattered ranks one O(log T) select each.
    """
    if rank.size == 0:
        return np.zeros(rank.shape, dtype=np.int64)
    if T <= 4 * rank.size:
        return _fractal_run(0, T, T)[rank]
    flat = rank.reshape(-1)
    breaks = np.flatnonzero(np.diff(flat) != 1) + 1
    if breaks.size < 8:
        bounds = [0, *breaks.tolist(), flat.size]
        runs = [_fractal_run(int(flat[a]), b - a, T) for a, b in zip(bounds, bounds[1:])]
        return np.concatenate(runs).reshape(rank.shape)
    return fractal_index(rank, T)


def get_chebyshev_permutation(num_epochs: int) -> np.ndarray:
    """The fractal order of Agarwal, Goel & Zhang (2021), a permutation of ``range(num_epochs)``.

    Built by doubling: from an order ``sigma`` of length ``n``, the order of length ``2n``
    interleaves each ``i`` of ``sigma`` with its mirror ``2n - 1 - i``. ``num_epochs`` that is not a
    power of two gets the next power of two's order restricted to indices ``< num_epochs``
    (computed entry by entry, :func:`fractal_index`).

    Difference from pytorch-optimizer 4.1.0: there the order of the next power of two is
    returned whole (indices up to ``2**p - 1``, not a permutation of ``range(num_epochs)``).

    >>> get_chebyshev_permutation(8)
    array([0, 7, 3, 4, 1, 6, 2, 5])
    """
    T = _check_num_epochs("num_epochs", num_epochs)
    return fractal_index(np.arange(T, dtype=np.int64), T)


@dataclass(frozen=True)
class ChebyshevSteps(Schedule):
    r"""``lr * eta_{sigma(t mod T)}``: each Chebyshev step once per ``T`` steps, in fractal order.

    Each step computes its own entry of the order and its own node (:func:`fractal_index`,
    :math:`O(\log T)`), so no table is built: any ``T`` up to ``2**53`` costs the same memory.

    >>> ChebyshevSteps(T=4, lr=1.0, m=0.5, M=1.5)([0, 1, 2, 3, 4]).round(4)
    array([1.8585, 0.684 , 1.2366, 0.8394, 1.8585])
    """

    T: int
    lr: float = 1.0
    m: float = 0.05
    M: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "T", _check_num_epochs("T", self.T))
        object.__setattr__(self, "lr", _checks.learning_rate("lr", self.lr))
        m, M = _check_spectrum(self.m, self.M)
        object.__setattr__(self, "m", m)
        object.__setattr__(self, "M", M)

    def _next_in_order(self, rank: int) -> int:
        r""":func:`fractal_index` of ``rank``, in O(1) when ``rank`` follows the last one asked for.

        Stepping walks the order of the next power of two, :math:`\sigma(j)` for :math:`j = 0, 1,
        \dots`, skipping entries ``>= T`` (they sit at odd positions: at most one per step). As bit
        :math:`q` of :math:`\sigma(j)` is the parity of the low :math:`p - q` bits of :math:`j`, going
        from :math:`j` to :math:`j + 1` (which flips the :math:`r` trailing ones of :math:`j` and the
        0 above them) flips bit :math:`q` of :math:`\sigma` iff :math:`\min(r + 1, p - q)` is odd.
        """
        T = self.T
        last = self.__dict__.get("_last")  # (rank, position, value, bits, odd): a speed-up only
        if last is not None and rank == last[0] + 1:
            _, position, value, bits, odd = last
            while True:
                ones = (position ^ (position + 1)).bit_length() - 1  # trailing ones of position
                below = (1 << (bits - ones)) - 1  # bits q < p - r: flip iff r + 1 is odd
                value ^= (below if ones % 2 == 0 else 0) | (odd & ~below)
                position += 1
                if value < T:
                    break
        else:
            bits = (T - 1).bit_length()
            odd = sum(1 << q for q in range(bits) if (bits - q) % 2)  # bits q with p - q odd
            value = fractal_index(rank, T)
            position = _position_of(value, bits)
        object.__setattr__(self, "_last", (rank, position, value, bits, odd))
        return value

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_last", None)
        return state

    def formula(self, t: Any, xp: Any) -> Any:
        if xp is SCALAR:
            index = int(t)
            if index != t:
                raise ValueError(f"Chebyshev steps are indexed by integer steps, got {t}")
            return self.lr * _node_steps(self._next_in_order(index % self.T), self.T, self.m, self.M)
        index = t.astype(np.int64)  # exact: steps are at most 2**53
        if np.any(index != t):
            raise ValueError("Chebyshev steps are indexed by integer steps")
        return self.lr * _node_steps(_fractal_indices(index % self.T, self.T), self.T, self.m, self.M)


def get_chebyshev_perm_steps(num_epochs: int) -> np.ndarray:
    """The ``num_epochs`` Chebyshev steps on ``[0.05, 1]`` in fractal order (pytorch-optimizer 4.1.0's name).

    Entry ``t`` is the step of :class:`ChebyshevSteps` at ``t`` with ``lr=1``, the multiplier that
    :func:`get_chebyshev_schedule` applies at step ``t``.

    Differences from pytorch-optimizer 4.1.0: it orders the steps by the permutation of
    ``num_epochs - 2``, which drops steps when ``num_epochs`` is just above a power of two (3 -> 1
    step, 5 or 6 -> 4 steps, 17 -> 16 steps); here every step appears exactly once. ``num_epochs < 1``
    raises ``ValueError`` (there ``IndexError``).

    >>> get_chebyshev_perm_steps(4).round(4)
    array([11.6067,  1.0375,  2.9135,  1.4149])
    """
    T = _check_num_epochs("num_epochs", num_epochs)
    return ChebyshevSteps(T)(np.arange(T))


def get_chebyshev_lr_lambda(epoch: int, num_epochs: int, is_warmup: bool = False) -> float:
    """The multiplier of the lr at ``epoch`` (0-based): ``1`` in warmup, else the fractal Chebyshev step.

    pytorch-optimizer 4.1.0's name and signature; the steps are those of :func:`get_chebyshev_perm_steps`
    (spectrum ``[0.05, 1]``), entry ``epoch mod num_epochs``.

    Differences from pytorch-optimizer 4.1.0: it reads entry ``epoch - 2`` of the steps of the next
    power of two above ``num_epochs - 1``, clamped to the table, so the first step is used three
    times, the last two never, and after the end the last one forever (for 16 epochs on ``[0.05, 1]``
    the worst-case error factor is 4.72, divergent, instead of the minimax 1.38e-3). Here each step
    is used exactly once per ``num_epochs``, from epoch 0, and the cycle repeats.

    >>> round(get_chebyshev_lr_lambda(0, 8), 4), get_chebyshev_lr_lambda(3, 8, is_warmup=True)
    (16.9127, 1.0)
    """
    epoch = _checks.integer("epoch", epoch, minimum=0)
    num_epochs = _check_num_epochs("num_epochs", num_epochs)
    if is_warmup:
        return 1.0
    return ChebyshevSteps(num_epochs)(epoch % num_epochs)


def get_chebyshev_lr(
    lr: float, epoch: int, num_epochs: int, is_warmup: bool = False, m: float = 0.05, M: float = 1.0
) -> float:
    r"""The Chebyshev learning rate of ``epoch`` (0-based) in a run of ``num_epochs``.

    Returns ``lr`` unchanged during warmup, else ``lr * eta_{sigma(epoch mod num_epochs)}``.
    (Not a pytorch-optimizer 4.1.0 name: its multiplier is :func:`get_chebyshev_lr_lambda`.)

    Differences from pytorch-optimizer 4.1.0: it reads index ``epoch - 2``, so the first step is
    used three times and the last two never (for ``T = 16`` on ``[0.05, 1]`` the worst-case error
    factor is 4.72, divergent, instead of 1.38e-3); it rebuilds the table at every call; and ``m``,
    ``M`` are fixed. Here each step is used exactly once per ``num_epochs``, no table is built,
    and ``m``, ``M`` are arguments.

    >>> round(get_chebyshev_lr(0.1, epoch=0, num_epochs=8), 4)
    1.6913
    """
    lr = _checks.learning_rate("lr", lr)
    epoch = _checks.integer("epoch", epoch, minimum=0)
    num_epochs = _check_num_epochs("num_epochs", num_epochs)
    if is_warmup:
        return lr
    return ChebyshevSteps(num_epochs, lr, m, M)(epoch % num_epochs)


class ChebyshevScheduler(ScheduledLR):
    """Each group's lr times the fractal Chebyshev steps; what :func:`get_chebyshev_schedule` returns."""


def get_chebyshev_schedule(
    optimizer: Optimizer,
    num_epochs: int,
    is_warmup: bool = False,
    last_epoch: int = -1,
    *,
    m: float = 0.05,
    M: float = 1.0,
) -> ChebyshevScheduler:
    """A torch scheduler multiplying every group's initial lr by the fractal Chebyshev steps.

    Same positions and keywords as pytorch-optimizer 4.1.0, plus the keyword-only spectrum
    ``m``, ``M``. The reference group's lr at step ``t`` is ``initial_lr * eta_{sigma(t mod
    num_epochs)}``; the schedule repeats after ``num_epochs`` steps. With ``is_warmup=True`` the
    lrs stay constant. The lrs are ``lr * eta_t(m, M) = eta_t(m / lr, M / lr)``: the Chebyshev
    steps for curvatures in ``[m / lr, M / lr]``. With ``lr = 1``, pass the curvature bounds as
    ``m`` and ``M``; with the defaults, ``lr`` plays the constant step ``1/M`` and the condition
    number is ``M/m = 20``. Prefer ``num_epochs`` a power of two: a truncated fractal order keeps
    partial products less small.

    Differences from pytorch-optimizer 4.1.0 (a ``LambdaLR`` over
    :func:`get_chebyshev_lr_lambda`): there step ``t`` uses entry ``t - 2`` of the steps of the
    next power of two, clamped (see :func:`get_chebyshev_lr_lambda`); here step ``t`` uses entry
    ``t mod num_epochs`` of ``num_epochs`` steps, each once per cycle. ``step()`` returns ``None``
    (as torch's schedulers do) and bad arguments raise ``ValueError``/``TypeError``.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = get_chebyshev_schedule(opt, num_epochs=4, m=0.5, M=1.5)
    >>> sched.lr_at([0, 1, 2, 3]).round(4)
    array([1.8585, 0.684 , 1.2366, 0.8394])
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    num_epochs = _check_num_epochs("num_epochs", num_epochs)
    if not isinstance(is_warmup, (bool, np.bool_)):
        raise TypeError(f"is_warmup must be a bool, got {is_warmup!r} ({type(is_warmup).__name__})")
    # The reference group's own lr scales the steps, as LambdaLR would.
    lr = max(float(group.get("initial_lr", group["lr"])) for group in optimizer.param_groups)
    schedule: Schedule = Constant(lr) if is_warmup else ChebyshevSteps(num_epochs, lr, m, M)
    return ChebyshevScheduler(optimizer, schedule, last_epoch)
