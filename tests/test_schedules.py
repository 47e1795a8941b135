"""Every closed form against an independent formula written here (plain Python, ``math``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsched import (
    CosineDecay,
    CosineRestarts,
    LinearDecay,
    PolyDecay,
    RexDecay,
    warmup_cosine,
    warmup_linear,
    warmup_poly,
)

REL = 1e-13  # the library and these formulas round differently, by a few ulps at most


def decay_weight(kind: str, p: float, order: float = 1.0) -> float:
    return {"linear": 1.0 - p, "cosine": 0.5 * (1.0 + math.cos(math.pi * p)), "poly": (1.0 - p) ** order}[kind]


def warmup_then_decay(kind, t, t_max, max_lr, min_lr, init_lr, warmup, order=1.0):
    """Linear warmup init_lr -> max_lr over `warmup` steps, then decay to min_lr at t_max, then held."""
    if t < warmup:
        return init_lr + (max_lr - init_lr) * t / warmup
    p = min((t - warmup) / (t_max - warmup), 1.0)
    return min_lr + (max_lr - min_lr) * decay_weight(kind, p, order)


def rex(t, total, max_lr, min_lr, beta=0.5):
    """Chen et al. (2022): (1 - z) / ((1 - beta) + beta (1 - z)), z = t / T; beta = 1/2 is the paper's."""
    z = min(t / total, 1.0)
    return min_lr + (max_lr - min_lr) * (1.0 - z) / ((1.0 - beta) + beta * (1.0 - z))


def restarts(t, first, mult, max_lr, min_lr, warmup, gamma):
    """SGDR with warmup: walk the cycles one by one (integer `mult`: cycle k has first * mult**k steps)."""
    start, length, k = 0, first, 0
    while t >= start + length:
        start, k = start + length, k + 1
        length = first * mult**k
    s = t - start
    peak = max(max_lr * gamma**k, min_lr)
    if s < warmup:
        return min_lr + (peak - min_lr) * s / warmup
    return min_lr + (peak - min_lr) * 0.5 * (1.0 + math.cos(math.pi * (s - warmup) / (length - warmup)))


CONFIGS = [
    # t_max, max_lr, min_lr, init_lr, warmup
    (10, 1e-2, 1e-4, 0.0, 5),
    (100, 0.1, 0.0, 0.0, 0),
    (37, 3e-4, 1e-5, 1e-6, 11),
    (1000, 1.0, 0.5, 0.2, 100),
    (2, 0.5, 0.1, 0.0, 1),
]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize(
    "kind, factory, order",
    [
        ("linear", warmup_linear, 1.0),
        ("cosine", warmup_cosine, 1.0),
        ("poly", warmup_poly, 2.0),
        ("poly", warmup_poly, 0.5),
    ],
)
def test_warmup_decays_match_the_formula(config, kind, factory, order):
    t_max, max_lr, min_lr, init_lr, warmup = config
    extra = {"poly_order": order} if kind == "poly" else {}
    schedule = factory(t_max, max_lr, min_lr, init_lr, warmup, **extra)
    steps = np.arange(t_max + 20)
    expected = [warmup_then_decay(kind, t, t_max, max_lr, min_lr, init_lr, warmup, order) for t in steps]
    np.testing.assert_allclose(schedule(steps), expected, rtol=REL, atol=1e-300)
    # the ends are exact, not within rounding
    assert schedule(0) == (init_lr if warmup else max_lr)
    assert schedule(warmup) == max_lr
    assert schedule(t_max) == min_lr and schedule(t_max + 10**6) == min_lr
    # decay never rises, warmup never falls, nothing leaves [min(init, min), max]
    values = schedule(steps)
    assert np.all(np.diff(values[warmup:]) <= 0) and np.all(np.diff(values[: warmup + 1]) >= 0)
    assert values.max() <= max_lr and values.min() >= min(init_lr, min_lr)


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0, 3.7])
def test_poly_decay_ends_at_min_lr(power):
    """The normalised form of torch's PolynomialLR / Hugging Face: (1 - t/T)**power, reaching min_lr at T."""
    decay = PolyDecay(decay_steps=50, max_lr=0.2, min_lr=0.002, power=power)
    for t in range(60):
        expected = 0.002 + (0.2 - 0.002) * (1.0 - min(t / 50, 1.0)) ** power
        assert decay(t) == pytest.approx(expected, rel=REL)
    assert decay(50) == 0.002


def test_linear_and_poly_one_agree():
    steps = np.arange(80)
    np.testing.assert_allclose(
        LinearDecay(64, 0.3, 0.01)(steps), PolyDecay(64, 0.3, 0.01, power=1.0)(steps), rtol=1e-15
    )


def test_cosine_decay_midpoint_is_the_mean():
    decay = CosineDecay(decay_steps=100, max_lr=0.9, min_lr=0.1)
    assert decay(50) == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize("beta", [0.0, 0.25, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("total, max_lr, min_lr", [(100, 1.0, 0.0), (17, 3e-3, 1e-5), (1, 0.5, 0.1)])
def test_rex_matches_the_paper(beta, total, max_lr, min_lr):
    schedule = RexDecay(total_steps=total, max_lr=max_lr, min_lr=min_lr, beta=beta)
    steps = np.arange(total + 10)
    np.testing.assert_allclose(schedule(steps), [rex(t, total, max_lr, min_lr, beta) for t in steps], rtol=REL)
    assert schedule(0) == max_lr and schedule(total) == min_lr and schedule(total + 5) == min_lr
    assert np.all(np.diff(schedule(steps)) <= 0)


def test_rex_beta_zero_is_linear_and_half_is_the_paper_profile():
    steps = np.arange(130)
    np.testing.assert_allclose(
        RexDecay(120, 0.4, 0.01, beta=0.0)(steps), LinearDecay(120, 0.4, 0.01)(steps), rtol=1e-15
    )
    z = np.minimum(steps / 120, 1.0)
    paper = (1 - z) / (0.5 + 0.5 * (1 - z))
    np.testing.assert_allclose(RexDecay(120, 1.0, 0.0)(steps), paper, rtol=1e-15, atol=0)


def test_rex_stays_above_linear_and_cosine_late():
    """REX spends more of the budget at a high lr than linear decay does (its reason to exist)."""
    steps = np.arange(1, 100)
    assert np.all(RexDecay(100, 1.0)(steps) > LinearDecay(100, 1.0)(steps))


@pytest.mark.parametrize(
    "first, mult, max_lr, min_lr, warmup, gamma",
    [
        (10, 1, 1.0, 0.0, 0, 1.0),
        (10, 1, 0.1, 0.001, 3, 0.5),
        (7, 2, 1e-3, 1e-5, 2, 0.9),
        (5, 3, 1.0, 0.1, 0, 0.8),
        (4, 2, 1.0, 0.3, 1, 0.5),  # the peak hits the floor after two cycles
        (1, 1, 1.0, 0.1, 0, 0.7),
    ],
)
def test_restarts_match_a_cycle_by_cycle_walk(first, mult, max_lr, min_lr, warmup, gamma):
    schedule = CosineRestarts(first, float(mult), max_lr, min_lr, warmup, gamma)
    steps = np.arange(400)
    expected = [restarts(int(t), first, mult, max_lr, min_lr, warmup, gamma) for t in steps]
    np.testing.assert_allclose(schedule(steps), expected, rtol=REL, atol=1e-300)
    assert [schedule(int(t)) for t in steps] == schedule(steps).tolist()
    values = schedule(steps)
    assert values.min() >= min_lr and values.max() <= max_lr


@pytest.mark.parametrize("mult", [1.3, 1.5, 2.0, 2.5, 3.0])
def test_restart_points_follow_the_geometric_series(mult):
    """Restart k sits within half a step of C (1 + m + ... + m**(k-1)), and each cycle starts at its peak."""
    first, max_lr = 10, 1.0
    schedule = CosineRestarts(first, mult, max_lr, 0.0, 0, 1.0)
    exact_starts = np.cumsum([0.0] + [first * mult**j for j in range(12)])
    for k, exact in enumerate(exact_starts):
        start = schedule.cycle_start(k)
        assert abs(start - exact) <= 0.5 + 1e-9 * exact
        assert schedule(start) == max_lr
        if k:
            assert schedule(start - 1) < max_lr


def test_restarts_with_warmup_start_each_cycle_at_min_lr_and_peak_after_warmup():
    schedule = CosineRestarts(first_cycle_steps=20, cycle_mult=2.0, max_lr=1.0, min_lr=0.05, warmup_steps=4, gamma=0.5)
    for k, start in enumerate([0, 20, 60, 140]):
        assert schedule(start) == 0.05
        assert schedule(start + 4) == 0.5**k


# -- issue 17: pytorch-optimizer 4.1.0 positions and keywords -------------------------------------------
def test_poly_scheduler_takes_poly_order_second_like_the_reference():
    import inspect

    import torch
    from pytorch_optimizer.lr_scheduler.linear_warmup import PolyScheduler as Theirs

    from lrsched import PolyScheduler

    ours = list(inspect.signature(PolyScheduler.__init__).parameters)
    assert ours[:3] == list(inspect.signature(Theirs.__init__).parameters)[:3] == ["self", "optimizer", "poly_order"]
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = PolyScheduler(optimizer, 2.0, t_max=4, max_lr=1.0)  # as the reference is called
    assert scheduler.lr_at([0, 2, 4]).tolist() == [1.0, 0.25, 0.0]  # (1 - t/4)**2
    with pytest.raises(TypeError):
        PolyScheduler(optimizer, 2.0, 4, 1.0)  # t_max and the rest are keywords, as with **kwargs there
