"""Tests of the lab's SAM optimizer, HyperparameterScheduler and the sharpness proxy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lrsched import CosineScheduler, ProportionScheduler, ScheduledLR, warmup_cosine
from lrsched.lab import TinyMLP, load_digits_split, train
from lrsched.lab.sam import GSAM, SAM, HyperparameterScheduler, sharpness


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


def seeded_mlp(seed: int = 0) -> TinyMLP:
    torch.manual_seed(seed)
    return TinyMLP(hidden=16)


def make_closure(model, optimizer, x, y, record=None):
    """A closure like the lab's; ``record`` collects the weights at each evaluation."""

    def closure():
        if record is not None:
            record.append([p.detach().clone() for p in model.parameters()])
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return closure


def flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


# ---------------------------------------------------------------- the SAM step


def test_step_by_hand_on_a_quadratic():
    # L(w) = 1/2 w^T A w with A = diag(1, 4): gradient A w, computed by hand in float64.
    a = np.array([1.0, 4.0])
    w0 = np.array([1.0, 1.0])
    rho, lr = 0.3, 0.1
    g = a * w0  # (1, 4)
    eps = rho * g / np.sqrt(np.sum(g**2))  # rho * g / sqrt(17)
    expected = w0 - lr * a * (w0 + eps)

    w = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = SAM([w], torch.optim.SGD, rho=rho, lr=lr)
    seen = []

    def closure():
        seen.append(w.detach().clone())
        opt.zero_grad()
        loss = 0.5 * (torch.tensor(a, dtype=torch.float64) * w**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=0, atol=1e-15)
    assert loss.item() == pytest.approx(0.5 * np.sum(a * w0**2))  # the loss at the starting point
    assert len(seen) == 2
    np.testing.assert_allclose(seen[1].numpy(), w0 + eps, rtol=0, atol=1e-15)
    assert opt.last_perturbation_norm == pytest.approx(rho, rel=1e-12)


def test_rho_zero_equals_the_base_optimizer_exactly(data):
    for base, kwargs in [(torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}), (torch.optim.AdamW, {"lr": 1e-2})]:
        plain, wrapped = seeded_mlp(1), seeded_mlp(1)
        h_plain = train(plain, base(plain.parameters(), **kwargs), data=data, steps=40, progress=False)
        sam = SAM(wrapped.parameters(), base, rho=0.0, **kwargs)
        h_sam = train(wrapped, sam, data=data, steps=40, progress=False)
        for p, q in zip(plain.parameters(), wrapped.parameters()):
            assert torch.equal(p, q)
        np.testing.assert_array_equal(h_plain.loss, h_sam.loss)
        assert sam.last_perturbation_norm == 0.0


def test_perturbation_has_norm_rho_along_the_gradient(data):
    model = seeded_mlp(2)
    x, y = data.x_train[:64], data.y_train[:64]
    rho = 0.07
    opt = SAM(model.parameters(), torch.optim.SGD, rho=rho, lr=0.1)
    record = []
    opt.step(make_closure(model, opt, x, y, record))
    # the gradient at the starting weights, computed independently
    reference = seeded_mlp(2)
    F.cross_entropy(reference(x), y).backward()
    g = flat(p.grad for p in reference.parameters())
    delta = flat(record[1]) - flat(record[0])
    assert delta.norm().item() == pytest.approx(rho, rel=1e-5)
    torch.testing.assert_close(delta, rho * g / g.norm(), rtol=1e-4, atol=1e-7)
    assert opt.last_perturbation_norm == pytest.approx(rho, rel=1e-6)


def test_weights_are_restored_exactly_before_the_base_step(data):
    seen = {}

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            seen["weights"] = [p.detach().clone() for g in self.param_groups for p in g["params"]]
            seen["grads"] = [p.grad.clone() for g in self.param_groups for p in g["params"]]
            return super().step(closure)

    model = seeded_mlp(3)
    start = [p.detach().clone() for p in model.parameters()]
    x, y = data.x_train[:32], data.y_train[:32]
    opt = SAM(model.parameters(), Spy, rho=0.5, lr=0.1)
    record = []
    opt.step(make_closure(model, opt, x, y, record))
    for w, s in zip(seen["weights"], start):
        assert torch.equal(w, s)
    # ...and the base step used the gradient of the perturbed point
    perturbed = seeded_mlp(3)
    with torch.no_grad():
        for p, w in zip(perturbed.parameters(), record[1]):
            p.copy_(w)
    F.cross_entropy(perturbed(x), y).backward()
    for grad, p in zip(seen["grads"], perturbed.parameters()):
        assert torch.equal(grad, p.grad)


def test_each_group_is_scaled_by_its_own_rho_over_the_global_norm(data):
    model = seeded_mlp(4)
    x, y = data.x_train[:64], data.y_train[:64]
    groups = [
        {"params": model.backbone_parameters(), "rho": 0.02},
        {"params": model.head_parameters()},  # takes the default rho
    ]
    opt = SAM(groups, torch.optim.SGD, rho=0.1, lr=0.1)
    assert [g["rho"] for g in opt.param_groups] == [0.02, 0.1]
    with pytest.raises(ValueError, match="different rho"):
        opt.rho
    record = []
    opt.step(make_closure(model, opt, x, y, record))
    reference = seeded_mlp(4)
    F.cross_entropy(reference(x), y).backward()
    grads = [p.grad for p in reference.parameters()]
    norm = flat(grads).norm()
    n_backbone = len(model.backbone_parameters())
    for i, (g, before, after) in enumerate(zip(grads, record[0], record[1])):
        rho = 0.02 if i < n_backbone else 0.1
        torch.testing.assert_close(after - before, rho * g / norm, rtol=1e-4, atol=1e-7)


def test_zero_gradient_means_no_perturbation():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = SAM([w], torch.optim.SGD, rho=0.1, lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w**2).sum()  # gradient 0 at w = 0
        loss.backward()
        return loss

    opt.step(closure)
    assert torch.equal(w.detach(), torch.zeros(3))
    assert opt.last_perturbation_norm == 0.0


def test_step_needs_a_closure_and_rho_is_checked():
    w = torch.nn.Parameter(torch.ones(2))
    opt = SAM([w], torch.optim.SGD, rho=0.1, lr=0.1)
    with pytest.raises(ValueError, match="closure"):
        opt.step()
    for bad in (-0.1, math.nan, math.inf, True, "0.1"):
        with pytest.raises(ValueError, match="rho"):
            SAM([torch.nn.Parameter(torch.ones(1))], torch.optim.SGD, rho=bad, lr=0.1)
        with pytest.raises(ValueError, match="rho"):
            opt.rho = bad
    opt.rho = 0.25
    assert opt.rho == 0.25 and opt.param_groups[0]["rho"] == 0.25
    opt.param_groups[0]["rho"] = -0.01  # e.g. written by a schedule that does not clamp
    with pytest.raises(ValueError, match="rho"):
        opt.step(lambda: torch.zeros((), requires_grad=True))
    with pytest.raises(TypeError, match="class"):
        SAM([torch.nn.Parameter(torch.ones(1))], torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1))


def test_groups_are_shared_with_the_base_optimizer_and_lr_schedulers():
    w = torch.nn.Parameter(torch.ones(2))
    opt = SAM([w], torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    assert opt.param_groups is opt.base_optimizer.param_groups
    sched = CosineScheduler(opt, t_max=10, max_lr=0.5)
    assert opt.base_optimizer.param_groups[0]["lr"] == 0.5
    sched.step()
    assert opt.base_optimizer.param_groups[0]["lr"] == pytest.approx(warmup_cosine(10, 0.5)(1))


def test_wrap_an_existing_optimizer_and_match_the_class_form(data):
    a, b = seeded_mlp(5), seeded_mlp(5)
    base = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
    wrapped = SAM.wrap(base, rho=0.05)
    assert wrapped.base_optimizer is base and wrapped.param_groups is base.param_groups
    built = SAM(b.parameters(), torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
    train(a, wrapped, data=data, steps=20, progress=False)
    train(b, built, data=data, steps=20, progress=False)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(TypeError):
        SAM.wrap(wrapped)
    with pytest.raises(TypeError):
        SAM.wrap("not an optimizer")


def test_state_dict_resume_is_bit_identical(data):
    def run(split: bool):
        model = seeded_mlp(6)
        opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
        if not split:
            train(model, opt, data=data, steps=20, seed=0, progress=False)
            train(model, opt, data=data, steps=10, seed=1, progress=False)
            return model
        train(model, opt, data=data, steps=20, seed=0, progress=False)
        state = opt.state_dict()
        assert all(g["rho"] == 0.05 for g in state["param_groups"])
        opt2 = SAM(model.parameters(), torch.optim.SGD, rho=0.9, lr=0.5, momentum=0.9)
        opt2.load_state_dict(state)
        assert opt2.rho == 0.05 and opt2.param_groups is opt2.base_optimizer.param_groups
        train(model, opt2, data=data, steps=10, seed=1, progress=False)
        return model

    for p, q in zip(run(False).parameters(), run(True).parameters()):
        assert torch.equal(p, q)


# ---------------------------------------------------------------- GSAM


def test_gsam_step_by_hand_on_a_quadratic():
    # L(w) = 1/2 w^T A w, A = diag(1, 4): g = A w, g_p = A (w + eps), d = g_p - alpha g_perp.
    a = np.array([1.0, 4.0])
    w0 = np.array([1.0, -0.5])
    rho, alpha, lr = 0.3, 0.4, 0.1
    g = a * w0
    g_p = a * (w0 + rho * g / np.linalg.norm(g))
    g_perp = g - (g @ g_p) / (g_p @ g_p) * g_p
    expected = w0 - lr * (g_p - alpha * g_perp)

    w = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = GSAM([w], torch.optim.SGD, rho=rho, alpha=alpha, lr=lr)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (torch.tensor(a, dtype=torch.float64) * w**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=0, atol=1e-15)
    assert abs(g_perp @ g_p) < 1e-12 and np.linalg.norm(g_perp) > 0.1  # a real correction
    assert loss.item() == pytest.approx(0.5 * np.sum(a * w0**2))
    # the surrogate gap h = L(w + eps) - L(w) of that step
    w_p = w0 + rho * g / np.linalg.norm(g)
    gap = 0.5 * np.sum(a * w_p**2) - 0.5 * np.sum(a * w0**2)
    assert opt.last_surrogate_gap == pytest.approx(gap, rel=1e-12)


class _ConstantRho:
    """A rho scheduler for pytorch-optimizer's GSAM that always gives the same radius."""

    def __init__(self, rho: float) -> None:
        self.rho = rho

    def step(self) -> float:
        return self.rho


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gsam_matches_pytorch_optimizer(data, dtype):
    from pytorch_optimizer import GSAM as ReferenceGSAM

    rho, alpha = 0.2, 0.3
    x, y = data.x_train[:64].to(dtype), data.y_train[:64]
    ours_model, ref_model, sam_model = (seeded_mlp(9).to(dtype) for _ in range(3))
    start = [p.detach().clone() for p in ours_model.parameters()]
    ours = GSAM(ours_model.parameters(), torch.optim.SGD, rho=rho, alpha=alpha, lr=0.1, momentum=0.9)
    base = torch.optim.SGD(ref_model.parameters(), lr=0.1, momentum=0.9)
    ref = ReferenceGSAM(ref_model.parameters(), base, ref_model, _ConstantRho(rho), alpha=alpha)
    sam = SAM(sam_model.parameters(), torch.optim.SGD, rho=rho, lr=0.1, momentum=0.9)
    for step in range(3):  # one step, then two more through the momentum buffer
        ours.step(make_closure(ours_model, ours, x, y))
        ref.set_closure(F.cross_entropy, x, y)
        ref.step()
        sam.step(make_closure(sam_model, sam, x, y))
        ours_w, ref_w, sam_w = (flat(m.parameters()).detach() for m in (ours_model, ref_model, sam_model))
        assert (ours_w - ref_w).abs().max().item() < 1e-6, step
        # GSAM's correction is far larger than the tolerance: the check can tell GSAM from SAM
        assert (ours_w - sam_w).abs().max().item() > 1e-4, step
    assert (flat(ours_model.parameters()) - flat(start)).abs().max().item() > 1e-2  # it moved


def test_gsam_with_alpha_zero_is_sam_exactly(data):
    a, b = seeded_mlp(10), seeded_mlp(10)
    gsam = GSAM(a.parameters(), torch.optim.SGD, rho=0.1, alpha=0.0, lr=0.1, momentum=0.9)
    sam = SAM(b.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    h_gsam = train(a, gsam, data=data, steps=20, progress=False)
    h_sam = train(b, sam, data=data, steps=20, progress=False)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    np.testing.assert_array_equal(h_gsam.loss, h_sam.loss)


def test_gsam_checks_alpha_and_wraps():
    w = torch.nn.Parameter(torch.ones(2))
    for bad in (-0.1, 1.5, math.nan, True, "0.1"):
        with pytest.raises(ValueError, match="alpha"):
            GSAM([w], torch.optim.SGD, rho=0.1, alpha=bad, lr=0.1)
    opt = GSAM([w], torch.optim.SGD, rho=0.1, alpha=0.2, lr=0.1)
    opt.alpha = 2.0  # checked again when used

    def closure():
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    with pytest.raises(ValueError, match="alpha"):
        opt.step(closure)
    wrapped = GSAM.wrap(torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1), rho=0.05, alpha=0.3)
    assert isinstance(wrapped, GSAM) and wrapped.alpha == 0.3 and wrapped.rho == 0.05
    assert "alpha=0.3" in repr(wrapped)


# ------------------------------------------------------- HyperparameterScheduler


def test_rho_follows_a_proportion_scheduler_during_training(data):
    steps, rho_max, rho_min = 60, 0.2, 0.02
    model = seeded_mlp(7)
    opt = SAM(model.parameters(), torch.optim.SGD, rho=1.0, lr=0.1, momentum=0.9)
    lr_sched = CosineScheduler(opt, t_max=steps, max_lr=0.1, min_lr=0.0, warmup_steps=10)
    rho_sched = HyperparameterScheduler(
        opt, "rho", ProportionScheduler(lr_sched, max_lr=0.1, min_lr=0.0, max_value=rho_max, min_value=rho_min)
    )
    assert opt.rho == rho_min  # step 0 of a warmup from lr 0
    used = []
    history = train(
        model,
        opt,
        [lr_sched, rho_sched],
        data=data,
        steps=steps,
        progress=False,
        callbacks=[lambda step, m, h: used.append(opt.last_perturbation_norm)],
    )
    lr = history.lr[:, 0]  # the lr each step used
    np.testing.assert_allclose(used, rho_min + (rho_max - rho_min) * lr / 0.1, rtol=1e-5)


def test_hyperparameter_scheduler_with_a_closed_form_and_errors():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p]}, {"params": [torch.nn.Parameter(torch.zeros(1))]}], lr=0.1)
    wd = HyperparameterScheduler(opt, "weight_decay", warmup_cosine(4, 1e-2))
    assert [g["weight_decay"] for g in opt.param_groups] == [1e-2, 1e-2]  # no warmup: step 0 is the peak
    values = [wd.step() for _ in range(5)]
    np.testing.assert_allclose(values, warmup_cosine(4, 1e-2)([1, 2, 3, 4, 5]), rtol=0, atol=0)
    assert wd.get_last_value() == values[-1] == opt.param_groups[1]["weight_decay"]
    with pytest.raises(KeyError, match="rho"):
        HyperparameterScheduler(opt, "rho", lambda t: 0.1)
    with pytest.raises(TypeError):
        HyperparameterScheduler(opt, "lr", 0.1)


def test_hyperparameter_scheduler_steps_a_value_scheduler_once_per_step():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    lr_sched = ScheduledLR(opt, warmup_cosine(10, 0.1))
    prop = ProportionScheduler(lr_sched, max_lr=0.1, min_lr=0.0, max_value=0.9, min_value=0.8)
    mom = HyperparameterScheduler(opt, "momentum", prop)
    for k in range(1, 12):
        lr_sched.step()
        mom.step()
        assert prop.step_t == k
        assert opt.param_groups[0]["momentum"] == pytest.approx(0.8 + 0.1 * warmup_cosine(10, 0.1)(k) / 0.1)


# ---------------------------------------------------------------- sharpness


def test_sharpness_matches_an_independent_computation_and_restores_the_model(data):
    model = seeded_mlp(8)
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    rng_before = torch.get_rng_state()
    radius, n = 0.3, 3
    value = sharpness(model, data, radius=radius, n_samples=n, seed=11)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the global generator is untouched
    assert model.training
    for p, w in zip(model.parameters(), before):
        assert torch.equal(p, w)

    # independent: perturbed copies built with torch.func.functional_call
    names = [name for name, _ in model.named_parameters()]
    gen = torch.Generator().manual_seed(11)
    x, y = data.x_train, data.y_train
    with torch.no_grad():
        base = F.cross_entropy(model(x), y).item()
        increases = []
        for _ in range(n):
            moved = {}
            for name, w in zip(names, before):
                d = torch.randn(w.shape, generator=gen)
                moved[name] = w + d * (radius * w.norm() / d.norm())
            loss = F.cross_entropy(torch.func.functional_call(model, moved, (x,)), y).item()
            increases.append(loss - base)
    assert value == pytest.approx(np.mean(increases), rel=1e-6, abs=1e-9)
    # a pair of tensors is the same as the split's training set
    assert sharpness(model, (x, y), radius=radius, n_samples=n, seed=11) == value


def test_sharpness_is_deterministic_grows_with_radius_and_is_zero_for_zero_weights(data):
    torch.manual_seed(0)
    model = TinyMLP(hidden=16)
    train(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), data=data, steps=100, progress=False)
    values = [sharpness(model, data, radius=r, n_samples=4, seed=1) for r in (0.05, 0.2, 0.5)]
    assert values == sorted(values) and values[0] > 0
    assert sharpness(model, data, radius=0.2, n_samples=4, seed=1) == values[1]
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    assert sharpness(model, data, radius=0.5, n_samples=2) == 0.0
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="radius"):
            sharpness(model, data, radius=bad)
    with pytest.raises(ValueError, match="n_samples"):
        sharpness(model, data, radius=0.1, n_samples=0)
    with pytest.raises(TypeError, match="pair"):
        sharpness(model, 3, radius=0.1)


def test_hyperparameter_scheduler_state_dict_resumes_exactly():
    def build():
        opt = SAM([torch.nn.Parameter(torch.zeros(1))], torch.optim.SGD, rho=0.1, lr=0.1)
        lr_sched = CosineScheduler(opt, t_max=20, max_lr=0.1, warmup_steps=5)
        prop = ProportionScheduler(lr_sched, max_lr=0.1, min_lr=0.0, max_value=0.3, min_value=0.05)
        return opt, lr_sched, HyperparameterScheduler(opt, "rho", prop)

    opt, lr_sched, rho = build()
    for _ in range(7):
        lr_sched.step()
        rho.step()
    saved_lr, saved_rho = lr_sched.state_dict(), rho.state_dict()
    assert saved_rho["step_t"] == 7 and saved_rho["source"]["step_t"] == 7
    expected = [lr_sched.step() or rho.step() for _ in range(5)]

    opt2, lr_sched2, rho2 = build()
    lr_sched2.load_state_dict(saved_lr)
    rho2.load_state_dict(saved_rho)
    assert opt2.rho == saved_rho["last_value"]
    assert [lr_sched2.step() or rho2.step() for _ in range(5)] == expected
    with pytest.raises(TypeError, match="get_last_value"):
        HyperparameterScheduler(opt2, "rho", type("NoGetter", (), {"step": lambda self: 0.1})())
