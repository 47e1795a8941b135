"""Re-execute chapters in place, top to bottom, so their stored outputs are fresh.

Usage: ``python scripts/execute_notebooks.py [notebook ...]`` (default: every chapter in book/).
Prints each notebook's wall time; fails if a cell raises or a notebook takes over 60 s.
Widget state (``metadata.widgets``) is not stored: the website cannot run ipywidgets, and myst-nb
would load require.js and the widget manager from CDNs for it (issue 13).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60.0


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False, resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return elapsed


def main(paths: list[str]) -> int:
    notebooks = [Path(p).resolve() for p in paths] or sorted((ROOT / "book").glob("[0-9]*.ipynb"))
    slow = []
    for path in notebooks:
        elapsed = execute(path)
        print(f"{elapsed:6.1f} s  {path.relative_to(ROOT)}", flush=True)
        if elapsed > BUDGET_SECONDS:
            slow.append(path.name)
    if slow:
        print(f"over {BUDGET_SECONDS:.0f} s: {', '.join(slow)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
