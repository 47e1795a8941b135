"""Tests of the lab: data split, tiny models, the training loop and compare()."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from torch.optim.lr_scheduler import LambdaLR, StepLR

from lrsched.lab import (
    Comparison,
    DigitsSplit,
    History,
    TinyCNN,
    TinyMLP,
    compare,
    load_digits_split,
    train,
)


@pytest.fixture(scope="module")
def data() -> DigitsSplit:
    return load_digits_split()


def sgd(model: torch.nn.Module, lr: float = 0.1) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def seeded_mlp(seed: int = 0, **kwargs) -> TinyMLP:
    torch.manual_seed(seed)
    return TinyMLP(**kwargs)


# --------------------------------------------------------------------- data


def test_split_shapes_dtypes_and_range(data):
    # 25% of each class is test, 20% of the rest validation (rounded per class)
    assert data.x_train.shape == (1078, 1, 8, 8)
    assert data.x_val.shape == (269, 1, 8, 8)
    assert data.x_test.shape == (450, 1, 8, 8)
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 1797
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.x_val.dtype == torch.float32 and data.y_val.dtype == torch.int64
    for x in (data.x_train, data.x_val, data.x_test):
        assert x.min() >= 0.0 and x.max() <= 1.0
    # pixel/16, so a full-intensity pixel is exactly 1
    assert data.x_train.max() == 1.0


def test_split_is_a_partition_of_the_dataset(data):
    raw = load_digits()
    full = Counter((img.astype(np.float32).tobytes(), int(t)) for img, t in zip(raw.images / 16.0, raw.target))
    x = torch.cat([data.x_train, data.x_val, data.x_test]).numpy()[:, 0]
    y = torch.cat([data.y_train, data.y_val, data.y_test]).numpy()
    assert Counter((img.tobytes(), int(t)) for img, t in zip(x, y)) == full


def test_split_is_stratified(data):
    totals = np.bincount(load_digits().target, minlength=10)
    test_counts = np.bincount(data.y_test.numpy(), minlength=10)
    # each class contributes its own 25%, up to rounding
    assert np.all(np.abs(test_counts - 0.25 * totals) <= 1)


def test_split_is_deterministic_and_depends_on_seed():
    a, b = load_digits_split(seed=3), load_digits_split(seed=3)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    c = load_digits_split(seed=4)
    assert not torch.equal(a.x_test, c.x_test)


def test_split_returns_independent_tensors():
    a = load_digits_split()
    a.x_train.zero_()  # must not leak into the cache
    assert load_digits_split().x_train.max() == 1.0


def test_test_fraction():
    split = load_digits_split(test_fraction=0.5)
    assert abs(len(split.y_test) - 1797 / 2) <= 10


def test_digits_filter_keeps_original_labels():
    split = load_digits_split(digits=[8, 3])
    counts = np.bincount(load_digits().target)
    assert split.classes == (3, 8)
    assert set(split.y_train.tolist()) == {3, 8} == set(split.y_test.tolist())
    assert set(split.y_val.tolist()) == {3, 8}
    assert len(split.y_train) + len(split.y_val) + len(split.y_test) == counts[3] + counts[8]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"test_fraction": -0.2}, "test_fraction"),
        ({"digits": [3, 10]}, "digits"),
        ({"digits": [-1]}, "digits"),
        ({"digits": []}, "digits"),
        ({"digits": [2.5]}, "digits"),
    ],
)
def test_split_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        load_digits_split(**kwargs)


def test_features_are_flat_float64(data):
    x_train, y_train, x_test, y_test = data.features()
    assert x_train.shape == (1078, 64) and x_test.shape == (450, 64)
    assert x_train.dtype == np.float64 and y_train.dtype == np.int64
    np.testing.assert_array_equal(x_train, data.x_train.reshape(-1, 64).double().numpy())
    np.testing.assert_array_equal(y_test, data.y_test.numpy())


# ------------------------------------------------------------------- models


@pytest.mark.parametrize("model_fn", [TinyMLP, lambda: TinyMLP(hidden=16, depth=3), TinyCNN, lambda: TinyCNN((4, 8, 8, 8))])
def test_output_shape(model_fn, data):
    assert model_fn()(data.x_test[:7]).shape == (7, 10)


def test_output_shape_num_classes():
    assert TinyMLP(num_classes=3)(torch.zeros(2, 1, 8, 8)).shape == (2, 3)
    assert TinyCNN(num_classes=3)(torch.zeros(2, 1, 8, 8)).shape == (2, 3)


def test_mlp_parameter_names():
    names = [n for n, _ in TinyMLP(depth=2).named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "head.weight", "head.bias"]


@pytest.mark.parametrize("channels, n_blocks", [((8,), 0), ((8, 16), 1), ((4, 8, 8, 8, 8), 4)])
def test_cnn_parameter_names_and_groups(channels, n_blocks):
    model = TinyCNN(channels)
    assert len(model.blocks) == n_blocks
    names = [n for n, _ in model.named_parameters()]
    allowed = ("embed.", "head") + tuple(f"blocks.{i}." for i in range(n_blocks))
    assert all(n.startswith(allowed) for n in names), names
    assert any(n.startswith("embed.") for n in names) and any(n.startswith("head") for n in names)
    backbone = {id(p) for p in model.backbone_parameters()}
    head = {id(p) for p in model.head_parameters()}
    assert backbone.isdisjoint(head)
    assert backbone | head == {id(p) for p in model.parameters()}
    assert head == {id(model.head.weight), id(model.head.bias)}


@pytest.mark.parametrize("model_cls", [TinyMLP, TinyCNN])
def test_models_are_deterministic_under_manual_seed(model_cls):
    def state(seed):
        torch.manual_seed(seed)
        return model_cls().state_dict()

    a, b, c = state(0), state(0), state(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("bad", [{"hidden": 0}, {"depth": 0}, {"num_classes": 0}])
def test_mlp_rejects_bad_arguments(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TinyMLP(**bad)


def test_cnn_rejects_empty_channels():
    with pytest.raises(ValueError, match="channels"):
        TinyCNN(())


# -------------------------------------------------------------------- train


def test_same_seed_gives_bit_identical_records(data):
    runs = []
    for _ in range(2):
        model = seeded_mlp()
        opt = sgd(model)
        runs.append(train(model, opt, StepLR(opt, 20, 0.5), data=data, steps=60, progress=False))
    a, b = runs
    assert np.array_equal(a.loss, b.loss) and np.array_equal(a.lr, b.lr)
    assert np.array_equal(a.test_accuracy, b.test_accuracy)
    # a different training seed changes the batch order, hence the losses
    model = seeded_mlp()
    c = train(model, sgd(model), data=data, steps=60, seed=1, progress=False)
    assert not np.array_equal(a.loss, c.loss)


def test_history_shapes_and_eval_schedule(data):
    model = seeded_mlp()
    h = train(model, sgd(model), data=data, steps=60, eval_every=25, progress=False)
    assert isinstance(h, History)
    assert h.steps_done == 60 and h.lr.shape == (60, 1) and h.loss.shape == (60,)
    assert h.eval_steps.tolist() == [25, 50, 60]  # every 25 steps and at the end
    assert h.test_accuracy.shape == h.test_loss.shape == (3,)
    assert not h.diverged and np.all(np.isfinite(h.loss))
    assert h.steps_per_epoch == len(data.y_train) // 64


def test_recorded_lr_matches_lambda_lr_formula(data):
    model = seeded_mlp()
    opt = torch.optim.SGD(
        [{"params": model.backbone_parameters(), "lr": 0.1}, {"params": model.head_parameters(), "lr": 0.02}],
        momentum=0.9,
    )
    h = train(model, opt, LambdaLR(opt, lambda t: 1.0 / (1.0 + 0.05 * t)), data=data, steps=40, progress=False)
    t = np.arange(40)  # step k (1-based) uses the lr after k-1 scheduler steps
    expected = np.stack([0.1 / (1.0 + 0.05 * t), 0.02 / (1.0 + 0.05 * t)], axis=1)
    np.testing.assert_allclose(h.lr, expected, rtol=1e-12)


def test_recorded_lr_matches_step_lr_formula(data):
    model = seeded_mlp()
    opt = sgd(model)
    h = train(model, opt, StepLR(opt, step_size=15, gamma=0.3), data=data, steps=50, progress=False)
    np.testing.assert_allclose(h.lr[:, 0], 0.1 * 0.3 ** (np.arange(50) // 15), rtol=1e-12)


def test_constant_lr_without_scheduler(data):
    model = seeded_mlp()
    h = train(model, sgd(model, lr=0.05), data=data, steps=10, progress=False)
    assert np.all(h.lr == 0.05)


def test_mlp_learns_well_above_chance(data):
    model = seeded_mlp()
    h = train(model, sgd(model), data=data, steps=300, progress=False)
    assert h.final_test_accuracy > 0.85
    assert h.final_loss < 0.5 * h.loss[:10].mean()


def test_huge_lr_diverges_without_raising(data):
    model = seeded_mlp()
    h = train(model, sgd(model, lr=1e6), data=data, steps=100, progress=False)
    assert h.diverged
    assert h.steps_done < 100
    assert len(h.lr) == len(h.loss) == h.steps_done
    assert h.loss[-1] > 1e3 and np.all(h.loss[:-1] <= 1e3)  # stopped at the first blow-up
    assert h.final_loss > 1e3
    assert h.eval_steps[-1] == h.steps_done  # evaluated where it stopped


def test_non_finite_loss_diverges(data):
    model = seeded_mlp()
    h = train(model, sgd(model, lr=1e20), data=data, steps=100, max_loss=math.inf, progress=False)
    assert h.diverged and h.steps_done < 100
    assert not np.isfinite(h.loss[-1]) and np.all(np.isfinite(h.loss[:-1]))
    assert not math.isfinite(h.final_loss)


def test_max_loss_inf_keeps_training_through_a_finite_blow_up(data):
    # lr=1e6 blows the loss up to ~1e21, then all ReLUs die and it stays finite
    model = seeded_mlp()
    h = train(model, sgd(model, lr=1e6), data=data, steps=30, max_loss=math.inf, progress=False)
    assert not h.diverged and h.steps_done == 30 and h.loss.max() > 1e3


class TwiceClosureSGD(torch.optim.Optimizer):
    """A SAM-like test optimizer: evaluates the closure twice per step."""

    def __init__(self, params, lr: float = 0.1, rho: float = 0.05):
        super().__init__(params, {"lr": lr, "rho": rho})
        self.closure_calls = 0

    @torch.no_grad()
    def step(self, closure):
        def counted():
            self.closure_calls += 1
            with torch.enable_grad():
                return closure()

        first = counted()
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        norm = torch.sqrt(sum((p.grad**2).sum() for p in params))
        eps = [self.defaults["rho"] * p.grad / (norm + 1e-12) for p in params]
        for p, e in zip(params, eps):
            p.add_(e)  # climb to the perturbed point ...
        counted()  # ... and take the gradient there
        lr_of = {p: g["lr"] for g in self.param_groups for p in g["params"]}
        for p, e in zip(params, eps):
            p.sub_(e)
            p.add_(p.grad, alpha=-lr_of[p])
        return first


def test_optimizer_calling_closure_twice(data):
    model = seeded_mlp()
    opt = TwiceClosureSGD(model.parameters(), lr=0.2)
    h = train(model, opt, data=data, steps=100, progress=False)
    assert opt.closure_calls == 200
    assert not h.diverged
    assert h.final_loss < 0.5 * h.loss[:10].mean()


def test_recorded_loss_is_the_first_closure_evaluation(data):
    class Recorder(torch.optim.SGD):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.returned: list[float] = []

        def step(self, closure):
            loss = super().step(closure)
            self.returned.append(loss.item())
            return loss

    model = seeded_mlp()
    opt = Recorder(model.parameters(), lr=0.1)
    h = train(model, opt, data=data, steps=5, progress=False)
    np.testing.assert_array_equal(h.loss, opt.returned)


def test_callbacks_called_every_step(data):
    calls = []

    def cb(step, model, history):
        calls.append((step, history.steps_done, model.training))

    model = seeded_mlp()
    train(model, sgd(model), data=data, steps=30, eval_every=7, callbacks=[cb], progress=False)
    assert [c[0] for c in calls] == list(range(1, 31))
    assert all(step == done and training for step, done, training in calls)


def test_callback_history_is_read_only(data):
    def cb(step, model, history):
        with pytest.raises(ValueError):
            history.loss[0] = 0.0

    model = seeded_mlp()
    train(model, sgd(model), data=data, steps=2, callbacks=[cb], progress=False)


def test_multiple_schedulers_all_stepped_in_order(data):
    order = []

    class Momentum:
        def __init__(self, opt):
            self.opt = opt

        def step(self):
            order.append("momentum")
            for g in self.opt.param_groups:
                g["momentum"] = 0.5

    model = seeded_mlp()
    opt = sgd(model)
    lr_sched = StepLR(opt, step_size=5, gamma=0.5)
    original_step = lr_sched.step

    def lr_step(*args, **kwargs):
        order.append("lr")
        return original_step(*args, **kwargs)

    lr_sched.step = lr_step
    h = train(model, opt, [lr_sched, Momentum(opt)], data=data, steps=12, progress=False)
    assert order == ["lr", "momentum"] * 12
    assert opt.param_groups[0]["momentum"] == 0.5
    np.testing.assert_allclose(h.lr[:, 0], 0.1 * 0.5 ** (np.arange(12) // 5), rtol=1e-12)


def test_rejects_scheduler_without_step(data):
    model = seeded_mlp()
    with pytest.raises(TypeError, match="step"):
        train(model, sgd(model), [object()], data=data, steps=2, progress=False)


def test_thread_count_is_restored(data):
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        seen = []
        model = seeded_mlp()
        train(model, sgd(model), data=data, steps=3, num_threads=1, progress=False,
              callbacks=[lambda *a: seen.append(torch.get_num_threads())])
        assert seen == [1, 1, 1]
        assert torch.get_num_threads() == 2

        def boom(*args):
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            train(model, sgd(model), data=data, steps=3, callbacks=[boom], progress=False)
        assert torch.get_num_threads() == 2  # restored after an exception too
    finally:
        torch.set_num_threads(previous)


def test_full_batch_when_batch_size_exceeds_data(data):
    model = seeded_mlp()
    h = train(model, sgd(model), data=data, steps=3, batch_size=10_000, progress=False)
    assert h.steps_per_epoch == 1


def test_history_final_loss_and_frame(data):
    model = seeded_mlp()
    opt = torch.optim.SGD(
        [{"params": model.backbone_parameters(), "lr": 0.1}, {"params": model.head_parameters(), "lr": 0.01}]
    )
    h = train(model, opt, data=data, steps=45, eval_every=20, progress=False)
    assert h.final_loss == pytest.approx(h.loss[-5:].mean())  # last 10% of 45 steps, rounded up
    frame = h.to_frame()
    assert list(frame.columns) == ["lr_0", "lr_1", "loss", "test_accuracy", "test_loss", "val_accuracy", "val_loss"]
    assert frame.index.tolist() == list(range(1, 46))
    assert frame["test_accuracy"].dropna().index.tolist() == [20, 40, 45]
    assert frame.loc[45, "test_accuracy"] == h.final_test_accuracy


def test_history_plot_overlays(data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = seeded_mlp()
    h = train(model, sgd(model), data=data, steps=20, progress=False)
    axes = h.plot(label="a")
    axes = h.plot(axes, label="b", log_lr=True, smooth=5)
    assert len(axes[0].lines) == 2 and len(axes[1].lines) == 2
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["a", "b"]
    plt.close("all")


# ------------------------------------------------------------------ compare


def test_compare_runs_and_summary(data):
    schedules = {
        "z_constant": lambda opt: None,  # names not in sorted order: insertion order must survive
        "a_step": lambda opt: StepLR(opt, step_size=20, gamma=0.1),
        "b_two": lambda opt: [StepLR(opt, step_size=10, gamma=0.5)],
    }
    result = compare(schedules, seeds=(0, 5), steps=40, data=data, progress=False)
    assert isinstance(result, Comparison)
    runs = result.runs
    assert len(runs) == 6
    assert set(zip(runs["schedule"], runs["seed"])) == {(s, seed) for s in schedules for seed in (0, 5)}
    assert list(result.histories) == list(schedules)
    assert all(len(hs) == 2 for hs in result.histories.values())

    summary = result.summary()
    assert list(summary.index) == list(schedules)
    expected = runs.groupby("schedule").agg(
        acc_mean=("final_test_accuracy", "mean"),
        acc_std=("final_test_accuracy", "std"),
        loss_mean=("final_loss", "mean"),
        loss_std=("final_loss", "std"),
        n=("seed", "size"),
    )
    for name in schedules:
        row = summary.loc[name]
        assert row["test_accuracy_mean"] == pytest.approx(expected.loc[name, "acc_mean"])
        assert row["test_accuracy_std"] == pytest.approx(expected.loc[name, "acc_std"])
        assert row["final_loss_mean"] == pytest.approx(expected.loc[name, "loss_mean"])
        assert row["final_loss_std"] == pytest.approx(expected.loc[name, "loss_std"])
        assert row["n_seeds"] == expected.loc[name, "n"] == 2
        assert row["n_diverged"] == 0

    table = result.table(precision=2)
    assert list(table.index) == list(schedules)
    m, low, high = summary.loc["a_step", ["test_accuracy_mean", "test_accuracy_low", "test_accuracy_high"]]
    assert table.loc["a_step", "test accuracy"] == f"{m:.2f} [{low:.2f}, {high:.2f}]"
    assert table.loc["a_step", "diverged"] == "0/2" == table.loc["a_step", "failed"]
    m, s = summary.loc["a_step", ["final_loss_mean", "final_loss_std"]]
    assert table.loc["a_step", "final loss"] == f"{m:.2f} ± {s:.2f}"


def test_compare_matches_a_manual_run(data):
    result = compare({"step": lambda opt: StepLR(opt, 10, 0.5)}, seeds=(1, 2), steps=30, data=data, progress=False)
    torch.manual_seed(2)
    model = TinyMLP()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    h = train(model, opt, StepLR(opt, 10, 0.5), data=data, steps=30, seed=2, progress=False)
    np.testing.assert_array_equal(result.histories["step"][1].loss, h.loss)
    assert result.runs.iloc[1]["final_test_accuracy"] == h.final_test_accuracy


def test_compare_counts_diverged_runs_and_plots(data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = compare(
        {"fine": lambda opt: None, "huge": lambda opt: LambdaLR(opt, lambda t: 1e7)},
        optimizer_fn=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
        seeds=(0, 1),
        steps=30,
        data=data,
        progress=False,
    )
    summary = result.summary()
    assert summary.loc["huge", "n_diverged"] == 2 and summary.loc["fine", "n_diverged"] == 0
    assert summary.loc["huge", "final_loss_mean"] > 1e3
    assert summary.loc["fine", "final_loss_mean"] < 2.5
    assert result.runs["diverged"].tolist() == [False, False, True, True]
    axes = result.plot()
    assert len(axes[0].lines) == len(axes[1].lines) == 2
    plt.close("all")


def test_compare_with_cnn_and_custom_optimizer(data):
    result = compare(
        {"const": lambda opt: None},
        model_fn=lambda: TinyCNN((4, 8)),
        optimizer_fn=lambda m: torch.optim.Adam(m.parameters(), lr=1e-2),
        seeds=(0,),
        steps=10,
        data=data,
        progress=False,
        batch_size=32,
    )
    assert result.histories["const"][0].steps_per_epoch == len(data.y_train) // 32
    assert np.all(result.histories["const"][0].lr == 1e-2)
    assert result.table().loc["const", "diverged"] == "0/1"


def test_compare_rejects_arguments_it_sets(data):
    with pytest.raises(TypeError, match="seed"):
        compare({"c": lambda opt: None}, seeds=(0,), steps=2, data=data, progress=False, seed=3)
    with pytest.raises(ValueError):
        compare({}, steps=2, data=data, progress=False)


def test_optimizer_ignoring_the_closure_is_an_error(data):
    class NoClosure(torch.optim.SGD):
        def step(self, closure=None):
            return None

    model = seeded_mlp()
    with pytest.raises(RuntimeError, match="closure"):
        train(model, NoClosure(model.parameters(), lr=0.1), data=data, steps=2, progress=False)


def test_reduce_on_plateau_gets_the_training_loss(data):
    model = seeded_mlp()
    opt = sgd(model)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    h = train(model, opt, plateau, data=data, steps=20, progress=False)
    # patience 0: the lr halves after every step whose loss is not a new best
    best, lr, expected = math.inf, 0.1, []
    for loss in h.loss:
        expected.append(lr)
        if loss < best * (1 - 1e-4):  # torch's default rel threshold
            best = loss
        else:
            lr *= 0.5
    np.testing.assert_allclose(h.lr[:, 0], expected, rtol=1e-12)
    assert h.lr[-1, 0] < 0.1


def test_progress_bar_does_not_change_the_run(data, capsys):
    runs = []
    for progress in (False, True):
        model = seeded_mlp()
        runs.append(train(model, sgd(model), data=data, steps=20, progress=progress))
    assert np.array_equal(runs[0].loss, runs[1].loss)


def test_lrs_used_matches_step_formula_and_leaves_weights_alone():
    from lrsched.lab import lrs_used

    weight = torch.ones(3, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [weight], "lr": 0.8}, {"params": [bias], "lr": 0.2}], lr=0.8)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
    used = lrs_used(opt, sched, 10)
    expected = np.array([[base * 0.1 ** (t // 3) for base in (0.8, 0.2)] for t in range(10)])
    np.testing.assert_allclose(used, expected, rtol=1e-12)
    assert used.shape == (10, 2)
    assert torch.equal(weight.detach(), torch.ones(3))  # no gradients: nothing moved
    with pytest.raises(ValueError, match="steps"):
        lrs_used(opt, sched, 0)


# ------------------------------------------- protocol (issue 14) and robustness (issue 17)


def image_keys(x: torch.Tensor) -> set[bytes]:
    # The 1,797 digits images are pairwise distinct, so bytes identify them.
    return {img.numpy().tobytes() for img in x}


def test_train_val_test_are_disjoint_and_validation_is_stratified(data):
    train_keys, val_keys, test_keys = (image_keys(x) for x in (data.x_train, data.x_val, data.x_test))
    assert len(train_keys) == len(data.x_train) and len(val_keys) == len(data.x_val)
    assert not train_keys & val_keys
    assert not train_keys & test_keys
    assert not val_keys & test_keys
    # 20% of each class's non-test part, up to rounding
    totals = np.bincount(load_digits().target, minlength=10)
    test_counts = np.bincount(data.y_test.numpy(), minlength=10)
    val_counts = np.bincount(data.y_val.numpy(), minlength=10)
    assert np.all(np.abs(val_counts - 0.2 * (totals - test_counts)) <= 1)


def test_validation_is_carved_from_the_training_part():
    two_way = load_digits_split(val_fraction=0.0)
    three_way = load_digits_split()
    assert len(two_way.y_val) == 0 and len(two_way.y_train) == 1347
    # Same test set; the validation images come out of the old training set.
    assert torch.equal(two_way.x_test, three_way.x_test)
    assert image_keys(three_way.x_val) | image_keys(three_way.x_train) == image_keys(two_way.x_train)


@pytest.mark.parametrize("val_fraction", [-0.1, 1.0, 1.5, True, "0.2"])
def test_val_fraction_is_validated(val_fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        load_digits_split(val_fraction=val_fraction)


@pytest.mark.parametrize("seed", [None, 1.5, 1.0, True, "0"])
def test_split_seed_must_be_an_int(seed):
    with pytest.raises(TypeError, match="seed"):
        load_digits_split(seed=seed)


def test_split_seed_must_be_non_negative(monkeypatch):
    with pytest.raises(ValueError, match="seed"):
        load_digits_split(seed=-1)
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "-5")
    with pytest.raises(ValueError, match="LRSCHED_SEED_OFFSET"):
        load_digits_split(seed=3)
    assert len(load_digits_split(seed=5).y_test) == 450  # 5 - 5 = 0 is fine


def test_seed_offset_shifts_the_split(monkeypatch):
    monkeypatch.delenv("LRSCHED_SEED_OFFSET", raising=False)
    base = load_digits_split(seed=0)
    seed_1000 = load_digits_split(seed=1000)
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "1000")
    shifted = load_digits_split(seed=0)
    assert not torch.equal(shifted.x_test, base.x_test)
    assert torch.equal(shifted.x_test, seed_1000.x_test)
    assert torch.equal(shifted.x_val, seed_1000.x_val)
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "x")
    with pytest.raises(ValueError, match="LRSCHED_SEED_OFFSET"):
        load_digits_split()


def test_seed_offset_shifts_batch_order_in_train(monkeypatch, data):
    def run(seed):
        model = seeded_mlp(0)
        return train(model, sgd(model), data=data, steps=20, seed=seed, progress=False).loss

    monkeypatch.delenv("LRSCHED_SEED_OFFSET", raising=False)
    plain, seed_7 = run(0), run(7)
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "7")
    shifted = run(0)
    assert not np.array_equal(shifted, plain)
    np.testing.assert_array_equal(shifted, seed_7)


def test_seed_offset_shifts_initialisation_in_compare(monkeypatch, data):
    def first_loss(seed):
        result = compare({"c": lambda opt: None}, seeds=(seed,), steps=1, data=data, progress=False)
        return result.histories["c"][0].loss[0]

    monkeypatch.delenv("LRSCHED_SEED_OFFSET", raising=False)
    plain, seed_3 = first_loss(0), first_loss(3)
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "3")
    assert first_loss(0) == seed_3 != plain


def test_manual_seed_adds_the_offset(monkeypatch):
    from lrsched.lab import manual_seed

    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "11")
    assert manual_seed(1) == 12
    w_shifted = next(TinyMLP().parameters()).detach().clone()
    torch.manual_seed(12)
    np.testing.assert_array_equal(w_shifted, next(TinyMLP().parameters()).detach())
    with pytest.raises(TypeError, match="seed"):
        manual_seed(None)


@pytest.mark.parametrize("seed", [None, 0.5, "1"])
def test_train_seed_is_validated(seed, data):
    model = seeded_mlp()
    with pytest.raises(TypeError, match="seed"):
        train(model, sgd(model), data=data, steps=2, seed=seed, progress=False)


def test_history_records_validation_and_full_train_loss(data):
    import torch.nn.functional as F

    model = seeded_mlp(0)
    h = train(model, sgd(model), data=data, steps=60, eval_every=30, progress=False)
    assert h.val_accuracy.shape == h.test_accuracy.shape == (2,)
    model.eval()
    with torch.no_grad():
        full_loss = F.cross_entropy(model(data.x_train), data.y_train).item()
        val_acc = (model(data.x_val).argmax(1) == data.y_val).double().mean().item()
    assert h.final_train_loss == pytest.approx(full_loss, rel=1e-6)
    assert h.final_val_accuracy == pytest.approx(val_acc)
    # The minibatch window average is a different quantity.
    assert h.final_loss != pytest.approx(h.final_train_loss, rel=1e-3)
    assert not h.failed and h.n_classes == 10


def test_failed_runs(data):
    # lr = 0: the weights never move, accuracy stays near chance (0.1 < 0.2)
    model = seeded_mlp(0)
    stuck = train(model, torch.optim.SGD(model.parameters(), lr=0.0), data=data, steps=5, progress=False)
    assert math.isfinite(stuck.final_train_loss) and not stuck.diverged
    assert stuck.final_test_accuracy < 0.2 and stuck.failed
    # a huge lr diverges: failed too
    model = seeded_mlp(0)
    blown = train(model, sgd(model, lr=1e4), data=data, steps=50, progress=False)
    assert blown.diverged and blown.failed
    # a normal run is not failed
    model = seeded_mlp(0)
    assert not train(model, sgd(model), data=data, steps=100, progress=False).failed


def test_failure_threshold_is_twice_chance_capped_for_few_classes():
    h = History(lr=np.ones((1, 1)), loss=np.ones(1), eval_steps=np.array([1]),
                test_accuracy=np.array([0.7]), test_loss=np.ones(1), final_train_loss=0.5, n_classes=10)
    assert h.failure_threshold == pytest.approx(0.2) and not h.failed
    h.n_classes = 5
    assert h.failure_threshold == pytest.approx(0.4)
    h.n_classes = 2  # 2 x chance would be 1.0: capped at (1 + 1/2) / 2
    assert h.failure_threshold == pytest.approx(0.75) and h.failed
    h.n_classes, h.test_accuracy = 10, np.array([0.19])
    assert h.failed
    h.test_accuracy, h.final_train_loss = np.array([0.9]), math.nan
    assert h.failed


def test_exception_mid_run_keeps_the_history(data):
    class Boom(RuntimeError):
        pass

    def explode(step, model, history):
        if step == 7:
            raise Boom("scheduler refused a NaN lr")

    model = seeded_mlp()
    threads = torch.get_num_threads()
    with pytest.raises(Boom) as err:
        train(model, sgd(model), data=data, steps=50, eval_every=5, callbacks=[explode], progress=False)
    history = err.value.history
    assert isinstance(history, History)
    assert history.steps_done == 7 and np.all(np.isfinite(history.loss))
    assert history.eval_steps.tolist() == [5]
    assert math.isnan(history.final_train_loss)
    assert torch.get_num_threads() == threads  # restored


def test_scheduler_raising_keeps_the_history(data):
    class Refuses:
        def __init__(self):
            self.calls = 0

        def step(self):
            self.calls += 1
            if self.calls == 3:
                raise ValueError("lr is nan at step 3")

    model = seeded_mlp()
    with pytest.raises(ValueError, match="nan at step 3") as err:
        train(model, sgd(model), Refuses(), data=data, steps=10, progress=False)
    assert err.value.history.steps_done == 3


def test_num_threads_above_the_cores_is_clamped(data):
    import os

    seen = []
    model = seeded_mlp()
    before = torch.get_num_threads()
    h = train(model, sgd(model), data=data, steps=3, num_threads=10**6, progress=False,
              callbacks=[lambda step, m, hist: seen.append(torch.get_num_threads())])
    assert h.steps_done == 3
    assert max(seen) <= (os.cpu_count() or 1)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="num_threads"):
        train(model, sgd(model), data=data, steps=3, num_threads=0, progress=False)


def test_empty_training_set_is_a_clear_error(data):
    empty = DigitsSplit(x_train=data.x_train[:0], y_train=data.y_train[:0],
                        x_test=data.x_test, y_test=data.y_test)
    model = seeded_mlp()
    with pytest.raises(ValueError, match="empty training set"):
        train(model, sgd(model), data=empty, steps=3, progress=False)


def test_split_built_without_validation_still_trains(data):
    two_way = DigitsSplit(x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
    assert len(two_way.x_val) == 0
    model = seeded_mlp()
    h = train(model, sgd(model), data=two_way, steps=5, progress=False)
    assert math.isnan(h.final_val_accuracy) and len(h.val_accuracy) == 0
    with pytest.raises(ValueError, match="x_val"):
        DigitsSplit(x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                    y_test=data.y_test, x_val=data.x_val)


# ------------------------------------------------ compare: intervals, pairing, failures


@pytest.fixture(scope="module")
def mixed(data) -> Comparison:
    """Three schedules x 4 seeds; 'huge' diverges on every seed."""
    return compare(
        {
            "constant": lambda opt: None,
            "step": lambda opt: StepLR(opt, step_size=20, gamma=0.3),
            "huge": lambda opt: LambdaLR(opt, lambda t: 1e6),
        },
        seeds=(0, 1, 2, 3),
        steps=60,
        data=data,
        baseline="constant",
        progress=False,
    )


def test_summary_intervals_match_scipy_and_exclude_failed_runs(mixed):
    from scipy import stats as sps

    summary = mixed.summary()
    runs = mixed.runs
    for name in ("constant", "step"):
        ok = runs[(runs["schedule"] == name) & ~runs["failed"]]
        assert len(ok) == 4
        for metric, column in [("test_accuracy", "final_test_accuracy"), ("val_accuracy", "final_val_accuracy"),
                               ("final_train_loss", "final_train_loss")]:
            values = ok[column].to_numpy()
            low, high = sps.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=sps.sem(values))
            assert summary.loc[name, f"{metric}_mean"] == pytest.approx(values.mean())
            assert summary.loc[name, f"{metric}_low"] == pytest.approx(low)
            assert summary.loc[name, f"{metric}_high"] == pytest.approx(high)
    row = summary.loc["huge"]
    assert row["n"] == 4 and row["n_failed"] == 4 and row["n_diverged"] == 4
    # failed runs are kept out of the means: nothing left
    assert math.isnan(row["test_accuracy_mean"]) and math.isnan(row["final_train_loss_mean"])
    # the legacy column still averages every run (huge losses included)
    assert row["final_loss_mean"] > 1e3


def test_failed_runs_are_left_out_of_means_but_counted(data):
    # Seed-dependent failure: lr 0 on seed 1 only leaves it at chance accuracy.
    class ZeroOnSeed:
        def __init__(self):
            self.calls = 0

        def __call__(self, opt):
            self.calls += 1
            if self.calls == 2:  # the second seed
                return LambdaLR(opt, lambda t: 0.0)
            return None

    result = compare({"sometimes": ZeroOnSeed()}, seeds=(0, 1, 2), steps=40, data=data, progress=False)
    runs = result.runs
    assert runs["failed"].tolist() == [False, True, False]
    summary = result.summary()
    assert summary.loc["sometimes", "n_failed"] == 1 and summary.loc["sometimes", "n"] == 3
    good = runs.loc[~runs["failed"], "final_test_accuracy"]
    assert summary.loc["sometimes", "test_accuracy_mean"] == pytest.approx(good.mean())
    assert summary.loc["sometimes", "test_accuracy_mean"] > runs["final_test_accuracy"].mean()
    assert result.table().loc["sometimes", "failed"] == "1/3"


def test_paired_differences_match_a_paired_t_interval(mixed):
    from scipy import stats as sps

    paired = mixed.paired("test_accuracy")
    assert list(paired.index) == ["step", "huge"]
    runs = mixed.runs.set_index(["schedule", "seed"])
    diff = np.array([runs.loc[("step", s), "final_test_accuracy"] - runs.loc[("constant", s), "final_test_accuracy"]
                     for s in (0, 1, 2, 3)])
    low, high = sps.t.interval(0.95, 3, loc=diff.mean(), scale=sps.sem(diff))
    row = paired.loc["step"]
    assert row["n_pairs"] == 4 and row["n_dropped"] == 0
    assert row["mean"] == pytest.approx(diff.mean())
    assert (row["low"], row["high"]) == pytest.approx((low, high))
    assert row["excludes_zero"] == (low > 0 or high < 0)
    assert row["interval"].excludes_zero() == row["excludes_zero"]
    # every 'huge' run failed: no pair to compare
    assert paired.loc["huge", "n_pairs"] == 0 and paired.loc["huge", "n_dropped"] == 4
    assert not paired.loc["huge", "excludes_zero"]
    # the other way round, and another metric
    reverse = mixed.paired("final_train_loss", baseline="step")
    loss = mixed.difference("constant", "final_train_loss", baseline="step")
    assert reverse.loc["constant", "mean"] == pytest.approx(loss.mean)
    assert "Δ test accuracy vs constant" in mixed.table().columns
    assert mixed.table().loc["constant", "Δ test accuracy vs constant"] == "baseline"


def test_paired_needs_a_known_baseline(data, mixed):
    result = compare({"a": lambda opt: None}, seeds=(0,), steps=2, data=data, progress=False)
    with pytest.raises(ValueError, match="baseline"):
        result.paired()
    with pytest.raises(ValueError, match="baseline"):
        mixed.paired(baseline="nope")
    with pytest.raises(ValueError, match="baseline"):
        compare({"a": lambda opt: None}, seeds=(0,), steps=2, data=data, progress=False, baseline="b")
    with pytest.raises(ValueError, match="metric"):
        mixed.paired("accuracy")


@pytest.mark.parametrize("seeds, error", [((None,), TypeError), ((0, 0), ValueError),
                                          ((1.5,), TypeError), ((-1,), ValueError)])
def test_compare_validates_seeds(data, seeds, error):
    with pytest.raises(error, match="seed"):
        compare({"a": lambda opt: None}, seeds=seeds, steps=2, data=data, progress=False)


def test_a_run_that_raises_keeps_the_completed_runs(data):
    class Refuses:
        def __init__(self, fail):
            self.fail, self.t = fail, 0

        def step(self):
            self.t += 1
            if self.fail and self.t == 5:
                raise ValueError("lr refused at step 5")

    class FailsOnSeed1:  # the factory is called once per seed, in order
        def __init__(self):
            self.calls = 0

        def __call__(self, opt):
            self.calls += 1
            return Refuses(fail=self.calls == 2)

    with pytest.warns(RuntimeWarning, match="raised ValueError"):
        result = compare({"ok": lambda opt: None, "flaky": FailsOnSeed1()}, seeds=(0, 1, 2), steps=20,
                         data=data, progress=False, baseline="ok")
    runs = result.runs.set_index(["schedule", "seed"])
    assert runs.loc[("flaky", 1), "failed"] and "lr refused" in runs.loc[("flaky", 1), "error"]
    assert runs.loc[("flaky", 1), "steps_done"] == 5  # the partial history is kept
    assert result.histories["flaky"][1].steps_done == 5
    assert not runs.loc[("flaky", 0), "failed"] and not runs.loc[("flaky", 2), "failed"]
    assert pd.isna(runs.loc[("flaky", 0), "error"])
    assert set(result.errors) == {("flaky", 1)}
    assert result.summary().loc["flaky", "n_failed"] == 1
    assert result.paired().loc["flaky", "n_pairs"] == 2


def test_on_error_raise_attaches_the_completed_runs(data):
    def broken(opt):
        raise KeyError("no such schedule")

    with pytest.raises(KeyError) as err:
        compare({"ok": lambda opt: None, "broken": broken}, seeds=(0, 1), steps=5, data=data,
                progress=False, on_error="raise")
    partial = err.value.comparison
    assert len(partial.runs) == 3 and partial.runs["error"].notna().sum() == 1
    assert [h.steps_done for h in partial.histories["ok"]] == [5, 5]
    # every run raising is a bug, not a result: re-raised even when recording
    with pytest.raises(KeyError), pytest.warns(RuntimeWarning):
        compare({"broken": broken}, seeds=(0, 1), steps=5, data=data, progress=False)
    with pytest.raises(ValueError, match="on_error"):
        compare({"ok": lambda opt: None}, seeds=(0,), steps=5, data=data, progress=False, on_error="skip")


def test_best_chooses_on_validation_and_tune_never_uses_test(data, mixed):
    from lrsched.lab import tune

    name, score = mixed.best("val_accuracy")
    means = mixed.summary()["val_accuracy_mean"]
    assert name == means.loc[["constant", "step"]].idxmax()  # 'huge' failed everywhere
    assert score.mean == pytest.approx(means.loc[name]) and score.n == 4
    loss_name, _ = mixed.best("final_train_loss")
    assert loss_name == mixed.summary()["final_train_loss_mean"].loc[["constant", "step"]].idxmin()

    # A tiny, a good and an exploding peak: the good one wins on validation.
    peaks = {p: (lambda opt, p=p: LambdaLR(opt, lambda t: p / 0.1)) for p in (0.001, 0.1, 1e5)}
    picked = tune(peaks, seeds=(0, 1), steps=60, data=data, progress=False)
    summary = picked.comparison.summary()
    assert picked.choice == 0.1 and picked.metric == "final_val_accuracy"
    assert picked.score.mean == pytest.approx(summary.loc["0.1", "val_accuracy_mean"])
    with pytest.raises(ValueError, match="validation"):
        tune(peaks, metric="test_accuracy", seeds=(0,), steps=5, data=data, progress=False)


def test_tune_ranks_failed_candidates_last(data):
    from lrsched.lab import tune

    # lr 0 fails (chance accuracy) on every seed; it must not win even though
    # its validation accuracy is a finite number.
    picked = tune({"zero": lambda opt: LambdaLR(opt, lambda t: 0.0), "ok": lambda opt: None},
                  seeds=(0, 1), steps=30, data=data, progress=False)
    assert picked.choice == "ok"


def test_sharpness_directions_follow_the_seed_offset(monkeypatch, data):
    from lrsched.lab import sharpness

    model = seeded_mlp(0)
    monkeypatch.delenv("LRSCHED_SEED_OFFSET", raising=False)
    plain = sharpness(model, data, radius=0.05, n_samples=2, seed=0)
    seed_9 = sharpness(model, data, radius=0.05, n_samples=2, seed=9)
    monkeypatch.setenv("LRSCHED_SEED_OFFSET", "9")
    assert sharpness(model, data, radius=0.05, n_samples=2, seed=0) == seed_9 != plain
    with pytest.raises(TypeError, match="seed"):
        sharpness(model, data, radius=0.05, n_samples=2, seed=None)


def test_best_judges_failure_on_validation_not_test(data):
    # Garbage test labels make every run 'failed' by the test rule; the choice
    # must not change, because tuning never looks at the test set.
    scrambled = DigitsSplit(x_train=data.x_train, y_train=data.y_train, x_val=data.x_val, y_val=data.y_val,
                            x_test=data.x_test, y_test=(data.y_test + 1) % 10)
    candidates = {"slow": lambda opt: LambdaLR(opt, lambda t: 0.05), "fast": lambda opt: None}
    honest = compare(candidates, seeds=(0, 1), steps=60, data=data, progress=False)
    blind = compare(candidates, seeds=(0, 1), steps=60, data=scrambled, progress=False)
    assert blind.runs["failed"].all()  # by the test rule
    assert blind.best("val_accuracy")[0] == honest.best("val_accuracy")[0]
    assert blind.best("val_accuracy")[1].mean == honest.best("val_accuracy")[1].mean
