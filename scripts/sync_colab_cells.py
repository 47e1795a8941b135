"""Insert or update the hidden first cell that installs lrsched when a chapter runs in Colab.

The repository URL and branch are read from ``_config.yml`` (set there, in one place).
Usage: ``python scripts/sync_colab_cells.py [notebook ...]`` (default: every notebook in book/).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# Colab only: install lrsched from the repository"
COLAB_CELL_ID = "colab-install"


def colab_cell_source(config_path: Path = ROOT / "_config.yml") -> str:
    """The exact source of the Colab install cell for the repository in ``_config.yml``."""
    repo = yaml.safe_load(config_path.read_text())["repository"]
    url, branch = repo["url"].rstrip("/"), repo.get("branch", "main")
    return (
        f"{MARKER} (does nothing elsewhere).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "lrsched[book] @ git+{url}@{branch}"'
    )


def sync(notebook: Path, source: str) -> bool:
    """Make the notebook's first code cell the Colab cell; return True if the file changed."""
    nb = json.loads(notebook.read_text())
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": ["remove-cell"]},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):  # cell ids are required from 4.5 on
        cell = {"id": COLAB_CELL_ID, **cell}
    cells = nb["cells"]
    existing = next((i for i, c in enumerate(cells) if "".join(c["source"]).startswith(MARKER)), None)
    if existing is not None:
        old = cells[existing]
        if "".join(old["source"]) == source and old["metadata"].get("tags") == ["remove-cell"] and existing == 0:
            return False
        if "id" in cell:
            cell["id"] = old.get("id", COLAB_CELL_ID)
        cell["execution_count"] = old.get("execution_count")
        cell["outputs"] = old.get("outputs", [])
        del cells[existing]
    cells.insert(0, cell)
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return True


def main(paths: list[str]) -> None:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "book").glob("[0-9]*.ipynb"))
    source = colab_cell_source()
    for notebook in notebooks:
        print(f"{'updated' if sync(notebook, source) else 'unchanged'}: {notebook}")


if __name__ == "__main__":
    main(sys.argv[1:])
