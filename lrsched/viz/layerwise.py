r"""What chapter 6's explorer draws: the learning rate of every tier under layer-wise decay.

For a stand-in network with ``num_layers`` numbered layers (names ``embed``, ``blocks.<i>``,
``head``, as the lab's ``TinyCNN``), :func:`layerwise_explorer_data` asks
:func:`lrsched.layer_decay_param_groups` for its groups and returns the rate of each tier, from
the embeddings up to the head, and a small table of ratios to the head's rate. Nothing is
re-derived here: every number is the ``lr`` of a group lrsched built, so a decay lrsched
rejects (outside :math:`(0, 1]`) raises lrsched's own ``ValueError``.

With :math:`L` layers, head rate :math:`\eta` and decay :math:`\delta`, layer :math:`i` gets
:math:`\eta\,\delta^{L-i}` (BEiT) or :math:`\eta\,\delta^{L+1-i}` (ELECTRA) and the embeddings
:math:`\eta\,\delta^{L+1}` or :math:`\eta\,\delta^{L+2}`.

References: Clark et al., *ELECTRA*, ICLR 2020; Bao et al., *BEiT*, ICLR 2022.
"""

from __future__ import annotations

from torch import nn

from .. import _checks
from ..layerwise import layer_decay_param_groups

__all__ = ["layerwise_explorer_data"]


def _stand_in(num_layers: int) -> nn.Module:
    """Embedding, ``num_layers`` numbered blocks and a head, one weight each."""
    model = nn.Module()
    model.embed = nn.Linear(1, 1, bias=False)
    model.blocks = nn.ModuleList(nn.Linear(1, 1, bias=False) for _ in range(num_layers))
    model.head = nn.Linear(1, 1, bias=False)
    return model


def layerwise_explorer_data(
    decay: float = 0.8,
    num_layers: int = 12,
    head_lr: float = 1e-4,
    convention: str = "beit",
) -> dict[str, dict[str, list]]:
    r"""The explorer's tables for one setting: each tier's lr, and its spread.

    Parameters
    ----------
    decay : float
        The per-layer factor :math:`\delta`, ``0 < decay <= 1`` (lrsched checks it).
    num_layers : int
        Number of numbered layers :math:`L` (at least 1).
    head_lr : float
        The head's rate :math:`\eta`.
    convention : {"beit", "electra"}
        Which paper's exponents (see :func:`lrsched.layer_decay_param_groups`).

    Returns
    -------
    dict
        ``"lr"``: columns ``tier`` (``"emb"``, ``"0"`` ... ``"L-1"``, ``"head"``, from the input
        up), ``part`` (embeddings / layer / head) and ``lr``; ``"spread"``: columns ``ratio`` and
        ``value`` with the embeddings', the top layer's and the backbone's mean rate over the head's.

    Examples
    --------
    >>> data = layerwise_explorer_data(decay=0.5, num_layers=2, head_lr=1.0)
    >>> data["lr"]["tier"], data["lr"]["lr"]
    (['emb', '0', '1', 'head'], [0.125, 0.25, 0.5, 1.0])
    """
    num_layers = _checks.integer("num_layers", num_layers, minimum=1)
    groups = layer_decay_param_groups(
        _stand_in(num_layers), lr=head_lr, decay=decay, convention=convention
    )
    tiers = [g["name"] for g in groups]  # embeddings, layer.0, ..., head
    lrs = [float(g["lr"]) for g in groups]
    labels = ["emb" if t == "embeddings" else t if t == "head" else t.split(".")[1] for t in tiers]
    parts = ["embeddings" if t == "embeddings" else "head" if t == "head" else "layer" for t in tiers]
    head = lrs[-1]
    backbone = lrs[:-1]
    return {
        "lr": {"tier": labels, "part": parts, "lr": lrs},
        "spread": {
            "ratio": ["embeddings / head", "top layer / head", "backbone mean / head"],
            "value": [lrs[0] / head, lrs[-2] / head, sum(backbone) / len(backbone) / head],
        },
    }
