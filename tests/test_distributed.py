"""The distributed launcher, the resumable sampler and checkpoints.

Expected learning rates come from the schedules' formulas written out here in
numpy (warmup-then-cosine, SGDR restarts), not from lrsched. The workers are
real processes in a gloo group; every test that makes one fail also checks
that no worker process is left behind.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch

import lrsched
import lrsched.lab.distributed as distributed
from lrsched.checkpoint import (
    ResumableDistributedSampler,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from lrsched.lab import load_digits_split
from lrsched.lab.distributed import WorkerError, accelerate_lrs, max_world_size, train_distributed

PEAK, WARMUP, T = 0.2, 6, 24


def warmup_cosine_formula(t: np.ndarray) -> np.ndarray:
    """Linear warmup 0 -> PEAK over WARMUP steps, then half a cosine to 0 at T."""
    t = np.asarray(t, dtype=np.float64)
    cosine = 0.5 * PEAK * (1 + np.cos(np.pi * np.clip((t - WARMUP) / (T - WARMUP), 0, 1)))
    return np.where(t < WARMUP, PEAK * t / WARMUP, cosine)


def restarts_formula(t: np.ndarray, cycle: int, warm: int, peak: float) -> np.ndarray:
    """SGDR with a fixed cycle length, linear warmup at the start of each cycle, floor 0."""
    s = np.asarray(t, dtype=np.float64) % cycle
    return np.where(s < warm, peak * s / warm, 0.5 * peak * (1 + np.cos(np.pi * (s - warm) / (cycle - warm))))


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


def _forkserver_or_tracker(proc: psutil.Process) -> bool:
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return True  # already gone
    return "forkserver" in cmd or "resource_tracker" in cmd


def assert_no_workers_left(pids=()) -> None:
    """No worker pid alive, and no descendant but multiprocessing's forkserver / resource tracker."""
    for pid in pids:
        if psutil.pid_exists(pid):
            try:
                assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE and False, f"worker {pid} alive"
            except psutil.NoSuchProcess:
                pass
    left = [p for p in psutil.Process().children(recursive=True) if not _forkserver_or_tracker(p)]
    assert not left, f"processes left behind: {[(p.pid, p.name()) for p in left]}"


# -- refused before anything starts ----------------------------------------------------------


@pytest.fixture
def no_start(monkeypatch):
    """Make starting any process an error, so a ValueError proves nothing started."""

    def refuse():
        raise AssertionError("a process was started")

    monkeypatch.setattr(distributed, "_context", refuse)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"world_size": 10**6}, "more than this machine can run"),
        ({"world_size": 0}, "world_size must be a positive int"),
        ({"world_size": True}, "world_size must be a positive int"),
        ({"world_size": 2, "global_batch_size": 33}, "does not divide across world_size=2"),
        ({"world_size": 2, "global_batch_size": 32, "accumulation_steps": 3}, "x accumulation_steps=3"),
        ({"world_size": 1, "global_batch_size": 4096}, r"exceeds the \d+ training images"),
        ({"world_size": 1, "kill_at_step": 0}, "kill_at_step must be"),
        ({"world_size": 1, "resume": True}, "need a checkpoint_dir"),
        ({"world_size": 1, "seeds": (0, 0)}, "distinct"),
        ({"world_size": 1, "momentum": 1.0}, "momentum must be in"),
    ],
)
def test_bad_jobs_are_refused_before_anything_starts(no_start, data, kwargs, message):
    args = {"steps": 5, "global_batch_size": 32, "data": data, **kwargs}
    world_size = args.pop("world_size")
    with pytest.raises(ValueError, match=message):
        train_distributed(lrsched.Constant(0.1), world_size, **args)


def test_max_world_size_is_two_per_cpu(no_start):
    assert max_world_size() == 2 * len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match=f"at most {max_world_size()} processes"):
        distributed.launch(print, max_world_size() + 1)
    with pytest.raises(TypeError, match="must be an lrsched Schedule or a Run"):
        train_distributed({"x": lambda t: 0.1}, 1, steps=1, global_batch_size=8)


# -- the sampler -----------------------------------------------------------------------------


def test_sampler_global_batches_do_not_depend_on_world_size():
    n, batch = 103, 12
    reference = [b for _, b in zip(range(20), ResumableDistributedSampler(n, batch, 1, 0, seed=5).batches())]
    for world in (2, 3, 4):
        shards = [ResumableDistributedSampler(n, batch, world, r, seed=5).batches() for r in range(world)]
        for step in range(20):
            glued = [i for shard in shards for i in next(shard)]
            assert glued == reference[step], (world, step)
    # each epoch: 8 full batches of a permutation seeded by seed + epoch, the 7 left over dropped
    for epoch in range(2):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(5 + epoch)).tolist()
        assert sum(reference[8 * epoch : 8 * epoch + 8], []) == order[:96]


def test_sampler_resumes_mid_epoch_and_refuses_another_order():
    a = ResumableDistributedSampler(50, 10, 2, 1, seed=3)
    stream = a.batches()
    for _ in range(7):  # into the second epoch
        next(stream)
    state = a.state_dict()
    assert (state["epoch"], state["position"]) == (1, 20)
    b = ResumableDistributedSampler(50, 10, 2, 1, seed=3)
    b.load_state_dict(state)
    assert [next(b.batches()) for _ in range(1)] == [next(stream)]
    other = ResumableDistributedSampler(50, 10, 2, 1, seed=4)
    with pytest.raises(ValueError, match="seed=3.*would change the data order"):
        other.load_state_dict(state)
    # another world size may load it: the position counts global examples
    single = ResumableDistributedSampler(50, 10, 1, 0, seed=3)
    single.load_state_dict(state)
    assert len(single) == 5 - 2


@pytest.mark.parametrize(
    "args, message",
    [
        ((10, 5, 2, 0), "does not divide"),
        ((10, 20, 1, 0), "exceeds dataset_size"),
        ((10, 4, 2, 2), "rank must be < num_replicas"),
        ((0, 4, 1, 0), "dataset_size must be >= 1"),
    ],
)
def test_sampler_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        ResumableDistributedSampler(*args)


# -- checkpoints in one process --------------------------------------------------------------


def _setup(schedule=None):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    schedule = schedule or lrsched.CosineRestarts(first_cycle_steps=7, max_lr=0.3, min_lr=0.0, warmup_steps=2)
    scheduler = lrsched.ScheduledLR(optimizer, schedule)
    sampler = ResumableDistributedSampler(40, 8, seed=1)
    return model, optimizer, scheduler, sampler


def _steps(model, optimizer, scheduler, sampler, n, x):
    """A plain loop with dropout (so the RNG matters) and momentum (so the optimizer state does)."""
    lrs = []
    stream = sampler.batches()
    for _ in range(n):
        idx = next(stream)
        lrs.append(optimizer.param_groups[0]["lr"])
        loss = model(x[idx]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    return lrs


def test_single_process_resume_is_bit_identical(tmp_path):
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(9))
    full = _setup()
    lr_full = _steps(*full, 20, x)

    first = _setup()
    lr_a = _steps(*first, 9, x)
    save_checkpoint(tmp_path, 9, model=first[0], optimizer=first[1], scheduler=first[2], sampler=first[3])
    torch.rand(100)  # the generators move on in the "dead" job; the checkpoint must not care
    second = _setup()
    info = load_checkpoint(latest_checkpoint(tmp_path), model=second[0], optimizer=second[1], scheduler=second[2], sampler=second[3])
    assert info.step == 9 and info.rng_restored
    lr_b = _steps(*second, 11, x)
    assert lr_a + lr_b == lr_full
    np.testing.assert_array_equal(np.array(lr_full), restarts_formula(np.arange(20), 7, 2, 0.3))
    for p, q in zip(full[0].parameters(), second[0].parameters()):
        assert torch.equal(p, q)
    # the saved state is plain tensors and numbers
    state = torch.load(tmp_path / "step-000000009" / "state.pt", weights_only=True)
    assert state["scheduler"]["last_epoch"] == 9
    assert (state["sampler"]["epoch"], state["sampler"]["position"]) == (1, 32)  # 5 batches an epoch


def test_latest_checkpoint_ignores_partial_saves(tmp_path):
    model, optimizer, scheduler, sampler = _setup()
    assert latest_checkpoint(tmp_path / "nothing") is None
    save_checkpoint(tmp_path, 3, model=model, optimizer=optimizer, scheduler=scheduler)
    (tmp_path / ".step-000000007.partial").mkdir()  # a job killed mid-save
    (tmp_path / "step-000000008").mkdir()  # no state.pt: not complete
    assert latest_checkpoint(tmp_path).name == "step-000000003"


def test_load_refuses_what_does_not_fit(tmp_path, monkeypatch):
    model, optimizer, scheduler, sampler = _setup()
    path = save_checkpoint(tmp_path, 2, model=model, optimizer=optimizer, scheduler=scheduler, sampler=sampler)
    other = _setup(lrsched.Constant(0.1))
    with pytest.raises(ValueError, match="was saved with schedule CosineRestarts"):
        load_checkpoint(path, model=other[0], optimizer=other[1], scheduler=other[2], sampler=other[3])
    with pytest.raises(ValueError, match="sampler was saved"):
        load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler)
    with pytest.raises(ValueError, match="not a complete checkpoint"):
        load_checkpoint(tmp_path, model=model, optimizer=optimizer)
    monkeypatch.setattr("lrsched.checkpoint._world", lambda: (1, 2))
    with pytest.raises(ValueError, match="saved by 1 workers, this job has world_size=2"):
        load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler, sampler=sampler)
    info = load_checkpoint(
        path, model=model, optimizer=optimizer, scheduler=scheduler, sampler=sampler, allow_new_world_size=True
    )
    assert not info.rng_restored and info.world_size == 1


# -- real workers ----------------------------------------------------------------------------


def test_two_gloo_workers_share_one_schedule(data):
    schedule = lrsched.warmup_cosine(T, max_lr=PEAK, warmup_steps=WARMUP)
    result = train_distributed(schedule, 2, steps=T, global_batch_size=64, seeds=(0, 1), data=data)
    assert len(result.records) == 4 and {r.rank for r in result.records} == {0, 1}
    expected = warmup_cosine_formula(np.arange(T))
    for seed in (0, 1):
        rank0, rank1 = result.select(seed=seed)
        np.testing.assert_array_equal(rank0.lr, rank1.lr)  # bit for bit
        np.testing.assert_allclose(rank0.lr, expected, rtol=1e-12, atol=1e-15)
        assert rank0.weights_sha256 == rank1.weights_sha256  # DDP keeps replicas equal
        np.testing.assert_array_equal(rank0.loss, rank1.loss)  # global-batch loss, all-reduced
        assert rank0.loss[-1] < rank0.loss[0] and not rank0.failed
    assert result.select(seed=0)[0].weights_sha256 != result.select(seed=1)[0].weights_sha256
    assert_no_workers_left()


def test_accumulation_steps_the_schedule_per_optimizer_step(data):
    schedule = lrsched.warmup_cosine(T, max_lr=PEAK, warmup_steps=WARMUP)
    result = train_distributed(schedule, 2, steps=T, global_batch_size=64, accumulation_steps=4, data=data)
    for record in result.records:
        np.testing.assert_allclose(record.lr, warmup_cosine_formula(np.arange(T)), rtol=1e-12, atol=1e-15)


def test_killed_job_resumes_exactly(tmp_path, data):
    cycle, warm, peak, steps = 10, 3, 0.2, 26
    schedule = lrsched.CosineRestarts(first_cycle_steps=cycle, max_lr=peak, min_lr=0.0, warmup_steps=warm)
    common = dict(steps=steps, global_batch_size=32, data=data, checkpoint_every=4)
    whole = train_distributed(schedule, 2, checkpoint_dir=tmp_path / "whole", **common)

    with pytest.raises(WorkerError, match="rank 1 was killed by SIGKILL") as killed:
        # killed mid-warmup of the second cycle (steps 10-12), after the checkpoint of step 8
        train_distributed(schedule, 2, checkpoint_dir=tmp_path / "job", kill_at_step=11, **common)
    assert killed.value.rank == 1 and killed.value.exitcode == -signal.SIGKILL
    assert_no_workers_left(killed.value.pids)
    shutil.copytree(tmp_path / "job", tmp_path / "other")
    resumed = train_distributed(schedule, 2, checkpoint_dir=tmp_path / "job", resume=True, **common)
    expected = restarts_formula(np.arange(steps), cycle, warm, peak)
    for before, after in zip(whole.records, resumed.records):
        assert after.resumed_from == 8
        np.testing.assert_array_equal(after.lr, before.lr)
        np.testing.assert_allclose(after.lr, expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(after.loss, before.loss)
        assert after.weights_sha256 == before.weights_sha256  # bit-identical weights

    # another world size: the schedule continues exactly; the weights only up to rounding
    moved = train_distributed(schedule, 1, checkpoint_dir=tmp_path / "other", resume=True, **common)
    (record,) = moved.records
    assert record.resumed_from == 8
    np.testing.assert_array_equal(record.lr, whole.records[0].lr)
    for name, value in record.state_dict.items():
        torch.testing.assert_close(value, whole.records[0].state_dict[name], rtol=1e-4, atol=1e-5)


def test_failing_worker_raises_with_its_traceback(tmp_path, data):
    schedule = lrsched.Constant(0.1)
    common = dict(steps=4, global_batch_size=32, data=data, checkpoint_every=2, checkpoint_dir=tmp_path)
    train_distributed(schedule, 2, **common)
    (tmp_path / "schedule-seed0" / "step-000000004" / "rng-1.pt").unlink()  # only rank 1 cannot load
    with pytest.raises(WorkerError, match="rank 1 failed") as failed:
        train_distributed(schedule, 2, resume=True, **common)
    assert failed.value.rank == 1 and failed.value.exitcode == 1
    assert "Traceback" in str(failed.value) and "rng-1.pt" in str(failed.value)
    assert_no_workers_left(failed.value.pids)
    # every rank fails the same way: resuming with another schedule is refused
    shutil.rmtree(tmp_path / "schedule-seed0" / "step-000000004")  # step 2 is complete
    with pytest.raises(WorkerError, match=r"was saved with schedule Constant\(value=0.1\)"):
        train_distributed(lrsched.Constant(0.2), 2, resume=True, **common)
    assert_no_workers_left()


def _worker_pids(timeout: float = 60.0) -> list[int]:
    """Pids of the running workers: the forkserver's children."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in psutil.Process().children(recursive=True):
            if _forkserver_or_tracker(proc) and "forkserver" in " ".join(proc.cmdline()):
                workers = proc.children()
                if len(workers) == 2:
                    return [w.pid for w in workers]
        time.sleep(0.05)
    raise AssertionError("workers did not start")


def test_worker_killed_from_outside(data):
    outcome = {}

    def run():
        try:
            train_distributed(lrsched.Constant(0.05), 2, steps=10**6, global_batch_size=32, data=data)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    pids = _worker_pids()
    time.sleep(0.5)
    os.kill(pids[0], signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive()
    error = outcome["error"]
    assert isinstance(error, WorkerError) and error.exitcode == -signal.SIGKILL, error
    assert error.pids[error.rank] == pids[0]
    assert_no_workers_left(error.pids)


def test_timeout_stops_the_job(data):
    with pytest.raises(TimeoutError, match="did not finish within 3 s"):
        train_distributed(lrsched.Constant(0.05), 2, steps=10**6, global_batch_size=32, data=data, timeout=3)
    assert_no_workers_left()


def test_accelerate_steps_the_wrapped_scheduler_once_per_process():
    pytest.importorskip("accelerate")
    schedule = lrsched.LinearDecay(decay_steps=12, max_lr=1.0)
    t = np.arange(6)
    default = accelerate_lrs(schedule, 2, 6)
    split = accelerate_lrs(schedule, 2, 6, split_batches=True)
    for lr in default:  # 2 processes: the schedule advances 2 steps per optimizer step
        np.testing.assert_allclose(lr, 1 - 2 * t / 12, rtol=1e-12, atol=1e-15)
    for lr in split:
        np.testing.assert_allclose(lr, 1 - t / 12, rtol=1e-12, atol=1e-15)
    accumulated = accelerate_lrs(schedule, 2, 3, accumulation_steps=2)
    for lr in accumulated:  # one optimizer step per 2 micro-batches, still 2 schedule steps each
        np.testing.assert_allclose(lr, 1 - 2 * np.arange(3) / 12, rtol=1e-12, atol=1e-15)
    assert_no_workers_left()
