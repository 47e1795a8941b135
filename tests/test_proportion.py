"""ProportionScheduler: a value (GSAM's rho) affine in the lr, clamped, resumable."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR

from lrsched import CosineAnnealingWarmupRestarts, CosineScheduler, LinearScheduler, ProportionScheduler


def affine(lr, max_lr, min_lr, max_value, min_value):
    """rho = min_value + (max_value - min_value) (lr - min_lr) / (max_lr - min_lr), clamped to the value range."""
    fraction = min(max((lr - min_lr) / (max_lr - min_lr), 0.0), 1.0)
    return min_value + (max_value - min_value) * fraction


def run(optimizer, lr_scheduler, rho, steps):
    """The ordinary loop; record (lr of the reference group, rho) before each optimizer step."""
    seen = []
    for _ in range(steps):
        seen.append((max(g["lr"] for g in optimizer.param_groups), rho.get_lr()))
        optimizer.step()
        lr_scheduler.step()
        rho.step()
    return seen


def test_affine_relation_at_every_step(make_optimizer):
    optimizer = make_optimizer([0.1])
    lr_scheduler = CosineScheduler(optimizer, t_max=30, max_lr=0.1, min_lr=0.001, warmup_steps=5)
    rho = ProportionScheduler(lr_scheduler, max_lr=0.1, min_lr=0.001, max_value=0.05, min_value=0.01)
    for lr, value in run(optimizer, lr_scheduler, rho, 40):
        assert value == pytest.approx(affine(lr, 0.1, 0.001, 0.05, 0.01), rel=1e-13, abs=1e-17)
    assert rho.lr_at([0, 5, 30]).tolist() == pytest.approx([0.01, 0.05, 0.01])


def test_values_are_clamped_to_the_value_range(make_optimizer):
    """The lr range given to rho is narrower than the schedule's: rho must stay in [min_value, max_value]."""
    optimizer = make_optimizer([0.1])
    lr_scheduler = LinearScheduler(optimizer, t_max=20, max_lr=0.2, min_lr=0.0)
    rho = ProportionScheduler(lr_scheduler, max_lr=0.15, min_lr=0.05, max_value=2.0, min_value=1.0)
    values = [v for _, v in run(optimizer, lr_scheduler, rho, 25)]
    assert min(values) == 1.0 and max(values) == 2.0
    assert all(1.0 <= v <= 2.0 for v in values)
    assert values[0] == 2.0 and values[-1] == 1.0
    assert rho.value_of_lr(1.0) == 2.0 and rho.value_of_lr(-1.0) == 1.0
    assert rho.value_of_lr(np.array([0.0, 0.1, 0.3])).tolist() == pytest.approx([1.0, 1.5, 2.0])


def test_reads_the_schedule_not_group_zero(make_optimizer):
    """Group 0 at a tenth of the reference lr must not make rho a tenth of the way up."""
    optimizer = make_optimizer([0.01, 0.1])
    lr_scheduler = CosineScheduler(optimizer, t_max=10, max_lr=0.1)
    rho = ProportionScheduler(lr_scheduler, max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.0)
    assert rho.get_lr() == 0.05
    for lr, value in run(optimizer, lr_scheduler, rho, 12):
        assert value == pytest.approx(0.05 * lr / 0.1, rel=1e-13, abs=1e-18)


def test_with_a_torch_scheduler_it_reads_get_last_lr(make_optimizer):
    optimizer = make_optimizer([0.1, 0.01])
    lr_scheduler = LambdaLR(optimizer, lambda t: 1.0 - t / 20)
    rho = ProportionScheduler(lr_scheduler, max_lr=0.1, min_lr=0.0, max_value=1.0, min_value=0.0)
    for lr, value in run(optimizer, lr_scheduler, rho, 10):
        assert value == pytest.approx(lr / 0.1, rel=1e-13)
    with pytest.raises(TypeError, match="closed form"):
        rho.lr_at([0, 1])


def test_value_follows_restarts(make_optimizer):
    optimizer = make_optimizer([1.0])
    lr_scheduler = CosineAnnealingWarmupRestarts(optimizer, 5, max_lr=1.0, min_lr=0.0, gamma=1.0)
    rho = ProportionScheduler(lr_scheduler, max_lr=1.0, min_lr=0.0, max_value=0.1, min_value=0.0)
    seen = run(optimizer, lr_scheduler, rho, 12)
    assert [v for _, v in seen] == pytest.approx([0.1 * lr for lr, _ in seen], rel=1e-13, abs=1e-18)
    assert seen[5][1] == 0.1  # restarted


def test_state_dict_resume_and_pickle(make_optimizer):
    optimizer = make_optimizer([0.1])
    lr_scheduler = CosineScheduler(optimizer, t_max=30, max_lr=0.1)
    rho = ProportionScheduler(lr_scheduler, max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.01)
    run(optimizer, lr_scheduler, rho, 9)
    buffer = io.BytesIO()
    torch.save({"lr": lr_scheduler.state_dict(), "rho": rho.state_dict()}, buffer)
    clone_optimizer, clone_lr, clone_rho = pickle.loads(pickle.dumps((optimizer, lr_scheduler, rho)))
    reference = run(optimizer, lr_scheduler, rho, 10)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    fresh_optimizer = make_optimizer([0.1])
    fresh_lr = CosineScheduler(fresh_optimizer, t_max=30, max_lr=0.1)
    fresh_rho = ProportionScheduler(fresh_lr, max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.01)
    fresh_lr.load_state_dict(saved["lr"])
    fresh_rho.load_state_dict(saved["rho"])
    assert run(fresh_optimizer, fresh_lr, fresh_rho, 10) == reference
    assert run(clone_optimizer, clone_lr, clone_rho, 10) == reference


def test_value_is_a_python_float(make_optimizer):
    optimizer = make_optimizer([0.1])
    lr_scheduler = CosineScheduler(optimizer, t_max=30, max_lr=0.1)
    rho = ProportionScheduler(lr_scheduler, max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.01)
    assert type(rho.get_lr()) is float and type(rho.step()) is float and type(rho.get_last_value()) is float
    assert rho.lr_at(np.arange(4)).dtype == np.float64


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"max_lr": 0.1, "min_lr": 0.2}, ValueError, "min_lr"),
        ({"max_lr": -0.1}, ValueError, "max_lr"),
        ({"min_lr": -0.1}, ValueError, "min_lr"),
        ({"max_value": 0.01, "min_value": 0.05}, ValueError, "min_value"),
        ({"max_value": float("nan")}, ValueError, "max_value"),
        ({"min_value": "0.1"}, TypeError, "min_value"),
    ],
)
def test_bad_arguments(make_optimizer, kwargs, error, name):
    lr_scheduler = CosineScheduler(make_optimizer([0.1]), t_max=30, max_lr=0.1)
    arguments = {"max_lr": 0.1, "min_lr": 0.0, "max_value": 0.05, "min_value": 0.01} | kwargs
    with pytest.raises(error, match=name):
        ProportionScheduler(lr_scheduler, **arguments)


def test_values_are_required():
    with pytest.raises(TypeError):
        ProportionScheduler(None, max_lr=0.1, min_lr=0.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="lr_scheduler"):
        ProportionScheduler(object(), max_lr=0.1, min_lr=0.0, max_value=1.0, min_value=0.0)  # type: ignore[arg-type]


# -- issue 17: follow the lr scheduler's position; min_lr == max_lr as the reference -----------------

GSAM = dict(max_lr=0.1, min_lr=0.0, max_value=0.05, min_value=0.01)


def reference_rho(lr_scheduler, **kwargs):
    """pytorch-optimizer 4.1.0's ProportionScheduler on the same lr scheduler (it reads group 0's live lr)."""
    from pytorch_optimizer.lr_scheduler import ProportionScheduler as Reference

    return Reference(lr_scheduler, **kwargs).get_lr()


def test_built_on_a_resumed_scheduler_follows_its_position(make_optimizer):
    trained_opt = make_optimizer([0.1])
    trained = CosineScheduler(trained_opt, t_max=100, max_lr=0.1, warmup_steps=10)
    for _ in range(60):
        trained_opt.step()
        trained.step()
    optimizer = make_optimizer([0.1])
    lr_scheduler = CosineScheduler(optimizer, t_max=100, max_lr=0.1, warmup_steps=10)
    lr_scheduler.load_state_dict(trained.state_dict())
    rho = ProportionScheduler(lr_scheduler, **GSAM)
    assert rho.get_lr() == pytest.approx(reference_rho(lr_scheduler, **GSAM), rel=1e-12)
    for _ in range(5):
        optimizer.step()
        lr_scheduler.step()
        assert rho.step() == pytest.approx(reference_rho(lr_scheduler, **GSAM), rel=1e-12)


def test_follows_the_lr_scheduler_after_its_load_state_dict(make_optimizer):
    source_opt = make_optimizer([0.1])
    source = LinearScheduler(source_opt, t_max=50, max_lr=0.1)
    for _ in range(30):
        source_opt.step()
        source.step()
    optimizer = make_optimizer([0.1])
    lr_scheduler = LinearScheduler(optimizer, t_max=50, max_lr=0.1)
    rho = ProportionScheduler(lr_scheduler, **GSAM)
    for _ in range(3):
        optimizer.step()
        lr_scheduler.step()
        rho.step()
    lr_scheduler.load_state_dict(source.state_dict())  # resume the lr schedule at step 30
    optimizer.step()
    lr_scheduler.step()
    assert rho.step() == pytest.approx(affine(0.1 * (1 - 31 / 50), **GSAM), rel=1e-12)


def test_min_lr_equal_to_max_lr_gives_max_value_as_the_reference(make_optimizer):
    optimizer = make_optimizer([0.1])
    lr_scheduler = LinearScheduler(optimizer, t_max=10, max_lr=0.1)
    same = dict(max_lr=0.1, min_lr=0.1, max_value=0.05, min_value=0.01)
    rho = ProportionScheduler(lr_scheduler, **same)
    for _ in range(4):
        assert rho.get_lr() == reference_rho(lr_scheduler, **same) == 0.05
        optimizer.step()
        lr_scheduler.step()
        rho.step()
    assert rho.lr_at([0, 5, 10]).tolist() == [0.05, 0.05, 0.05]
