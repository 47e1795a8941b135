"""Chapter 5's explorer data against numpy's Chebyshev polynomials.

The expected values never come from lrsched: the residual polynomial is
p*(lambda) = T_T(x(lambda)) / T_T(x0) with x(lambda) = (M + m - 2 lambda) / (M - m),
evaluated with ``numpy.polynomial.chebyshev.chebval``, and its worst case on
[m, M] is 1 / T_T(x0) (Agarwal, Goel & Zhang 2021, eq. for the Chebyshev steps).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial import chebyshev as C

from lrsched.viz.chebyshev import FACTOR_ROWS, chebyshev_explorer_data, chebyshev_worst_case_factor


def chebyshev_T(T: int, x: np.ndarray) -> np.ndarray:
    """T_T(x) from numpy's Chebyshev series with the single coefficient of degree T."""
    return C.chebval(x, [0.0] * T + [1.0])


SETTINGS = [(1, 0.1, 1.0), (4, 0.5, 1.5), (16, 0.05, 1.0), (32, 0.01, 2.0), (10, 0.2, 5.0)]


def fractal_order(T: int) -> list[int]:
    """The doubling construction of Agarwal, Goel & Zhang (2021), written out here."""
    order = [0]
    while len(order) < T:
        n = len(order)
        order = [j for i in order for j in (i, 2 * n - 1 - i)]
    return [i for i in order if i < T]


def chebyshev_steps(T: int, m: float, M: float) -> np.ndarray:
    """1 / roots of T_T(x(lambda)), in root order: x = cos((k + 1/2) pi / T)."""
    roots = ((M + m) - (M - m) * np.cos((np.arange(T) + 0.5) * np.pi / T)) / 2
    return 1 / roots


def curve(data: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    table = data["polynomial"]
    rows = [i for i, c in enumerate(table["curve"]) if c == name]
    return np.asarray(table["lambda"])[rows], np.asarray(table["log10_abs_p"])[rows]


@pytest.mark.parametrize("T, m, M", SETTINGS)
def test_polynomial_is_the_shifted_chebyshev_polynomial(T, m, M):
    data = chebyshev_explorer_data(T, m, M, n_lambda=201, floor_decades=6)
    lam, log_p = curve(data, "|p_T(λ)|")
    assert len(lam) == 201
    np.testing.assert_allclose(lam[[0, -1]], [m, M], rtol=0, atol=0)
    x = (M + m - 2 * lam) / (M - m)
    x0 = (M + m) / (M - m)
    with np.errstate(divide="ignore"):  # T = 1: the grid holds the root
        expected = np.log10(np.abs(chebyshev_T(T, x) / chebyshev_T(T, x0)))
    floor = np.log10(1 / chebyshev_T(T, x0)) - 6
    above = expected > floor + 1e-6
    assert above.sum() > 150  # most of the grid is not near a root
    np.testing.assert_allclose(log_p[above], expected[above], rtol=0, atol=1e-9)
    # near a root the drawn value is the floor, 6 decades under the worst case
    np.testing.assert_allclose(log_p[~above], np.maximum(expected[~above], floor), atol=1e-6)
    # the worst-case line: two rows at m and M
    lam_w, log_w = curve(data, "worst case 1/T_T(x0)")
    np.testing.assert_allclose(lam_w, [m, M])
    np.testing.assert_allclose(10.0**log_w, 1 / chebyshev_T(T, x0), rtol=1e-12)


@pytest.mark.parametrize("T, m, M", [(4, 0.5, 1.5), (16, 0.05, 1.0), (32, 0.01, 1.0)])
def test_largest_partial_products(T, m, M):
    data = chebyshev_explorer_data(T, m, M, n_lambda=301)
    value = dict(zip(data["factor"]["quantity"], data["factor"]["value"]))
    lam, _ = curve(data, "|p_T(λ)|")
    steps = chebyshev_steps(T, m, M)
    for order, name in (
        (fractal_order(T), "log10 max partial, fractal"),
        (np.argsort(-steps), "log10 max partial, sorted"),
    ):
        # plain float64 products: no overflow for these T
        products = np.cumprod(1 - np.outer(steps[order], lam), axis=0)
        np.testing.assert_allclose(10 ** value[name], np.abs(products).max(), rtol=1e-9)
    if T >= 16:  # the sorted order's detour, the fractal order's restraint
        assert value["log10 max partial, sorted"] > 3
        assert value["log10 max partial, fractal"] < 2


@pytest.mark.parametrize("T, m, M", SETTINGS)
def test_worst_case_factor_is_one_over_T_T_of_x0(T, m, M):
    expected = 1 / chebyshev_T(T, (M + m) / (M - m))
    data = chebyshev_explorer_data(T, m, M)
    quantity = data["factor"]["quantity"]
    assert quantity == list(FACTOR_ROWS)
    value = dict(zip(quantity, data["factor"]["value"]))
    np.testing.assert_allclose(value["worst case 1/T_T(x0)"], expected, rtol=1e-12)
    np.testing.assert_allclose(chebyshev_worst_case_factor(T, m, M), expected, rtol=1e-12)
    np.testing.assert_allclose(value["κ = M/m"], M / m, rtol=1e-15)
    # and the grid's maximum reaches it: the extrema include both ends
    grid_max = 10.0 ** curve(data, "|p_T(λ)|")[1].max()
    np.testing.assert_allclose(grid_max, expected, rtol=1e-9)


@pytest.mark.parametrize("T, m, M", SETTINGS)
def test_steps_are_reciprocal_roots_in_fractal_order(T, m, M):
    data = chebyshev_explorer_data(T, m, M)
    eta = np.asarray(data["steps"]["eta"])
    assert data["steps"]["step"] == list(range(T))
    expected = chebyshev_steps(T, m, M)
    np.testing.assert_allclose(np.sort(eta), np.sort(expected), rtol=1e-12)
    np.testing.assert_allclose(eta, expected[fractal_order(T)], rtol=1e-12)


@pytest.mark.parametrize("T", [2, 4, 8, 16, 32, 64])
def test_default_grid_holds_every_extremum_and_root(T):
    m, M = 0.01, 1.0
    lam, log_p = curve(chebyshev_explorer_data(T, m, M), "|p_T(λ)|")
    assert len(lam) == 129 and np.all(np.diff(lam) > 0)
    factor = 1 / chebyshev_T(T, (M + m) / (M - m))
    # |p| = worst case at the T + 1 extrema, the 6-decade floor at the T roots
    np.testing.assert_allclose(np.sort(log_p)[-(T + 1):], np.log10(factor), atol=1e-9)
    assert np.sum(log_p <= np.log10(factor) - 6 + 1e-9) >= T


def test_grid_size():
    data = chebyshev_explorer_data(8, 0.1, 1.0, n_lambda=7)
    table = data["polynomial"]
    assert len(table["lambda"]) == len(table["log10_abs_p"]) == len(table["curve"]) == 7 + 2
    assert len(data["steps"]["step"]) == len(data["steps"]["eta"]) == 8


def test_large_T_neither_overflows_nor_underflows():
    data = chebyshev_explorer_data(1024, 1e-3, 1.0, n_lambda=101)
    log_p = curve(data, "|p_T(λ)|")[1]
    assert np.all(np.isfinite(log_p)) and np.all(np.isfinite(data["factor"]["value"]))
    factor = data["factor"]["value"][0]
    # 1/T_T(x0) = 2 / (rho^T + rho^-T), rho = (sqrt(k) + 1) / (sqrt(k) - 1)
    rho = (np.sqrt(1000) + 1) / (np.sqrt(1000) - 1)
    np.testing.assert_allclose(factor, 2 / (rho**1024 + rho**-1024), rtol=1e-10)
    assert log_p.max() <= np.log10(factor) + 1e-9
    assert log_p.min() >= np.log10(factor) - 6 - 1e-9


@pytest.mark.parametrize(
    "T, m, M, match",
    [
        (8, 1.0, 0.5, r"m must be smaller than M, got m=1\.0 and M=0\.5"),
        (8, 0.5, 0.5, r"m must be smaller than M"),
        (8, -0.1, 1.0, r"\bm\b"),
        (0, 0.1, 1.0, r"\bT\b"),
    ],
)
def test_rejected_settings_raise_lrscheds_error(T, m, M, match):
    with pytest.raises(ValueError, match=match):
        chebyshev_explorer_data(T, m, M)
    with pytest.raises(ValueError, match=match):
        chebyshev_worst_case_factor(T, m, M)


@pytest.mark.parametrize("n_lambda", [1, 0, 2.5, True, "10"])
def test_bad_grid_size(n_lambda):
    with pytest.raises(ValueError, match="n_lambda"):
        chebyshev_explorer_data(8, 0.1, 1.0, n_lambda=n_lambda)


@pytest.mark.parametrize("floor_decades", [0, -1, float("nan"), True, "6"])
def test_bad_floor(floor_decades):
    with pytest.raises(ValueError, match="floor_decades"):
        chebyshev_explorer_data(8, 0.1, 1.0, floor_decades=floor_decades)


def test_the_explorer_draws_it_and_shows_lrscheds_error_for_m_at_least_M():
    from lrsched.viz import Control, Panel, explorer

    ex = explorer(
        chebyshev_explorer_data,
        controls=[Control("T", [4, 8, 16]), Control("m", [0.1, 1.0]), Control("M", [0.5, 1.0])],
        panels=[
            Panel("steps", mark="line", x="step", y="eta"),
            Panel("polynomial", mark="line", x="lambda", y="log10_abs_p", color="curve"),
            Panel("factor", mark="text", columns=["quantity", "value"]),
        ],
    )
    tables = ex.at(T=8, m=0.1, M=0.5)
    np.testing.assert_allclose(tables["steps"]["eta"], chebyshev_steps(8, 0.1, 0.5)[fractal_order(8)], rtol=1e-12)
    errors = " ".join(str(e) for e in ex.errors.values())
    assert "m must be smaller than M" in errors
    assert len(ex.errors) == 3 * 2  # m = 1.0 with M = 0.5 and M = 1.0, for every T
