"""Chapter 6's explorer data against the two papers' exponents written out here."""

from __future__ import annotations

import numpy as np
import pytest

from lrsched.viz import Control, Panel, explorer
from lrsched.viz.layerwise import layerwise_explorer_data


def rates_by_hand(decay: float, n: int, head_lr: float, convention: str) -> np.ndarray:
    """Embeddings, layers 0..n-1, head. BEiT/MAE: layer id 0 (embeddings), i + 1 (block i),
    n + 1 (head), scale decay ** (n + 1 - id). ELECTRA: depth 0, i + 1, n + 2, scale
    decay ** (n + 2 - depth)."""
    top = n + 1 if convention == "beit" else n + 2
    ids = [0, *(i + 1 for i in range(n)), top]
    return head_lr * decay ** (top - np.array(ids, dtype=float))


@pytest.mark.parametrize("convention", ["beit", "electra"])
@pytest.mark.parametrize("decay, n, head_lr", [(0.8, 12, 1e-4), (0.5, 3, 0.3), (1.0, 5, 1e-3), (0.65, 24, 2e-5)])
def test_tiers_and_rates_match_the_papers(convention, decay, n, head_lr):
    data = layerwise_explorer_data(decay, n, head_lr, convention)
    table = data["lr"]
    assert table["tier"] == ["emb", *map(str, range(n)), "head"]
    assert table["part"] == ["embeddings", *["layer"] * n, "head"]
    expected = rates_by_hand(decay, n, head_lr, convention)
    np.testing.assert_allclose(table["lr"], expected, rtol=1e-12)
    spread = dict(zip(data["spread"]["ratio"], data["spread"]["value"]))
    extra = 0 if convention == "beit" else 1
    assert spread["embeddings / head"] == pytest.approx(decay ** (n + 1 + extra), rel=1e-12)
    assert spread["top layer / head"] == pytest.approx(decay ** (1 + extra), rel=1e-12)
    assert spread["backbone mean / head"] == pytest.approx(np.mean(expected[:-1]) / head_lr, rel=1e-12)


def test_conventions_differ_by_one_factor_below_the_head():
    beit = np.array(layerwise_explorer_data(0.7, 6, 1.0, "beit")["lr"]["lr"])
    electra = np.array(layerwise_explorer_data(0.7, 6, 1.0, "electra")["lr"]["lr"])
    np.testing.assert_allclose(electra[:-1], 0.7 * beit[:-1], rtol=1e-12)
    assert electra[-1] == beit[-1] == 1.0


@pytest.mark.parametrize(
    "kwargs, name",
    [({"decay": 1.1}, "decay"), ({"decay": 0.0}, "decay"), ({"head_lr": -1.0}, "lr"),
     ({"num_layers": 0}, "num_layers"), ({"convention": "bert"}, "convention")],
)
def test_rejected_settings_raise_lrsched_errors(kwargs, name):
    with pytest.raises(ValueError, match=name):
        layerwise_explorer_data(**kwargs)


def test_explorer_grid_shows_the_error_where_decay_is_rejected():
    view = explorer(
        layerwise_explorer_data,
        controls=[Control("decay", [0.9, 1.0, 1.1]), Control("num_layers", [2, 4]),
                  Control("head_lr", [1e-4, 1e-3]), Control("convention", ["beit", "electra"])],
        panels=[Panel("lr", mark="bar", x="tier", y="lr", color="part", y_scale="log"),
                Panel("spread", mark="text")],
    )
    assert len(view.errors) == 2 * 2 * 2 and all(k[0] == 1.1 for k in view.errors)
    assert all("decay" in message for message in view.errors.values())
    lr = view.at(decay=0.9, num_layers=4, head_lr=1e-3, convention="electra")["lr"]["lr"]
    np.testing.assert_allclose(lr, rates_by_hand(0.9, 4, 1e-3, "electra"), rtol=1e-12)
