"""lrsched schedulers next to torch's own: ChainedScheduler, ReduceLROnPlateau, SequentialLR.

lrsched writes absolute lrs, so another scheduler's factor would be lost at the next write; the
scheduler composes instead (an outside change becomes a persistent per-group factor, see
ScheduledLR's docstring). Expected values come from torch: a LambdaLR whose lambda is the
product of the two closed forms, and torch's ReduceLROnPlateau run on a constant lr.
"""

from __future__ import annotations

import io
import math
from bisect import bisect_right

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import (
    ChainedScheduler,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    ReduceLROnPlateau,
    SequentialLR,
)

from lrsched import CosineScheduler, LinearScheduler, with_warmup, CosineDecay, ScheduledLR


def cosine_closed_form(t, t_max=20, max_lr=0.1, min_lr=0.001, warmup=4):
    """Warmup from 0 then cosine to min_lr, written out independently of lrsched."""
    if t < warmup:
        return max_lr * t / warmup
    p = min((t - warmup) / (t_max - warmup), 1.0)
    return min_lr + (max_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))


def record(optimizer, step, steps):
    seen = []
    for t in range(steps):
        seen.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        step(t)
    return seen


def test_chained_with_multistep_equals_lambda_lr_of_the_product(make_optimizer):
    milestones, gamma = [3, 8, 12], 0.1
    ours_opt = make_optimizer([0.1, 0.02])
    chained = ChainedScheduler(
        [CosineScheduler(ours_opt, t_max=20, max_lr=0.1, min_lr=0.001, warmup_steps=4),
         MultiStepLR(ours_opt, milestones=milestones, gamma=gamma)]
    )
    ref_opt = make_optimizer([0.1, 0.02])
    reference = LambdaLR(
        ref_opt, lambda t: cosine_closed_form(t) / 0.1 * gamma ** bisect_right(milestones, t)
    )
    ours = record(ours_opt, lambda t: chained.step(), 25)
    expected = record(ref_opt, lambda t: reference.step(), 25)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-18)
    assert ours[5][0] == pytest.approx(cosine_closed_form(5) * 0.1)  # the epoch 5: not 10x


def test_next_to_exponential_lr(make_optimizer):
    ours_opt = make_optimizer([0.1])
    lin = LinearScheduler(ours_opt, t_max=10, max_lr=0.1)
    expo = ExponentialLR(ours_opt, gamma=0.9)
    ref_opt = make_optimizer([0.1])
    reference = LambdaLR(ref_opt, lambda t: max(1 - t / 10, 0.0) * 0.9**t)

    def step(t):
        lin.step()
        expo.step()

    np.testing.assert_allclose(record(ours_opt, step, 12), record(ref_opt, lambda t: reference.step(), 12), rtol=1e-12)


def plateau_factors(metrics, **kwargs):
    """torch's ReduceLROnPlateau on a constant lr of 1: the factor it has applied after each metric."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    plateau = ReduceLROnPlateau(optimizer, **kwargs)
    factors = []
    for metric in metrics:
        plateau.step(metric)
        factors.append(optimizer.param_groups[0]["lr"])
    return factors


def test_reduce_lr_on_plateau_reductions_persist(make_optimizer):
    metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8] * 2
    factors = plateau_factors(metrics, factor=0.5, patience=1)
    assert min(factors) < 0.2  # several reductions happen in this sequence
    optimizer = make_optimizer([0.1])
    warmup_cosine = CosineScheduler(optimizer, t_max=len(metrics), max_lr=0.1, min_lr=0.001, warmup_steps=4)
    plateau = ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    seen = []
    for t, metric in enumerate(metrics):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        warmup_cosine.step()
        plateau.step(metric)
    # epoch t runs with the closed form at t times every reduction made after epochs < t
    expected = [cosine_closed_form(t, t_max=len(metrics)) * (factors[t - 1] if t else 1.0) for t in range(len(metrics))]
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-18)


def test_outside_factor_survives_state_dict_bit_identically(make_optimizer):
    def build():
        optimizer = make_optimizer([0.1, 0.05])
        chained = ChainedScheduler(
            [CosineScheduler(optimizer, t_max=30, max_lr=0.1, warmup_steps=3),
             MultiStepLR(optimizer, milestones=[4, 9], gamma=0.5)]
        )
        return optimizer, chained

    optimizer, chained = build()
    for _ in range(10):
        optimizer.step()
        chained.step()
    buffer = io.BytesIO()
    torch.save({"opt": optimizer.state_dict(), "sched": chained.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed_opt, resumed = build()
    resumed_opt.load_state_dict(saved["opt"])
    resumed.load_state_dict(saved["sched"])
    assert resumed._schedulers[0].outside_factors == pytest.approx([0.25, 0.25])
    for _ in range(15):
        optimizer.step()
        chained.step()
        resumed_opt.step()
        resumed.step()
        assert [g["lr"] for g in resumed_opt.param_groups] == [g["lr"] for g in optimizer.param_groups]


def test_plateau_reduction_before_a_checkpoint_is_kept(make_optimizer):
    optimizer = make_optimizer([0.1])
    scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    optimizer.step()
    scheduler.step()
    optimizer.param_groups[0]["lr"] *= 0.5  # what a plateau reduction does after the epoch
    state = scheduler.state_dict()
    fresh_opt = make_optimizer([0.1])
    fresh = LinearScheduler(fresh_opt, t_max=10, max_lr=0.1)
    fresh.load_state_dict(state)
    assert fresh_opt.param_groups[0]["lr"] == pytest.approx(0.09 * 0.5)


def test_sequential_lr_hand_over_is_not_taken_as_a_factor(make_optimizer):
    optimizer = make_optimizer([0.1])
    warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    cosine = CosineScheduler(optimizer, t_max=20, max_lr=0.1)
    sequential = SequentialLR(optimizer, [warmup, cosine], milestones=[5])
    seen = record(optimizer, lambda t: sequential.step(), 25)
    tail = [row[0] for row in seen[5:]]
    expected = [0.1 * 0.5 * (1 + math.cos(math.pi * min(t / 20, 1.0))) for t in range(20)]
    assert tail == pytest.approx(expected, rel=1e-12, abs=1e-18)


def test_a_change_from_zero_has_no_factor_and_raises(make_optimizer):
    optimizer = make_optimizer([0.1])
    scheduler = ScheduledLR(optimizer, with_warmup(CosineDecay(10, 0.1), warmup_steps=3))
    assert optimizer.param_groups[0]["lr"] == 0.0
    optimizer.param_groups[0]["lr"] = 0.05
    optimizer.step()
    with pytest.raises(ValueError, match="param group 0.*from 0"):
        scheduler.step()


def test_a_nan_written_by_another_scheduler_is_refused(make_optimizer):
    optimizer = make_optimizer([0.1, 0.01])
    scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    optimizer.param_groups[1]["lr"] = float("nan")
    optimizer.step()
    with pytest.raises(ValueError, match="param group 1"):
        scheduler.step()
