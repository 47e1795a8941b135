"""lrsched.viz: the grid, the data against an independent formula, errors, the spec, bad arguments."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import lrsched
from lrsched.viz import Control, Panel, explorer
from lrsched.viz.explorer import CDN_URLS, SETTING_PARAM, VEGA_VERSIONS

ROOT = Path(__file__).resolve().parents[1]
T_MAX = 60


def warmup_cosine_by_hand(t, peak, warmup, floor):
    """Linear warmup 0 -> peak over `warmup` steps, then half a cosine to `floor` at T_MAX."""
    if t < warmup:
        return peak * t / warmup
    p = (t - warmup) / (T_MAX - warmup)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * p))


def compute(warmup_steps, peak_lr, min_lr=0.01):
    sched = lrsched.warmup_cosine(t_max=T_MAX, max_lr=peak_lr, min_lr=min_lr, warmup_steps=warmup_steps)
    t = np.arange(T_MAX + 1)
    lr = sched(t)
    return {
        "lr": {"step": t, "lr": lr},
        "area": {"what": ["mean lr"], "value": [lr.mean()]},
        "table": {"phase": ["warmup", "decay"], "steps": [warmup_steps, T_MAX - warmup_steps]},
    }


CONTROLS = [Control("warmup_steps", [0, 10, 20], label="warmup steps"), Control("peak_lr", [0.005, 0.1, 0.3], label="peak lr")]
PANELS = [
    Panel("lr", mark="line", x="step", y="lr", title="learning rate", y_title="η_t"),
    Panel("area", mark="bar", x="what", y="value", title="mean lr"),
    Panel("table", mark="text", title="phases"),
]


@pytest.fixture(scope="module")
def ex():
    return explorer(compute, CONTROLS, PANELS, title="Warmup then cosine")


def embedded_rows(spec, layer_name):
    """The rows of a layer's inline CSV, read back with the csv module."""
    for chart in spec["concat"]:
        for layer in chart["layer"]:
            if layer["name"] == layer_name:
                return list(csv.DictReader(io.StringIO(layer["data"]["values"])))
    raise KeyError(layer_name)


def rows_at(spec, panel, setting_index):
    """The rows the page keeps for a setting: its panel's table id, then that table's rows."""
    (table_of_setting,) = [p["value"] for p in spec["params"] if p["name"] == f"{panel}_table"]
    return [r for r in embedded_rows(spec, panel) if int(r["_table"]) == table_of_setting[setting_index]]


def test_grid_is_the_cartesian_product_in_order(ex):
    assert len(ex.settings) == 9
    assert ex.settings[0] == {"warmup_steps": 0, "peak_lr": 0.005}
    assert ex.settings[1] == {"warmup_steps": 0, "peak_lr": 0.1}  # the last control varies fastest
    assert ex.settings[-1] == {"warmup_steps": 20, "peak_lr": 0.3}
    keys = [tuple(s.values()) for s in ex.settings]
    assert set(ex.data) | set(ex.errors) == set(keys) and not set(ex.data) & set(ex.errors)


def test_data_equal_an_independent_formula(ex):
    for setting in ex.settings:
        if tuple(setting.values()) in ex.errors:
            continue
        w, peak = setting["warmup_steps"], setting["peak_lr"]
        expected = [warmup_cosine_by_hand(t, peak, w, 0.01) for t in range(T_MAX + 1)]
        np.testing.assert_allclose(ex.at(**setting)["lr"]["lr"], expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ex.at(**setting)["area"]["value"], [np.mean(expected)], rtol=1e-12)


def test_embedded_data_equal_the_formula_to_8_digits(ex):
    """What the page carries (CSV, 10 significant digits) is the formula at every setting."""
    index = {tuple(s.values()): k for k, s in enumerate(ex.settings)}
    for key in ex.data:
        w, peak = key
        mine = rows_at(ex.spec, "panel_0", index[key])
        assert [float(r["step"]) for r in mine] == list(range(T_MAX + 1))
        expected = [warmup_cosine_by_hand(t, peak, w, 0.01) for t in range(T_MAX + 1)]
        np.testing.assert_allclose([float(r["lr"]) for r in mine], expected, rtol=5e-8, atol=1e-15)


def test_error_settings_carry_lrscheds_message(ex):
    with pytest.raises(ValueError) as raised:  # peak below the floor: lrsched's own validation
        lrsched.warmup_cosine(t_max=T_MAX, max_lr=0.005, min_lr=0.01)
    assert set(ex.errors) == {(0, 0.005), (10, 0.005), (20, 0.005)}
    assert ex.errors[(10, 0.005)] == str(raised.value)
    with pytest.raises(ValueError, match=re.escape(str(raised.value))):
        ex.at(warmup_steps=10, peak_lr=0.005)
    # in the page: the message (wrapped) for that setting, and no rows of it in any panel
    index = next(k for k, s in enumerate(ex.settings) if s == {"warmup_steps": 10, "peak_lr": 0.005})
    shown = {int(r["_setting"]): r["message"] for r in embedded_rows(ex.spec, "panel_0_error")}
    assert shown[index].replace("\n", " ") == str(raised.value)
    assert ex.spec["usermeta"]["lrsched"]["errors"][str(index)] == str(raised.value)
    for layer in ("panel_0", "panel_1", "panel_2"):
        assert not rows_at(ex.spec, layer, index)


def test_text_panel_shows_the_table_formatted(ex):
    index = next(k for k, s in enumerate(ex.settings) if s == {"warmup_steps": 20, "peak_lr": 0.1})
    cells = {(int(r["_row"]), r["_col"]): r["_text"] for r in rows_at(ex.spec, "panel_2", index)}
    assert cells == {(0, "phase"): "warmup", (1, "phase"): "decay", (0, "steps"): "20", (1, "steps"): "40"}


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_spec_has_only_data_and_filters_no_formula(ex):
    spec = ex.spec
    transforms = [t for node in _walk(spec["concat"]) for t in node.get("transform", [])]
    allowed = [f"datum._setting == {SETTING_PARAM}"] + [f"datum._table == panel_{i}_table[{SETTING_PARAM}]" for i in range(3)]
    assert transforms and all(set(t) == {"filter"} and t["filter"] in allowed for t in transforms)
    for node in _walk(spec):
        assert "calculate" not in node and "signal" not in node
        assert not (set(node) & {"expr"}) or node.get("name") == SETTING_PARAM
    # the lookup lists: one table id per setting (-1 where compute raised), nothing else
    lookups = [p for p in spec["params"] if p["name"].endswith("_table")]
    assert len(lookups) == 3 and all(len(p["value"]) == 9 and set(p) == {"name", "value"} for p in lookups)
    # the one expression maps the controls' positions to the setting's index, nothing else
    (expr,) = [p["expr"] for p in spec["params"] if "expr" in p]
    number, param = r"-?[\d.e-]+", r"c_[a-z_]+"
    term = rf"(\d+ \* )?({param}|round\(\({param} - {number}\) / {number}\))"
    assert re.fullmatch(rf"{term}( \+ {term})*", expr), expr


def _evaluate_setting_expr(ex, setting):
    """Evaluate the spec's setting expression as the browser would, with each input's value."""
    env = {}
    for control, param in zip(ex.controls, ex.spec["params"]):
        value = setting[control.name]
        env[param["name"]] = value if param["bind"]["input"] == "range" else control.values.index(value)
    (expr,) = [p["expr"] for p in ex.spec["params"] if "expr" in p]
    return eval(expr, {"round": lambda v: math.floor(v + 0.5)}, env)  # Vega's round


def test_controls_select_the_setting_they_show():
    ramp = explorer(
        lambda lr, steps, kind: {"p": {"x": np.arange(steps), "y": np.full(steps, lr) * (2 if kind == "b" else 1)}},
        [Control("lr", [0.1, 0.2, 0.3, 0.4]), Control("steps", [2, 4, 6]), Control("kind", ["a", "b"])],
        [Panel("p", mark="point", x="x", y="y")],
    )
    widgets = [p["bind"]["input"] for p in ramp.spec["params"] if "bind" in p]
    assert widgets == ["range", "range", "select"]
    lr_param = ramp.spec["params"][0]["bind"]
    assert lr_param["min"] == 0.1 and lr_param["max"] == 0.4 and lr_param["step"] == pytest.approx(0.1)
    for k, setting in enumerate(ramp.settings):
        assert _evaluate_setting_expr(ramp, setting) == k


def test_select_for_uneven_grids_shows_the_values(ex):
    bind = ex.spec["params"][1]["bind"]
    assert bind["input"] == "select" and bind["labels"] == ["0.005", "0.1", "0.3"] and bind["name"] == "peak lr"
    assert ex.spec["params"][0]["bind"]["name"] == "warmup steps"


def test_axes_are_shared_over_the_grid(ex):
    y = ex.spec["concat"][0]["layer"][0]["encoding"]["y"]
    assert y["scale"]["domain"] == [0.0, 0.3]  # from 0 (warmup start) to the largest peak


def test_identical_tables_are_stored_once(ex):
    # the phase table depends on warmup_steps only (and is absent at error settings)
    (lookup,) = [p["value"] for p in ex.spec["params"] if p["name"] == "panel_2_table"]
    assert lookup == [-1, 0, 0, -1, 1, 1, -1, 2, 2]
    assert len(embedded_rows(ex.spec, "panel_2")) == 3 * 4  # 3 tables of 2 rows x 2 columns


def test_every_control_must_change_something():
    with pytest.raises(ValueError, match="control 'unused' changes nothing"):
        explorer(lambda lr, unused: {"p": {"x": [0, 1], "y": [lr, lr]}},
                 [Control("lr", [0.1, 0.2]), Control("unused", [1, 2])], [Panel("p", mark="line", x="x", y="y")])


def test_size_guard():
    def big(n):
        return {"p": {"x": np.arange(5000), "y": np.sin(np.arange(5000) * n)}}

    with pytest.raises(ValueError, match="max_bytes=400000"):
        explorer(big, [Control("n", list(range(1, 11)))], [Panel("p", mark="line", x="x", y="y")])
    assert explorer(big, [Control("n", [1, 2])], [Panel("p", mark="line", x="x", y="y")]).nbytes < 400_000


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: Control("1x", [1, 2]), "name"),
        (lambda: Control("x", [1]), "values"),
        (lambda: Control("x", "ab"), "values"),
        (lambda: Control("x", [1, 1]), "values"),
        (lambda: Control("x", [1, float("nan")]), "values"),
        (lambda: Control("x", [1, 2], default=3), "default"),
        (lambda: Panel("p", mark="area", x="a", y="b"), "mark"),
        (lambda: Panel("p", mark="line", x="a"), "y"),
        (lambda: Panel("p", mark="line", x="a", y="b", y_scale="sqrt"), "y_scale"),
        (lambda: Panel("p", mark="line", x="a", y="b", y_domain=(1, 0)), "y_domain"),
        (lambda: Panel("p", mark="line", x="a", y="b", tooltip="a"), "tooltip"),
        (lambda: explorer(42, [Control("x", [1, 2])], [Panel("p", mark="line", x="a", y="b")]), "compute"),
        (lambda: explorer(compute, [], PANELS), "controls"),
        (lambda: explorer(compute, CONTROLS, ["lr"]), "panels"),
        (lambda: explorer(compute, CONTROLS, PANELS, title=3), "title"),
        (lambda: explorer(compute, CONTROLS, PANELS, max_bytes=0), "max_bytes"),
        (lambda: explorer(compute, CONTROLS, [Panel("nope", mark="line", x="a", y="b")]), "nope"),
        (lambda: explorer(compute, CONTROLS, [Panel("lr", mark="line", x="step", y="eta")]), "eta"),
        (lambda: explorer(lambda x: {"p": {"a": [1, 2], "b": [1]}}, [Control("x", [1, 2])], [Panel("p", mark="line", x="a", y="b")]), "'b'"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(make, name):
    with pytest.raises((ValueError, TypeError), match=re.escape(name)):
        make()


def test_all_settings_failing_raises():
    def always(x):
        raise ValueError(f"x={x} rejected")

    with pytest.raises(ValueError, match="every setting"):
        explorer(always, [Control("x", [1, 2])], [Panel("p", mark="line", x="a", y="b")])


def test_html_embeds_the_spec_safely_with_a_stable_id(ex):
    html = ex._repr_mimebundle_()["text/html"]
    assert f'id="{ex.id}"' in html and ex.id == explorer(compute, CONTROLS, PANELS, title="Warmup then cosine").id
    spec_text = re.search(r'<script type="application/json" class="lrsched-explorer-spec">(.*?)</script>', html, re.S).group(1)
    assert json.loads(spec_text) == json.loads(json.dumps(ex.spec))
    tricky = explorer(lambda s: {"p": {"k": ["</script>", s], "v": [1, 2]}}, [Control("s", ["a", "b"])], [Panel("p", mark="bar", x="k", y="v")])
    assert "</script>" not in re.search(r'spec">(.*?)</script>', tricky.to_html(), re.S).group(1)
    assert "window.lrschedExplorers" in html and "window.vegaEmbed" in html


def test_cdn_versions_match_the_books_copy():
    package = json.loads((ROOT / "web" / "package.json").read_text())
    assert {name: package["dependencies"][name] for name in VEGA_VERSIONS} == VEGA_VERSIONS
    assert all(f"{n}@{v}" in url for (n, v), url in zip(VEGA_VERSIONS.items(), CDN_URLS))


def test_spec_is_valid_vega_lite(ex):
    schema_path = ROOT / "web" / "node_modules" / "vega-lite" / "build" / "vega-lite-schema.json"
    if not schema_path.exists():
        pytest.skip("the Vega-Lite schema comes with `make assets` (npm)")
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(ex.spec, json.loads(schema_path.read_text()))


def _tables(label_length):
    def compute(a):
        return {"lr": {"step": [0, 1, 2], "lr": [a, a / 2, 0.0]},
                "table": {"quantity": ["q" * label_length, "short"], "value": ["0.958 [0.951, 0.966]", "1"]}}
    return explorer(compute, controls=[Control("a", [1.0, 2.0])],
                    panels=[Panel("lr", x="step", y="lr"), Panel("table", mark="text")])


def test_text_columns_are_as_wide_as_their_longest_text():
    spec = _tables(29).spec
    table = spec["concat"][1]
    rows = [r for r in csv.DictReader(io.StringIO(table["layer"][0]["data"]["values"]))]
    centre = {r["_col"]: float(r["_x"]) for r in rows}
    # 29 and 20 characters at ~6.5 px plus a 14 px gap: 202 and 144 px wide columns
    assert centre == {"quantity": 202 / 2, "value": 202 + 144 / 2}
    assert table["width"] == 202 + 144
    headers = [h["_text"] for h in csv.DictReader(io.StringIO(table["layer"][1]["data"]["values"]))]
    assert headers == ["quantity", "value"]
    assert spec["columns"] == 2  # 255 + 346 px: two panels fit side by side


def test_a_table_too_wide_for_two_columns_goes_on_its_own_row():
    assert _tables(60).spec["columns"] == 1  # 404 + 144 + 255 px is wider than a page
