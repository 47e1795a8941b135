"""Chapter 8's explorer data against the papers' formulas, written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrsched.viz.beyond import BEYOND_SCHEDULES, NUMBER_ROWS, beyond_explorer_data


def wsd_by_hand(t, steps, decay, warmup, floor, cooldown):
    """Eq. (eq-wsd) of chapter 8: warmup from 0, plateau at 1, cooldown to the floor."""
    t = np.asarray(t, dtype=float)
    start = steps - decay
    p = np.clip((t - start) / decay, 0.0, 1.0)
    shape = {"linear": 1 - p, "cosine": 0.5 * (1 + np.cos(np.pi * p)), "1-sqrt": 1 - np.sqrt(p)}[cooldown]
    lr = np.where(t <= start, 1.0, floor + (1 - floor) * shape)
    if warmup:
        lr = np.where(t < warmup, t / warmup, lr)
    return lr


def inverse_sqrt_by_hand(t, warmup):
    """Vaswani et al. eq. 3 with the peak scaled to 1 and the 1-based step n = t + 1."""
    n = np.asarray(t, dtype=float) + 1
    return math.sqrt(warmup) * np.minimum(n**-0.5, n * warmup**-1.5)


def one_cycle_by_torch(steps, pct_start, strategy):
    """torch's OneCycleLR given T + 1 steps and the peak moved along (see OneCycle's docstring)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    peak = pct_start * steps
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=1.0, total_steps=steps + 1, pct_start=(peak + 1) / (steps + 1),
        anneal_strategy=strategy, cycle_momentum=False)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(lrs)


def check_numbers(data, lr_all, steps):
    last = lr_all[int(math.ceil(0.9 * steps)):]
    assert data["numbers"]["quantity"] == list(NUMBER_ROWS)
    np.testing.assert_allclose(data["numbers"]["value"], [lr_all.mean(), last.mean(), lr_all[-1]],
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cooldown", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("fraction, warmup, floor", [(0.2, 15, 0.0), (0.5, 0, 0.1), (0.1, 60, 0.3)])
def test_wsd_matches_the_formula(cooldown, fraction, warmup, floor):
    steps, every = 300, 7
    data = beyond_explorer_data("WSD", cooldown, fraction, warmup, floor, steps=steps, every=every)
    drawn = np.array(data["lr"]["step"])
    np.testing.assert_array_equal(drawn, np.append(np.arange(0, steps, every), steps - 1))
    decay = round(fraction * steps)
    np.testing.assert_allclose(data["lr"]["lr"], wsd_by_hand(drawn, steps, decay, warmup, floor, cooldown),
                               rtol=1e-12, atol=1e-15)
    check_numbers(data, wsd_by_hand(np.arange(steps), steps, decay, warmup, floor, cooldown), steps)


def test_wsd_means_over_the_cooldown_are_the_integrals():
    # a run that is all cooldown, floor 0: the means are 1/2, 1/2 and 1/3 (to O(1/T))
    for cooldown, integral in [("linear", 0.5), ("cosine", 0.5), ("1-sqrt", 1 / 3)]:
        data = beyond_explorer_data("WSD", cooldown, 1.0, 0, 0.0, steps=3000)
        assert abs(data["numbers"]["value"][0] - integral) < 1e-3


@pytest.mark.parametrize("cooldown, strategy", [("linear", "linear"), ("cosine", "cos")])
@pytest.mark.parametrize("fraction", [0.7, 0.5])
def test_one_cycle_matches_torch(cooldown, strategy, fraction):
    steps = 300
    data = beyond_explorer_data("one-cycle", cooldown, fraction, 15, 0.0, steps=steps, every=1)
    expected = one_cycle_by_torch(steps, 1 - fraction, strategy)
    np.testing.assert_allclose(data["lr"]["lr"], expected, rtol=1e-9, atol=1e-15)
    check_numbers(data, expected, steps)


@pytest.mark.parametrize("warmup", [1, 15, 60])
def test_inverse_sqrt_matches_the_paper(warmup):
    steps = 300
    data = beyond_explorer_data("inverse sqrt", "linear", 0.2, warmup, 0.0, steps=steps, every=1)
    expected = inverse_sqrt_by_hand(np.arange(steps), warmup)
    np.testing.assert_allclose(data["lr"]["lr"], expected, rtol=1e-12)
    check_numbers(data, expected, steps)
    # ends at sqrt(W / T) of the peak, never anneals
    assert data["numbers"]["value"][2] == pytest.approx(math.sqrt(warmup / steps), rel=1e-12)


@pytest.mark.parametrize(
    "setting, message",
    [
        (("WSD", "1-sqrt", 0.7, 120, 0.0), "warmup_steps"),
        (("one-cycle", "1-sqrt", 0.7, 15, 0.0), "anneal_strategy"),
        (("inverse sqrt", "linear", 0.2, 0, 0.0), "warmup_steps"),
        (("constant", "linear", 0.2, 0, 0.0), "schedule"),
    ],
)
def test_rejected_settings_raise_lrscheds_error(setting, message):
    with pytest.raises(ValueError, match=message):
        beyond_explorer_data(*setting)


def test_every_schedule_of_the_select_draws():
    for schedule in BEYOND_SCHEDULES:
        data = beyond_explorer_data(schedule, "cosine", 0.3, 15, 0.1)
        assert len(data["lr"]["step"]) == len(data["lr"]["lr"]) > 50
    with pytest.raises(ValueError, match="every"):
        beyond_explorer_data(every=0)
