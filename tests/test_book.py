"""Structure tests of the book: table of contents, Colab cells, stored outputs, the chapter template.

They read the notebooks and the configuration as files (no kernel), so they run in a second.
Running the chapters themselves is nbval's job (``pytest book/``).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CHAPTER_NAME = re.compile(r"^book/(\d\d)_[a-z0-9_]+$")


def _toc_files(node) -> list[str]:
    """Every ``file:`` entry of the toc, depth first, in order."""
    files = []
    if isinstance(node, dict):
        if "file" in node:
            files.append(node["file"])
        for key in ("root",):
            if key in node:
                files.append(node[key])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []):
                files.extend(_toc_files(child))
    return files


TOC_FILES = _toc_files(TOC)
TOC_CHAPTERS = [f for f in TOC_FILES if CHAPTER_NAME.match(f)]
NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


def _load_sync_script():
    spec = importlib.util.spec_from_file_location("sync_colab_cells", ROOT / "scripts" / "sync_colab_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _markdown(nb: dict) -> str:
    return "\n\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


def _code_lines(cell: dict) -> list[str]:
    """Code lines without comments and IPython magics (good enough for the checks below)."""
    lines = []
    for line in _source(cell).splitlines():
        stripped = line.strip()
        if stripped.startswith(("#", "%", "!")):
            continue
        lines.append(line.split("  #")[0])
    return lines


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def chapter(request) -> tuple[Path, dict]:
    return request.param, _read(request.param)


# -- table of contents ------------------------------------------------------------------------


def test_toc_root_and_reference_pages_exist():
    assert TOC["root"] == "book/index"
    for entry in TOC_FILES:
        if not CHAPTER_NAME.match(entry):
            assert (ROOT / f"{entry}.md").exists() or (ROOT / f"{entry}.ipynb").exists(), entry


@pytest.mark.parametrize("entry", TOC_CHAPTERS)
def test_every_toc_chapter_exists(entry):
    assert (ROOT / f"{entry}.ipynb").exists(), f"{entry}.ipynb is in _toc.yml but missing (chapters are .ipynb for Colab)"


def test_every_notebook_is_in_the_toc_in_folder_order():
    on_disk = [f"book/{p.stem}" for p in NOTEBOOKS]
    listed = [entry for entry in TOC_CHAPTERS if (ROOT / f"{entry}.ipynb").exists()]
    assert on_disk == listed, "book/NN_*.ipynb in folder order must equal the toc's chapter order"
    numbers = [int(CHAPTER_NAME.match(entry).group(1)) for entry in TOC_CHAPTERS]
    assert numbers == list(range(1, len(numbers) + 1)), "chapters are numbered 01, 02, ... in toc order"


def test_config_executes_and_fails_on_errors():
    execute = CONFIG["execute"]
    assert execute["execute_notebooks"] == "cache"
    assert execute["raise_on_error"] is True
    assert CONFIG["only_build_toc_files"] is True
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert "book/references.bib" in CONFIG["bibtex_bibfiles"]


# -- the Colab cell -----------------------------------------------------------------------------


def test_repository_url_is_a_github_repository():
    """Launch buttons and the Colab editions' install cell (tests/test_colab.py) read it."""
    url = CONFIG["repository"]["url"].rstrip("/")
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url


def test_chapters_leave_installing_to_the_colab_editions(chapter):
    """Only colab/NN_name.ipynb installs lrsched (scripts/make_colab.py writes its first cell).

    A chapter may still hold the former hidden cell until ``python scripts/sync_colab_cells.py``
    removes it: then it must be tagged remove-cell and agree with ``_config.yml``.
    """
    path, nb = chapter
    repository = CONFIG["repository"]
    for cell in _code_cells(nb):
        if "pip install" not in _source(cell):
            continue
        assert _source(cell).startswith(_load_sync_script().MARKER), (
            f"{path.name}: installs a package in a visible cell; the Colab edition installs lrsched"
        )
        assert _tags(cell) == ["remove-cell"], f"{path.name}: the old Colab cell must be tagged remove-cell"
        assert f"git+{repository['url'].rstrip('/')}@{repository['branch']}" in _source(cell), path.name


# -- stored outputs -----------------------------------------------------------------------------


def test_executed_top_to_bottom(chapter):
    path, nb = chapter
    counts = [c.get("execution_count") for c in _code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts}; run `python scripts/execute_notebooks.py {path.relative_to(ROOT)}`"
    )


def test_no_error_outputs(chapter):
    path, nb = chapter
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{path.name} cell {index}: {output.get('ename')}"
            if output["output_type"] == "stream":
                text = output["text"] if isinstance(output["text"], str) else "".join(output["text"])
                assert "Traceback" not in text, f"{path.name} cell {index}: a traceback in {output['name']}"
                assert output["name"] != "stderr" or "Warning" not in text, (
                    f"{path.name} cell {index}: a warning in stderr: {text[:300]}"
                )


def test_figures_are_png_and_shown(chapter):
    path, nb = chapter
    shown_png = 0
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert "image/svg+xml" not in data, f"{path.name} cell {index}: SVG output (use PNG)"
            if "image/png" in data:
                png = base64.b64decode(data["image/png"])
                assert png.startswith(b"\x89PNG"), f"{path.name} cell {index}: broken PNG"
                if not {"remove-output", "remove-cell"} & set(_tags(cell)):
                    shown_png += 1
    assert shown_png >= 1, f"{path.name}: no PNG figure in a cell the rendered page shows"


def test_checked_outputs_are_stored(chapter):
    path, nb = chapter
    for index, cell in enumerate(_code_cells(nb)):
        if "NBVAL_CHECK_OUTPUT" in _source(cell):
            assert cell["outputs"], f"{path.name} code cell {index}: NBVAL_CHECK_OUTPUT without a stored output"
            for output in cell["outputs"]:
                assert "image/png" not in output.get("data", {}), (
                    f"{path.name} code cell {index}: NBVAL_CHECK_OUTPUT on a figure (nbval cannot compare images)"
                )


# -- the chapter template -----------------------------------------------------------------------


def test_asserts_its_claims(chapter):
    path, nb = chapter
    code = "\n".join(line for cell in _code_cells(nb) for line in _code_lines(cell))
    assert re.search(r"^\s*assert\b|np\.testing\.assert_|torch\.testing\.assert_", code, re.M), (
        f"{path.name}: no assert; every chapter checks its claims in code"
    )


def _visible(cell: dict) -> bool:
    """A code cell whose input the rendered page shows unfolded."""
    hiding = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
    return cell["cell_type"] == "code" and not hiding & set(_tags(cell))


def test_has_a_live_explorer(chapter):
    """Every chapter builds a kernel-free explorer with lrsched.viz, shown on the page."""
    path, nb = chapter
    code = [c for c in _code_cells(nb) if "remove-cell" not in _tags(c)]
    explorers = [c for c in code if re.search(r"\bexplorer\(", _source(c))]
    assert explorers, f"{path.name}: no lrsched.viz explorer(...) call"
    for cell in explorers:
        assert not {"remove-output"} & set(_tags(cell)), (
            f"{path.name}: an explorer's output must be shown on the page (no remove-output)"
        )
        html = [o for o in cell.get("outputs", []) if "text/html" in o.get("data", {})]
        assert html, f"{path.name}: the explorer cell has no stored HTML output"


def test_no_dead_widgets_on_the_page(chapter):
    """ipywidgets need a kernel: none may be rendered on the website, and no widget state is stored."""
    path, nb = chapter
    assert "widgets" not in nb.get("metadata", {}), f"{path.name}: stored widget state (strip it)"
    for index, cell in enumerate(_code_cells(nb)):
        for output in cell.get("outputs", []):
            widget = "application/vnd.jupyter.widget-view+json" in output.get("data", {})
            shown = not {"remove-output", "remove-cell"} & set(_tags(cell))
            assert not (widget and shown), f"{path.name} code cell {index}: a widget the website cannot run"


def test_code_fits_the_page(chapter):
    """Every code line <= 79 columns; visible cells short enough to read (<= 25 lines)."""
    path, nb = chapter
    for index, cell in enumerate(_code_cells(nb)):
        if "remove-cell" in _tags(cell):
            continue
        lines = _source(cell).splitlines()
        wide = [line for line in lines if len(line) > 79]
        assert not wide, f"{path.name} code cell {index}: {len(wide)} lines over 79 columns: {wide[0]!r}"
        if _visible(cell):
            assert len(lines) <= 25, f"{path.name} code cell {index}: {len(lines)} visible lines (max 25)"
        mangled = [line for line in lines if re.match(r"^\s*\)", line) and line.strip() != ")"]
        assert not mangled, f"{path.name} code cell {index}: formatter-mangled line {mangled[0]!r}"


def test_solutions_fold_input_and_output(chapter):
    """After '## Exercises', every code cell is a solution: input and output folded (hide-cell)."""
    path, nb = chapter
    cells = nb["cells"]
    start = next(
        (i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and re.search(r"^##\s+Exercises", _source(c), re.M)),
        len(cells),
    )
    for index, cell in enumerate(cells[start:], start):
        if cell["cell_type"] == "code":
            assert {"hide-cell", "remove-cell"} & set(_tags(cell)), (
                f"{path.name} cell {index}: a solution's code must be tagged hide-cell (input and output folded)"
            )


def test_has_exercises_with_hidden_solutions(chapter):
    path, nb = chapter
    cells = nb["cells"]
    start = next(
        (i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and re.search(r"^##\s+Exercises", _source(c), re.M)),
        None,
    )
    assert start is not None, f"{path.name}: no '## Exercises' section"
    after = cells[start:]
    hidden = [
        c
        for c in after
        if (c["cell_type"] == "markdown" and re.search(r"\{admonition\}[^\n]*\n:class:[^\n]*dropdown|\{dropdown\}", _source(c)))
        or (c["cell_type"] == "code" and {"hide-input", "hide-cell", "hide-output"} & set(_tags(c)))
    ]
    assert hidden, f"{path.name}: exercises without a hidden solution (dropdown admonition or hide-cell code)"


def test_ends_with_footbibliography(chapter):
    path, nb = chapter
    text = _markdown(nb)
    assert "{footcite" in text, f"{path.name}: cites nothing"
    assert re.search(r"```\{footbibliography\}", text), f"{path.name}: no footbibliography directive"
    last_markdown = [c for c in nb["cells"] if c["cell_type"] == "markdown"][-1]
    assert "{footbibliography}" in _source(last_markdown), f"{path.name}: the references must come last"


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,", (BOOK / "references.bib").read_text(), re.M))


def test_bibliography_keys_are_unique():
    keys = re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,", (BOOK / "references.bib").read_text(), re.M)
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicates, f"duplicate keys in references.bib: {duplicates}"


def test_cited_keys_exist(chapter):
    path, nb = chapter
    keys = _bib_keys()
    cited = set()
    for group in re.findall(r"\{(?:foot)?cite(?::[a-z]+)?\}`([^`]+)`", _markdown(nb)):
        cited.update(k.strip() for k in group.split(","))
    missing = sorted(cited - keys)
    assert not missing, f"{path.name}: cites keys missing from book/references.bib: {missing}"


def test_shown_algorithms_are_few(chapter):
    """The loop (chapter 1) and a two-pass step (SAM/GSAM) are shown once, not re-written everywhere."""
    path, nb = chapter
    shown = [c for c in _code_cells(nb) if "shown-algorithm" in _tags(c)]
    assert len(shown) <= 2, f"{path.name}: {len(shown)} cells tagged shown-algorithm (at most 2)"


FORBIDDEN = {
    r"\.backward\(": "calls .backward(): chapters train through lrsched.lab.train/compare",
    r"\boptim(izer)?\.step\(": "steps an optimizer: chapters train through lrsched.lab.train/compare",
    r"\.zero_grad\(": "zeroes gradients: chapters train through lrsched.lab.train/compare",
    r"^\s*class\s+\w+\s*\([^)]*\b_?LRScheduler\b": "subclasses LRScheduler: schedulers come from lrsched",
}


@pytest.mark.parametrize("pattern", FORBIDDEN, ids=["backward", "optimizer-step", "zero-grad", "lrscheduler-subclass"])
def test_no_training_loop_or_scheduler_class(chapter, pattern):
    path, nb = chapter
    for index, cell in enumerate(_code_cells(nb)):
        if "shown-algorithm" in _tags(cell):
            continue  # a loop or step shown once for reading, tested equal to the lab's
        for line in _code_lines(cell):
            assert not re.search(pattern, line), f"{path.name} code cell {index}: {FORBIDDEN[pattern]}: {line.strip()}"
