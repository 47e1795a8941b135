"""The Colab editions (colab/NN_name.ipynb): in sync with the chapters, no MyST left, the install cell.

The editions are written by scripts/make_colab.py; running them as in Colab is ``make colab-check``
(scripts/colab_check.py). Expected renderings below are written by hand from the book's rules
(sphinxcontrib-bibtex's author-year style, Sphinx's per-chapter equation numbers), not taken from
the script's output.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
EDITIONS = sorted((ROOT / "colab").glob("*.ipynb"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


make_colab = _load("make_colab")


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _markdown_cells(nb: dict) -> list[str]:
    return [_source(c) for c in nb["cells"] if c["cell_type"] == "markdown"]


@pytest.fixture(scope="module")
def rendered() -> dict[Path, str]:
    return make_colab.render_all(ROOT)


# -- in sync ------------------------------------------------------------------------------------


def test_every_chapter_has_an_edition_and_nothing_else():
    assert [p.name for p in EDITIONS] == [p.name for p in CHAPTERS], (
        "colab/ must hold one edition per chapter: run `python scripts/make_colab.py`"
    )


def test_editions_are_in_sync_with_the_chapters(rendered):
    stale = [path.name for path, text in rendered.items() if not path.exists() or path.read_text() != text]
    assert not stale, f"out of date: {stale}; run `python scripts/make_colab.py`"


def test_generation_is_deterministic(rendered):
    assert make_colab.render_all(ROOT) == rendered


# -- no MyST left -------------------------------------------------------------------------------

MYST_LEFT = [
    (re.compile(r"\{[\w:.+-]+\}`"), "a role"),
    (re.compile(r"^\s*(`{3,}|:{3,}|~{3,})\s*\{", re.M), "a directive"),
    (re.compile(r"^\([^()\s]+\)=\s*$", re.M), "a target label"),
    (re.compile(r"\$\$[ \t]*\([^()\s]+\)"), "an equation label"),
    (re.compile(r"\]\((?!https?://)[^)\s]*\.(ipynb|md)(#[^)]*)?\)"), "a link to a book file"),
    (re.compile(r"\\lr(?![a-zA-Z])"), "the book's \\lr macro"),
]


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.stem)
def test_no_myst_syntax_left(path):
    nb = json.loads(path.read_text())
    for index, text in enumerate(_markdown_cells(nb)):
        for pattern, what in MYST_LEFT:
            match = pattern.search(text)
            assert match is None, f"{path.name}, markdown cell {index}: {what} left: {match.group(0)!r}"


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.stem)
def test_solutions_stay_folded(path):
    """A solution is a <details> block; the code that checks it is folded and stores no output."""
    nb = json.loads(path.read_text())
    after_exercises = False
    for cell in nb["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            after_exercises = after_exercises or re.search(r"^#+\s+Exercises", text, re.M) is not None
            for title in re.findall(r"^> \*\*(Solution[^*]*)\*\*", text, re.M):
                pytest.fail(f"{path.name}: {title} is shown unfolded")
            assert text.count("<details>") == text.count("</details>"), path.name
        elif after_exercises and cell["metadata"].get("cellView") == "form":
            assert cell["outputs"] == [], f"{path.name}: a solution's output is stored unfolded"
            assert text.startswith("#@title "), path.name


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.stem)
def test_outputs_are_stored(path):
    """The page reads before it runs: figures are there, widgets (dead until run) are not."""
    nb = json.loads(path.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name}: no stored figure"
    assert not any(make_colab.WIDGET_MIME in o.get("data", {}) for o in outputs), path.name
    assert "widgets" not in nb["metadata"], path.name


# -- the install cell ---------------------------------------------------------------------------


def _install_cell(path: Path) -> dict:
    return json.loads(path.read_text())["cells"][0]


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.stem)
def test_install_cell_comes_first_and_matches_the_config(path):
    cell = _install_cell(path)
    url, branch = CONFIG["repository"]["url"].rstrip("/"), CONFIG["repository"]["branch"]
    assert cell["cell_type"] == "code" and cell["outputs"] == [], path.name
    assert cell["metadata"] == {"cellView": "form"} and _source(cell).startswith("#@title Install lrsched")
    assert f'source = "git+{url}@{branch}"' in _source(cell), path.name
    assert 'if "google.colab" in sys.modules:' in _source(cell)
    others = [c for c in json.loads(path.read_text())["cells"][1:] if "pip install" in _source(c)]
    assert not others, f"{path.name}: a second install cell"


def test_install_cell_is_short_and_fits_the_page():
    lines = make_colab.install_cell_source(CONFIG).splitlines()
    assert len(lines) <= 30 and max(map(len, lines)) <= 79


def _run_install_cell(tmp_path: Path, env: dict[str, str], in_colab: bool) -> subprocess.CompletedProcess:
    """The install cell's own code, in a fresh interpreter that has (or lacks) ``google.colab``."""
    fake = tmp_path / "fake" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    cell = tmp_path / "cell.py"
    cell.write_text(make_colab.install_cell_source(CONFIG))
    prelude = "import google.colab; " if in_colab else ""
    return subprocess.run(
        [sys.executable, "-c", f"{prelude}exec(compile(open({str(cell)!r}).read(), 'cell', 'exec'))"],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "fake"), **env},
        capture_output=True, text=True, timeout=300,
    )


def test_failed_install_raises_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-dir" / "lrsched-0.1.0-py3-none-any.whl"
    result = _run_install_cell(tmp_path, {"LRSCHED_COLAB_WHEEL": str(missing)}, in_colab=True)
    assert result.returncode != 0
    assert result.stdout == "", "nothing may claim success"
    last = result.stderr.strip().splitlines()
    error = "\n".join(last[-12:])
    assert "ImportError: lrsched could not be installed from file://" in error, result.stderr[-2000:]
    assert str(missing) in error
    assert f'!pip install "lrsched[book] @ file://{missing}"' in error
    assert "Traceback" in result.stderr and "pip" in error


def test_install_cell_does_nothing_outside_colab(tmp_path):
    missing = tmp_path / "missing.whl"
    result = _run_install_cell(tmp_path, {"LRSCHED_COLAB_WHEEL": str(missing)}, in_colab=False)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


# -- rendering, on a small book written for the test --------------------------------------------

BIB = """
@inproceedings{loshchilov2017sgdr,
  title = {{SGDR}: Stochastic Gradient Descent with Warm Restarts},
  author = {Loshchilov, Ilya and Hutter, Frank},
  booktitle = {ICLR}, year = {2017}
}
@article{goyal2017accurate,
  title = {Accurate, Large Minibatch {SGD}},
  author = {Goyal, Priya and Doll{\\'a}r, Piotr and Girshick, Ross},
  journal = {arXiv}, year = {2017}
}
@article{smith2017cyclical,
  title = {Cyclical Learning Rates},
  author = {Smith, Leslie N.},
  journal = {WACV}, year = {2017}
}
"""

CHAPTER_2 = [
    ("markdown", [], "# Second chapter\n\n(sec-decay)=\n## Decay\n\nText."),
    ("markdown", [], textwrap.dedent("""\
        Cosine {footcite:t}`loshchilov2017sgdr`, warmup {footcite:p}`goyal2017accurate,smith2017cyclical`.

        $$
        a = 1
        $$ (eq-first)

        $$
        b = 2
        $$

        $$
        c = 3 \\\\
        d = \\lr
        $$ (eq-second)

        By {eq}`eq-second` and {eq}`eq-first`, see {eq}`eq-one` and [](01_first.ipynb), or
        [the first](01_first.ipynb#top), {ref}`sec-decay`, {class}`~lrsched.core.Schedule`,
        {py:func}`lrsched.lab.train` and {doc}`api`."""),
    ),
    ("markdown", [], "```{note}\nA note with $x$.\n```\n\n```{admonition} Careful\nQuoted.\n```"),
    ("code", ["hide-input"], "print('figure')"),
    ("markdown", [], "## Exercises\n\n1. Do it."),
    ("markdown", [], "````{admonition} Solution 1\n:class: dropdown\n\nDone, by {eq}`eq-first`.\n\n```python\nx = 1\n```\n````"),
    ("code", ["hide-cell"], "# NBVAL_CHECK_OUTPUT\nprint('answer 42')"),
    ("code", ["remove-cell"], "print('only for the book')"),
    ("code", ["remove-output"], "explore()"),
    ("markdown", [], "## References\n\n```{footbibliography}\n```"),
]


def _notebook(cells) -> dict:
    out = []
    for index, (kind, tags, source) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"c{index}", "metadata": {"tags": tags} if tags else {},
                "source": source}
        if kind == "code":
            cell.update(execution_count=index, outputs=[
                {"output_type": "stream", "name": "stdout", "text": f"out {index}\n"},
                {"output_type": "display_data", "metadata": {},
                 "data": {make_colab.WIDGET_MIME: {"model_id": "x"}, "text/plain": "VBox()"}},
            ])
        out.append(cell)
    return {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def small_book(tmp_path) -> Path:
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text(yaml.safe_dump({
        "repository": {"url": "https://github.com/Someone/fork-of-book", "branch": "dev"},
        "launch_buttons": {"colab_url": "https://colab.research.google.com"},
        "bibtex_bibfiles": ["book/references.bib"],
    }))
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/index",
        "parts": [{"numbered": True, "chapters": [{"file": "book/01_first"}, {"file": "book/02_second"}]},
                  {"chapters": [{"file": "book/api"}]}],
    }))
    (tmp_path / "book" / "references.bib").write_text(BIB)
    (tmp_path / "book" / "api.md").write_text("# API reference\n")
    first = [("markdown", [], "# First chapter\n\n$$\nz = 0\n$$ (eq-one)\n")]
    (tmp_path / "book" / "01_first.ipynb").write_text(json.dumps(_notebook(first)))
    (tmp_path / "book" / "02_second.ipynb").write_text(json.dumps(_notebook(CHAPTER_2)))
    return tmp_path


def test_renders_myst_as_colab_markdown(small_book):
    editions = make_colab.render_all(small_book)
    nb = json.loads(editions[small_book / "colab" / "02_second.ipynb"])
    text = "\n".join(_markdown_cells(nb))
    site = "https://someone.github.io/fork-of-book/"
    assert "(sec-decay)=" not in text and "## Decay" in text
    assert "Cosine Loshchilov and Hutter (2017), warmup (Goyal et al., 2017; Smith, 2017)." in text
    # labelled equations are numbered per chapter, in order; the unlabelled one is not
    assert "$$\na = 1\n\\tag{2.1}\n$$" in text and "$$\nb = 2\n$$" in text
    assert "\\begin{aligned}\nc = 3 \\\\\nd = \\eta\n\\end{aligned}\n\\tag{2.2}\n$$" in text
    assert "By (2.2) and (2.1), see (1.1) and " in text
    assert f"[First chapter]({site}book/01_first.html)" in text
    assert f"[the first]({site}book/01_first.html#top)" in text
    assert f"[Decay]({site}book/02_second.html#sec-decay)" in text
    assert f"[`Schedule`]({site}book/api.html#lrsched.core.Schedule)" in text
    assert f"[`lrsched.lab.train()`]({site}book/api.html#lrsched.lab.train)" in text
    assert f"[API reference]({site}book/api.html)" in text
    assert "> **Note**\n>\n> A note with $x$." in text
    assert "> **Careful**\n>\n> Quoted." in text
    assert ("<details>\n<summary><b>Solution 1</b></summary>\n\nDone, by (2.1).\n\n"
            "```python\nx = 1\n```\n\n</details>") in text
    references = _markdown_cells(nb)[-1]
    assert references.startswith("## References\n\n- Ilya Loshchilov and Frank Hutter")
    assert references.index("Loshchilov") < references.index("Dollár") < references.index("Smith")
    assert len(re.findall(r"^- ", references, re.M)) == 3


def test_renders_cells_for_colab(small_book):
    nb = json.loads(make_colab.render_all(small_book)[small_book / "colab" / "02_second.ipynb"])
    install, *cells = nb["cells"]
    assert 'source = "git+https://github.com/Someone/fork-of-book@dev"' in _source(install)
    code = {_source(c).splitlines()[-1]: c for c in cells if c["cell_type"] == "code"}
    assert "print('only for the book')" not in code  # remove-cell
    shown = code["print('figure')"]  # hide-input outside the exercises: code folded, output kept
    assert shown["metadata"] == {"cellView": "form"} and _source(shown).startswith("#@title ")
    assert [o.get("text") for o in shown["outputs"]] == ["out 3\n"]  # the widget view is not stored
    solution = code["print('answer 42')"]
    assert _source(solution) == "#@title Solution 1, checked in code\nprint('answer 42')"
    assert solution["outputs"] == [] and solution["execution_count"] is None
    assert code["explore()"]["outputs"] == []  # remove-output


def test_colab_url_of_an_edition(small_book):
    config = yaml.safe_load((small_book / "_config.yml").read_text())
    assert make_colab.colab_url(config, "02_second.ipynb") == (
        "https://colab.research.google.com/github/Someone/fork-of-book/blob/dev/colab/02_second.ipynb"
    )
    assert make_colab.website({**config, "html": {"baseurl": "https://example.org/book"}}) == (
        "https://example.org/book/"
    )


def test_unknown_citation_key_is_an_error(small_book):
    path = small_book / "book" / "02_second.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][1]["source"] = "As {footcite:t}`nobody2020`."
    path.write_text(json.dumps(nb))
    with pytest.raises(KeyError, match="nobody2020"):
        make_colab.render_all(small_book)


# -- the launch button --------------------------------------------------------------------------


def test_launch_button_opens_the_colab_edition(tmp_path):
    colab_links = importlib.util.spec_from_file_location("colab_links", ROOT / "_ext" / "colab_links.py")
    module = importlib.util.module_from_spec(colab_links)
    colab_links.loader.exec_module(module)
    (tmp_path / "colab").mkdir()
    (tmp_path / "colab" / "02_second.ipynb").write_text("{}")
    theme = "https://colab.research.google.com/github/Someone/fork/blob/dev/book/02_second.ipynb"
    assert module.colab_edition_url(theme, "book/02_second", tmp_path) == (
        "https://colab.research.google.com/github/Someone/fork/blob/dev/colab/02_second.ipynb"
    )
    other = theme.replace("02_second", "api")
    assert module.colab_edition_url(other, "book/api", tmp_path) == other  # no edition: unchanged
    assert CONFIG["sphinx"]["local_extensions"].get("colab_links") == "_ext/"
    # what the button opens is what make_colab names and the browser check expects
    url, branch = CONFIG["repository"]["url"].rstrip("/"), CONFIG["repository"]["branch"]
    owner_repo = url.removeprefix("https://github.com/")
    assert make_colab.colab_url(CONFIG, "02_x.ipynb") == (
        f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/colab/02_x.ipynb"
    )
