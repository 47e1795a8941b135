"""The canonical training loop of chapter 1 is what ``lrsched.lab.train`` runs.

Chapter 1 shows a loop a student can retype (per-batch or per-epoch
scheduler stepping, ``t`` counted in optimizer steps or epochs) and asserts it
equal to ``train``. This file holds the library side of that promise: the
same plain loop, written here, against ``train`` -- identical learning rate at
every step and bit-identical final weights, for lrsched's and torch's
schedulers, with and without a seed offset, and per epoch through a scheduler
wrapper that steps every ``n_batches`` calls.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lrsched
from lrsched.lab import TinyMLP, check_seed, load_digits_split, manual_seed, train

BATCH = 64


def plain_loop(model, optimizer, scheduler, data, epochs, seed=0, step_every="batch"):
    """zero_grad / forward / backward / optimizer.step / scheduler.step, nothing else."""
    torch.manual_seed(check_seed(seed))
    shuffle = torch.Generator().manual_seed(check_seed(seed))
    x, y = data.x_train, data.y_train
    n_batches = len(y) // BATCH
    lrs = []
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=shuffle)
        for b in range(n_batches):
            batch = order[b * BATCH : (b + 1) * BATCH]
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
            if step_every == "batch":
                scheduler.step()
        if step_every == "epoch":
            scheduler.step()
    return np.array(lrs)


class EveryKCalls:
    """Forwards every k-th ``step()`` call: ``train`` stepping it per batch is per-epoch stepping."""

    def __init__(self, scheduler, k):
        self.scheduler, self.k, self.calls = scheduler, k, 0

    def step(self):
        self.calls += 1
        if self.calls % self.k == 0:
            self.scheduler.step()


SCHEDULERS = {
    "lrsched linear": lambda opt, t_max: lrsched.LinearScheduler(opt, t_max=t_max, max_lr=0.5, warmup_steps=5),
    "lrsched step decay": lambda opt, t_max: lrsched.ScheduledLR(
        opt, lrsched.join_schedules([lrsched.Constant(0.5), lrsched.Constant(0.05)], boundaries=[t_max // 2])
    ),
    "torch cosine": lambda opt, t_max: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max),
}


def fresh(seed, make, t_max):
    manual_seed(seed)
    model = TinyMLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    return model, optimizer, make(optimizer, t_max)


def assert_same_weights(a, b):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), name


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@pytest.mark.parametrize("offset", [0, 1000])
def test_per_batch_loop_equals_train(data, name, offset, monkeypatch):
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", str(offset))
    epochs, seed = 3, 2
    steps = epochs * (len(data.y_train) // BATCH)
    model_a, opt_a, sched_a = fresh(seed, SCHEDULERS[name], steps)
    ours = plain_loop(model_a, opt_a, sched_a, data, epochs, seed=seed)
    model_b, opt_b, sched_b = fresh(seed, SCHEDULERS[name], steps)
    lab = train(model_b, opt_b, sched_b, data=data, steps=steps, seed=seed, progress=False)
    assert len(ours) == steps
    np.testing.assert_array_equal(ours, lab.lr[:, 0])
    assert len(np.unique(ours)) >= 2  # the schedule really moved
    assert_same_weights(model_a, model_b)


def test_per_epoch_loop_equals_train_with_epoch_stepping(data):
    epochs = 4
    n_batches = len(data.y_train) // BATCH
    def make(opt, t_max):  # t_max in epochs
        return lrsched.LinearScheduler(opt, t_max=t_max, max_lr=0.5, warmup_steps=1)

    model_a, opt_a, sched_a = fresh(0, make, epochs)
    ours = plain_loop(model_a, opt_a, sched_a, data, epochs, step_every="epoch")
    model_b, opt_b, sched_b = fresh(0, make, epochs)
    lab = train(model_b, opt_b, EveryKCalls(sched_b, n_batches), data=data, steps=epochs * n_batches, progress=False)
    np.testing.assert_array_equal(ours, lab.lr[:, 0])
    # t counts epochs: every step of epoch e runs at the closed form's eta_e
    closed = warmup_linear_by_hand(np.arange(epochs), t_max=epochs, peak=0.5, warmup=1)
    np.testing.assert_allclose(ours, np.repeat(closed, n_batches), rtol=1e-12, atol=1e-15)
    assert_same_weights(model_a, model_b)


def warmup_linear_by_hand(t, t_max, peak, warmup):
    """Linear warmup from 0 over ``warmup`` steps, then linear to 0 at ``t_max``."""
    t = np.asarray(t, dtype=float)
    return np.interp(t, [0, warmup, t_max], [0.0, peak, 0.0])


def test_different_seeds_differ(data):
    # the equality above is not vacuous: another seed changes the weights
    steps = len(data.y_train) // BATCH
    model_a, opt_a, sched_a = fresh(0, SCHEDULERS["torch cosine"], steps)
    plain_loop(model_a, opt_a, sched_a, data, 1, seed=0)
    model_b, opt_b, sched_b = fresh(0, SCHEDULERS["torch cosine"], steps)
    train(model_b, opt_b, sched_b, data=data, steps=steps, seed=1, progress=False)
    assert not all(torch.equal(p, q) for p, q in zip(model_a.parameters(), model_b.parameters()))
