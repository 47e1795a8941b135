"""Chapter 2's explorer data (lrsched.viz.warmup) against the warmup/decay formulas written out."""

import math

import numpy as np
import pandas as pd
import pytest

from lrsched.viz import Control, Panel, explorer
from lrsched.viz.warmup import warmup_explorer_data


def expected_lr(shape, W, k, peak, T, t):
    # eq-warmup / eq-progress / eq-decays of chapter 2, with eta_0 = eta_min = 0.
    t = np.asarray(t, dtype=float)
    p = np.clip((t - W) / (T - W), 0.0, 1.0)
    d = {"linear": 1 - p, "cosine": 0.5 * (1 + np.cos(np.pi * p)),
         "poly": (1 - p) ** k}[shape]
    ramp = peak * t / W if W > 0 else np.zeros_like(t)
    return np.where(t < W, ramp, peak * d)


@pytest.mark.parametrize("shape", ["linear", "cosine", "poly"])
@pytest.mark.parametrize("percent,budget", [(0, 300), (1, 300), (10, 150), (20, 600)])
def test_curve_matches_the_formula(shape, percent, budget):
    data = warmup_explorer_data(shape, percent, 2.0, 0.7, budget, max_budget=600)
    W = round(budget * percent / 100)
    steps = np.array(data["lr"]["step"])
    assert steps[-1] == 660 and W in steps and budget in steps
    np.testing.assert_allclose(data["lr"]["lr"], expected_lr(shape, W, 2.0, 0.7, budget, steps),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("W,T", [(30, 300), (0, 300), (3, 300), (60, 600), (1, 7)])
def test_area_of_linear_and_cosine_is_exact(W, T):
    # Chapter 2's discrete sums: warmup eta_max (W-1)/2 (W >= 1), decay eta_max (n+1)/2, n = T-W.
    peak = 1.4
    area = peak * ((W - 1) / 2 if W else 0.0) + peak * (T - W + 1) / 2
    for shape in ("linear", "cosine"):
        data = warmup_explorer_data(shape, 100 * W / T, 1.0, peak, T)
        values = dict(zip(data["numbers"]["quantity"], data["numbers"]["value"]))
        assert math.isclose(float(values["area Σ η_t, t < T"]), area, rel_tol=1e-7)
        assert math.isclose(float(values["mean lr over T"]), area / T, rel_tol=1e-7)
        assert math.isclose(float(values["mean lr / peak"]), area / T / peak, rel_tol=1e-7)


@pytest.mark.parametrize("k", [0.5, 2.0, 4.0])
def test_poly_area_within_the_riemann_bounds(k):
    T, W = 300, 30
    n = T - W
    data = warmup_explorer_data("poly", 10, k, 1.0, T)
    area = float(data["numbers"]["value"][0])
    decay_mean = (area - (W - 1) / 2) / n
    assert 1 / (k + 1) <= decay_mean + 1e-9 and decay_mean <= 1 / (k + 1) + 1 / n + 1e-9


def test_outcome_panel_and_row():
    outcome = pd.DataFrame({
        "peak_lr": [0.7, 0.7, 1.4, 1.4], "warmup_percent": [0, 10, 0, 10],
        "mean": [0.9, 0.95, 0.8, 0.96], "low": [0.85, 0.94, 0.7, 0.95],
        "high": [0.95, 0.96, 0.9, 0.97]})
    data = warmup_explorer_data("cosine", 10, 1.0, 1.4, 300, outcome=outcome)
    assert data["outcome"]["accuracy"] == [0.8, 0.96, 0.7, 0.95, 0.9, 0.97]
    assert data["outcome"]["curve"] == ["mean"] * 2 + ["95% low"] * 2 + ["95% high"] * 2
    assert data["numbers"]["value"][-1] == "0.960 [0.950, 0.970]"
    with pytest.raises(ValueError, match="peak_lr"):
        warmup_explorer_data("cosine", 10, 1.0, 0.3, 300, outcome=outcome)


def test_rejected_settings_raise_lrsched_errors():
    with pytest.raises(ValueError, match="shape"):
        warmup_explorer_data("square", 10, 1.0, 0.5, 300)
    with pytest.raises(ValueError):
        warmup_explorer_data("linear", 100, 1.0, 0.5, 300)  # warmup as long as the budget
    with pytest.raises(ValueError):
        warmup_explorer_data("poly", 10, 0.0, 0.5, 300)  # lrsched rejects power 0


def test_explorer_grid_keeps_axes_fixed():
    ex = explorer(
        warmup_explorer_data,
        controls=[Control("shape", ["linear", "cosine", "poly"]),
                  Control("warmup_percent", [0, 10, 20]),
                  Control("peak_lr", [0.5, 1.0]),
                  Control("budget", [150, 300])],
        panels=[Panel("lr", x="step", y="lr"),
                Panel("numbers", mark="text", columns=["quantity", "value"])])
    a = ex.at(shape="linear", warmup_percent=10, peak_lr=0.5, budget=150)
    b = ex.at(shape="linear", warmup_percent=10, peak_lr=1.0, budget=300)
    assert not np.array_equal(a["lr"]["lr"], b["lr"]["lr"])
    assert max(b["lr"]["lr"]) == 1.0 and max(a["lr"]["lr"]) == 0.5
