"""The one training loop of the book, and the record it returns.

Chapters never write their own loop: they build a model, an optimizer and a
scheduler, and hand them to :func:`train`. The loop is deterministic on a CPU,
records the learning rate every step actually used, and survives divergence,
so chapters can show unstable schedules without crashing.

What a run is judged by (issue 14's protocol): the test accuracy at the end
(reported), the validation accuracy at the end (for tuning), and the full
training-set loss at the final weights -- not a window of minibatch losses,
which favours schedules whose learning rate is already low near the end. A run
whose loss became non-finite (or passed ``max_loss``) or whose test accuracy is
below twice chance is *failed*; :func:`~lrsched.lab.compare` counts such runs
and keeps them out of means.
"""

from __future__ import annotations

import math
import numbers
import os
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .data import DigitsSplit, check_seed, load_digits_split

if TYPE_CHECKING:  # pandas and matplotlib are imported only when used
    import pandas

__all__ = ["History", "lrs_used", "train"]


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start).

    Trailing rather than centred, so a spike is never smeared back in time.
    """
    window = _check_positive_int("smooth", window)
    values = np.asarray(values, dtype=np.float64)
    if window == 1 or values.size == 0:
        return values
    csum = np.concatenate([[0.0], np.cumsum(values)])
    end = np.arange(1, values.size + 1)
    start = np.maximum(end - window, 0)
    with np.errstate(invalid="ignore"):  # inf - inf after a divergence is nan anyway
        return (csum[end] - csum[start]) / (end - start)


@dataclass(eq=False)  # eq=False: arrays have no single truth value
class History:
    """What :func:`train` recorded, one entry per optimizer step taken.

    Steps are numbered from 1: entry ``i`` of ``lr`` and ``loss`` belongs to
    step ``i + 1``.

    Attributes
    ----------
    lr : numpy.ndarray
        Shape ``(steps_done, n_groups)``: the learning rate of every parameter
        group during each step (read before the step, so it is the rate the
        step used).
    loss : numpy.ndarray
        Shape ``(steps_done,)``: training cross-entropy of each step's batch,
        at the weights before the step.
    eval_steps : numpy.ndarray
        Steps after which the test set was evaluated.
    test_accuracy : numpy.ndarray
        Test accuracy (fraction in ``[0, 1]``) at each of ``eval_steps``.
    test_loss : numpy.ndarray
        Test cross-entropy at each of ``eval_steps``.
    diverged : bool
        Whether training stopped early because the loss became non-finite or
        exceeded ``max_loss`` (see :func:`train`). The last entry of ``loss``
        is then the one that stopped it.
    steps_per_epoch : int or None
        Steps in one pass over the training set, to convert steps to epochs.
    val_accuracy : numpy.ndarray
        Validation accuracy at each of ``eval_steps`` (empty if the split has
        no validation part).
    val_loss : numpy.ndarray
        Validation cross-entropy at each of ``eval_steps``.
    final_train_loss : float
        Cross-entropy over the *whole* training set at the final weights, in
        eval mode (``nan`` if the run was interrupted by an exception).
    n_classes : int or None
        Number of classes in the data, for :attr:`failed`'s chance level.

    Examples
    --------
    >>> import torch
    >>> from lrsched.lab import TinyMLP, train
    >>> model = TinyMLP()
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> history = train(model, optimizer, steps=50, progress=False)
    >>> history.steps_done, history.lr.shape
    (50, (50, 1))
    """

    lr: np.ndarray
    loss: np.ndarray
    eval_steps: np.ndarray
    test_accuracy: np.ndarray
    test_loss: np.ndarray
    diverged: bool = False
    steps_per_epoch: int | None = None
    val_accuracy: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))
    val_loss: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))
    final_train_loss: float = math.nan
    n_classes: int | None = None

    @property
    def steps_done(self) -> int:
        """Number of optimizer steps recorded."""
        return len(self.loss)

    @property
    def final_test_accuracy(self) -> float:
        """Test accuracy at the last evaluation (``nan`` if there was none)."""
        return float(self.test_accuracy[-1]) if len(self.test_accuracy) else math.nan

    @property
    def final_val_accuracy(self) -> float:
        """Validation accuracy at the last evaluation (``nan`` if none): tune on this."""
        return float(self.val_accuracy[-1]) if len(self.val_accuracy) else math.nan

    @property
    def failure_threshold(self) -> float:
        """Test accuracy below which a run counts as failed.

        Twice chance, ``2 / K`` for ``K`` classes, capped at the midpoint
        between chance and perfect, ``(1 + 1/K) / 2``, so that with two or
        three classes a good run is not called failed (``K = 10``: 0.2;
        ``K = 2``: 0.75). Ten classes are assumed if ``n_classes`` is unknown.
        """
        k = self.n_classes or 10
        return min(2.0 / k, (1.0 + 1.0 / k) / 2.0)

    @property
    def failed(self) -> bool:
        """Whether the run failed (it diverged, ended with a non-finite final
        loss, or has test accuracy below :attr:`failure_threshold`, twice chance).

        ``diverged`` covers a non-finite minibatch loss and one above
        ``max_loss``; a ``nan`` final training loss after a completed run
        (weights that became non-finite without the loss showing it) counts
        too. Failed runs are counted and kept out of means by
        :func:`~lrsched.lab.compare`.
        """
        if self.diverged:
            return True
        if not math.isfinite(self.final_train_loss) and self.steps_done > 0:
            return True
        accuracy = self.final_test_accuracy
        return not (accuracy >= self.failure_threshold)  # nan counts as failed

    @property
    def failed_on_validation(self) -> bool:
        """:attr:`failed` with the validation accuracy in place of the test accuracy.

        What tuning may look at (:meth:`~lrsched.lab.Comparison.best`): the
        same rule, without touching the test set. ``True`` when there is no
        validation accuracy.
        """
        if self.diverged:
            return True
        if not math.isfinite(self.final_train_loss) and self.steps_done > 0:
            return True
        return not (self.final_val_accuracy >= self.failure_threshold)

    @property
    def final_loss(self) -> float:
        """Mean *minibatch* training loss over the last 10% of steps (at least one).

        Kept for chapters written before :attr:`final_train_loss`; prefer that.
        This window average is biased against schedules whose learning rate is
        still high at the end (their minibatch losses are measured at noisier
        weights), so it should not rank schedules. For a diverged run it is
        huge or non-finite, since the last recorded loss is.
        """
        if self.steps_done == 0:
            return math.nan
        tail = max(1, math.ceil(0.1 * self.steps_done))
        return float(np.mean(self.loss[-tail:]))

    def to_frame(self) -> pandas.DataFrame:
        """One row per step, indexed by ``step`` (1-based).

        Columns: ``lr`` (or ``lr_0``, ``lr_1``, ... with several parameter
        groups), ``loss``, and ``test_accuracy`` / ``test_loss``, followed by
        ``val_accuracy`` / ``val_loss`` when there is a validation part; the
        evaluation columns are ``NaN`` on steps without an evaluation.

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> import torch
        >>> from lrsched.lab import TinyMLP, train
        >>> model = TinyMLP()
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> frame = train(model, optimizer, steps=60, progress=False).to_frame()
        >>> list(frame.columns), len(frame)
        (['lr', 'loss', 'test_accuracy', 'test_loss', 'val_accuracy', 'val_loss'], 60)
        >>> frame.dropna().index.tolist()  # the evaluated steps
        [25, 50, 60]
        """
        import pandas as pd

        n_groups = self.lr.shape[1] if self.lr.ndim == 2 else 1
        lr = self.lr.reshape(self.steps_done, n_groups)
        names = ["lr"] if n_groups == 1 else [f"lr_{g}" for g in range(n_groups)]
        frame = pd.DataFrame(
            {**{name: lr[:, g] for g, name in enumerate(names)}, "loss": self.loss},
            index=pd.RangeIndex(1, self.steps_done + 1, name="step"),
        )
        columns = {"test_accuracy": self.test_accuracy, "test_loss": self.test_loss}
        if len(self.val_accuracy) == len(self.eval_steps) and len(self.eval_steps):
            columns |= {"val_accuracy": self.val_accuracy, "val_loss": self.val_loss}
        evals = pd.DataFrame(columns, index=pd.Index(self.eval_steps, name="step"))
        return frame.join(evals)

    def plot(
        self,
        axes: Sequence[Any] | None = None,
        label: str | None = None,
        *,
        log_lr: bool = False,
        log_loss: bool = True,
        smooth: int = 1,
    ) -> Any:
        """Plot the learning rate (left) and training loss (right) per step.

        Pass the returned axes back in to overlay several runs.

        Parameters
        ----------
        axes : tuple of Axes, optional
            Where to draw; a new 1x2 figure if omitted.
        label : str, optional
            Legend label of this run. With several parameter groups each group
            gets its own learning-rate line, labelled with its index.
        log_lr, log_loss : bool
            Use a logarithmic y axis for the learning rate / the loss.
        smooth : int
            Window of a trailing moving average applied to the loss
            (1 = raw per-step losses).

        Returns
        -------
        tuple of Axes
            The two axes ``(ax_lr, ax_loss)``.

        Examples
        --------
        >>> axes = history_a.plot(label="cosine")  # doctest: +SKIP
        >>> history_b.plot(axes, label="step")  # doctest: +SKIP
        """
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 3.5), constrained_layout=True)
        ax_lr, ax_loss = axes = tuple(axes)
        steps = np.arange(1, self.steps_done + 1)
        lr = self.lr.reshape(self.steps_done, -1)
        color = None
        for g in range(lr.shape[1]):
            if lr.shape[1] == 1:
                name = label
            else:
                name = f"{label}, group {g}" if label else f"group {g}"
            (line,) = ax_lr.plot(steps, lr[:, g], label=name)
            color = color or line.get_color()  # the loss line matches group 0
        ax_loss.plot(steps, _moving_average(self.loss, smooth), label=label, color=color)
        if self.diverged:  # mark where the run stopped
            ax_loss.axvline(self.steps_done, color=color, linestyle=":", linewidth=1)
        ax_lr.set(xlabel="step", ylabel="learning rate", yscale="log" if log_lr else "linear")
        ylabel = "train loss" if smooth == 1 else f"train loss ({smooth}-step average)"
        ax_loss.set(xlabel="step", ylabel=ylabel, yscale="log" if log_loss else "linear")
        for ax in (ax_lr, ax_loss):
            if ax.get_legend_handles_labels()[1]:
                ax.legend()
        return axes


#: Signature of a callback: ``cb(step, model, history)``.
Callback = Callable[[int, nn.Module, History], Any]


def _as_schedulers(scheduler: Any) -> tuple[Any, ...]:
    """Normalise ``None`` / one scheduler / a sequence of them to a tuple."""
    if scheduler is None:
        return ()
    if hasattr(scheduler, "step"):
        return (scheduler,)
    if isinstance(scheduler, Iterable) and not isinstance(scheduler, (str, bytes)):
        items = tuple(scheduler)
        for item in items:
            if not hasattr(item, "step"):
                raise TypeError(f"every scheduler needs a .step() method, got {item!r}")
        return items
    raise TypeError(f"scheduler must be None, an object with .step(), or a sequence of them, got {scheduler!r}")


def _make_closure(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    xb: torch.Tensor,
    yb: torch.Tensor,
    first_loss: list[float],
) -> Callable[[], torch.Tensor]:
    """The closure handed to ``optimizer.step``; it may be called several times."""

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        if not first_loss:  # the loss at the weights the step started from
            first_loss.append(loss.item())
        return loss

    return closure


def _available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Accuracy and cross-entropy, in eval mode and without autograd."""
    if len(y) == 0:
        return math.nan, math.nan
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = F.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).double().mean().item()
    model.train()
    return accuracy, loss


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
    *,
    data: DigitsSplit | None = None,
    steps: int = 300,
    batch_size: int = 64,
    seed: int = 0,
    eval_every: int = 25,
    callbacks: Iterable[Callback] = (),
    progress: bool = True,
    num_threads: int = 1,
    max_loss: float = 1e3,
) -> History:
    """Train ``model`` on the digits with minibatch cross-entropy.

    Each step draws the next ``batch_size`` training images (reshuffled every
    epoch from a generator seeded by ``seed``; an incomplete last batch is
    skipped, so every step sees exactly ``batch_size`` images), records the
    learning rate of every parameter group, calls
    ``optimizer.step(closure)``, and then steps the scheduler(s). The closure
    zeroes the gradients, computes the loss and backpropagates, so optimizers
    that evaluate it several times (SAM-like) work. The recorded loss is that
    of the closure's first call, the loss at the weights the step started
    from, which is also what torch optimizers return.

    Training is deterministic: the same model initialisation, optimizer,
    scheduler and ``seed`` give bit-identical records.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier mapping ``(N, 1, 8, 8)`` images to logits.
    optimizer : torch.optim.Optimizer
        Any torch optimizer over (some of) ``model``'s parameters.
    scheduler : object with ``step()``, sequence of them, or None
        Stepped once after every optimizer step, in order, e.g. an LR
        scheduler and a momentum scheduler. A torch ``ReduceLROnPlateau`` is
        given the step's training loss (its patience then counts steps).
    data : DigitsSplit, optional
        Data to train and test on; :func:`load_digits_split` by default.
    steps : int
        Number of optimizer steps.
    batch_size : int
        Images per step; capped at the training set size (full-batch).
    seed : int
        Non-negative; ``seed + seed_offset()`` (see ``LRSCHED_SEED_OFFSET``)
        seeds ``torch.manual_seed`` and the batch order. ``None`` is refused.
    eval_every : int
        Evaluate on the validation and test sets every this many steps, and
        after the last.
    callbacks : tuple of callable
        Any iterable of callables, each called as ``cb(step, model, history)``
        after every step, where ``step`` counts completed steps from 1 and
        ``history`` is a :class:`History` of everything recorded so far (its
        arrays are read-only views; copy what you keep).
    progress : bool
        Show a tqdm progress bar.
    num_threads : int
        Torch intra-op threads during training; restored afterwards. One
        thread is the fastest for models this small. Values above the number
        of cores this process may use are clamped to it (asking torch for a
        million threads would kill the process).
    max_loss : float
        A training loss above this counts as divergence, like a non-finite
        one. With a huge learning rate the loss can reach ``1e20`` and then
        stay finite because every ReLU died, so waiting for ``inf``/``nan``
        alone would miss it. The default, ``1e3``, is over 400 times the loss
        of guessing among 10 classes; pass ``math.inf`` to stop only on
        non-finite losses.

    Returns
    -------
    History
        The per-step record. If the loss became non-finite or exceeded
        ``max_loss``, training stops after that step (no scheduler step or
        callback for it), the model is evaluated once more and ``diverged``
        is ``True``; nothing is recorded for the steps not taken. After the
        last step the whole training set is evaluated once for
        ``final_train_loss``.

    Raises
    ------
    ValueError
        If the training set is empty, or an argument is out of range.
    TypeError
        If ``seed`` is not an integer.
    Exception
        Anything raised mid-run (by the optimizer, a scheduler refusing a
        NaN learning rate, a callback) propagates unchanged, but carries
        what was recorded up to then as ``err.history`` (a :class:`History`
        whose ``final_train_loss`` is ``nan``).

    Examples
    --------
    >>> import torch
    >>> from lrsched.lab import TinyMLP, train
    >>> _ = torch.manual_seed(0)
    >>> model = TinyMLP()
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=300)
    >>> history = train(model, optimizer, scheduler, steps=300, progress=False)
    >>> history.final_test_accuracy > 0.9
    True
    """
    steps = _check_positive_int("steps", steps)
    batch_size = _check_positive_int("batch_size", batch_size)
    eval_every = _check_positive_int("eval_every", eval_every)
    num_threads = _check_positive_int("num_threads", num_threads)
    if isinstance(max_loss, bool) or not isinstance(max_loss, numbers.Real) or not max_loss > 0:
        raise ValueError(f"max_loss must be a positive number, got {max_loss!r}")
    num_threads = min(num_threads, _available_cores())
    shifted_seed = check_seed(seed)
    schedulers = _as_schedulers(scheduler)
    callbacks = tuple(callbacks)
    data = load_digits_split() if data is None else data

    x, y = data.x_train, data.y_train
    n = len(y)
    if n == 0:
        raise ValueError(f"data has an empty training set ({data!r}); nothing to train on")
    x_val = getattr(data, "x_val", None)
    y_val = getattr(data, "y_val", None)
    has_val = x_val is not None and y_val is not None and len(y_val) > 0
    n_classes = len(torch.cat([y, data.y_test]).unique())
    if has_val:
        n_classes = len(torch.cat([y, y_val, data.y_test]).unique())
    batch_size = min(batch_size, n)
    steps_per_epoch = n // batch_size
    n_groups = len(optimizer.param_groups)

    # Preallocated so callbacks can get views of the record at no cost.
    lr_rec = np.full((steps, n_groups), np.nan)
    loss_rec = np.full(steps, np.nan)
    eval_steps: list[int] = []
    accuracies: list[float] = []
    test_losses: list[float] = []
    val_accuracies: list[float] = []
    val_losses: list[float] = []
    diverged = False
    done = 0
    final_train_loss = math.nan

    def snapshot(copy: bool) -> History:
        lr, loss = lr_rec[:done], loss_rec[:done]
        if copy:
            lr, loss = lr.copy(), loss.copy()
        else:
            lr, loss = lr.view(), loss.view()
            lr.flags.writeable = loss.flags.writeable = False
        return History(
            lr=lr,
            loss=loss,
            eval_steps=np.array(eval_steps, dtype=np.int64),
            test_accuracy=np.array(accuracies, dtype=np.float64),
            test_loss=np.array(test_losses, dtype=np.float64),
            diverged=diverged,
            steps_per_epoch=steps_per_epoch,
            val_accuracy=np.array(val_accuracies, dtype=np.float64),
            val_loss=np.array(val_losses, dtype=np.float64),
            final_train_loss=final_train_loss,
            n_classes=n_classes,
        )

    def evaluate(step: int) -> None:
        accuracy, loss = _evaluate(model, data.x_test, data.y_test)
        if has_val:
            val_accuracy, val_loss = _evaluate(model, x_val, y_val)
            val_accuracies.append(val_accuracy)
            val_losses.append(val_loss)
        eval_steps.append(step)
        accuracies.append(accuracy)
        test_losses.append(loss)

    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    bar = tqdm(total=steps, disable=not progress, desc="train", leave=False)
    try:
        torch.manual_seed(shifted_seed)  # for anything random inside the model (dropout)
        generator = torch.Generator().manual_seed(shifted_seed)  # batch order only
        order = torch.empty(0, dtype=torch.long)
        position = n  # forces a shuffle before the first step
        model.train()
        for step in range(1, steps + 1):
            if position + batch_size > n:  # new epoch
                order = torch.randperm(n, generator=generator)
                position = 0
            idx = order[position : position + batch_size]
            position += batch_size

            # Read before the step: this is the rate the step uses.
            lr_rec[step - 1] = [float(group["lr"]) for group in optimizer.param_groups]
            first_loss: list[float] = []
            optimizer.step(_make_closure(model, optimizer, x[idx], y[idx], first_loss))
            if not first_loss:
                raise RuntimeError(
                    "optimizer.step(closure) never called the closure; train() needs an "
                    "optimizer that evaluates it, as every torch.optim optimizer does"
                )
            loss = first_loss[0]
            loss_rec[step - 1] = loss
            done = step

            if not (math.isfinite(loss) and loss <= max_loss):
                diverged = True
                evaluate(step)
                break
            for s in schedulers:
                if isinstance(s, plateau):
                    s.step(loss)
                else:
                    s.step()
            if step % eval_every == 0 or step == steps:
                evaluate(step)
                bar.set_postfix(loss=f"{loss:.3f}", test_acc=f"{accuracies[-1]:.3f}", refresh=False)
            bar.update()
            if callbacks:
                history = snapshot(copy=False)
                for cb in callbacks:
                    cb(step, model, history)
        # The full training set at the final weights: a window of minibatch
        # losses would favour schedules whose lr is already low at the end.
        final_train_loss = _evaluate(model, x, y)[1]
    except BaseException as err:
        # Keep what was recorded: a run that fails at step 900 of 1000 is
        # still worth looking at. (KeyboardInterrupt included.)
        try:
            err.history = snapshot(copy=True)  # type: ignore[attr-defined]
        except Exception:  # an exception type that refuses attributes
            pass
        raise
    finally:
        bar.close()
        torch.set_num_threads(previous_threads)
    return snapshot(copy=True)


def lrs_used(optimizer: torch.optim.Optimizer, scheduler: Any, steps: int) -> np.ndarray:
    """The lr of every param group during each of ``steps`` steps, stepping as in training.

    Runs the ordinary ``optimizer.step(); scheduler.step()`` order without gradients, so the
    weights do not move and only the schedule advances. Works for any scheduler (lrsched's,
    torch's, the reference library's), which is what chapters need to put them side by side;
    for an lrsched scheduler the result equals ``scheduler.lr_at`` times the group scales.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The optimizer the scheduler wraps.
    scheduler : object
        Anything with ``step()``, or a sequence of them (stepped in order), or ``None``.
    steps : int
        Number of steps to record.

    Returns
    -------
    numpy.ndarray
        Shape ``(steps, n_groups)``: row ``t`` holds the lrs step ``t`` (0-based) used.

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs_used(opt, sched, 5)[:, 0].tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    steps = _check_positive_int("steps", steps)
    schedulers = _as_schedulers(scheduler)
    used = np.empty((steps, len(optimizer.param_groups)), dtype=np.float64)
    for t in range(steps):
        used[t] = [float(group["lr"]) for group in optimizer.param_groups]
        optimizer.step()  # no gradients: parameters are skipped, counters advance
        for each in schedulers:
            each.step()
    return used
