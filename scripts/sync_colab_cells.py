"""Remove the former hidden Colab install cell from the chapters; then write the Colab editions.

The chapters no longer carry an install cell: each Colab edition (``colab/NN_name.ipynb``, written
by ``scripts/make_colab.py`` from the chapter and ``_config.yml``) starts with it instead, so the
install lives in one place. This script drops the old cell (its first line was ``MARKER``) from the
given chapters (default: all of ``book/``) and regenerates their editions. A chapter that lost its
cell must be re-executed (``python scripts/execute_notebooks.py book/NN_name.ipynb``): its
execution counts no longer start at 1.

Usage: ``python scripts/sync_colab_cells.py [book/NN_name.ipynb ...]``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import make_colab  # noqa: E402

MARKER = make_colab.LEGACY_MARKER


def remove_legacy_cell(notebook: Path) -> bool:
    """Drop the old install cell from a chapter; True if the file changed."""
    nb = json.loads(notebook.read_text())
    cells = [c for c in nb["cells"] if not "".join(c["source"]).startswith(MARKER)]
    if len(cells) == len(nb["cells"]):
        return False
    nb["cells"] = cells
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return True


def main(paths: list[str]) -> int:
    notebooks = [Path(p).resolve() for p in paths] or make_colab.chapters()
    changed = [nb for nb in notebooks if remove_legacy_cell(nb)]
    for notebook in changed:
        print(f"removed the old install cell: {notebook.relative_to(ROOT)}; re-execute it with "
              f"`python scripts/execute_notebooks.py {notebook.relative_to(ROOT)}`")
    return make_colab.main([str(p) for p in paths])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
