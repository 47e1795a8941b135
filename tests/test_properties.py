"""Property-based tests (hypothesis) over random valid configurations of every scheduler.

Each strategy draws a configuration and returns a ``Case``: how to build the scheduler on an
optimizer, the interval its lr must stay in, and the steps whose lr is known exactly.
"""

from __future__ import annotations

import io
import pickle
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import lrsched
from lrsched import (
    CosineAnnealingWarmupRestarts,
    CosineScheduler,
    LinearScheduler,
    PolyScheduler,
    ProportionScheduler,
    REXScheduler,
    ScheduledLR,
    get_chebyshev_schedule,
)

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GROUPS = [0.1, 0.01, 0.001, 0.0]  # the reference group first; a group at 0 must stay at 0


@dataclass
class Case:
    label: str
    build: Callable[[torch.optim.Optimizer], ScheduledLR]
    low: float
    high: float
    exact: dict[int, float] = field(default_factory=dict)  # step -> lr, bit for bit
    horizon: int = 100  # steps worth running


def optimizer(lrs=GROUPS):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


def loop(opt, scheduler, steps):
    """The ordinary loop; the lrs (all groups) each optimizer step runs with."""
    param = opt.param_groups[0]["params"][0]
    seen = []
    for _ in range(steps):
        seen.append([g["lr"] for g in opt.param_groups])
        param.grad = torch.ones_like(param)
        opt.step()
        scheduler.step()
    return seen


lrs = st.floats(1e-7, 10.0)
fractions = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))


@st.composite
def warmup_decay(draw, cls):
    t_max = draw(st.integers(1, 300))
    warmup = draw(st.integers(0, t_max - 1))
    max_lr = draw(lrs)
    min_lr = draw(fractions) * max_lr
    init_lr = draw(fractions) * max_lr
    order = draw(st.one_of(st.sampled_from([0.5, 1.0, 2.0]), st.floats(0.1, 6.0)))
    extra = {"poly_order": order} if cls is PolyScheduler else {}
    exact = {warmup: max_lr, t_max: min_lr, t_max + 1: min_lr, 10 * t_max + 7: min_lr, 0: init_lr if warmup else max_lr}
    return Case(
        f"{cls.__name__}(t_max={t_max}, max_lr={max_lr}, min_lr={min_lr}, init_lr={init_lr}, warmup={warmup}, {extra})",
        lambda opt: cls(
            opt, t_max=t_max, max_lr=max_lr, min_lr=min_lr, init_lr=init_lr, warmup_steps=warmup, **extra
        ),
        min(init_lr, min_lr),
        max_lr,
        exact,
        t_max + 5,
    )


@st.composite
def rex(draw):
    total = draw(st.integers(1, 300))
    max_lr = draw(lrs)
    min_lr = draw(fractions) * max_lr
    beta = draw(st.one_of(st.just(0.0), st.just(0.5), st.floats(0.0, 0.999)))
    return Case(
        f"REXScheduler({total}, {max_lr}, {min_lr}, beta={beta})",
        lambda opt: REXScheduler(opt, total, max_lr, min_lr, beta),
        min_lr,
        max_lr,
        {0: max_lr, total: min_lr, total + 3: min_lr},
        total + 5,
    )


@st.composite
def restarts(draw):
    first = draw(st.integers(1, 40))
    mult = draw(st.one_of(st.sampled_from([1.0, 2.0, 3.0]), st.floats(1.0, 3.0)))
    warmup = draw(st.integers(0, first - 1))
    max_lr = draw(lrs)
    min_lr = draw(fractions) * max_lr
    gamma = draw(st.one_of(st.just(1.0), st.floats(0.05, 1.0)))
    schedule = lrsched.CosineRestarts(first, mult, max_lr, min_lr, warmup, gamma)
    exact = {0: min_lr if warmup else max_lr, warmup: max_lr}
    for k in range(1, 6):  # every cycle starts at min_lr (warmup) or its peak, and peaks after warmup
        start = schedule.cycle_start(k)
        peak = max(max_lr * gamma**k, min_lr)
        if warmup:
            exact[start] = min_lr
        exact[start + warmup] = peak
    return Case(
        f"CosineAnnealingWarmupRestarts({first}, {mult}, {max_lr}, {min_lr}, {warmup}, {gamma})",
        lambda opt: CosineAnnealingWarmupRestarts(opt, first, mult, max_lr, min_lr, warmup, gamma),
        min_lr,
        max_lr,
        exact,
        min(schedule.cycle_start(4), 400),
    )


@st.composite
def chebyshev(draw):
    T = draw(st.integers(1, 70))
    M = draw(st.floats(0.5, 5.0))
    m = draw(st.floats(0.01, 0.9)) * M
    table = lrsched.get_chebyshev_steps(T, m, M)[lrsched.get_chebyshev_permutation(T)]
    return Case(
        f"get_chebyshev_schedule(T={T}, m={m}, M={M})",
        lambda opt: get_chebyshev_schedule(opt, T, m=m, M=M),
        GROUPS[0] / M,
        GROUPS[0] / m,
        {t: GROUPS[0] * float(table[t % T]) for t in (0, T - 1, T, 2 * T + 1)},
        2 * T + 3,
    )


@st.composite
def composed(draw):
    """A user-composed schedule: warmup into REX, joined to a constant tail."""
    warm, total, tail = draw(st.integers(1, 30)), draw(st.integers(1, 100)), draw(st.floats(0.0, 1.0))
    max_lr = draw(lrs)
    schedule = lrsched.join_schedules(
        [lrsched.with_warmup(lrsched.RexDecay(total, max_lr, 0.0), warm), lrsched.Constant(tail * max_lr)],
        [warm + total],
    )
    return Case(
        f"composed({warm}, {total}, {tail}, {max_lr})",
        lambda opt: ScheduledLR(opt, schedule),
        0.0,
        max_lr,
        {0: 0.0, warm: max_lr, warm + total: tail * max_lr, 5 * (warm + total): tail * max_lr},
        warm + total + 5,
    )


KINDS = {
    "linear": warmup_decay(LinearScheduler),
    "cosine": warmup_decay(CosineScheduler),
    "poly": warmup_decay(PolyScheduler),
    "rex": rex(),
    "restarts": restarts(),
    "chebyshev": chebyshev(),
    "composed": composed(),
}
every_kind = pytest.mark.parametrize("kind", KINDS)


@every_kind
@FAST
@given(data=st.data())
def test_stepping_stays_in_range_hits_endpoints_keeps_ratios_and_equals_lr_at(kind, data):
    case = data.draw(KINDS[kind])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning anywhere in the ordinary loop
        opt = optimizer()
        scheduler = case.build(opt)
        seen = loop(opt, scheduler, case.horizon)
        last = scheduler.get_last_lr()
    reference = np.array([row[0] for row in seen])
    assert np.all(np.isfinite(reference)), case.label
    assert np.all((reference >= case.low) & (reference <= case.high)), case.label
    assert all(type(lr) is float for row in seen for lr in row) and all(type(lr) is float for lr in last)
    # lr_at is the closed form, bit for bit equal to what stepping wrote
    assert scheduler.lr_at(np.arange(case.horizon)).tolist() == reference.tolist(), case.label
    # the exact points
    for step, value in case.exact.items():
        assert scheduler.lr_at(step) == value, (case.label, step)
    # other groups keep their ratio to the reference group, the zero group stays zero
    for row in seen:
        assert row[3] == 0.0
        for lr, initial in zip(row[1:3], GROUPS[1:3]):
            assert lr == pytest.approx(row[0] * initial / GROUPS[0], rel=1e-15, abs=1e-300)


@every_kind
@FAST
@given(data=st.data(), where=st.floats(0.0, 1.0), more=st.integers(1, 40))
def test_resume_from_a_state_dict_is_bit_identical(kind, data, where, more):
    case = data.draw(KINDS[kind])
    stop = int(where * case.horizon)
    opt = optimizer()
    scheduler = case.build(opt)
    loop(opt, scheduler, stop)
    buffer = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    expected = loop(opt, scheduler, more)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    fresh_opt = optimizer()
    fresh = case.build(fresh_opt)
    fresh_opt.load_state_dict(saved["optimizer"])
    fresh.load_state_dict(saved["scheduler"])
    assert loop(fresh_opt, fresh, more) == expected, case.label


@every_kind
@FAST
@given(data=st.data(), stop=st.integers(0, 50))
def test_pickle_round_trip(kind, data, stop):
    case = data.draw(KINDS[kind])
    opt = optimizer()
    scheduler = case.build(opt)
    loop(opt, scheduler, stop)
    clone_opt, clone = pickle.loads(pickle.dumps((opt, scheduler)))
    assert loop(clone_opt, clone, 20) == loop(opt, scheduler, 20), case.label


@every_kind
@FAST
@given(data=st.data())
def test_closed_form_scalar_array_and_tensor_agree_bit_for_bit(kind, data):
    """Any steps, unsorted, past the horizon, real-valued where the schedule allows it."""
    case = data.draw(KINDS[kind])
    scheduler = case.build(optimizer())
    schedule = scheduler.schedule
    steps = data.draw(st.lists(st.integers(0, 10 * case.horizon + 10), min_size=1, max_size=60))
    values = schedule(np.array(steps))
    assert values.tolist() == [schedule(s) for s in steps]
    assert schedule(torch.tensor(steps)).tolist() == values.tolist()
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    if not isinstance(schedule, lrsched.ChebyshevSteps):
        reals = data.draw(st.lists(st.floats(0.0, 3.0 * case.horizon), min_size=1, max_size=30))
        assert schedule(np.array(reals)).tolist() == [schedule(s) for s in reals]


@FAST
@given(
    max_lr=lrs,
    low=fractions,
    value_range=st.tuples(st.floats(-1.0, 1.0), st.floats(0.0, 2.0)),
    lr_range=st.tuples(fractions, fractions),
    t_max=st.integers(1, 80),
)
def test_proportion_is_affine_in_the_lr_and_clamped(max_lr, low, value_range, lr_range, t_max):
    min_lr = low * max_lr
    min_value, span = value_range
    max_value = min_value + span
    a, b = sorted(lr_range)
    if b * max_lr <= a * max_lr:
        b, a = 1.0, 0.0
    lr_low, lr_high = a * max_lr, b * max_lr
    opt = optimizer([max_lr])
    lr_scheduler = CosineScheduler(opt, t_max, max_lr, min_lr)
    rho = ProportionScheduler(lr_scheduler, max_lr=lr_high, min_lr=lr_low, max_value=max_value, min_value=min_value)
    for _ in range(t_max + 3):
        lr, value = opt.param_groups[0]["lr"], rho.get_lr()
        assert min_value <= value <= max_value
        fraction = min(max((lr - lr_low) / (lr_high - lr_low), 0.0), 1.0)
        assert value == pytest.approx(min_value + (max_value - min_value) * fraction, rel=1e-12, abs=1e-12)
        opt.step()
        lr_scheduler.step()
        rho.step()


@FAST
@given(layers=st.integers(1, 12), decay=st.floats(0.05, 1.0), lr=lrs, weight_decay=st.floats(0.0, 0.3))
def test_layer_decay_lrs_and_coverage(layers, decay, lr, weight_decay):
    model = torch.nn.Module()
    model.embed = torch.nn.Embedding(3, 2)
    model.layers = torch.nn.ModuleList(torch.nn.Linear(2, 2) for _ in range(layers))
    model.head = torch.nn.Linear(2, 1)
    groups = lrsched.layer_decay_param_groups(model, lr=lr, decay=decay, weight_decay=weight_decay)
    seen = {id(p): g for g in groups for p in g["params"]}
    assert len(seen) == sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert seen[id(model.head.weight)]["lr"] == lr
    assert seen[id(model.embed.weight)]["lr"] == lr * decay ** (layers + 1)
    for i, layer in enumerate(model.layers):
        assert seen[id(layer.weight)]["lr"] == lr * decay ** (layers - i)
        assert seen[id(layer.weight)]["weight_decay"] == weight_decay and seen[id(layer.bias)]["weight_decay"] == 0.0


MANY = settings(max_examples=400, deadline=None)


@MANY
@given(
    t_max=st.integers(1, 10**6),
    warmup=st.floats(0.0, 0.999),
    max_lr=lrs,
    min_frac=fractions,
    init_frac=fractions,
    order=st.one_of(st.sampled_from([0.5, 1.0, 2.0, 3.0]), st.floats(0.1, 6.0)),
    kind=st.sampled_from(["linear", "cosine", "poly"]),
)
def test_warmup_decay_closed_forms_hit_their_ends_exactly(t_max, warmup, max_lr, min_frac, init_frac, order, kind):
    """Cheap (no torch), so many examples: the peak, the floor and every value in between, to the bit.

    ``min_lr + (max_lr - min_lr) * 1.0`` is not always ``max_lr`` in floating point (e.g. 0.1 + (0.3 - 0.1)),
    so the ends must come from an interpolation that is exact there.
    """
    warmup_steps = int(warmup * t_max)
    min_lr, init_lr = min_frac * max_lr, init_frac * max_lr
    form = {"linear": lrsched.warmup_linear, "cosine": lrsched.warmup_cosine, "poly": lrsched.warmup_poly}[kind]
    extra = {"poly_order": order} if kind == "poly" else {}
    schedule = form(t_max, max_lr, min_lr, init_lr, warmup_steps, **extra)
    assert schedule(warmup_steps) == max_lr
    assert schedule(t_max) == min_lr and schedule(2 * t_max + 1) == min_lr
    assert schedule(0) == (init_lr if warmup_steps else max_lr)
    probe = np.unique(np.linspace(0, t_max + 2, 101).astype(np.int64))
    values = schedule(probe)
    assert np.all((values >= min(min_lr, init_lr)) & (values <= max_lr))
    decaying = values[probe >= warmup_steps]
    assert np.all(np.diff(decaying) <= 0)


@MANY
@given(total=st.integers(1, 10**6), max_lr=lrs, min_frac=fractions, beta=st.floats(0.0, 0.9999))
def test_rex_closed_form_hits_its_ends_exactly(total, max_lr, min_frac, beta):
    min_lr = min_frac * max_lr
    schedule = lrsched.RexDecay(total, max_lr, min_lr, beta)
    assert schedule(0) == max_lr and schedule(total) == min_lr and schedule(total + 1) == min_lr
    values = schedule(np.linspace(0, total, 101))
    assert np.all((values >= min_lr) & (values <= max_lr)) and np.all(np.diff(values) <= 0)


@MANY
@given(
    first=st.integers(1, 1000),
    mult=st.one_of(st.sampled_from([1.0, 2.0]), st.floats(1.0, 4.0)),
    warm_frac=st.floats(0.0, 0.999),
    max_lr=lrs,
    min_frac=fractions,
    gamma=st.one_of(st.just(1.0), st.floats(0.01, 1.0)),
)
def test_restarts_closed_form_hits_its_ends_exactly(first, mult, warm_frac, max_lr, min_frac, gamma):
    warmup = int(warm_frac * first)
    min_lr = min_frac * max_lr
    schedule = lrsched.CosineRestarts(first, mult, max_lr, min_lr, warmup, gamma)
    assert schedule(warmup) == max_lr  # cycle 0 peaks at max_lr, exactly
    starts = [schedule.cycle_start(k) for k in range(6)]
    assert starts[0] == 0 and all(b - a >= first for a, b in zip(starts, starts[1:]))
    for k, start in enumerate(starts[:5]):
        if warmup:
            assert schedule(start) == min_lr
        assert schedule(start + warmup) == max(max_lr * gamma**k, min_lr)  # the peak, never below the floor
    values = schedule(np.arange(starts[-1] + 1))
    assert np.all((values >= min_lr) & (values <= max_lr))


# -- issue 17: composition with torch's chainable schedulers, and resume with outside factors -------


@FAST
@example(milestones=[1, 2], gamma=0.375, cut=2)  # found by hypothesis: the resumed lr was 1 ulp off
@given(
    milestones=st.lists(st.integers(1, 30), min_size=1, max_size=4, unique=True).map(sorted),
    gamma=st.floats(0.05, 0.95),
    cut=st.integers(1, 30),
)
def test_chained_multistep_is_the_product_and_resumes_bit_identically(make_optimizer, milestones, gamma, cut):
    from bisect import bisect_right

    from torch.optim.lr_scheduler import ChainedScheduler, LambdaLR, MultiStepLR

    def build():
        optimizer = make_optimizer([0.1, 0.03])
        chained = ChainedScheduler(
            [lrsched.LinearScheduler(optimizer, t_max=40, max_lr=0.1, min_lr=0.01),
             MultiStepLR(optimizer, milestones=milestones, gamma=gamma)]
        )
        return optimizer, chained

    optimizer, chained = build()
    ref_opt = make_optimizer([0.1, 0.03])
    reference = LambdaLR(ref_opt, lambda t: (0.01 + 0.09 * max(1 - t / 40, 0.0)) / 0.1 * gamma ** bisect_right(milestones, t))
    resumed_opt, resumed = None, None
    for t in range(35):
        ours = [g["lr"] for g in optimizer.param_groups]
        assert ours == pytest.approx([g["lr"] for g in ref_opt.param_groups], rel=1e-11)
        if resumed_opt is not None:
            assert [g["lr"] for g in resumed_opt.param_groups] == ours
        if t == cut:
            resumed_opt, resumed = build()
            resumed_opt.load_state_dict(optimizer.state_dict())
            resumed.load_state_dict(chained.state_dict())
            assert [g["lr"] for g in resumed_opt.param_groups] == ours
        for opt, sched in ((optimizer, chained), (ref_opt, reference), (resumed_opt, resumed)):
            if opt is not None:
                opt.step()
                sched.step()
