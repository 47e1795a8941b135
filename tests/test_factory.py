"""``lrsched.get_scheduler`` against transformers' own ``get_scheduler``, and the 4.1.0 registry (issue 17).

Expected learning rates come from transformers 5.24 and pytorch-optimizer 4.1.0, stepped side by side
with lrsched in the ordinary loop, with two param groups (the factor each group gets must be the same).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import lrsched
from lrsched import get_scheduler

transformers = pytest.importorskip("transformers")


def run(factory, name, steps, lrs=(1e-3, 2e-4), **kwargs) -> np.ndarray:
    """Every group's lr at steps 0 .. steps-1 of the ordinary loop, shape (steps, groups)."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    optimizer = torch.optim.AdamW(groups, lr=lrs[0])
    scheduler = factory(name, optimizer, **kwargs)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' WSD warns when both step counts are given
        for _ in range(steps):
            seen.append([group["lr"] for group in optimizer.param_groups])
            optimizer.step()
            scheduler.step()
    return np.array(seen)


AGREE = [
    ("linear", dict(num_warmup_steps=10, num_training_steps=100)),
    ("linear", dict(num_warmup_steps=0, num_training_steps=7)),
    ("cosine_with_restarts", dict(num_warmup_steps=10, num_training_steps=100, scheduler_specific_kwargs={"num_cycles": 3})),
    ("cosine_with_restarts", dict(num_warmup_steps=0, num_training_steps=64)),
    ("polynomial", dict(num_warmup_steps=10, num_training_steps=100)),
    ("polynomial", dict(num_warmup_steps=5, num_training_steps=50, scheduler_specific_kwargs={"power": 2.0, "lr_end": 1e-5})),
    ("constant", dict()),
    ("constant_with_warmup", dict(num_warmup_steps=7)),
    ("constant_with_warmup", dict(num_warmup_steps=0)),
    ("inverse_sqrt", dict(num_warmup_steps=10)),
    ("inverse_sqrt", dict(num_warmup_steps=0)),
    ("inverse_sqrt", dict(num_warmup_steps=10, scheduler_specific_kwargs={"timescale": 30})),
    ("warmup_stable_decay", dict(num_warmup_steps=10, num_training_steps=100,
                                 scheduler_specific_kwargs={"num_decay_steps": 20, "min_lr_ratio": 0.1})),
    ("warmup_stable_decay", dict(num_warmup_steps=10, scheduler_specific_kwargs={
        "num_stable_steps": 30, "num_decay_steps": 20, "decay_type": "1-sqrt", "min_lr_ratio": 0.05})),
    ("warmup_stable_decay", dict(num_warmup_steps=0, num_training_steps=40,
                                 scheduler_specific_kwargs={"num_decay_steps": 40, "decay_type": "linear"})),
]


@pytest.mark.parametrize("name, kwargs", AGREE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(AGREE)])
def test_same_learning_rates_as_transformers_step_for_step(name, kwargs):
    theirs = run(transformers.get_scheduler, name, 150, **kwargs)
    ours = run(get_scheduler, name, 150, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-18)


def test_cosine_agrees_up_to_the_horizon_then_holds_where_transformers_climbs_back():
    kwargs = dict(num_warmup_steps=10, num_training_steps=100)
    theirs = run(transformers.get_scheduler, "cosine", 130, **kwargs)
    ours = run(get_scheduler, "cosine", 130, **kwargs)
    np.testing.assert_allclose(ours[:101], theirs[:101], rtol=1e-12, atol=1e-18)
    assert np.all(ours[100:] == 0.0) and theirs[109, 0] == pytest.approx(0.024472 * 1e-3, rel=1e-4)


def test_keywords_and_scheduler_specific_kwargs_are_the_same_thing():
    a = run(get_scheduler, "polynomial", 30, num_warmup_steps=3, num_training_steps=20, power=3.0)
    b = run(get_scheduler, "polynomial", 30, num_warmup_steps=3, num_training_steps=20,
            scheduler_specific_kwargs={"power": 3.0})
    assert a.tolist() == b.tolist()
    assert run(get_scheduler, transformers.SchedulerType("linear"), 5, num_warmup_steps=1, num_training_steps=4).shape == (5, 2)


def test_rex_and_chebyshev():
    rex = run(get_scheduler, "rex", 30, lrs=(0.5,), num_warmup_steps=4, num_training_steps=24)[:, 0]
    z = np.clip((np.arange(4, 30) - 4) / 20, 0, 1)
    np.testing.assert_allclose(rex[4:], 0.5 * (1 - z) / (1 - z / 2), rtol=1e-12, atol=1e-15)  # the paper's profile
    np.testing.assert_allclose(rex[:4], 0.5 * np.arange(4) / 4)
    cheb = run(get_scheduler, "chebyshev", 40, lrs=(0.1,), num_warmup_steps=8, num_training_steps=24)[:, 0]
    nodes = 0.1 * lrsched.get_chebyshev_steps(16)[lrsched.get_chebyshev_permutation(16)]
    np.testing.assert_allclose(cheb[8:24], nodes, rtol=1e-13)
    np.testing.assert_allclose(cheb[24:40], nodes, rtol=1e-13)  # the cycle repeats
    np.testing.assert_allclose(cheb[:8], 0.1 * np.arange(8) / 8)


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("linear", dict(num_training_steps=10), "num_warmup_steps"),
        ("linear", dict(num_warmup_steps=2), "num_training_steps"),
        ("linear", dict(num_warmup_steps=10, num_training_steps=10), "num_warmup_steps must be smaller"),
        ("cosine", dict(num_warmup_steps=1, num_training_steps=10, num_cycles=1.0), "num_cycles"),
        ("cosine_with_restarts", dict(num_warmup_steps=0, num_training_steps=10, num_cycles=3), "multiple of num_cycles"),
        ("polynomial", dict(num_warmup_steps=0, num_training_steps=10, lr_end=1.0), "lr_end"),
        ("warmup_stable_decay", dict(num_warmup_steps=0, num_training_steps=10), "num_decay_steps"),
        ("warmup_stable_decay", dict(num_warmup_steps=0, num_decay_steps=2), "num_stable_steps"),
        ("warmup_stable_decay", dict(num_warmup_steps=0, num_training_steps=9, num_decay_steps=2,
                                     warmup_type="cosine"), "warmup_type"),
        ("cosine_with_min_lr", dict(num_warmup_steps=0, num_training_steps=10), "name"),
    ],
)
def test_bad_arguments_name_themselves(name, kwargs, match):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    with pytest.raises(ValueError, match=match):
        get_scheduler(name, optimizer, **kwargs)


def test_unknown_keyword_is_a_type_error():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    with pytest.raises(TypeError, match="power"):
        get_scheduler("linear", optimizer, num_warmup_steps=0, num_training_steps=10, power=2.0)


# -- pytorch-optimizer 4.1.0's registry -------------------------------------------------------------------
def test_registry_has_the_references_names():
    import pytorch_optimizer.lr_scheduler as theirs

    assert lrsched.get_supported_lr_schedulers() == theirs.get_supported_lr_schedulers()
    for pattern in ("cosine*", ["cosine*", "*warm*"], "*", "nothing*"):
        assert lrsched.get_supported_lr_schedulers(pattern) == theirs.get_supported_lr_schedulers(pattern)
    for name in theirs.get_supported_lr_schedulers():
        ours, ref = lrsched.load_lr_scheduler(name.upper()), theirs.load_lr_scheduler(name)
        if ref.__module__.startswith("torch.") and name != "one_cycle":
            assert ours is ref  # torch's own schedulers, as in the reference
        else:
            assert ours.__module__.startswith("lrsched.") and ours.__name__ == {
                "one_cycle": "OneCycleScheduler"}.get(name, ref.__name__)


def test_unknown_name_is_a_value_error_and_the_references_not_implemented_error():
    with pytest.raises(ValueError, match="dummy"):
        lrsched.load_lr_scheduler("dummy")
    with pytest.raises(NotImplementedError):
        lrsched.load_lr_scheduler("dummy")
    with pytest.raises(TypeError):
        lrsched.load_lr_scheduler(3)
