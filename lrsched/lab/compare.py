"""Run several schedules on the same budget and seeds, and judge them honestly.

One training run says little: the gap between two schedules is often smaller
than the spread over seeds. :func:`compare` therefore trains every schedule on
every seed with the same model, optimizer, data and number of steps (a seed
fixes the initial weights and the batch order, shifted by
``LRSCHED_SEED_OFFSET``), and :class:`Comparison` reports:

* per schedule, the mean and 95% Student t interval over seeds of the test
  accuracy, the validation accuracy and the full training-set loss, with
  failed runs (diverged, or test accuracy below twice chance) counted and kept
  out of the means (:meth:`Comparison.summary`);
* against a baseline, the paired per-seed difference with its 95% interval
  and whether it excludes zero (:meth:`Comparison.paired`) -- the only ground
  on which a chapter may assert that one schedule beats another.

Anything tuned is chosen on validation (:meth:`Comparison.best`,
:func:`tune`); the test numbers are for reporting.
"""

from __future__ import annotations

import math
import numbers
import os
import pickle
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from .data import DigitsSplit, check_seed, load_digits_split
from .models import TinyMLP
from .stats import Interval, mean_ci, paired_difference
from .trainer import History, _moving_average, train

__all__ = ["Comparison", "TuneResult", "compare", "start_workers", "tune"]

#: Metric name -> column of :attr:`Comparison.runs`.
METRICS = {
    "test_accuracy": "final_test_accuracy",
    "val_accuracy": "final_val_accuracy",
    "final_train_loss": "final_train_loss",
}


def _default_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def _std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof=1); ``nan`` for fewer than two values."""
    if len(values) < 2:
        return math.nan
    with np.errstate(invalid="ignore"):  # inf losses of diverged runs give nan
        return float(np.std(values, ddof=1))


def _column(metric: str) -> str:
    """The runs column of ``metric`` (a short name or the column itself)."""
    if metric in METRICS:
        return METRICS[metric]
    if metric in METRICS.values():
        return metric
    raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")


def _lower_is_better(metric: str) -> bool:
    return "loss" in _column(metric)


def _interval_of(values: np.ndarray, level: float) -> Interval:
    """:func:`mean_ci` of the finite values; an all-``nan`` interval if none."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Interval(mean=math.nan, low=math.nan, high=math.nan, n=0, level=level)
    return mean_ci(values, level=level)


def _empty_history(optimizer: torch.optim.Optimizer | None) -> History:
    """The record of a run that raised before it recorded anything."""
    n_groups = len(optimizer.param_groups) if optimizer is not None else 1
    empty = np.empty(0)
    return History(
        lr=np.empty((0, n_groups)), loss=empty, eval_steps=np.empty(0, dtype=np.int64),
        test_accuracy=empty, test_loss=empty,
    )


@dataclass(eq=False)
class Comparison:
    """Results of :func:`compare`.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per (schedule, seed) with columns ``schedule``, ``seed``,
        ``final_test_accuracy``, ``final_val_accuracy``,
        ``final_train_loss`` (full training set, final weights), ``failed``,
        ``diverged``, ``steps_done``, ``error`` (the message of an exception
        the run raised, else ``None``), ``final_loss`` (the older minibatch
        window average, kept for chapters not yet migrated), and one column
        per entry of ``metrics`` (see :func:`compare`).
    histories : dict
        Maps each schedule name to its :class:`History` objects, one per
        seed, in the order of the seeds. A run that raised keeps what it
        recorded before the exception.
    baseline : str or None
        Default baseline of :meth:`paired`.
    errors : dict
        Maps ``(schedule, seed)`` to the exception of each run that raised.
    level : float
        Confidence level of every interval (0.95).
    """

    runs: pd.DataFrame
    histories: dict[str, list[History]]
    baseline: str | None = None
    errors: dict[tuple[str, int], BaseException] = field(default_factory=dict)
    level: float = 0.95

    # ------------------------------------------------------------ statistics

    def interval(self, name: str, metric: str = "test_accuracy") -> Interval:
        """Mean and interval of ``metric`` for schedule ``name``, failed runs excluded.

        Parameters
        ----------
        name : str
            A schedule name.
        metric : str
            ``"test_accuracy"``, ``"val_accuracy"`` or ``"final_train_loss"``.

        Returns
        -------
        Interval
            ``n`` counts the runs used; with no successful run every field
            is ``nan`` and ``n == 0``.
        """
        runs = self._runs_of(name)
        ok = runs[~runs["failed"]]
        return _interval_of(ok[_column(metric)].to_numpy(dtype=np.float64), self.level)

    def difference(self, name: str, metric: str = "test_accuracy", baseline: str | None = None) -> Interval:
        """Paired per-seed difference ``name - baseline`` of ``metric``.

        Only seeds where neither run failed are paired (a failed run has no
        meaningful accuracy); :meth:`paired` reports how many were dropped.

        Returns
        -------
        Interval
            ``.excludes_zero()`` says whether the sign is supported. With no
            usable pair every field is ``nan`` and ``n == 0``.
        """
        base = self._baseline(baseline)
        column = _column(metric)
        ours = self._runs_of(name).set_index("seed")
        theirs = self._runs_of(base).set_index("seed")
        seeds = [s for s in ours.index if s in theirs.index]
        usable = [s for s in seeds if not ours.loc[s, "failed"] and not theirs.loc[s, "failed"]]
        if not usable:
            return Interval(mean=math.nan, low=math.nan, high=math.nan, n=0, level=self.level)
        return paired_difference(
            ours.loc[usable, column].to_numpy(dtype=np.float64),
            theirs.loc[usable, column].to_numpy(dtype=np.float64),
            level=self.level,
        )

    def summary(self) -> pd.DataFrame:
        """Per schedule: runs, failures, and 95% intervals of the metrics.

        Failed runs (diverged, or test accuracy below twice chance, see
        :attr:`History.failed`, and runs that raised) are counted in
        ``n_failed`` and left out of every ``test_accuracy_*``,
        ``val_accuracy_*`` and ``final_train_loss_*`` column. Intervals are
        Student t (:func:`~lrsched.lab.stats.mean_ci`); with one successful
        run they are infinite, with none ``NaN``.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``schedule`` in the order the schedules were given,
            with columns ``n``, ``n_failed``, then for each of
            ``test_accuracy``, ``val_accuracy``, ``final_train_loss``:
            ``<metric>_mean``, ``<metric>_low``, ``<metric>_high``,
            ``<metric>_std``. For chapters written earlier it also keeps
            ``final_loss_mean`` / ``final_loss_std`` (minibatch window
            average over *all* runs), ``n_seeds`` (= ``n``) and
            ``n_diverged``.
        """
        rows = []
        for name in self.histories:
            runs = self._runs_of(name)
            ok = runs[~runs["failed"]]
            row: dict[str, Any] = {"schedule": name, "n": len(runs), "n_failed": int(runs["failed"].sum())}
            for metric, column in METRICS.items():
                values = ok[column].to_numpy(dtype=np.float64)
                ci = _interval_of(values, self.level)
                row[f"{metric}_mean"] = ci.mean
                row[f"{metric}_low"] = ci.low
                row[f"{metric}_high"] = ci.high
                row[f"{metric}_std"] = _std(values[np.isfinite(values)])
            legacy = runs["final_loss"].to_numpy(dtype=np.float64)
            row["final_loss_mean"] = float(np.mean(legacy)) if len(legacy) else math.nan
            row["final_loss_std"] = _std(legacy)
            row["n_seeds"] = len(runs)
            row["n_diverged"] = int(runs["diverged"].sum())
            rows.append(row)
        return pd.DataFrame(rows).set_index("schedule")

    def paired(self, metric: str = "test_accuracy", baseline: str | None = None) -> pd.DataFrame:
        """Paired per-seed differences of ``metric`` against the baseline.

        Parameters
        ----------
        metric : str
            ``"test_accuracy"``, ``"val_accuracy"`` or ``"final_train_loss"``.
        baseline : str, optional
            Schedule to subtract; the ``baseline`` given to :func:`compare`
            by default.

        Returns
        -------
        pandas.DataFrame
            One row per other schedule with ``n_pairs`` (seeds where neither
            run failed), ``n_dropped`` (seeds left out because one failed),
            ``mean``, ``low``, ``high``, ``half_width`` of the difference
            ``schedule - baseline``, ``excludes_zero`` and ``interval`` (the
            :class:`~lrsched.lab.stats.Interval` itself).

        Raises
        ------
        ValueError
            If no baseline was given here or to :func:`compare`, or it is not
            one of the schedules.

        Examples
        --------
        >>> result.paired("test_accuracy")  # doctest: +SKIP
                  n_pairs  n_dropped   mean    low   high  half_width  excludes_zero ...
        cosine          5          0  0.011  0.004  0.018       0.007           True
        """
        base = self._baseline(baseline)
        rows = []
        for name in self.histories:
            if name == base:
                continue
            ci = self.difference(name, metric, base)
            n_common = len(set(self._runs_of(name)["seed"]) & set(self._runs_of(base)["seed"]))
            rows.append(
                {
                    "schedule": name,
                    "n_pairs": ci.n,
                    "n_dropped": n_common - ci.n,
                    "mean": ci.mean,
                    "low": ci.low,
                    "high": ci.high,
                    "half_width": ci.half_width,
                    "excludes_zero": ci.excludes_zero(),
                    "interval": ci,
                }
            )
        frame = pd.DataFrame(rows, columns=[
            "schedule", "n_pairs", "n_dropped", "mean", "low", "high", "half_width", "excludes_zero", "interval",
        ])
        frame = frame.set_index("schedule")
        frame.attrs.update(metric=_column(metric), baseline=base, level=self.level)
        return frame

    def best(self, metric: str = "val_accuracy") -> tuple[str, Interval]:
        """The schedule that scores best on ``metric`` (validation by default).

        Ranking: fewest failed runs first, then the best mean over the
        successful runs (highest accuracy, lowest loss); ties keep the order
        the schedules were given in. Failure is judged here without the test
        set (:attr:`History.failed_on_validation`: diverged, non-finite loss,
        raised, or validation accuracy below twice chance), so the test set
        plays no part in the choice. Report the choice's *test* numbers from
        :meth:`summary`.

        Returns
        -------
        name : str
            The chosen schedule.
        score : Interval
            Its ``metric`` over its runs that did not fail on validation.

        Raises
        ------
        ValueError
            If every run of every schedule failed, or the metric is missing
            (e.g. ``val_accuracy`` with data that has no validation part).
        """
        column = _column(metric)
        sign = 1.0 if _lower_is_better(metric) else -1.0
        ranked = []
        for order, name in enumerate(self.histories):
            runs = self._runs_of(name)
            failed = np.array(
                [h.failed_on_validation for h in self.histories[name]], dtype=bool
            ) | runs["error"].notna().to_numpy()
            ci = _interval_of(runs[column].to_numpy(dtype=np.float64)[~failed], self.level)
            if ci.n == 0:
                continue
            ranked.append((int(failed.sum()), sign * ci.mean, order, name, ci))
        if not ranked:
            raise ValueError(
                f"no schedule has a successful run with a finite {column}; nothing to choose from"
            )
        _, _, _, name, ci = min(ranked)
        return name, ci

    # --------------------------------------------------------------- display

    def table(self, precision: int = 3, legacy: bool = True) -> pd.DataFrame:
        """The summary as readable strings, ``"mean [low, high]"`` (95%).

        Parameters
        ----------
        precision : int
            Digits after the decimal point.
        legacy : bool
            Also show the older ``final loss`` (``"mean ± std"`` of the
            minibatch window average over all runs) and ``diverged`` columns
            that chapters written earlier select. Will default to ``False``
            once the chapters have migrated.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``schedule``, with string columns ``test accuracy``,
            ``val accuracy``, ``final train loss``, ``failed`` (e.g.
            ``"1/5"``), and, with a baseline, ``Δ test accuracy vs <name>``
            (paired; ``*`` marks an interval that excludes zero).
        """
        summary = self.summary()

        def fmt_ci(metric: str, name: str) -> str:
            ci = self.interval(name, metric)
            return "no successful run" if ci.n == 0 else ci.format(precision)

        columns: dict[str, list[str]] = {
            "test accuracy": [fmt_ci("test_accuracy", n) for n in summary.index],
        }
        if self.baseline is not None:
            deltas = []
            for name in summary.index:
                if name == self.baseline:
                    deltas.append("baseline")
                    continue
                ci = self.difference(name, "test_accuracy")
                text = "no usable pair" if ci.n == 0 else f"{ci.mean:+.{precision}f} ± {ci.half_width:.{precision}f}"
                deltas.append(text + (" *" if ci.excludes_zero() else ""))
            columns[f"Δ test accuracy vs {self.baseline}"] = deltas
        columns["val accuracy"] = [fmt_ci("val_accuracy", n) for n in summary.index]
        columns["final train loss"] = [fmt_ci("final_train_loss", n) for n in summary.index]
        columns["failed"] = [f"{f}/{n}" for f, n in zip(summary["n_failed"], summary["n"])]
        if legacy:
            def fmt(mean: float, std: float) -> str:
                # With one seed there is no spread to show.
                if math.isnan(std):
                    return f"{mean:.{precision}f}"
                return f"{mean:.{precision}f} ± {std:.{precision}f}"

            columns["final loss"] = [
                fmt(m, s) for m, s in zip(summary["final_loss_mean"], summary["final_loss_std"])
            ]
            columns["diverged"] = [f"{d}/{n}" for d, n in zip(summary["n_diverged"], summary["n"])]
        return pd.DataFrame(columns, index=summary.index)

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
        per-step minibatch losses; it ends where the first seed of that
        schedule stopped (diverged or raised), so instability is not averaged
        away. The learning-rate curve is parameter group 0 of the longest run.

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
            n_failed = sum(h.failed for h in histories)
            label = name if not n_failed else f"{name} ({n_failed}/{len(histories)} failed)"
            (line,) = ax_lr.plot(np.arange(1, longest.steps_done + 1), longest.lr[:, 0], label=label)
            # Pad shorter runs with nan: the mean is then nan, and not drawn,
            # from the first step any seed is missing.
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

    # --------------------------------------------------------------- helpers

    def _runs_of(self, name: str) -> pd.DataFrame:
        if name not in self.histories:
            raise ValueError(f"no schedule named {name!r}; have {list(self.histories)}")
        return self.runs[self.runs["schedule"] == name]

    def _baseline(self, baseline: str | None) -> str:
        base = self.baseline if baseline is None else baseline
        if base is None:
            raise ValueError("no baseline: pass baseline= here or to compare()")
        if base not in self.histories:
            raise ValueError(f"baseline must be one of the schedules {list(self.histories)}, got {base!r}")
        return base


def _check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        try:
            seeds = tuple(seeds)  # any iterable of ints
        except TypeError:
            raise TypeError(f"seeds must be a sequence of ints, got {seeds!r}") from None
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must contain at least one seed, got an empty sequence")
    for s in seeds:
        check_seed(s, "every seed in seeds")
    if len(set(int(s) for s in seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct (a repeated seed is the same run twice), got {seeds!r}")
    return tuple(int(s) for s in seeds)


def _one_run(
    make_scheduler: Callable[[torch.optim.Optimizer], Any],
    seed: int,
    model_fn: Callable[[], nn.Module],
    optimizer_fn: Callable[[nn.Module], torch.optim.Optimizer],
    data: DigitsSplit,
    steps: int,
    train_kwargs: dict[str, Any],
    metrics: Mapping[str, Callable[[nn.Module], float]],
) -> tuple[History, Exception | None, dict[str, float]]:
    """One (schedule, seed) run of :func:`compare`: its history, its exception, its metrics."""
    torch.manual_seed(check_seed(seed))  # the initial weights
    optimizer = None
    try:
        model = model_fn()
        optimizer = optimizer_fn(model)
        scheduler = make_scheduler(optimizer)
        history = train(
            model, optimizer, scheduler, data=data, steps=steps, seed=seed, progress=False, **train_kwargs
        )
        values = {key: float(measure(model)) for key, measure in metrics.items()}
    except Exception as err:  # noqa: BLE001 -- recorded, warned or re-raised by compare()
        history = getattr(err, "history", None)
        if not isinstance(history, History):
            history = _empty_history(optimizer)
        return history, err, {key: math.nan for key in metrics}
    return history, None, values


def _run_in_worker(
    seed_offset_setting: str | None, default_dtype: torch.dtype, args: tuple[Any, ...]
) -> tuple[History, Exception | None, dict[str, float], list[tuple[str, type[Warning]]]]:
    """:func:`_one_run` in a worker process of ``compare(..., workers=n)``.

    The worker starts from a clean interpreter, so the caller's seed offset
    and default dtype are set here first. Warnings are collected and handed
    back, so that the caller's filters decide what is shown; an exception
    that cannot travel back by pickle is replaced by a ``RuntimeError``
    carrying its type, message and the partial history.
    """
    if seed_offset_setting is None:
        os.environ.pop("LRSCHED_SEED_OFFSET", None)
    else:
        os.environ["LRSCHED_SEED_OFFSET"] = seed_offset_setting
    torch.set_default_dtype(default_dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history, error, values = _one_run(*args)
    if error is not None:
        try:
            pickle.dumps(error)
        except Exception:  # noqa: BLE001 -- any pickling failure
            replacement = RuntimeError(f"{type(error).__name__}: {error}")
            replacement.history = history  # type: ignore[attr-defined]
            error = replacement
    seen: dict[tuple[str, type[Warning]], None] = {}
    for w in caught:
        seen.setdefault((str(w.message), w.category), None)
    return history, error, values, list(seen)


def _check_workers(workers: object) -> int:
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    return int(workers)


def _check_metrics(metrics: object) -> dict[str, Callable[[nn.Module], float]]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a mapping of column name -> function of the model, got {metrics!r}")
    taken = {"schedule", "seed", "failed", "diverged", "steps_done", "error", "final_loss", *METRICS.values()}
    for key, measure in metrics.items():
        if not isinstance(key, str) or key in taken:
            raise ValueError(f"metrics: {key!r} is not a free column name (taken: {sorted(taken)})")
        if not callable(measure):
            raise TypeError(f"metrics[{key!r}] must be callable on the trained model, got {measure!r}")
    return dict(metrics)


def _warm_up() -> None:
    """Import the lab and take a few training steps: the first run in a fresh process pays for both."""
    torch.manual_seed(0)
    model = TinyMLP()
    train(model, torch.optim.SGD(model.parameters(), lr=0.1), steps=3, eval_every=3, progress=False)


def start_workers(workers: int = 2) -> None:
    """Start the worker processes of ``compare(..., workers=n)`` now, and return at once.

    A fresh worker spends a few seconds importing torch and warming it up.
    Called at the top of a notebook, that happens while the first cells run,
    instead of inside the first :func:`compare` that asks for workers.

    Parameters
    ----------
    workers : int
        The number of processes the later ``compare`` calls will ask for.

    Examples
    --------
    >>> from lrsched.lab import start_workers
    >>> start_workers(2)  # doctest: +SKIP
    """
    from joblib.externals.loky import get_reusable_executor

    workers = _check_workers(workers)
    executor = get_reusable_executor(max_workers=workers)
    for _ in range(workers):
        executor.submit(_warm_up)


def _outcomes_in_workers(tasks: list[tuple[Any, ...]], workers: int, bar: Any) -> list[tuple[Any, ...]]:
    """Every task's outcome, in task order, computed by ``workers`` processes.

    The processes come from joblib's reusable loky executor: started once
    (each imports torch, a few seconds), kept for later calls, and given one
    CPU thread each. Factories defined in a notebook travel by cloudpickle.
    """
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=workers)
    setting = os.environ.get("LRSCHED_SEED_OFFSET")
    dtype = torch.get_default_dtype()
    futures = [executor.submit(_run_in_worker, setting, dtype, task) for task in tasks]
    outcomes = []
    for future in futures:
        history, error, values, caught = future.result()
        for message, category in caught:  # shown (or not) by this process's filters
            warnings.warn(message, category, stacklevel=3)
        outcomes.append((history, error, values))
        bar.update()
    return outcomes


def compare(
    schedules: Mapping[str, Callable[[torch.optim.Optimizer], Any]],
    *,
    model_fn: Callable[[], nn.Module] = TinyMLP,
    optimizer_fn: Callable[[nn.Module], torch.optim.Optimizer] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 300,
    data: DigitsSplit | None = None,
    progress: bool = True,
    baseline: str | None = None,
    on_error: str = "record",
    metrics: Mapping[str, Callable[[nn.Module], float]] | None = None,
    workers: int = 1,
    **train_kwargs: Any,
) -> Comparison:
    """Train every schedule on every seed with the same budget.

    For each schedule and seed: ``torch.manual_seed(seed + seed_offset())``,
    then ``model = model_fn()``, ``optimizer = optimizer_fn(model)``,
    ``scheduler = schedules[name](optimizer)``, and
    ``train(model, optimizer, scheduler, data=data, steps=steps, seed=seed)``.
    A given seed thus gives every schedule the same initial weights and the
    same batch order, which is what makes per-seed differences paired.

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
    seeds : sequence of int
        Distinct non-negative seeds to run each schedule with.
    steps : int
        Optimizer steps per run.
    data : DigitsSplit, optional
        Data for every run; :func:`load_digits_split` by default.
    progress : bool
        Show one progress bar over all runs.
    baseline : str, optional
        Name of the schedule :meth:`Comparison.paired` and
        :meth:`Comparison.table` compare the others against.
    on_error : {"record", "raise"}
        What to do when a run raises (a scheduler refusing a NaN lr, say).
        ``"record"`` (default): warn, record the run as failed with its
        partial history and the message in ``runs["error"]``, and go on; if
        *every* run raised, the first error is re-raised. ``"raise"``:
        re-raise at once. Either way a re-raised exception carries the
        completed runs as ``err.comparison``.
    metrics : Mapping, optional
        Column name -> function of the trained model: extra measurements, e.g.
        ``{"sharpness": lambda model: sharpness(model, data)}``: each
        function is called on the model after training and its value becomes
        a column of :attr:`Comparison.runs` (``nan`` for a run that raised).
    workers : int
        Processes to train in (default 1: in this process). The runs are
        independent and deterministic, so ``workers=2`` gives bit-identical
        results in about half the time on two cores; the worker processes
        are started once (a few seconds) and reused by later calls. The
        factories must survive pickling (cloudpickle handles functions
        defined in a notebook), the caller's ``LRSCHED_SEED_OFFSET`` and
        default dtype are passed on, and ``callbacks`` are refused: they
        would run in the worker, and anything they record would be lost
        silently -- measure with ``metrics`` instead.
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
    ...     seeds=(0, 1, 2), baseline="constant", progress=False)
    >>> result.table(legacy=False)  # doctest: +SKIP
                      test accuracy Δ test accuracy vs constant  ...
    schedule
    constant  0.951 [0.940, 0.962]                    baseline  ...
    cosine    0.962 [0.955, 0.969]             +0.011 ± 0.006 *  ...
    """
    if not schedules:
        raise ValueError("schedules must name at least one schedule, got an empty mapping")
    seeds = _check_seeds(seeds)
    if baseline is not None and baseline not in schedules:
        raise ValueError(f"baseline must be one of the schedules {list(schedules)}, got {baseline!r}")
    if on_error not in ("record", "raise"):
        raise ValueError(f"on_error must be 'record' or 'raise', got {on_error!r}")
    reserved = {"seed", "data", "steps", "progress"} & train_kwargs.keys()
    if reserved:
        raise TypeError(f"compare() sets these train() arguments itself: {sorted(reserved)}")
    optimizer_fn = _default_optimizer if optimizer_fn is None else optimizer_fn
    data = load_digits_split() if data is None else data

    metrics = _check_metrics(metrics)
    workers = _check_workers(workers)
    if workers > 1 and train_kwargs.get("callbacks"):
        raise ValueError(
            f"callbacks cannot be used with workers={workers}: they would run in the worker "
            "processes and what they record would be lost; pass metrics=... or workers=1"
        )

    histories: dict[str, list[History]] = {name: [] for name in schedules}
    rows: list[dict[str, Any]] = []
    errors: dict[tuple[str, int], BaseException] = {}

    def partial() -> Comparison:
        return Comparison(runs=pd.DataFrame(rows), histories=histories, baseline=baseline, errors=errors)

    keys = [(name, seed) for name in schedules for seed in seeds]
    with tqdm(total=len(keys), disable=not progress, desc="compare", leave=False) as bar:
        if workers > 1:
            tasks = [
                (schedules[name], seed, model_fn, optimizer_fn, data, steps, train_kwargs, metrics)
                for name, seed in keys
            ]
            outcomes = iter(_outcomes_in_workers(tasks, workers, bar))
        for name, seed in keys:
            if workers > 1:
                history, error, values = next(outcomes)
            else:
                bar.set_postfix_str(f"{name}, seed {seed}", refresh=False)
                history, error, values = _one_run(
                    schedules[name], seed, model_fn, optimizer_fn, data, steps, train_kwargs, metrics
                )
                bar.update()
            histories[name].append(history)
            rows.append(
                {
                    "schedule": name,
                    "seed": seed,
                    "final_test_accuracy": history.final_test_accuracy,
                    "final_val_accuracy": history.final_val_accuracy,
                    "final_train_loss": history.final_train_loss,
                    "failed": error is not None or history.failed,
                    "diverged": history.diverged,
                    "steps_done": history.steps_done,
                    "error": None if error is None else f"{type(error).__name__}: {error}",
                    "final_loss": history.final_loss,
                    **values,
                }
            )
            if error is not None:
                errors[(name, seed)] = error
                if on_error == "raise":
                    error.comparison = partial()  # type: ignore[attr-defined]
                    raise error
                warnings.warn(
                    f"compare(): schedule {name!r}, seed {seed} raised "
                    f"{type(error).__name__}: {error}; recorded as a failed run",
                    RuntimeWarning,
                    stacklevel=2,
                )
    result = partial()
    if len(errors) == len(rows):  # nothing completed: almost surely a bug, not a result
        first = next(iter(errors.values()))
        first.comparison = result  # type: ignore[attr-defined]
        raise first
    return result


class TuneResult(NamedTuple):
    """What :func:`tune` chose, and on what evidence.

    Attributes
    ----------
    choice : hashable
        The key of the chosen candidate.
    score : Interval
        Its validation metric over its successful seeds.
    metric : str
        The metric it was chosen on.
    comparison : Comparison
        Every candidate's runs. Its test numbers are for *reporting* the
        choice, not for choosing.
    """

    choice: Hashable
    score: Interval
    metric: str
    comparison: Comparison


def tune(
    candidates: Mapping[Hashable, Callable[[torch.optim.Optimizer], Any]],
    *,
    metric: str = "val_accuracy",
    **compare_kwargs: Any,
) -> TuneResult:
    """Pick the candidate with the best validation score.

    Runs :func:`compare` on the candidates (e.g. one schedule at several peak
    learning rates, keyed by the peak) and picks with
    :meth:`Comparison.best`: fewest failed runs, then best mean ``metric``.
    The test set is not looked at.

    Parameters
    ----------
    candidates : Mapping
        Key (any hashable, e.g. a peak lr) -> scheduler factory, as for
        :func:`compare`.
    metric : str
        ``"val_accuracy"`` (default) or ``"final_train_loss"``. Choosing on
        ``"test_accuracy"`` is refused: that would report a tuned number.
    **compare_kwargs
        Passed on to :func:`compare` (``seeds``, ``steps``, ``data``,
        ``optimizer_fn``, ...). To tune the optimizer's lr itself, make the
        candidates' factories set it, or call :func:`compare` per value.

    Returns
    -------
    TuneResult
        ``(choice, score, metric, comparison)``.

    Examples
    --------
    >>> from torch.optim.lr_scheduler import LambdaLR
    >>> peaks = {p: (lambda opt, p=p: LambdaLR(opt, lambda t: p / 0.1))
    ...          for p in (0.03, 0.1, 0.3)}
    >>> picked = tune(peaks, seeds=(0, 1), steps=100, progress=False)
    >>> picked.choice in peaks
    True
    """
    if _column(metric) == METRICS["test_accuracy"]:
        raise ValueError("metric must not be test_accuracy: tune on validation, report on test")
    keys = list(candidates)
    names = {str(k): k for k in keys}
    if len(names) != len(keys):
        raise ValueError(f"candidate keys must have distinct str() forms, got {keys!r}")
    comparison = compare({str(k): f for k, f in candidates.items()}, **compare_kwargs)
    name, score = comparison.best(metric)
    return TuneResult(choice=names[name], score=score, metric=_column(metric), comparison=comparison)
