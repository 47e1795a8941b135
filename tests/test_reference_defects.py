"""The defects of pytorch-optimizer 4.1.0's lr schedulers, reproduced live, and lrsched without them.

Each test runs the reference library (``pytorch_optimizer``) to show the defect with its own numbers,
computes what the formula says, and checks that lrsched gives the formula. These tests document the
differences the book discusses; if a future pytorch-optimizer fixes one, its test fails and says so.
"""

from __future__ import annotations

import inspect
import math
import warnings
from unittest import mock

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR

import lrsched

ref = pytest.importorskip("pytorch_optimizer.lr_scheduler")
from pytorch_optimizer.lr_scheduler import chebyshev as ref_chebyshev  # noqa: E402
from pytorch_optimizer.lr_scheduler.experimental import deberta_v3_lr_scheduler as ref_deberta  # noqa: E402


def test_reference_version():
    from importlib.metadata import version

    assert version("pytorch_optimizer") == "4.1.0"


def make_optimizer(lrs=(0.1,)):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


def ordinary_loop(optimizer, scheduler, steps):
    """optimizer.step(); scheduler.step(): the lr of group 0 that each optimizer step runs with."""
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference's REX/restarts trigger torch's step-order warning
        for _ in range(steps):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    return seen


# -- PolyScheduler rises ----------------------------------------------------------------------------
def test_poly_rises_instead_of_decaying():
    """(t - warmup)**poly_order is never divided by the horizon."""
    theirs = ref.PolyScheduler(make_optimizer(), t_max=10, max_lr=1e-2, min_lr=1e-4, warmup_steps=5)
    values = [theirs.step() for _ in range(11)]  # step() returns the value of step 0, 1, 2, ...
    assert [round(v, 4) for v in values[5:10]] == [0.01, 0.01, 0.0141, 0.0172, 0.0199]
    assert values[10] > 1e-2  # above max_lr where it should reach min_lr

    ours = lrsched.PolyScheduler(make_optimizer(), t_max=10, max_lr=1e-2, min_lr=1e-4, warmup_steps=5)
    expected = [1e-4 + (1e-2 - 1e-4) * (1 - (t - 5) / 5) ** 0.5 for t in range(5, 11)]
    np.testing.assert_allclose(ours.lr_at(range(5, 11)), expected, rtol=1e-13)
    assert ours.lr_at(10) == 1e-4


def test_poly_order_two_reaches_882():
    theirs = ref.PolyScheduler(make_optimizer(), t_max=100, max_lr=0.1, min_lr=0.01, poly_order=2)
    values = [theirs.step() for _ in range(100)]
    assert values[99] == pytest.approx(0.01 + (0.1 - 0.01) * 99**2) == pytest.approx(882.1)
    ours = lrsched.PolyScheduler(make_optimizer(), t_max=100, max_lr=0.1, min_lr=0.01, poly_order=2)
    assert ours.lr_at(99) == pytest.approx(0.01 + 0.09 * (1 / 100) ** 2) and ours.lr_at(100) == 0.01


# -- Linear / Cosine past t_max ------------------------------------------------------------------------
def test_linear_goes_negative_past_t_max():
    theirs = ref.LinearScheduler(make_optimizer(), t_max=10, max_lr=0.1, min_lr=0.0)
    values = [theirs.step() for _ in range(16)]
    assert values[15] == pytest.approx(0.1 - 0.1 * 15 / 10) and values[15] < 0
    ours = lrsched.LinearScheduler(make_optimizer(), t_max=10, max_lr=0.1)
    assert ours.lr_at(np.arange(10, 100)).tolist() == [0.0] * 90


def test_cosine_climbs_back_past_t_max():
    theirs = ref.CosineScheduler(make_optimizer(), t_max=10, max_lr=0.1, min_lr=0.0)
    values = [theirs.step() for _ in range(21)]
    assert values[10] == pytest.approx(0.0, abs=1e-12) and values[20] == pytest.approx(0.1)
    ours = lrsched.CosineScheduler(make_optimizer(), t_max=10, max_lr=0.1)
    assert ours.lr_at(np.arange(10, 100)).tolist() == [0.0] * 90


# -- Linear / Cosine / Poly are not LRSchedulers and run one step late ----------------------------------
@pytest.mark.parametrize("name", ["LinearScheduler", "CosineScheduler", "PolyScheduler"])
def test_not_an_lr_scheduler_and_one_step_late(name):
    optimizer = make_optimizer()
    theirs = getattr(ref, name)(optimizer, t_max=10, max_lr=0.1, min_lr=0.01, init_lr=0.05, warmup_steps=2)
    assert not isinstance(theirs, torch.optim.lr_scheduler.LRScheduler)
    assert not hasattr(theirs, "state_dict")
    assert type(theirs.get_lr()) is float  # torch's get_lr() returns one lr per group
    assert optimizer.param_groups[0]["lr"] == 0.01  # min_lr before the first step, not init_lr
    seen = ordinary_loop(optimizer, theirs, 6)
    # the schedule's value of step t is applied by optimizer step t + 1
    expected = [0.05, 0.075, 0.1]  # warmup 0.05 -> 0.1 over two steps
    assert seen[0] == 0.01 and seen[1:4] == pytest.approx(expected)

    optimizer = make_optimizer()
    ours = getattr(lrsched, name)(optimizer, t_max=10, max_lr=0.1, min_lr=0.01, init_lr=0.05, warmup_steps=2)
    assert isinstance(ours, torch.optim.lr_scheduler.LRScheduler)
    assert ordinary_loop(optimizer, ours, 3) == pytest.approx(expected)


# -- REX -----------------------------------------------------------------------------------------------
def test_rex_first_step_at_min_lr_and_max_lr_never_applied():
    optimizer = make_optimizer()
    theirs = ref.REXScheduler(optimizer, total_steps=10, max_lr=0.1)
    seen = ordinary_loop(optimizer, theirs, 12)
    assert seen[0] == 0.0  # min_lr
    assert max(seen) < 0.1  # the value of step 0 was used up inside the constructor
    z = np.arange(1, 11) / 10
    np.testing.assert_allclose(seen[1:11], 0.1 * (1 - z) / (1 - z / 2), atol=1e-15)  # shifted by one step

    optimizer = make_optimizer()
    ours = lrsched.REXScheduler(optimizer, total_steps=10, max_lr=0.1)
    seen = ordinary_loop(optimizer, ours, 12)
    z = np.minimum(np.arange(12) / 10, 1.0)
    np.testing.assert_allclose(seen, 0.1 * (1 - z) / (1 - z / 2), rtol=1e-14, atol=0)
    assert seen[0] == 0.1 and seen[10] == 0.0


# -- CosineAnnealingWarmupRestarts ----------------------------------------------------------------------
def test_restarts_with_no_warmup_start_at_min_lr():
    optimizer = make_optimizer()
    theirs = ref.CosineAnnealingWarmupRestarts(optimizer, first_cycle_steps=10, max_lr=0.1, min_lr=0.001)
    assert ordinary_loop(optimizer, theirs, 1) == [0.001]
    optimizer = make_optimizer()
    lrsched.CosineAnnealingWarmupRestarts(optimizer, first_cycle_steps=10, max_lr=0.1, min_lr=0.001)
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_restarts_resume_with_last_epoch_raises_key_error():
    with pytest.raises(KeyError, match="initial_lr"):
        ref.CosineAnnealingWarmupRestarts(make_optimizer(), first_cycle_steps=10, last_epoch=5)
    optimizer = make_optimizer()
    ours = lrsched.CosineAnnealingWarmupRestarts(optimizer, first_cycle_steps=10, max_lr=0.1, min_lr=0.0, last_epoch=5)
    assert ours.last_epoch == 6
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * (1 + math.cos(math.pi * 6 / 10)))


def test_restarts_error_message_prints_the_violated_relation():
    with pytest.raises(ValueError) as theirs:
        ref.CosineAnnealingWarmupRestarts(make_optimizer(), first_cycle_steps=10, warmup_steps=10)
    assert "10 < 10" in str(theirs.value)  # what is false, written as if it held
    with pytest.raises(ValueError) as ours:
        lrsched.CosineAnnealingWarmupRestarts(make_optimizer(), first_cycle_steps=10, warmup_steps=10)
    assert "warmup_steps must be smaller than first_cycle_steps, got warmup_steps=10 and first_cycle_steps=10" in str(
        ours.value
    )


def test_restarts_real_cycle_mult_drifts_from_the_geometric_series():
    """int() at every cycle compounds: with cycle_mult=1.5 the 8th restart is late by several steps."""
    first, mult = 10, 1.5
    theirs = ref.CosineAnnealingWarmupRestarts(make_optimizer(), first, mult, max_lr=1.0, min_lr=0.0, gamma=1.0)
    restarts, cycle = [], 0
    for t in range(1, 400):
        theirs.step()
        if theirs.cycle != cycle:
            restarts.append(t)
            cycle = theirs.cycle
    geometric = [first * (mult**k - 1) / (mult - 1) for k in range(1, 9)]
    assert max(abs(r - g) for r, g in zip(restarts, geometric)) > 3
    ours = lrsched.CosineRestarts(first, mult, 1.0, 0.0)
    assert max(abs(ours.cycle_start(k) - g) for k, g in zip(range(1, 9), geometric)) <= 0.5


# -- group flattening -------------------------------------------------------------------------------------
FLATTENING = {
    "LinearScheduler": lambda m, o: m.LinearScheduler(o, t_max=10, max_lr=0.1),
    "CosineScheduler": lambda m, o: m.CosineScheduler(o, t_max=10, max_lr=0.1),
    "PolyScheduler": lambda m, o: m.PolyScheduler(o, t_max=10, max_lr=0.1),
    "REXScheduler": lambda m, o: m.REXScheduler(o, total_steps=10, max_lr=0.1),
    "CosineAnnealingWarmupRestarts": lambda m, o: m.CosineAnnealingWarmupRestarts(o, 10, max_lr=0.1, min_lr=0.001),
}


@pytest.mark.parametrize("name", FLATTENING)
def test_one_value_for_every_param_group(name):
    optimizer = make_optimizer([0.1, 0.01, 0.001])
    theirs = FLATTENING[name](ref, optimizer)
    ordinary_loop(optimizer, theirs, 3)
    lrs = [g["lr"] for g in optimizer.param_groups]
    assert lrs[0] == lrs[1] == lrs[2]  # a layer-wise setup is erased

    optimizer = make_optimizer([0.1, 0.01, 0.001])
    ours = FLATTENING[name](lrsched, optimizer)
    ordinary_loop(optimizer, ours, 3)
    lrs = [g["lr"] for g in optimizer.param_groups]
    assert lrs[1] == pytest.approx(lrs[0] / 10) and lrs[2] == pytest.approx(lrs[0] / 100)


# -- Chebyshev --------------------------------------------------------------------------------------------
def worst_case(steps, m=0.05, M=1.0):
    lam = np.linspace(m, M, 100001)
    return float(np.abs(np.prod(1.0 - np.asarray(steps)[:, None] * lam[None, :], axis=0)).max())


def test_chebyshev_off_by_two_index_diverges():
    T = 16
    theirs = [ref_chebyshev.get_chebyshev_lr_lambda(epoch, T) for epoch in range(T)]
    table = ref_chebyshev.get_chebyshev_perm_steps(T)
    assert theirs[:3] == [table[0]] * 3 and table[T - 2] not in theirs and table[T - 1] not in theirs
    assert worst_case(theirs) == pytest.approx(4.72, abs=0.01)  # > 1: the error grows

    bound = 1.0 / math.cosh(T * math.acosh(1.05 / 0.95))
    ours = lrsched.get_chebyshev_schedule(make_optimizer([1.0]), num_epochs=T).lr_at(np.arange(T))
    assert worst_case(ours) == pytest.approx(bound, rel=1e-6) == pytest.approx(1.38e-3, rel=1e-3)
    assert sorted(ours.tolist()) == sorted(lrsched.get_chebyshev_steps(T).tolist())


@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_chebyshev_perm_steps_loses_steps_just_above_a_power_of_two(k):
    for n in (2**k + 1, 2**k + 2):
        assert len(ref_chebyshev.get_chebyshev_perm_steps(n)) < n
        assert len(lrsched.ChebyshevSteps(n)(np.arange(n))) == n
        assert sorted(lrsched.get_chebyshev_permutation(n).tolist()) == list(range(n))


def test_chebyshev_spectrum_cannot_be_set():
    assert set(inspect.signature(ref_chebyshev.get_chebyshev_lr_lambda).parameters) == {
        "epoch",
        "num_epochs",
        "is_warmup",
    }
    assert {"m", "M"} <= set(inspect.signature(lrsched.get_chebyshev_schedule).parameters)


def test_chebyshev_table_rebuilt_at_every_step():
    """Counted, not timed: the reference recomputes every node at every step; lrsched builds no table at all."""
    with mock.patch.object(ref_chebyshev, "get_chebyshev_steps", wraps=ref_chebyshev.get_chebyshev_steps) as spy:
        optimizer = make_optimizer()
        scheduler = ref_chebyshev.get_chebyshev_schedule(optimizer, num_epochs=1000)
        ordinary_loop(optimizer, scheduler, 50)
    assert spy.call_count == 51  # constructor + one per step, each over 1024 nodes

    import lrsched.chebyshev as ours_module

    with mock.patch.object(ours_module, "get_chebyshev_steps", wraps=ours_module.get_chebyshev_steps) as spy:
        optimizer = make_optimizer()
        scheduler = lrsched.get_chebyshev_schedule(optimizer, num_epochs=1001, m=0.0123)
        ordinary_loop(optimizer, scheduler, 50)
        scheduler.lr_at(np.arange(5000))
    assert spy.call_count == 0  # each step computes its own entry of the order and its own node


# -- ProportionScheduler ---------------------------------------------------------------------------------
def test_proportion_defaults_make_a_constant():
    optimizer = make_optimizer()
    lr_scheduler = LambdaLR(optimizer, lambda t: 1 - t / 10)
    rho = ref.ProportionScheduler(lr_scheduler, max_lr=0.1)
    values = []
    for _ in range(10):
        optimizer.step()
        lr_scheduler.step()
        values.append(rho.step())
    assert values == [2.0] * 10  # max_value = min_value = 2.0
    with pytest.raises(TypeError):
        lrsched.ProportionScheduler(lr_scheduler, max_lr=0.1)  # type: ignore[call-arg]


def test_proportion_is_not_clamped_and_reads_group_zero():
    optimizer = make_optimizer([0.01, 0.1])  # group 0 is a low-lr group (e.g. embeddings)
    lr_scheduler = LambdaLR(optimizer, lambda t: 1.0)
    theirs = ref.ProportionScheduler(lr_scheduler, max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.01)
    assert theirs.get_lr() == pytest.approx(0.01 + 0.04 * 0.01 / 0.1)  # read 0.01, the schedule is at 0.1
    ours = lrsched.ProportionScheduler(lr_scheduler, max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.01)
    assert ours.get_lr() == 0.05

    optimizer = make_optimizer([0.2])  # the lr leaves the configured lr range
    lr_scheduler = LambdaLR(optimizer, lambda t: 1.0)
    theirs = ref.ProportionScheduler(lr_scheduler, max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.01)
    assert theirs.get_lr() == pytest.approx(0.09) and theirs.get_lr() > 0.05
    ours = lrsched.ProportionScheduler(lr_scheduler, max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.01)
    assert ours.get_lr() == 0.05


# -- DeBERTa helper ----------------------------------------------------------------------------------------
def test_deberta_comments_state_wrong_lrs():
    source = inspect.getsource(ref_deberta.deberta_v3_large_lr_scheduler)
    assert "base_lr / 2.5  # 2e-5" in source and "base_lr / 0.5  # 1e-4" in source
    assert 2e-5 / 2.5 == pytest.approx(8e-6) and 2e-5 / 0.5 == pytest.approx(4e-5)


def test_deberta_thresholds_count_parameters_not_layers():
    """On a model with 6 parameters per layer, 'layer_low_threshold=195' falls in layer 32, not 12."""
    model = torch.nn.Module()
    model.embeddings = torch.nn.Linear(2, 2)  # 2 parameters
    model.encoder = torch.nn.Module()
    model.encoder.layer = torch.nn.ModuleList(
        torch.nn.Sequential(*(torch.nn.Linear(2, 2) for _ in range(3))) for _ in range(66)
    )
    model.head = torch.nn.Linear(2, 1)
    names = [name for name, _ in model.named_parameters()]
    first_of_layer_12 = names.index("encoder.layer.12.0.weight")
    for groups in (ref_deberta.deberta_v3_large_lr_scheduler(model), lrsched.deberta_v3_large_lr_scheduler(model)):
        assert groups[1 + first_of_layer_12]["lr"] == pytest.approx(2e-5 / 2.5)  # still the "lower layers" rate
        assert names[195].startswith("encoder.layer.32.")
