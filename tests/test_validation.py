"""Every bad argument raises ValueError/TypeError at construction, naming the argument and its value."""

from __future__ import annotations

import math

import pytest
import torch

import lrsched
from lrsched import (
    ChebyshevSteps,
    Constant,
    CosineAnnealingWarmupRestarts,
    CosineDecay,
    CosineRestarts,
    CosineScheduler,
    LinearDecay,
    LinearRamp,
    LinearScheduler,
    PolyDecay,
    PolyScheduler,
    RexDecay,
    REXScheduler,
    ScheduledLR,
    get_chebyshev_lr,
    get_chebyshev_permutation,
    get_chebyshev_schedule,
    get_chebyshev_steps,
    warmup_cosine,
    warmup_linear,
    warmup_poly,
    with_warmup,
)


def optimizer():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)


WARMUP_SCHEDULERS = {
    "LinearScheduler": LinearScheduler,
    "CosineScheduler": CosineScheduler,
    "PolyScheduler": PolyScheduler,
}
WARMUP_FORMS = {"warmup_linear": warmup_linear, "warmup_cosine": warmup_cosine, "warmup_poly": warmup_poly}
DECAYS = {"LinearDecay": LinearDecay, "CosineDecay": CosineDecay, "PolyDecay": PolyDecay}
NAN, INF = float("nan"), float("inf")

CASES = []  # (id, callable, error type, argument name, value)


def case(label, build, error, name, value):
    CASES.append(pytest.param(build, error, name, value, id=label))


# Linear / Cosine / Poly: the torch schedulers and their closed forms
for label, cls in WARMUP_SCHEDULERS.items():
    ok = {"t_max": 10, "max_lr": 0.1, "min_lr": 0.0, "init_lr": 0.0, "warmup_steps": 2}
    bad = [
        ("t_max", 0, ValueError),
        ("t_max", -5, ValueError),
        ("t_max", 10.5, TypeError),
        ("t_max", "10", TypeError),
        ("t_max", True, TypeError),
        ("warmup_steps", 10, ValueError),
        ("warmup_steps", 11, ValueError),
        ("warmup_steps", -1, ValueError),
        ("warmup_steps", 2.0, TypeError),
        ("max_lr", -0.1, ValueError),
        ("max_lr", NAN, ValueError),
        ("max_lr", INF, ValueError),
        ("max_lr", "0.1", TypeError),
        ("min_lr", -1e-5, ValueError),
        ("min_lr", 0.2, ValueError),
        ("min_lr", NAN, ValueError),
        ("init_lr", -1e-3, ValueError),
        ("init_lr", 0.5, ValueError),
        ("init_lr", NAN, ValueError),
    ]
    if cls is PolyScheduler:
        bad += [("poly_order", 0.0, ValueError), ("poly_order", -2.0, ValueError), ("poly_order", NAN, ValueError)]
    for name, value, error in bad:

        def build(cls=cls, name=name, value=value, ok=ok):
            return cls(optimizer(), **(ok | {name: value}))

        case(f"{label}-{name}={value!r}", build, error, name, value)

for label, form in WARMUP_FORMS.items():
    for name, value in [("t_max", 0), ("warmup_steps", 10), ("max_lr", -1.0), ("min_lr", 1.0), ("init_lr", 1.0)]:

        def build(form=form, name=name, value=value):
            return form(
                **({"t_max": 10, "max_lr": 0.1, "min_lr": 0.0, "init_lr": 0.0, "warmup_steps": 2} | {name: value})
            )

        case(f"{label}-{name}={value!r}", build, ValueError, name, value)

for label, cls in DECAYS.items():
    for name, value, error in [
        ("decay_steps", 0, ValueError),
        ("decay_steps", 1.5, TypeError),
        ("max_lr", -1.0, ValueError),
        ("min_lr", 2.0, ValueError),
        ("min_lr", -2.0, ValueError),
    ]:

        def build(cls=cls, name=name, value=value):
            return cls(**({"decay_steps": 10, "max_lr": 1.0, "min_lr": 0.0} | {name: value}))

        case(f"{label}-{name}={value!r}", build, error, name, value)
case("PolyDecay-power=0", lambda: PolyDecay(10, 1.0, power=0.0), ValueError, "power", 0.0)

# REX
for name, value, error in [
    ("total_steps", 0, ValueError),
    ("total_steps", -3, ValueError),
    ("total_steps", 3.0, TypeError),
    ("max_lr", -1.0, ValueError),
    ("min_lr", 2.0, ValueError),
    ("min_lr", -0.5, ValueError),
    ("max_lr", INF, ValueError),
]:
    case(
        f"REXScheduler-{name}={value!r}",
        lambda name=name, value=value: REXScheduler(optimizer(), **({"total_steps": 10} | {name: value})),
        error,
        name,
        value,
    )
for value in (1.0, -0.1, 1.5, NAN):
    case(f"RexDecay-beta={value!r}", lambda value=value: RexDecay(10, beta=value), ValueError, "beta", value)
    case(
        f"REXScheduler-beta={value!r}",
        lambda value=value: REXScheduler(optimizer(), 10, beta=value),
        ValueError,
        "beta",
        value,
    )

# restarts
RESTART_OK = {
    "first_cycle_steps": 10,
    "cycle_mult": 1.0,
    "max_lr": 0.1,
    "min_lr": 0.001,
    "warmup_steps": 2,
    "gamma": 0.9,
}
for name, value, error in [
    ("first_cycle_steps", 0, ValueError),
    ("first_cycle_steps", 2.5, TypeError),
    ("warmup_steps", 10, ValueError),
    ("warmup_steps", 12, ValueError),
    ("warmup_steps", -1, ValueError),
    ("cycle_mult", 0.0, ValueError),
    ("cycle_mult", -1.0, ValueError),
    ("cycle_mult", NAN, ValueError),
    ("gamma", 0.0, ValueError),
    ("gamma", -0.5, ValueError),
    ("gamma", 1.5, ValueError),
    ("gamma", 1.0000001, ValueError),
    ("max_lr", -0.1, ValueError),
    ("min_lr", 0.2, ValueError),
    ("min_lr", -1e-6, ValueError),
]:
    case(
        f"CosineAnnealingWarmupRestarts-{name}={value!r}",
        lambda name=name, value=value: CosineAnnealingWarmupRestarts(optimizer(), **(RESTART_OK | {name: value})),
        error,
        name,
        value,
    )
    case(
        f"CosineRestarts-{name}={value!r}",
        lambda name=name, value=value: CosineRestarts(**(RESTART_OK | {name: value})),
        error,
        name,
        value,
    )

# Chebyshev
for name, value, error in [
    ("num_epochs", 0, ValueError),
    ("num_epochs", -1, ValueError),
    ("num_epochs", 10.0, TypeError),
    ("m", 0.0, ValueError),
    ("m", -0.1, ValueError),
    ("m", 1.0, ValueError),
    ("m", 2.0, ValueError),
    ("M", 0.0, ValueError),
    ("m", NAN, ValueError),
    ("M", INF, ValueError),
]:
    case(
        f"get_chebyshev_schedule-{name}={value!r}",
        lambda name=name, value=value: get_chebyshev_schedule(optimizer(), **({"num_epochs": 10} | {name: value})),
        error,
        name,
        value,
    )
    case(
        f"get_chebyshev_lr-{name}={value!r}",
        lambda name=name, value=value: get_chebyshev_lr(**({"lr": 0.1, "epoch": 0, "num_epochs": 10} | {name: value})),
        error,
        name,
        value,
    )
for name, value in [("lr", -0.1), ("epoch", -1)]:
    case(
        f"get_chebyshev_lr-{name}={value!r}",
        lambda name=name, value=value: get_chebyshev_lr(**({"lr": 0.1, "epoch": 0, "num_epochs": 10} | {name: value})),
        ValueError,
        name,
        value,
    )
for name, value in [("num_epochs", 0), ("small_m", 1.0)]:  # pytorch-optimizer 4.1.0's keywords
    case(
        f"get_chebyshev_steps-{name}={value!r}",
        lambda name=name, value=value: get_chebyshev_steps(**({"num_epochs": 8} | {name: value})),
        ValueError,
        name,
        value,
    )
for name, value in [("T", 0), ("m", 1.0)]:
    case(
        f"ChebyshevSteps-{name}={value!r}",
        lambda name=name, value=value: ChebyshevSteps(**({"T": 8} | {name: value})),
        ValueError,
        name,
        value,
    )
case("get_chebyshev_permutation-num_epochs=0", lambda: get_chebyshev_permutation(0), ValueError, "num_epochs", 0)
case("ChebyshevSteps-lr=-1", lambda: ChebyshevSteps(8, lr=-1.0), ValueError, "lr", -1.0)

# composition and the adapter
case("Constant-value=-1", lambda: Constant(-1.0), ValueError, "value", -1.0)
case("Constant-value=nan", lambda: Constant(NAN), ValueError, "value", NAN)
case("LinearRamp-steps=0", lambda: LinearRamp(0.0, 1.0, 0), ValueError, "steps", 0)
case("LinearRamp-start=-1", lambda: LinearRamp(-1.0, 1.0, 3), ValueError, "start", -1.0)
case("with_warmup-warmup_steps=-1", lambda: with_warmup(Constant(1.0), -1), ValueError, "warmup_steps", -1)
case("with_warmup-init_lr=-1", lambda: with_warmup(Constant(1.0), 3, init_lr=-1.0), ValueError, "init_lr", -1.0)
case(
    "ScheduledLR-last_epoch=-2",
    lambda: ScheduledLR(optimizer(), Constant(1.0), last_epoch=-2),
    ValueError,
    "last_epoch",
    -2,
)
case(
    "LinearScheduler-last_epoch=1.5",
    lambda: LinearScheduler(optimizer(), 10, 0.1, last_epoch=1.5),
    ValueError,
    "last_epoch",
    1.5,
)


def value_text(value) -> list[str]:
    if isinstance(value, float) and math.isnan(value):
        return ["nan"]
    return [
        repr(value),
        str(value),
        f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value),
    ]


@pytest.mark.parametrize("build, error, name, value", CASES)
def test_bad_argument_raises_naming_it_and_its_value(build, error, name, value):
    with pytest.raises(error) as info:
        build()
    message = str(info.value)
    assert name in message
    assert any(text in message for text in value_text(value)), message


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: ScheduledLR("not an optimizer", Constant(1.0)), "optimizer"),  # type: ignore[arg-type]
        (lambda: ScheduledLR(optimizer(), lambda t: 1.0), "schedule"),  # type: ignore[arg-type]
        (lambda: LinearScheduler(None, 10, 0.1), "optimizer"),  # type: ignore[arg-type]
        (lambda: get_chebyshev_schedule("sgd", 10), "optimizer"),  # type: ignore[arg-type]
    ],
)
def test_wrong_objects_raise_type_error(build, name):
    with pytest.raises(TypeError, match=name):
        build()


def test_messages_state_the_required_relation():
    """The reference prints the violated relation ("10 < 10"); here the message says what is required."""
    with pytest.raises(ValueError, match=r"warmup_steps must be smaller than first_cycle_steps, got warmup_steps=10"):
        CosineAnnealingWarmupRestarts(optimizer(), first_cycle_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match=r"min_lr must be <= max_lr, got min_lr=0.2 > max_lr=0.1"):
        LinearScheduler(optimizer(), t_max=10, max_lr=0.1, min_lr=0.2)
    with pytest.raises(ValueError, match=r"gamma must lie in \(0, 1\], got 1.0000001"):
        CosineRestarts(10, gamma=1.0000001)
    with pytest.raises(ValueError, match=r"max_lr must lie in \[0, inf\), got -0.1"):
        CosineDecay(10, max_lr=-0.1)


def test_no_negative_or_nan_lr_can_be_configured():
    """Every lr-like argument is checked finite and >= 0, so no schedule can produce a NaN or negative lr."""
    builders = (
        lambda bad: lrsched.warmup_cosine(10, bad),
        lambda bad: lrsched.RexDecay(10, max_lr=0.1, min_lr=bad),
        lambda bad: lrsched.CosineRestarts(10, max_lr=bad),
        lambda bad: lrsched.ChebyshevSteps(10, lr=bad),
        lambda bad: lrsched.Constant(bad),
    )
    for bad in (-1e-12, NAN, INF, -INF):
        for build in builders:
            with pytest.raises(ValueError):
                build(bad)


# -- issue 17: values beyond a float -------------------------------------------------------------


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda v: LinearScheduler(optimizer(), t_max=v, max_lr=0.1), "t_max"),
        (lambda v: CosineScheduler(optimizer(), t_max=10, max_lr=0.1, warmup_steps=v), "warmup_steps"),
        (lambda v: LinearRamp(0.0, 1.0, v), "steps"),
        (lambda v: with_warmup(CosineDecay(10, 0.1), warmup_steps=v), "warmup_steps"),
        (lambda v: REXScheduler(optimizer(), total_steps=v, max_lr=0.1), "total_steps"),
        (lambda v: CosineDecay(decay_steps=v, max_lr=0.1), "decay_steps"),
        (lambda v: lrsched.join_schedules([Constant(0.1), Constant(0.2)], [v]), "boundaries"),
    ],
)
@pytest.mark.parametrize("value", [10**400, 2**53 + 1], ids=["10^400", "2^53+1"])
def test_integers_too_large_for_a_float_raise_naming_the_argument(build, name, value):
    with pytest.raises(ValueError, match=name):
        build(value)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda v: LinearScheduler(optimizer(), t_max=10, max_lr=v), "max_lr"),
        (lambda v: Constant(v), "value"),
        (lambda v: LinearRamp(0.0, v, 5), "end"),
        (lambda v: with_warmup(CosineDecay(10, 0.1), 2, init_lr=v), "init_lr"),
        (lambda v: PolyScheduler(optimizer(), t_max=10, max_lr=0.1, poly_order=v), "poly_order"),
        (lambda v: lrsched.ProportionScheduler(
            LinearScheduler(optimizer(), t_max=10, max_lr=0.1), max_lr=0.1, min_lr=0.0, max_value=v, min_value=0.0
        ), "max_value"),
    ],
)
def test_reals_that_overflow_a_float_raise_value_error_naming_the_argument(build, name):
    from fractions import Fraction

    for value in (10**400, Fraction(10**400, 3)):
        with pytest.raises(ValueError, match=name):
            build(value)
