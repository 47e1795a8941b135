r"""Checkpoints that resume a run exactly, on one process or many.

A run resumes *exactly* only if everything that decides the next step is
saved: the weights, the optimizer (momentum buffers, step counts), the
scheduler (its step counter: the learning rate is a closed form
:math:`\eta_t` of the global optimizer step :math:`t`), the position in the
data order, and the random number generators. Forget one and the resumed run
still trains, slightly differently, and nobody notices. This module saves all
of them and refuses to restore a checkpoint into a setup it does not fit.

Two pieces:

* :class:`ResumableDistributedSampler` -- the data order as a function of
  ``(seed, epoch)`` only, split across workers *per global batch*, with its
  position (epoch, samples consumed) as state. The global batch of step
  :math:`t` is the same set of examples on 1, 2 or 4 workers, so a run can
  even resume on a different number of workers.
* :func:`save_checkpoint` / :func:`load_checkpoint` /
  :func:`latest_checkpoint` -- one directory per checkpoint, written under a
  temporary name and renamed when complete, so a job killed while saving
  leaves the previous checkpoint as the latest.

Why rank-0 state dicts and not ``torch.distributed.checkpoint``
---------------------------------------------------------------
Under DistributedDataParallel every worker holds the *whole* model and
optimizer state, identical on all ranks after every step (Li et al. 2020).
Rank 0's ``state_dict()`` is therefore the complete state; one ``torch.save``
file of it loads with plain ``torch.load(weights_only=True)`` on any number of
workers, including a laptop with none. ``torch.distributed.checkpoint`` (DCP)
earns its keep when no rank holds everything -- FSDP or tensor-parallel
shards -- or when a model is so large that every rank should write its part
in parallel; for replicated state it would add a multi-file sharded format
and a load that needs the process group, and buy nothing. What *does* differ
between ranks is the random number generators, so every rank writes its own
small ``rng-<rank>.pt`` next to rank 0's ``state.pt``.

Examples
--------
>>> import tempfile, torch
>>> import lrsched
>>> from lrsched.checkpoint import (
...     ResumableDistributedSampler, latest_checkpoint, load_checkpoint,
...     save_checkpoint)
>>> model = torch.nn.Linear(4, 2)
>>> opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
>>> sched = lrsched.ScheduledLR(opt, lrsched.CosineDecay(100, max_lr=0.1))
>>> sampler = ResumableDistributedSampler(10, global_batch_size=4)
>>> batches = iter(sampler)
>>> first = next(batches)
>>> with tempfile.TemporaryDirectory() as root:
...     _ = save_checkpoint(root, 1, model=model, optimizer=opt,
...                         scheduler=sched, sampler=sampler)
...     sampler2 = ResumableDistributedSampler(10, global_batch_size=4)
...     info = load_checkpoint(latest_checkpoint(root), model=model,
...                            optimizer=opt, scheduler=sched,
...                            sampler=sampler2)
>>> info.step, next(iter(sampler2)) == next(batches)
(1, True)

References
----------
S. Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training", PVLDB 13(12), 2020.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from . import _checks

__all__ = [
    "Checkpoint",
    "ResumableDistributedSampler",
    "latest_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]

_STEP_DIR = re.compile(r"^step-(\d{9})$")


def _world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class ResumableDistributedSampler(Sampler[list[int]]):
    """This worker's share of every global batch, resumable mid-epoch.

    Epoch :math:`e` visits the examples in the order
    ``torch.randperm(dataset_size, generator=Generator().manual_seed(seed + e))``
    and cuts it into global batches of ``global_batch_size`` (an incomplete
    last batch is dropped). Worker ``rank`` of ``num_replicas`` gets the
    ``rank``-th contiguous slice of each global batch. The global batch of
    every step is therefore the same set of examples whatever the number of
    workers, and the order depends on nothing but ``seed`` and the epoch.

    Iterating yields this worker's index lists from the current position to
    the end of the epoch, then moves to the next epoch by itself (unlike
    torch's ``DistributedSampler``, there is no ``set_epoch`` to forget).
    The position advances as each batch is handed out, so
    :meth:`state_dict` taken after ``k`` batches resumes at batch ``k + 1``.
    Use it as it is, or as a ``DataLoader``'s ``batch_sampler`` with
    ``num_workers=0`` (loader workers would fetch ahead of the position).

    Parameters
    ----------
    dataset_size : int
        Number of examples.
    global_batch_size : int
        Examples per optimizer step summed over all workers; must be a
        multiple of ``num_replicas`` and at most ``dataset_size``.
    num_replicas, rank : int, optional
        Number of workers and this worker's index; by default those of the
        initialised process group (1 and 0 without one).
    seed : int
        Seed of the data order.
    shuffle : bool
        ``False`` visits the examples in index order every epoch.

    Examples
    --------
    >>> a = ResumableDistributedSampler(8, 4, num_replicas=2, rank=0)
    >>> b = ResumableDistributedSampler(8, 4, num_replicas=2, rank=1)
    >>> one = ResumableDistributedSampler(8, 4, num_replicas=1, rank=0)
    >>> [x + y for x, y in zip(a, b)] == list(one)  # same global batches
    True
    >>> a.state_dict()
    {'epoch': 1, 'position': 0, 'seed': 0, 'dataset_size': 8, \
'global_batch_size': 4, 'shuffle': True}
    """

    def __init__(
        self,
        dataset_size: int,
        global_batch_size: int,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        group_rank, group_size = _world()
        self.dataset_size = _checks.integer("dataset_size", dataset_size, minimum=1)
        self.global_batch_size = _checks.integer("global_batch_size", global_batch_size, minimum=1)
        self.num_replicas = _checks.integer(
            "num_replicas", group_size if num_replicas is None else num_replicas, minimum=1
        )
        self.rank = _checks.integer("rank", group_rank if rank is None else rank, minimum=0)
        self.seed = _checks.integer("seed", seed)
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
        self.shuffle = shuffle
        if self.rank >= self.num_replicas:
            raise ValueError(f"rank must be < num_replicas={self.num_replicas}, got rank={self.rank}")
        if self.global_batch_size % self.num_replicas:
            raise ValueError(
                f"global_batch_size={self.global_batch_size} does not divide across "
                f"num_replicas={self.num_replicas} workers"
            )
        if self.global_batch_size > self.dataset_size:
            raise ValueError(
                f"global_batch_size={self.global_batch_size} exceeds dataset_size={self.dataset_size}"
            )
        self.local_batch_size = self.global_batch_size // self.num_replicas
        self.batches_per_epoch = self.dataset_size // self.global_batch_size
        self.epoch = 0
        self.position = 0  # examples of the current epoch already handed out (all workers)

    def order(self, epoch: int) -> torch.Tensor:
        """The visiting order of ``epoch``: a permutation of ``range(dataset_size)``."""
        if not self.shuffle:
            return torch.arange(self.dataset_size)
        generator = torch.Generator().manual_seed(self.seed + int(epoch))
        return torch.randperm(self.dataset_size, generator=generator)

    def __iter__(self) -> Iterator[list[int]]:
        end = self.batches_per_epoch * self.global_batch_size
        if self.position >= end:  # (epoch e, end) is the same place as (e + 1, 0)
            self.epoch, self.position = self.epoch + 1, 0
        order = self.order(self.epoch)
        while self.position < end:
            start = self.position + self.rank * self.local_batch_size
            batch = order[start : start + self.local_batch_size].tolist()
            self.position += self.global_batch_size
            yield batch
        self.epoch, self.position = self.epoch + 1, 0  # epoch done: the next one starts

    def __len__(self) -> int:
        """Batches left in the current epoch."""
        return self.batches_per_epoch - self.position // self.global_batch_size

    def batches(self) -> Iterator[list[int]]:
        """This worker's batches forever, epoch after epoch."""
        while True:
            yield from self

    def state_dict(self) -> dict[str, Any]:
        """Position and configuration, as plain numbers (the same on every rank)."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "dataset_size": self.dataset_size,
            "global_batch_size": self.global_batch_size,
            "shuffle": self.shuffle,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; any number of workers may load it.

        Raises ``ValueError`` if the saved run used another dataset size,
        global batch, seed or shuffling: the data order would silently change.
        """
        for key in ("dataset_size", "global_batch_size", "seed", "shuffle"):
            if state[key] != getattr(self, key):
                raise ValueError(
                    f"sampler state has {key}={state[key]!r}, this sampler has "
                    f"{key}={getattr(self, key)!r}: resuming would change the data order"
                )
        position = _checks.integer("position", state["position"], minimum=0)
        if position % self.global_batch_size:
            raise ValueError(f"position={position} is not a whole number of global batches")
        self.epoch = _checks.integer("epoch", state["epoch"], minimum=0)
        self.position = position

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(rank={self.rank}/{self.num_replicas}, "
            f"global_batch_size={self.global_batch_size}, epoch={self.epoch}, "
            f"position={self.position})"
        )


# -- random number generators ----------------------------------------------------------------


def _rng_state() -> dict[str, Any]:
    """This process's generators, as tensors and plain numbers (``weights_only`` safe)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "state": list(py_state), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- save / load -----------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` restored.

    Attributes
    ----------
    path : pathlib.Path
        The checkpoint directory.
    step : int
        Optimizer steps completed when it was saved.
    world_size : int
        Number of workers that saved it.
    rng_restored : bool
        ``False`` when resuming on another number of workers with
        ``allow_new_world_size=True``: the generators were re-seeded instead.
    extra : dict
        Whatever the caller saved alongside (histories, configuration).
    """

    path: Path
    step: int
    world_size: int
    rng_restored: bool
    extra: dict[str, Any] = field(default_factory=dict)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DistributedDataParallel (or DataParallel) wrapper."""
    return getattr(model, "module", model)


def _schedule_id(scheduler: Any) -> str | None:
    schedule = getattr(scheduler, "schedule", None)
    return None if schedule is None else repr(schedule)


def save_checkpoint(
    directory: str | os.PathLike[str],
    step: int,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
    sampler: ResumableDistributedSampler | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save everything a run needs to continue exactly, as ``directory/step-<step>``.

    Call it on every rank at the same step (it synchronises them with
    barriers when a process group is initialised). Rank 0 writes
    ``state.pt`` (model, optimizer, scheduler, sampler, ``extra``); every rank
    writes its random generators to ``rng-<rank>.pt``. The files go into a
    temporary directory that is renamed when all ranks are done, so a job
    killed mid-save never leaves a half-written checkpoint behind as the
    latest one.

    Parameters
    ----------
    directory : path
        Where the run's checkpoints live (created if missing).
    step : int
        Optimizer steps completed so far; names the checkpoint.
    model : torch.nn.Module
        The model, wrapped in DistributedDataParallel or not (the unwrapped
        module's ``state_dict`` is saved, so it loads anywhere).
    optimizer : torch.optim.Optimizer
    scheduler : LRScheduler, optional
        Anything with ``state_dict``. For an lrsched scheduler the schedule's
        ``repr`` is saved too, and :func:`load_checkpoint` refuses another.
    sampler : ResumableDistributedSampler, optional
    extra : dict, optional
        Anything else ``torch.save`` can write (histories, configuration);
        saved by rank 0.

    Returns
    -------
    pathlib.Path
        The checkpoint directory.
    """
    step = _checks.integer("step", step, minimum=0)
    rank, world_size = _world()
    root = Path(directory)
    final = root / f"step-{step:09d}"
    partial = root / f".step-{step:09d}.partial"
    if rank == 0:
        root.mkdir(parents=True, exist_ok=True)
        if partial.exists():  # left over from a job killed while saving
            shutil.rmtree(partial)
        partial.mkdir()
    if world_size > 1:
        dist.barrier()
    torch.save(_rng_state(), partial / f"rng-{rank}.pt")
    if rank == 0:
        state = {
            "step": step,
            "world_size": world_size,
            "model": _unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": None if scheduler is None else scheduler.state_dict(),
            "schedule": _schedule_id(scheduler),
            "sampler": None if sampler is None else sampler.state_dict(),
            "extra": dict(extra or {}),
        }
        torch.save(state, partial / "state.pt")
    if world_size > 1:
        dist.barrier()
    if rank == 0:
        if final.exists():
            shutil.rmtree(final)
        os.replace(partial, final)  # atomic: the checkpoint appears complete or not at all
    if world_size > 1:
        dist.barrier()
    return final


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The complete checkpoint with the most steps in ``directory``, or ``None``."""
    root = Path(directory)
    if not root.is_dir():
        return None
    steps = [
        (int(m.group(1)), p)
        for p in root.iterdir()
        if (m := _STEP_DIR.match(p.name)) and (p / "state.pt").is_file()
    ]
    return max(steps)[1] if steps else None


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
    sampler: ResumableDistributedSampler | None = None,
    allow_new_world_size: bool = False,
    seed: int = 0,
) -> Checkpoint:
    """Restore a checkpoint written by :func:`save_checkpoint`, on every rank.

    Build the model, optimizer, scheduler and sampler exactly as for a fresh
    run, then call this; training continues at step ``Checkpoint.step``.

    Parameters
    ----------
    path : path
        A checkpoint directory (e.g. from :func:`latest_checkpoint`).
    model, optimizer, scheduler, sampler
        The objects to restore into (the same kinds that were saved; a
        scheduler or sampler that was saved must be given, and vice versa).
    allow_new_world_size : bool
        Model, optimizer, scheduler and sampler states do not depend on the
        number of workers, but the random generators are per rank. By
        default a checkpoint saved by another number of workers is refused;
        with ``True`` it is restored and every rank's generators are seeded
        with ``seed + step * 1000 + rank`` instead (``rng_restored=False``).
    seed : int
        Base of that re-seeding.

    Returns
    -------
    Checkpoint

    Raises
    ------
    ValueError
        If the directory is not a complete checkpoint, was saved by another
        number of workers (unless allowed), or with a different schedule, or
        if what was saved and what is given to restore do not match.
    """
    path = Path(path)
    if not (path / "state.pt").is_file():
        raise ValueError(f"path={str(path)!r} is not a complete checkpoint (no state.pt)")
    rank, world_size = _world()
    state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    saved_world = int(state["world_size"])
    if saved_world != world_size and not allow_new_world_size:
        raise ValueError(
            f"checkpoint {path.name} was saved by {saved_world} workers, this job has "
            f"world_size={world_size}; pass allow_new_world_size=True to resume anyway "
            "(the random generators are then re-seeded)"
        )
    for name, given in (("scheduler", scheduler), ("sampler", sampler)):
        if (state[name] is None) != (given is None):
            saved = "saved" if state[name] is not None else "not saved"
            raise ValueError(f"{name} was {saved} in {path.name}, but {name}={given!r} was given")
    if scheduler is not None and state["schedule"] is not None:
        current = _schedule_id(scheduler)
        if current is not None and current != state["schedule"]:
            raise ValueError(
                f"checkpoint {path.name} was saved with schedule {state['schedule']}, "
                f"the scheduler given follows {current}"
            )
    _unwrap(model).load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if sampler is not None:
        sampler.load_state_dict(state["sampler"])
    step = int(state["step"])
    rng_file = path / f"rng-{rank}.pt"
    if saved_world == world_size:
        _set_rng_state(torch.load(rng_file, weights_only=True))
        restored = True
    else:
        mixed = _checks.integer("seed", seed) + step * 1000 + rank
        torch.manual_seed(mixed)
        np.random.seed(mixed % 2**32)
        random.seed(mixed)
        restored = False
    return Checkpoint(path=path, step=step, world_size=saved_world, rng_restored=restored, extra=state["extra"])
