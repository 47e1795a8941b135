"""Execute chapters with every lab seed shifted, without touching the committed notebooks.

Usage: ``python scripts/seed_check.py [--offset N] [--keep DIR] [notebook ...]``
(default: offset 1000, every chapter in book/). Also ``make seed-check OFFSET=N``.

Each chapter runs top to bottom in a fresh kernel whose environment has
``LRSCHED_SEED_OFFSET=N``, so ``lrsched.lab`` adds ``N`` to every seed it uses (split,
initialisation, batch order, perturbations). The executed copies are written to a
temporary directory (or ``--keep DIR``), never over book/: the stored outputs stay those of
offset 0. Exits 1 if any cell of any chapter raises -- a chapter whose asserts hold only
for the seeds written in it fails here (issue 14).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from execute_notebooks import BUDGET_SECONDS  # the per-chapter budget, defined once (same folder)

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path, offset: int, out_dir: Path) -> tuple[float, str | None]:
    """Execute ``path`` with the offset; return wall seconds and the error (or None)."""
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, LRSCHED_SEED_OFFSET=str(offset))
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        # The chapter's own directory, so relative paths resolve as in the book.
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    error = None
    try:
        client.execute(env=env)
    except CellExecutionError as err:
        error = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # no terminal colours
    elapsed = time.perf_counter() - start
    nbformat.write(nb, out_dir / path.name)  # the executed copy, for inspection
    return elapsed, error


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="chapters to run (default: book/[0-9]*.ipynb)")
    parser.add_argument("--offset", type=int, default=1000, help="LRSCHED_SEED_OFFSET (default 1000)")
    parser.add_argument("--keep", type=Path, help="write the executed copies here instead of a temp dir")
    args = parser.parse_args(argv)
    notebooks = [Path(p).resolve() for p in args.notebooks] or sorted((ROOT / "book").glob("[0-9]*.ipynb"))

    with tempfile.TemporaryDirectory(prefix="seed-check-") as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        failed, slow = [], []
        for path in notebooks:
            elapsed, error = run(path, args.offset, out_dir)
            if elapsed > BUDGET_SECONDS:
                slow.append(f"{path.name} ({elapsed:.0f} s)")
            status = "ok" if error is None else "FAILED"
            print(f"{elapsed:6.1f} s  {status:6}  {path.name}  (LRSCHED_SEED_OFFSET={args.offset})", flush=True)
            if error is not None:
                # The traceback's last lines name the failing assert.
                print("\n".join("    " + line for line in error.strip().splitlines()[-12:]), flush=True)
                failed.append(path.name)
    if slow:  # reported, not failed: wall time depends on what else the machine runs
        print(f"over the {BUDGET_SECONDS:.0f} s budget of a chapter: {', '.join(slow)}")
    if failed:
        print(f"failed with LRSCHED_SEED_OFFSET={args.offset}: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
