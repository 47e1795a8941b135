r"""Data-parallel training on several CPU processes, launched from Python.

:func:`train_distributed` starts ``world_size`` worker processes (the
``spawn`` start method, the ``gloo`` backend, one torch thread each), and
every worker trains the lab's digits model with torch's
``DistributedDataParallel`` (DDP) on its share of each global batch. The
learning rate is a closed form :math:`\eta_t` of the *global* optimizer step
:math:`t`, so every worker computes the same value without talking to the
others. The workers' records -- the learning rate of every step, the losses,
a hash of the final weights, timings -- come back to the caller.

:func:`launch` is the launcher underneath, for any worker function:

* A failing worker makes it raise :class:`WorkerError` carrying that
  worker's traceback (or the signal that killed it); the other workers are
  stopped, and no process is left behind, whatever happens (the workers also
  die with the launching process, through ``PR_SET_PDEATHSIG`` on Linux).
* A world size this machine cannot run (more than :func:`max_world_size`
  processes: two per usable CPU) or a global batch that does not divide into
  equal micro-batches is refused with a ``ValueError`` before anything
  starts. Two processes per core still finish a collective in reasonable
  time; beyond that every all-reduce waits for processes the OS has not
  scheduled yet, and a "test" of four workers on one core measures the
  scheduler, not the training.

The training loop here is the lab's one concession to a second loop: DDP
needs the gradient all-reduce, ``no_sync`` for gradient accumulation, and a
sampler that shards each global batch, none of which a single-process loop
has. It is kept small and otherwise does what
:func:`lrsched.lab.train` does (SGD with momentum, cross-entropy, the lr read
from the optimizer before each step).

Examples
--------
>>> import lrsched
>>> from lrsched.lab.distributed import train_distributed
>>> result = train_distributed(
...     lrsched.CosineDecay(decay_steps=40, max_lr=0.2), world_size=2,
...     steps=40, global_batch_size=64)                   # doctest: +SKIP
>>> lr = [r.lr for r in result.select(rank=0)]          # doctest: +SKIP

References
----------
S. Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training", PVLDB 13(12), 2020 (DDP).
P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1
Hour", arXiv:1706.02677, 2017 (linear scaling and warmup).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import hashlib
import math
import multiprocessing
import multiprocessing.connection
import numbers
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from ..checkpoint import ResumableDistributedSampler, latest_checkpoint, load_checkpoint, save_checkpoint
from ..core import Schedule
from ..scheduler import ScheduledLR
from .data import DigitsSplit, load_digits_split
from .models import TinyMLP
from .stats import seed_offset

__all__ = [
    "DistributedResult",
    "RankRecord",
    "Run",
    "WorkerError",
    "accelerate_lrs",
    "launch",
    "max_world_size",
    "train_distributed",
]

#: Seconds a collective may wait for a missing peer before gloo gives up.
COLLECTIVE_TIMEOUT = 120.0


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def max_world_size() -> int:
    """The most worker processes :func:`launch` starts here: two per usable CPU.

    Examples
    --------
    >>> max_world_size() >= 2
    True
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return 2 * max(cpus, 1)


def _check_world_size(world_size: object) -> int:
    world_size = _positive_int("world_size", world_size)
    limit = max_world_size()
    if world_size > limit:
        raise ValueError(
            f"world_size={world_size} is more than this machine can run: at most "
            f"{limit} processes (two per usable CPU)"
        )
    return world_size


def _free_port() -> int:
    """A TCP port nobody listens on right now, for the rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _context() -> multiprocessing.context.BaseContext:
    """Fresh worker processes, without paying torch's import for each one.

    ``spawn`` starts every worker as a new interpreter that imports torch
    again: about 2.5 s of CPU per process, 10 s for a job of four on two
    cores. ``forkserver`` starts *one* such clean interpreter (it imports this
    module, hence torch, once and runs nothing else), and every worker of
    every later job is forked from it. Workers still inherit nothing from
    the caller's process (a notebook kernel, a test runner). Where there is
    no forkserver (Windows, macOS without it) ``spawn`` is used.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # DistributedDataParallel's constructor imports torch._dynamo (and
        # sympy): 2-3 s of CPU per worker unless the server has it already.
        context.set_forkserver_preload([__name__, "torch._dynamo"])
        return context
    return multiprocessing.get_context("spawn")


class WorkerError(RuntimeError):
    """A worker process failed; the message holds its traceback.

    Attributes
    ----------
    rank : int
        The worker that failed first (the cause, not the peers it took down).
    exitcode : int
        Its exit code; ``-N`` if it was killed by signal ``N``.
    worker_traceback : str or None
        Its Python traceback, ``None`` if it was killed by a signal.
    pids : list of int
        Process ids of all the job's workers (all of them have exited).
    """

    def __init__(self, rank: int, exitcode: int, worker_traceback: str | None, pids: list[int]) -> None:
        self.rank, self.exitcode = rank, exitcode
        self.worker_traceback, self.pids = worker_traceback, pids
        if worker_traceback is not None:
            message = f"worker rank {rank} failed:\n{worker_traceback}"
        elif exitcode < 0:
            try:
                name = signal.Signals(-exitcode).name
            except ValueError:
                name = f"signal {-exitcode}"
            message = f"worker rank {rank} was killed by {name}"
        else:
            message = f"worker rank {rank} exited with code {exitcode}"
        super().__init__(message)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphans)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _worker_entry(
    rank: int, world_size: int, port: int, folder: str, fn: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    """What every worker process runs: join the group, call ``fn``, write the result."""
    _die_with_parent()
    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE=str(world_size),
        OMP_NUM_THREADS="1",
    )
    out = Path(folder)
    try:
        torch.distributed.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT),
        )
        try:
            result = fn(rank, world_size, *args)
        finally:
            torch.distributed.destroy_process_group()
        torch.save(result, out / f".result-{rank}.pt")
        os.replace(out / f".result-{rank}.pt", out / f"result-{rank}.pt")
    except BaseException:
        # time first, so the launcher can tell the first failure from its consequences
        (out / f"error-{rank}.txt").write_text(f"{time.time()!r}\n{traceback.format_exc()}")
        raise SystemExit(1) from None


def _stop(processes: Sequence[multiprocessing.process.BaseProcess]) -> None:
    """Terminate, then kill, every process still alive, and reap them all."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 5.0
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in processes:
        if p.is_alive():
            p.kill()
        p.join()


def launch(
    fn: Callable[..., Any],
    world_size: int,
    args: Sequence[Any] = (),
    *,
    timeout: float = 600.0,
) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` fresh processes.

    Each process gets one torch thread and joins a ``gloo`` process group on
    a free local port (``MASTER_ADDR``/``MASTER_PORT``/``RANK``/
    ``WORLD_SIZE``/``LOCAL_RANK`` are set as torchrun sets them), then calls
    ``fn``. Processes are started with ``spawn``, so ``fn`` and ``args`` must
    be picklable and ``fn`` importable (a module-level function).

    Parameters
    ----------
    fn : callable
        ``fn(rank, world_size, *args)``; its return value is sent back.
    world_size : int
        Number of processes, from 1 to :func:`max_world_size`.
    args : sequence
        Further arguments of ``fn``.
    timeout : float
        Seconds the whole job may take; then it is stopped and
        ``TimeoutError`` raised.

    Returns
    -------
    list
        ``fn``'s return value of every rank, in rank order.

    Raises
    ------
    ValueError
        For a world size this machine cannot run (nothing is started).
    WorkerError
        If a worker raised or died. Its traceback (or the killing signal) is
        the message; the other workers are stopped first.
    TimeoutError
        If the job outlived ``timeout``.
    """
    world_size = _check_world_size(world_size)
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    context = _context()
    folder = tempfile.mkdtemp(prefix="lrsched-launch-")
    port = _free_port()
    processes = [
        context.Process(
            target=_worker_entry,
            args=(rank, world_size, port, folder, fn, tuple(args)),
            name=f"lrsched-rank-{rank}",
            daemon=True,
        )
        for rank in range(world_size)
    ]
    try:
        for p in processes:
            p.start()
        pids = [int(p.pid) for p in processes]
        pending = {p.sentinel: rank for rank, p in enumerate(processes)}
        deadline = time.monotonic() + float(timeout)
        failed = False
        while pending and not failed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _stop(processes)
                raise TimeoutError(f"the {world_size} workers did not finish within {timeout:g} s")
            for sentinel in multiprocessing.connection.wait(list(pending), timeout=remaining):
                rank = pending.pop(sentinel)
                processes[rank].join()
                failed |= processes[rank].exitcode != 0
        if failed:
            # Ranks that died before we stopped anyone are the candidates for the cause.
            dead = [r for r, p in enumerate(processes) if not p.is_alive()]
            _stop(processes)
            raise _first_failure(processes, dead, Path(folder), pids)
        return [torch.load(Path(folder) / f"result-{rank}.pt", weights_only=False) for rank in range(world_size)]
    finally:
        _stop(processes)
        shutil.rmtree(folder, ignore_errors=True)


def _first_failure(
    processes: Sequence[multiprocessing.process.BaseProcess], dead: list[int], folder: Path, pids: list[int]
) -> WorkerError:
    """The failure that came first: a death by signal, else the earliest traceback."""
    codes = {r: processes[r].exitcode for r in dead}
    killed = [r for r in dead if codes[r] is not None and codes[r] < 0]
    if killed:  # nobody but us sends signals here, and we had sent none yet
        return WorkerError(killed[0], codes[killed[0]], None, pids)
    reports = []
    for r in dead:
        path = folder / f"error-{r}.txt"
        if codes[r] != 0 and path.exists():
            stamp, _, text = path.read_text().partition("\n")
            reports.append((float(stamp), r, text))
    if reports:
        _, rank, text = min(reports)
        return WorkerError(rank, codes[rank], text, pids)
    rank = next(r for r in dead if codes[r] != 0)
    return WorkerError(rank, codes[rank], None, pids)


# -- the DDP training job --------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run of a :func:`train_distributed` job, when it needs its own batch or length.

    Parameters
    ----------
    schedule : Schedule
        The learning rate as a function of the global optimizer step.
    global_batch_size : int, optional
        Examples per optimizer step over all workers (the job's default if
        omitted).
    steps : int, optional
        Optimizer steps (the job's default if omitted).
    """

    schedule: Schedule
    global_batch_size: int | None = None
    steps: int | None = None


@dataclass
class RankRecord:
    """What one worker reports about one training run.

    Attributes
    ----------
    name : str
        The run's name.
    seed : int
        The seed as written by the caller; ``effective_seed`` adds
        ``LRSCHED_SEED_OFFSET``.
    effective_seed : int
    rank, world_size : int
    global_batch_size, steps : int
    lr : numpy.ndarray
        The learning rate every optimizer step used, read from the optimizer
        before the step (``lr[t]`` is :math:`\\eta_t`), over the whole run,
        including steps done by an earlier job before a resume.
    loss : numpy.ndarray
        The training loss of every step, averaged over the *global* batch.
    weights_sha256 : str
        SHA-256 of the final weights' bytes (equal on every rank under DDP).
    state_dict : dict
        The final weights.
    test_accuracy, val_accuracy, final_train_loss : float
        At the final weights: test and validation accuracy, and the loss
        over the full training set (``nan`` if there is no validation part).
    failed : bool
        Non-finite final loss, or test accuracy below twice chance.
    resumed_from : int or None
        The checkpoint step this job started from.
    seconds, cpu_seconds : float
        Wall and CPU time of this job's training loop for the run, on this
        worker.
    """

    name: str
    seed: int
    effective_seed: int
    rank: int
    world_size: int
    global_batch_size: int
    steps: int
    lr: np.ndarray
    loss: np.ndarray
    weights_sha256: str
    state_dict: dict[str, torch.Tensor]
    test_accuracy: float
    val_accuracy: float
    final_train_loss: float
    failed: bool
    resumed_from: int | None
    seconds: float
    cpu_seconds: float


@dataclass
class DistributedResult:
    """Every worker's :class:`RankRecord` of one :func:`train_distributed` job.

    Attributes
    ----------
    records : list of RankRecord
        One per (run, seed, rank), in that order.
    world_size : int
    wall_seconds : float
        Wall time of the whole job, process start-up included.
    """

    records: list[RankRecord]
    world_size: int
    wall_seconds: float

    def select(self, name: str | None = None, seed: int | None = None, rank: int | None = None) -> list[RankRecord]:
        """The records matching every given key, in (run, seed, rank) order."""
        return [
            r
            for r in self.records
            if (name is None or r.name == name)
            and (seed is None or r.seed == seed)
            and (rank is None or r.rank == rank)
        ]

    def runs(self) -> "pandas.DataFrame":  # noqa: F821
        """One row per (run, seed): rank 0's final metrics."""
        import pandas as pd

        columns = ("world_size", "global_batch_size", "steps", "test_accuracy", "val_accuracy", "final_train_loss", "failed")
        rows = [{"run": r.name, "seed": r.seed, **{c: getattr(r, c) for c in columns}} for r in self.select(rank=0)]
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs, sent to it once (picklable)."""

    runs: tuple[tuple[str, Run], ...]  # every Run complete (batch and steps set)
    seeds: tuple[tuple[int, int], ...]  # (seed as written, seed + offset)
    accumulation_steps: int
    momentum: float
    hidden: int
    data: DigitsSplit
    checkpoint_dir: str | None
    checkpoint_every: int
    resume: bool
    kill_at_step: int | None


def _sha256(state: Mapping[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name, tensor in state.items():
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _metrics(model: torch.nn.Module, data: DigitsSplit) -> tuple[float, float, float]:
    """Test accuracy, validation accuracy, full training-set loss."""

    def accuracy(x: torch.Tensor | None, y: torch.Tensor | None) -> float:
        if x is None or y is None or len(y) == 0:
            return math.nan
        return (model(x).argmax(dim=1) == y).double().mean().item()

    model.eval()
    with torch.no_grad():
        test = accuracy(data.x_test, data.y_test)
        val = accuracy(getattr(data, "x_val", None), getattr(data, "y_val", None))
        train_loss = F.cross_entropy(model(data.x_train), data.y_train).item()
    model.train()
    return test, val, train_loss


class _Checkpointer:
    """Saves a run every ``every`` steps, with its record so far; resumes it."""

    def __init__(self, job: _Job, name: str, seed: int) -> None:
        self.every = job.checkpoint_every
        self.folder = None
        if job.checkpoint_dir is not None:
            self.folder = Path(job.checkpoint_dir) / f"{name}-seed{seed}"

    def resume(self, objects: dict[str, Any], seed: int) -> tuple[int, list[float], list[float]]:
        latest = latest_checkpoint(self.folder) if self.folder else None
        if latest is None:
            return 0, [], []
        info = load_checkpoint(latest, **objects, allow_new_world_size=True, seed=seed)
        return info.step, info.extra["lr"].tolist(), info.extra["loss"].tolist()

    def due(self, done: int) -> bool:
        return self.folder is not None and bool(self.every) and done % self.every == 0

    def save(self, done: int, objects: dict[str, Any], lr: list[float], loss: list[float]) -> None:
        history = {"lr": torch.tensor(lr, dtype=torch.float64), "loss": torch.tensor(loss, dtype=torch.float64)}
        save_checkpoint(self.folder, done, **objects, extra=history)


def _global_mean(pending: list[torch.Tensor], world_size: int) -> list[float]:
    """The global-batch losses of the steps in ``pending`` (emptied), in one all-reduce."""
    if not pending:
        return []
    total = torch.stack(pending)
    pending.clear()
    torch.distributed.all_reduce(total)  # one collective for many steps
    return (total / world_size).tolist()


def _train_run(rank: int, world_size: int, job: _Job, name: str, run: Run, seed: int, seed_used: int) -> RankRecord:
    """One DDP training run on this worker."""
    torch.manual_seed(seed_used)  # the same initial weights on every rank
    model = TinyMLP(hidden=job.hidden)
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0, momentum=job.momentum)
    scheduler = ScheduledLR(optimizer, run.schedule)  # lr = schedule(t)
    x, y = job.data.x_train, job.data.y_train
    sampler = ResumableDistributedSampler(len(y), run.global_batch_size, world_size, rank, seed=seed_used)
    objects = dict(model=model, optimizer=optimizer, scheduler=scheduler, sampler=sampler)
    checkpoints = _Checkpointer(job, name, seed)
    start, lr, losses = 0, [], []
    if job.resume:
        start, lr, losses = checkpoints.resume(objects, seed_used)
    micro = run.global_batch_size // world_size // job.accumulation_steps
    batches, pending = sampler.batches(), []
    clock, cpu = time.perf_counter(), time.process_time()
    for step in range(start, run.steps):
        idx = torch.tensor(next(batches))  # my share of global batch t
        lr.append(optimizer.param_groups[0]["lr"])  # eta_t
        parts = idx.split(micro)  # micro-batches
        step_loss = torch.zeros((), dtype=torch.float64)
        for k, part in enumerate(parts):
            # gradients are all-reduced (averaged) after the last one only
            last = k == len(parts) - 1
            with contextlib.nullcontext() if last else ddp.no_sync():
                loss = F.cross_entropy(ddp(x[part]), y[part]) / len(parts)
                loss.backward()
            step_loss += loss.detach()
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()  # once per optimizer step, on every rank
        pending.append(step_loss)  # this rank's loss; averaged below
        if checkpoints.due(step + 1):
            losses += _global_mean(pending, world_size)
            checkpoints.save(step + 1, objects, lr, losses)
        if job.kill_at_step == step + 1 and rank == world_size - 1:
            os.kill(os.getpid(), signal.SIGKILL)  # preempted
    losses += _global_mean(pending, world_size)
    seconds, cpu = time.perf_counter() - clock, time.process_time() - cpu

    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    test, val, train_loss = _metrics(model, job.data)
    failed = not math.isfinite(train_loss) or not test >= 0.2  # 2x chance of 10 classes
    return RankRecord(
        name=name, seed=seed, effective_seed=seed_used, rank=rank, world_size=world_size,
        global_batch_size=run.global_batch_size, steps=run.steps,
        lr=np.array(lr, dtype=np.float64), loss=np.array(losses, dtype=np.float64),
        weights_sha256=_sha256(state), state_dict=state, test_accuracy=test, val_accuracy=val,
        final_train_loss=train_loss, failed=failed, resumed_from=start if start else None, seconds=seconds,
        cpu_seconds=cpu,
    )


def _train_worker(rank: int, world_size: int, job: _Job) -> list[RankRecord]:
    return [
        _train_run(rank, world_size, job, name, run, seed, seed_used)
        for name, run in job.runs
        for seed, seed_used in job.seeds
    ]


def _complete_runs(
    runs: Schedule | Mapping[str, Schedule | Run],
    steps: int | None,
    global_batch_size: int | None,
    world_size: int,
    accumulation_steps: int,
    n_train: int,
) -> tuple[tuple[str, Run], ...]:
    """Every run with its batch and length filled in and checked."""
    if isinstance(runs, Schedule):
        runs = {"schedule": runs}
    if not isinstance(runs, Mapping) or not runs:
        raise TypeError(f"runs must be a Schedule or a non-empty mapping of names to Schedules or Runs, got {runs!r}")
    complete = []
    for name, run in runs.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"run names must be non-empty strings without '/', got {name!r}")
        if isinstance(run, Schedule):
            run = Run(run)
        if not isinstance(run, Run) or not isinstance(run.schedule, Schedule):
            raise TypeError(f"runs[{name!r}] must be an lrsched Schedule or a Run over one, got {run!r}")
        batch = global_batch_size if run.global_batch_size is None else run.global_batch_size
        length = steps if run.steps is None else run.steps
        if batch is None or length is None:
            raise ValueError(f"runs[{name!r}] needs a global_batch_size and steps (of its own or the job's)")
        batch = _positive_int(f"global_batch_size of {name!r}", batch)
        length = _positive_int(f"steps of {name!r}", length)
        parts = world_size * accumulation_steps
        if batch % parts:
            raise ValueError(
                f"global_batch_size={batch} of {name!r} does not divide across world_size={world_size} "
                f"x accumulation_steps={accumulation_steps} = {parts} equal micro-batches"
            )
        if batch > n_train:
            raise ValueError(f"global_batch_size={batch} of {name!r} exceeds the {n_train} training images")
        complete.append((name, Run(run.schedule, batch, length)))
    return tuple(complete)


def train_distributed(
    runs: Schedule | Mapping[str, Schedule | Run],
    world_size: int,
    *,
    steps: int | None = None,
    global_batch_size: int | None = None,
    seeds: Sequence[int] = (0,),
    accumulation_steps: int = 1,
    momentum: float = 0.9,
    hidden: int = 64,
    data: DigitsSplit | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    kill_at_step: int | None = None,
    timeout: float = 600.0,
) -> DistributedResult:
    r"""Train the digits MLP with DDP on ``world_size`` CPU workers.

    Every (run, seed) pair is one training run; all of them happen one
    after the other inside the same worker processes, so starting the
    processes is paid once per call. In each run:

    * every rank builds the same :class:`~lrsched.lab.TinyMLP` from the seed,
      SGD with momentum at ``lr = schedule(t)`` for global step ``t``
      (through :class:`lrsched.ScheduledLR`, stepped once per optimizer
      step), and a :class:`~lrsched.checkpoint.ResumableDistributedSampler`;
    * each step, rank ``r`` takes its ``global_batch_size / world_size``
      examples of the global batch, in ``accumulation_steps`` micro-batches
      (gradients all-reduced once, after the last), and steps.

    The global batch of each step holds the same examples at any world size,
    so runs at different world sizes differ only in how the gradient's sum
    is split and rounded.

    Parameters
    ----------
    runs : Schedule or dict[str, Schedule | Run]
        The learning rate as a function of the global optimizer step; a
        :class:`Run` may also set its own global batch and length.
    world_size : int
        Number of workers, 1 to :func:`max_world_size`.
    steps : int, optional
        Optimizer steps of every run that does not set its own.
    global_batch_size : int, optional
        Examples per optimizer step over all workers, for every run that does
        not set its own; must be a multiple of ``world_size *
        accumulation_steps``.
    seeds : sequence of int
        Every run is trained once per seed; ``LRSCHED_SEED_OFFSET`` is added
        (initial weights and data order).
    accumulation_steps : int
        Micro-batches per optimizer step on each worker.
    momentum : float
        SGD momentum.
    hidden : int
        Width of the MLP's hidden layer.
    data : DigitsSplit, optional
        :func:`~lrsched.lab.load_digits_split` by default.
    checkpoint_dir : path, optional
        Save checkpoints to ``checkpoint_dir/<run>-seed<seed>/``.
    checkpoint_every : int
        Save after every this many steps (0: never).
    resume : bool
        Start each run from its latest checkpoint, if there is one; a
        checkpoint from another world size is accepted (random generators
        re-seeded; the lab's model draws none while training).
    kill_at_step : int, optional
        Simulated preemption: after this many steps (and the checkpoint of
        that step, if one is due) the last rank SIGKILLs itself, and the call
        raises :class:`WorkerError`.
    timeout : float
        Seconds the whole job may take.

    Returns
    -------
    DistributedResult

    Raises
    ------
    ValueError
        Before anything starts, for a world size this machine cannot run, a
        global batch that does not divide into ``world_size *
        accumulation_steps`` equal parts or exceeds the training set, or
        other invalid arguments.
    WorkerError
        If a worker fails (with its traceback) or is killed.

    Examples
    --------
    >>> import lrsched
    >>> result = train_distributed(
    ...     lrsched.Constant(0.1), world_size=2, steps=5,
    ...     global_batch_size=32)                    # doctest: +SKIP
    >>> len(result.select(rank=1)[0].lr)           # doctest: +SKIP
    5
    """
    world_size = _check_world_size(world_size)
    accumulation_steps = _positive_int("accumulation_steps", accumulation_steps)
    hidden = _positive_int("hidden", hidden)
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    data = load_digits_split() if data is None else data
    if not isinstance(data, DigitsSplit):
        raise TypeError(f"data must be a DigitsSplit, got {type(data).__name__}")
    complete = _complete_runs(runs, steps, global_batch_size, world_size, accumulation_steps, len(data.y_train))
    seeds = tuple(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty sequence of distinct ints, got {seeds!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seeds must be non-negative ints, got {seed!r}")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, numbers.Integral) or checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be an int >= 0, got {checkpoint_every!r}")
    if (checkpoint_every or resume) and checkpoint_dir is None:
        raise ValueError("checkpoint_every and resume need a checkpoint_dir")
    longest = max(run.steps for _, run in complete)
    if kill_at_step is not None:
        if isinstance(kill_at_step, bool) or not isinstance(kill_at_step, numbers.Integral) or not 1 <= kill_at_step <= longest:
            raise ValueError(f"kill_at_step must be an int in [1, steps={longest}], got {kill_at_step!r}")
    offset = seed_offset()
    job = _Job(
        runs=complete,
        seeds=tuple((int(s), int(s) + offset) for s in seeds),
        accumulation_steps=accumulation_steps,
        momentum=float(momentum),
        hidden=hidden,
        data=data,
        checkpoint_dir=None if checkpoint_dir is None else os.fspath(checkpoint_dir),
        checkpoint_every=int(checkpoint_every),
        resume=bool(resume),
        kill_at_step=None if kill_at_step is None else int(kill_at_step),
    )
    clock = time.perf_counter()
    per_rank = launch(_train_worker, world_size, (job,), timeout=timeout)
    wall = time.perf_counter() - clock
    n = len(job.runs) * len(job.seeds)
    records = [per_rank[rank][i] for i in range(n) for rank in range(world_size)]
    return DistributedResult(records=records, world_size=world_size, wall_seconds=wall)


# -- what Hugging Face Accelerate's prepared scheduler does ----------------------------------


def _accelerate_worker(
    rank: int, world_size: int, schedule: Schedule, steps: int, split_batches: bool,
    step_with_optimizer: bool, accumulation_steps: int,
) -> np.ndarray:
    """Train a toy model through ``accelerate.Accelerator`` and record the lr of every optimizer step."""
    import warnings

    from accelerate import Accelerator, DataLoaderConfiguration

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its notes about CPU threads
        accelerator = Accelerator(
            cpu=True,
            dataloader_config=DataLoaderConfiguration(split_batches=split_batches),
            step_scheduler_with_optimizer=step_with_optimizer,
            gradient_accumulation_steps=accumulation_steps,
        )
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = ScheduledLR(optimizer, schedule)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    used = []
    for _ in range(steps * accumulation_steps):  # the loop of Accelerate's documentation
        with accelerator.accumulate(model):
            loss = F.mse_loss(model(torch.ones(8, 4)), torch.zeros(8, 2))
            accelerator.backward(loss)
            if accelerator.sync_gradients:  # this micro-batch ends an optimizer step
                used.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
    return np.array(used, dtype=np.float64)


def accelerate_lrs(
    schedule: Schedule,
    world_size: int,
    steps: int,
    *,
    split_batches: bool = False,
    step_with_optimizer: bool = True,
    accumulation_steps: int = 1,
    timeout: float = 300.0,
) -> list[np.ndarray]:
    """The lr of every optimizer step under Hugging Face Accelerate, per rank.

    Launches ``world_size`` workers that each build ``accelerate.Accelerator``
    (CPU, gloo), ``prepare`` a toy model, SGD and an lrsched scheduler over
    ``schedule``, and run the training loop of Accelerate's documentation:
    ``optimizer.step(); scheduler.step(); optimizer.zero_grad()`` on every
    micro-batch inside ``accelerator.accumulate``. Requires ``accelerate``.

    Parameters
    ----------
    schedule : Schedule
        What the wrapped scheduler follows.
    world_size : int
        Number of processes.
    steps : int
        Optimizer steps to record.
    split_batches, step_with_optimizer, accumulation_steps
        Accelerate's ``DataLoaderConfiguration(split_batches=...)``,
        ``Accelerator(step_scheduler_with_optimizer=...,
        gradient_accumulation_steps=...)``.

    Returns
    -------
    list of numpy.ndarray
        Per rank, the lr each of the ``steps`` optimizer steps used.
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be an lrsched Schedule, got {type(schedule).__name__}")
    steps = _positive_int("steps", steps)
    accumulation_steps = _positive_int("accumulation_steps", accumulation_steps)
    for name, flag in (("split_batches", split_batches), ("step_with_optimizer", step_with_optimizer)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {flag!r}")
    args = (schedule, steps, split_batches, step_with_optimizer, accumulation_steps)
    return launch(_accelerate_worker, world_size, args, timeout=timeout)
