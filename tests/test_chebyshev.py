"""Chebyshev step sizes in fractal order (Agarwal, Goel & Zhang 2021), against the theory."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrsched
from lrsched import (
    ChebyshevSteps,
    get_chebyshev_lr,
    get_chebyshev_permutation,
    get_chebyshev_schedule,
    get_chebyshev_steps,
)
from lrsched.chebyshev import fractal_index


def chebyshev_T(n: int, x: float) -> float:
    """Chebyshev polynomial of the first kind for x >= 1: cosh(n arccosh x)."""
    return math.cosh(n * math.acosh(x))


def worst_case(steps: np.ndarray, m: float, M: float, points: int = 200_001) -> float:
    """max over a fine grid of [m, M] of |prod_t (1 - eta_t lambda)|: gradient descent's error factor on a quadratic."""
    lam = np.linspace(m, M, points)
    product = np.ones_like(lam)
    for eta in steps:
        product *= 1.0 - eta * lam
    return float(np.abs(product).max())


def fractal_order(T: int) -> list[int]:
    """The recursion of the paper, written as a loop: sigma_{2n} interleaves i and 2n - 1 - i."""
    order = [0]
    while len(order) < T:
        order = [j for i in order for j in (i, 2 * len(order) - 1 - i)]
    return order


@pytest.mark.parametrize("T, m, M", [(1, 0.05, 1.0), (5, 0.05, 1.0), (16, 0.05, 1.0), (13, 0.2, 3.0), (64, 0.01, 1.0)])
def test_steps_are_reciprocal_chebyshev_nodes(T, m, M):
    steps = get_chebyshev_steps(T, small_m=m, big_m=M)
    nodes = [(M + m) / 2 - (M - m) / 2 * math.cos((t + 0.5) * math.pi / T) for t in range(T)]
    np.testing.assert_allclose(steps, [1 / x for x in nodes], rtol=1e-14)
    assert steps.shape == (T,) and np.all(np.diff(steps) < 0)  # largest first
    assert np.all((steps > 1 / M) & (steps < 1 / m))


@pytest.mark.parametrize("T, m, M", [(16, 0.05, 1.0), (13, 0.05, 1.0), (7, 0.1, 2.0), (32, 0.2, 1.0)])
def test_product_attains_the_chebyshev_bound(T, m, M):
    """After T steps the worst error factor over [m, M] is 1 / T_T((M + m)/(M - m)), the minimax value."""
    bound = 1.0 / chebyshev_T(T, (M + m) / (M - m))
    steps = ChebyshevSteps(T=T, lr=1.0, m=m, M=M)(np.arange(T))
    assert worst_case(steps, m, M) == pytest.approx(bound, rel=1e-6)
    # the extremal points of the shifted polynomial reach it exactly (up to rounding)
    extremal = (M + m) / 2 - (M - m) / 2 * np.cos(np.arange(T + 1) * np.pi / T)
    values = np.prod(1.0 - steps[:, None] * extremal[None, :], axis=0)
    np.testing.assert_allclose(np.abs(values), bound, rtol=1e-8)


def test_sixteen_steps_on_the_reference_spectrum():
    """The issue's number: T = 16 on [0.05, 1] has worst-case factor 1.38e-3."""
    steps = ChebyshevSteps(T=16)(np.arange(16))
    assert worst_case(steps, 0.05, 1.0) == pytest.approx(1.3806e-3, rel=1e-4)


@pytest.mark.parametrize("T", [1, 2, 4, 8, 16, 64, 1024])
def test_permutation_is_the_paper_recursion_for_powers_of_two(T):
    assert get_chebyshev_permutation(T).tolist() == fractal_order(T)


def test_permutation_of_eight():
    assert get_chebyshev_permutation(8).tolist() == [0, 7, 3, 4, 1, 6, 2, 5]


@pytest.mark.parametrize("T", [3, 5, 6, 7, 9, 10, 12, 17, 18, 100, 1000])
def test_permutation_for_other_T_is_the_next_power_restricted(T):
    order = get_chebyshev_permutation(T)
    power = 1 << (T - 1).bit_length()
    assert order.tolist() == [i for i in fractal_order(power) if i < T]
    assert sorted(order.tolist()) == list(range(T))


@pytest.mark.parametrize("T", [1, 2, 3, 5, 8, 9, 10, 16, 17, 18, 33, 100])
def test_each_step_once_per_period_in_fractal_order_then_repeat(T):
    schedule = ChebyshevSteps(T=T, lr=1.0)
    nodes = get_chebyshev_steps(T)
    first = schedule(np.arange(T))
    assert sorted(first.tolist()) == sorted(nodes.tolist())  # every node exactly once
    assert first.tolist() == nodes[get_chebyshev_permutation(T)].tolist()
    assert schedule(np.arange(T, 3 * T)).tolist() == first.tolist() * 2  # repeats past T
    assert [schedule(t) for t in range(2 * T)] == schedule(np.arange(2 * T)).tolist()


def test_fractal_order_keeps_partial_products_small():
    """The point of the order: partial products stay bounded, unlike largest-steps-first (Agarwal et al.)."""
    T, m, M = 32, 0.05, 1.0
    lam = np.linspace(m, M, 20001)

    def worst_partial(steps):
        product, worst = np.ones_like(lam), 0.0
        for eta in steps:
            product *= 1.0 - eta * lam
            worst = max(worst, float(np.abs(product).max()))
        return worst

    fractal = ChebyshevSteps(T=T)(np.arange(T))
    assert worst_partial(fractal) < 20.0
    assert worst_partial(get_chebyshev_steps(T)) > 1e6  # root order: largest steps first


def test_get_chebyshev_lr_is_zero_based_and_scaled():
    table = get_chebyshev_steps(8)[get_chebyshev_permutation(8)]
    assert [get_chebyshev_lr(0.1, epoch=e, num_epochs=8) for e in range(10)] == pytest.approx(
        [0.1 * table[e % 8] for e in range(10)], rel=1e-15
    )
    assert get_chebyshev_lr(0.1, epoch=3, num_epochs=8, is_warmup=True) == 0.1
    assert get_chebyshev_lr(1.0, epoch=0, num_epochs=4, m=0.5, M=1.5) == pytest.approx(
        1 / (1 - 0.5 * math.cos(math.pi / 8))
    )


def test_schedule_scales_the_optimizer_lr_and_warmup_is_constant(make_optimizer, train_lrs):
    optimizer = make_optimizer([0.2, 0.02])
    scheduler = get_chebyshev_schedule(optimizer, num_epochs=10, m=0.1, M=2.0)
    table = 0.2 * get_chebyshev_steps(10, 0.1, 2.0)[get_chebyshev_permutation(10)]
    seen = train_lrs(optimizer, scheduler, 25)
    assert [row[0] for row in seen] == pytest.approx([table[t % 10] for t in range(25)], rel=1e-15)
    assert [row[1] for row in seen] == pytest.approx([table[t % 10] / 10 for t in range(25)], rel=1e-15)

    warm_optimizer = make_optimizer([0.2, 0.02])
    warm = get_chebyshev_schedule(warm_optimizer, num_epochs=10, is_warmup=True)
    assert train_lrs(warm_optimizer, warm, 5) == [[0.2, 0.02]] * 5


def test_gradient_descent_with_the_schedule_contracts_a_quadratic(make_optimizer):
    """End to end: SGD on f(x) = sum_i lambda_i x_i^2 / 2 with the scheduler shrinks every coordinate by <= the bound."""
    import torch

    T, m, M = 16, 0.05, 1.0
    lam = torch.tensor(np.linspace(m, M, 41), dtype=torch.float64)
    x = torch.nn.Parameter(torch.ones(41, dtype=torch.float64))
    optimizer = torch.optim.SGD([x], lr=1.0)
    scheduler = get_chebyshev_schedule(optimizer, num_epochs=T, m=m, M=M)
    for _ in range(T):
        optimizer.zero_grad()
        (0.5 * (lam * x * x).sum()).backward()
        optimizer.step()
        scheduler.step()
    bound = 1.0 / chebyshev_T(T, (M + m) / (M - m))
    assert float(x.detach().abs().max()) <= bound * (1 + 1e-6)


def test_non_integer_steps_are_rejected():
    with pytest.raises(ValueError, match="integer"):
        ChebyshevSteps(T=4)(1.5)
    with pytest.raises(ValueError, match="integer"):
        ChebyshevSteps(T=4)([0.0, 0.5])


def test_no_table_is_built_and_outputs_are_the_callers(make_optimizer):
    from unittest import mock

    import lrsched.chebyshev as module

    with mock.patch.object(module, "get_chebyshev_steps", wraps=module.get_chebyshev_steps) as spy:
        schedulers = [get_chebyshev_schedule(make_optimizer([0.1]), num_epochs=T, m=0.0321) for T in range(500, 540)]
        for _ in range(3):
            for scheduler in schedulers:
                scheduler.step()
        schedulers[0].lr_at(np.arange(5000))
    assert spy.call_count == 0
    a = ChebyshevSteps(T=1000)
    values = a(np.arange(3))
    values[:] = 0.0
    assert a(0) != 0.0


# -- the fractal order entry by entry (issue 17) ----------------------------------------------------------
def reference_order(T: int) -> list[int]:
    """pytorch-optimizer 4.1.0's get_chebyshev_permutation (the next power of two), restricted to < T."""
    from pytorch_optimizer.lr_scheduler.chebyshev import get_chebyshev_permutation as theirs

    order = theirs(T)
    return order[order < T].tolist()


SIZES = list(range(1, 130)) + [255, 256, 257, 1000, 1023, 1025, 3000, 4096, 4097, 65535, 65537, 100_003]


@pytest.mark.parametrize("T", SIZES)
def test_entry_by_entry_equals_the_table_construction(T):
    expected = [i for i in fractal_order(1 << (T - 1).bit_length()) if i < T] if T <= 5000 else reference_order(T)
    assert fractal_index(np.arange(T), T).tolist() == expected
    assert get_chebyshev_permutation(T).tolist() == expected
    assert reference_order(T) == expected
    probe = sorted({0, T - 1, T // 2, T // 3, (2 * T) // 3})
    assert [fractal_index(t, T) for t in probe] == [expected[t] for t in probe]  # the scalar path


@pytest.mark.parametrize("T", [1, 2, 3, 6, 7, 9, 16, 17, 31, 33, 100, 129, 1000, 4097])
def test_stepping_walk_equals_random_access_bit_for_bit(T):
    schedule = ChebyshevSteps(T=T, lr=0.3, m=0.02, M=1.7)
    stepped = [schedule(t) for t in range(3 * T + 3)]  # sequential: the O(1) walk, wrapping twice
    jumped = [ChebyshevSteps(T=T, lr=0.3, m=0.02, M=1.7)(t) for t in range(3 * T + 3)]  # fresh: the O(log T) select
    assert stepped == jumped == schedule(np.arange(3 * T + 3)).tolist()
    nodes = 0.3 * get_chebyshev_steps(T, 0.02, 1.7)
    assert stepped[:T] == nodes[reference_order(T)].tolist()


@pytest.mark.parametrize("T", [2**20 + 1, 10**8, 3 * 10**12, 2**53])
def test_huge_num_epochs_cost_no_memory(T):
    import time
    import tracemalloc

    tracemalloc.start()
    began = time.process_time()
    schedule = ChebyshevSteps(T=T)
    steps = [s for s in (0, 1, 2, T // 2, T - 1, T, T + 1) if s <= 2**53]
    values = schedule(np.array(steps))
    assert [schedule(t) for t in steps] == values.tolist()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.process_time() - began < 1.0 and peak < 10_000_000  # 10**8 took 12.8 s and 1 GiB
    # entries against the node formula at the permuted index, the index by the doubling rule's bits
    p = (T - 1).bit_length()
    for t in (0, 1, 2):
        assert values[t] == pytest.approx(1 / (0.525 - 0.475 * math.cos((fractal_index(t, T) + 0.5) * math.pi / T)))
    assert fractal_index(1, T) == (1 << p) - 1 or (1 << p) - 1 >= T  # sigma(1) = N - 1 when kept


def test_steps_beyond_two_to_the_53_raise_instead_of_rounding():
    schedule = ChebyshevSteps(T=3)
    assert schedule(2**53) == schedule(2**53 % 3)  # 2**53 is exact in float64
    assert schedule(np.array([2**53], dtype=np.int64)).tolist() == [schedule(2**53 % 3)]
    for bad in (2**53 + 1, 2**63 - 1):
        with pytest.raises(ValueError, match="2\\*\\*53"):
            schedule(bad)
        with pytest.raises(ValueError, match="2\\*\\*53"):
            schedule(np.array([0, bad], dtype=np.int64))
    with pytest.raises(ValueError, match="epoch"):
        get_chebyshev_lr(1.0, epoch=2**80 + 1, num_epochs=3)
    with pytest.raises(ValueError, match="T must be <= 2"):
        ChebyshevSteps(T=2**53 + 1)


# -- pytorch-optimizer 4.1.0 names and signatures ---------------------------------------------------------
def test_drop_in_names_and_signatures():
    import inspect

    import pytorch_optimizer.lr_scheduler.chebyshev as theirs

    for name in ("get_chebyshev_steps", "get_chebyshev_perm_steps", "get_chebyshev_lr_lambda", "get_chebyshev_schedule"):
        ours = inspect.signature(getattr(lrsched, name)).parameters
        ref = inspect.signature(getattr(theirs, name)).parameters
        positional = [n for n, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional == list(ref), name
        assert all(ours[n].default == ref[n].default for n in ref), name
    assert get_chebyshev_steps(num_epochs=4, small_m=0.1, big_m=2.0).tolist() == get_chebyshev_steps(4, 0.1, 2.0).tolist()
    np.testing.assert_allclose(get_chebyshev_steps(7, 0.1, 2.0), theirs.get_chebyshev_steps(7, 0.1, 2.0), rtol=1e-15)


@pytest.mark.parametrize("T", [8, 16, 32, 64])
def test_perm_steps_and_lambda_agree_with_the_reference_on_powers_of_two(T):
    """On a power of two >= 8 4.1.0's table is whole (only its index is off by two): the tables agree."""
    import pytorch_optimizer.lr_scheduler.chebyshev as theirs

    np.testing.assert_allclose(lrsched.get_chebyshev_perm_steps(T), theirs.get_chebyshev_perm_steps(T), rtol=1e-15)
    np.testing.assert_allclose(
        [lrsched.get_chebyshev_lr_lambda(e, T) for e in range(2 * T)],
        [theirs.get_chebyshev_perm_steps(T)[e % T] for e in range(2 * T)],
        rtol=1e-15,
    )
    assert lrsched.get_chebyshev_lr_lambda(5, T, is_warmup=True) == 1.0


def test_schedule_positions_are_the_references(make_optimizer):
    optimizer = make_optimizer([0.5])
    scheduler = get_chebyshev_schedule(optimizer, 8, False, -1, m=0.1, M=1.0)
    assert scheduler.lr_at(0) == pytest.approx(0.5 * get_chebyshev_steps(8, 0.1, 1.0)[0])
    import inspect

    parameters = inspect.signature(get_chebyshev_schedule).parameters
    assert parameters["m"].kind is parameters["M"].kind is inspect.Parameter.KEYWORD_ONLY
    with pytest.raises(ValueError, match="num_epochs"):
        lrsched.get_chebyshev_perm_steps(0)


@pytest.mark.parametrize("T", [1, 2, 3, 5, 13, 100, 4097, 65537, 10**6, 2**40 + 7, 2**53])
def test_every_array_road_gives_the_select(T):
    """Whole period (small T), runs of consecutive ranks (lr_at over a range), scattered ranks."""
    from lrsched.chebyshev import _fractal_indices

    rng = np.random.default_rng(T % 1000)
    arrays = [
        np.arange(min(T, 5000)),
        np.arange(max(T - 3, 0), T + 2000) % T,  # a run that wraps around the period
        rng.integers(0, T, size=300),
        np.array([T - 1]),
        np.arange(10) % T,
        np.array([], dtype=np.int64),
    ]
    for ranks in arrays:
        assert np.array_equal(_fractal_indices(ranks, T), fractal_index(ranks, T))
