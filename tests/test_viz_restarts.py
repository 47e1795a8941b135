"""Chapter 3's explorer data against a brute-force list of cycles built here, step by step."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from lrsched.viz.restarts import restarts_explorer_data


def brute_force_starts(C: int, m: float, W: int, budget: int) -> list[int]:
    """Cycle starts from the cumulative list of cycle lengths, in exact arithmetic.

    Lengths are C m**k (exact rationals) summed one by one and rounded once (half to even);
    for m < 1 the lengths stop shrinking at the first cycle shorter than W + 1 steps, and
    from there every cycle has W + 1 steps (the SGDR series, as lrsched documents it).
    """
    m_exact, total, length = Fraction(m), Fraction(0), Fraction(C)
    starts, floor_start = [0], None
    while starts[-1] < budget:
        if floor_start is None and m < 1 and length < W + 1:
            floor_start = starts[-1]
        if floor_start is not None:
            starts.append(starts[-1] + W + 1)
            continue
        total += length
        length *= m_exact
        starts.append(round(total))
    return starts


def brute_force_lr(t, starts, max_lr, min_lr, W, gamma):
    """Eq. (eq-restarts) of chapter 3, finding each step's cycle by scanning the list."""
    lrs = []
    for step in t:
        k = max(j for j, s in enumerate(starts) if s <= step)
        s, length = step - starts[k], starts[k + 1] - starts[k]
        peak = max(max_lr * gamma**k, min_lr)
        if s < W:
            lrs.append(min_lr + (peak - min_lr) * s / W)
        else:
            cosine = 0.5 * (1 + math.cos(math.pi * (s - W) / (length - W)))
            lrs.append(min_lr + (peak - min_lr) * cosine)
    return np.array(lrs)


SETTINGS = [
    # (first_cycle_steps, cycle_mult, gamma, warmup_steps, min_lr)
    (10, 2.0, 1.0, 0, 0.0),
    (10, 1.5, 0.8, 2, 0.05),
    (50, 1.0, 0.5, 10, 0.1),
    (100, 0.5, 1.0, 0, 0.0),  # shrinking cycles, down to one step each
    (100, 0.75, 0.8, 10, 0.1),  # shrinking cycles, down to W + 1 steps
    (25, 1.4, 0.9, 5, 1e-4),
    (7, 3.0, 0.6, 1, 0.2),
]


@pytest.mark.parametrize("C, m, gamma, W, min_lr", SETTINGS)
def test_tables_match_a_brute_force_cycle_list(C, m, gamma, W, min_lr):
    steps, every, max_lr = 600, 7, 0.8
    data = restarts_explorer_data(
        C, m, gamma, W, min_lr, max_lr=max_lr, steps=steps, every=every
    )
    starts = brute_force_starts(C, m, W, steps)
    restarts = [s for s in starts[1:] if s < steps]
    # restarts drawn exactly: those ending a cycle of at least `every` steps
    marked = [b for a, b in zip(starts, starts[1:]) if b < steps and b - a >= every]

    t = np.array(data["lr"]["step"])
    expected_steps = set(range(0, steps, every)) | {steps - 1}
    expected_steps |= set(marked) | {s - 1 for s in marked}
    assert t.tolist() == sorted(expected_steps)
    np.testing.assert_allclose(
        data["lr"]["lr"],
        brute_force_lr(t, starts, max_lr, min_lr, W, gamma),
        rtol=1e-12,
        atol=1e-15,
    )

    shown = min(8, len(starts) - 1)
    cycles = data["cycles"]
    assert cycles["cycle"] == list(range(shown))
    assert cycles["start"] == starts[:shown]
    assert cycles["length"] == [b - a for a, b in zip(starts, starts[1:shown + 1])]
    np.testing.assert_allclose(
        cycles["peak"],
        [max(max_lr * gamma**k, min_lr) for k in range(shown)],
        rtol=1e-12,
    )

    summary = dict(zip(data["summary"]["quantity"], data["summary"]["value"]))
    assert summary[f"cycles begun in {steps} steps"] == len(restarts) + 1
    everything = brute_force_lr(range(steps), starts, max_lr, min_lr, W, gamma)
    assert summary["η at the last step"] == pytest.approx(everything[-1], rel=1e-12, abs=1e-15)
    assert summary["mean η over the budget"] == pytest.approx(everything.mean(), rel=1e-12)


def test_known_cycles_by_hand():
    # SGDR's doubling cycles: 10, 20, 40, 80 steps starting at 0, 10, 30, 70.
    cycles = restarts_explorer_data(10, 2.0, steps=100, n_cycles=4)["cycles"]
    assert cycles["start"] == [0, 10, 30, 70]
    assert cycles["length"] == [10, 20, 40, 80]
    # Halving cycles of 100, 50, 25, 12.5 -> rounded running sums 0, 100, 150, 175, 188.
    cycles = restarts_explorer_data(100, 0.5, steps=200, n_cycles=5)["cycles"]
    assert cycles["start"] == [0, 100, 150, 175, 188]


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(first_cycle_steps=20, warmup_steps=20), "warmup_steps"),
        (dict(min_lr=2.0), "min_lr"),
        (dict(cycle_mult=0.0), "cycle_mult"),
        (dict(gamma=1.5), "gamma"),
    ],
)
def test_settings_lrsched_rejects_raise_its_value_error(kwargs, word):
    with pytest.raises(ValueError, match=word):
        restarts_explorer_data(**kwargs)


def test_steps_is_validated():
    with pytest.raises(ValueError, match="steps"):
        restarts_explorer_data(steps=1)
