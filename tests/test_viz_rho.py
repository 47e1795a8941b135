"""Chapter 7's explorer data: rho against lr, checked against formulas written out here."""

from __future__ import annotations

import numpy as np
import pytest

from lrsched.viz.rho import RHO_SCHEDULES, rho_explorer_data


def lr_by_hand(schedule: str, t: np.ndarray, steps: int, max_lr: float, final_lr: float, warmup: int) -> np.ndarray:
    """Linear warmup from 0, then the decay to ``final_lr`` at ``steps`` (the papers' formulas)."""
    t = np.asarray(t, dtype=float)
    progress = np.clip((t - warmup) / (steps - warmup), 0.0, 1.0)
    shape = {
        "cosine": 0.5 * (1 + np.cos(np.pi * progress)),
        "linear": 1 - progress,
        "poly, order 2": (1 - progress) ** 2,
    }[schedule]
    decay = final_lr + (max_lr - final_lr) * shape
    if warmup == 0:
        return decay
    return np.where(t < warmup, max_lr * t / warmup, decay)


def rho_by_hand(lr, rho_max, rho_min, lr_max, lr_min, clamp=True):
    rho = rho_min + (rho_max - rho_min) * (np.asarray(lr) - lr_min) / (lr_max - lr_min)
    return np.clip(rho, rho_min, rho_max) if clamp else rho


@pytest.mark.parametrize("schedule", sorted(RHO_SCHEDULES))
@pytest.mark.parametrize(
    "warmup, rho_max, rho_min, map_lr_min, final_lr",
    [(30, 0.3, 0.05, 0.0, 0.0), (0, 0.5, 0.0, 0.0, 0.01), (60, 0.2, 0.1, 0.02, 0.005)],
)
def test_tables_match_the_formulas(schedule, warmup, rho_max, rho_min, map_lr_min, final_lr):
    steps, max_lr, every = 200, 0.1, 7
    data = rho_explorer_data(
        schedule, warmup, rho_max, rho_min, map_lr_min, final_lr=final_lr, max_lr=max_lr, steps=steps, every=every
    )
    t = np.array(data["lr"]["step"])
    np.testing.assert_array_equal(t, np.append(np.arange(0, steps + 1, every), steps))
    lr = lr_by_hand(schedule, t, steps, max_lr, final_lr, warmup)
    np.testing.assert_allclose(data["lr"]["lr"], lr, rtol=1e-9, atol=1e-15)

    rho = np.array(data["rho"]["rho"])
    source = np.array(data["rho"]["source"])
    ours, ref = rho[source == "lrsched"], rho[source == "pytorch-optimizer 4.1.0"]
    np.testing.assert_array_equal(np.array(data["rho"]["step"])[source == "lrsched"], t)
    np.testing.assert_allclose(ours, rho_by_hand(lr, rho_max, rho_min, max_lr, map_lr_min), rtol=1e-9, atol=1e-15)
    # the reference library does not clamp: the bare line
    np.testing.assert_allclose(
        ref, rho_by_hand(lr, rho_max, rho_min, max_lr, map_lr_min, clamp=False), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(data["map"]["lr"], lr, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(data["map"]["rho"], ours, rtol=0, atol=0)


def test_a_map_above_the_final_lr_shows_the_clamp_and_the_reference_going_negative():
    data = rho_explorer_data("cosine", 30, 0.3, 0.0, 0.02, final_lr=0.0)
    rho = np.array(data["rho"]["rho"])
    source = np.array(data["rho"]["source"])
    assert rho[source == "lrsched"].min() == 0.0
    assert rho[source == "pytorch-optimizer 4.1.0"].min() == pytest.approx(0.3 * (0 - 0.02) / (0.1 - 0.02))


def test_rejected_settings_raise_lrsched_errors():
    with pytest.raises(ValueError, match="min_value"):
        rho_explorer_data(rho_max=0.1, rho_min=0.2)
    with pytest.raises(ValueError, match="schedule"):
        rho_explorer_data("step")
    with pytest.raises(ValueError, match="every"):
        rho_explorer_data(every=0)
