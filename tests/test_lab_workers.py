"""compare(..., workers=n) and compare(..., metrics=...): the parallel path must be the serial one.

The serial path is itself checked against a hand-written run (``train`` called directly) here
and in test_lab.py, so "equal to workers=1" is not a self-referential expectation.
"""

from __future__ import annotations

import math
import sys
import threading
import warnings

import cloudpickle

import numpy as np
import pandas as pd
import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR, StepLR

from lrsched.lab import TinyMLP, compare, load_digits_split, sharpness, train, tune

# The workers cannot import this test module; send its functions by value, as
# cloudpickle does by itself for functions defined in a notebook or script.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


def refuses(opt):
    raise ValueError("this factory refuses to build a scheduler")


def warns(opt):
    warnings.warn("factory warning, shown by the caller", UserWarning)
    return StepLR(opt, 10, 0.5)


SCHEDULES = {
    "step": lambda opt: StepLR(opt, 10, 0.5),
    "constant": lambda opt: None,
    "huge": lambda opt: LambdaLR(opt, lambda t: 1e4),  # diverges: a failed run, not an error
    "refuses": refuses,
    "warns": warns,
}


def _run_both(data, **kwargs):
    kwargs = dict(seeds=(0, 3), steps=30, data=data, progress=False, eval_every=10) | kwargs
    with warnings.catch_warnings(record=True) as serial_warnings:
        warnings.simplefilter("always")
        serial = compare(SCHEDULES, **kwargs)
    with warnings.catch_warnings(record=True) as parallel_warnings:
        warnings.simplefilter("always")
        parallel = compare(SCHEDULES, workers=2, **kwargs)
    return serial, parallel, serial_warnings, parallel_warnings


def _assert_same(serial, parallel):
    pd.testing.assert_frame_equal(serial.runs, parallel.runs)
    assert list(serial.histories) == list(parallel.histories)
    for name in serial.histories:
        for a, b in zip(serial.histories[name], parallel.histories[name], strict=True):
            np.testing.assert_array_equal(a.lr, b.lr)
            np.testing.assert_array_equal(a.loss, b.loss)
            np.testing.assert_array_equal(a.test_accuracy, b.test_accuracy)
            assert a.final_train_loss == b.final_train_loss or (
                math.isnan(a.final_train_loss) and math.isnan(b.final_train_loss)
            )
            assert a.diverged == b.diverged
    assert {k: str(e) for k, e in serial.errors.items()} == {k: str(e) for k, e in parallel.errors.items()}


def test_workers_give_the_serial_results_bit_for_bit(data):
    serial, parallel, serial_warnings, parallel_warnings = _run_both(data)
    _assert_same(serial, parallel)
    # the runs really happened: a hand-written run of one cell agrees
    torch.manual_seed(3)
    model = TinyMLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    by_hand = train(model, optimizer, StepLR(optimizer, 10, 0.5), data=data, steps=30, seed=3,
                    eval_every=10, progress=False)
    np.testing.assert_array_equal(parallel.histories["step"][1].loss, by_hand.loss)
    assert parallel.runs.set_index(["schedule", "seed"]).loc[("huge", 0), "failed"]
    assert set(parallel.errors) == {("refuses", 0), ("refuses", 3)}
    # warnings raised in the workers reach the caller, as in the serial path
    texts = sorted({str(w.message) for w in parallel_warnings})
    assert texts == sorted({str(w.message) for w in serial_warnings})
    assert "factory warning, shown by the caller" in texts


def test_workers_pass_on_the_seed_offset(monkeypatch, data):
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "1000")
    serial, parallel, _, _ = _run_both(data, seeds=(0,))
    _assert_same(serial, parallel)
    monkeypatch.delenv("LRSCHED_SEED_OFFSET")
    unshifted = compare({"step": SCHEDULES["step"]}, seeds=(0,), steps=30, data=data, progress=False,
                        eval_every=10, workers=2)
    assert not np.array_equal(unshifted.histories["step"][0].loss, parallel.histories["step"][0].loss)


class InDefaultDtype(torch.nn.Module):
    """TinyMLP in the default dtype, fed the (float32) images cast to it."""

    def __init__(self):
        super().__init__()
        self.inner = TinyMLP()

    def forward(self, x):
        return self.inner(x.to(torch.get_default_dtype()))


def test_workers_pass_on_the_default_dtype(data):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    kwargs = dict(seeds=(1,), steps=20, data=data, progress=False, model_fn=InDefaultDtype)
    try:
        serial = compare({"step": SCHEDULES["step"]}, **kwargs)
        parallel = compare({"step": SCHEDULES["step"]}, workers=2, **kwargs)
    finally:
        torch.set_default_dtype(previous)
    _assert_same(serial, parallel)
    float32 = compare({"step": SCHEDULES["step"]}, **kwargs)
    assert not np.array_equal(float32.histories["step"][0].loss, parallel.histories["step"][0].loss)


def test_metrics_measure_each_trained_model(data):
    measure = {"sharpness": lambda model: sharpness(model, data, radius=0.1, n_samples=2),
               "weight_norm": lambda model: float(model.head.weight.norm())}
    result = compare({"step": SCHEDULES["step"], "refuses": refuses}, seeds=(2,), steps=25, data=data,
                     progress=False, metrics=measure, workers=2)
    torch.manual_seed(2)
    model = TinyMLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(model, optimizer, StepLR(optimizer, 10, 0.5), data=data, steps=25, seed=2, progress=False)
    row = result.runs.set_index("schedule").loc["step"]
    assert row["weight_norm"] == float(model.head.weight.norm())
    assert row["sharpness"] == sharpness(model, data, radius=0.1, n_samples=2)
    failed = result.runs.set_index("schedule").loc["refuses"]
    assert math.isnan(failed["weight_norm"]) and math.isnan(failed["sharpness"])


def tagged(opt):
    opt.param_groups[0]["params"][0].breaks_the_metric = True
    return None


def breaks_on_tagged_models(model):
    if getattr(next(model.parameters()), "breaks_the_metric", False):
        raise ArithmeticError("metric broke")
    return 1.0


@pytest.mark.parametrize("workers", [1, 2])
def test_a_metric_that_raises_fails_the_run_with_its_message(workers, data):
    kwargs = dict(seeds=(0,), steps=5, data=data, progress=False, workers=workers,
                  metrics={"m": breaks_on_tagged_models})
    with pytest.warns(RuntimeWarning, match="ArithmeticError: metric broke"):
        result = compare({"tagged": tagged, "plain": lambda opt: None}, **kwargs)
    runs = result.runs.set_index("schedule")
    assert runs.loc["tagged", "failed"] and math.isnan(runs.loc["tagged", "m"])
    assert not runs.loc["plain", "failed"] and runs.loc["plain", "m"] == 1.0
    with pytest.raises(ArithmeticError, match="metric broke"):  # every run raised
        compare({"tagged": tagged}, **kwargs)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2", None])
def test_workers_must_be_a_positive_int(workers, data):
    with pytest.raises(ValueError, match=rf"workers must be a positive int, got {workers!r}"):
        compare({"c": lambda opt: None}, seeds=(0,), steps=2, data=data, progress=False, workers=workers)


def test_callbacks_are_refused_with_workers(data):
    seen = []
    with pytest.raises(ValueError, match="callbacks cannot be used with workers=2"):
        compare({"c": lambda opt: None}, seeds=(0,), steps=2, data=data, progress=False, workers=2,
                callbacks=[lambda step, model, history: seen.append(step)])
    assert seen == []


@pytest.mark.parametrize("metrics, error, match", [
    ({"seed": len}, ValueError, "'seed' is not a free column name"),
    ({"final_train_loss": len}, ValueError, "'final_train_loss' is not a free column name"),
    ({3: len}, ValueError, "3 is not a free column name"),
    ({"m": 1.0}, TypeError, r"metrics\['m'\] must be callable"),
    ([len], TypeError, "metrics must be a mapping"),
])
def test_metrics_are_validated(metrics, error, match, data):
    with pytest.raises(error, match=match):
        compare({"c": lambda opt: None}, seeds=(0,), steps=2, data=data, progress=False, metrics=metrics)


def test_an_exception_that_cannot_be_pickled_comes_back_as_runtime_error(data):
    def unpicklable(opt):
        error = ValueError("carries a lock")
        error.lock = threading.Lock()
        raise error

    with pytest.warns(RuntimeWarning, match="ValueError: carries a lock"):
        result = compare({"u": unpicklable, "c": lambda opt: None}, seeds=(0,), steps=3, data=data,
                         progress=False, workers=2)
    error = result.errors[("u", 0)]
    assert isinstance(error, RuntimeError) and "ValueError: carries a lock" in str(error)
    assert result.histories["u"][0].steps_done == 0


def test_on_error_raise_raises_the_first_error_in_order(data):
    with pytest.raises(ValueError, match="refuses") as caught:
        compare({"step": SCHEDULES["step"], "refuses": refuses, "constant": lambda opt: None},
                seeds=(0, 1), steps=5, data=data, progress=False, workers=2, on_error="raise")
    completed = caught.value.comparison.runs
    assert list(completed["schedule"]) == ["step", "step", "refuses"]


def test_tune_with_workers_chooses_as_without(data):
    peaks = {p: (lambda opt, p=p: LambdaLR(opt, lambda t: p / 0.1)) for p in (0.03, 0.3, 3.0)}
    kwargs = dict(seeds=(0, 1), steps=40, data=data, progress=False)
    serial, parallel = tune(peaks, **kwargs), tune(peaks, workers=2, **kwargs)
    assert serial.choice == parallel.choice
    _assert_same(serial.comparison, parallel.comparison)
