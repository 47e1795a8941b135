"""CosineRestarts: the cycle of a step in closed form, for every cycle_mult > 0 (issue 17).

Expected cycle starts come from exact rational arithmetic (``fractions.Fraction`` of the float
``cycle_mult``), a running cumulative sum, and torch's ``CosineAnnealingWarmRestarts`` -- never from
lrsched itself.
"""

from __future__ import annotations

import bisect
import math
import time
from decimal import Decimal, getcontext
from fractions import Fraction

import numpy as np
import pytest
import torch

import lrsched
from lrsched import CosineAnnealingWarmupRestarts, CosineRestarts

# (first_cycle_steps, cycle_mult, warmup_steps): integer, real, near-1, large and shrinking multipliers
PAIRS = [
    (1, 2.0, 0), (3, 2.0, 1), (10, 3.0, 0), (7, 1.5, 2), (10, 1.5, 0), (4, 1.1, 0), (13, 1.37, 5),
    (1, 1.0001, 0), (5, 1 + 1e-9, 0), (2, 1 + 2.0**-40, 1), (9, 7.25, 3), (1, 1.9999999, 0),
    (10, 0.9, 5), (10, 0.9, 0), (25, 0.5, 3), (40, 0.97, 0), (6, 0.3, 5), (100, 0.999, 10), (3, 1e-9, 2),
    # sums within an ulp of a half: the float m = 1.3 is a little above 1.3, so S_2 = 57.5 + 1e-15
    (25, 1.3, 0), (25, 1.3, 4), (2, 1.5, 0), (10, 1.1, 0), (30, 1.7, 0), (50, 0.7, 0), (5, 1.25, 0),
]


def exact_starts(first: int, mult: float, warmup: int, count: int) -> list[int]:
    """The rounded cumulative sum of the cycle lengths ``first * mult**j`` in exact arithmetic.

    Below 1, once a length ``first * mult**k`` falls under ``warmup + 1`` every later cycle has
    ``warmup + 1`` steps (the documented floor).
    """
    m = Fraction(mult)
    starts, total, length, floor_from = [0], Fraction(0), Fraction(first), None
    for k in range(count):
        if mult < 1 and floor_from is None and length < warmup + 1:
            floor_from = k
        if floor_from is None:
            total += length
            starts.append(round(total))
        else:
            starts.append(starts[-1] + warmup + 1)
        length *= m
    return starts


@pytest.mark.parametrize("first, mult, warmup", PAIRS)
def test_cycle_starts_equal_the_exact_rounded_series(first, mult, warmup):
    schedule = CosineRestarts(first, mult, 1.0, 0.0, warmup)
    expected = [s for s in exact_starts(first, mult, warmup, 60) if s <= 2**50]  # documented exact range
    assert [schedule.cycle_start(k) for k in range(len(expected))] == expected


def test_a_tie_of_the_series_is_rounded_on_the_exact_side():
    # 25 + 25 * 1.3 = 57.5 in decimals; the float 1.3 is 1.3 + 4.4e-17, so the sum is above
    # 57.5 and rounds to 58 (float formulas land on 57.5 or just below it)
    assert 25 + 25 * Fraction(1.3) > Fraction(115, 2)
    schedule = CosineRestarts(25, 1.3, 1.0, 0.0)
    assert schedule.cycle_start(2) == 58
    assert schedule(57) != 1.0 and schedule(58) == 1.0  # the restart is at step 58
    # an exact tie (1 + 1.5 = 2.5, all exact in binary) rounds half to even
    assert CosineRestarts(1, 1.5, 1.0, 0.0).cycle_start(2) == 2


@pytest.mark.parametrize("first, mult, warmup", PAIRS)
def test_every_step_lands_in_the_cycle_of_a_brute_force_walk(first, mult, warmup):
    schedule = CosineRestarts(first, mult, 1.0, 0.0, warmup)
    starts = exact_starts(first, mult, warmup, 400)
    steps = np.arange(min(starts[-1], 3000))
    expected = np.array([bisect.bisect_right(starts, t) - 1 for t in steps], dtype=np.float64)
    assert np.array_equal(schedule._cycle_index(steps.astype(np.float64)), expected)
    # exact at every restart: the first step of cycle k is its start (min_lr, or the peak without warmup)
    for k in range(1, 30):
        if starts[k] < steps.size:
            assert schedule(starts[k]) == (0.0 if warmup else 1.0)
            assert schedule(starts[k] - 1) != (0.0 if warmup else 1.0) or starts[k] - starts[k - 1] == 1


@pytest.mark.parametrize("first, mult, warmup", PAIRS)
def test_scalar_stepping_and_arrays_agree_bit_for_bit(first, mult, warmup):
    schedule = CosineRestarts(first, mult, 0.3, 0.01, warmup, gamma=0.8)
    steps = np.arange(2000)
    stepped = [CosineRestarts(first, mult, 0.3, 0.01, warmup, gamma=0.8)(int(t)) for t in steps[::7]]
    assert schedule(steps)[::7].tolist() == stepped


@pytest.mark.parametrize("T_0, T_mult", [(1, 2), (5, 2), (10, 3), (3, 1), (7, 4)])
def test_integer_cycle_mult_matches_torch_warm_restarts(T_0, T_mult):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.5)
    torch_scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0, T_mult, eta_min=0.01)
    theirs = []
    for _ in range(3000):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        torch_scheduler.step()
    ours = CosineRestarts(T_0, float(T_mult), max_lr=0.5, min_lr=0.01)(np.arange(3000))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mult", [1 + 1e-9, 1 + 1e-12, 1 + 2.0**-52])
def test_cycle_mult_just_above_one_is_constant_time_and_memory(mult):
    schedule = CosineRestarts(10, mult, 1.0, 0.0)
    began = time.process_time()
    k = int(schedule._cycle_index(np.array([1e9]))[0])
    schedule(10**9)
    schedule([0, 10**9, 2**53])
    assert time.process_time() - began < 0.5  # the old table walk hangs here
    assert not hasattr(schedule, "_starts_table")
    # the cycle against the series in 60-digit decimal arithmetic: S_k <= 1e9 < S_{k+1}
    getcontext().prec = 60
    m = Decimal(Fraction(mult).numerator) / Decimal(Fraction(mult).denominator)

    def start(j: int) -> Decimal:
        return (10 * ((m.ln() * j).exp() - 1) / (m - 1)).to_integral_value()

    assert start(k) <= Decimal(10**9) < start(k + 1)


@pytest.mark.parametrize("mult", [1.3e154, 1e200, 1.7e308])
def test_huge_cycle_mult_does_not_overflow_at_the_first_restart(mult, make_optimizer):
    scheduler = CosineAnnealingWarmupRestarts(make_optimizer([1.0]), 3, mult, max_lr=1.0, min_lr=0.0, gamma=1.0)
    seen = []
    for _ in range(20):
        seen.append(scheduler.get_last_lr()[0])
        scheduler.step()
    expected = [0.5 * (1 + math.cos(math.pi * t / 3)) for t in range(3)]
    # cycle 1 starts at step 3 and is 3 * mult steps long: a cosine that has barely begun
    assert seen[:3] == pytest.approx(expected) and seen[3] == 1.0
    assert all(0.999999 < lr <= 1.0 for lr in seen[3:])
    if 3 * (1 + mult) < 1.7e308:  # the second restart, where it is a float
        assert scheduler.schedule.cycle_start(2) == pytest.approx(3 * (1 + mult), rel=1e-12)
    assert math.isfinite(scheduler.lr_at(2**53))


def test_reference_recipe_with_cycle_mult_below_one():
    """pytorch-optimizer's own CAWR recipe (cycle_mult=0.9, gamma=0.5), stepped with step(epoch)."""
    expected = [1e-06, 0.000201, 0.000401, 0.0006, 0.0008, 0.001, 0.000905, 0.000655, 0.000346, 9.6e-05,
                1e-6, 0.000101, 0.000201, 0.0003, 0.0004, 0.0005, 0.000427, 0.000251, 7.4e-05, 1e-06]
    param = torch.nn.Parameter(torch.zeros(1))
    scheduler = CosineAnnealingWarmupRestarts(torch.optim.AdamW([param]), 10, 0.9, 1e-3, 1e-6, 5, 0.5)
    got = []
    for epoch in range(20):
        scheduler.step(epoch)
        got.append(round(scheduler.get_lr()[0], 6))
    np.testing.assert_almost_equal(got, expected)


def test_shrinking_cycles_stop_at_warmup_plus_one():
    schedule = CosineRestarts(10, 0.5, 1.0, 0.0, warmup_steps=3)
    starts = [schedule.cycle_start(k) for k in range(12)]
    lengths = np.diff(starts)
    assert lengths[0] == 10 and lengths[1] == 5 and set(lengths[2:].tolist()) == {4}
    assert schedule.shortest_cycle == 4
    assert np.all(np.isfinite(schedule(np.arange(200))))


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_cycle_mult_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError, match="cycle_mult"):
        CosineRestarts(10, bad)


def test_package_exports():
    assert lrsched.CosineRestarts is CosineRestarts
