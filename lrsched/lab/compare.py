"""Run several schedules on the same budget and seeds, and tabulate them.

One training run says little: the gap between two schedules is often smaller
than the spread over seeds. :func:`compare` therefore trains every schedule on
every seed with the same model, optimizer, data and number of steps, and
reports means and standard deviations over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from .data import DigitsSplit, load_digits_split
from .models import TinyMLP
from .trainer import History, _moving_average, train

__all__ = ["Comparison", "compare"]


def _default_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def _std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof=1); ``nan`` for fewer than two values."""
    if len(values) < 2:
        return math.nan
    with np.errstate(invalid="ignore"):  # inf losses of diverged runs give nan
        return float(np.std(values, ddof=1))


@dataclass(eq=False)
class Comparison:
    """Results of :func:`compare`.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per (schedule, seed) with columns ``schedule``, ``seed``,
        ``final_test_accuracy``, ``final_loss``, ``diverged`` and
        ``steps_done``.
    histories : dict
        Maps each schedule name to its :class:`History` objects, one per
        seed, in the order of the seeds.
    """

    runs: pd.DataFrame
    histories: dict[str, list[History]]

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over seeds, one row per schedule.

        Standard deviations are sample ones (``ddof=1``), ``NaN`` for a single
        seed. Means include every run: a schedule with a diverged seed gets a
        huge or non-finite ``final_loss_mean``, and ``n_diverged`` says how
        many seeds diverged.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``schedule`` in the order the schedules were given, with
            columns ``test_accuracy_mean``, ``test_accuracy_std``,
            ``final_loss_mean``, ``final_loss_std``, ``n_seeds`` and
            ``n_diverged``.
        """
        rows = []
        for name in self.histories:
            runs = self.runs[self.runs["schedule"] == name]
            accuracy = runs["final_test_accuracy"].to_numpy(dtype=np.float64)
            loss = runs["final_loss"].to_numpy(dtype=np.float64)
            rows.append(
                {
                    "schedule": name,
                    "test_accuracy_mean": float(np.mean(accuracy)),
                    "test_accuracy_std": _std(accuracy),
                    "final_loss_mean": float(np.mean(loss)),
                    "final_loss_std": _std(loss),
                    "n_seeds": len(runs),
                    "n_diverged": int(runs["diverged"].sum()),
                }
            )
        return pd.DataFrame(rows).set_index("schedule")

    def table(self, precision: int = 3) -> pd.DataFrame:
        """The summary formatted as ``"mean ± std"`` strings, for display.

        Parameters
        ----------
        precision : int
            Digits after the decimal point.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``schedule``, with string columns ``test accuracy``,
            ``final loss`` and ``diverged`` (e.g. ``"1/3"``).
        """
        summary = self.summary()

        def fmt(mean: float, std: float) -> str:
            # With one seed there is no spread to show.
            return f"{mean:.{precision}f}" if math.isnan(std) else f"{mean:.{precision}f} ± {std:.{precision}f}"

        return pd.DataFrame(
            {
                "test accuracy": [fmt(m, s) for m, s in zip(summary["test_accuracy_mean"], summary["test_accuracy_std"])],
                "final loss": [fmt(m, s) for m, s in zip(summary["final_loss_mean"], summary["final_loss_std"])],
                "diverged": [f"{d}/{n}" for d, n in zip(summary["n_diverged"], summary["n_seeds"])],
            },
            index=summary.index,
        )

    def plot(
        self,
        axes: Sequence[Any] | None = None,
        *,
        log_lr: bool = False,
        log_loss: bool = True,
        smooth: int = 1,
    ) -> Any:
        """Overlay each schedule's learning rate and mean training loss.

        The loss curve is the mean over seeds of the (optionally smoothed)
        per-step losses; it ends where the first seed of that schedule
        diverged, so instability is not averaged away. The learning-rate curve
        is parameter group 0 of the longest run.

        Parameters
        ----------
        axes : tuple of Axes, optional
            Where to draw; a new 1x2 figure if omitted.
        log_lr, log_loss : bool
            Use a logarithmic y axis for the learning rate / the loss.
        smooth : int
            Window of a trailing moving average applied to each run's loss
            before averaging (1 = raw).

        Returns
        -------
        tuple of Axes
            The two axes ``(ax_lr, ax_loss)``.
        """
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 3.5), constrained_layout=True)
        ax_lr, ax_loss = axes = tuple(axes)
        for name, histories in self.histories.items():
            longest = max(histories, key=lambda h: h.steps_done)
            n_diverged = sum(h.diverged for h in histories)
            label = name if not n_diverged else f"{name} ({n_diverged}/{len(histories)} diverged)"
            (line,) = ax_lr.plot(np.arange(1, longest.steps_done + 1), longest.lr[:, 0], label=label)
            # Pad shorter (diverged) runs with nan: the mean is then nan, and
            # not drawn, from the first step any seed is missing.
            losses = np.full((len(histories), longest.steps_done), np.nan)
            for row, h in zip(losses, histories):
                row[: h.steps_done] = _moving_average(h.loss, smooth)
            mean = losses.mean(axis=0)
            ax_loss.plot(np.arange(1, longest.steps_done + 1), mean, label=label, color=line.get_color())
        ax_lr.set(xlabel="step", ylabel="learning rate", yscale="log" if log_lr else "linear")
        ylabel = "train loss, mean over seeds"
        if smooth > 1:
            ylabel += f" ({smooth}-step average)"
        ax_loss.set(xlabel="step", ylabel=ylabel, yscale="log" if log_loss else "linear")
        ax_lr.legend()
        ax_loss.legend()
        return axes


def compare(
    schedules: Mapping[str, Callable[[torch.optim.Optimizer], Any]],
    *,
    model_fn: Callable[[], nn.Module] = TinyMLP,
    optimizer_fn: Callable[[nn.Module], torch.optim.Optimizer] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 300,
    data: DigitsSplit | None = None,
    progress: bool = True,
    **train_kwargs: Any,
) -> Comparison:
    """Train every schedule on every seed with the same budget.

    For each schedule and seed: ``torch.manual_seed(seed)``, then
    ``model = model_fn()``, ``optimizer = optimizer_fn(model)``,
    ``scheduler = schedules[name](optimizer)``, and
    ``train(model, optimizer, scheduler, data=data, steps=steps, seed=seed)``.
    A given seed thus gives every schedule the same initial weights and the
    same batch order.

    Parameters
    ----------
    schedules : Mapping
        Maps a name to a factory that takes the optimizer and returns a
        scheduler, a sequence of schedulers, or ``None`` for a constant
        learning rate.
    model_fn : callable
        Builds a fresh model; :class:`TinyMLP` by default.
    optimizer_fn : callable, optional
        Builds the optimizer for a model; by default
        ``SGD(model.parameters(), lr=0.1, momentum=0.9)``.
    seeds : tuple of int
        Seeds to run each schedule with (any sequence of ints).
    steps : int
        Optimizer steps per run.
    data : DigitsSplit, optional
        Data for every run; :func:`load_digits_split` by default.
    progress : bool
        Show one progress bar over all runs.
    **train_kwargs
        Passed on to :func:`train` (e.g. ``batch_size``, ``eval_every``,
        ``callbacks``, ``max_loss``).

    Returns
    -------
    Comparison

    Examples
    --------
    >>> from torch.optim.lr_scheduler import CosineAnnealingLR
    >>> result = compare(
    ...     {"constant": lambda opt: None,
    ...      "cosine": lambda opt: CosineAnnealingLR(opt, T_max=300)},
    ...     seeds=(0, 1), progress=False)
    >>> result.table()  # doctest: +SKIP
             test accuracy      final loss diverged
    schedule
    constant  0.951 ± 0.003  0.047 ± 0.004      0/2
    cosine    0.962 ± 0.002  0.021 ± 0.001      0/2
    """
    if not schedules:
        raise ValueError("schedules must name at least one schedule, got an empty mapping")
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must contain at least one seed, got an empty sequence")
    reserved = {"seed", "data", "steps", "progress"} & train_kwargs.keys()
    if reserved:
        raise TypeError(f"compare() sets these train() arguments itself: {sorted(reserved)}")
    optimizer_fn = _default_optimizer if optimizer_fn is None else optimizer_fn
    data = load_digits_split() if data is None else data

    histories: dict[str, list[History]] = {name: [] for name in schedules}
    rows = []
    with tqdm(total=len(schedules) * len(seeds), disable=not progress, desc="compare", leave=False) as bar:
        for name, make_scheduler in schedules.items():
            for seed in seeds:
                bar.set_postfix_str(f"{name}, seed {seed}", refresh=False)
                torch.manual_seed(seed)
                model = model_fn()
                optimizer = optimizer_fn(model)
                scheduler = make_scheduler(optimizer)
                history = train(
                    model, optimizer, scheduler, data=data, steps=steps, seed=seed, progress=False, **train_kwargs
                )
                histories[name].append(history)
                rows.append(
                    {
                        "schedule": name,
                        "seed": seed,
                        "final_test_accuracy": history.final_test_accuracy,
                        "final_loss": history.final_loss,
                        "diverged": history.diverged,
                        "steps_done": history.steps_done,
                    }
                )
                bar.update()
    return Comparison(runs=pd.DataFrame(rows), histories=histories)
