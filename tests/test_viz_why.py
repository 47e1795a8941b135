"""Chapter 1's explorer data, checked against formulas written out independently.

The expected loss of SGD on f(x) = a x^2 / 2 is checked against the unrolled
solution of the recursion,

    E[x_T^2] = x0^2 prod_s (1 - eta_s a)^2
               + sigma^2 sum_s eta_s^2 prod_{r > s} (1 - eta_r a)^2,

against the constant-rate closed form m* + (1 - eta a)^(2t) (x0^2 - m*), and
against a Monte Carlo of SGD itself. The schedules are written out from
their definitions (np.interp through the warmup/decay corners).
"""

from __future__ import annotations

import numpy as np
import pytest

from lrsched.viz.why import FINAL_ROWS, expected_loss, loss_floor, noise_floor_explorer_data


def unrolled_second_moment(lrs, a, sigma, x0):
    """E[x_T^2] for every T, as the explicit sum of products (no recursion)."""
    lrs = np.asarray(lrs, dtype=float)
    factors = (1 - lrs * a) ** 2
    out = [x0**2]
    for T in range(1, len(lrs) + 1):
        f = factors[:T]
        tail = np.array([np.prod(f[s + 1 :]) for s in range(T)])  # prod over r > s
        out.append(x0**2 * np.prod(f) + sigma**2 * np.sum(lrs[:T] ** 2 * tail))
    return np.array(out)


def warmup_linear_by_hand(t, steps, peak, final, warmup):
    t = np.asarray(t, dtype=float)
    if warmup == 0:
        return np.interp(t, [0, steps], [peak, final])
    return np.interp(t, [0, warmup, steps], [0, peak, final])


def test_expected_loss_against_the_unrolled_sum():
    rng = np.random.default_rng(1)
    lrs = rng.uniform(0, 3, size=60)
    a, sigma, x0 = 0.4, 0.7, -3.0
    want = a / 2 * unrolled_second_moment(lrs, a, sigma, x0)
    np.testing.assert_allclose(expected_loss(lrs, a, sigma, x0), want, rtol=1e-11)


def test_constant_rate_closed_form_and_floor():
    eta, a, sigma, x0, T = 0.5, 0.1, 1.0, 10.0, 300
    m_star = eta**2 * sigma**2 / (1 - (1 - eta * a) ** 2)
    t = np.arange(T + 1)
    closed = m_star + (1 - eta * a) ** (2 * t) * (x0**2 - m_star)
    np.testing.assert_allclose(expected_loss(np.full(T, eta)), a / 2 * closed, rtol=1e-12)
    assert loss_floor(eta, a, sigma) == pytest.approx(a / 2 * m_star, rel=1e-14)


def test_expected_loss_against_monte_carlo():
    rng = np.random.default_rng(7)
    lrs = warmup_linear_by_hand(np.arange(80), 80, 1.0, 0.05, 10)
    a, sigma, x0, n = 0.2, 1.5, 4.0, 200_000
    x = np.full(n, x0)
    for eta in lrs:
        x = (1 - eta * a) * x - eta * sigma * rng.standard_normal(n)
    loss = a / 2 * x**2
    standard_error = loss.std() / np.sqrt(n)
    assert abs(loss.mean() - expected_loss(lrs, a, sigma, x0)[-1]) < 4 * standard_error


@pytest.mark.parametrize("peak, final, warmup", [(0.5, 0.0, 30), (2.0, 0.05, 0), (0.05, 0.05, 100)])
def test_tables_match_the_formulas(peak, final, warmup):
    steps, a, sigma, x0, every = 120, 0.1, 1.0, 10.0, 7
    data = noise_floor_explorer_data(peak, final, warmup, steps=steps, a=a, sigma=sigma, x0=x0, every=every)
    kept = np.append(np.arange(0, steps + 1, every), steps)
    t = np.arange(steps + 1)
    lrs = {
        "constant": np.full(steps + 1, peak),
        "warmup + linear": warmup_linear_by_hand(t, steps, peak, final, warmup),
    }
    for panel, column in (("lr", "lr"), ("loss", "expected_loss")):
        table = data[panel]
        assert sorted(set(table["schedule"])) == sorted(lrs)
        for name, lr in lrs.items():
            rows = np.array(table["schedule"]) == name
            np.testing.assert_array_equal(np.array(table["step"])[rows], kept)
            if panel == "lr":
                want = lr[kept]
            else:
                want = a / 2 * unrolled_second_moment(lr[:-1], a, sigma, x0)[kept]
            np.testing.assert_allclose(np.array(table[column])[rows], want, rtol=1e-10, atol=1e-15)
    final_table = dict(zip(data["final"]["quantity"], data["final"]["value"]))
    assert list(final_table) == list(FINAL_ROWS)
    assert final_table["floor of η_max"] == pytest.approx(peak * sigma**2 / (2 * (2 - peak * a)))
    assert final_table["floor of final lr"] == pytest.approx(final * sigma**2 / (2 * (2 - final * a)))


def test_decay_beats_a_large_constant_but_not_a_small_one():
    # the chapter's claim: noise-limited at a large peak, budget-limited at a small one
    large = dict(zip(*noise_floor_explorer_data(0.5, 0.0, 30)["final"].values()))
    small = dict(zip(*noise_floor_explorer_data(0.02, 0.0, 30)["final"].values()))
    assert large["warmup + linear: E f(x_T)"] < large["constant: E f(x_T)"] / 3
    assert small["warmup + linear: E f(x_T)"] > small["constant: E f(x_T)"]


def test_rejected_settings_raise_lrscheds_error():
    with pytest.raises(ValueError, match="min_lr"):
        noise_floor_explorer_data(0.1, 0.2, 30)
    with pytest.raises(ValueError, match="peak_lr"):
        noise_floor_explorer_data(25.0, 0.0, 30)
    with pytest.raises(ValueError, match="lrs"):
        expected_loss([0.1, float("nan")])
    with pytest.raises(ValueError, match="a must be positive"):
        expected_loss([0.1], a=0.0)
    with pytest.raises(ValueError, match="eta"):
        loss_floor(30.0)
