"""Structure checks of the reference pages that are notebooks but not chapters.

``book/reference_pitfalls.ipynb`` (pytorch-optimizer 4.1.0 side by side) and
``book/in_your_code.ipynb`` (lrsched in your training code) run under nbval like the chapters
(pyproject's testpaths include book/), which executes their asserts. These tests check what nbval
does not: where they sit in the table of contents, that the stored outputs are clean and in
order, that the code fits the page, and what each page must cover.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAGES = ["reference_pitfalls", "in_your_code"]
#: pytorch-optimizer 4.1.0's scheduler names whose pitfalls the chapters demonstrate
REFERENCE_NAMES = [
    "LinearScheduler",
    "CosineScheduler",
    "PolyScheduler",
    "REXScheduler",
    "CosineAnnealingWarmupRestarts",
    "get_chebyshev_lr_lambda",
    "get_chebyshev_schedule",
    "get_chebyshev_perm_steps",
    "ProportionScheduler",
    "get_wsd_schedule",
    "deberta_v3_large_lr_scheduler",
]


def _cells(page: str) -> list[dict]:
    return json.loads((BOOK / f"{page}.ipynb").read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _code(page: str) -> list[dict]:
    return [cell for cell in _cells(page) if cell["cell_type"] == "code"]


def _code_only(cell: dict) -> str:
    """The cell's source without its comments."""
    return re.sub(r"#.*", "", _source(cell))


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _output_text(output: dict) -> str:
    if output["output_type"] == "stream":
        return "".join(output["text"])
    if output["output_type"] == "error":
        return "\n".join(output.get("traceback", []))
    return "".join(output.get("data", {}).get("text/plain", ""))


def test_pages_follow_the_api_page_in_the_reference_part():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    (reference,) = [part for part in toc["parts"] if part["caption"] == "Reference"]
    files = [entry["file"] for entry in reference["chapters"]]
    at = files.index("book/api")
    assert files[at + 1 : at + 3] == [f"book/{page}" for page in PAGES]


@pytest.mark.parametrize("page", PAGES)
def test_executed_top_to_bottom_with_clean_outputs(page):
    cells = _code(page)
    assert [cell["execution_count"] for cell in cells] == list(range(1, len(cells) + 1))
    for cell in cells:
        for output in cell["outputs"]:
            assert output["output_type"] != "error", _source(cell)[:80]
            assert output.get("name") != "stderr", _output_text(output)[:200]
            text = _output_text(output)
            assert "Traceback" not in text and "Warning" not in text, text[:200]


@pytest.mark.parametrize("page", PAGES)
def test_code_fits_the_page(page):
    for cell in _code(page):
        lines = _source(cell).splitlines()
        for line in lines:
            assert len(line) <= 79, line
            assert not line.startswith(")") or line.strip() == ")", line
        if "hide-input" not in _tags(cell) and "hide-cell" not in _tags(cell):
            assert len(lines) <= 25, lines[0]


@pytest.mark.parametrize("page", PAGES)
def test_figures_are_png_and_no_widget_state(page):
    nb = json.loads((BOOK / f"{page}.ipynb").read_text())
    assert "widgets" not in nb["metadata"]
    assert _source(_code(page)[0]).startswith('%config InlineBackend.figure_formats = ["png"]')
    figures = 0
    for cell in _code(page):
        for output in cell["outputs"]:
            data = output.get("data", {})
            assert "image/svg+xml" not in data
            assert "application/vnd.jupyter.widget-view+json" not in data
            figures += "image/png" in data
    assert figures >= 1


@pytest.mark.parametrize("page", PAGES)
def test_checked_outputs_are_stored_and_claims_asserted(page):
    cells = _code(page)
    for cell in cells:
        if _source(cell).startswith("# NBVAL_CHECK_OUTPUT"):
            assert any(o["output_type"] == "stream" for o in cell["outputs"]), _source(cell)[:80]
    asserting = [cell for cell in cells if re.search(r"^\s*(assert |np\.testing\.assert_)", _source(cell), re.M)]
    assert len(asserting) >= 5


# -- pytorch-optimizer 4.1.0 side by side -------------------------------------------------------


def test_pitfalls_summary_table_has_a_row_per_section():
    text = "\n".join(_source(cell) for cell in _cells("reference_pitfalls") if cell["cell_type"] == "markdown")
    rows = [int(n) for n in re.findall(r"^\| (\d+) \|", text, re.M)]
    headings = re.findall(r"^## (\d+)\. .*?(?:, and (\d+)\. .*)?$", text, re.M)
    sections = sorted(int(n) for pair in headings for n in pair if n)
    assert rows == sections == list(range(1, len(rows) + 1))
    for link in re.findall(r"\]\(([^)]+\.ipynb)\)", text):
        assert (BOOK / link).exists(), link


def test_pitfalls_page_runs_the_reference_library():
    source = "\n".join(_source(cell) for cell in _code("reference_pitfalls"))
    assert 'version("pytorch_optimizer") == "4.1.0"' in source
    assert "import pytorch_optimizer.lr_scheduler as ref" in source
    # every 4.1.0 name the chapters meet is in the summary table and run on the page
    table = _source(_cells("reference_pitfalls")[0])
    for name in REFERENCE_NAMES:
        assert f"`{name}`" in table, name
        assert re.search(rf"[.\"]{name}\b", source), name  # called, or looked up by name


def test_chapters_link_the_pitfalls_page_by_its_file_name():
    for chapter in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
        text = chapter.read_text()
        for link in re.findall(r"\]\((reference_pitfalls[^)]*)\)", text):
            assert link.split("#")[0] == "reference_pitfalls.ipynb", (chapter.name, link)


# -- lrsched in your training code ----------------------------------------------------------------


def test_one_shown_loop_and_no_other_hand_stepping():
    cells = _code("in_your_code")
    shown = [cell for cell in cells if "shown-algorithm" in _tags(cell)]
    assert len(shown) == 1
    loop = _code_only(shown[0])
    for call in (".backward()", "optimizer.step()", "optimizer.zero_grad()", "scheduler.step()"):
        assert call in loop
        assert all(call not in _code_only(cell) for cell in cells if cell is not shown[0]), call


def test_covers_the_loops_people_have():
    source = "\n".join(_source(cell) for cell in _code("in_your_code"))
    for needle in (
        'per="step"',
        'per="epoch"',
        "accumulate_grad_batches=ACCUMULATE",
        '"interval": self.interval',
        'DigitsModule(cosine, "step")',
        '"epoch")',
        "ckpt_path=checkpoint",
        "optimizers=(optimizer, scheduler)",
        "gradient_accumulation_steps=ACCUMULATE",
        "resume_from_checkpoint=resume",
        "lrsched.get_scheduler(",
        "register_step_pre_hook",
        "load_digits_split",
    ):
        assert needle in source, needle


def test_in_your_code_keeps_its_files_in_a_temporary_directory():
    cells = _code("in_your_code")
    source = "\n".join(_source(cell) for cell in cells)
    assert "workdir = tempfile.TemporaryDirectory()" in source
    assert "default_root_dir=workdir.name" in source and "output_dir=workdir.name" in source
    assert "logger=False" in source
    assert _source(cells[-1]).startswith("workdir.cleanup()")


def test_lightning_is_pinned_at_the_installed_version():
    pins = dict(
        line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#")
    )
    assert pins["lightning"] == version("lightning")
