"""Tests of lrsched.lab.stats against scipy.stats and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from lrsched.lab.stats import Interval, mean_ci, paired_difference, seed_offset


def scipy_interval(values, level=0.95):
    values = np.asarray(values, dtype=np.float64)
    return sps.t.interval(level, len(values) - 1, loc=values.mean(), scale=sps.sem(values))


@pytest.mark.parametrize(
    "values",
    [
        [0.96, 0.97, 0.98],
        [1.0, 2.0, 3.0, 4.0, 10.0],
        [0.5, 0.5001],
        list(np.linspace(-3, 7, 20) ** 2),
    ],
)
@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
def test_mean_ci_matches_scipy_t_interval(values, level):
    ci = mean_ci(values, level=level)
    low, high = scipy_interval(values, level)
    assert ci.mean == pytest.approx(np.mean(values), rel=1e-12)
    assert ci.low == pytest.approx(low, rel=1e-10, abs=1e-12)
    assert ci.high == pytest.approx(high, rel=1e-10, abs=1e-12)
    assert ci.n == len(values) and ci.level == level
    assert ci.half_width == pytest.approx((high - low) / 2, rel=1e-10)


def test_mean_ci_hand_computed():
    # x = 1, 2, 3: mean 2, s = 1, t_{0.975, 2} = 4.302652729911275 (table value)
    ci = mean_ci([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)
    assert ci.mean == 2.0
    assert ci.low == pytest.approx(2.0 - half, rel=1e-9)
    assert ci.high == pytest.approx(2.0 + half, rel=1e-9)
    assert str(ci) == "2.000 [-0.484, 4.484]"
    assert not ci.excludes_zero()


def test_constant_values_give_a_zero_width_interval():
    ci = mean_ci([0.9, 0.9, 0.9, 0.9])
    assert ci.low == ci.high == pytest.approx(0.9)
    assert ci.half_width == pytest.approx(0.0)


def test_single_value_gives_an_infinite_interval_not_a_crash():
    ci = mean_ci([0.97])
    assert ci.mean == 0.97 and ci.n == 1
    assert ci.low == -math.inf and ci.high == math.inf
    assert ci.half_width == math.inf
    assert not ci.excludes_zero()
    assert str(ci) == "0.970 [n=1, no interval]"
    d = paired_difference([0.97], [0.90])
    assert d.mean == pytest.approx(0.07) and not d.excludes_zero()


@pytest.mark.parametrize("bad", [[0.9, math.nan, 0.8], [math.inf, 1.0], [1.0, -math.inf]])
def test_non_finite_values_are_refused(bad):
    with pytest.raises(ValueError, match="finite"):
        mean_ci(bad)
    with pytest.raises(ValueError, match="finite"):
        paired_difference(bad, [0.0] * len(bad))
    with pytest.raises(ValueError, match="finite"):
        paired_difference([0.0] * len(bad), bad)


def test_empty_and_malformed_inputs():
    with pytest.raises(ValueError, match="at least one"):
        mean_ci([])
    with pytest.raises(ValueError, match="one-dimensional"):
        mean_ci([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match="values"):
        mean_ci(["a", "b"])
    with pytest.raises(ValueError, match="pair up"):
        paired_difference([1.0, 2.0], [1.0])
    for level in (0.0, 1.0, 95, -0.5, True, "0.95"):
        with pytest.raises(ValueError, match="level"):
            mean_ci([1.0, 2.0], level=level)


def test_generators_are_accepted():
    assert mean_ci(x for x in (1.0, 2.0, 3.0)).mean == 2.0


def test_paired_difference_matches_scipy_paired_t_test():
    a = np.array([0.971, 0.962, 0.969, 0.975, 0.958, 0.966])
    b = np.array([0.965, 0.960, 0.961, 0.970, 0.957, 0.960])
    d = paired_difference(a, b)
    low, high = scipy_interval(a - b)
    assert d.mean == pytest.approx(np.mean(a - b))
    assert (d.low, d.high) == pytest.approx((low, high), rel=1e-10)
    # The interval excludes zero exactly when the paired t-test rejects at 5%.
    p = sps.ttest_rel(a, b).pvalue
    assert d.excludes_zero() == (p < 0.05)
    assert d.excludes_zero()
    # Pairing matters: the unpaired intervals of a and b overlap.
    assert mean_ci(a).low < mean_ci(b).high


def test_paired_difference_not_excluding_zero_agrees_with_ttest():
    a = [0.95, 0.97, 0.96, 0.94]
    b = [0.96, 0.95, 0.97, 0.95]
    d = paired_difference(a, b)
    assert not d.excludes_zero()
    assert sps.ttest_rel(a, b).pvalue >= 0.05
    assert d.contains(0.0)


def test_negative_effect_excludes_zero():
    d = paired_difference([0.90, 0.91, 0.92], [0.95, 0.955, 0.97])
    assert d.high < 0 and d.excludes_zero()


def test_interval_format_precision():
    ci = Interval(mean=0.97123, low=0.96512, high=0.97734, n=5)
    assert str(ci) == "0.971 [0.965, 0.977]"
    assert ci.format(2) == "0.97 [0.97, 0.98]"
    assert ci.width == pytest.approx(0.01222)


# -------------------------------------------------------------- seed offset


def test_seed_offset_default_and_value(monkeypatch):
    monkeypatch.delenv("LRSCHED_SEED_OFFSET", raising=False)
    assert seed_offset() == 0
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "")
    assert seed_offset() == 0
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "1000")
    assert seed_offset() == 1000
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", " 2000 ")
    assert seed_offset() == 2000
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "-3")
    assert seed_offset() == -3


@pytest.mark.parametrize("bad", ["abc", "1e3", "1.5", "10x", "0x10"])
def test_seed_offset_rejects_non_integers_naming_the_variable(monkeypatch, bad):
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", bad)
    with pytest.raises(ValueError, match="LRSCHED_SEED_OFFSET") as err:
        seed_offset()
    assert repr(bad) in str(err.value)
