"""The explorer: precompute a function over a grid of controls, draw it with Vega-Lite.

Design (issue 13): the browser never evaluates a schedule. Python calls ``compute(**setting)``
for every point of the cartesian grid of the controls and stores the resulting tables, one per
panel, as compact CSV inside a Vega-Lite v5 spec. Each control is a Vega-Lite parameter bound to a
native ``<input type="range">`` (evenly spaced numbers) or ``<select>`` (anything else); the only
expressions in the spec turn the controls' positions into the index of the current setting and
keep the rows of that setting's table (``datum._table == panel_0_table[lrsched_setting]``: a table
that several settings share is stored once; each panel has the list "setting -> table id"). A
setting whose compute
raised ``ValueError``/``TypeError`` (lrsched's own validation) has no rows; its message is drawn
in place of each panel instead.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import itertools
import json
import math
import numbers
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = ["Control", "Panel", "Explorer", "explorer"]

#: The chart library, pinned; ``web/package.json`` pins the same versions for the book's copy.
VEGA_VERSIONS = {"vega": "5.33.1", "vega-lite": "5.23.0", "vega-embed": "6.29.0"}
#: Where Jupyter and Colab load it from (the website serves its own copy from ``_static``).
CDN_URLS = [f"https://cdn.jsdelivr.net/npm/{name}@{version}/build/{name}.min.js" for name, version in VEGA_VERSIONS.items()]

MARKS = ("line", "point", "bar", "rule", "text")
SCALES = ("linear", "log")
SETTING = "_setting"  # the column holding each row's setting index
SETTING_PARAM = "lrsched_setting"  # the Vega-Lite parameter: index of the current setting
DEFAULT_MAX_BYTES = 400_000
SIGNIFICANT_DIGITS = 8  # numbers in the page: relative rounding error <= 5e-8 (check: 1e-6)
TABLE = "_table"  # the column holding each row's table id (identical tables are stored once)


# --------------------------------------------------------------------------------------------
# Controls and panels
# --------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _plain(value: Any) -> Any:
    """A JSON-friendly Python scalar (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    return value


@dataclass(frozen=True)
class Control:
    """One control of an explorer: a name (the keyword ``compute`` receives) and its values.

    Parameters
    ----------
    name : str
        The keyword argument of ``compute``; a Python identifier.
    values : list
        The grid of this control: at least two distinct numbers, strings or booleans. Evenly spaced numbers become a
        slider (``<input type="range">``), anything else a drop-down (``<select>``).
    label : str, optional
        The visible label (default: ``name`` with ``_`` as spaces). Plain text; use unicode for
        symbols (``"η_max"``), the browser does not typeset TeX here.
    default : optional
        The value shown first (default: the first of ``values``).

    Examples
    --------
    >>> Control("warmup_steps", [0, 10, 20, 30]).widget
    'range'
    >>> Control("peak_lr", [0.05, 0.1, 0.2, 0.5], label="peak lr").widget
    'select'
    """

    name: str
    values: Sequence[Any]
    label: str | None = None
    default: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"Control name must be a Python identifier, got name={self.name!r}")
        if isinstance(self.values, (str, bytes)) or not isinstance(self.values, (Sequence, np.ndarray)):
            raise TypeError(f"Control {self.name!r}: values must be a list of values, got values={self.values!r}")
        values = tuple(_plain(v) for v in self.values)
        if len(values) < 2:
            raise ValueError(f"Control {self.name!r}: values needs at least two values (a control must change something), got values={list(values)!r}")
        for v in values:
            if not (_is_number(v) or isinstance(v, (str, bool))):
                raise TypeError(f"Control {self.name!r}: values must be numbers, str or bool, got {v!r} in values")
            if _is_number(v) and not math.isfinite(v):
                raise ValueError(f"Control {self.name!r}: values must be finite, got {v!r} in values")
        if len(set(values)) != len(values):
            raise ValueError(f"Control {self.name!r}: values must be distinct, got values={list(values)!r}")
        object.__setattr__(self, "values", values)
        if self.label is None:
            object.__setattr__(self, "label", self.name.replace("_", " "))
        elif not isinstance(self.label, str):
            raise TypeError(f"Control {self.name!r}: label must be a str, got label={self.label!r}")
        if self.default is None:
            object.__setattr__(self, "default", values[0])
        elif _plain(self.default) not in values:
            raise ValueError(f"Control {self.name!r}: default={self.default!r} is not one of values={list(values)!r}")
        else:
            object.__setattr__(self, "default", _plain(self.default))

    @property
    def step(self) -> float | None:
        """The spacing of an evenly spaced increasing numeric grid, else None."""
        v = self.values
        if not all(_is_number(x) for x in v):
            return None
        steps = np.diff(np.asarray(v, dtype=float))
        if steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=1e-9, atol=0.0):
            return None
        return float(steps[0])

    @property
    def widget(self) -> str:
        """``"range"`` for an evenly spaced numeric grid, else ``"select"``."""
        return "range" if self.step is not None else "select"

    @property
    def param(self) -> str:
        """The Vega-Lite parameter name, prefixed with ``c_`` (``width`` or ``height`` are Vega's own)."""
        return f"c_{self.name}"

    def index_expr(self) -> str:
        """Vega expression for the position of the current value in ``values``."""
        if self.widget == "range":
            return f"round(({self.param} - {_num(self.values[0])}) / {_num(self.step)})"
        return self.param

    def vega_param(self) -> dict[str, Any]:
        """The Vega-Lite parameter bound to this control's input."""
        if self.widget == "range":
            bind = {"input": "range", "min": self.values[0], "max": self.values[-1], "step": self.step, "name": self.label}
            return {"name": self.param, "value": self.default, "bind": bind}
        labels = [_label(v) for v in self.values]
        bind = {"input": "select", "options": list(range(len(self.values))), "labels": labels, "name": self.label}
        return {"name": self.param, "value": self.values.index(self.default), "bind": bind}


def _num(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Panel:
    """One chart of an explorer, drawn from the table ``compute`` returns under ``name``.

    Parameters
    ----------
    name : str
        The key of this panel's table in the dict ``compute`` returns. A table is a dict of
        equal-length columns (arrays or lists of numbers, str or bool) or a pandas DataFrame.
    mark : str
        One of ``"line"``, ``"point"``, ``"bar"``, ``"rule"``, ``"text"``. ``"rule"`` draws vertical lines at ``x`` (or horizontal ones at ``y`` when ``x`` is
        None). ``"text"`` draws the table itself (a small table of numbers), using ``columns``.
    x, y : str, optional
        Column names (required for every mark but ``"text"``; ``"rule"`` needs one of them).
    color : str, optional
        A column splitting the rows into colored series (one line per value).
    title, x_title, y_title : str, optional
        Plain text (unicode symbols such as ``η_t``; no TeX).
    x_scale, y_scale : str
        ``"linear"`` (default) or ``"log"``.
    x_domain, y_domain : str or tuple
        ``"shared"`` (default), ``"auto"`` or ``(low, high)``. ``"shared"``: fixed over the whole grid, so a control that scales the data
        visibly moves it instead of rescaling the axis. ``"auto"``: fit each setting.
    tooltip : bool or list of str
        Show values on hover: True for the encoded columns, or the columns to show.
    columns : list of str, optional
        For ``mark="text"``: the columns to show, in order (default: all).
    number_format : str
        Python/d3 format spec for numbers in ``"text"`` panels and tooltips (default ``".4g"``).
    width, height : int, optional
        In pixels (defaults depend on the number of panels).

    Examples
    --------
    >>> Panel("lr", mark="line", x="step", y="lr", title="learning rate", y_title="η_t").mark
    'line'
    """

    name: str
    mark: str = "line"
    x: str | None = None
    y: str | None = None
    color: str | None = None
    title: str | None = None
    x_title: str | None = None
    y_title: str | None = None
    x_scale: str = "linear"
    y_scale: str = "linear"
    x_domain: Any = "shared"
    y_domain: Any = "shared"
    tooltip: bool | Sequence[str] = False
    columns: Sequence[str] | None = None
    number_format: str = ".4g"
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Panel name must be a non-empty str, got name={self.name!r}")
        if self.mark not in MARKS:
            raise ValueError(f"Panel {self.name!r}: mark must be one of {MARKS}, got mark={self.mark!r}")
        for axis in ("x", "y", "color"):
            value = getattr(self, axis)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"Panel {self.name!r}: {axis} must be a column name (str) or None, got {axis}={value!r}")
        if self.mark in ("line", "point", "bar") and (self.x is None or self.y is None):
            raise ValueError(f"Panel {self.name!r}: mark={self.mark!r} needs both x and y, got x={self.x!r}, y={self.y!r}")
        if self.mark == "rule" and self.x is None and self.y is None:
            raise ValueError(f"Panel {self.name!r}: mark='rule' needs x (vertical rules) or y (horizontal rules)")
        for axis in ("x_scale", "y_scale"):
            if getattr(self, axis) not in SCALES:
                raise ValueError(f"Panel {self.name!r}: {axis} must be one of {SCALES}, got {axis}={getattr(self, axis)!r}")
        for axis in ("x_domain", "y_domain"):
            value = getattr(self, axis)
            ok = value in ("shared", "auto") if isinstance(value, str) else (
                isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(v) and math.isfinite(v) for v in value) and value[0] < value[1]
            )
            if not ok:
                raise ValueError(f"Panel {self.name!r}: {axis} must be 'shared', 'auto' or (low, high) with low < high, got {axis}={value!r}")
        if not isinstance(self.tooltip, bool):
            if isinstance(self.tooltip, str) or not all(isinstance(c, str) for c in self.tooltip):
                raise TypeError(f"Panel {self.name!r}: tooltip must be a bool or a list of column names, got tooltip={self.tooltip!r}")
            object.__setattr__(self, "tooltip", tuple(self.tooltip))
        if self.columns is not None:
            if isinstance(self.columns, str) or not all(isinstance(c, str) for c in self.columns):
                raise TypeError(f"Panel {self.name!r}: columns must be a list of column names, got columns={self.columns!r}")
            object.__setattr__(self, "columns", tuple(self.columns))
        try:
            format(1.5, self.number_format)
        except (ValueError, TypeError):
            raise ValueError(f"Panel {self.name!r}: number_format must be a format spec like '.4g', got number_format={self.number_format!r}") from None
        for size in ("width", "height"):
            value = getattr(self, size)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 20):
                raise ValueError(f"Panel {self.name!r}: {size} must be an int >= 20 pixels, got {size}={value!r}")

    def fields(self) -> list[str]:
        """The columns this panel draws (x, y, color, tooltip)."""
        found = [f for f in (self.x, self.y, self.color) if f is not None]
        if isinstance(self.tooltip, tuple):
            found += list(self.tooltip)
        return list(dict.fromkeys(found))


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

Table = dict  # column name -> 1-D numpy array (float64, str or bool)


def _column_kind(array: np.ndarray) -> str:
    if array.dtype.kind == "b":
        return "boolean"
    if array.dtype.kind in "iuf":
        return "number"
    if array.dtype.kind in "US" or (array.dtype.kind == "O" and all(isinstance(v, str) for v in array)):
        return "string"
    raise TypeError(f"unsupported column type {array.dtype}")


def _as_table(value: Any, panel: str, where: str) -> Table:
    """Turn what ``compute`` returned for a panel into a dict of equal-length 1-D arrays."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame
        value = {str(c): value[c].to_numpy() for c in value.columns}
    if not isinstance(value, Mapping):
        raise TypeError(f"compute({where}) returned {type(value).__name__} for panel {panel!r}; expected a dict of columns")
    table: Table = {}
    length = None
    for name, column in value.items():
        if not isinstance(name, str):
            raise TypeError(f"compute({where}), panel {panel!r}: column names must be str, got {name!r}")
        if name in (SETTING, TABLE):
            raise ValueError(f"compute({where}), panel {panel!r}: the column name {name!r} is reserved")
        array = np.asarray(column)
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim != 1:
            raise ValueError(f"compute({where}), panel {panel!r}: column {name!r} must be 1-D, got shape {array.shape}")
        try:
            kind = _column_kind(array)
        except TypeError as error:
            raise TypeError(f"compute({where}), panel {panel!r}, column {name!r}: {error}") from None
        array = array.astype(float) if kind == "number" else array.astype(str) if kind == "string" else array
        if length is not None and len(array) != length:
            raise ValueError(f"compute({where}), panel {panel!r}: columns must have equal lengths, column {name!r} has {len(array)}, others {length}")
        length = len(array)
        table[name] = array
    return table


def _fmt(value: Any) -> str:
    """A number as stored in the page (SIGNIFICANT_DIGITS); non-finite as empty (null)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    value = float(value)
    if not math.isfinite(value):
        return ""
    return f"{value:.{SIGNIFICANT_DIGITS}g}"


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _text_cells(table: Table, columns: Sequence[str], number_format: str) -> list[tuple[int, str, str]]:
    """The cells a ``"text"`` panel shows: (row, column, formatted text)."""
    cells = []
    for column in columns:
        for row, value in enumerate(table[column]):
            value = _plain(value)
            if isinstance(value, bool) or isinstance(value, str):
                text = _label(value) if isinstance(value, bool) else value
            else:
                text = format(float(value), number_format) if math.isfinite(value) else str(float(value))
            cells.append((row, column, text))
    return cells


# --------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------


@dataclass
class Explorer:
    """A precomputed explorer; displays itself in Jupyter, Colab and the book (HTML).

    Build it with :func:`explorer`. Attributes for tests and for reuse:

    Attributes
    ----------
    settings : list of dict
        Every point of the grid, in order (row-major over ``controls``).
    data : dict
        ``tuple of control values -> {panel name: {column: numpy array}}`` for every setting
        where ``compute`` returned tables.
    errors : dict
        ``tuple of control values -> message`` for every setting where ``compute`` raised
        ``ValueError`` or ``TypeError``.
    spec : dict
        The Vega-Lite v5 spec (data, the controls' parameters, filters; no formulas).
    """

    compute: Callable[..., Mapping[str, Any]]
    controls: list[Control]
    panels: list[Panel]
    title: str | None
    settings: list[dict[str, Any]] = field(repr=False)
    data: dict[tuple, dict[str, Table]] = field(repr=False)
    errors: dict[tuple, str] = field(repr=False)
    spec: dict[str, Any] = field(repr=False)

    def key(self, **setting: Any) -> tuple:
        """The grid key of a setting given by keyword (every control, values from its grid)."""
        names = [c.name for c in self.controls]
        if set(setting) != set(names):
            raise ValueError(f"a setting needs exactly the controls {names}, got {sorted(setting)}")
        key = tuple(_plain(setting[n]) for n in names)
        for control, value in zip(self.controls, key):
            if value not in control.values:
                raise ValueError(f"{control.name}={value!r} is not on the grid {list(control.values)}")
        return key

    def at(self, **setting: Any) -> dict[str, Table]:
        """The tables of one setting; raises ValueError with compute's message at an error setting."""
        key = self.key(**setting)
        if key in self.errors:
            raise ValueError(self.errors[key])
        return self.data[key]

    @property
    def nbytes(self) -> int:
        """Size of the spec as embedded in the page (UTF-8 JSON)."""
        return len(_spec_json(self.spec).encode())

    @property
    def id(self) -> str:
        """A stable element id; the same explorer gets the same id on every run (no output churn)."""
        return "lrsched-explorer-" + hashlib.sha1(_spec_json(self.spec).encode()).hexdigest()[:12]

    def to_html(self) -> str:
        """A ``<div>`` with the spec and the script that draws it (see the module docstring)."""
        spec = _spec_json(self.spec).replace("</", "<\\/")  # a "</script>" inside a string
        script = _SCRIPT.replace("__ID__", json.dumps(self.id)).replace("__CDN__", json.dumps(CDN_URLS))
        script = script.replace("__AMD__", json.dumps({n: u[: -len(".js")] for n, u in zip(VEGA_VERSIONS, CDN_URLS)}))
        return (
            f'<div class="lrsched-explorer" id="{self.id}">{_STYLE}'
            f'<div class="lrsched-explorer-chart">Loading the explorer… (needs JavaScript)</div>'
            f'<script type="application/json" class="lrsched-explorer-spec">{spec}</script>'
            f"<script>{script}</script></div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.to_html(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        grid = " x ".join(f"{c.name}[{len(c.values)}]" for c in self.controls)
        return f"<Explorer {self.title or ''!r}: {grid} = {len(self.settings)} settings, {len(self.errors)} with errors, {self.nbytes / 1e3:.0f} kB>"


def _spec_json(spec: dict[str, Any]) -> str:
    return json.dumps(spec, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _compute_ref(compute: Callable) -> str | None:
    """``module:qualname`` of an importable compute function (for the browser check), else None."""
    module, qualname = getattr(compute, "__module__", None), getattr(compute, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def explorer(
    compute: Callable[..., Mapping[str, Any]],
    controls: Sequence[Control],
    panels: Sequence[Panel],
    title: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Explorer:
    """An interactive figure that needs no kernel: ``compute`` precomputed over the controls' grid.

    Calls ``compute(**setting)`` for every combination of the controls' values (the cartesian
    grid). It returns one table per panel, ``{panel name: {column: values}}``. The browser shows
    the tables of the setting the controls select; nothing is recomputed there, so the figure
    shows exactly what lrsched computes. Where ``compute`` raises ``ValueError`` or ``TypeError``
    (say lrsched rejects ``min_lr > max_lr``), that setting shows the message in place of each
    chart. Axes are fixed over the grid (``x_domain``/``y_domain="shared"``), so moving a control
    that scales the data moves the marks, not the axis.

    Parameters
    ----------
    compute : callable
        ``compute(**setting) -> {panel name: table}``; a table is a dict of equal-length columns
        (or a pandas DataFrame). Define it at module level in a package (``module:qualname``)
        and the browser check recomputes it to verify the page; a notebook's function is checked
        against the embedded values.
    controls : list of Control
        The grid, one axis per control; at least one. Every control must change what is drawn.
    panels : list of Panel
        The charts, side by side (two per row).
    title : str, optional
        Shown above the charts (plain text).
    max_bytes : int
        Upper bound for the embedded spec (default 400 kB, so a chapter with a few explorers stays
        under its 1.5 MB page budget). Over it, a ValueError says by how much: use fewer grid
        points or fewer rows (e.g. every 5th step of a curve).

    Returns
    -------
    Explorer
        Displays itself; ``.data``, ``.errors``, ``.at(**setting)`` and ``.spec`` for tests.

    Raises
    ------
    ValueError, TypeError
        Bad arguments (naming the argument), a compute result that does not fit the panels, no
        successful setting, a control that changes nothing drawn, or a spec over ``max_bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> import lrsched
    >>> def compute(warmup_steps, peak_lr):
    ...     sched = lrsched.warmup_cosine(t_max=100, max_lr=peak_lr,
    ...                                   warmup_steps=warmup_steps)
    ...     t = np.arange(101)
    ...     lr = sched(t)
    ...     return {"lr": {"step": t, "lr": lr},
    ...             "area": {"what": ["mean lr"], "value": [lr.mean()]}}
    >>> ex = explorer(
    ...     compute,
    ...     controls=[Control("warmup_steps", [0, 10, 20, 30], label="warmup steps"),
    ...               Control("peak_lr", [0.05, 0.1, 0.2, 0.5], label="peak lr")],
    ...     panels=[Panel("lr", mark="line", x="step", y="lr",
    ...                   title="learning rate", y_title="η_t"),
    ...             Panel("area", mark="bar", x="what", y="value", title="mean lr")],
    ...     title="Warmup then cosine")
    >>> len(ex.settings), float(ex.at(warmup_steps=10, peak_lr=0.2)["lr"]["lr"][10])
    (16, 0.2)
    """
    if not callable(compute):
        raise TypeError(f"compute must be callable, got compute={compute!r}")
    controls, panels = _check_list("controls", controls, Control), _check_list("panels", panels, Panel)
    for what, items in (("controls", [c.name for c in controls]), ("panels", [p.name for p in panels])):
        duplicates = sorted({n for n in items if items.count(n) > 1})
        if duplicates:
            raise ValueError(f"{what} names must be distinct, got {duplicates} more than once")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got title={title!r}")
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a positive int, got max_bytes={max_bytes!r}")

    keys = list(itertools.product(*(c.values for c in controls)))
    settings = [dict(zip((c.name for c in controls), key)) for key in keys]
    data: dict[tuple, dict[str, Table]] = {}
    errors: dict[tuple, str] = {}
    kinds: dict[tuple[str, str], str] = {}
    for key, setting in zip(keys, settings):
        where = ", ".join(f"{k}={v!r}" for k, v in setting.items())
        try:
            result = compute(**setting)
        except (ValueError, TypeError) as error:
            errors[key] = str(error) or type(error).__name__
            continue
        if not isinstance(result, Mapping):
            raise TypeError(f"compute({where}) must return a dict of tables, one per panel, got {type(result).__name__}")
        tables = {}
        for panel in panels:
            if panel.name not in result:
                raise ValueError(f"compute({where}) returned no table for panel {panel.name!r} (got {sorted(result)})")
            table = _as_table(result[panel.name], panel.name, where)
            wanted = panel.fields() + list(panel.columns or ())
            missing = [f for f in wanted if f not in table]
            if missing:
                raise ValueError(f"compute({where}), panel {panel.name!r}: no column {missing} (got {sorted(table)})")
            for column, array in table.items():
                kind = _column_kind(array)
                if kinds.setdefault((panel.name, column), kind) != kind:
                    raise TypeError(f"compute({where}), panel {panel.name!r}: column {column!r} is {kind} here but {kinds[(panel.name, column)]} at other settings")
            tables[panel.name] = table
        data[key] = tables
    if not data:
        first = next(iter(errors.values()))
        raise ValueError(f"compute raised at every setting of the grid, e.g. {first!r}")

    spec = _build_spec(compute, controls, panels, title, keys, data, errors)
    ex = Explorer(compute=compute, controls=controls, panels=panels, title=title, settings=settings, data=data, errors=errors, spec=spec)
    if ex.nbytes > max_bytes:
        raise ValueError(
            f"explorer {title!r} embeds {ex.nbytes / 1e3:.0f} kB of data, over max_bytes={max_bytes}: "
            f"use fewer grid points ({len(keys)} settings now) or fewer rows per table (e.g. every 5th step)"
        )
    _check_every_control_matters(ex, keys)
    return ex


def _check_list(name: str, items: Any, kind: type) -> list:
    if isinstance(items, kind):
        items = [items]
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(f"{name} must be a list of {kind.__name__}, got {name}={items!r}")
    items = list(items)
    if not items:
        raise ValueError(f"{name} must not be empty")
    for item in items:
        if not isinstance(item, kind):
            raise TypeError(f"{name} must be a list of {kind.__name__}, got {item!r} in {name}")
    return items


def _check_every_control_matters(ex: Explorer, keys: list[tuple]) -> None:
    """Raise if moving a control never changes what is drawn (the issue's "no dead control")."""

    def drawn(key: tuple) -> Any:
        if key in ex.errors:
            return ("error", ex.errors[key])
        return tuple(
            tuple((c, _rows_signature(a)) for c, a in ex.data[key][p.name].items()) for p in ex.panels
        )

    signatures = {key: drawn(key) for key in keys}
    for i, control in enumerate(ex.controls):
        groups: dict[tuple, set] = {}
        for key in keys:
            groups.setdefault(key[:i] + key[i + 1 :], set()).add(signatures[key])
        if all(len(seen) == 1 for seen in groups.values()):
            raise ValueError(f"control {control.name!r} changes nothing drawn: every panel is the same for all of its values {list(control.values)}")


def _rows_signature(array: np.ndarray) -> tuple:
    return tuple(_fmt(v) for v in array)


# --------------------------------------------------------------------------------------------
# The Vega-Lite spec
# --------------------------------------------------------------------------------------------


def _domain(panel: Panel, axis: str, arrays: list[np.ndarray], kind: str, zero: bool) -> list | None:
    setting = getattr(panel, f"{axis}_domain")
    if isinstance(setting, (tuple, list)):
        return [float(setting[0]), float(setting[1])]
    if setting == "auto":
        return None
    if kind != "number" or _encoding_type(panel, axis, kind) != "quantitative":
        values = [str(v) if kind == "string" else _label(bool(v)) if kind == "boolean" else float(v) for a in arrays for v in a]
        return list(dict.fromkeys(values))
    values = np.concatenate(arrays) if arrays else np.array([])
    values = values[np.isfinite(values)]
    if getattr(panel, f"{axis}_scale") == "log":
        values = values[values > 0]
    if values.size == 0:
        return None
    low, high = float(values.min()), float(values.max())
    if zero and getattr(panel, f"{axis}_scale") == "linear":
        low, high = min(low, 0.0), max(high, 0.0)
    if low == high:
        pad = abs(low) * 0.05 or 1.0
        low, high = (low / 1.1, high * 1.1) if getattr(panel, f"{axis}_scale") == "log" else (low - pad, high + pad)
    return [low, high]


def _encoding_type(panel: Panel, axis: str, kind: str) -> str:
    if kind != "number":
        return "nominal"
    other = panel.y if axis == "x" else panel.x
    if panel.mark == "bar" and axis == "x" and other is not None:
        return "ordinal"  # bars over numbered categories (layers, cycles)
    return "quantitative"


# Sum of the two grid columns' widths above which panels go one per row (axes and gaps add ~80 px).
_TWO_COLUMNS_MAX_WIDTH = 610


def _text_column_width(n_chars: int) -> int:
    """Pixels for a table column whose longest text has ``n_chars`` characters (~6.5 px each at 12 px, plus a gap)."""
    return min(max(48, round(6.5 * n_chars) + 14), 320)


def _panel_size(panel: Panel, n_panels: int, n_text_rows: int, n_text_cols: int) -> tuple[int, int]:
    if panel.mark == "text":  # a lower bound: the table's own columns are sized by their text
        return panel.width or max(120, 95 * n_text_cols), panel.height or max(40, 20 * (n_text_rows + 1))
    wide = n_panels == 1
    return panel.width or (560 if wide else 255), panel.height or (260 if wide else 220)


def _build_spec(compute, controls, panels, title, keys, data, errors) -> dict[str, Any]:
    index = {key: k for k, key in enumerate(keys)}
    strides = [int(np.prod([len(c.values) for c in controls[i + 1 :]])) for i in range(len(controls))]
    key_expr = " + ".join(f"{s} * {c.index_expr()}" if s != 1 else c.index_expr() for c, s in zip(controls, strides))
    keep = {"filter": f"datum.{SETTING} == {SETTING_PARAM}"}
    params = [c.vega_param() for c in controls] + [{"name": SETTING_PARAM, "expr": key_expr}]

    # lrsched's message, wrapped to fit the narrowest panel (about 7 px per character at 13 px)
    narrowest = min(_panel_size(p, len(panels), 1, len(p.columns or ()) or 2)[0] for p in panels)
    error_rows = []
    for key, message in errors.items():
        wrapped = "\n".join(textwrap.wrap(message, max(16, narrowest // 7))[:10])
        error_rows.append([str(index[key]), wrapped])
    error_data = {"values": _csv([SETTING, "message"], error_rows), "format": {"type": "csv", "parse": {SETTING: "number", "message": "string"}}}

    charts, meta_panels = [], []
    for i, panel in enumerate(panels):
        ok_keys = [key for key in keys if key in data]
        first = data[ok_keys[0]][panel.name]
        kinds = {c: _column_kind(a) for c, a in first.items()}
        mark_name = f"panel_{i}"
        table_ids: dict[tuple, int] = {}  # identical tables (a panel some controls do not change) once
        table_of_setting = [-1] * len(keys)  # -1: compute raised, no rows
        rows: list[list[str]] = []

        def add(key: tuple, table_rows: list[list[str]]) -> None:
            signature = tuple(map(tuple, table_rows))
            table_id = table_ids.get(signature)
            if table_id is None:
                table_id = table_ids[signature] = len(table_ids)
                rows.extend([str(table_id), *row] for row in table_rows)
            table_of_setting[index[key]] = table_id

        if panel.mark == "text":
            columns = list(panel.columns or first.keys())
            tables = {key: _text_cells(data[key][panel.name], columns, panel.number_format) for key in ok_keys}
            n_rows = max((1 + max((r for r, _, _ in cells), default=-1) for cells in tables.values()), default=0)
            # Each column as wide as its longest text over every setting: long labels never
            # run into their values.
            longest = {c: len(c) for c in columns}
            for cells in tables.values():
                for _, c, t in cells:
                    longest[c] = max(longest[c], len(t))
            widths = [_text_column_width(longest[c]) for c in columns]
            centre = {c: sum(widths[:j]) + widths[j] / 2 for j, c in enumerate(columns)}
            for key, cells in tables.items():
                add(key, [[str(r), c, t, f"{centre[c]:g}"] for r, c, t in cells])
            values = _csv([TABLE, "_row", "_col", "_text", "_x"], rows)
            parse = {TABLE: "number", "_row": "number", "_col": "string", "_text": "string", "_x": "number"}
            width = panel.width or max(120, sum(widths))
            height = panel.height or max(40, 20 * (n_rows + 1))
            x_scale = {"domain": [0, width], "range": [0, width], "nice": False, "zero": False}
            encoding = {
                "x": {"field": "_x", "type": "quantitative", "scale": x_scale, "axis": None},
                "y": {"field": "_row", "type": "ordinal", "scale": {"domain": list(range(n_rows))}, "axis": None},
                "text": {"field": "_text", "type": "nominal"},
            }
            header_layer = {
                "name": f"{mark_name}_header",
                "data": {"values": _csv(["_x", "_text"], [[f"{centre[c]:g}", c] for c in columns]),
                         "format": {"type": "csv", "parse": {"_x": "number", "_text": "string"}}},
                "mark": {"type": "text", "fontSize": 12, "fontWeight": "bold", "baseline": "bottom"},
                "encoding": {"x": {"field": "_x", "type": "quantitative", "scale": x_scale, "axis": None},
                             "y": {"value": -4}, "text": {"field": "_text", "type": "nominal"}},
            }
            mark = {"type": "text", "fontSize": 12}
            drawn_columns = ["_row", "_col", "_text"]
        else:
            columns = list(first.keys())
            for key in ok_keys:
                table = data[key][panel.name]
                add(key, [[_fmt(v) for v in row] for row in zip(*(table[c] for c in columns))])
            values = _csv([TABLE, *columns], rows)
            parse = {TABLE: "number", **{c: kinds[c] for c in columns}}
            width, height = _panel_size(panel, len(panels), 0, 0)
            encoding = {}
            for axis, scale in (("x", panel.x_scale), ("y", panel.y_scale)):
                column = getattr(panel, axis)
                if column is None:
                    continue
                kind = kinds[column]
                etype = _encoding_type(panel, axis, kind)
                enc: dict[str, Any] = {"field": column, "type": etype, "title": getattr(panel, f"{axis}_title") or column}
                scale_spec: dict[str, Any] = {}
                if etype == "quantitative":
                    scale_spec["type"] = scale
                    zero = panel.mark == "bar"
                    scale_spec["zero"] = zero
                else:
                    enc["sort"] = None
                    if axis == "x":
                        enc["axis"] = {"labelAngle": 0}
                domain = _domain(panel, axis, [data[key][panel.name][column] for key in ok_keys], kind, panel.mark == "bar")
                if domain is not None:
                    scale_spec["domain"] = domain
                    if etype == "quantitative" and getattr(panel, f"{axis}_domain") == "shared":
                        scale_spec["nice"] = False
                if scale_spec:
                    enc["scale"] = scale_spec
                encoding[axis] = enc
            if panel.color is not None:
                color_values = [data[key][panel.name][panel.color] for key in ok_keys]
                domain = list(dict.fromkeys(str(v) if kinds[panel.color] == "string" else _plain(v) for a in color_values for v in a))
                encoding["color"] = {"field": panel.color, "type": "nominal", "scale": {"domain": domain}, "title": panel.color}
            if panel.tooltip:
                fields = panel.fields() if panel.tooltip is True else list(panel.tooltip)
                encoding["tooltip"] = [
                    {"field": f, "type": "quantitative" if kinds[f] == "number" else "nominal", **({"format": panel.number_format} if kinds[f] == "number" else {})}
                    for f in fields
                ]
            mark = {"type": panel.mark, "clip": True}
            if panel.mark == "line":
                mark["interpolate"] = "linear"
            if panel.mark == "point":
                mark["filled"] = True
            if panel.mark == "bar" and "x" in encoding and encoding["x"]["type"] != "quantitative":
                mark["width"] = {"band": 0.7}
            drawn_columns = columns
        main = {"name": mark_name, "data": {"values": values, "format": {"type": "csv", "parse": parse}},
                "transform": [{"filter": f"datum.{TABLE} == {mark_name}_table[{SETTING_PARAM}]"}],
                "mark": mark, "encoding": encoding}
        params.append({"name": f"{mark_name}_table", "value": table_of_setting})
        layers = [main]
        if panel.mark == "text":
            layers.append(header_layer)
        error_mark = None
        if errors:
            error_mark = f"panel_{i}_error"
            layers.append({
                "name": error_mark, "data": error_data, "transform": [keep],
                "mark": {"type": "text", "color": "#b00020", "fontSize": 13, "lineBreak": "\n", "align": "center", "baseline": "middle"},
                "encoding": {"text": {"field": "message", "type": "nominal"}, "x": {"value": width / 2}, "y": {"value": height / 2}},
            })
        chart: dict[str, Any] = {"width": width, "height": height, "layer": layers}
        if panel.title:
            chart["title"] = panel.title
        charts.append(chart)
        meta_panels.append({
            "name": panel.name, "mark": panel.mark, "marks": f"{mark_name}_marks", "table_param": f"{mark_name}_table",
            "error_marks": f"{error_mark}_marks" if error_mark else None,
            "columns": drawn_columns, "text_columns": columns if panel.mark == "text" else None,
            "number_format": panel.number_format,
            "encoded": [f for f in (panel.x, panel.y) if f is not None] if panel.mark != "text" else [],
        })

    usermeta = {"lrsched": {
        "version": 1,
        "compute": _compute_ref(compute),
        "controls": [{"name": c.name, "param": c.param, "label": c.label, "values": list(c.values), "widget": c.widget} for c in controls],
        "panels": meta_panels,
        "errors": {str(index[key]): message for key, message in errors.items()},
        "significant_digits": SIGNIFICANT_DIGITS,
    }}
    spec: dict[str, Any] = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json"}
    if title:
        spec["title"] = {"text": title, "anchor": "start", "fontSize": 15}
    # white behind the charts: readable under the book's dark theme too
    # Two panels per row, in a grid whose columns are as wide as their widest panel; one per row
    # when a wide table would push that grid past the width of a book page (about 690 px).
    column_widths = [max(c["width"] for c in charts[j::2]) for j in range(min(2, len(charts)))]
    columns = 2 if sum(column_widths) <= _TWO_COLUMNS_MAX_WIDTH else 1
    spec.update({"usermeta": usermeta, "params": params, "columns": columns, "concat": charts, "background": "white", "padding": 6,
                 "config": {"view": {"continuousWidth": 255}, "axis": {"labelFontSize": 11, "titleFontSize": 12},
                            "legend": {"orient": "bottom", "direction": "vertical", "labelLimit": 250}}})
    return spec


_STYLE = (
    "<style>.lrsched-explorer{margin:.5em 0 1em}"
    ".lrsched-explorer .vega-bindings{display:flex;flex-wrap:wrap;gap:.3em 1.2em;margin-top:.4em;max-width:100%}"
    ".lrsched-explorer .vega-bind input[type=range]{width:110px}"
    ".lrsched-explorer .vega-bind label{display:flex;align-items:center;gap:.5em}"
    ".lrsched-explorer .vega-bind-name{font-weight:600}"
    ".lrsched-explorer .vega-bind-value{font-variant-numeric:tabular-nums;min-width:3em}</style>"
)

# Draws the spec with window.vegaEmbed: the book's own copy (loaded from _static before the page
# body), classic Jupyter's require.js, or the CDN (Jupyter, Colab). Registers the view for the
# browser check as window.lrschedExplorers[id] = {view, spec, element} (view set once drawn;
# the element's data-lrsched-state says "loading", "ready" or "failed").
_SCRIPT = """
(function () {
  var id = __ID__;
  var here = document.currentScript;
  var root = (here && here.parentNode) || document.getElementById(id);
  if (!root || root.getAttribute("data-lrsched-state")) { return; }
  root.setAttribute("data-lrsched-state", "loading");
  var registry = window.lrschedExplorers = window.lrschedExplorers || {};
  var key = id;
  for (var n = 2; registry[key] && registry[key].element !== root; n++) { key = id + "-" + n; }
  var chart = root.querySelector(".lrsched-explorer-chart");
  var spec = JSON.parse(root.querySelector(".lrsched-explorer-spec").textContent);
  registry[key] = {view: null, spec: spec, element: root};  // reserved now: the same explorer twice
  function fail(error) {
    root.setAttribute("data-lrsched-state", "failed");
    chart.textContent = "The explorer could not be drawn: " + error;
    console.error("lrsched explorer " + key + ":", error);
  }
  function draw(vegaEmbed) {
    if (typeof vegaEmbed !== "function") { fail("vega-embed is not loaded"); return; }
    chart.textContent = "";
    vegaEmbed(chart, spec, {actions: false, renderer: "canvas"}).then(function (result) {
      registry[key].view = result.view;
      root.setAttribute("data-lrsched-state", "ready");
    }).catch(fail);
  }
  if (window.vegaEmbed) { draw(window.vegaEmbed); return; }
  var local = document.querySelector("script[src*='vega-embed']");
  if (local) {
    local.addEventListener("load", function () { draw(window.vegaEmbed); });
    local.addEventListener("error", function () { fail("cannot load " + local.src); });
    return;
  }
  if (typeof window.define === "function" && window.define.amd && typeof window.require === "function") {
    window.require.config({paths: __AMD__});
    window.require(["vega-embed"], draw, fail);
    return;
  }
  function load(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.async = false; s.onload = resolve;
      s.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(s);
    });
  }
  var urls = __CDN__;
  window.lrschedVegaLoading = window.lrschedVegaLoading ||
    load(urls[0]).then(function () { return load(urls[1]); }).then(function () { return load(urls[2]); });
  window.lrschedVegaLoading.then(function () { draw(window.vegaEmbed); }, fail);
})();
"""
