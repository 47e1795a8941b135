"""The torch schedulers in the ordinary loop, and against torch's own where the two coincide.

The loop is ``optimizer.step(); scheduler.step()``; what optimizer step ``t`` runs with is read from
``optimizer.param_groups`` before it (``train_lrs`` in conftest.py).
"""

from __future__ import annotations

import io
import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    LambdaLR,
    LinearLR,
    PolynomialLR,
    SequentialLR,
)

import lrsched
from lrsched import (
    CosineAnnealingWarmupRestarts,
    CosineDecay,
    CosineScheduler,
    LinearScheduler,
    PolyScheduler,
    REXScheduler,
    ScheduledLR,
    get_chebyshev_schedule,
)


def warmup_then_decay(kind, t, t_max, max_lr, min_lr, init_lr, warmup, order=1.0):
    """The same independent formula as test_schedules.py."""
    if t < warmup:
        return init_lr + (max_lr - init_lr) * t / warmup
    p = min((t - warmup) / (t_max - warmup), 1.0)
    weight = {"linear": 1.0 - p, "cosine": 0.5 * (1.0 + math.cos(math.pi * p)), "poly": (1.0 - p) ** order}[kind]
    return min_lr + (max_lr - min_lr) * weight


@pytest.mark.parametrize(
    "cls, kind, extra",
    [(LinearScheduler, "linear", {}), (CosineScheduler, "cosine", {}), (PolyScheduler, "poly", {"poly_order": 2.0})],
)
@pytest.mark.parametrize("t_max, max_lr, min_lr, init_lr, warmup", [(10, 1e-2, 1e-4, 0.0, 5), (30, 0.1, 0.0, 1e-3, 0)])
def test_warmup_schedulers_step_by_step(
    make_optimizer, train_lrs, cls, kind, extra, t_max, max_lr, min_lr, init_lr, warmup
):
    optimizer = make_optimizer([0.5])
    scheduler = cls(optimizer, t_max=t_max, max_lr=max_lr, min_lr=min_lr, init_lr=init_lr, warmup_steps=warmup, **extra)
    seen = [lrs[0] for lrs in train_lrs(optimizer, scheduler, t_max + 5)]
    order = extra.get("poly_order", 1.0)
    expected = [warmup_then_decay(kind, t, t_max, max_lr, min_lr, init_lr, warmup, order) for t in range(t_max + 5)]
    np.testing.assert_allclose(seen, expected, rtol=1e-13, atol=1e-300)
    assert seen[0] == (init_lr if warmup else max_lr)  # step 0 runs at the schedule's step 0
    assert seen[warmup] == max_lr and seen[t_max] == min_lr and seen[-1] == min_lr
    assert scheduler.last_epoch == t_max + 5


def test_rex_scheduler_step_by_step(make_optimizer, train_lrs):
    optimizer = make_optimizer([1.0])
    scheduler = REXScheduler(optimizer, total_steps=20, max_lr=0.3, min_lr=0.01)
    seen = [lrs[0] for lrs in train_lrs(optimizer, scheduler, 25)]
    z = np.minimum(np.arange(25) / 20, 1.0)
    expected = 0.01 + (0.3 - 0.01) * (1 - z) / (1 - z / 2)
    np.testing.assert_allclose(seen, expected, rtol=1e-13)
    assert seen[0] == 0.3 and seen[20] == 0.01


def test_restarts_scheduler_step_by_step(make_optimizer, train_lrs):
    optimizer = make_optimizer([1.0])
    scheduler = CosineAnnealingWarmupRestarts(
        optimizer, first_cycle_steps=6, cycle_mult=2.0, max_lr=0.1, min_lr=0.001, warmup_steps=2, gamma=0.5
    )
    seen = [lrs[0] for lrs in train_lrs(optimizer, scheduler, 42)]
    expected = []
    for length, k in [(6, 0), (12, 1), (24, 2)]:  # cycles start at steps 0, 6, 18
        peak = 0.1 * 0.5**k
        for s in range(length):
            if s < 2:
                expected.append(0.001 + (peak - 0.001) * s / 2)
            else:
                expected.append(0.001 + (peak - 0.001) * 0.5 * (1 + math.cos(math.pi * (s - 2) / (length - 2))))
    np.testing.assert_allclose(seen, expected, rtol=1e-13)


def test_restarts_without_warmup_start_at_the_peak(make_optimizer):
    optimizer = make_optimizer([1.0])
    CosineAnnealingWarmupRestarts(optimizer, first_cycle_steps=10, max_lr=0.1, min_lr=0.001)
    assert optimizer.param_groups[0]["lr"] == 0.1


# -- cross-checks against torch's schedulers ------------------------------------------------------
def torch_lrs(scheduler, optimizer, steps):
    seen = []
    for _ in range(steps):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


@pytest.mark.parametrize("first, mult", [(10, 1), (5, 2), (3, 3)])
def test_restarts_equal_torch_cosine_annealing_warm_restarts(make_optimizer, first, mult):
    ours_opt, torch_opt = make_optimizer([0.1]), make_optimizer([0.1])
    ours = CosineAnnealingWarmupRestarts(ours_opt, first, float(mult), max_lr=0.1, min_lr=0.002, gamma=1.0)
    theirs = CosineAnnealingWarmRestarts(torch_opt, T_0=first, T_mult=mult, eta_min=0.002)
    np.testing.assert_allclose(torch_lrs(ours, ours_opt, 200), torch_lrs(theirs, torch_opt, 200), rtol=1e-12)


def test_linear_equals_torch_linear_lr(make_optimizer):
    ours_opt, torch_opt = make_optimizer([0.1]), make_optimizer([0.1])
    ours = LinearScheduler(ours_opt, t_max=50, max_lr=0.1, min_lr=0.01)
    theirs = LinearLR(torch_opt, start_factor=1.0, end_factor=0.1, total_iters=50)
    np.testing.assert_allclose(torch_lrs(ours, ours_opt, 70), torch_lrs(theirs, torch_opt, 70), rtol=1e-12)


def test_linear_warmup_then_cosine_equals_torch_sequential(make_optimizer):
    """with_warmup(CosineDecay) = torch's LinearLR warmup followed by CosineAnnealingLR."""
    ours_opt, torch_opt = make_optimizer([0.1]), make_optimizer([0.1])
    ours = CosineScheduler(ours_opt, t_max=60, max_lr=0.1, min_lr=0.001, init_lr=0.01, warmup_steps=10)
    warm = LinearLR(torch_opt, start_factor=0.1, end_factor=1.0, total_iters=10)
    cosine = CosineAnnealingLR(torch_opt, T_max=50, eta_min=0.001)
    theirs = SequentialLR(torch_opt, [warm, cosine], milestones=[10])
    np.testing.assert_allclose(torch_lrs(ours, ours_opt, 61), torch_lrs(theirs, torch_opt, 61), rtol=1e-12)


def test_cosine_equals_torch_cosine_annealing_lr(make_optimizer):
    ours_opt, torch_opt = make_optimizer([0.1]), make_optimizer([0.1])
    ours = CosineScheduler(ours_opt, t_max=40, max_lr=0.1, min_lr=0.003)
    theirs = CosineAnnealingLR(torch_opt, T_max=40, eta_min=0.003)
    # up to t_max; past it torch's CosineAnnealingLR climbs back up, ours holds min_lr
    np.testing.assert_allclose(torch_lrs(ours, ours_opt, 41), torch_lrs(theirs, torch_opt, 41), rtol=1e-12)


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_poly_equals_torch_polynomial_lr(make_optimizer, power):
    ours_opt, torch_opt = make_optimizer([0.1]), make_optimizer([0.1])
    ours = PolyScheduler(ours_opt, t_max=30, max_lr=0.1, poly_order=power)
    theirs = PolynomialLR(torch_opt, total_iters=30, power=power)
    np.testing.assert_allclose(torch_lrs(ours, ours_opt, 40), torch_lrs(theirs, torch_opt, 40), rtol=1e-12, atol=1e-18)


def test_scheduled_lr_equals_lambda_lr_on_every_group(make_optimizer):
    """Groups keep their ratios exactly as torch's LambdaLR does (initial lr times a factor)."""
    lrs = [0.1, 0.01, 0.001, 0.0]
    ours_opt, torch_opt = make_optimizer(lrs), make_optimizer(lrs)
    schedule = lrsched.warmup_cosine(t_max=30, max_lr=0.1, min_lr=0.001, warmup_steps=5)
    ours = ScheduledLR(ours_opt, schedule)
    theirs = LambdaLR(torch_opt, lambda t: schedule(t) / 0.1)
    for _ in range(35):
        ours_lrs = [g["lr"] for g in ours_opt.param_groups]
        theirs_lrs = [g["lr"] for g in torch_opt.param_groups]
        np.testing.assert_allclose(ours_lrs, theirs_lrs, rtol=1e-14, atol=0)
        for opt, sched in ((ours_opt, ours), (torch_opt, theirs)):
            opt.step()
            sched.step()


def test_chebyshev_schedule_equals_lambda_lr_of_the_steps(make_optimizer):
    ours_opt, torch_opt = make_optimizer([0.5, 0.05]), make_optimizer([0.5, 0.05])
    ours = get_chebyshev_schedule(ours_opt, num_epochs=12)
    table = lrsched.get_chebyshev_steps(12)[lrsched.get_chebyshev_permutation(12)]
    theirs = LambdaLR(torch_opt, lambda t: float(table[t % 12]))
    for _ in range(30):
        np.testing.assert_allclose(
            [g["lr"] for g in ours_opt.param_groups], [g["lr"] for g in torch_opt.param_groups], rtol=1e-15
        )
        for opt, sched in ((ours_opt, ours), (torch_opt, theirs)):
            opt.step()
            sched.step()


def test_works_as_a_child_of_torch_sequential_lr(make_optimizer):
    """SequentialLR resets a child with _update_lr(0) at its milestone: the child must restart at step 0."""
    optimizer = make_optimizer([0.1])
    warm = LinearLR(optimizer, start_factor=0.5, end_factor=1.0, total_iters=4)
    decay = ScheduledLR(optimizer, CosineDecay(decay_steps=10, max_lr=0.1))
    sequence = SequentialLR(optimizer, [warm, decay], milestones=[4])
    seen = torch_lrs(sequence, optimizer, 16)
    assert seen[4] == 0.1
    np.testing.assert_allclose(seen[4:], CosineDecay(10, 0.1)(np.arange(12)), rtol=1e-15)


# -- conventions: groups, state, types, warnings --------------------------------------------------
ALL = {
    "linear": lambda opt: LinearScheduler(opt, t_max=20, max_lr=0.2, min_lr=0.01, warmup_steps=3),
    "cosine": lambda opt: CosineScheduler(opt, t_max=20, max_lr=0.2, min_lr=0.01, init_lr=0.02, warmup_steps=3),
    "poly": lambda opt: PolyScheduler(opt, t_max=20, max_lr=0.2, min_lr=0.01, warmup_steps=3, poly_order=2.0),
    "rex": lambda opt: REXScheduler(opt, total_steps=20, max_lr=0.2, min_lr=0.01),
    "restarts": lambda opt: CosineAnnealingWarmupRestarts(opt, 5, 2.0, max_lr=0.2, min_lr=0.01, warmup_steps=1),
    "chebyshev": lambda opt: get_chebyshev_schedule(opt, num_epochs=9),
    "scheduled": lambda opt: ScheduledLR(opt, lrsched.with_warmup(lrsched.RexDecay(17, 0.2), 3)),
}


@pytest.mark.parametrize("name", ALL)
def test_groups_keep_their_ratios_and_a_zero_group_stays_zero(make_optimizer, train_lrs, name):
    lrs = [0.1, 0.01, 0.001, 0.0]
    optimizer = make_optimizer(lrs)
    scheduler = ALL[name](optimizer)
    for row in train_lrs(optimizer, scheduler, 30):
        assert row[3] == 0.0
        for lr, initial in zip(row[1:3], lrs[1:3]):
            assert lr == pytest.approx(row[0] * initial / 0.1, rel=1e-15, abs=1e-300)


def test_reference_group_is_the_largest_not_the_first(make_optimizer):
    optimizer = make_optimizer([0.01, 0.1])
    scheduler = CosineScheduler(optimizer, t_max=10, max_lr=0.5)
    assert scheduler.reference_group == 1
    assert [g["lr"] for g in optimizer.param_groups] == [pytest.approx(0.05), 0.5]
    np.testing.assert_array_equal(scheduler.lr_at([0, 10]), [0.5, 0.0])


def test_all_groups_at_zero_follow_the_schedule(make_optimizer):
    optimizer = make_optimizer([0.0, 0.0])
    LinearScheduler(optimizer, t_max=10, max_lr=0.5)
    assert [g["lr"] for g in optimizer.param_groups] == [0.5, 0.5]


@pytest.mark.parametrize("name", ALL)
def test_lrs_and_last_lr_are_python_floats_and_lr_at_is_float64(make_optimizer, name):
    optimizer = make_optimizer([0.1, 0.01])
    scheduler = ALL[name](optimizer)
    for _ in range(3):
        assert all(type(g["lr"]) is float for g in optimizer.param_groups)
        assert all(type(lr) is float for lr in scheduler.get_last_lr())
        assert scheduler.get_last_lr() == [g["lr"] for g in optimizer.param_groups]
        assert scheduler.get_lr() == scheduler.get_last_lr()
        optimizer.step()
        scheduler.step()
    at = scheduler.lr_at([0, 1, 2])
    assert isinstance(at, np.ndarray) and at.dtype == np.float64
    assert scheduler.lr_at(2).dtype == np.float64


@pytest.mark.parametrize("name", ALL)
def test_no_warning_in_the_ordinary_loop(make_optimizer, train_lrs, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizer = make_optimizer([0.1, 0.01], kind="adamw")
        scheduler = ALL[name](optimizer)
        train_lrs(optimizer, scheduler, 25)
        scheduler.get_last_lr()
        scheduler.get_lr()
        scheduler.state_dict()


@pytest.mark.parametrize("name", ALL)
def test_resume_through_torch_save_is_bit_identical(make_optimizer, train_lrs, name):
    optimizer = make_optimizer([0.1, 0.03, 0.0])
    scheduler = ALL[name](optimizer)
    train_lrs(optimizer, scheduler, 13)
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    reference = train_lrs(optimizer, scheduler, 20)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    fresh_optimizer = make_optimizer([0.1, 0.03, 0.0])
    fresh = ALL[name](fresh_optimizer)
    fresh_optimizer.load_state_dict(saved["optimizer"])
    fresh.load_state_dict(saved["scheduler"])
    assert train_lrs(fresh_optimizer, fresh, 20) == reference


@pytest.mark.parametrize("name", ALL)
def test_pickle_round_trip_continues_identically(make_optimizer, train_lrs, name):
    optimizer = make_optimizer([0.1, 0.01])
    scheduler = ALL[name](optimizer)
    train_lrs(optimizer, scheduler, 7)
    clone_optimizer, clone = pickle.loads(pickle.dumps((optimizer, scheduler)))
    assert clone.optimizer is clone_optimizer
    assert train_lrs(clone_optimizer, clone, 15) == train_lrs(optimizer, scheduler, 15)


def test_resume_with_last_epoch_needs_no_initial_lr(make_optimizer, train_lrs):
    optimizer = make_optimizer([0.1])
    reference = [r[0] for r in train_lrs(optimizer, CosineScheduler(optimizer, t_max=20, max_lr=0.1), 20)]
    # a fresh optimizer without 'initial_lr' (torch raises KeyError here); the first step() lands on step 8
    resumed_optimizer = make_optimizer([0.1])
    resumed = CosineScheduler(resumed_optimizer, t_max=20, max_lr=0.1, last_epoch=7)
    assert resumed.last_epoch == 8
    assert resumed_optimizer.param_groups[0]["lr"] == reference[8]


def test_state_dict_is_plain_numbers(make_optimizer):
    scheduler = CosineAnnealingWarmupRestarts(make_optimizer([0.1, 0.01]), 5, 1.5, warmup_steps=2)
    state = scheduler.state_dict()
    assert set(state) == {
        "scheduler", "schedule", "last_epoch", "_step_count", "base_lrs", "group_scales",
        "outside_factors", "reference_group", "last_lrs",
    }

    def plain(value):
        if isinstance(value, list):
            return all(plain(v) for v in value)
        if isinstance(value, dict):
            return all(type(k) is str and plain(v) for k, v in value.items())
        return type(value) in (int, float, str, bool) or value is None

    assert all(plain(v) for v in state.values())


def test_load_state_dict_with_other_group_count_raises(make_optimizer):
    state = LinearScheduler(make_optimizer([0.1, 0.01]), t_max=10, max_lr=0.1).state_dict()
    other = LinearScheduler(make_optimizer([0.1]), t_max=10, max_lr=0.1)
    with pytest.raises(ValueError, match="param groups"):
        other.load_state_dict(state)


def test_added_param_group_follows_the_schedule_scaled(make_optimizer):
    """Progressive unfreezing: a group added later follows the curve at its lr / reference initial lr."""
    optimizer = make_optimizer([0.1])
    scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01})
    seen = []
    for t in range(3, 8):
        seen.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert seen[0][1] == 0.01  # untouched until the next step
    for t, (reference, added) in enumerate(seen[1:], start=4):
        assert reference == pytest.approx(0.1 * (1 - t / 10), rel=1e-12)
        assert added == pytest.approx(0.01 * (1 - t / 10), rel=1e-12)
    state = scheduler.state_dict()
    resumed_opt = make_optimizer([0.1])
    resumed = LinearScheduler(resumed_opt, t_max=10, max_lr=0.1)
    resumed_opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01})
    resumed.load_state_dict(state)
    optimizer.step()
    scheduler.step()
    resumed.step()
    assert [g["lr"] for g in resumed_opt.param_groups] == [g["lr"] for g in optimizer.param_groups]


def test_removed_param_group_is_reported(make_optimizer):
    optimizer = make_optimizer([0.1, 0.01])
    scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    del optimizer.param_groups[1]
    optimizer.step()
    with pytest.raises(ValueError, match="param groups"):
        scheduler.step()


def test_tensor_lrs_are_filled_in_place(make_optimizer):
    params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = torch.optim.Adam(params, lr=torch.tensor(0.1))
    tensor = optimizer.param_groups[0]["lr"]
    scheduler = LinearScheduler(optimizer, t_max=4, max_lr=0.1)
    for t in range(6):
        assert optimizer.param_groups[0]["lr"] is tensor
        assert tensor.item() == pytest.approx(0.1 * max(1 - t / 4, 0.0))
        assert type(scheduler.get_last_lr()[0]) is float
        optimizer.step()
        scheduler.step()


def test_optimizer_groups_replaced_by_load_state_dict_are_rechecked(make_optimizer):
    """The fast path caches that the groups hold floats; a new group list must be looked at again."""
    optimizer = make_optimizer([0.1])
    scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    optimizer.step()
    scheduler.step()
    old_groups = optimizer.param_groups
    optimizer.load_state_dict(optimizer.state_dict())
    assert optimizer.param_groups is not old_groups
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.08)


def test_step_with_epoch_jumps(make_optimizer):
    optimizer = make_optimizer([0.1])
    scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    optimizer.step()
    scheduler.step(7)
    assert scheduler.last_epoch == 7 and optimizer.param_groups[0]["lr"] == pytest.approx(0.03)
    with pytest.raises(ValueError, match="epoch"):
        scheduler.step(-1)


def test_lr_at_does_not_change_state(make_optimizer):
    optimizer = make_optimizer([0.1])
    scheduler = CosineScheduler(optimizer, t_max=10, max_lr=0.1)
    before = (scheduler.last_epoch, optimizer.param_groups[0]["lr"], scheduler.state_dict())
    scheduler.lr_at(np.arange(100))
    scheduler.lr_at(torch.arange(5))
    assert before == (scheduler.last_epoch, optimizer.param_groups[0]["lr"], scheduler.state_dict())


def test_every_scheduler_is_a_torch_lr_scheduler(make_optimizer):
    for build in ALL.values():
        assert isinstance(build(make_optimizer([0.1])), torch.optim.lr_scheduler.LRScheduler)


def test_repr_names_the_schedule(make_optimizer):
    text = repr(LinearScheduler(make_optimizer([0.1]), t_max=10, max_lr=0.1))
    assert text.startswith("LinearScheduler(step=0") and "LinearDecay" in text


# -- issue 17: state of another configuration, NaN/inf/negative lrs, existing loops -----------------


def test_load_state_dict_of_another_configuration_raises_naming_it(make_optimizer):
    state = CosineScheduler(make_optimizer([0.1]), t_max=100, max_lr=0.1).state_dict()
    other = CosineScheduler(make_optimizer([0.5]), t_max=200, max_lr=0.5)
    with pytest.raises(ValueError, match="decay_steps: saved 100, this scheduler 200") as error:
        other.load_state_dict(state)
    assert "max_lr: saved 0.1, this scheduler 0.5" in str(error.value)


def test_load_state_dict_of_another_class_raises_naming_it(make_optimizer):
    state = LinearScheduler(make_optimizer([0.1]), t_max=10, max_lr=0.1).state_dict()
    other = CosineScheduler(make_optimizer([0.1]), t_max=10, max_lr=0.1)
    with pytest.raises(ValueError, match="LinearScheduler.*CosineScheduler"):
        other.load_state_dict(state)


def test_old_state_without_configuration_is_accepted(make_optimizer):
    optimizer = make_optimizer([0.1])
    scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    old = {"last_epoch": 4, "_step_count": 5, "base_lrs": [0.1], "group_scales": [1.0], "reference_group": 0}
    scheduler.load_state_dict(old)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.06)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1])
def test_a_group_with_a_bad_lr_is_refused_naming_it(make_optimizer, bad):
    optimizer = make_optimizer([0.1, 0.01])
    optimizer.param_groups[1]["lr"] = bad
    with pytest.raises(ValueError, match="param group 1"):
        LinearScheduler(optimizer, t_max=10, max_lr=0.1)


class NanAtFive(lrsched.Schedule):
    def formula(self, t, xp):
        return xp.where(t == 5, float("nan"), 0.1 + 0.0 * t)


def test_a_schedule_returning_nan_is_refused_naming_the_step(make_optimizer):
    optimizer = make_optimizer([0.1])
    scheduler = ScheduledLR(optimizer, NanAtFive())
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    optimizer.step()
    with pytest.raises(ValueError, match="at step 5"):
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == 0.1  # the NaN never reached the optimizer


@pytest.mark.parametrize(
    "key, value",
    [("group_scales", [float("nan")]), ("base_lrs", [float("inf")]), ("group_scales", [-1.0]),
     ("last_epoch", float("nan")), ("last_epoch", -5), ("outside_factors", [float("nan")]),
     ("last_lrs", [-0.5])],
)
def test_a_corrupted_state_is_refused(make_optimizer, key, value):
    optimizer = make_optimizer([0.1])
    scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    state = scheduler.state_dict() | {key: value}
    with pytest.raises(ValueError, match=key):
        LinearScheduler(make_optimizer([0.1]), t_max=10, max_lr=0.1).load_state_dict(state)


@pytest.mark.parametrize("epoch", [np.int64(7), np.int32(7), 7.0, np.float64(7.0), torch.tensor(7)])
def test_step_epoch_accepts_numpy_ints_and_integral_floats(make_optimizer, epoch):
    optimizer = make_optimizer([0.1])
    scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    optimizer.step()
    scheduler.step(epoch)
    assert scheduler.last_epoch == 7 and type(scheduler.last_epoch) is int
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.03)


def test_fractional_epochs_give_the_closed_form_like_torch_warm_restarts(make_optimizer):
    """The loop of torch's CosineAnnealingWarmRestarts docs: step(epoch + i / iters)."""
    ours_opt, ref_opt = make_optimizer([0.1]), make_optimizer([0.1])
    ours = CosineAnnealingWarmupRestarts(ours_opt, first_cycle_steps=10, max_lr=0.1, min_lr=0.0)
    reference = CosineAnnealingWarmRestarts(ref_opt, T_0=10, eta_min=0.0)
    iters = 4
    ours_opt.step()
    ref_opt.step()
    for epoch in range(3):
        for i in range(iters):
            ours.step(epoch + i / iters)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's epoch deprecation warning
                reference.step(epoch + i / iters)
            assert ours_opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12)


def test_step_order_warnings_like_torch(make_optimizer):
    for make in (lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda t: 1.0),
                 lambda o: LinearScheduler(o, t_max=10, max_lr=0.1)):
        optimizer = make_optimizer([0.1])
        scheduler = make(optimizer)
        with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
            scheduler.step()
        optimizer = make_optimizer([0.1])
        scheduler = make(optimizer)
        original = optimizer.step
        optimizer.step = lambda *args, **kwargs: original(*args, **kwargs)
        optimizer.step()
        with pytest.warns(UserWarning, match="has been overridden"):
            scheduler.step()
