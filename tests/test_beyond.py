"""Tests of lrsched.beyond: warmup-stable-decay, inverse square root, one-cycle, exponential ramp.

Expected values come from formulas written here independently (plain Python ``math``, the
papers' own conventions), from torch's ``OneCycleLR``, and from pytorch-optimizer 4.1.0 where its
defect is reproduced.
"""

from __future__ import annotations

import io
import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrsched
from lrsched import (
    ExponentialRamp,
    InverseSqrt,
    InverseSqrtScheduler,
    OneCycle,
    OneCycleScheduler,
    ScheduledLR,
    WarmupStableDecay,
    WSDScheduler,
)
from lrsched.beyond import ANNEAL_STRATEGIES, COOLDOWNS

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- helpers


def make_optimizer(lrs=(1.0,)) -> torch.optim.SGD:
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=max(lrs))


def run(scheduler, steps: int, group: int | None = None) -> np.ndarray:
    """The lr of ``group`` (default: the reference group) at steps 0 .. steps-1, by stepping."""
    group = getattr(scheduler, "reference_group", 0) if group is None else group
    out = []
    for _ in range(steps):
        out.append(scheduler.optimizer.param_groups[group]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(out)


def run_all_groups(scheduler, steps: int) -> np.ndarray:
    """Every group's lr at the next ``steps`` steps, shape ``(steps, groups)``, by stepping."""
    out = []
    for _ in range(steps):
        out.append([group["lr"] for group in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(out)


# Independent closed forms, written from the papers with plain Python math.


def wsd_reference(t, total, decay, max_lr, min_lr=0.0, warmup=0, init_lr=0.0, cooldown="1-sqrt"):
    if t < warmup:
        return init_lr + (max_lr - init_lr) * t / warmup
    start = total - decay
    if t <= start:
        return max_lr
    p = min((t - start) / decay, 1.0)
    d = {"linear": 1.0 - p, "cosine": 0.5 * (1.0 + math.cos(math.pi * p)), "1-sqrt": 1.0 - math.sqrt(p),
         "1-square": 1.0 - p * p}[cooldown]
    return min_lr + (max_lr - min_lr) * d


def vaswani_eq3(n, d_model, warmup):
    """Vaswani et al. (2017), eq. 3, with the paper's 1-based step n."""
    return d_model**-0.5 * min(n**-0.5, n * warmup**-1.5)


def one_cycle_reference(t, total, max_lr, pct, strategy, div, final_div):
    initial = max_lr / div
    final = initial / final_div
    peak = pct * total

    def anneal(a, b, u):  # from a to b as u goes 0 -> 1
        if strategy == "linear":
            return a + (b - a) * u
        return b + (a - b) / 2.0 * (1.0 + math.cos(math.pi * u))

    if t < peak:
        return anneal(initial, max_lr, t / peak)
    return anneal(max_lr, final, min((t - peak) / (total - peak), 1.0))


# ----------------------------------------------------------------------------- WSD


@pytest.mark.parametrize("cooldown", COOLDOWNS)
@pytest.mark.parametrize(
    "total, decay, max_lr, min_lr, warmup, init_lr",
    [(100, 20, 0.1, 0.0, 10, 0.0), (57, 13, 0.3, 0.01, 0, 0.0), (40, 40, 1.0, 0.5, 0, 0.0), (30, 7, 2.0, 0.2, 23, 0.05)],
)
def test_wsd_sequence_matches_formula(cooldown, total, decay, max_lr, min_lr, warmup, init_lr):
    sched = WSDScheduler(make_optimizer(), total, decay, max_lr, min_lr, warmup, init_lr, cooldown)
    got = run(sched, total + 15)
    expected = [wsd_reference(t, total, decay, max_lr, min_lr, warmup, init_lr, cooldown) for t in range(total + 15)]
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-16)


def test_wsd_hand_values():
    wsd = WarmupStableDecay(total_steps=8, decay_steps=4, max_lr=1.0, warmup_steps=2, cooldown="linear")
    assert wsd([0, 1, 2, 3, 4, 5, 6, 7, 8, 20]).tolist() == [0.0, 0.5, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    sq = WarmupStableDecay(total_steps=4, decay_steps=4, max_lr=1.0, min_lr=0.1, cooldown="1-sqrt")
    np.testing.assert_allclose(sq([1, 2, 3]), [0.1 + 0.9 * (1 - 0.5), 0.1 + 0.9 * (1 - 0.5**0.5), 0.1 + 0.9 * (1 - 0.75**0.5)])
    cos = WarmupStableDecay(total_steps=4, decay_steps=4, max_lr=1.0, min_lr=0.2, cooldown="cosine")
    assert cos(2) == pytest.approx(0.6)
    assert wsd.stable_steps == 2 and wsd.decay_start == 4


@SETTINGS
@given(
    total=st.integers(2, 3000),
    decay_frac=st.floats(0.0, 1.0),
    warm_frac=st.floats(0.0, 1.0),
    max_lr=st.floats(1e-6, 10.0),
    min_frac=st.floats(0.0, 1.0),
    init_frac=st.floats(0.0, 1.0),
    cooldown=st.sampled_from(COOLDOWNS),
)
def test_wsd_exact_endpoints_bounds_and_no_jump(total, decay_frac, warm_frac, max_lr, min_frac, init_frac, cooldown):
    decay = max(1, int(decay_frac * total))
    warmup = int(warm_frac * (total - decay))
    min_lr, init_lr = max_lr * min_frac, max_lr * init_frac
    wsd = WarmupStableDecay(total, decay, max_lr, min_lr, warmup, init_lr, cooldown)
    t = np.arange(total + 5)
    lr = wsd(t)
    # exact values at the phase boundaries
    assert lr[total] == min_lr and np.all(lr[total:] == min_lr)
    assert lr[total - decay] == max_lr and np.all(lr[warmup : total - decay + 1] == max_lr)
    assert lr[0] == (init_lr if warmup else max_lr)
    # bounds and shape
    assert np.all(lr <= max_lr) and np.all(lr >= min(min_lr, init_lr))
    cool = lr[total - decay : total + 1]
    assert np.all(np.diff(cool) <= 0.0), "the cooldown never rises"
    assert np.all(cool >= min_lr)
    if warmup:
        assert np.all(np.diff(lr[: warmup + 1]) >= 0.0)
    # no jump at the end: the last cooldown step is no larger than the largest step of the cooldown
    steps = -np.diff(cool)
    assert steps[-1] <= steps.max()
    if cooldown == "linear":  # equal steps of (max - min) / decay
        np.testing.assert_allclose(steps, (max_lr - min_lr) / decay, rtol=1e-9, atol=1e-15 * max_lr)


def test_wsd_ends_on_the_floor_where_pytorch_optimizer_jumps():
    """pytorch-optimizer 4.1.0: linear and 1-sqrt cooldowns ignore min_lr_ratio, then jump to it."""
    from pytorch_optimizer.lr_scheduler.wsd import get_wsd_schedule

    for cooldown in ("linear", "1-sqrt"):
        opt = make_optimizer()
        ref = run(get_wsd_schedule(opt, 0, 0, 10, min_lr_ratio=0.5, cooldown_type=cooldown), 12)
        assert ref[9] < 0.5 - 0.3 and ref[10] == 0.5  # falls far below the floor, then jumps up to it
        ours = run(WSDScheduler(make_optimizer(), 10, 10, max_lr=1.0, min_lr=0.5, cooldown=cooldown), 12)
        assert np.all(ours >= 0.5) and ours[10] == 0.5 and np.all(np.diff(ours) <= 0)
    np.testing.assert_allclose(ref[:10], 1.0 - np.sqrt(np.arange(10) / 10))  # the reference's ratio ignores the floor


def test_wsd_cosine_agrees_with_pytorch_optimizer_where_it_is_right():
    from pytorch_optimizer.lr_scheduler.wsd import get_wsd_schedule

    ref = run(get_wsd_schedule(make_optimizer([0.2]), 5, 20, 15, min_lr_ratio=0.1, cooldown_type="cosine"), 45)
    ours = run(WSDScheduler(make_optimizer([0.2]), 40, 15, 0.2, 0.02, 5, 0.0, "cosine"), 45)
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


# ----------------------------------------------------------------------------- inverse sqrt


@pytest.mark.parametrize("d_model, warmup", [(512, 4000), (1024, 4000), (64, 7), (10, 1)])
def test_inverse_sqrt_is_vaswani_eq3_with_one_based_steps(d_model, warmup):
    sched = InverseSqrt.from_d_model(d_model, warmup_steps=warmup)
    t = np.unique(np.r_[np.arange(0, 3 * warmup + 3), np.geomspace(1, 1e6, 200).astype(int)])
    expected = [vaswani_eq3(n, d_model, warmup) for n in t + 1]
    np.testing.assert_allclose(sched(t), expected, rtol=1e-13)
    peak = d_model**-0.5 * warmup**-0.5
    assert sched.peak_lr == pytest.approx(peak, rel=1e-15)
    assert sched(warmup - 1) == sched.peak_lr  # the W-th optimizer step runs at the peak, exactly
    assert sched(4 * warmup - 1) == pytest.approx(sched.peak_lr / 2, rel=1e-15)  # halves when n quadruples


def test_inverse_sqrt_scheduler_sequence():
    sched = InverseSqrtScheduler(make_optimizer([3.0]), warmup_steps=10, peak_lr=0.5)
    got = run(sched, 200)
    n = np.arange(1, 201)
    np.testing.assert_allclose(got, 0.5 * np.minimum(n / 10, np.sqrt(10 / n)), rtol=1e-14)
    assert got[0] == 0.05 and got.max() == 0.5 and got.argmax() == 9


# ----------------------------------------------------------------------------- one-cycle


@pytest.mark.parametrize("strategy", ANNEAL_STRATEGIES)
@pytest.mark.parametrize(
    "total, pct, div, final_div", [(100, 0.3, 25.0, 1e4), (37, 0.5, 10.0, 100.0), (250, 0.1, 4.0, 1.0), (9, 0.45, 1.0, 3.0)]
)
def test_one_cycle_matches_formula_and_torch(strategy, total, pct, div, final_div):
    max_lr = 0.4
    got = OneCycle(total, max_lr, pct, strategy, div, final_div)(np.arange(total + 10))
    expected = [one_cycle_reference(t, total, max_lr, pct, strategy, div, final_div) for t in range(total + 10)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15 * max_lr)
    # torch's OneCycleLR ends at total_steps - 1 and peaks at pct_start * total_steps - 1: the
    # conventions coincide for total_steps = T + 1 and pct_start = (P + 1) / (T + 1).
    torch_lrs = torch_one_cycle(max_lr=max_lr, total_steps=total + 1, pct_start=(pct * total + 1) / (total + 1),
                                anneal_strategy=strategy, div_factor=div, final_div_factor=final_div)
    np.testing.assert_allclose(got[: total + 1], torch_lrs[:, 0], rtol=1e-12, atol=1e-15 * max_lr)


def torch_one_cycle(group_lrs=(0.1,), **kwargs) -> np.ndarray:
    """Every group's lr at each step of torch's OneCycleLR, over its whole cycle."""
    optimizer = make_optimizer()
    optimizer.param_groups.clear()
    for lr in group_lrs:
        optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr})
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, cycle_momentum=False, **kwargs)
    seen = []
    for t in range(scheduler.total_steps):
        seen.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        if t < scheduler.total_steps - 1:
            scheduler.step()
    return np.array(seen)


def lrsched_one_cycle(steps, group_lrs=(0.1,), **kwargs) -> np.ndarray:
    optimizer = make_optimizer()
    optimizer.param_groups.clear()
    for lr in group_lrs:
        optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr})
    scheduler = OneCycleScheduler(optimizer, **kwargs)
    seen = []
    for _ in range(steps):
        seen.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return np.array(seen)


ONE_CYCLE_SETTINGS = [
    dict(max_lr=0.4, total_steps=100),
    dict(max_lr=0.4, total_steps=37, pct_start=0.45, anneal_strategy="linear", div_factor=10.0),
    dict(max_lr=0.4, total_steps=100, three_phase=True),
    dict(max_lr=0.2, total_steps=61, pct_start=0.25, three_phase=True, anneal_strategy="linear", final_div_factor=30.0),
    dict(max_lr=0.3, epochs=7, steps_per_epoch=13),
    dict(max_lr=0.3, epochs=4, steps_per_epoch=25, three_phase=True, pct_start=0.2),
    dict(max_lr=[0.4, 0.1, 0.0], total_steps=50, group_lrs=(1.0, 2.0, 3.0)),
    dict(max_lr=[0.05, 0.5], epochs=3, steps_per_epoch=20, three_phase=True, group_lrs=(0.1, 0.1)),
]


@pytest.mark.parametrize("setting", ONE_CYCLE_SETTINGS)
def test_one_cycle_scheduler_is_torch_one_cycle_lr_step_for_step(setting):
    theirs = torch_one_cycle(**dict(setting))
    ours = lrsched_one_cycle(len(theirs) + 5, **dict(setting))
    np.testing.assert_allclose(ours[: len(theirs)], theirs, rtol=1e-13, atol=1e-17)
    assert np.all(ours[len(theirs):] == ours[len(theirs) - 1])  # holds the final lr (torch raises)


def test_one_cycle_scheduler_arguments():
    with pytest.raises(ValueError, match="epochs and steps_per_epoch"):
        OneCycleScheduler(make_optimizer(), 0.1)
    with pytest.raises(ValueError, match="max_lr must have one value per param group"):
        OneCycleScheduler(make_optimizer(), [0.1, 0.2], total_steps=10)
    with pytest.raises(ValueError, match="pct_start \\* total_steps must be > 1"):
        OneCycleScheduler(make_optimizer(), 0.1, total_steps=3)
    with pytest.raises(ValueError, match="three_phase"):
        OneCycleScheduler(make_optimizer(), 0.1, total_steps=100, pct_start=0.6, three_phase=True)
    with pytest.raises(ValueError, match="max_lr\\[1\\]"):
        OneCycleScheduler(make_optimizer([0.1, 0.1]), [0.1, -1.0], total_steps=10)


def test_one_cycle_exact_endpoints():
    for strategy in ANNEAL_STRATEGIES:
        oc = OneCycle(total_steps=200, max_lr=0.3, pct_start=0.25, anneal_strategy=strategy)
        assert oc(0) == 0.3 / 25.0 == oc.initial_lr
        assert oc(50) == 0.3  # the peak, at 0.25 * 200
        assert oc(200) == 0.3 / 25.0 / 1e4 == oc.final_lr == oc(10_000)
        assert oc.peak_step == 50.0
    # 0.29 * 100 is 28.999999999999996 in floating point: the peak still lands on step 29
    assert 0.29 * 100 != 29 and OneCycle(100, 0.4, 0.29).peak_step == 29.0 and OneCycle(100, 0.4, 0.29)(29) == 0.4
    assert OneCycle(10, 1.0, 0.25).peak_step == 2.5  # a genuinely fractional peak is kept
    assert OneCycle(10, 1.0, 0.25)([2, 3]).max() < 1.0


@SETTINGS
@given(
    total=st.integers(1, 2000),
    pct=st.floats(0.001, 0.999),
    strategy=st.sampled_from(ANNEAL_STRATEGIES),
    max_lr=st.floats(1e-6, 10.0),
    div=st.floats(1.0, 1e3),
    final_div=st.floats(1.0, 1e5),
)
def test_one_cycle_rises_then_falls_within_its_range(total, pct, strategy, max_lr, div, final_div):
    oc = OneCycle(total, max_lr, pct, strategy, div, final_div)
    t = np.arange(total + 3)
    lr = oc(t)
    rising = t <= oc.peak_step
    assert np.all(np.diff(lr[rising]) >= 0.0) and np.all(np.diff(lr[~rising]) <= 0.0)
    assert lr[0] == oc.initial_lr and lr[total] == oc.final_lr and np.all(lr[total:] == oc.final_lr)
    assert np.all(lr <= max_lr) and np.all(lr >= oc.final_lr)


@SETTINGS
@given(warmup=st.integers(1, 5000), peak=st.floats(1e-8, 10.0))
def test_inverse_sqrt_peaks_at_warmup_and_decays(warmup, peak):
    sched = InverseSqrt(warmup, peak)
    t = np.arange(3 * warmup + 2)
    lr = sched(t)
    assert lr[warmup - 1] == peak == lr.max() and lr[0] == pytest.approx(peak / warmup, rel=1e-15)
    assert np.all(np.diff(lr[:warmup]) > 0) and np.all(np.diff(lr[warmup - 1 :]) <= 0)
    assert np.all(lr > 0)


# ----------------------------------------------------------------------------- exponential ramp


def test_exponential_ramp_formula():
    ramp = ExponentialRamp(1e-5, 10.0, 300)
    t = np.arange(400)
    np.testing.assert_allclose(ramp(t), 1e-5 * (10.0 / 1e-5) ** (np.minimum(t, 300) / 300), rtol=1e-12)
    assert ramp(0) == 1e-5 and ramp(300) == 10.0 and ramp(1000) == 10.0
    ratios = ramp(np.arange(301))[1:] / ramp(np.arange(300))
    np.testing.assert_allclose(ratios, 1e6 ** (1 / 300), rtol=1e-12)  # one constant factor per step
    down = ExponentialRamp(1.0, 1e-2, 2)
    np.testing.assert_allclose(down([0, 1, 2, 3]), [1.0, 0.1, 0.01, 0.01])


# ----------------------------------------------------------------------------- common properties

# Each entry builds (scheduler kwargs, factory) from hypothesis draws; the factory takes an optimizer.


@st.composite
def configs(draw):
    kind = draw(st.sampled_from(["wsd", "isqrt", "onecycle", "ramp"]))
    max_lr = draw(st.floats(1e-5, 5.0))
    if kind == "wsd":
        total = draw(st.integers(2, 400))
        decay = draw(st.integers(1, total))
        warmup = draw(st.integers(0, total - decay))
        min_lr = max_lr * draw(st.floats(0.0, 1.0))
        init_lr = max_lr * draw(st.floats(0.0, 1.0))
        cooldown = draw(st.sampled_from(COOLDOWNS))
        low = min(min_lr, init_lr) if warmup else min_lr
        return kind, (lambda opt: WSDScheduler(opt, total, decay, max_lr, min_lr, warmup, init_lr, cooldown)), low, max_lr
    if kind == "isqrt":
        warmup = draw(st.integers(1, 300))
        return kind, (lambda opt: InverseSqrtScheduler(opt, warmup, max_lr)), 0.0, max_lr
    if kind == "onecycle":
        total = draw(st.integers(1, 400))
        pct = draw(st.floats(0.01, 0.99))
        strategy = draw(st.sampled_from(ANNEAL_STRATEGIES))
        div = draw(st.floats(1.0, 100.0))
        final_div = draw(st.floats(1.0, 1e4))
        low = max_lr / div / final_div
        total += 2 + int(1 / pct)  # torch's convention needs pct_start * total_steps > 1
        return kind, (lambda opt: OneCycleScheduler(opt, max_lr, total, None, None, pct, strategy, div, final_div)), low, max_lr
    start = draw(st.floats(1e-7, 1.0))
    end = start * draw(st.floats(1.0001, 1e6))
    steps = draw(st.integers(1, 400))
    return kind, (lambda opt: ScheduledLR(opt, ExponentialRamp(start, end, steps))), start, end


@SETTINGS
@given(config=configs(), k=st.integers(0, 450), extra=st.integers(1, 60))
def test_bounds_and_lr_at_equals_stepping(config, k, extra):
    _, factory, low, high = config
    sched = factory(make_optimizer())
    got = run(sched, k + extra)
    assert np.array_equal(got, sched.lr_at(np.arange(k + extra))), "lr_at must equal stepping, bit for bit"
    assert np.all(got >= low) and np.all(got <= high)
    assert all(type(lr) is float for lr in sched.get_last_lr())


@SETTINGS
@given(config=configs(), k=st.integers(0, 450), extra=st.integers(1, 60))
def test_bit_identical_resume_through_torch_save(config, k, extra):
    _, factory, _, _ = config
    a = factory(make_optimizer([0.5, 0.05]))
    run(a, k)
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    b = factory(make_optimizer([0.5, 0.05]))
    b.load_state_dict(state)
    assert np.array_equal(run_all_groups(a, extra), run_all_groups(b, extra))
    assert a.last_epoch == b.last_epoch == k + extra


@SETTINGS
@given(config=configs(), k=st.integers(0, 100))
def test_pickle_round_trip(config, k):
    _, factory, _, _ = config
    sched = factory(make_optimizer())
    run(sched, k)
    clone = pickle.loads(pickle.dumps(sched))
    assert clone.schedule == sched.schedule
    assert clone.last_epoch == sched.last_epoch
    np.testing.assert_array_equal(run(clone, 20), run(sched, 20))
    steps = np.arange(500)
    assert np.array_equal(pickle.loads(pickle.dumps(sched.schedule))(steps), sched.schedule(steps))


@SETTINGS
@given(config=configs(), k=st.integers(1, 300))
def test_param_groups_keep_their_ratios(config, k):
    _, factory, _, _ = config
    sched = factory(make_optimizer([0.01, 0.1, 0.001, 0.0]))
    assert sched.reference_group == 1
    run(sched, k)
    groups = [g["lr"] for g in sched.optimizer.param_groups]
    reference = float(sched.lr_at(k))
    assert groups[1] == reference
    assert groups[0] == pytest.approx(reference * 0.1, rel=1e-15, abs=0.0)
    assert groups[2] == pytest.approx(reference * 0.01, rel=1e-15, abs=0.0)
    assert groups[3] == 0.0


def test_fresh_scheduler_holds_step_zero_and_is_an_lr_scheduler():
    for sched in (
        WSDScheduler(make_optimizer(), 10, 4, 0.3, warmup_steps=2, init_lr=0.03),
        InverseSqrtScheduler(make_optimizer(), 4, 0.3),
        OneCycleScheduler(make_optimizer(), 0.3, 10),
    ):
        assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
        assert sched.optimizer.param_groups[0]["lr"] == sched.lr_at(0) == sched.schedule(0)


def test_no_step_order_warning(recwarn):
    sched = OneCycleScheduler(make_optimizer(), 0.3, 10)
    run(sched, 5)
    assert not [w for w in recwarn if "lr_scheduler.step()" in str(w.message)]


def test_exported_from_lrsched():
    for name in ("WarmupStableDecay", "WSDScheduler", "InverseSqrt", "InverseSqrtScheduler", "OneCycle",
                 "OneCycleScheduler", "ExponentialRamp"):
        assert name in lrsched.__all__ and getattr(lrsched, name) is not None


# ----------------------------------------------------------------------------- bad arguments

BAD = [
    # (callable, kwargs, the argument the message must name)
    (WarmupStableDecay, dict(total_steps=0, decay_steps=1, max_lr=1.0), "total_steps"),
    (WarmupStableDecay, dict(total_steps=10.0, decay_steps=1, max_lr=1.0), "total_steps"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=0, max_lr=1.0), "decay_steps"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=11, max_lr=1.0), "decay_steps"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=5, max_lr=1.0, warmup_steps=6), "warmup_steps"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=5, max_lr=1.0, warmup_steps=-1), "warmup_steps"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=5, max_lr=-1.0), "max_lr"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=5, max_lr=float("nan")), "max_lr"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=5, max_lr=0.1, min_lr=0.2), "min_lr"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=5, max_lr=0.1, min_lr=-0.2), "min_lr"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=5, max_lr=0.1, warmup_steps=2, init_lr=0.2), "init_lr"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=5, max_lr=0.1, cooldown="exp"), "cooldown"),
    (WarmupStableDecay, dict(total_steps=10, decay_steps=5, max_lr=0.1, cooldown=None), "cooldown"),
    (InverseSqrt, dict(warmup_steps=0, peak_lr=1.0), "warmup_steps"),
    (InverseSqrt, dict(warmup_steps=True, peak_lr=1.0), "warmup_steps"),
    (InverseSqrt, dict(warmup_steps=10, peak_lr=-1.0), "peak_lr"),
    (InverseSqrt.from_d_model, dict(d_model=0), "d_model"),
    (InverseSqrt.from_d_model, dict(d_model=512, warmup_steps=0), "warmup_steps"),
    (InverseSqrt.from_d_model, dict(d_model=512, scale=-1.0), "scale"),
    (OneCycle, dict(total_steps=0, max_lr=1.0), "total_steps"),
    (OneCycle, dict(total_steps=10, max_lr=-1.0), "max_lr"),
    (OneCycle, dict(total_steps=10, max_lr=1.0, pct_start=0.0), "pct_start"),
    (OneCycle, dict(total_steps=10, max_lr=1.0, pct_start=1.0), "pct_start"),
    (OneCycle, dict(total_steps=10, max_lr=1.0, anneal_strategy="cosine"), "anneal_strategy"),
    (OneCycle, dict(total_steps=10, max_lr=1.0, div_factor=0.5), "div_factor"),
    (OneCycle, dict(total_steps=10, max_lr=1.0, final_div_factor=0.0), "final_div_factor"),
    (ExponentialRamp, dict(start_lr=0.0, end_lr=1.0, steps=10), "start_lr"),
    (ExponentialRamp, dict(start_lr=1e-3, end_lr=-1.0, steps=10), "end_lr"),
    (ExponentialRamp, dict(start_lr=1e-3, end_lr=1.0, steps=0), "steps"),
    (lambda **kw: WSDScheduler(make_optimizer(), **kw), dict(total_steps=5, decay_steps=6, max_lr=1.0), "decay_steps"),
    (lambda **kw: InverseSqrtScheduler(make_optimizer(), **kw), dict(warmup_steps=-3, peak_lr=1.0), "warmup_steps"),
    (lambda **kw: OneCycleScheduler(make_optimizer(), **kw), dict(total_steps=5, max_lr=1.0, pct_start=2.0), "pct_start"),
]


@pytest.mark.parametrize("factory, kwargs, name", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_arguments_raise_naming_the_argument(factory, kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        factory(**kwargs)


def test_scheduler_rejects_non_optimizer():
    with pytest.raises(TypeError, match="optimizer"):
        WSDScheduler("not an optimizer", 10, 2, 0.1)


# -- issue 17: the ramp in log space ---------------------------------------------------------------------
@pytest.mark.parametrize("start, end", [(1e-310, 0.1), (0.1, 1e-310), (5e-324, 1.0), (1e-300, 1e300)])
def test_exponential_ramp_over_any_float_range_is_finite_and_geometric(start, end):
    ramp = ExponentialRamp(start, end, 10)
    values = ramp(np.arange(12))
    assert np.all(np.isfinite(values)) and values[0] == start and values[10] == values[11] == end
    assert [ramp(t) for t in range(12)] == values.tolist()
    # 10**(log10 start + t/10 (log10 end - log10 start)), away from the subnormal ends
    decades = [math.log10(start) + t / 10 * (math.log10(end) - math.log10(start)) for t in range(1, 10)]
    np.testing.assert_allclose(values[1:10], [10.0**d for d in decades], rtol=1e-9)


# -- issue 17: pytorch-optimizer 4.1.0's get_wsd_schedule -------------------------------------------------
@pytest.mark.parametrize("cooldown", COOLDOWNS)
@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("warmup, stable, decay", [(2, 2, 3), (0, 5, 4), (3, 0, 1), (10, 20, 30)])
def test_get_wsd_schedule_matches_the_reference_where_it_keeps_its_floor(cooldown, ratio, warmup, stable, decay):
    from pytorch_optimizer.lr_scheduler.wsd import get_wsd_schedule as theirs

    from lrsched import get_wsd_schedule

    steps = warmup + stable + decay + 5
    reference = run(theirs(make_optimizer((0.3, 0.03)), warmup, stable, decay, ratio, cooldown_type=cooldown), steps)
    ours_scheduler = get_wsd_schedule(make_optimizer((0.3, 0.03)), warmup, stable, decay, ratio, cooldown_type=cooldown)
    ours = run(ours_scheduler, steps)
    if ratio == 0.0 or cooldown == "cosine":  # the reference ignores the floor in the other cooldowns
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-17)
    else:  # here they land on it continuously: same warmup and plateau, a cooldown within [floor, peak]
        cool = warmup + stable
        np.testing.assert_allclose(ours[: cool + 1], reference[: cool + 1], rtol=1e-12)
        assert np.all(ours[cool:] >= 0.3 * ratio) and ours[-1] == reference[-1] == pytest.approx(0.3 * ratio)
    groups = run_all_groups(ours_scheduler, 3)
    assert groups[:, 1] == pytest.approx(groups[:, 0] / 10)  # LambdaLR-like: each group by its own lr


def test_get_wsd_schedule_rejects_what_it_does_not_provide():
    from lrsched import get_wsd_schedule

    with pytest.raises(ValueError, match="num_cycles"):
        get_wsd_schedule(make_optimizer(), 1, 1, 2, num_cycles=1.0)
    with pytest.raises(ValueError, match="num_decay_steps"):
        get_wsd_schedule(make_optimizer(), 1, 1, 0)
    with pytest.raises(ValueError, match="cooldown"):
        get_wsd_schedule(make_optimizer(), 1, 1, 2, cooldown_type="1-cube")
