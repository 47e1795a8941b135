"""Chapter 4's explorer tables (lrsched.viz.rex) against formulas written out here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from lrsched.viz import Control, Panel, explorer
from lrsched.viz.rex import rex_explorer_tables, rex_profile_mean


def _rex(t, T, peak, floor, beta):
    z = np.minimum(np.asarray(t, dtype=float) / T, 1.0)
    return floor + (peak - floor) * (1 - z) / (1 - beta * z)


@pytest.mark.parametrize("beta", [0.0, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("T", [16, 21, 128])
def test_curves_and_means_match_the_written_formulas(T, beta):
    tables = rex_explorer_tables(T, max_lr=0.8, beta=beta, min_lr=0.05, max_points=1000)
    lr = tables["lr"]
    steps = np.array(lr["step"])
    values = np.array(lr["lr"])
    names = np.array(lr["schedule"])
    t = steps[names == "REX"]
    assert t[0] == 0 and t[-1] == int(1.15 * T) and T in t
    np.testing.assert_allclose(values[names == "REX"], _rex(t, T, 0.8, 0.05, beta), rtol=1e-12)
    z = np.minimum(t / T, 1.0)
    np.testing.assert_allclose(values[names == "linear"], 0.05 + 0.75 * (1 - z), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        values[names == "cosine"], 0.05 + 0.75 * (1 + np.cos(np.pi * z)) / 2, rtol=1e-12, atol=1e-15
    )
    mean = dict(zip(tables["mean"]["schedule"], tables["mean"]["mean lr"]))
    # Linear and cosine: the discrete mean over T steps is exactly (T + 1) / 2T of the range.
    for name in ("linear", "cosine"):
        assert mean[name] == pytest.approx(0.05 + 0.75 * (T + 1) / (2 * T), rel=1e-12)
    assert mean["REX"] == pytest.approx(_rex(np.arange(T), T, 0.8, 0.05, beta).mean(), rel=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_profile_mean_is_the_integral(beta):
    integral, _ = quad(lambda z: (1 - z) / (1 - beta * z), 0.0, 1.0, epsabs=1e-13)
    assert rex_profile_mean(beta) == pytest.approx(integral, rel=1e-10)


def test_left_riemann_bound():
    # a decreasing profile: integral <= discrete mean <= integral + 1/T
    for T in (16, 50, 400):
        tables = rex_explorer_tables(T, max_lr=1.0, beta=0.5)
        share = tables["area"]["value"][0]
        assert rex_profile_mean(0.5) <= share <= rex_profile_mean(0.5) + 1 / T


def test_rejected_settings_raise_lrscheds_error():
    with pytest.raises(ValueError, match="min_lr"):
        rex_explorer_tables(16, max_lr=0.25, beta=0.5, min_lr=0.3)
    with pytest.raises(ValueError, match="beta"):
        rex_profile_mean(1.0)


def test_explorer_over_a_grid_shows_the_error_setting():
    ex = explorer(
        lambda T, peak, floor: rex_explorer_tables(T, peak, 0.5, floor),
        controls=[Control("T", [16, 32]), Control("peak", [0.25, 0.5]), Control("floor", [0.0, 0.3])],
        panels=[Panel("lr", x="step", y="lr", color="schedule"), Panel("mean", mark="bar", x="schedule", y="mean lr")],
    )
    assert len(ex.errors) == 2  # floor 0.3 above peak 0.25, at both budgets


def test_curves_are_thinned_but_keep_the_ends():
    tables = rex_explorer_tables(128, max_lr=1.0, beta=0.5, max_points=41)
    steps = np.array(tables["lr"]["step"])[np.array(tables["lr"]["schedule"]) == "REX"]
    assert len(steps) <= 42 and steps[0] == 0 and 128 in steps and steps[-1] == int(1.15 * 128)
    assert np.all(np.diff(steps) > 0)
    with pytest.raises(ValueError, match="max_points"):
        rex_explorer_tables(16, 1.0, 0.5, max_points=2)
