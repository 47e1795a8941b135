"""Write the Colab edition of every chapter: ``colab/NN_name.ipynb`` from ``book/NN_name.ipynb``.

Colab shows a notebook's Markdown, not the book's MyST, so each edition is the chapter rendered to
what Colab's Markdown shows:

* citations (``{footcite:t}``/``{footcite:p}``, ``{cite:...}``) become "Author (year)" /
  "(Author, year)" from ``book/references.bib``, and ``{footbibliography}`` the chapter's list;
* ``{eq}`` references become the equation numbers the book shows, (chapter.k), and each labelled
  display equation carries its number as ``\\tag``;
* admonitions become blockquotes; a solution (``:class: dropdown``, a ``{dropdown}`` or
  ``{solution}``, or a title starting "Solution") becomes a folded ``<details>`` block;
* cross-references (``{py:func}``, ``{class}``, ``{doc}``, ``{ref}``, ``{numref}``, ``[](file.ipynb)``)
  become code or links to the book's website;
* cell tags: ``remove-cell`` cells are dropped; ``hide-input``/``hide-cell``/``remove-input`` code
  becomes a Colab form cell (code folded); a solution's output and ``hide-cell``/``hide-output``/
  ``remove-output`` outputs are not stored (Colab cannot fold an output); widget outputs, dead
  until the cell runs, are not stored either. Every other output is kept, so the page reads before
  it runs.

The first cell installs lrsched from the repository of ``_config.yml`` (``install_cell_source``);
the chapters themselves have no install cell. The website is ``html.baseurl`` of ``_config.yml``
if set, else the GitHub Pages address of ``repository.url`` (https://OWNER.github.io/REPO/).

Usage: ``python scripts/make_colab.py`` (every chapter; stale editions are removed) or
``python scripts/make_colab.py book/NN_name.ipynb ...``. Deterministic: the same chapters give
byte-identical editions (``tests/test_colab.py`` checks they are in sync).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
COLAB = ROOT / "colab"
INSTALL_CELL_ID = "colab-install"
# The chapters' former hidden install cell (scripts/sync_colab_cells.py removes it); never copied.
LEGACY_MARKER = "# Colab only: install lrsched from the repository"
WHEEL_ENV = "LRSCHED_COLAB_WHEEL"

ADMONITIONS = {
    "admonition", "note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
    "error", "seealso", "exercise", "solution", "dropdown", "margin", "sidebar", "topic",
}
CODE_ROLES = {"code", "kbd", "file", "samp", "command", "program", "envvar", "option", "guilabel"}
PY_ROLES = {"func", "class", "meth", "attr", "mod", "obj", "data", "exc", "const", "attribute"}


def warn(message: str) -> None:
    print(f"make_colab: warning: {message}", file=sys.stderr)


# -- configuration --------------------------------------------------------------------------------


def load_config(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text())


def repository(config: dict) -> tuple[str, str, str]:
    """(url, owner/name, branch) of ``repository`` in ``_config.yml``."""
    repo = config["repository"]
    url = repo["url"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?", url)
    if match is None:
        raise ValueError(f"repository.url must be https://github.com/OWNER/REPO, got {url!r}")
    return url, match.group(1), str(repo.get("branch", "main"))


def website(config: dict) -> str:
    """The book's website, ending in '/': ``html.baseurl``, else GitHub Pages of the repository."""
    base = (config.get("html") or {}).get("baseurl")
    if base:
        return base.rstrip("/") + "/"
    owner, name = repository(config)[1].split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def colab_url(config: dict, notebook: str) -> str:
    """The Colab address of ``colab/<notebook>`` in the repository (what the launch button opens)."""
    _, owner_name, branch = repository(config)
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{owner_name}/blob/{branch}/colab/{notebook}"


def install_cell_source(config: dict) -> str:
    """The first cell of every Colab edition: installs lrsched from ``repository`` of the config.

    It keeps Colab's torch and ipywidgets (named with their installed versions, so pip can only
    keep them), prints one line, and raises an ImportError naming lrsched and the command to retry
    when pip fails or lrsched cannot be imported. ``LRSCHED_COLAB_WHEEL`` (a path to a wheel)
    replaces the repository for the tests.
    """
    url, _, branch = repository(config)
    return f'''\
#@title Install lrsched (in Colab only; keeps Colab's torch and ipywidgets)
import sys

if "google.colab" in sys.modules:
    import importlib, os, subprocess  # noqa: E401
    from importlib.metadata import version

    source = "git+{url}@{branch}"
    if os.environ.get("{WHEEL_ENV}"):  # the tests: a local wheel
        source = "file://" + os.path.abspath(os.environ["{WHEEL_ENV}"])
    keep = [f"{{name}}=={{version(name)}}" for name in ("torch", "ipywidgets")]
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         f"lrsched[book] @ {{source}}", *keep],
        capture_output=True, text=True)
    importlib.invalidate_caches()
    try:
        if pip.returncode:
            raise ImportError(pip.stderr.strip()[-1500:])
        import lrsched.lab, pytorch_optimizer  # noqa: E401, F401
    except ImportError as error:
        raise ImportError(
            f"lrsched could not be installed from {{source}}:\\n{{error}}\\n"
            "Run this cell again, or run this in a new cell to see why:\\n"
            f'!pip install "lrsched[book] @ {{source}}"') from None
    print(f"Installed lrsched {{version('lrsched')}} (with pytorch-optimizer "
          f"{{version('pytorch-optimizer')}}); kept {{', '.join(keep)}}.")'''


# -- the book: chapters, numbers, labels ----------------------------------------------------------


def _toc_numbered_files(toc: dict) -> list[str]:
    """Files of the numbered parts of ``_toc.yml``, in order (chapter k is entry k-1)."""
    files = []
    for part in toc.get("parts", []):
        if part.get("numbered"):
            files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


DISPLAY_MATH = re.compile(r"\$\$(?P<body>.+?)\$\$(?:[ \t]*\((?P<label>[^()\s]+)\))?", re.S)
MATH_DIRECTIVE_LABEL = re.compile(r"^(`{3,}|:{3,})\{math\}.*\n(?:.*\n)*?\s*:label:\s*(\S+)", re.M)
TARGET = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*\n+(?P<heading>#+\s+.*)?", re.M)
HEADING = re.compile(r"^#\s+(.+?)\s*$", re.M)


@dataclass
class Book:
    """What a chapter needs to know about the whole book: numbers, titles, labels, references."""

    root: Path = ROOT
    config: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.config = self.config or load_config(self.root)
        toc = yaml.safe_load((self.root / "_toc.yml").read_text())
        self.numbered = _toc_numbered_files(toc)
        self.website = website(self.config)
        self.titles: dict[str, str] = {}        # docname -> title
        self.equations: dict[str, str] = {}     # label -> "2.3"
        self.targets: dict[str, tuple[str, str]] = {}  # label -> (docname, heading text)
        for path in sorted((self.root / "book").glob("*.ipynb")) + sorted((self.root / "book").glob("*.md")):
            self._index(path)

    def _index(self, path: Path) -> None:
        docname = f"book/{path.stem}"
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            markdown = "\n\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
        else:
            markdown = path.read_text()
        heading = HEADING.search(markdown)
        if heading:
            self.titles[docname] = heading.group(1)
        for match in TARGET.finditer(markdown):
            text = re.sub(r"^#+\s+", "", match.group("heading") or "").strip()
            self.targets[match.group("label")] = (docname, text or match.group("label"))
        if docname not in self.numbered:
            return
        chapter = self.numbered.index(docname) + 1
        # Sphinx numbers labelled display math per chapter, in document order: (chapter.k).
        labels = [m.group("label") for m in DISPLAY_MATH.finditer(markdown) if m.group("label")]
        labels += [m.group(2) for m in MATH_DIRECTIVE_LABEL.finditer(markdown)]
        order = sorted(
            labels,
            key=lambda label: min(
                [m.start() for m in DISPLAY_MATH.finditer(markdown) if m.group("label") == label]
                + [m.start() for m in MATH_DIRECTIVE_LABEL.finditer(markdown) if m.group(2) == label]
            ),
        )
        for k, label in enumerate(order, start=1):
            self.equations[label] = f"{chapter}.{k}"

    def page_url(self, docname: str, anchor: str = "") -> str:
        return f"{self.website}{docname}.html" + (f"#{anchor}" if anchor else "")

    @cached_property
    def bibliography(self):
        from pybtex.database import parse_file  # installed with sphinxcontrib-bibtex

        entries = {}
        for bibfile in self.config.get("bibtex_bibfiles", []):
            entries.update(parse_file(str(self.root / bibfile)).entries)
        return entries


# -- citations ------------------------------------------------------------------------------------


def _last_name(person) -> str:
    return " ".join(part.render_as("text") for part in person.rich_prelast_names + person.rich_last_names)


def _authors(entry) -> str:
    """Author-year style, as sphinxcontrib-bibtex's: "A", "A and B", "A et al."."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_name(p) for p in persons]
    if not names:
        return entry.fields.get("title", entry.key)
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def _year(entry) -> str:
    return str(entry.fields.get("year", "n.d."))


def cite(book: Book, role: str, keys: list[str]) -> str:
    entries = []
    for key in keys:
        if key not in book.bibliography:
            raise KeyError(f"citation key {key!r} is not in {book.config.get('bibtex_bibfiles')}")
        entries.append(book.bibliography[key])
    kind = role.split(":", 1)[1] if ":" in role else "p"
    if kind in ("t", "ts"):
        return "; ".join(f"{_authors(e)} ({_year(e)})" for e in entries)
    if kind in ("author", "authors"):
        return "; ".join(_authors(e) for e in entries)
    if kind == "year":
        return "; ".join(_year(e) for e in entries)
    if kind == "yearpar":
        return "(" + "; ".join(_year(e) for e in entries) + ")"
    return "(" + "; ".join(f"{_authors(e)}, {_year(e)}" for e in entries) + ")"


def reference_list(book: Book, keys: list[str]) -> str:
    """The chapter's references in the book's style (``bibtex_default_style``), as Markdown."""
    from pybtex.plugin import find_plugin

    style_name = book.config.get("sphinx", {}).get("config", {}).get("bibtex_default_style", "plain")
    style = find_plugin("pybtex.style.formatting", style_name)()
    entries = {key: book.bibliography[key] for key in keys}
    formatted = {e.key: e for e in style.format_entries(entries.values())}
    lines = []
    for key in keys:  # in order of first citation, as {footbibliography} lists them
        text = formatted[key].text.render_as("markdown").replace("\n", " ")
        lines.append(f"- {text}")
    return "\n".join(lines)


# -- Markdown -------------------------------------------------------------------------------------

ROLE = re.compile(r"\{(?P<role>[a-zA-Z][\w:+-]*)\}`(?P<content>[^`]+)`")
MYST_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")
FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,}|~{3,})(?P<info>.*)$")
DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
EXPLICIT_TARGET = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)


@dataclass
class Chapter:
    """The state of one chapter's conversion: the book, its docname and the keys it cites."""

    book: Book
    docname: str
    cited: list[str] = field(default_factory=list)

    # inline ----------------------------------------------------------------------------------

    def role(self, match: re.Match) -> str:
        role, content = match.group("role"), match.group("content").strip()
        name = role.split(":", 1)[1] if role.startswith("py:") else role
        if role.startswith(("footcite", "cite")):
            keys = [k.strip() for k in content.split(",") if k.strip()]
            self.cited += [k for k in keys if k not in self.cited]
            return cite(self.book, role, keys)
        if name == "eq" or (name == "numref" and content in self.book.equations):
            label = EXPLICIT_TARGET.match(content).group("target") if "<" in content else content
            if label not in self.book.equations:
                warn(f"{self.docname}: unknown equation label {label!r}")
                return f"({label})"
            return f"({self.book.equations[label]})"
        if name == "math":
            return f"${content}$"
        if name in PY_ROLES:
            return self.python_name(name, content)
        if name in ("doc", "ref", "numref", "any", "term", "download"):
            return self.cross_reference(name, content)
        if name in CODE_ROLES:
            return f"`{content}`"
        if name in ("abbr", "sub", "sup", "index", "dfn", "emphasis", "strong"):
            text = EXPLICIT_TARGET.match(content)
            return {"strong": f"**{content}**", "emphasis": f"*{content}*"}.get(
                name, re.sub(r"\s*\(.*\)$", "", text.group("text")) if text else content
            )
        warn(f"{self.docname}: unknown role {{{role}}}; shown as code")
        return f"`{content}`"

    def python_name(self, role: str, content: str) -> str:
        explicit = EXPLICIT_TARGET.match(content)
        target = (explicit.group("target") if explicit else content).lstrip("~!.")
        if explicit:
            shown = explicit.group("text")
        elif content.startswith("~"):
            shown = target.rsplit(".", 1)[-1]
        else:
            shown = target
        if role in ("func", "meth") and not explicit:
            shown += "()"
        if target.startswith("lrsched") and not content.startswith("!"):
            return f"[`{shown}`]({self.book.page_url('book/api', target)})"
        return f"`{shown}`"

    def document(self, target: str) -> tuple[str, str] | None:
        """(docname, anchor) of a link target to a page of the book, relative to this chapter."""
        path, _, anchor = target.partition("#")
        if re.match(r"^[a-z][a-z0-9+.-]*:", path) or not re.search(r"\.(ipynb|md)$|^[\w./-]+$", path):
            return None
        if not path:
            return self.docname, anchor
        base = (Path(self.docname).parent / path).as_posix()
        docname = re.sub(r"\.(ipynb|md)$", "", base)
        docname = re.sub(r"(^|/)[^/]+/\.\./", r"\1", docname).lstrip("/")
        return docname, anchor

    def cross_reference(self, role: str, content: str) -> str:
        explicit = EXPLICIT_TARGET.match(content)
        text = explicit.group("text") if explicit else ""
        target = explicit.group("target") if explicit else content
        if role in ("doc", "download"):
            docname, anchor = self.document(target if target.startswith(("/", ".")) else target) or (target, "")
            docname = docname.lstrip("/")
            return f"[{text or self.book.titles.get(docname, docname)}]({self.book.page_url(docname, anchor)})"
        if target in self.book.targets:
            docname, heading = self.book.targets[target]
            return f"[{text or heading}]({self.book.page_url(docname, target)})"
        if role == "term":
            return text or target
        warn(f"{self.docname}: unknown reference target {target!r}; shown as text")
        return text or f"`{target}`"

    def link(self, match: re.Match) -> str:
        text, target = match.group("text"), match.group("target")
        if target.startswith("#") and target[1:] in self.book.targets:
            docname, heading = self.book.targets[target[1:]]
            return f"[{text or heading}]({self.book.page_url(docname, target[1:])})"
        if target.startswith("#") and target[1:] in self.book.equations:
            return f"({self.book.equations[target[1:]]})" if not text else text
        found = self.document(target)
        if found is None or not (found[0] in self.book.titles or target.endswith((".ipynb", ".md"))):
            return match.group(0)
        docname, anchor = found
        return f"[{text or self.book.titles.get(docname, docname)}]({self.book.page_url(docname, anchor)})"

    def display_math(self, match: re.Match) -> str:
        body, label = match.group("body"), match.group("label")
        if label is None:
            return match.group(0)
        number = self.book.equations.get(label)
        if number is None:
            warn(f"{self.docname}: equation label {label!r} has no number")
            return f"$${body}$$"
        return f"$${self._wrap_math(body)}\\tag{{{number}}}\n$$"

    @staticmethod
    def _wrap_math(body: str) -> str:
        # Sphinx wraps display math with line breaks in an environment; Colab would not.
        if "\\\\" in body and "\\begin" not in body:
            return f"\n\\begin{{aligned}}\n{body.strip()}\n\\end{{aligned}}\n"
        return body.rstrip() + "\n"

    def inline(self, text: str) -> str:
        """Roles, MyST links, labelled math, targets and comments of text outside code fences."""
        text = re.sub(r"^\([^()\s]+\)=[ \t]*\n", "", text, flags=re.M)  # (label)= targets
        text = re.sub(r"^%.*\n?", "", text, flags=re.M)  # MyST comments
        text = DISPLAY_MATH.sub(self.display_math, text)
        text = re.sub(r"\\lr(?![a-zA-Z])", r"\\eta", text)  # the book's MathJax macro
        text = ROLE.sub(self.role, text)
        return MYST_LINK.sub(self.link, text)

    # blocks ----------------------------------------------------------------------------------

    def markdown(self, text: str) -> str:
        lines = text.split("\n")
        out: list[str] = []
        plain: list[str] = []
        i = 0

        def flush() -> None:
            if plain:
                out.append(self.inline("\n".join(plain)))
                plain.clear()

        while i < len(lines):
            opening = FENCE_OPEN.match(lines[i])
            if opening is None:
                plain.append(lines[i])
                i += 1
                continue
            fence = opening.group("fence")
            close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
            end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), len(lines))
            body = lines[i + 1 : end]
            directive = DIRECTIVE_INFO.match(opening.group("info").strip())
            flush()
            if directive is None:  # an ordinary code block, copied as it is
                out.append("\n".join(lines[i : end + 1]))
            else:
                out.append(self.directive(directive.group("name"), directive.group("arg").strip(), body))
            i = end + 1
        flush()
        return "\n".join(out)

    @staticmethod
    def options(body: list[str]) -> tuple[dict[str, str], list[str]]:
        options: dict[str, str] = {}
        if body and body[0].strip() == "---":
            end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), None)
            if end is not None:
                options = {str(k): str(v) for k, v in (yaml.safe_load("\n".join(body[1:end])) or {}).items()}
                return options, body[end + 1 :]
        while body and re.match(r"^\s*:[\w-]+:", body[0]):
            key, _, value = body[0].strip()[1:].partition(":")
            options[key] = value.strip()
            body = body[1:]
        return options, body

    def directive(self, name: str, arg: str, body_lines: list[str]) -> str:
        options, body_lines = self.options(body_lines)
        name = name.split(":", 1)[-1] if name.startswith(("prf:", "py:")) else name
        if name == "footbibliography":
            return reference_list(self.book, self.cited) if self.cited else ""
        if name == "bibliography":
            return reference_list(self.book, sorted(self.book.bibliography))
        raw = "\n".join(body_lines).strip("\n")
        if name == "math":
            label = options.get("label")
            number = self.book.equations.get(label) if label else None
            tag = f"\\tag{{{number}}}\n" if number else ""
            return f"$${self._wrap_math(raw)}{tag}$$"
        if name in ("code-block", "code", "sourcecode", "code-cell"):
            return f"```{arg}\n{raw}\n```"
        if name == "raw" and arg == "html":
            return raw
        if name in ("figure", "image"):
            url, _, branch = repository(self.book.config)
            owner_name = repository(self.book.config)[1]
            src = arg if re.match(r"^https?://", arg) else (
                f"https://raw.githubusercontent.com/{owner_name}/{branch}/"
                f"{(Path(self.docname).parent / arg).as_posix()}")
            caption = self.markdown(raw)
            return f"![{options.get('alt', '')}]({src})" + (f"\n\n*{caption}*" if caption else "")
        if name not in ADMONITIONS:
            warn(f"{self.docname}: directive {{{name}}} has no Colab rendering; shown as a quote")
        if name in ("admonition", "dropdown", "exercise", "solution", "topic", "sidebar", "margin"):
            title = self.inline(arg) or name.capitalize()
            content = self.markdown(raw)
        else:  # {note} text: the argument is the first line of the content
            title = name.capitalize() if name != "seealso" else "See also"
            content = self.markdown("\n".join(([arg] if arg else []) + body_lines).strip("\n"))
        classes = options.get("class", "").split()
        folded = "dropdown" in classes or name in ("dropdown", "solution") or title.lower().startswith("solution")
        if folded:
            return f"<details>\n<summary><b>{title}</b></summary>\n\n{content}\n\n</details>"
        quoted = "\n".join(f"> {line}".rstrip() for line in content.split("\n"))
        return f"> **{title}**\n>\n{quoted}"


# -- notebooks ------------------------------------------------------------------------------------

HIDDEN_CODE_TAGS = {"hide-input", "hide-cell", "remove-input"}
UNSTORED_OUTPUT_TAGS = {"hide-cell", "hide-output", "remove-output"}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _keep_output(output: dict) -> bool:
    return WIDGET_MIME not in output.get("data", {})


def convert(path: Path, book: Book) -> dict:
    """The Colab edition of one chapter notebook, as a notebook dict."""
    nb = json.loads(path.read_text())
    chapter = Chapter(book, f"book/{path.stem}")
    install = {
        "cell_type": "code",
        "execution_count": None,
        "id": INSTALL_CELL_ID,
        "metadata": {"cellView": "form"},  # Colab shows the title, the code folded
        "outputs": [],
        "source": _lines(install_cell_source(book.config)),
    }
    cells = [install]
    exercises_level = None  # heading level of "Exercises" while inside that section
    solution = None  # title of the last folded solution in the exercises
    for cell in nb["cells"]:
        source, tags = _source(cell), set(_tags(cell))
        if "remove-cell" in tags or source.startswith(LEGACY_MARKER):
            continue
        new = {"cell_type": cell["cell_type"], "id": cell.get("id"), "metadata": {}}
        if new["id"] is None:
            del new["id"]
        if cell["cell_type"] == "markdown":
            for level, heading in re.findall(r"^(#+)\s+(.*)$", source, re.M):
                if exercises_level and len(level) <= exercises_level:
                    exercises_level = None
                if re.match(r"exercises?\b", heading.strip(), re.I):
                    exercises_level = len(level)
            text = chapter.markdown(source)
            found = re.findall(r"<summary><b>(.*?)</b></summary>", text)
            solution = found[-1] if found else solution
            new["source"] = _lines(text)
            if cell.get("attachments"):
                new["attachments"] = cell["attachments"]
        elif cell["cell_type"] == "code":
            code = "".join(line for line in _lines(source) if not re.match(r"^# NBVAL_\w+\s*$", line))
            hidden = bool(tags & HIDDEN_CODE_TAGS)
            is_solution = hidden and exercises_level is not None
            if hidden:
                title = f"{solution}, checked in code" if is_solution and solution else "Code (hidden in the book)"
                code = f"#@title {title}\n{code}"
                new["metadata"] = {"cellView": "form"}
            outputs = [o for o in cell.get("outputs", []) if _keep_output(o)]
            if tags & UNSTORED_OUTPUT_TAGS or is_solution:
                outputs = []
            new.update(
                execution_count=cell.get("execution_count") if outputs else None,
                outputs=outputs,
                source=_lines(code.rstrip("\n")),
            )
        else:
            new["source"] = _lines(source)
        cells.append(new)
    if chapter.cited and not any("footbibliography" in _source(c) for c in nb["cells"]):
        warn(f"{path.name}: cites papers but has no {{footbibliography}}")
    metadata = {
        "colab": {"provenance": [], "toc_visible": True},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "book").glob("[0-9][0-9]_*.ipynb"))


def render_all(root: Path = ROOT, paths: list[Path] | None = None) -> dict[Path, str]:
    """{colab/NN_name.ipynb: text} for the given chapters (default: all of them)."""
    book = Book(root)
    return {root / "colab" / p.name: dumps(convert(p, book)) for p in (paths or chapters(root))}


def main(argv: list[str]) -> int:
    paths = [Path(p).resolve() for p in argv]
    editions = render_all(ROOT, paths or None)
    COLAB.mkdir(exist_ok=True)
    for target, text in editions.items():
        changed = not target.exists() or target.read_text() != text
        if changed:
            target.write_text(text)
        print(f"{'wrote' if changed else 'unchanged'}: {target.relative_to(ROOT)}")
    if not paths:  # a chapter renamed or removed: its old edition goes too
        for stale in sorted(set(COLAB.glob("*.ipynb")) - set(editions)):
            stale.unlink()
            print(f"removed: {stale.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
