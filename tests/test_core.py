"""The closed-form core: call conventions, Constant, LinearRamp, join_schedules, with_warmup."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from lrsched import (
    Constant,
    CosineDecay,
    Joined,
    LinearDecay,
    LinearRamp,
    RexDecay,
    Schedule,
    join_schedules,
    warmup_cosine,
    with_warmup,
)
from lrsched.core import _CHUNK


# -- call conventions ----------------------------------------------------------------------------
def test_python_number_gives_python_float():
    schedule = CosineDecay(decay_steps=10, max_lr=0.5)
    for step in (0, 3, np.int64(3), 3.0, np.float64(3.0)):
        value = schedule(step)
        assert type(value) is float
    assert schedule(3) == schedule(3.0) == schedule(np.int64(3))


def test_sequence_and_array_give_float64_arrays_of_the_same_shape():
    schedule = LinearDecay(decay_steps=4, max_lr=1.0)
    for steps in ([0, 1, 2], (0, 1, 2), np.array([0, 1, 2], dtype=np.int32), np.array([0.0, 1.0, 2.0])):
        values = schedule(steps)
        assert isinstance(values, np.ndarray) and values.dtype == np.float64 and values.shape == (3,)
    grid = np.arange(12).reshape(3, 4)
    assert schedule(grid).shape == (3, 4)
    assert schedule(np.array(2)).shape == ()
    assert schedule([]).shape == (0,)


def test_tensor_gives_float64_tensor():
    schedule = LinearDecay(decay_steps=4, max_lr=1.0)
    values = schedule(torch.arange(5))
    assert isinstance(values, torch.Tensor) and values.dtype == torch.float64
    assert values.tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]


def test_array_call_does_not_modify_or_alias_its_input():
    steps = np.arange(10, dtype=np.float64)
    keep = steps.copy()
    values = Constant(0.3)(steps)
    values[:] = -1.0
    assert np.array_equal(steps, keep)
    assert np.array_equal(Constant(0.3)(steps), np.full(10, 0.3))


@pytest.mark.parametrize("n", [_CHUNK - 1, _CHUNK, _CHUNK + 1, 3 * _CHUNK + 17])
def test_long_arrays_in_chunks_equal_short_ones(n):
    """Long arrays are evaluated in chunks: the values must not depend on where a chunk starts."""
    schedule = with_warmup(CosineDecay(decay_steps=n, max_lr=1.0, min_lr=0.1), warmup_steps=n // 3)
    steps = np.random.default_rng(0).permutation(n + 50)  # unsorted: chunks straddle the pieces
    whole = schedule(steps)
    one_by_one = np.array([schedule(int(s)) for s in steps])
    assert np.array_equal(whole, one_by_one)


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf")])
def test_bad_scalar_steps_raise(bad):
    with pytest.raises(ValueError, match="step"):
        Constant(1.0)(bad)


@pytest.mark.parametrize("bad", [[0, -1], [0.0, float("nan")], [float("inf")]])
def test_bad_array_steps_raise(bad):
    with pytest.raises(ValueError, match="steps"):
        Constant(1.0)(bad)


def test_non_numeric_steps_raise_type_error():
    with pytest.raises(TypeError, match="steps"):
        Constant(1.0)(["a", "b"])
    with pytest.raises(TypeError, match="step"):
        Constant(1.0)(True)


# -- Constant and LinearRamp -----------------------------------------------------------------------
def test_constant():
    assert Constant(0.25)(7) == 0.25
    assert Constant(0.25)([0, 10**9]).tolist() == [0.25, 0.25]


@pytest.mark.parametrize("start, end, n", [(0.0, 1.0, 4), (0.1, 0.3, 7), (0.3, 0.1, 7), (1e-6, 3e-4, 1000)])
def test_linear_ramp_is_a_line_then_holds_end_exactly(start, end, n):
    ramp = LinearRamp(start, end, n)
    steps = np.arange(n + 5)
    expected = [start + (end - start) * min(t / n, 1.0) for t in steps]
    np.testing.assert_allclose(ramp(steps), expected, rtol=1e-14, atol=0)
    assert ramp(0) == start
    assert ramp(n) == end and ramp(n + 100) == end  # exact, not start + (end - start)
    low, high = min(start, end), max(start, end)
    assert np.all((ramp(steps) >= low) & (ramp(steps) <= high))


# -- composition ---------------------------------------------------------------------------------
def test_join_schedules_restarts_each_clock_at_its_boundary():
    first, second, third = LinearDecay(10, 1.0), Constant(0.5), LinearRamp(0.0, 2.0, 4)
    joined = join_schedules([first, second, third], [3, 7])
    steps = np.arange(15)
    expected = [first(t) if t < 3 else second(t - 3) if t < 7 else third(t - 7) for t in steps]
    assert joined(steps).tolist() == expected
    assert [joined(int(t)) for t in steps] == expected


def test_join_schedules_single_schedule_is_itself():
    decay = LinearDecay(10, 1.0)
    assert join_schedules([decay], []) is decay


def test_joined_validates_when_built_directly():
    with pytest.raises(ValueError, match="boundaries"):
        Joined((Constant(1.0), Constant(2.0)), (0,))
    with pytest.raises(TypeError, match="schedules"):
        Joined((lambda t: t,), ())


@pytest.mark.parametrize(
    "schedules, boundaries, error, name",
    [
        ([], [], TypeError, "schedules"),
        ([Constant(1.0), "x"], [3], TypeError, "schedules"),
        ([Constant(1.0), Constant(2.0)], [], ValueError, "boundaries"),
        ([Constant(1.0), Constant(2.0)], [0], ValueError, "boundaries"),
        ([Constant(1.0), Constant(2.0), Constant(3.0)], [5, 5], ValueError, "boundaries"),
        ([Constant(1.0), Constant(2.0)], [2.5], TypeError, "boundaries"),
    ],
)
def test_join_schedules_rejects_bad_arguments(schedules, boundaries, error, name):
    with pytest.raises(error, match=name):
        join_schedules(schedules, boundaries)


@pytest.mark.parametrize("init_lr", [0.0, 0.02])
def test_with_warmup_is_a_line_into_the_schedule(init_lr):
    decay = RexDecay(total_steps=20, max_lr=0.3, min_lr=0.01)
    schedule = with_warmup(decay, warmup_steps=5, init_lr=init_lr)
    for t in range(40):
        expected = init_lr + (0.3 - init_lr) * t / 5 if t < 5 else decay(t - 5)
        assert schedule(t) == pytest.approx(expected, rel=1e-14, abs=1e-17)
    assert schedule(0) == init_lr and schedule(5) == 0.3
    assert with_warmup(decay, 0) is decay


def test_warmup_cosine_matches_composition():
    composed = with_warmup(CosineDecay(decay_steps=90, max_lr=0.1, min_lr=0.001), warmup_steps=10, init_lr=0.0)
    direct = warmup_cosine(t_max=100, max_lr=0.1, min_lr=0.001, warmup_steps=10)
    assert np.array_equal(composed(np.arange(120)), direct(np.arange(120)))


def test_schedules_are_frozen_hashable_and_pickle():
    schedule = warmup_cosine(t_max=100, max_lr=0.1, min_lr=0.001, warmup_steps=10)
    with pytest.raises(AttributeError):
        schedule.boundaries = (3,)  # type: ignore[misc]
    clone = pickle.loads(pickle.dumps(schedule))
    assert clone == schedule and hash(clone) == hash(schedule)
    assert np.array_equal(clone(np.arange(120)), schedule(np.arange(120)))


def test_a_user_schedule_needs_only_formula():
    class Exponential(Schedule):
        def formula(self, t, xp):
            return 0.5 * xp.power(0.9, t)

    schedule = Exponential()
    assert schedule(2) == pytest.approx(0.5 * 0.81)
    assert schedule([0, 1]).tolist() == pytest.approx([0.5, 0.45])
    assert math.isclose(float(schedule(torch.tensor([3]))[0]), 0.5 * 0.9**3)


# -- issue 17: steps beyond 2**53 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [2**53 + 1, 2**63 - 1, 10**400, np.int64(2**63 - 1), np.uint64(2**64 - 1), 2.0**60],
    ids=["2^53+1", "2^63-1", "10^400", "np.int64 max", "np.uint64 max", "2.0^60"],
)
def test_steps_beyond_2_53_raise_the_same_clear_error_in_every_path(steps):
    """float64 skips integers above 2**53: such a step would silently be evaluated at a neighbour."""
    schedule = Constant(0.1)
    for call in (lambda: schedule(steps), lambda: schedule([steps]), lambda: schedule(np.array([0, steps]))):
        with pytest.raises(ValueError, match=r"2\*\*53"):
            call()


def test_step_2_53_itself_is_exact_in_every_path():
    schedule = LinearRamp(0.0, 1.0, 2**53)
    assert schedule(2**53) == 1.0
    assert schedule([2**53]).tolist() == [1.0]
    assert schedule(np.array([2**53 - 2], dtype=np.int64))[0] == (2**53 - 2) / 2**53
