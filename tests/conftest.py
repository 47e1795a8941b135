"""Shared fixtures of the library tests: a small optimizer factory and the ordinary training loop.

The fixtures are session-scoped factories (plain functions), so hypothesis tests can use them.
"""

from __future__ import annotations

from typing import Callable, Sequence

import pytest
import torch


def _make_optimizer(lrs: Sequence[float] = (0.1,), kind: str = "sgd") -> torch.optim.Optimizer:
    """An optimizer with one tiny parameter per group, group ``i`` at lr ``lrs[i]``."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": float(lr)} for lr in lrs]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=float(lrs[0]), momentum=0.9)
    if kind == "adamw":
        return torch.optim.AdamW(groups, lr=float(lrs[0]))
    raise ValueError(kind)


def _train_lrs(optimizer: torch.optim.Optimizer, scheduler, steps: int) -> list[list[float]]:
    """Run the ordinary loop and record, before each optimizer step, every group's lr.

    ``result[t]`` holds the lrs that optimizer step ``t`` (0-based) runs with.
    """
    param = optimizer.param_groups[0]["params"][0]
    seen = []
    for _ in range(steps):
        seen.append([group["lr"] for group in optimizer.param_groups])
        optimizer.zero_grad()
        param.grad = torch.ones_like(param)
        optimizer.step()
        scheduler.step()
    return seen


@pytest.fixture(scope="session")
def make_optimizer() -> Callable[..., torch.optim.Optimizer]:
    return _make_optimizer


@pytest.fixture(scope="session")
def train_lrs() -> Callable[..., list[list[float]]]:
    return _train_lrs
